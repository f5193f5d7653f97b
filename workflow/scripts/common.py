"""Shared helpers for every workflow script: Parquet schemas, atomic writes,
keyed pseudonymisation, user-facing input errors and logging.

Every artefact the stages exchange has an explicit pyarrow schema here, so that
a stage that writes the wrong columns or types fails at once, and so that the
contracts between stages live in one place (documented in docs/contracts.md).
"""

import codecs
import csv
import functools
import hashlib
import hmac
import json
import logging
import os
import re
import sys
import traceback
import zipfile
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import yaml

logger = logging.getLogger(__name__)

# The fold of the outer split in the splits table; inner folds count from 0.
OUTER_FOLD = -1
# The split of the design that answers each outcome, with or without text
# (report_wording.answer_design).
DECIDING_TIMING = "time"
# The structured feature the baseline ranks cases by (train_models).
BASELINE_FEATURE = "n_previous_referrals"

ID = pa.string()
DATE = pa.timestamp("ms")

SCHEMAS: dict[str, pa.Schema] = {
    "children": pa.schema(
        [
            ("child_id", ID),
            ("family_id", ID),
            ("sex", pa.string()),
            ("birth_month", DATE),
            ("ethnicity", pa.string()),
            ("disability", pa.bool_()),
        ]
    ),
    "referrals": pa.schema(
        [
            ("referral_id", ID),
            ("child_id", ID),
            ("referral_date", DATE),
            ("referral_source", pa.string()),
            ("primary_need", pa.string()),
            ("nfa", pa.bool_()),
            ("closure_date", DATE),
            ("closure_reason", pa.string()),
        ]
    ),
    "assessments": pa.schema(
        [
            ("assessment_id", ID),
            ("referral_id", ID),
            ("child_id", ID),
            ("start_date", DATE),
            ("authorisation_date", DATE),
            ("factors", pa.list_(pa.string())),
        ]
    ),
    "section47": pa.schema(
        [
            ("referral_id", ID),
            ("child_id", ID),
            ("start_date", DATE),
            ("icpc_date", DATE),
        ]
    ),
    "cp_plans": pa.schema(
        [
            ("referral_id", ID),
            ("child_id", ID),
            ("start_date", DATE),
            ("end_date", DATE),
            ("category", pa.string()),
        ]
    ),
    "care_episodes": pa.schema(
        [
            ("child_id", ID),
            ("start_date", DATE),
            ("end_date", DATE),
            ("legal_status", pa.string()),
            ("placement", pa.string()),
        ]
    ),
    "notes": pa.schema(
        [
            ("note_id", ID),
            ("child_id", ID),
            ("note_datetime", DATE),
            ("document_type", pa.string()),
            ("text", pa.string()),
        ]
    ),
    "tokens": pa.schema(
        [
            ("note_id", ID),
            ("child_id", ID),
            ("note_datetime", DATE),
            ("document_type", pa.string()),
            ("tokens", pa.list_(pa.string())),
        ]
    ),
    "cohort": pa.schema(
        [
            ("outcome", pa.string()),
            ("referral_id", ID),
            ("child_id", ID),
            ("family_id", ID),
            ("referral_date", DATE),
            ("prediction_time", DATE),
            ("label_known_time", DATE),
            ("label", pa.int8()),
        ]
    ),
    "text_documents": pa.schema(
        [
            ("outcome", pa.string()),
            ("referral_id", ID),
            ("latest_note_time", DATE),
            ("n_notes", pa.int32()),
            ("tokens", pa.list_(pa.string())),
        ]
    ),
    "leakage_audit": pa.schema(
        [
            ("check", pa.string()),
            ("subject", pa.string()),
            ("value", pa.float64()),
            ("threshold", pa.float64()),
            ("flagged", pa.bool_()),
            ("detail", pa.string()),
            ("cases", pa.int64()),
            ("positives", pa.int64()),
        ]
    ),
    "topic_coherence": pa.schema(
        [
            ("num_topics", pa.int64()),
            ("coherence", pa.float64()),
            ("chosen", pa.bool_()),
        ]
    ),
    "topic_words": pa.schema(
        [
            ("topic", pa.int64()),
            ("rank", pa.int64()),
            ("word", pa.string()),
            ("weight", pa.float64()),
        ]
    ),
    "split_diagnostics": pa.schema(
        [
            ("fold", pa.int16()),
            ("role", pa.string()),
            ("rows", pa.int64()),
            ("positives", pa.int64()),
            ("base_rate", pa.float64()),
            ("first_prediction_time", DATE),
            ("last_prediction_time", DATE),
            ("shared_families", pa.int64()),
        ]
    ),
    "splits": pa.schema(
        [
            ("referral_id", ID),
            ("fold", pa.int16()),
            ("role", pa.string()),
        ]
    ),
    "predictions": pa.schema(
        [
            ("referral_id", ID),
            ("model", pa.string()),
            ("label", pa.int8()),
            ("score", pa.float64()),
        ]
    ),
    "cv_results": pa.schema(
        [
            ("model", pa.string()),
            ("candidate", pa.int32()),
            ("params", pa.string()),
            ("fold", pa.int16()),
            ("average_precision", pa.float64()),
            ("selected", pa.bool_()),
        ]
    ),
    "importance": pa.schema(
        [
            ("model", pa.string()),
            ("feature", pa.string()),
            ("permutation_ap_drop_mean", pa.float64()),
            ("permutation_ap_drop_sd", pa.float64()),
            ("mean_abs_contribution", pa.float64()),
            ("rank", pa.int32()),
        ]
    ),
    "metrics": pa.schema(
        [
            ("outcome", pa.string()),
            ("design", pa.string()),
            ("model", pa.string()),
            ("selected", pa.bool_()),
            ("n_test", pa.int64()),
            ("base_rate", pa.float64()),
            ("average_precision", pa.float64()),
            ("roc_auc", pa.float64()),
            ("precision", pa.float64()),
            ("recall", pa.float64()),
            ("cv_ap_mean", pa.float64()),
            ("cv_ap_sd", pa.float64()),
            ("cv_ap_lower_bound", pa.float64()),
            ("success_threshold", pa.float64()),
        ]
    ),
}
SCHEMAS["summary"] = pa.schema(
    [f for f in SCHEMAS["metrics"] if f.name != "selected"]
    + [
        pa.field("baseline_average_precision", pa.float64()),
        pa.field("ap_ci_lower", pa.float64()),
        pa.field("ap_ci_upper", pa.float64()),
        pa.field("verdict", pa.string()),
        pa.field("ap_minus_baseline_lower", pa.float64()),
        pa.field("ap_minus_baseline_upper", pa.float64()),
        pa.field("best_feature_average_precision", pa.float64()),
        pa.field("ap_minus_best_feature_lower", pa.float64()),
        pa.field("ap_minus_best_feature_upper", pa.float64()),
        # Whether the design's verdict is the outcome's answer (report_wording.answer_design).
        pa.field("decides", pa.bool_()),
    ]
)

# Ingestion QA: one row per (table, measure, column, value); see docs/contracts.md.
SCHEMAS["ingest_qa"] = pa.schema(
    [
        ("table", pa.string()),
        ("measure", pa.string()),
        ("column", pa.string()),
        ("value", pa.string()),
        ("count", pa.int64()),
        ("share", pa.float64()),
    ]
)

SCHEMAS["cross_la_summary"] = pa.schema([pa.field("la", pa.string()), *SCHEMAS["summary"]])

# The columns of a leakage audit table; ``cases`` and ``positives`` are an
# extreme group's counts (missing for the other checks), so that shared
# documents can hide a share counted from few children.
AUDIT_COLUMNS = SCHEMAS["leakage_audit"].names

FAIRNESS_METRICS = (
    "average_precision",
    "false_positive_rate",
    "false_negative_rate",
    "false_discovery_rate",
    "false_omission_rate",
    "flagged_share",
)
SCHEMAS["details"] = pa.schema(
    list(SCHEMAS["metrics"])
    + [
        pa.field("n_positive", pa.int64()),
        pa.field("brier_score", pa.float64()),
        pa.field("decision_threshold", pa.float64()),
        pa.field("n_flagged", pa.int64()),
        pa.field("flagged_share", pa.float64()),
        pa.field("f0_1", pa.float64()),
        pa.field("accuracy", pa.float64()),
        pa.field("false_alarms_per_100_flagged", pa.float64()),
        pa.field("missed_per_100_at_risk", pa.float64()),
        pa.field("share_of_positives_in_top_10pct", pa.float64()),
        pa.field("tp_per_1000", pa.float64()),
        pa.field("fp_per_1000", pa.float64()),
        pa.field("tn_per_1000", pa.float64()),
        pa.field("fn_per_1000", pa.float64()),
        pa.field("bootstrap_resamples", pa.int64()),
        pa.field("bootstrap_valid", pa.int64()),
        pa.field("bootstrap_method", pa.string()),
        pa.field("ap_ci_lower", pa.float64()),
        pa.field("ap_ci_upper", pa.float64()),
        pa.field("verdict", pa.string()),
        # The model's AP less each baseline's, 95% interval over the same resamples.
        pa.field("ap_minus_baseline_lower", pa.float64()),
        pa.field("ap_minus_baseline_upper", pa.float64()),
        pa.field("ap_minus_best_feature_lower", pa.float64()),
        pa.field("ap_minus_best_feature_upper", pa.float64()),
    ]
)
SCHEMAS["thresholds"] = pa.schema(
    [
        ("outcome", pa.string()),
        ("design", pa.string()),
        ("model", pa.string()),
        ("rule", pa.string()),
        ("threshold", pa.float64()),
        ("k_percent", pa.float64()),
        ("is_decision_threshold", pa.bool_()),
        ("n_flagged", pa.int64()),
        ("flagged_share", pa.float64()),
        ("precision", pa.float64()),
        ("recall", pa.float64()),
        ("f0_1", pa.float64()),
        ("false_alarms_per_100_flagged", pa.float64()),
        ("missed_per_100_at_risk", pa.float64()),
    ]
)
SCHEMAS["calibration"] = pa.schema(
    [
        ("outcome", pa.string()),
        ("design", pa.string()),
        ("model", pa.string()),
        ("bin", pa.int64()),
        ("bin_lower", pa.float64()),
        ("bin_upper", pa.float64()),
        ("n", pa.int64()),
        ("n_positive", pa.int64()),
        ("mean_score", pa.float64()),
        ("observed_rate", pa.float64()),
        ("observed_lower", pa.float64()),
        ("observed_upper", pa.float64()),
    ]
)
SCHEMAS["learning_curve"] = pa.schema(
    [
        ("outcome", pa.string()),
        ("design", pa.string()),
        ("model", pa.string()),
        ("fraction", pa.float64()),
        ("repeat", pa.int32()),
        ("n_train", pa.int64()),
        ("n_train_positive", pa.int64()),
        ("n_families", pa.int64()),
        ("train_average_precision", pa.float64()),
        ("test_average_precision", pa.float64()),
    ]
)
SCHEMAS["accumulated_local_effects"] = pa.schema(
    [
        ("outcome", pa.string()),
        ("design", pa.string()),
        ("model", pa.string()),
        ("feature", pa.string()),
        ("feature_rank", pa.int32()),
        ("edge", pa.int32()),
        ("value", pa.float64()),
        ("effect", pa.float64()),
        ("n_rows", pa.int64()),
    ]
)
SCHEMAS["refit_bootstrap"] = pa.schema(
    [
        ("outcome", pa.string()),
        ("design", pa.string()),
        ("model", pa.string()),
        ("resample", pa.int32()),
        ("n_train", pa.int64()),
        ("n_train_positive", pa.int64()),
        ("test_average_precision", pa.float64()),
    ]
)
SCHEMAS["run_deltas"] = pa.schema(
    [
        ("outcome", pa.string()),
        ("design", pa.string()),
        ("status", pa.string()),
        ("metric", pa.string()),
        ("earlier", pa.float64()),
        ("current", pa.float64()),
        ("change", pa.float64()),
        ("earlier_model", pa.string()),
        ("current_model", pa.string()),
        ("earlier_verdict", pa.string()),
        ("current_verdict", pa.string()),
        ("earlier_decides", pa.bool_()),
        ("current_decides", pa.bool_()),
    ]
)
SCHEMAS["fairness_groups"] = pa.schema(
    [
        ("outcome", pa.string()),
        ("design", pa.string()),
        ("model", pa.string()),
        ("selected", pa.bool_()),
        ("attribute", pa.string()),
        ("group", pa.string()),
        ("reference_group", pa.string()),
        ("is_reference", pa.bool_()),
        ("small_group", pa.bool_()),
        ("n", pa.int64()),
        ("n_positive", pa.int64()),
        ("n_flagged", pa.int64()),
        ("decision_threshold", pa.float64()),
        ("bootstrap_resamples", pa.int64()),
        ("disparity_band_lower", pa.float64()),
        ("disparity_band_upper", pa.float64()),
        ("base_rate", pa.float64()),
        ("base_rate_lower", pa.float64()),
        ("base_rate_upper", pa.float64()),
        ("mean_score", pa.float64()),
        ("mean_score_lower", pa.float64()),
        ("mean_score_upper", pa.float64()),
        ("calibration_gap", pa.float64()),
    ]
    + [
        (f"{metric}{suffix}", kind)
        for metric in FAIRNESS_METRICS
        for suffix, kind in (
            ("", pa.float64()),
            ("_lower", pa.float64()),
            ("_upper", pa.float64()),
            ("_ratio", pa.float64()),
            ("_ratio_lower", pa.float64()),
            ("_ratio_upper", pa.float64()),
            ("_outside_band", pa.bool_()),
            ("_disparity", pa.string()),
        )
    ]
)


class InputError(Exception):
    """A problem with the user's data or configuration that they can fix.

    The message must name the file, the column or element, the row where known,
    and what to do; it is shown to the user without a traceback.
    """


class SafetyCheckError(RuntimeError):
    """A safety check of the workflow itself failed (a feature recorded at or
    after its prediction point, siblings on both sides of a split): a bug to
    report, not something the user's data can fix. The message quotes only
    pseudonymised ids and dates, so it is logged in full."""


def feature_schema(feature_columns: list[str]) -> pa.Schema:
    """Schema of a structured feature table: ids, knowledge time, float features."""
    fields = [("referral_id", ID), ("feature_time", DATE)]
    return pa.schema(fields + [(c, pa.float64()) for c in feature_columns])


def topic_schema(num_topics: int) -> pa.Schema:
    """Schema of a topic-share table with ``num_topics`` share columns."""
    fields = [("fold", pa.int16()), ("referral_id", ID)]
    return pa.schema(fields + [(topic_column(k), pa.float64()) for k in range(num_topics)])


def topic_column(topic: int) -> str:
    """Column name of a topic's share."""
    return f"topic_{topic:02d}"


SCHEMAS["tfidf_terms"] = pa.schema(
    [("fold", pa.int16()), ("column", pa.string()), ("term", pa.string())]
)


def tfidf_schema(num_topics: int, max_terms: int) -> pa.Schema:
    """Schema of topic shares with ``max_terms`` TF-IDF columns appended."""
    fields = [(tfidf_column(k), pa.float64()) for k in range(max_terms)]
    return pa.schema(list(topic_schema(num_topics)) + fields)


def tfidf_column(position: int) -> str:
    """Column name of the TF-IDF weight of a fold's term at ``position``."""
    return f"tfidf_{position:03d}"


def resolve_schema(schema: str | pa.Schema) -> pa.Schema:
    """A schema given by its name in ``SCHEMAS`` or directly."""
    return SCHEMAS[schema] if isinstance(schema, str) else schema


def enforce_schema(frame: pd.DataFrame, schema: str | pa.Schema) -> pa.Table:
    """Return ``frame`` as a pyarrow table with exactly the columns and types of
    ``schema``; raise ``ValueError`` naming the missing or extra columns."""
    schema = resolve_schema(schema)
    expected = list(schema.names)
    missing = [c for c in expected if c not in frame.columns]
    extra = [c for c in frame.columns if c not in expected]
    if missing or extra:
        raise ValueError(f"table does not match its schema: missing {missing}, unexpected {extra}")
    return pa.Table.from_pandas(frame[expected], schema=schema, preserve_index=False)


def write_parquet(
    frame: pd.DataFrame | pa.Table, path: str | Path, schema: str | pa.Schema
) -> None:
    """Write ``frame`` to ``path`` atomically with ``schema`` (a name in ``SCHEMAS``
    or a pyarrow schema).

    The file appears only when complete (write to a temporary file, then rename),
    so a killed job never leaves a corrupt Parquet file behind.
    """
    schema = resolve_schema(schema)
    if isinstance(frame, pa.Table):
        table = frame.select(schema.names).cast(schema)
    else:
        table = enforce_schema(frame, schema)
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp")
    pq.write_table(table, tmp, compression="zstd")
    os.replace(tmp, path)


def read_parquet(path: str | Path, schema: str) -> pd.DataFrame:
    """Read a Parquet artefact and check it carries the named schema."""
    table = pq.read_table(path)
    expected = SCHEMAS[schema]
    if not table.schema.remove_metadata().equals(expected):
        raise ValueError(
            f"{path} does not carry schema {schema!r}: got {table.schema}, expected {expected}"
        )
    return table.to_pandas()


CANONICAL_TABLES = (
    "children",
    "referrals",
    "assessments",
    "section47",
    "cp_plans",
    "care_episodes",
)


# Exports hold the month of birth only; its middle is the unbiased guess of the day.
DAYS_INTO_BIRTH_MONTH = 14


def age_in_years(birth_month: pd.Series, on: pd.Series) -> pd.Series:
    """Age in fractional years on the dates ``on``, of children born in
    ``birth_month`` (its first day), counted from the middle of that month,
    so that ages are not overstated by half a month on average."""
    birthday = birth_month + pd.Timedelta(days=DAYS_INTO_BIRTH_MONTH)
    return (on - birthday).dt.days / 365.25


def families_by_referral(cohort: pd.DataFrame) -> pd.Series:
    """Return each cohort row's sibling group, indexed by referral_id: its
    ``family_id``, else the child's own id (prefixed so it cannot collide with
    a family id), else the referral's. Every split, resample and learning
    curve keeps these groups whole."""
    child = ("child:" + cohort["child_id"].astype("string")).fillna(
        "referral:" + cohort["referral_id"].astype("string")
    )
    families = cohort["family_id"].astype("string").fillna(child).astype(str)
    return pd.Series(families.to_numpy(), index=pd.Index(cohort["referral_id"], name="referral_id"))


def content_codes(content: np.ndarray) -> np.ndarray:
    """Number each row of the 2-D array ``content`` 0, 1, ... in the order of
    its values (first column first, missing values last): equal rows, missing
    values alike, share a number, whatever order or ids the rows have."""
    if len(content) == 0:
        return np.zeros(0, dtype=np.intp)
    rows = np.asarray(content, dtype=np.float64).reshape(len(content), -1)
    order = np.lexsort(rows.T[::-1])
    ordered = rows[order]
    same = (ordered[1:] == ordered[:-1]) | (np.isnan(ordered[1:]) & np.isnan(ordered[:-1]))
    codes = np.empty(len(rows), dtype=np.intp)
    codes[order] = np.concatenate([[0], np.cumsum(~same.all(axis=1))])
    return codes


def content_order(content: np.ndarray) -> np.ndarray:
    """The row positions of ``content`` sorted by the rows' values
    (``content_codes``); equal rows keep their given order.

    Ids are keyed hashes, so an order by id changes with the
    pseudonymisation key; models fitted on rows in this order, and shuffles
    of them, do not. Rows it cannot tell apart hold the same values, so
    which comes first cannot change a result."""
    return np.argsort(content_codes(content), kind="stable")


def family_numbers(families: np.ndarray, content: np.ndarray) -> np.ndarray:
    """Number each row's family (``families``, one per row of ``content``)
    0, 1, ... in the order of the family's rows' values, so that draws of
    families do not follow their ids (``content_order``). Families whose
    rows hold the same values are numbered by id, which cannot change a draw's
    result."""
    families = np.asarray(families, dtype=str)
    codes = content_codes(content)
    members: dict[str, list[int]] = {}
    for family, code in zip(families, codes, strict=True):
        members.setdefault(family, []).append(int(code))
    ordered = sorted(members, key=lambda family: (sorted(members[family]), family))
    number = {family: position for position, family in enumerate(ordered)}
    return np.array([number[family] for family in families], dtype=np.int64)


def read_canonical_tables(inputs) -> dict[str, pd.DataFrame]:
    """The canonical tables named in a rule's inputs, each checked against its schema."""
    return {name: read_parquet(inputs[name], name) for name in CANONICAL_TABLES}


def pseudonymise(values: pd.Series, key: bytes) -> pd.Series:
    """Replace each identifier by a keyed hash (HMAC-SHA256, first 16 hex digits).

    The same key and value always give the same pseudonym, so tables still
    link, while nobody without the key can reverse or re-derive the mapping.
    Missing values stay missing.
    """
    if not key:
        raise ValueError("pseudonymisation key is empty")

    def digest(value: str) -> str:
        return hmac.new(key, value.encode("utf-8"), hashlib.sha256).hexdigest()[:16]

    out = values.astype("string").str.strip()
    uniques = out.dropna().unique()
    mapping = {v: digest(v) for v in uniques}
    return out.map(mapping).astype("string")


# A shorter secret could be guessed, and with it every pseudonym reversed by
# hashing the LA's ids.
MIN_KEY_LENGTH = 16


def checked_key(key: str, source: str) -> bytes:
    """``key`` as bytes if it has at least ``MIN_KEY_LENGTH`` characters;
    else raise ``InputError`` naming its ``source`` (never the key)."""
    if len(key) < MIN_KEY_LENGTH:
        raise InputError(
            f"the pseudonymisation key in {source} has {len(key)} character(s); use a "
            f"random secret of at least {MIN_KEY_LENGTH} (e.g. `python -c 'import secrets; "
            "print(secrets.token_hex(32))'`). A new key changes every pseudonym, so keep "
            "it the same across runs from then on."
        )
    return key.encode("utf-8")


def is_shown_key_file(path: Path) -> bool:
    """Whether messages may repeat the configured key file ``path``: only if it
    is evidently a path, naming something that exists or written with a folder
    (other than the root) that exists. Any other value may be the key itself
    pasted into ``key_file``, and is never repeated."""
    # os.path, not Path: Path.exists raises on a name too long for a file, as
    # a pasted key can be.
    unwritten = (Path("."), Path(path.anchor))
    return os.path.exists(path) or any(
        os.path.isdir(folder) for folder in path.parents if folder not in unwritten
    )


def unshown_key_file_message(key_env: str) -> str:
    """What to do about a ``key_file`` that is not ``is_shown_key_file``,
    without repeating it."""
    return (
        "pseudonymisation.key_file in your LA config is not the path of a file: "
        "neither it nor a folder written in it exists, so it may be the key "
        "itself and is not repeated here. key_file must be the path of a file "
        "outside the repository that holds the key (e.g. "
        "~/.la_pseudonymisation_key); never write the key itself into the "
        "config. Put the key in such a file, or in the environment variable "
        f"{key_env} and remove key_file; if the config holding it was shared or "
        "committed, make a new key (every pseudonym then changes)."
    )


def read_key_file(path: Path, key_env: str) -> bytes:
    """The key in the file ``path`` without surrounding whitespace; raise
    ``InputError`` saying what to do if the file is missing or empty, or the
    key shorter than ``MIN_KEY_LENGTH``. A missing file's path is named only if
    ``is_shown_key_file``."""
    if not os.path.isfile(path):
        if not is_shown_key_file(path):
            raise InputError(unshown_key_file_message(key_env))
        missing = "is not a file" if os.path.exists(path) else "does not exist"
        raise InputError(
            f"pseudonymisation key file {path} (pseudonymisation.key_file) {missing}: "
            "correct the path in your LA config, or remove key_file and set the "
            f"environment variable {key_env} instead."
        )
    content = path.read_text(encoding="utf-8").strip()
    if not content:
        raise InputError(
            f"pseudonymisation key file {path} is empty: write a long random "
            "secret into it (e.g. `python -c 'import secrets; "
            "print(secrets.token_hex(32))' > "
            f"{path}`)."
        )
    return checked_key(content, f"the key file {path}")


def load_key(key_env: str, key_file: str | None) -> bytes:
    """Return the pseudonymisation key from ``key_file`` or environment
    variable ``key_env``, either without surrounding whitespace (a trailing
    newline must not change every pseudonym); raise ``InputError`` saying what
    to do if neither is set, if ``key_file`` is set but unusable
    (``read_key_file``), if the key is shorter than ``MIN_KEY_LENGTH``, or if
    both are set to different keys. The variable is often exported once for
    every session, maybe for another LA: neither source may silently win over
    the other, or this LA's records would get another LA's pseudonyms."""
    from_variable = os.environ.get(key_env, "").strip()
    if key_file:
        path = Path(key_file).expanduser()
        key = read_key_file(path, key_env)
        if from_variable and from_variable.encode("utf-8") != key:
            raise InputError(
                f"two different pseudonymisation keys are set: one in the environment "
                f"variable {key_env}, another in the key file {path} "
                "(pseudonymisation.key_file in your LA config), and each gives other "
                "pseudonyms. Keep the one this LA's earlier runs used: to use the file, "
                f"unset the variable (`unset {key_env}`, and remove its export from your "
                "shell's start-up file); to use the variable, remove key_file from your "
                "LA config."
            )
        return key
    if from_variable:
        return checked_key(from_variable, f"the environment variable {key_env}")
    raise InputError(
        "no pseudonymisation key: set the environment variable "
        f"{key_env} to a long random secret, or set pseudonymisation.key_file "
        "in your LA config to a file outside the repository that holds one "
        "(e.g. `python -c 'import secrets; print(secrets.token_hex(32))' > "
        "~/.la_pseudonymisation_key`). Keep the same key across runs so that "
        "pseudonyms stay stable."
    )


def resolve_key(key_env: str, key_file: str | None, demo_key: str | None) -> bytes:
    """Return the pseudonymisation key, falling back to a labelled demo key
    when none is set (a key set but missing, empty or too short is an error)."""
    key_set = os.environ.get(key_env, "").strip() or key_file
    if key_set or not demo_key:
        return load_key(key_env, key_file)
    logger.warning(
        "using the DEMO pseudonymisation key from the config: acceptable for "
        "synthetic data only; set %s or pseudonymisation.key_file for real data",
        key_env,
    )
    return demo_key.encode("utf-8")


def key_fingerprint(key: bytes) -> str:
    """Return a short keyed hash that tells pseudonymisation keys apart without
    revealing them: HMAC-SHA256 of a fixed message, first 16 hex digits."""
    return hmac.new(key, b"pseudonymisation key fingerprint", hashlib.sha256).hexdigest()[:16]


def check_key_fingerprint(key: bytes, planned: str) -> None:
    """Raise ``InputError`` if ``key`` is not the key Snakemake planned the run
    with (``planned``, its fingerprint, from the rule's params)."""
    if key_fingerprint(key) != planned:
        raise InputError(
            "the pseudonymisation key changed between planning and running this job "
            "(environment variable or key file edited meanwhile): start the run again."
        )


def batches(texts: Iterable[str], chars: int) -> Iterator[list[str]]:
    """Consecutive runs of ``texts`` of at least ``chars`` characters (the
    last may be shorter); every text is in exactly one run, in order."""
    batch: list[str] = []
    size = 0
    for text in texts:
        batch.append(text)
        size += len(text)
        if size >= chars:
            yield batch
            batch, size = [], 0
    if batch:
        yield batch


def run(main: Callable[[], None], log_path: str | None) -> None:
    """Run a script's ``main`` with logging to ``log_path`` and stderr.

    An ``InputError`` is reported as a plain message (no traceback) and the job
    fails with exit code 1; Snakemake then removes the job's outputs. A
    ``SafetyCheckError`` is logged in full. Any other
    error is a bug or an input the workflow does not handle: the log records its
    type and where it happened, but not its message, which may quote raw data
    (the log sits under results/); the full traceback goes to stderr only.
    """
    handlers: list[logging.Handler] = [logging.StreamHandler(sys.stderr)]
    if log_path:
        Path(log_path).parent.mkdir(parents=True, exist_ok=True)
        handlers.append(logging.FileHandler(log_path, mode="w", encoding="utf-8"))
    logging.basicConfig(
        level=logging.INFO,
        format="%(levelname)s %(name)s: %(message)s",
        handlers=handlers,
        force=True,
    )
    try:
        main()
    except InputError as error:
        logging.getLogger("input").error("%s", error)
        sys.exit(1)
    except SafetyCheckError as error:
        logging.getLogger("safety check").error("%s", error)
        raise
    except Exception as error:
        logging.getLogger("unexpected").error(
            "unexpected %s: a bug, or input this workflow does not handle. Its message "
            "may quote raw data, so it is on the console only; it happened at:\n%s",
            type(error).__name__,
            "".join(traceback.format_tb(error.__traceback__)).rstrip(),
        )
        raise


UNREADABLE_ENCODINGS = {
    b"\xff\xfe\x00\x00": "UTF-32",
    b"\x00\x00\xfe\xff": "UTF-32",
    b"\xff\xfe": "UTF-16",
    b"\xfe\xff": "UTF-16",
}
RAW_EXPORT_SUFFIXES = (".csv", ".txt", ".xlsx", ".parquet", ".jsonl", ".ndjson")


def text_encoding(path: Path, table: str) -> str:
    """The encoding to read a text export with: UTF-8 (a BOM is skipped), else
    Windows-1252.

    Raises ``InputError`` naming the file, the line and what to do for UTF-16
    or UTF-32 files, for UTF-8 files with bytes in another encoding, and for
    bytes that neither encoding can read.
    """
    with path.open("rb") as handle:
        head = handle.read(1 << 16)
    for bom, name in UNREADABLE_ENCODINGS.items():
        if head.startswith(bom):
            raise InputError(
                f"{table}: file {path} is {name} encoded; re-save it as UTF-8 (or Windows-1252)."
            )
    if b"\x00" in head:
        line = head[: head.index(b"\x00")].count(b"\n") + 1
        raise InputError(
            f"{table}: file {path}, line {line}: "
            "holds NUL bytes, so it is in an unknown encoding (or not text); re-save it "
            "as UTF-8 CSV."
        )
    failure = undecodable_line(path, "utf-8-sig")
    if failure is None:
        logger.info("%s: read as UTF-8", path)
        return "utf-8-sig"
    line, byte = failure
    utf8_line = first_utf8_line(path)
    if utf8_line is not None:
        # Read as Windows-1252, the file's UTF-8 text would turn "Zoë" into
        # "ZoÃ«", which name redaction no longer recognises.
        raise InputError(
            f"{table}: file {path}, line {line}: byte {byte!r} is not UTF-8, though the "
            f"file holds UTF-8 text (first at line {utf8_line}), so it mixes encodings; "
            f"correct the character on line {line} and re-save the file as UTF-8."
        )
    failure = undecodable_line(path, "cp1252")
    if failure is None:
        logger.info("%s: not UTF-8 (first at line %d); read as Windows-1252", path, line)
        return "cp1252"
    line, byte = failure
    raise InputError(
        f"{table}: file {path}, line {line}: byte {byte!r} is neither UTF-8 nor "
        "Windows-1252, so the encoding is unknown; re-save the file as UTF-8."
    )


# A character beyond ASCII that UTF-8 decoding produced, not a byte it escaped.
DECODED_NON_ASCII = re.compile("[^\x00-\x7f\udc80-\udcff]")


def first_utf8_line(path: Path) -> int | None:
    """The first line of ``path`` holding a character beyond ASCII validly
    encoded as UTF-8 (a BOM aside), or None; in 16 MB chunks, as
    ``undecodable_line``."""
    decoder = codecs.getincrementaldecoder("utf-8-sig")(errors="surrogateescape")
    lines_before = 0
    with path.open("rb") as handle:
        while chunk := handle.read(1 << 24):
            text = decoder.decode(chunk)
            if match := DECODED_NON_ASCII.search(text):
                return lines_before + text.count("\n", 0, match.start()) + 1
            lines_before += text.count("\n")
    return None


def undecodable_line(path: Path, encoding: str) -> tuple[int, bytes] | None:
    """The line and byte where ``path`` stops being valid ``encoding``, or None.

    Decodes in 16 MB chunks so that a large export is checked in bounded memory.
    """
    decoder = codecs.getincrementaldecoder(encoding)()
    lines_before = 0
    with path.open("rb") as handle:
        while chunk := handle.read(1 << 24):
            try:
                decoder.decode(chunk)
            except UnicodeDecodeError as error:
                return lines_before + chunk[: error.start].count(b"\n") + 1, chunk[
                    error.start : error.start + 1
                ]
            lines_before += chunk.count(b"\n")
        try:
            decoder.decode(b"", final=True)
        except UnicodeDecodeError:
            return lines_before + 1, b""
    return None


def first_bad_json_line(path: Path, encoding: str) -> tuple[int, str]:
    """Line number and parser message of the first line of ``path`` that is not JSON."""
    with path.open(encoding=encoding) as handle:
        for number, line in enumerate(handle, start=1):
            if not line.strip():
                continue
            try:
                json.loads(line)
            except json.JSONDecodeError as error:
                return number, error.msg
    return 0, "no JSON object found"


def as_text_columns(frame: pd.DataFrame) -> pd.DataFrame:
    """Every column as strings (dates in ISO form, whole numbers without a decimal
    point, missing as ``NA``), as CSVs are read."""
    out = {}
    for column in frame.columns:
        values = frame[column]
        if pd.api.types.is_datetime64_any_dtype(values):
            values = values.dt.strftime("%Y-%m-%dT%H:%M:%S")
        elif pd.api.types.is_float_dtype(values) and (values.dropna() % 1 == 0).all():
            # Whole numbers stored as floats (integer codes with gaps) read "6", not "6.0".
            values = values.astype("Int64")
        out[str(column)] = values.astype("string")
    return pd.DataFrame(out, index=frame.index)


def read_raw_export(path: Path, table: str) -> pd.DataFrame:
    """Read one raw export as strings, choosing the reader by the file suffix:
    CSV (or .txt), XLSX (first sheet), Parquet, or JSON lines (.jsonl, .ndjson).

    Text files may be UTF-8, UTF-8 with a BOM or Windows-1252; quoted CSV cells
    may hold commas, doubled quotes and line breaks. Raises ``InputError``
    naming the file, the line where known, and what to do.
    """
    suffix = path.suffix.lower()
    if suffix not in RAW_EXPORT_SUFFIXES:
        raise InputError(
            f"{table}: file {path} has suffix {suffix!r}; give the export as one of "
            f"{', '.join(RAW_EXPORT_SUFFIXES)}."
        )
    if suffix == ".xlsx":
        try:
            frame = pd.read_excel(path, dtype=str, keep_default_na=False, engine="openpyxl")
        except (ValueError, OSError, KeyError, zipfile.BadZipFile) as error:
            raise InputError(
                f"{table}: file {path} is not a readable XLSX workbook ({error}); "
                "re-save it from Excel as .xlsx or export it as CSV."
            ) from None
        return frame.astype("string").fillna("")
    if suffix == ".parquet":
        try:
            frame = pq.read_table(path).to_pandas()
        except (pa.ArrowException, OSError) as error:
            raise InputError(
                f"{table}: file {path} is not a readable Parquet file ({error}); "
                "re-export it or give a CSV."
            ) from None
        return as_text_columns(frame).fillna("")
    encoding = text_encoding(path, table)
    if suffix in (".jsonl", ".ndjson"):
        try:
            frame = pd.read_json(path, lines=True, dtype=False, encoding=encoding)
        except ValueError:
            line, message = first_bad_json_line(path, encoding)
            raise InputError(
                f"{table}: file {path}, line {line}: not a JSON object ({message}); each "
                'line must hold one note as {"column": "value", ...}. Repair the line.'
            ) from None
        return as_text_columns(frame).fillna("")
    try:
        frame = pd.read_csv(path, dtype=str, keep_default_na=False, encoding=encoding)
    except pd.errors.ParserError as error:
        separators = wrong_separators(header_line(path))
        if separators:
            raise InputError(
                f"{table}: file {path} has its columns separated by {separators[0]!r}, not by "
                "commas; export it as comma-separated CSV."
            ) from None
        raise InputError(
            f"{table}: file {path} is not well-formed CSV ({error}); cells holding "
            "commas, quotes or line breaks must be in double quotes, with quotes "
            'inside doubled (""). Re-export the file.'
        ) from None
    return without_separator_rows(frame, path)


# List separators other than the comma that spreadsheets save CSV files with.
WRONG_SEPARATORS = ";\t|"


def wrong_separators(header: str) -> list[str]:
    """The list separators other than a comma (``WRONG_SEPARATORS``) in the
    first line ``header`` of a CSV file when it holds no comma: a file saved
    with another separator, which reads as one column."""
    return [] if "," in header else [c for c in WRONG_SEPARATORS if c in header]


def header_line(path: Path) -> str:
    """The first line of the text file ``path``, stripped, without a BOM.
    Read as bytes, so that it can be judged before its encoding is: only its
    ASCII column names and separators matter to the callers."""
    with path.open("rb") as handle:
        first = handle.readline()
    return first.removeprefix(codecs.BOM_UTF8).decode("utf-8", errors="replace").strip()


def without_separator_rows(frame: pd.DataFrame, path: Path) -> pd.DataFrame:
    """``frame`` (a CSV read as strings) without its rows holding only
    separators and spaces, counted in the log: Excel saves rows it once
    formatted as ",,,,", which the user cannot see. They are skipped as
    ``record_start_lines`` skips them, so the index (each row's position among
    the records kept) still names its line."""
    blank = frame.apply(lambda column: column.astype("string").str.strip().fillna("").eq(""))
    separators_only = blank.all(axis=1)
    if separators_only.any():
        logger.info(
            "%s: %d empty row(s) (separators only) skipped", path, int(separators_only.sum())
        )
    return frame.loc[~separators_only].reset_index(drop=True)


def missing_columns_message(path: Path, table: str, expected: list[str], headers: list[str]) -> str:
    """What to tell the user when the export ``path``, whose header row was
    read as ``headers``, lacks some of the mapped columns ``expected``.

    The headers are listed only if one of them is an expected column, which
    shows that they are a header row: in an export without one they are the
    first record (names, phone numbers, a whole note), which must not reach a
    log, so then only their number is given.
    """
    folded = {header.casefold() for header in headers}
    missing = [name for name in expected if name.casefold() not in folded]
    mapping = f"data.tables.{table}.columns"
    if len(missing) < len(expected):
        return (
            f"{table}: file {path} lacks column(s) {missing} (found {headers}); "
            f"fix the export or the mapping {mapping} in your config."
        )
    separators = wrong_separators(headers[0]) if len(headers) == 1 else []
    fields = headers[0].split(separators[0]) if separators else []
    if {field.strip().casefold() for field in fields} & {name.casefold() for name in expected}:
        return (
            f"{table}: file {path} has its columns separated by {separators[0]!r}, not by "
            "commas; export it as comma-separated CSV."
        )
    return (
        f"{table}: file {path} has none of the expected columns {expected}; its first "
        f"row holds {len(headers)} field(s), which are not listed as they may be data. "
        "The file may lack its header row (re-export it with column headings), or the "
        f"mapping {mapping} in your config may be wrong."
    )


def read_mapped_csv(path: str | Path, columns: dict[str, str], table: str) -> pd.DataFrame:
    """Read a raw export (CSV, XLSX, Parquet or JSON lines, by suffix: see
    ``read_raw_export``) and rename its columns to canonical names.

    ``columns`` maps canonical name -> the LA's column name (matched ignoring
    case). All values are read as strings (codes such as "01" keep their
    leading zeros). Raises ``InputError`` naming the file and the missing
    columns.
    """
    path = Path(path)
    if not path.is_file():
        raise InputError(
            f"{table}: file {path} does not exist; check data.directory and "
            f"data.tables.{table}.path in your config."
        )
    if path.stat().st_size == 0:
        raise InputError(f"{table}: file {path} is empty; re-export it from the source system.")
    frame = read_raw_export(path, table)
    frame.columns = [str(c).strip() for c in frame.columns]
    by_folded = {c.casefold(): c for c in frame.columns}
    missing = [raw for raw in columns.values() if raw.casefold() not in by_folded]
    if missing:
        raise InputError(
            missing_columns_message(path, table, list(columns.values()), list(frame.columns))
        )
    out = pd.DataFrame(
        {canonical: frame[by_folded[raw.casefold()]] for canonical, raw in columns.items()}
    )
    return out.replace("", pd.NA)


# Case notes that cannot be used, by the canonical column they lack, and why:
# a note without a child cannot be linked, one without a time cannot be placed
# before a prediction point, and one without text (attachment-only notes are
# common) has nothing to read. Such notes are left out and counted, not fatal.
UNUSABLE_NOTES = {
    "child_id": "have no child id",
    "note_datetime": "have no note time",
    "text": "have no text (e.g. an attachment only)",
}


def unusable_notes(notes: pd.DataFrame) -> dict[str, pd.Series]:
    """Per reason in ``UNUSABLE_NOTES``, which notes lack that column's value
    (missing or only spaces); a note may lack several."""
    return {
        reason: notes[column].astype("string").fillna("").str.strip().eq("").astype(bool)
        for column, reason in UNUSABLE_NOTES.items()
    }


def column_label(columns: dict[str, str], table: str, column: str) -> str:
    """How messages name canonical ``column`` of ``table``: as it is headed in
    the user's file (``columns`` maps canonical -> file column names), then its
    canonical name, e.g. "column 'CINreferralDate' (referrals.referral_date)"."""
    return f"column {columns[column]!r} ({table}.{column})"


@functools.cache
def record_start_lines(path: Path, size: int, modified: int) -> tuple[int, ...]:
    """The physical line (header = line 1) on which each data record of the CSV
    or JSON-lines export ``path`` starts, skipping blank lines as pandas does.

    A quoted CSV cell may span several lines, so record N does not start on
    line N + 1. ``size`` and ``modified`` (the file's size and mtime in ns) only
    key the cache, so that a file rewritten in place is read again.
    """
    encoding = text_encoding(path, path.stem)
    if path.suffix.lower() in (".jsonl", ".ndjson"):
        with path.open(encoding=encoding) as handle:
            return tuple(number for number, line in enumerate(handle, start=1) if line.strip())
    starts = []
    with path.open(encoding=encoding, newline="") as handle:
        reader = csv.reader(handle)
        previous_end = 0
        for record in reader:
            # pandas skips empty lines and lines holding only spaces or tabs;
            # read_raw_export skips lines holding only separators.
            blank = not any(cell.strip(" \t") for cell in record)
            if not blank:
                starts.append(previous_end + 1)
            previous_end = reader.line_num
    return tuple(starts[1:])


def row_location(path: str | Path, position: int) -> str:
    """Where data record ``position`` (0-based, in the order read) of the export
    ``path`` is, as the user finds it there: "line L" of a CSV or JSON-lines
    file, "row R" of an XLSX sheet as Excel numbers it (header = row 1), or
    "data row N" of a Parquet file (first data row = 1).
    """
    path = Path(path)
    suffix = path.suffix.lower()
    if suffix == ".xlsx":
        return f"row {position + 2}"
    if suffix in (".csv", ".txt", ".jsonl", ".ndjson") and path.is_file():
        status = path.stat()
        starts = record_start_lines(path, status.st_size, status.st_mtime_ns)
        if position < len(starts):
            return f"line {starts[position]}"
    return f"data row {position + 1}"


def first_row(path: str | Path, mask: pd.Series) -> str:
    """Where in the export ``path`` the first row with ``mask`` True is (see
    ``row_location``). ``mask``'s index holds each row's position in the
    export as read, so rows may already have been left out."""
    return row_location(path, int(mask.index[mask.to_numpy()][0]))


def value_shape(value: str) -> str:
    """How ``value`` is written, without what it says: each digit as 9 and each
    letter as A ("30/01/2005" -> "99/99/9999"), for messages about values that
    may identify someone, such as a date of birth."""
    return "".join("9" if c.isdigit() else "A" if c.isalpha() else c for c in value)


def load_code_lists(path: str | Path) -> dict[str, dict[str, list[dict]]]:
    """Read the code lists YAML (table -> column -> [{from, to, codes}])."""
    path = Path(path)
    if not path.is_file():
        raise InputError(
            f"code lists file {path} does not exist; set data.code_lists to a YAML file "
            "such as resources/code_lists.yaml."
        )
    with path.open(encoding="utf-8") as handle:
        lists = yaml.safe_load(handle) or {}
    for table, columns in lists.items():
        for column, periods in columns.items():
            for period in periods:
                if not isinstance(period, dict) or not {"from", "to", "codes"} <= set(period):
                    raise InputError(
                        f"code lists file {path}: {table}.{column} has an entry without "
                        "from, to and codes; write each as {from: 2017, to: null, codes: [...]}."
                    )
    return lists


def listed_codes(periods: list[dict]) -> set[str]:
    """Every code of a column's code list, in any collection year, upper-cased."""
    return {str(code).upper() for period in periods for code in period["codes"]}


# A value of a coded column or a document type is written as it is to the QA
# table (hence the shared report) and to logs only if its code list lists it
# or at least this many children have it: a free-text value that redaction
# missed ("Neighbour - Mrs J Kowalczyk, 14 Acacia Ave", "Strategy meeting re
# Kowalczyk family") would otherwise be printed. Ten children outnumber almost
# any family, so a value only one family's records share is never printed.
MIN_CHILDREN_SHOWN_VALUE = 10


def nameable_values(values: pd.Series, child_ids: pd.Series, listed: Iterable[str]) -> set[str]:
    """The distinct ``values`` that may be written as they are: those in
    ``listed`` (a code list), and those of at least
    ``MIN_CHILDREN_SHOWN_VALUE`` distinct children (``child_ids``, aligned
    with ``values`` by position)."""
    children = (
        pd.DataFrame({"value": values.to_numpy(), "child": child_ids.to_numpy()})
        .dropna(subset=["value"])
        .groupby("value")["child"]
        .nunique()
    )
    shown = children.index.isin(list(listed)) | (children >= MIN_CHILDREN_SHOWN_VALUE).to_numpy()
    return {str(value) for value in children.index[shown]}


def counts_shown(values: pd.Series, shown: set[str]) -> list[tuple[str, int]]:
    """How often each of ``values`` in ``shown`` occurs, sorted by value, then
    the others together as ("N other value(s)", their total count), if any:
    what the QA table may record without printing an unlisted rare value."""
    counts = values.dropna().value_counts(sort=False).sort_index()
    named = counts.index.isin(list(shown))
    out = [(str(value), int(count)) for value, count in counts[named].items()]
    others = counts[~named]
    if len(others):
        plural = "s" if len(others) > 1 else ""
        out.append((f"{len(others)} other value{plural}", int(others.sum())))
    return out


# A time's zone: "Z", "UTC", "+01:00", "+0100" or "-05", after hh:mm[:ss[.fff]].
TIME_ZONE_SUFFIX = r"(?i)(\d\d:\d\d(?::\d\d(?:[.,]\d+)?)?)\s*(z|utc|[+-]\d\d(?::?\d\d)?)$"
# The zone a case's chronology is read in: English LAs record UK time.
LOCAL_TIME_ZONE = "Europe/London"
# UK dates, alone or with a time, the commonest date-time export in England.
UK_DATE_FORMATS = ("%d/%m/%Y", "%d/%m/%Y %H:%M", "%d/%m/%Y %H:%M:%S")
# Values written in a readable date form, so that failing to parse them means
# no such day ("30/02/2017") rather than an unknown form.
DATE_FORM = r"(?:\d{4}-\d\d-\d\d|\d\d?/\d\d?/\d{4})(?:[T ]|$)"


def utc_offset(zone: str) -> str:
    """A time zone as written after a time ("Z", "UTC", "+01", "+0100",
    "+01:00") as an ISO 8601 offset ("+00:00", "+01:00")."""
    if zone.upper() in ("Z", "UTC"):
        return "+00:00"
    digits = zone[1:].replace(":", "")
    return f"{zone[0]}{digits[:2]}:{digits[2:] or '00'}"


def parse_dates(values: pd.Series, path: str | Path, label: str, required: bool) -> pd.Series:
    """Parse ISO (yyyy-mm-dd[Thh:mm:ss]) or UK (dd/mm/yyyy[ hh:mm[:ss]]) dates.

    A time with a zone after it ("2017-07-21T15:45:17Z", "...+01:00") is
    converted to UK time (``LOCAL_TIME_ZONE``: "2020-06-15T23:30Z" is 00:30 on
    16 June) and the zone dropped; a time without one is UK time as written.
    Exports mix zoned and plain times, and a case's chronology is read in UK
    time, so a note written just before midnight UTC in summer falls on the
    right day.

    Raises ``InputError`` naming the file, the column (``label``, see
    ``column_label``) and where the first bad row is (``first_row``) if a value
    cannot be parsed (an impossible day such as "30/02/2017" is called "not a
    valid date"), or if ``required`` and a value is missing.
    """
    text = values.astype("string").str.strip()
    zone = text.str.extract(TIME_ZONE_SUFFIX)[1]
    plain = text.str.replace(TIME_ZONE_SUFFIX, r"\1", regex=True)
    iso = pd.to_datetime(plain, format="ISO8601", errors="coerce")
    zoned = zone.notna()
    if zoned.any():
        with_offset = plain[zoned] + zone[zoned].map(utc_offset)
        utc = pd.to_datetime(with_offset, format="ISO8601", utc=True, errors="coerce")
        iso[zoned] = utc.dt.tz_convert(LOCAL_TIME_ZONE).dt.tz_localize(None)
    parsed = iso
    for uk_format in UK_DATE_FORMATS:
        parsed = parsed.fillna(pd.to_datetime(text, format=uk_format, errors="coerce"))
    bad = text.notna() & parsed.isna()
    if bad.any():
        value = text[bad].iloc[0]
        shape = f"{value_shape(value)!r} (9: a digit, A: a letter)"
        if re.match(DATE_FORM, value):
            problem = f"the date written {shape} is not a valid date (no such day or time)"
            fix = "correct it in the source system and re-export"
        else:
            problem = f"cannot read the date written {shape}"
            fix = "use yyyy-mm-dd, dd/mm/yyyy or dd/mm/yyyy hh:mm[:ss]"
        raise InputError(f"{path}: {label}, {first_row(path, bad)}: {problem}; {fix}.")
    if required and text.isna().any():
        raise InputError(
            f"{path}: {label}, {first_row(path, text.isna())}: date is missing but "
            "required; fill it in or remove the row from the export."
        )
    return parsed.astype("datetime64[ms]")
