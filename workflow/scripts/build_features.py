"""Build one outcome's features, each known strictly before its prediction point.

Structured history: counts of the child's earlier referrals, NFA closures,
assessments, section 47 enquiries, child protection plans and care episodes;
days since the last of each; assessment factors authorised before the point;
the current referral's source and primary need; age, sex and disability.
Ethnicity is never a feature: it is kept for the fairness analysis.

Text: the tokens of the child's case notes dated within the outcome's window
before the prediction point, concatenated in time order.

Every row records ``feature_time``, the latest timestamp of any source record
it used, and the leakage audit refuses to write features if any is at or after
the row's prediction point.
"""

import logging

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from common import feature_schema, read_parquet, write_parquet

logger = logging.getLogger(__name__)

SEX_CODES = {"M": 1.0, "1": 1.0, "F": 0.0, "2": 0.0}


def history_features(
    cohort: pd.DataFrame,
    events: pd.DataFrame,
    name: str,
    time_column: str = "time",
) -> tuple[pd.DataFrame, pd.Series]:
    """Count a child's events known before each prediction point, and the days
    since the latest.

    ``events`` has child_id, the ``time_column`` at which each event became
    known, and optionally ``source_referral_id``: events of the cohort row's
    own referral are then left out (its own record or closure would describe
    the very decision being predicted). Returns the features indexed by
    referral_id and the latest event time used per row.
    """
    columns = ["child_id", time_column]
    if "source_referral_id" in events.columns:
        columns.append("source_referral_id")
    pairs = cohort[["referral_id", "child_id", "prediction_time"]].merge(
        events[columns], on="child_id", how="inner"
    )
    known = pairs[time_column] < pairs["prediction_time"]
    if "source_referral_id" in pairs.columns:
        known &= pairs["source_referral_id"] != pairs["referral_id"]
    pairs = pairs.loc[known]
    grouped = pairs.groupby("referral_id", sort=False)
    latest = grouped[time_column].max()
    prediction_time = cohort.set_index("referral_id")["prediction_time"]
    features = pd.DataFrame(index=cohort["referral_id"])
    features[f"n_previous_{name}"] = grouped.size().reindex(features.index, fill_value=0)
    days = (prediction_time.reindex(latest.index) - latest).dt.days
    features[f"days_since_last_{name}"] = days.reindex(features.index)
    return features.astype("float64"), latest.reindex(features.index)


def one_hot(values: pd.Series, prefix: str, categories: list[str]) -> pd.DataFrame:
    """Indicator columns for a fixed, sorted list of categories."""
    return pd.DataFrame(
        {f"{prefix}_{c}": (values == c).astype("float64") for c in categories},
        index=values.index,
    )


def factor_features(
    cohort: pd.DataFrame, assessments: pd.DataFrame, factors: list[str]
) -> tuple[pd.DataFrame, pd.Series]:
    """Times each assessment factor was identified in assessments authorised
    before the prediction point."""
    authorised = assessments.loc[assessments["authorisation_date"].notna()]
    exploded = authorised[["child_id", "authorisation_date", "factors"]].explode("factors")
    pairs = cohort[["referral_id", "child_id", "prediction_time"]].merge(
        exploded, on="child_id", how="inner"
    )
    pairs = pairs.loc[pairs["authorisation_date"] < pairs["prediction_time"]]
    counts = pd.crosstab(pairs["referral_id"], pairs["factors"]).reindex(
        index=cohort["referral_id"], columns=factors, fill_value=0
    )
    counts.columns = [f"factor_{c}" for c in counts.columns]
    latest = pairs.groupby("referral_id")["authorisation_date"].max()
    return counts.astype("float64"), latest.reindex(cohort["referral_id"])


def structured_features(cohort: pd.DataFrame, tables: dict[str, pd.DataFrame]) -> pd.DataFrame:
    """All structured features of the cohort, with their ``feature_time``."""
    referrals = tables["referrals"]
    current = cohort[["referral_id"]].merge(
        referrals, on="referral_id", how="left", validate="one_to_one"
    )
    children = cohort[["referral_id", "child_id"]].merge(
        tables["children"], on="child_id", how="left", validate="many_to_one"
    )
    index = pd.Index(cohort["referral_id"], name="referral_id")

    others = referrals.rename(columns={"referral_id": "source_referral_id"})
    earlier = others.rename(columns={"referral_date": "time"})
    nfa_closures = others.loc[others["nfa"] & others["closure_date"].notna()]
    event_sources = {
        "referrals": earlier,
        "nfa_closures": nfa_closures.rename(columns={"closure_date": "time"}),
        "assessments": tables["assessments"].rename(columns={"start_date": "time"}),
        "section47": tables["section47"].rename(columns={"start_date": "time"}),
        "cp_plans": tables["cp_plans"].rename(columns={"start_date": "time"}),
        "care_episodes": tables["care_episodes"].rename(columns={"start_date": "time"}),
    }
    blocks, times = [], []
    for name, events in event_sources.items():
        features, latest = history_features(cohort, events, name)
        blocks.append(features)
        times.append(latest)

    factors = sorted({f for codes in tables["assessments"]["factors"] for f in codes} - {"21"})
    factor_block, factor_time = factor_features(cohort, tables["assessments"], factors)
    blocks.append(factor_block)
    times.append(factor_time)

    sources = sorted(referrals["referral_source"].dropna().unique())
    needs = sorted(referrals["primary_need"].dropna().unique())
    current_referral = pd.concat(
        [
            one_hot(current["referral_source"], "source", sources),
            one_hot(current["primary_need"], "need", needs),
        ],
        axis=1,
    ).set_index(index)
    blocks.append(current_referral)
    times.append(pd.Series(current["referral_date"].to_numpy(), index=index))

    age_days = (cohort["prediction_time"] - children["birth_month"]).dt.days
    person = pd.DataFrame(
        {
            "age_years": (age_days / 365.25).to_numpy(),
            "sex_male": children["sex"].map(SEX_CODES).to_numpy(dtype="float64"),
            "disability": children["disability"].astype("float64").to_numpy(),
        },
        index=index,
    )
    blocks.append(person)

    features = pd.concat(blocks, axis=1).astype("float64")
    feature_time = pd.concat(times, axis=1).max(axis=1)
    features.insert(0, "feature_time", feature_time.astype("datetime64[ms]"))
    return features.reset_index()


def text_documents(cohort: pd.DataFrame, tokens: pd.DataFrame, window_days: int) -> pd.DataFrame:
    """Concatenate each row's note tokens dated in [point - window, point)."""
    pairs = cohort[["outcome", "referral_id", "child_id", "prediction_time"]].merge(
        tokens[["child_id", "note_datetime", "note_id", "tokens"]], on="child_id", how="inner"
    )
    window_start = pairs["prediction_time"] - pd.Timedelta(days=window_days)
    in_window = (pairs["note_datetime"] >= window_start) & (
        pairs["note_datetime"] < pairs["prediction_time"]
    )
    pairs = pairs.loc[in_window].sort_values(
        ["referral_id", "note_datetime", "note_id"], kind="stable"
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


def flag_features(cohort: pd.DataFrame, flags: pd.DataFrame, window_days: int) -> pd.DataFrame:
    """Per row and vulnerability category, whether any note in the text window
    [point - window, point) raised the flag; ``feature_time`` is the latest
    such note."""
    categories = [c for c in flags.columns if c.startswith("flag_")]
    pairs = cohort[["referral_id", "child_id", "prediction_time"]].merge(
        flags[["child_id", "note_datetime", *categories]], on="child_id", how="inner"
    )
    window_start = pairs["prediction_time"] - pd.Timedelta(days=window_days)
    in_window = (pairs["note_datetime"] >= window_start) & (
        pairs["note_datetime"] < pairs["prediction_time"]
    )
    grouped = pairs.loc[in_window].groupby("referral_id", sort=False)
    features = grouped[categories].max().reindex(cohort["referral_id"], fill_value=0)
    features.columns = [c.replace("flag_", "vulnerability_", 1) for c in categories]
    features = features.astype("float64")
    latest = grouped["note_datetime"].max().reindex(cohort["referral_id"])
    features.insert(0, "feature_time", latest.astype("datetime64[ms]"))
    return features.rename_axis("referral_id").reset_index()


def leakage_violations(cohort: pd.DataFrame, feature_times: pd.Series, what: str) -> list[str]:
    """Describe rows whose features use a record at or after the prediction point."""
    point = cohort.set_index("referral_id")["prediction_time"]
    times = feature_times.reindex(point.index)
    late = times.notna() & (times >= point)
    return [
        f"{what} of referral {rid} use a record from {times[rid]} at or after its "
        f"prediction point {point[rid]}"
        for rid in point.index[late][:5]
    ]


def read_shards(paths: list[str]) -> pd.DataFrame:
    """Read the shards of a text table into one frame."""
    return pa.concat_tables([pq.read_table(p) for p in paths]).to_pandas()


def main(snakemake) -> None:
    """Build structured and text features of the rule's outcome."""
    cohort = read_parquet(snakemake.input.cohort, "cohort")
    tables = {
        name: read_parquet(snakemake.input[name], name)
        for name in (
            "children",
            "referrals",
            "assessments",
            "section47",
            "cp_plans",
            "care_episodes",
        )
    }
    structured = structured_features(cohort, tables)
    window = snakemake.params.text_window_days
    documents = text_documents(cohort, read_shards(snakemake.input.tokens), window)
    flags = flag_features(cohort, read_shards(snakemake.input.flags), window)
    violations = (
        leakage_violations(
            cohort, structured.set_index("referral_id")["feature_time"], "structured features"
        )
        + leakage_violations(
            cohort, documents.set_index("referral_id")["latest_note_time"], "text features"
        )
        + leakage_violations(
            cohort, flags.set_index("referral_id")["feature_time"], "vulnerability flags"
        )
    )
    if violations:
        raise RuntimeError("leakage audit failed:\n" + "\n".join(violations))
    columns = [c for c in structured.columns if c not in ("referral_id", "feature_time")]
    write_parquet(structured, snakemake.output.structured, feature_schema(columns))
    write_parquet(documents, snakemake.output.text_documents, "text_documents")
    flag_columns = [c for c in flags.columns if c not in ("referral_id", "feature_time")]
    write_parquet(flags, snakemake.output.text_flags, feature_schema(flag_columns))
    logger.info(
        "%d rows, %d structured features, %.1f%% with notes in the text window",
        len(cohort),
        len(columns),
        100 * float(np.mean(documents["n_notes"] > 0)),
    )


if __name__ == "__main__":
    from common import run

    run(lambda: main(snakemake), snakemake.log[0])  # noqa: F821
