"""Build one outcome's structured features, each known strictly before its
prediction point (its text features: ``build_text_features``).

Structured history: counts of the child's earlier referrals, NFA closures,
assessments, section 47 enquiries, child protection plans and care episodes,
and days since the last of each; the same for the child's family (siblings
included). The row's own referral is never its own history: its record, its
closure and the assessments, enquiries and plans recorded under it are left
out, as in the 2020 study ("excluding the current one"); for an
``nfa_rereferral`` outcome so are the NFA closures of any referral made on the
row's own referral date (a sibling referred with the child is the same
incident, so its closure is the row's own by proxy; its referral still counts).
Also: total and mean days on earlier plans and in care (counted up to the
prediction point); assessment factors of earlier referrals' assessments
authorised before the point; the current referral's source (known from the
referral); age, sex and disability. Ethnicity is never a feature: it is kept
for the fairness analysis. A referral source, primary need or assessment
factor is a code of the configured code list (``data.code_lists``) or
``other`` (``source_other``...): column names are printed.

Current referral so far (the outcome's ``current_referral_features``, on by
default): the steps of the row's own referral dated strictly before its
prediction point (for an ``nfa_rereferral`` outcome, before the end of the day
the point is counted from: ``own_referral_end``), each as a flag and the days
since it: an assessment started
or authorised, a section 47 enquiry started, an initial child protection
conference held, the referral closed, closed with no further action; and
the factors of its own assessment once authorised. At an escalation point two
weeks after referral these steps are already on record, and a worker reading
the case would know them. Plans and care episodes are not among them: they are
what escalation outcomes predict, and cases already on a plan or in care are
left out of those cohorts. For an ``nfa_rereferral`` outcome the referral's
closure steps are left out too: closing with no further action is half of its
label, and a same-day closure would be on record by a next-day prediction
point. A step dated on or after the point is not yet known and never counts.
The referral's primary need (``need_<code>``) is among these steps, not the
referral's record: CIN records it at assessment or closure (N9, "not a child
in need", often records the decision to take no further action), so it is
known from the referral's first assessment authorisation, or its closure if
earlier or without an assessment (never the closure for ``nfa_rereferral``),
and that date is its feature time; before then it is missing (NaN: native in
LightGBM, an indicator column for the other models). Without these features
there is no primary need feature.

Every row records ``feature_time``, the latest timestamp of any source record
it used. The leakage audit's time check (``time_audit``, shared with the
text features) refuses to write features if any is at or after the row's
prediction point. Its single-feature checks are the job ``audit_features``, of their own script
so that changing a threshold, or their code, never rebuilds the features.

The structured and text features are separate jobs so that a change to the
text stage (stop words, say) never reruns the structured-only designs.
"""

import fnmatch
import logging

import numpy as np
import pandas as pd

from common import (
    AUDIT_COLUMNS,
    BASELINE_FEATURE,
    InputError,
    SafetyCheckError,
    age_in_years,
    feature_schema,
    listed_codes,
    load_code_lists,
    read_canonical_tables,
    read_parquet,
    write_parquet,
)

logger = logging.getLogger(__name__)

SEX_CODES = {"M": 1.0, "1": 1.0, "F": 0.0, "2": 0.0}
# The CIN census's assessment factor code for "no factors identified": not a
# factor of its own.
NO_FACTORS_CODE = "21"
# Steps of a referral that may be on record by its prediction point (plans and
# care episodes are left out: they are what escalation outcomes predict).
CURRENT_REFERRAL_STEPS = (
    "assessment_started",
    "assessment_authorised",
    "section47",
    "initial_conference",
    "closure",
    "nfa_closure",
)


def history_features(
    cohort: pd.DataFrame,
    events: pd.DataFrame,
    name: str,
    time_column: str = "time",
    key: str = "child_id",
    exclude_same_day_referrals: bool = False,
    incident_end: pd.Series | None = None,
) -> tuple[pd.DataFrame, pd.Series]:
    """Count a child's (or with ``key="household"`` the family's) events known
    before each prediction point, and the days since the latest.

    ``events`` has ``key``, the ``time_column`` at which each event became
    known, and optionally ``source_referral_id``: events of the cohort row's
    own referral are then left out (its own record or closure would describe
    the very decision being predicted). With ``exclude_same_day_referrals``,
    events of any referral dated on the row's own referral date
    (``source_referral_date``) are left out too: a sibling referred with the
    row's child is the same incident, so its closure is the row's own closure
    by proxy. With ``incident_end`` (per referral_id, ``own_referral_end``),
    events of such a referral count only when known before it, as the row's
    own referral's steps do: a sibling's enquiry days after their joint
    referral tells that the incident was not closed. Returns the features
    indexed by referral_id and the latest event time used per row.
    """
    columns = [key, time_column]
    for column in ("source_referral_id", "source_referral_date"):
        if column in events.columns:
            columns.append(column)
    pairs = cohort[["referral_id", key, "referral_date", "prediction_time"]].merge(
        events[columns], on=key, how="inner"
    )
    known = pairs[time_column] < pairs["prediction_time"]
    if "source_referral_id" in pairs.columns:
        known &= pairs["source_referral_id"] != pairs["referral_id"]
    if exclude_same_day_referrals:
        known &= pairs["source_referral_date"] != pairs["referral_date"]
    if incident_end is not None and "source_referral_date" in pairs.columns:
        same_incident = pairs["source_referral_date"] == pairs["referral_date"]
        before_end = pairs[time_column] < pairs["referral_id"].map(incident_end)
        known &= ~same_incident | before_end
    pairs = pairs.loc[known]
    grouped = pairs.groupby("referral_id", sort=False)
    latest = grouped[time_column].max()
    prediction_time = cohort.set_index("referral_id")["prediction_time"]
    features = pd.DataFrame(index=cohort["referral_id"])
    features[f"n_previous_{name}"] = grouped.size().reindex(features.index, fill_value=0)
    days = (prediction_time.reindex(latest.index) - latest).dt.days
    features[f"days_since_last_{name}"] = days.reindex(features.index)
    return features.astype("float64"), latest.reindex(features.index)


def households(children: pd.DataFrame) -> pd.Series:
    """Each child's family id, or the child's own id for a child without one
    (so that missing family ids never join unrelated children)."""
    own = "child:" + children["child_id"].astype(str)
    return pd.Series(
        children["family_id"].astype("string").fillna(own).astype(str).to_numpy(),
        index=children["child_id"].to_numpy(),
    )


def duration_features(
    cohort: pd.DataFrame, spells: pd.DataFrame, name: str
) -> tuple[pd.DataFrame, pd.Series]:
    """Total and mean days of the child's spells (plans, care episodes) that
    started before each prediction point, each counted up to its end or the
    point, whichever is earlier. Returns the features indexed by referral_id and
    the latest date used per row (a start, or an end before the point)."""
    pairs = cohort[["referral_id", "child_id", "prediction_time"]].merge(
        spells[["child_id", "start_date", "end_date"]], on="child_id", how="inner"
    )
    pairs = pairs.loc[pairs["start_date"] < pairs["prediction_time"]]
    ended = pairs["end_date"].notna() & (pairs["end_date"] < pairs["prediction_time"])
    until = pairs["end_date"].where(ended, pairs["prediction_time"])
    pairs = pairs.assign(
        days=(until - pairs["start_date"]).dt.days.astype("float64"),
        used=pairs["end_date"].where(ended, pairs["start_date"]),
    )
    grouped = pairs.groupby("referral_id", sort=False)
    index = pd.Index(cohort["referral_id"])
    features = pd.DataFrame(
        {
            f"total_days_{name}": grouped["days"].sum().reindex(index, fill_value=0.0),
            f"mean_days_{name}": grouped["days"].mean().reindex(index),
        },
        index=index,
    )
    return features.astype("float64"), grouped["used"].max().reindex(index)


def one_hot(values: pd.Series, prefix: str, categories: list[str]) -> pd.DataFrame:
    """Indicator columns for a fixed, sorted list of categories."""
    return pd.DataFrame(
        {f"{prefix}_{c}": (values == c).astype("float64") for c in categories},
        index=values.index,
    )


def listed_or_other(values: pd.Series, listed: set[str]) -> pd.Series:
    """``values`` as their code of the code list ``listed`` (trimmed and
    upper-cased, as ingestion compares them), any other value as "other";
    missing stays missing."""
    codes = values.astype("string").str.strip().str.upper()
    return codes.where(codes.isin(listed) | codes.isna(), "other").astype(values.dtype)


def coded_tables(
    tables: dict[str, pd.DataFrame], code_lists: dict[str, dict[str, list[dict]]]
) -> dict[str, pd.DataFrame]:
    """``tables`` with the referrals' sources and primary needs and the
    assessments' factors as codes of their code lists (``data.code_lists``),
    any other value as "other". Each value becomes part of a column name
    (``source_``, ``need_``, ``factor_``), which models, explanations and the
    report print: a free-text value ("Neighbour - Mrs J Kowalczyk, 14 Acacia
    Ave") must not."""

    def listed(table: str, column: str) -> set[str]:
        return listed_codes(code_lists.get(table, {}).get(column, []))

    referrals = tables["referrals"].assign(
        referral_source=listed_or_other(
            tables["referrals"]["referral_source"], listed("referrals", "referral_source")
        ),
        primary_need=listed_or_other(
            tables["referrals"]["primary_need"], listed("referrals", "primary_need")
        ),
    )
    factors = listed("assessments", "factors")
    assessments = tables["assessments"].assign(
        factors=tables["assessments"]["factors"].map(
            lambda codes: sorted({code if code in factors else "other" for code in codes})
        )
    )
    return tables | {"referrals": referrals, "assessments": assessments}


def factor_features(
    cohort: pd.DataFrame,
    assessments: pd.DataFrame,
    factors: list[str],
    own_referral: bool = False,
    own_end: pd.Series | None = None,
) -> tuple[pd.DataFrame, pd.Series]:
    """Times each assessment factor was identified in the child's assessments
    authorised before the prediction point: those of earlier referrals, and
    with ``own_referral`` also those of the row's own referral, authorised
    before its ``own_end`` (``own_referral_end``; the point when None)."""
    authorised = assessments.loc[assessments["authorisation_date"].notna()]
    exploded = authorised[["referral_id", "child_id", "authorisation_date", "factors"]].explode(
        "factors"
    )
    pairs = cohort[["referral_id", "child_id", "prediction_time"]].merge(
        exploded.rename(columns={"referral_id": "source_referral_id"}), on="child_id", how="inner"
    )
    known = pairs["authorisation_date"] < pairs["prediction_time"]
    own = pairs["source_referral_id"] == pairs["referral_id"]
    if not own_referral:
        known &= ~own
    elif own_end is not None:
        known &= ~own | (pairs["authorisation_date"] < pairs["referral_id"].map(own_end))
    pairs = pairs.loc[known]
    counts = pd.crosstab(pairs["referral_id"], pairs["factors"]).reindex(
        index=cohort["referral_id"], columns=factors, fill_value=0
    )
    counts.columns = [f"factor_{c}" for c in counts.columns]
    latest = pairs.groupby("referral_id")["authorisation_date"].max()
    return counts.astype("float64"), latest.reindex(cohort["referral_id"])


def referral_steps(tables: dict[str, pd.DataFrame]) -> pd.DataFrame:
    """The dated steps of every referral (referral_id, step, time), one row per
    record, for the steps in ``CURRENT_REFERRAL_STEPS``."""
    referrals, assessments = tables["referrals"], tables["assessments"]
    section47 = tables["section47"]
    nfa = referrals["nfa"].fillna(False).astype(bool)
    sources = {
        "assessment_started": (assessments, "start_date"),
        "assessment_authorised": (assessments, "authorisation_date"),
        "section47": (section47, "start_date"),
        "initial_conference": (section47, "icpc_date"),
        "closure": (referrals, "closure_date"),
        "nfa_closure": (referrals.loc[nfa], "closure_date"),
    }
    parts = [
        pd.DataFrame({"referral_id": table["referral_id"], "step": step, "time": table[column]})
        for step, (table, column) in sources.items()
    ]
    steps = pd.concat(parts, ignore_index=True)
    return steps.loc[steps["time"].notna()]


def known_referral_steps(outcome_type: str) -> tuple[str, ...]:
    """The steps of a row's own referral that may be its features: all of
    ``CURRENT_REFERRAL_STEPS``, but for an ``nfa_rereferral`` outcome not the
    closures, since closing with no further action is half of its label."""
    if outcome_type == "nfa_rereferral":
        return tuple(s for s in CURRENT_REFERRAL_STEPS if s not in ("closure", "nfa_closure"))
    return CURRENT_REFERRAL_STEPS


def own_referral_end(
    cohort: pd.DataFrame, outcome_type: str, prediction_offset_days: int
) -> pd.Series:
    """Per row (indexed by referral_id), the time before which the records of
    its own referral may make its features: its prediction point; for an
    ``nfa_rereferral`` outcome the end of the day the point is counted from
    (the referral date, or the assessment's authorisation), if earlier. After
    that day a case is either closed, and nothing more is recorded, or goes on
    to an assessment, notes, visits: what is recorded then tells the closure,
    half of the label, as the closure itself would."""
    point = cohort.set_index("referral_id")["prediction_time"]
    if outcome_type != "nfa_rereferral":
        return point
    return point - pd.Timedelta(days=prediction_offset_days - 1)


def current_referral_features(
    cohort: pd.DataFrame,
    steps: pd.DataFrame,
    wanted: tuple[str, ...] = CURRENT_REFERRAL_STEPS,
    end: pd.Series | None = None,
) -> tuple[pd.DataFrame, pd.Series]:
    """Per row, which ``wanted`` steps of its own referral are on record
    strictly before its ``end`` (``own_referral_end``; the prediction point
    when None) (``current_referral_<step>``: 1 or 0) and the days from the
    latest of each to the point (``days_since_current_referral_<step>``, NaN if
    none). ``steps`` is ``referral_steps``' table. Returns the features indexed
    by referral_id and the latest step time used per row."""
    pairs = cohort[["referral_id", "prediction_time"]].merge(steps, on="referral_id", how="inner")
    until = pairs["prediction_time"] if end is None else pairs["referral_id"].map(end)
    pairs = pairs.loc[pairs["time"] < until]
    index = pd.Index(cohort["referral_id"])
    point = cohort.set_index("referral_id")["prediction_time"]
    features, latest_times = {}, []
    for step in wanted:
        done = pairs.loc[pairs["step"] == step]
        latest = done.groupby("referral_id")["time"].max().reindex(index)
        features[f"current_referral_{step}"] = latest.notna().astype("float64")
        features[f"days_since_current_referral_{step}"] = (point - latest).dt.days
        latest_times.append(latest)
    used = pd.concat(latest_times, axis=1).max(axis=1)
    return pd.DataFrame(features, index=index).astype("float64"), used


def primary_need_features(
    cohort: pd.DataFrame,
    referrals: pd.DataFrame,
    steps: pd.DataFrame,
    wanted: tuple[str, ...],
    needs: list[str],
    end: pd.Series | None = None,
) -> tuple[pd.DataFrame, pd.Series]:
    """Indicator columns (``need_<code>``) of the primary need of each row's own
    referral, once on record strictly before its ``end`` (``own_referral_end``;
    the prediction point when None); NaN before.

    CIN records the primary need at assessment or closure (N9, "not a child in
    need", is an outcome of either), so it is known from the referral's first
    assessment authorisation, or its closure if earlier or if there is no
    assessment, and the closure only when ``wanted`` (``known_referral_steps``)
    allows closure steps. ``steps`` is ``referral_steps``' table. Returns the
    features indexed by referral_id and the time the need became known (NaT if
    it is not known by the point)."""
    recording = steps.loc[steps["step"].isin({"assessment_authorised", "closure"} & set(wanted))]
    point = cohort.set_index("referral_id")["prediction_time"]
    known_time = recording.groupby("referral_id")["time"].min().reindex(point.index)
    known_time = known_time.where(known_time < (point if end is None else end))
    need = point.index.to_series().map(referrals.set_index("referral_id")["primary_need"])
    features = one_hot(need, "need", needs)
    return features.where(known_time.notna(), np.nan), known_time


def structured_features(
    cohort: pd.DataFrame,
    tables: dict[str, pd.DataFrame],
    current_referral: bool = True,
    outcome_type: str = "escalation",
    prediction_offset_days: int = 1,
) -> pd.DataFrame:
    """All structured features of the cohort, with their ``feature_time``;
    with ``current_referral``, also the steps of each row's own referral known
    before its point (``current_referral_features``, those that
    ``known_referral_steps`` allows for ``outcome_type``, up to
    ``own_referral_end``) and its assessment's factors once authorised."""
    referrals = tables["referrals"]
    current = cohort[["referral_id"]].merge(
        referrals, on="referral_id", how="left", validate="one_to_one"
    )
    children = cohort[["referral_id", "child_id"]].merge(
        tables["children"], on="child_id", how="left", validate="many_to_one"
    )
    index = pd.Index(cohort["referral_id"], name="referral_id")

    # Tables that record their referral: its own are left out of a row's history.
    referral_dates = tables["referrals"].set_index("referral_id")["referral_date"]
    by_referral = {
        name: tables[name]
        .assign(source_referral_date=tables[name]["referral_id"].map(referral_dates))
        .rename(columns={"referral_id": "source_referral_id"})
        for name in ("referrals", "assessments", "section47", "cp_plans")
    }
    others = by_referral["referrals"]
    nfa_closures = others.loc[others["nfa"] & others["closure_date"].notna()]
    event_sources = {
        "referrals": others.rename(columns={"referral_date": "time"}),
        "nfa_closures": nfa_closures.rename(columns={"closure_date": "time"}),
        "assessments": by_referral["assessments"].rename(columns={"start_date": "time"}),
        "section47": by_referral["section47"].rename(columns={"start_date": "time"}),
        "cp_plans": by_referral["cp_plans"].rename(columns={"start_date": "time"}),
        "care_episodes": tables["care_episodes"].rename(columns={"start_date": "time"}),
    }
    # For an NFA outcome a closure of a referral made on the row's own referral
    # date is the same incident's closure: half of the label, as its own is.
    same_day_excluded = {"nfa_closures": outcome_type == "nfa_rereferral"}
    own_end = own_referral_end(cohort, outcome_type, prediction_offset_days)
    # Its other events count only up to the end of the day the point is counted from.
    incident_end = own_end if outcome_type == "nfa_rereferral" else None
    blocks, times = [], []
    for name, events in event_sources.items():
        features, latest = history_features(
            cohort,
            events,
            name,
            exclude_same_day_referrals=same_day_excluded.get(name, False),
            incident_end=incident_end,
        )
        blocks.append(features)
        times.append(latest)

    household = households(tables["children"])
    with_household = cohort.assign(household=cohort["child_id"].map(household))
    for name in ("referrals", "nfa_closures", "section47", "cp_plans", "care_episodes"):
        events = event_sources[name]
        events = events.assign(household=events["child_id"].map(household))
        features, latest = history_features(
            with_household,
            events,
            f"family_{name}",
            key="household",
            exclude_same_day_referrals=same_day_excluded.get(name, False),
            incident_end=incident_end,
        )
        blocks.append(features)
        times.append(latest)

    for name in ("cp_plans", "care_episodes"):
        features, latest = duration_features(cohort, tables[name], name)
        blocks.append(features)
        times.append(latest)

    factors = sorted(
        {f for codes in tables["assessments"]["factors"] for f in codes} - {NO_FACTORS_CODE}
    )
    factor_block, factor_time = factor_features(
        cohort, tables["assessments"], factors, current_referral, own_end
    )
    blocks.append(factor_block)
    times.append(factor_time)

    if current_referral:
        steps, wanted = referral_steps(tables), known_referral_steps(outcome_type)
        progress, progress_time = current_referral_features(cohort, steps, wanted, own_end)
        blocks.append(progress)
        times.append(progress_time)
        needs = sorted(referrals["primary_need"].dropna().unique())
        need, need_time = primary_need_features(cohort, referrals, steps, wanted, needs, own_end)
        blocks.append(need)
        times.append(need_time)

    sources = sorted(referrals["referral_source"].dropna().unique())
    blocks.append(one_hot(current["referral_source"], "source", sources).set_index(index))
    times.append(pd.Series(current["referral_date"].to_numpy(), index=index))

    age = age_in_years(children["birth_month"], cohort["prediction_time"])
    person = pd.DataFrame(
        {
            "age_years": age.to_numpy(),
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


def time_audit(cohort: pd.DataFrame, feature_times: dict[str, pd.Series]) -> pd.DataFrame:
    """The audit's time check, one row per feature table: ``records before the
    prediction point``, the number of rows using a record at or after their
    point. ``feature_times``: per table, each row's latest source-record time
    (indexed by referral id). Any such row raises ``SafetyCheckError``: the
    features are never written. It has no settings, so it runs in the jobs
    that build the features."""
    time_violations = {
        name: leakage_violations(cohort, times, name) for name, times in feature_times.items()
    }
    violations = [v for found in time_violations.values() for v in found]
    if violations:
        raise SafetyCheckError("leakage audit failed:\n" + "\n".join(violations))
    return pd.DataFrame(
        [
            {
                "check": "records before the prediction point",
                "subject": what,
                "value": 0.0,
                "threshold": 0.0,
                "flagged": False,
                "detail": "every row uses only earlier records",
            }
            for what in time_violations
        ],
        columns=AUDIT_COLUMNS,
    ).astype({"cases": "Int64", "positives": "Int64"})


def without_excluded(features: pd.DataFrame, patterns: list[str], outcome: str) -> pd.DataFrame:
    """``features`` without the feature columns matching any of ``patterns``
    (names or shell-style patterns, ``exclude_features``). A pattern matching
    no feature stops the run (``InputError``): a misspelt name would leave in
    the feature it meant to leave out; so does one matching the baseline's
    feature, without which no answer could be compared with the baseline."""
    columns = [c for c in features.columns if c not in ("referral_id", "feature_time")]
    unmatched = [p for p in patterns if not fnmatch.filter(columns, p)]
    baseline = [p for p in patterns if fnmatch.fnmatch(BASELINE_FEATURE, p)]
    if baseline:
        raise InputError(
            f"outcomes.{outcome}.exclude_features: {', '.join(map(repr, baseline))} would "
            f"leave out {BASELINE_FEATURE!r}, which the baseline ranks cases by: every answer "
            "compares the models with it. Narrow the pattern."
        )
    if unmatched:
        raise InputError(
            f"outcomes.{outcome}.exclude_features: {', '.join(map(repr, unmatched))} "
            "match(es) no structured feature; the names are listed in the report's feature "
            "importance tables and in docs/contracts.md. Correct or remove the pattern."
        )
    excluded = sorted({c for p in patterns for c in fnmatch.filter(columns, p)})
    if excluded:
        logger.info("left out by exclude_features: %s", ", ".join(excluded))
    return features.drop(columns=excluded)


def main(snakemake) -> None:
    """Build the structured features of the rule's outcome and check their times."""
    cohort = read_parquet(snakemake.input.cohort, "cohort")
    tables = coded_tables(
        read_canonical_tables(snakemake.input), load_code_lists(snakemake.input.code_lists)
    )
    structured = structured_features(
        cohort,
        tables,
        snakemake.params.current_referral,
        snakemake.params.outcome_type,
        snakemake.params.prediction_offset_days,
    )
    structured = without_excluded(
        structured, snakemake.params.exclude_features, snakemake.wildcards.outcome
    )
    audit = time_audit(
        cohort, {"structured features": structured.set_index("referral_id")["feature_time"]}
    )
    columns = [c for c in structured.columns if c not in ("referral_id", "feature_time")]
    write_parquet(structured, snakemake.output.structured, feature_schema(columns))
    write_parquet(audit, snakemake.output.audit, "leakage_audit")
    logger.info("%d rows, %d structured features", len(cohort), len(columns))


if __name__ == "__main__":
    from common import run

    run(lambda: main(snakemake), snakemake.log[0])  # noqa: F821
