"""Build one outcome's cohort: one row per referral, its prediction point and label.

The prediction point of a referral is its anchor date plus the outcome's
``prediction_offset_days``; features may only use records dated strictly before
it. The anchor (``prediction_point``) is the referral date, or the first
authorisation of an assessment of the referral (``assessment_authorisation``;
referrals without one have no prediction point and are left out).

Outcome types, each over ``horizon_months`` after the prediction point:

- ``nfa_rereferral``: the referral is closed with no further action (NFA) and the
  child is referred again;
- ``escalation``: any of the configured ``events`` starts;
- ``custom``: a ``rule`` over the canonical events: every event of ``all_of``,
  at least one of ``any_of`` (if given) and none of ``none_of`` start.

Canonical events (per child): ``referral``, ``nfa_closure``, ``assessment``,
``section47``, ``initial_conference``, ``cp_plan``, ``care_episode``.

Rows are dropped when the child is at or over the age limit at referral, when
the referral has no prediction point, when ``only_open_cases`` is set and the
referral was closed before its prediction point, when the label cannot be known
because its horizon passes the end of the data (censoring), for
``nfa_rereferral`` when the referral was closed with NFA and the child referred
again on or before the prediction point (its outcome is known), and, with
``exclude_already_escalated``, when the case is already escalated at the
prediction point: one of the outcome's events (escalation and custom rules) with
a duration is ongoing at the point (already on a plan or in care), or one
without a duration (a section 47 enquiry, a conference, ...) is dated from the
referral date up to the point, the point included.
"""

import logging

import pandas as pd

from common import InputError, age_in_years, read_canonical_tables, write_parquet

logger = logging.getLogger(__name__)

# Per outcome type, the column of its labels marking cases whose outcome is
# already on record at the prediction point (left out and counted under it).
KNOWN_AT_PREDICTION_POINT = {
    "nfa_rereferral": "rereferred_by_prediction_point",
    "escalation": "already_escalated",
    "custom": "already_escalated",
}


def add_months(dates: pd.Series, months: int) -> pd.Series:
    """Shift dates by whole calendar months (end-of-month safe)."""
    return (dates + pd.DateOffset(months=months)).astype("datetime64[ms]")


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
    ``rereferred_by_prediction_point`` marks rows whose re-referral is already
    on record at the prediction point (dated on or before it): their outcome is
    known when the prediction is made.
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
    frame["rereferred_by_prediction_point"] = (
        closed_nfa & rereferred & (frame["next_referral_date"] <= frame["prediction_time"])
    )
    return frame[["referral_id", "label", "label_known_time", "rereferred_by_prediction_point"]]


def event_starts(tables: dict[str, pd.DataFrame], events: list[str]) -> pd.DataFrame:
    """Start and end dates per child of the chosen canonical events.

    Events without a duration (all but plans and care episodes) end when they
    start and have ``has_duration`` false. ``referral_id`` is the referral's own
    id for ``referral`` events (so a case's own referral is not an event after
    it) and missing for the others."""
    referrals = tables["referrals"]
    section47 = tables["section47"]
    nfa = referrals.loc[referrals["nfa"].fillna(False).astype(bool)]
    sources = {
        "referral": (referrals, "referral_date", None),
        "nfa_closure": (nfa, "closure_date", None),
        "assessment": (tables["assessments"], "start_date", None),
        "section47": (section47, "start_date", None),
        "initial_conference": (section47, "icpc_date", None),
        "cp_plan": (tables["cp_plans"], "start_date", "end_date"),
        "care_episode": (tables["care_episodes"], "start_date", "end_date"),
    }
    parts = []
    for event in events:
        table, start, end = sources[event]
        part = pd.DataFrame(
            {
                "child_id": table["child_id"],
                "start": table[start],
                "end": table[end] if end else table[start],
                "has_duration": end is not None,
                "referral_id": table["referral_id"] if event == "referral" else None,
            }
        )
        parts.append(part.loc[part["start"].notna()])
    return pd.concat(parts, ignore_index=True)


def escalation_labels(
    cohort: pd.DataFrame,
    events: pd.DataFrame,
    horizon_months: int,
    exclude_already_escalated: bool,
) -> pd.DataFrame:
    """Label an event start in (prediction_time, prediction_time + horizon].

    Returns referral_id, label, label_known_time and already_escalated: an event
    with a duration (plan, care episode) started on or before the prediction
    point and had not ended by it, or an event without one (enquiry, conference,
    ...) is dated from the referral date up to the prediction point, the point
    included (it is on record when the prediction is made). The case's own
    referral is not such an event.
    """
    frame = cohort[["referral_id", "child_id", "referral_date", "prediction_time"]]
    horizon_end = add_months(frame["prediction_time"], horizon_months)
    frame = frame.assign(horizon_end=horizon_end)
    pairs = frame.merge(events, on="child_id", how="inner", suffixes=("", "_event"))
    starts_in_window = (pairs["start"] > pairs["prediction_time"]) & (
        pairs["start"] <= pairs["horizon_end"]
    )
    by_point = pairs["start"] <= pairs["prediction_time"]
    ongoing = (
        pairs["has_duration"]
        & by_point
        & (pairs["end"].isna() | (pairs["end"] > pairs["prediction_time"]))
    )
    since_referral = (
        ~pairs["has_duration"]
        & by_point
        & (pairs["start"] >= pairs["referral_date"])
        & (pairs["referral_id_event"] != pairs["referral_id"])
    )
    positive = set(pairs.loc[starts_in_window, "referral_id"])
    escalated = (
        set(pairs.loc[ongoing | since_referral, "referral_id"])
        if exclude_already_escalated
        else set()
    )
    return pd.DataFrame(
        {
            "referral_id": frame["referral_id"],
            "label": frame["referral_id"].isin(positive).astype("int8"),
            "label_known_time": frame["horizon_end"],
            "already_escalated": frame["referral_id"].isin(escalated),
        }
    )


def custom_labels(
    cohort: pd.DataFrame,
    tables: dict[str, pd.DataFrame],
    rule: dict[str, list[str]],
    horizon_months: int,
    exclude_already_escalated: bool,
) -> pd.DataFrame:
    """Label a custom rule: every ``all_of`` event, at least one ``any_of`` event
    (if any are given) and no ``none_of`` event start in the horizon after the
    prediction point. "Already escalated" uses the ``all_of`` and ``any_of`` events."""
    wanted = [*rule.get("all_of", []), *rule.get("any_of", [])]
    if not wanted:
        raise InputError(
            "a custom outcome's rule needs at least one event in all_of or any_of; "
            "see outcomes.<name>.rule in config/config.yaml."
        )
    occurs = {
        event: escalation_labels(cohort, event_starts(tables, [event]), horizon_months, False)[
            "label"
        ].astype(bool)
        for event in {*wanted, *rule.get("none_of", [])}
    }
    label = pd.Series(True, index=cohort.index)
    for event in rule.get("all_of", []):
        label &= occurs[event]
    if rule.get("any_of"):
        label &= pd.concat([occurs[e] for e in rule["any_of"]], axis=1).any(axis=1)
    for event in rule.get("none_of", []):
        label &= ~occurs[event]
    labels = escalation_labels(
        cohort, event_starts(tables, wanted), horizon_months, exclude_already_escalated
    )
    return labels.assign(label=label.astype("int8").to_numpy())


def prediction_anchor(
    cohort: pd.DataFrame, assessments: pd.DataFrame, prediction_point: str
) -> pd.Series:
    """The date each row's prediction point is counted from: its referral date,
    or the first authorisation of an assessment of its referral (NaT if none)."""
    if prediction_point == "referral":
        return cohort["referral_date"]
    # assessment_authorisation: the config schema allows no other point.
    first = assessments.groupby("referral_id")["authorisation_date"].min()
    return cohort["referral_id"].map(first).astype("datetime64[ms]")


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
    cohort = referrals[["referral_id", "child_id", "referral_date", "closure_date"]].merge(
        children, on="child_id", how="inner", validate="many_to_one"
    )
    anchor = prediction_anchor(
        cohort, tables["assessments"], outcome.get("prediction_point", "referral")
    )
    cohort["prediction_time"] = (
        anchor + pd.Timedelta(days=outcome["prediction_offset_days"])
    ).astype("datetime64[ms]")
    counts = {"referrals": len(cohort)}

    age = age_in_years(cohort["birth_month"], cohort["referral_date"])
    in_population = age.isna() | (age < max_age_years)
    counts["over_age_limit"] = int((~in_population).sum())
    has_point = cohort["prediction_time"].notna()
    counts["no_prediction_point"] = int((in_population & ~has_point).sum())
    keep = in_population & has_point
    if outcome.get("only_open_cases", False):
        closed = cohort["closure_date"].notna() & (
            cohort["closure_date"] < cohort["prediction_time"]
        )
        counts["closed_before_prediction_point"] = int((keep & closed).sum())
        keep &= ~closed
    cohort = cohort.loc[keep].reset_index(drop=True)

    exclude = outcome.get("exclude_already_escalated", True)
    if outcome["type"] == "nfa_rereferral":
        labels = nfa_rereferral_labels(cohort, referrals, outcome["horizon_months"])
    elif outcome["type"] == "escalation":
        events = event_starts(tables, outcome["events"])
        labels = escalation_labels(cohort, events, outcome["horizon_months"], exclude)
    else:  # custom: the config schema allows no other type
        labels = custom_labels(cohort, tables, outcome["rule"], outcome["horizon_months"], exclude)
    cohort = cohort.merge(labels, on="referral_id", how="left", validate="one_to_one")
    known = cohort[KNOWN_AT_PREDICTION_POINT[outcome["type"]]]
    counts[known.name] = int(known.sum())
    cohort = cohort.loc[~known]
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


def describe_counts(end: pd.Timestamp, configured: bool, counts: dict[str, int]) -> str:
    """The log line of a cohort's counts: the data end, how many referrals each
    rule left out, how many were kept and the base rate (undefined with none
    kept). A ``configured`` data end is the analyst's own setting and is given
    as set; else it is the latest referral's date, given to the month, since
    that referral's exact day can point at one child."""
    base_rate = f"{counts['positives'] / counts['kept']:.3f}" if counts["kept"] else "undefined"
    listed = ", ".join(f"{k} {v}" for k, v in counts.items())
    shown_end = f"{end.date()}" if configured else f"{end:%Y-%m} (the latest referral's month)"
    return f"data end {shown_end}; {listed}; base rate {base_rate}"


def check_both_classes(name: str, counts: dict[str, int]) -> None:
    """Stop (``InputError``) when outcome ``name``'s cohort has no case with,
    or none without, the outcome: there is nothing to learn."""
    if counts["positives"] == 0 or counts["positives"] == counts["kept"]:
        raise InputError(
            f"outcome {name!r} has {counts['positives']} positive case(s) among "
            f"{counts['kept']} labelled referrals: nothing to learn. The counts logged "
            "just before this say how many referrals each rule left out; check the "
            "outcome definition and data_end_date in your config."
        )


def main(snakemake) -> None:
    """Build the cohort of the rule's outcome."""
    tables = read_canonical_tables(snakemake.input)
    end = data_end(tables["referrals"], snakemake.params.data_end_date)
    cohort, counts = build_cohort(
        snakemake.wildcards.outcome,
        snakemake.params.outcome,
        tables,
        snakemake.params.max_age_years,
        end,
    )
    # Logged before any stop: the counts say where the referrals went.
    logger.info(describe_counts(end, bool(snakemake.params.data_end_date), counts))
    check_both_classes(snakemake.wildcards.outcome, counts)
    write_parquet(cohort, snakemake.output.cohort, "cohort")


if __name__ == "__main__":
    from common import run

    run(lambda: main(snakemake), snakemake.log[0])  # noqa: F821
