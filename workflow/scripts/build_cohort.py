"""Build one outcome's cohort: one row per referral, its prediction point and label.

The prediction point of a referral is its referral date plus the outcome's
``prediction_offset_days``; features may only use records dated strictly before
it. Two outcome types are supported:

- ``nfa_rereferral``: the referral is closed with no further action (NFA) and the
  child is referred again, both within ``horizon_months`` of the prediction point;
- ``escalation``: one of the configured events (``cp_plan``, ``care_episode``,
  ``section47``) starts after the prediction point and within ``horizon_months``.

Rows are dropped when the child is at or over the age limit at referral, when
the label cannot be known because its horizon passes the end of the data
(censoring), and, for escalation, when the child is already on a plan or in
care at the prediction point.
"""

import logging

import pandas as pd

from common import InputError, read_parquet, write_parquet

logger = logging.getLogger(__name__)

EVENT_TABLES = ("cp_plan", "care_episode", "section47")


def add_months(dates: pd.Series, months: int) -> pd.Series:
    """Shift dates by whole calendar months (end-of-month safe)."""
    return (dates + pd.DateOffset(months=months)).astype("datetime64[ms]")


def age_in_years(birth_month: pd.Series, on: pd.Series) -> pd.Series:
    """Age in fractional years on the given dates."""
    return (on - birth_month).dt.days / 365.25


def data_end(referrals: pd.DataFrame, configured: str | None) -> pd.Timestamp:
    """The last date the extract covers: configured, else the latest referral."""
    if configured:
        return pd.Timestamp(configured)
    return referrals["referral_date"].max()


def nfa_rereferral_labels(
    cohort: pd.DataFrame, referrals: pd.DataFrame, horizon_months: int
) -> pd.DataFrame:
    """Label referrals closed with NFA and followed by a new referral of the
    child, both by the end of the horizon after the prediction point.

    Every row's label is known at the same distance from its prediction point,
    so censoring does not depend on the outcome (dropping only NFA rows near
    the end of the data would leave their certain negatives behind).
    """
    frame = cohort[["referral_id", "child_id", "prediction_time"]].merge(
        referrals[["referral_id", "nfa", "closure_date"]], on="referral_id", how="left"
    )
    frame["closed"] = frame["closure_date"].fillna(frame["prediction_time"])
    later = (
        referrals[["child_id", "referral_date"]]
        .rename(columns={"referral_date": "next_referral_date"})
        .sort_values("next_referral_date", kind="stable")
    )
    frame = pd.merge_asof(
        frame.sort_values("closed", kind="stable"),
        later,
        left_on="closed",
        right_on="next_referral_date",
        by="child_id",
        direction="forward",
        allow_exact_matches=False,
    )
    horizon_end = add_months(frame["prediction_time"], horizon_months)
    closed_nfa = (
        frame["nfa"] & frame["closure_date"].notna() & (frame["closure_date"] <= horizon_end)
    )
    rereferred = frame["next_referral_date"].notna() & (frame["next_referral_date"] <= horizon_end)
    frame["label"] = (closed_nfa & rereferred).astype("int8")
    frame["label_known_time"] = horizon_end
    return frame[["referral_id", "label", "label_known_time"]]


def event_starts(tables: dict[str, pd.DataFrame], events: list[str]) -> pd.DataFrame:
    """Start and end dates per child of the chosen escalation events."""
    unknown = sorted(set(events) - set(EVENT_TABLES))
    if unknown:
        raise InputError(
            f"outcome events {unknown} are not known; choose from {list(EVENT_TABLES)} "
            "in outcomes.<name>.events of your config."
        )
    parts = []
    for event in events:
        table = tables[event]
        end = table["end_date"] if "end_date" in table.columns else table["start_date"]
        parts.append(
            pd.DataFrame({"child_id": table["child_id"], "start": table["start_date"], "end": end})
        )
    return pd.concat(parts, ignore_index=True)


def escalation_labels(
    cohort: pd.DataFrame,
    events: pd.DataFrame,
    horizon_months: int,
    exclude_already_escalated: bool,
) -> pd.DataFrame:
    """Label an event start in (prediction_time, prediction_time + horizon].

    Returns referral_id, label, label_known_time and already_escalated (an event
    started before the prediction point and had not ended by it).
    """
    frame = cohort[["referral_id", "child_id", "prediction_time"]]
    horizon_end = add_months(frame["prediction_time"], horizon_months)
    frame = frame.assign(horizon_end=horizon_end)
    pairs = frame.merge(events, on="child_id", how="inner")
    starts_in_window = (pairs["start"] > pairs["prediction_time"]) & (
        pairs["start"] <= pairs["horizon_end"]
    )
    ongoing = (pairs["start"] <= pairs["prediction_time"]) & (
        pairs["end"].isna() | (pairs["end"] > pairs["prediction_time"])
    )
    positive = set(pairs.loc[starts_in_window, "referral_id"])
    escalated = set(pairs.loc[ongoing, "referral_id"]) if exclude_already_escalated else set()
    return pd.DataFrame(
        {
            "referral_id": frame["referral_id"],
            "label": frame["referral_id"].isin(positive).astype("int8"),
            "label_known_time": frame["horizon_end"],
            "already_escalated": frame["referral_id"].isin(escalated),
        }
    )


def build_cohort(
    name: str,
    outcome: dict,
    tables: dict[str, pd.DataFrame],
    max_age_years: float,
    end: pd.Timestamp,
) -> tuple[pd.DataFrame, dict[str, int]]:
    """Return the labelled cohort of one outcome and counts of rows dropped by reason."""
    referrals = tables["referrals"]
    children = tables["children"][["child_id", "family_id", "birth_month"]]
    cohort = referrals[["referral_id", "child_id", "referral_date"]].merge(
        children, on="child_id", how="inner", validate="many_to_one"
    )
    cohort["prediction_time"] = (
        cohort["referral_date"] + pd.Timedelta(days=outcome["prediction_offset_days"])
    ).astype("datetime64[ms]")
    counts = {"referrals": len(cohort)}

    age = age_in_years(cohort["birth_month"], cohort["referral_date"])
    in_population = age.isna() | (age < max_age_years)
    counts["over_age_limit"] = int((~in_population).sum())
    cohort = cohort.loc[in_population].reset_index(drop=True)

    if outcome["type"] == "nfa_rereferral":
        labels = nfa_rereferral_labels(cohort, referrals, outcome["horizon_months"])
        labels["already_escalated"] = False
    elif outcome["type"] == "escalation":
        events = event_starts(
            {
                "cp_plan": tables["cp_plans"],
                "care_episode": tables["care_episodes"],
                "section47": tables["section47"],
            },
            outcome["events"],
        )
        labels = escalation_labels(
            cohort, events, outcome["horizon_months"], outcome["exclude_already_escalated"]
        )
    else:
        raise InputError(
            f"outcome {name!r} has unknown type {outcome['type']!r}; "
            "use nfa_rereferral or escalation."
        )
    cohort = cohort.merge(labels, on="referral_id", how="left", validate="one_to_one")
    counts["already_escalated"] = int(cohort["already_escalated"].sum())
    cohort = cohort.loc[~cohort["already_escalated"]]
    censored = cohort["label_known_time"] > end
    counts["censored"] = int(censored.sum())
    cohort = cohort.loc[~censored]
    counts["kept"] = len(cohort)
    counts["positives"] = int(cohort["label"].sum())

    cohort = cohort.assign(outcome=name).sort_values(
        ["prediction_time", "referral_id"], kind="stable"
    )
    columns = ["outcome", "referral_id", "child_id", "family_id", "referral_date"]
    columns += ["prediction_time", "label_known_time", "label"]
    return cohort[columns].reset_index(drop=True), counts


def main(snakemake) -> None:
    """Build the cohort of the rule's outcome."""
    tables = {
        name: read_parquet(snakemake.input[name], name)
        for name in ("children", "referrals", "section47", "cp_plans", "care_episodes")
    }
    end = data_end(tables["referrals"], snakemake.params.data_end_date)
    cohort, counts = build_cohort(
        snakemake.wildcards.outcome,
        snakemake.params.outcome,
        tables,
        snakemake.params.max_age_years,
        end,
    )
    if counts["positives"] == 0 or counts["positives"] == counts["kept"]:
        raise InputError(
            f"outcome {snakemake.wildcards.outcome!r} has {counts['positives']} positive "
            f"case(s) among {counts['kept']} labelled referrals: nothing to learn. Check "
            "the outcome definition and data_end_date in your config."
        )
    logger.info(
        "data end %s; %s; base rate %.3f",
        end.date(),
        ", ".join(f"{k} {v}" for k, v in counts.items()),
        counts["positives"] / counts["kept"],
    )
    write_parquet(cohort, snakemake.output.cohort, "cohort")


if __name__ == "__main__":
    from common import run

    run(lambda: main(snakemake), snakemake.log[0])  # noqa: F821
