"""Build one outcome's text features, each known strictly before its prediction point.

The tokens of the child's case notes dated within the outcome's window before
the prediction point, concatenated in time order (``text_documents``, from
which the topic stage fits its topics on training rows only); the
vulnerability flags raised in that window and, as "previous text", in any
earlier note (``text_flags``). Notes may be limited to the outcome's
configured document types.

For an ``nfa_rereferral`` outcome the notes also end (``notes_end``) at the
start of the case's own referral's closure date, and at the end of the day its
prediction point is counted from (the referral date, or the assessment's
authorisation), whichever is earliest. Closing with no further action is half
of its label and the closure note says so; notes carry no referral id, so every
note from the closure date on is left out. Cutting there alone would still tell
closed cases apart from open ones by the notes missing after the closure, so
no case's notes run past its anchor day: a case closed later reads the same
as an open one. And when any case is closed on its anchor day, no case's notes
include that day, lest the empty window of a case closed at the front door
tell its closure (``anchor_day_audit`` says which, in the report). Escalation
outcomes keep their notes up to the point.

Each row records the time of the latest note it used, and the leakage audit's
time check (``build_structured_features.time_audit``) refuses to write
features if any is at or after the row's prediction point; ``audit_features``
scores each flag alone against the label. The run also stops if no note
belongs to a child of the cohort: that means the notes and records were
pseudonymised with different keys or linked by the wrong column, and the
text features would silently be empty.
"""

import logging

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
from build_structured_features import own_referral_end, time_audit

from common import AUDIT_COLUMNS, InputError, feature_schema, read_parquet, write_parquet

logger = logging.getLogger(__name__)


ANCHOR_DAY_CHECK = "notes of the day the point is counted from"


def notes_end(
    cohort: pd.DataFrame,
    referrals: pd.DataFrame,
    outcome_type: str,
    prediction_offset_days: int,
) -> tuple[pd.Series, int]:
    """Per row (indexed by referral_id), the time before which its notes may
    make its text features, and how many rows' referrals were closed on the
    day their point is counted from (the anchor day).

    The end is the row's ``own_referral_end`` (the prediction point; for an
    ``nfa_rereferral`` outcome the end of its anchor day), and for that outcome
    no later than the start of the own referral's closure date (any closure).
    A case closed on its anchor day would then lose that day's notes while
    every other case keeps them, so an empty window would tell the closure:
    when any case is, no case's notes include its anchor day."""
    end = own_referral_end(cohort, outcome_type, prediction_offset_days)
    if outcome_type != "nfa_rereferral":
        return end, 0
    closure = end.index.to_series().map(referrals.set_index("referral_id")["closure_date"])
    closed_on_anchor_day = int((closure < end).sum())
    if closed_on_anchor_day:
        end = end - pd.Timedelta(days=1)
    return pd.concat([end, closure], axis=1).min(axis=1), closed_on_anchor_day


def anchor_day_audit(closed_on_anchor_day: int) -> pd.DataFrame:
    """The text audit's row on an ``nfa_rereferral`` outcome's anchor-day
    notes (``notes_end``): whether they are read (value 0) or left out for
    every case (value 1). No count: the report shows it as written."""
    if closed_on_anchor_day:
        detail = (
            "some referrals were closed on the day their point is counted from, so no "
            "case's notes include that day: an empty window cannot tell the closure"
        )
    else:
        detail = (
            "no referral was closed on the day its point is counted from, so every "
            "case's notes include that day"
        )
    return pd.DataFrame(
        [
            {
                "check": ANCHOR_DAY_CHECK,
                "subject": "text documents",
                "value": float(closed_on_anchor_day > 0),
                "threshold": np.nan,
                "flagged": False,
                "detail": detail,
            }
        ],
        columns=AUDIT_COLUMNS,
    ).astype({"cases": "Int64", "positives": "Int64"})


def with_notes_end(cohort: pd.DataFrame, end: pd.Series | None) -> pd.DataFrame:
    """The cohort's ids and points with ``notes_end``: ``end`` (from
    ``notes_end``), or the prediction point when None."""
    frame = cohort[["outcome", "referral_id", "child_id", "prediction_time"]]
    return frame.assign(
        notes_end=frame["prediction_time"] if end is None else frame["referral_id"].map(end)
    )


def text_documents(
    cohort: pd.DataFrame,
    tokens: pd.DataFrame,
    window_days: int,
    end: pd.Series | None = None,
) -> pd.DataFrame:
    """Concatenate each row's note tokens dated in [point - window, end), where
    ``end`` (from ``notes_end``) is the prediction point when None, in time
    order; notes written at the same time follow their words, not their ids,
    which are keyed hashes (in id order a new key reordered a document, and so
    changed the topic models fitted on it)."""
    pairs = with_notes_end(cohort, end).merge(
        tokens[["child_id", "note_datetime", "tokens"]], on="child_id", how="inner"
    )
    window_start = pairs["prediction_time"] - pd.Timedelta(days=window_days)
    in_window = (pairs["note_datetime"] >= window_start) & (
        pairs["note_datetime"] < pairs["notes_end"]
    )
    pairs = pairs.loc[in_window]
    pairs = pairs.assign(words=pairs["tokens"].map("\x1f".join)).sort_values(
        ["referral_id", "note_datetime", "words"], kind="stable"
    )
    grouped = pairs.groupby("referral_id", sort=False)
    documents = pd.DataFrame(
        {
            "latest_note_time": grouped["note_datetime"].max(),
            "n_notes": grouped.size().astype("int32"),
            "tokens": grouped["tokens"].agg(lambda parts: [t for part in parts for t in part]),
        }
    )
    out = cohort[["outcome", "referral_id"]].merge(
        documents, left_on="referral_id", right_index=True, how="left"
    )
    out["n_notes"] = out["n_notes"].fillna(0).astype("int32")
    out["tokens"] = out["tokens"].map(lambda t: t if isinstance(t, list) else [])
    return out


def select_document_types(
    notes: pd.DataFrame, document_types: list[str] | None, outcome: str
) -> pd.DataFrame:
    """Keep the notes of the given document types (all notes if None). A
    listed type that no note has stops the run (``InputError``), naming it and
    any type that differs from it only in case: the match is exact, and a
    misspelt type would silently leave its notes out. Only the configured
    names, the analyst's own, are echoed: note types may be free text."""
    if document_types is None:
        return notes
    present = set(notes["document_type"].dropna())
    missing = [t for t in document_types if t not in present]
    if missing:
        by_case = {t.casefold(): t for t in sorted(present)}
        hints = [
            f"{t!r} (did you mean {by_case[t.casefold()]!r}?)"
            if t.casefold() in by_case
            else repr(t)
            for t in missing
        ]
        raise InputError(
            f"outcome {outcome!r}: no case note has document type {', '.join(hints)} of "
            f"outcomes.{outcome}.document_types; the match is exact, case included. Correct "
            "the list to the types your notes export uses, or set it to null for every note."
        )
    return notes.loc[notes["document_type"].isin(document_types)]


def flag_features(
    cohort: pd.DataFrame,
    flags: pd.DataFrame,
    window_days: int,
    previous: bool = False,
    end: pd.Series | None = None,
) -> pd.DataFrame:
    """Per row and vulnerability category, whether any note raised the flag:
    in the text window [point - window, end), or with ``previous`` in any
    note before the window and before ``end`` ("previous text", columns
    ``previous_vulnerability_*``); and the number of those notes and the share
    that raised any flag (NaN without notes). ``end`` (from ``notes_end``) is
    the prediction point when None. ``feature_time`` is the latest such note."""
    categories = [c for c in flags.columns if c.startswith("flag_")]
    pairs = with_notes_end(cohort, end).merge(
        flags[["child_id", "note_datetime", *categories]], on="child_id", how="inner"
    )
    window_start = pairs["prediction_time"] - pd.Timedelta(days=window_days)
    before_end = pairs["note_datetime"] < pairs["notes_end"]
    if previous:
        in_window = (pairs["note_datetime"] < window_start) & before_end
    else:
        in_window = (pairs["note_datetime"] >= window_start) & before_end
    pairs = pairs.loc[in_window]
    pairs = pairs.assign(any_flag=pairs[categories].max(axis=1).astype("float64"))
    grouped = pairs.groupby("referral_id", sort=False)
    features = grouped[categories].max().reindex(cohort["referral_id"], fill_value=0)
    prefix = "previous_vulnerability_" if previous else "vulnerability_"
    features.columns = [c.replace("flag_", prefix, 1) for c in categories]
    features = features.astype("float64")
    features[f"{prefix}note_count"] = grouped.size().reindex(features.index, fill_value=0)
    features[f"{prefix}flagged_note_share"] = grouped["any_flag"].mean().reindex(features.index)
    latest = grouped["note_datetime"].max().reindex(cohort["referral_id"])
    features.insert(0, "feature_time", latest.astype("datetime64[ms]"))
    return features.rename_axis("referral_id").reset_index()


def text_flag_features(
    cohort: pd.DataFrame,
    flags: pd.DataFrame,
    window_days: int,
    previous_text: bool,
    end: pd.Series | None = None,
) -> pd.DataFrame:
    """Window flags, joined with the previous-text flags when ``previous_text``,
    both from notes before ``end`` (``flag_features``); ``feature_time`` is the
    later of the two."""
    current = flag_features(cohort, flags, window_days, end=end)
    if not previous_text:
        return current
    earlier = flag_features(cohort, flags, window_days, previous=True, end=end)
    joined = current.merge(earlier, on="referral_id", suffixes=("", "_previous"))
    joined["feature_time"] = joined[["feature_time", "feature_time_previous"]].max(axis=1)
    return joined.drop(columns="feature_time_previous")


def check_notes_linked_to_cohort(note_children: pd.Series, cohort_children: pd.Series) -> None:
    """Raise ``InputError`` when notes exist but none belongs to a cohort child:
    the text features would silently be empty."""
    if len(note_children) and not note_children.isin(cohort_children).any():
        raise InputError(
            f"none of the {len(note_children)} redacted notes belongs to a child in the "
            "cohort, so every text feature would be empty. The notes and the records were "
            "most likely pseudonymised with different keys (set the same "
            "pseudonymisation key and rerun: snakemake --forcerun ingest_records "
            "redact_notes), or data.tables.notes.columns.child_id names a different "
            "identifier from the children table's."
        )


def read_shards(paths: list[str]) -> pd.DataFrame:
    """Read the shards of a text table into one frame."""
    return pa.concat_tables([pq.read_table(p) for p in paths]).to_pandas()


def main(snakemake) -> None:
    """Build the text features of the rule's outcome and check their times."""
    cohort = read_parquet(snakemake.input.cohort, "cohort")
    outcome = snakemake.params.outcome
    all_tokens = read_shards(snakemake.input.tokens)
    check_notes_linked_to_cohort(all_tokens["child_id"], cohort["child_id"])
    tokens = select_document_types(
        all_tokens, outcome["document_types"], snakemake.wildcards.outcome
    )
    flags = read_shards(snakemake.input.flags)
    if outcome["document_types"] is not None:
        flags = flags.loc[flags["note_id"].isin(tokens["note_id"])]
    end, closed_on_anchor_day = notes_end(
        cohort,
        read_parquet(snakemake.input.referrals, "referrals"),
        snakemake.params.outcome_type,
        snakemake.params.prediction_offset_days,
    )
    if closed_on_anchor_day:
        logger.info(
            "%d referrals closed on the day their point is counted from: no case's notes "
            "include that day",
            closed_on_anchor_day,
        )
    window = outcome["text_window_days"]
    documents = text_documents(cohort, tokens, window, end)
    text_flags = text_flag_features(cohort, flags, window, outcome["previous_text"], end)
    audit = time_audit(
        cohort,
        {
            "text documents": documents.set_index("referral_id")["latest_note_time"],
            "vulnerability flags": text_flags.set_index("referral_id")["feature_time"],
        },
    )
    if snakemake.params.outcome_type == "nfa_rereferral":
        audit = pd.concat([audit, anchor_day_audit(closed_on_anchor_day)], ignore_index=True)
    write_parquet(documents, snakemake.output.text_documents, "text_documents")
    flag_columns = [c for c in text_flags.columns if c not in ("referral_id", "feature_time")]
    write_parquet(text_flags, snakemake.output.text_flags, feature_schema(flag_columns))
    write_parquet(audit, snakemake.output.audit, "leakage_audit")
    logger.info(
        "%d rows, %.1f%% with notes in the text window",
        len(cohort),
        100 * float(np.mean(documents["n_notes"] > 0)),
    )


if __name__ == "__main__":
    from common import run

    run(lambda: main(snakemake), snakemake.log[0])  # noqa: F821
