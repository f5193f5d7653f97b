"""Labels, plain answers and disclosure rules shared by the HTML report
(``render_report``), the model cards (``write_model_card``) and the CSV copies
of the summaries (``summarise_results``, ``summarise_las``).

All are meant to be shared beyond the LA's analysts, so all apply one
disclosure count, ``disclosure.min_count`` (``Disclosure``): no count from
1 to ``min_count - 1`` is shown (``shown_count``), nor any rate or verdict whose
numerator or denominator is such a count or is 0 (``rate_is_disclosive``). A
group of children smaller than it, or with fewer cases with (or without) the
outcome, has its counts and rates suppressed, and so has the next smallest
group of its attribute where only one would be hidden, or where the hidden ones
would together hold 1 to ``min_count - 1`` such cases (their figures could
otherwise be worked out from the totals; ``suppressed_groups``,
``hide_complements``); a group's error rates go with its cells at the decision
threshold (``hidden_rates``). The Parquet files keep every figure.

Their rules list this module as an input (``imported_scripts`` in common.smk), so
editing it reruns them.
"""

import math
from dataclasses import dataclass
from typing import NamedTuple

import numpy as np
import pandas as pd
from scipy.stats import t as student_t

from audit_features import OUTCOME_FREE_CHECK, PRECISION_CHECK
from common import DECIDING_TIMING, OUTER_FOLD

FAIRNESS_RATES = {
    "false_positive_rate": "FPR",
    "false_negative_rate": "FNR",
    "false_discovery_rate": "FDR",
    "false_omission_rate": "FOR",
    "flagged_share": "flagged",
}
TIME_ORDERED_DESIGNS = {
    "time_structured": "with structured data only",
    "time_text": "with structured data and text",
}
OPTIMISTIC = "optimistic: may learn from the future"
DESIGN_LABELS = {
    "random_structured": "Random split, structured data only",
    "random_text": "Random split, structured data and text",
    "time_structured": "Time-ordered split, structured data only",
    "time_text": "Time-ordered split, structured data and text",
}
POINT_LABELS = {
    "referral": "referral date",
    "assessment_authorisation": "first authorisation of an assessment of the referral",
}
MODEL_LABELS = {
    "lightgbm": "LightGBM (gradient boosting)",
    "logistic_regression": "Logistic regression",
    "decision_tree": "Decision tree",
    "previous_referrals": "Baseline: number of previous referrals",
    "best_single_feature": "Baseline: best single feature on the training rows",
}


TEXT_SWITCHED_OFF = (
    "Case-note text was switched off in the config (designs.text: false), so the two designs "
    "with text were not run (they did not fail) and the answer rests on structured data only."
)


def study_designs(feature_sets: list[str]) -> list[str]:
    """The designs a run of these feature sets (common.smk's FEATURE_SETS) makes,
    in the order of ``DESIGN_LABELS``."""
    return [design for design in DESIGN_LABELS if design.split("_")[1] in feature_sets]


def answer_design(feature_sets: list[str]) -> str:
    """The pre-specified design whose verdict alone answers each outcome, fixed
    by the config before the run: time-ordered with text, or time-ordered with
    structured data only when the config runs no text design (designs.text:
    false, for an LA without usable case notes)."""
    return f"{DECIDING_TIMING}_{'text' if 'text' in feature_sets else 'structured'}"


def is_time_ordered(designs: pd.Series) -> pd.Series:
    """Whether each design holds out the latest cases (the honest estimate of
    use on future cases) rather than a random share (optimistic)."""
    return designs.isin(list(TIME_ORDERED_DESIGNS))


# What the verdict's interval covers and what the CV-to-test gap says, for the
# report's and the model card's notes beside their results tables.
INTERVAL_NOTE = (
    "The interval shows how much the AP depends on which cases fell in the test set; it "
    "holds the fitted model fixed, and does not cover changes in practice or recording "
    "after the extract, nor the run's own random draws (the config's seed), which on an LA "
    "of a few thousand referrals can move a design with text by a tenth: before "
    "reporting an answer near the bar, rerun it with two or three other seeds "
    "(bench/seed_spread.py) and report them all."
)
GAP_NOTE = (
    "The CV-to-test gap is the cross-validated lower bound minus the test AP: positive when "
    "the model did worse on the test cases than cross-validation promised (overfitting, or "
    "a change over time), negative when it did better, as when the test period's base rate "
    "is higher (AP rises with it) or by the luck of one test set."
)


def baseline_difference(lower: float, upper: float) -> str:
    """The 95% interval of a model's AP less the baseline's, as the tables show
    it ("-" without a baseline)."""
    return "-" if pd.isna(lower) else f"{lower:+.3f} to {upper:+.3f}"


# The one-feature rules a "yes" must beat: how the answer names each, its
# columns of the summary (the paired interval's prefix) and its test AP.
ONE_FEATURE_RULES = (
    ("ranking by previous referrals", "ap_minus_baseline", "baseline_average_precision"),
    (
        "ranking by the single feature best on the training rows",
        "ap_minus_best_feature",
        "best_feature_average_precision",
    ),
)


def random_average_precision(cases: int, positives: int) -> float:
    """The expected average precision of a random ranking (without ties) of
    ``cases`` test cases, ``positives`` of them with the outcome: above the base
    rate on a small test set, as AP counts each positive case in the precision
    at its own rank. Rank i holds a positive case with chance k/n, and the
    i - 1 ranks above it then hold (k - 1)(i - 1)/(n - 1) more on average, so
    E[AP] = (1/n) * sum over i of (1 + (k - 1)(i - 1)/(n - 1)) / i (n = 402,
    k = 23: 0.070 at a base rate of 0.057; checked against simulation in the
    tests)."""
    ranks = np.arange(1, cases + 1)
    above = (positives - 1) * (ranks - 1) / max(cases - 1, 1)
    return float(np.sum((1 + above) / ranks) / cases)


def honest_answer(
    rows: pd.DataFrame, success_threshold: float, answer: str, disclosure: "Disclosure"
) -> str:
    """The plain answer for one outcome (its rows of the summary), from the
    pre-specified design ``answer`` (``answer_design``) alone: yes when it
    meets the bar, no when it cannot, otherwise that we cannot tell. The other
    time-ordered design, if run, is reported beside it but does not decide:
    two chances at "yes" would raise the risk of a false one, up to double. A
    "yes" says so when the decisive model is not clearly better than a
    one-feature rule (``ONE_FEATURE_RULES``: the paired interval of its AP less
    the rule's reaches 0), and
    no answer is given when ranking at random would on average meet the bar
    (``random_average_precision``). The base rate, and that average, are not
    given when they would reveal a count below ``disclosure.min_count``
    (``shown_base_rate``)."""
    honest = rows.loc[is_time_ordered(rows["design"])]
    primary = honest.loc[honest["design"] == answer]
    if primary.empty:
        return (
            f"The time-ordered design {TIME_ORDERED_DESIGNS[answer]} was not run, so there is "
            "no pre-specified honest estimate of how a model would do on future cases; the "
            "random designs' results are optimistic."
        )
    openings = {
        "meets the bar": "Yes, on future cases",
        "does not meet the bar": "No, not on future cases",
    }
    first = primary.iloc[0]
    opening = openings.get(
        first["verdict"], "Cannot tell: not shown to reach the bar, so not to be relied on"
    )
    rules = [
        (rule, first[f"{prefix}_lower"], first[f"{prefix}_upper"], first[ap])
        for rule, prefix, ap in ONE_FEATURE_RULES
        if pd.notna(first[f"{prefix}_lower"])
    ]
    not_beaten = [rule for rule, lower, _, _ in rules if not lower > 0]
    if first["verdict"] == "meets the bar" and not_beaten:
        opening += f", but not clearly better than {' or '.join(not_beaten)}"
    cases = int(first["n_test"])
    random_ap = random_average_precision(cases, round(first["base_rate"] * cases))
    if random_ap >= success_threshold:
        opening = (
            "Cannot tell: ranking at random would on average score an AP at or above the "
            "bar on these test cases, so the bar (evaluation.success_threshold) must be set "
            "above it"
        )
    results = "; ".join(
        f"{TIME_ORDERED_DESIGNS[row.design]}"
        f"{' (the pre-specified design, which decides)' if row.design == answer else ''}"
        f", {row.average_precision:.3f} "
        f"(95% interval {row.ap_ci_lower:.3f} to {row.ap_ci_upper:.3f}): {row.verdict}"
        for row in honest.sort_values("design", key=lambda d: d == answer).itertuples(index=False)
    )
    # Both time-ordered designs test on the same cases: one baseline, one base rate.
    base_rate = shown_base_rate(first["base_rate"], first["n_test"], disclosure)
    against_baseline = "".join(
        f" {rule[0].upper()}{rule[1:]} scored {ap:.3f} (the decisive model less it: 95% "
        f"interval {lower:+.3f} to {upper:+.3f}, so "
        + (
            "clearly better"
            if lower > 0
            else "clearly worse"
            if upper < 0
            else "not clearly better"
        )
        + ")."
        for rule, lower, upper, ap in rules
    )
    return (
        f"{opening}. Tested on the latest cases, held out as future cases would be "
        f"(time-ordered designs), the selected models' average precision against the bar of "
        f"{success_threshold:g} was: {results}.{against_baseline} Ranking at random "
        "scores about the base "
        + (
            f"rate, {base_rate:.3f} (on average {random_ap:.3f} on these {cases} test cases: "
            "a little more on a small test set)."
            if base_rate != SUPPRESSED
            else f"rate (not shown: fewer than {disclosure.min_count} test cases had, or "
            "had not, the outcome), a little more on a small test set."
        )
    )


def disparity_summary(groups: pd.DataFrame) -> str:
    """How the comparisons of each group's rates (``FAIRNESS_RATES``) with its
    reference group came out, counted, in one sentence: "no rate outside the
    band" means little when most comparisons could not be told."""
    judgements = pd.Series(
        groups[[f"{metric}_disparity" for metric in FAIRNESS_RATES]].to_numpy().ravel()
    )
    judgements = judgements.loc[judgements.notna() & (judgements != "reference")]
    hidden = int((judgements == SUPPRESSED).sum())
    judgements = judgements.loc[judgements != SUPPRESSED]
    counts = judgements.value_counts()
    outside, within = int(counts.get("outside band", 0)), int(counts.get("within band", 0))
    unsure, undefined = int(counts.get("cannot tell", 0)), int(counts.get("undefined", 0))
    total = len(judgements)
    hidden_note = ""
    if hidden:
        verb, whose = ("is", "its") if hidden == 1 else ("are", "their")
        hidden_note = f" {hidden} more {verb} hidden, as {whose} figures could identify a child."
    if total == 0 and hidden:
        return (
            f"All {hidden} comparison{'' if hidden == 1 else 's'} of a group's rate with its "
            "reference group's are hidden, as their figures could identify a child: at "
            "this test set's size the fairness of the model cannot be shown."
        )
    if total == 0:
        return "No group could be compared with a reference group."
    known = {"outside band", "within band", "cannot tell", "undefined"}
    others = "".join(
        f", {label} {int(count)}" for label, count in counts.items() if label not in known
    )
    sentence = (
        f"Of {total} comparison{'' if total == 1 else 's'} of a group's rate with its "
        "reference group's shown: clearly "
        f"outside the band {outside}, clearly inside it {within}, cannot be told (the "
        f"interval spans the band's edge, or too few children or families to judge) "
        f"{unsure}{others}, undefined (a rate with no cases "
        f"to count) {undefined}."
    )
    if outside == 0 and unsure > 0:
        sentence += (
            " No rate lies clearly outside the band, but the comparisons that cannot be "
            "told are not evidence of fairness."
        )
    return sentence + hidden_note


@dataclass(frozen=True)
class Disclosure:
    """What the shared documents may show: no count from 1 to ``min_count - 1``,
    and no rate counted from one, as such counts could identify a child."""

    min_count: int

    def is_small(self, count):
        """Whether ``count`` (a number, or an array of them) may not be shown
        (1 to ``min_count - 1``)."""
        return (count > 0) & (count < self.min_count)

    def note(self) -> str:
        """What the shared documents hide and why, in plain English."""
        return (
            f"Being meant to be shared, the report and model cards show no count from 1 to "
            f"{self.min_count - 1} (shown as &lt;{self.min_count}), no rate whose numerator "
            f"or denominator is such a count or 0, and no count or rate of a group of "
            f"children with fewer than {self.min_count} cases, or fewer than "
            f"{self.min_count} with (or without) the outcome, nor any group's error rates "
            "when its flagged or unflagged cases with or without the outcome number "
            f"1 to {self.min_count - 1}; where that hides one group of an attribute, or "
            f"hidden groups that together hold 1 to {self.min_count - 1} of such cases, "
            "the next smallest is hidden too, so that the hidden figures cannot be worked "
            "out from the totals. Such figures could identify a child. "
            "Dates are given to the month, and feature effects stop at each feature's "
            "5th and 95th percentiles, as exact extremes single out one case. The full "
            "figures stay in the Parquet files under results/ on this machine; an analyst's "
            f"private run may change the count with <code>disclosure.min_count</code> "
            f"(now {self.min_count})."
        )


SUPPRESSED = "suppressed"


def selection_caution(
    diagnostics: pd.DataFrame,
    min_positives: int,
    disclosure: Disclosure,
    split: str = "this split",
    brief: bool = False,
) -> str:
    """Why a choice made by cross-validation is largely chance when an inner
    fit or validation set of one ``split`` (its ``diagnostics``) holds fewer
    than ``min_positives`` cases with the outcome ("" when none does);
    ``brief``: that it is chance, only. The bound is never below the disclosure count,
    and the sets are not named: the fold table hides the inner counts alike
    when any is small, and naming the small ones would give them back."""
    bound = max(min_positives, disclosure.min_count)
    inner = diagnostics["fold"] != OUTER_FOLD
    if not (diagnostics.loc[inner, "positives"] < bound).any():
        return ""
    held = (
        "Model selection rests on few cases with the outcome: some inner fit or validation "
        f"sets of {split} hold fewer than {bound} "
        "(evaluation.min_inner_positives)"
    )
    if brief:
        return f"{held}, so which model was selected is largely chance (see its fold table)."
    return (
        f"{held}. On so few, which model and settings score best in cross-validation is "
        "largely chance: the selected model may not be the best of those tried, and another "
        "seed may select another. Choosing another model by its test AP instead would make "
        "the test cases a second validation set, and its AP would flatter it."
    )


def shown_count(count: int, disclosure: Disclosure) -> int | str:
    """A count as the shared documents may show it: "<min_count" for 1 to
    ``min_count - 1``, else in full."""
    return f"<{disclosure.min_count}" if disclosure.is_small(count) else int(count)


def shown_pair(count: int, total: int, disclosure: Disclosure) -> int | str:
    """``count`` of ``total`` rows as the shared documents may show them: the count
    hidden when small, and also when the rest (``total - count``) is, as it
    could be worked out from the total shown elsewhere."""
    if disclosure.is_small(total - count) and not disclosure.is_small(count):
        return SUPPRESSED
    return shown_count(count, disclosure)


def rate_is_disclosive(numerator, denominator, disclosure: Disclosure):
    """Whether a rate counted as ``numerator`` of ``denominator`` cases (or its
    complement, ``denominator - numerator`` of them) would reveal a count from 1
    to ``min_count - 1``, or has fewer than ``min_count`` cases to count (an
    undefined rate reveals a count of 0). Numbers, or arrays of them."""
    return (
        (denominator < disclosure.min_count)
        | disclosure.is_small(numerator)
        | disclosure.is_small(denominator - numerator)
    )


def pair_reveals_small_count(
    group_cases: int,
    group_positives: int,
    free_size: int,
    outside_cases: int,
    outside_positives: int,
    disclosure: Disclosure,
) -> bool:
    """Whether one feature's shown extreme group (``group_cases``,
    ``group_positives``) and outcome-free group (``free_size`` cases, the
    ``outside_*`` counts outside it) give a count below ``min_count`` by
    subtraction: the cases between them when they lie at opposite ends (or
    in both, when they overlap), or those of one not in the other when one
    holds the other (which end each is need not be known: every reading is
    checked)."""
    between = outside_cases - group_cases
    between_positives = outside_positives - group_positives
    apart = abs(group_cases - free_size)
    # negative "between": the groups overlap (an outcome-free group of all the
    # others reaches into the extreme group), by -between cases without it
    counts = [abs(between), between_positives, between - between_positives, apart]
    if group_cases > free_size:
        counts.append(apart - group_positives)
    return any(disclosure.is_small(count) for count in counts)


def audit_share_hidden(audit: pd.DataFrame, disclosure: Disclosure) -> list[bool]:
    """Whether each row of a leakage audit must hide its value and finding: an
    extreme group's share of cases with the outcome (the rows that record the
    group's ``cases`` and ``positives``), or an outcome-free group whose size,
    or the cases outside it (its row's ``cases`` and ``positives``), would
    reveal a count below ``min_count``; and an outcome-free group whose
    feature's extreme group is shown too, when the two would give one by
    subtraction (``pair_reveals_small_count``). A flag itself still shows:
    the analyst must see it."""
    hidden = [
        not pd.isna(cases)
        and bool(
            rate_is_disclosive(positives, cases, disclosure)
            | (check == OUTCOME_FREE_CHECK) & disclosure.is_small(value)
        )
        for check, value, positives, cases in zip(
            audit["check"], audit["value"], audit["positives"], audit["cases"], strict=True
        )
    ]
    rows = audit.assign(hidden=hidden).reset_index(drop=True)
    groups = rows.loc[(rows["check"] == PRECISION_CHECK) & ~rows["hidden"]]
    for position, free in rows.loc[
        (rows["check"] == OUTCOME_FREE_CHECK) & ~rows["hidden"] & rows["cases"].notna()
    ].iterrows():
        for group in groups.loc[groups["subject"] == free["subject"]].itertuples():
            if pair_reveals_small_count(
                int(group.cases),
                int(group.positives),
                int(free["value"]),
                int(free["cases"]),
                int(free["positives"]),
                disclosure,
            ):
                hidden[position] = True
    return hidden


def shown_figure(check: str, figure: float) -> float | int:
    """A finding's value or threshold as the report and model card show it:
    the outcome-free group's are numbers of cases."""
    return int(figure) if check == OUTCOME_FREE_CHECK and math.isfinite(figure) else figure


def shown_rate(numerator: int, denominator: int, disclosure: Disclosure) -> float | str:
    """``numerator / denominator`` as the shared documents may show it:
    suppressed when either count, or their difference, is below
    ``disclosure.min_count``."""
    if rate_is_disclosive(numerator, denominator, disclosure):
        return SUPPRESSED
    return numerator / denominator


def shown_base_rate(base_rate: float, cases: int, disclosure: Disclosure) -> float | str:
    """The base rate of a test set of ``cases`` (the summary's ``base_rate``
    and ``n_test``) as the shared documents may show it (``shown_rate``)."""
    return shown_rate(round(base_rate * cases), int(cases), disclosure)


def flagging_hidden(
    found: np.ndarray,
    flagged: np.ndarray,
    positives: np.ndarray,
    cases: np.ndarray,
    disclosure: Disclosure,
) -> pd.Series:
    """Whether each flagging rule's precision and recall (and what derives from
    them) must be suppressed: with the test cases and those with the outcome
    (shown elsewhere) they reveal its flagged and unflagged cases, each with
    and without the outcome, so all go when any of these numbers 1 to
    ``disclosure.min_count - 1``."""
    return pd.Series(
        [
            rate_is_disclosive(f, n, disclosure)
            or rate_is_disclosive(f, p, disclosure)
            # flagging every case leaves no unflagged one to reveal
            or (total > n and rate_is_disclosive(p - f, total - n, disclosure))
            for f, n, p, total in zip(found, flagged, positives, cases, strict=True)
        ]
    )


def decision_rule_hidden(rows: pd.DataFrame, disclosure: Disclosure) -> pd.Series:
    """Whether each model's precision and recall at the decision threshold
    (rows of the ``metrics`` or ``summary`` table) must be suppressed
    (``flagging_hidden``), its counts recovered from them, the base rate and
    the test cases. A baseline has none (its score is no probability), so
    nothing to hide: its cells show as missing."""
    positives = (rows["base_rate"] * rows["n_test"]).round().to_numpy()
    found = np.nan_to_num(rows["recall"].to_numpy() * positives).round()
    flagged = np.divide(
        found, rows["precision"].to_numpy(), out=np.zeros(len(rows)), where=found > 0
    ).round()
    hidden = flagging_hidden(found, flagged, positives, rows["n_test"].to_numpy(), disclosure)
    return hidden.set_axis(rows.index) & rows["recall"].notna()


def shareable_summary(summary: pd.DataFrame, disclosure: Disclosure) -> pd.DataFrame:
    """The summary (or the cross-LA summary) as its CSV copy shows it: Snakemake's
    report shows that copy and the cross-LA one goes beyond the LA, so the
    test cases, base rate, precision and recall are shown as the report shows
    them (``shown_count``, ``shown_base_rate``, ``decision_rule_hidden``),
    figures to four decimals, and an ``estimate`` column marks the random
    designs' rows optimistic, as the report does. The Parquet files keep every
    figure."""
    hidden = decision_rule_hidden(summary, disclosure)
    shared = summary.copy()
    for column in ("precision", "recall"):
        shared[column] = [
            SUPPRESSED if hide else f"{value:.4f}"
            for value, hide in zip(summary[column], hidden, strict=True)
        ]
    base_rates = [
        shown_base_rate(rate, n, disclosure)
        for rate, n in zip(summary["base_rate"], summary["n_test"], strict=True)
    ]
    shared["base_rate"] = [rate if rate == SUPPRESSED else f"{rate:.4f}" for rate in base_rates]
    shared["n_test"] = [shown_count(n, disclosure) for n in summary["n_test"]]
    # Read apart from the report, a random design's verdict must not pass for an answer.
    shared.insert(
        shared.columns.get_loc("design") + 1,
        "estimate",
        np.where(is_time_ordered(summary["design"]), "honest: future cases", OPTIMISTIC),
    )
    return shared


def hide_complements(
    hidden: np.ndarray, counts: np.ndarray, order: list[int], disclosure: Disclosure
) -> np.ndarray:
    """Which parts of a total shown elsewhere must be hidden, from ``hidden``
    (one flag per part): more are hidden, in ``order`` (indices, the first
    hidden first), while exactly one is hidden or the hidden parts' sum of any
    column of ``counts`` (one row per part: its cases, positives, ...) is 1 to
    ``min_count - 1``, as the total less the shown parts would reveal it."""
    hidden = np.asarray(hidden, dtype=bool).copy()
    counts = np.asarray(counts).reshape(len(hidden), -1)
    for i in order:
        summed = counts[hidden].sum(axis=0)
        if hidden.sum() != 1 and not disclosure.is_small(summed).any():
            break
        hidden[i] = True
    return hidden


def by_attribute(
    groups: pd.DataFrame, hidden: pd.Series, counts: pd.DataFrame, disclosure: Disclosure
) -> pd.Series:
    """``hide_complements`` within each attribute of a fairness table, whose
    groups add up to the test set: the smallest shown groups are hidden first."""
    hidden = hidden.copy()
    for _, rows in groups.groupby("attribute", sort=False):
        order = rows.sort_values(["n", "group"], kind="stable").index
        shown_order = [order.get_loc(i) for i in order if not hidden.loc[i]]
        hidden.loc[order] = hide_complements(
            hidden.loc[order].to_numpy(), counts.loc[order].to_numpy(), shown_order, disclosure
        )
    return hidden


def suppressed_groups(groups: pd.DataFrame, disclosure: Disclosure) -> pd.Series:
    """Which groups (rows of one model's fairness table) the shared documents
    must not show counts or rates of: those with fewer than ``min_count`` cases,
    or with fewer cases with or without the outcome, and then, within each
    attribute, the smallest others until neither one hidden group nor the
    hidden groups together (their cases, with and without the outcome) can be
    worked out from the totals shown elsewhere (``hide_complements``)."""
    negatives = groups["n"] - groups["n_positive"]
    hidden = (
        (groups["n"] < disclosure.min_count)
        | (groups["n_positive"] < disclosure.min_count)
        | (negatives < disclosure.min_count)
    )
    counts = pd.DataFrame(
        {"n": groups["n"], "positives": groups["n_positive"], "negatives": negatives}
    )
    return by_attribute(groups, hidden, counts, disclosure).astype(bool)


def error_cells(group) -> tuple[float, float, float, float]:
    """One group's (a row of the fairness table) cases at the decision
    threshold: flagged with and without the outcome, unflagged with and
    without, recovered from its cases, positives, flagged cases and false
    negative rate."""
    missed = 0.0 if group.n_positive == 0 else round(group.false_negative_rate * group.n_positive)
    found = group.n_positive - missed
    false_alarms = group.n_flagged - found
    unflagged_negatives = group.n - group.n_flagged - missed
    return found, false_alarms, missed, unflagged_negatives


def error_counts(group) -> dict[str, tuple[float, float]]:
    """Each fairness rate of one group (a row of the fairness table) as the
    (numerator, denominator) it was counted from (``error_cells``)."""
    found, false_alarms, missed, unflagged_negatives = error_cells(group)
    return {
        "false_positive_rate": (false_alarms, false_alarms + unflagged_negatives),
        "false_negative_rate": (missed, group.n_positive),
        "false_discovery_rate": (false_alarms, group.n_flagged),
        "false_omission_rate": (missed, group.n - group.n_flagged),
        "flagged_share": (group.n_flagged, group.n),
    }


def hidden_rates(groups: pd.DataFrame, disclosure: Disclosure) -> pd.DataFrame:
    """Which of each group's fairness rates (columns named as in
    ``FAIRNESS_RATES``) the shared documents must not show, with their
    ratios and verdicts. Beside a group's cases and base rate, any one of its
    rates gives its four ``error_cells``, so all its rates go when any cell
    is 1 to ``min_count - 1``, when the group is suppressed, or, within its
    attribute, when the hidden groups' cells could be worked out from the test
    set's (``by_attribute``); and any rate counted from a count below
    ``min_count`` (an "undefined" verdict reveals a count of 0)."""
    cells = pd.DataFrame(
        [error_cells(group) for group in groups.itertuples(index=False)], index=groups.index
    )
    cells_hidden = suppressed_groups(groups, disclosure) | pd.Series(
        disclosure.is_small(cells.to_numpy()).any(axis=1), index=groups.index
    )
    cells_hidden = by_attribute(groups, cells_hidden, cells, disclosure)
    rows = [
        {
            metric: hide or rate_is_disclosive(numerator, denominator, disclosure)
            for metric, (numerator, denominator) in error_counts(group).items()
        }
        for group, hide in zip(groups.itertuples(index=False), cells_hidden, strict=True)
    ]
    return pd.DataFrame(rows, index=groups.index, columns=list(FAIRNESS_RATES), dtype=bool)


def hidden_comparisons(groups: pd.DataFrame, disclosure: Disclosure) -> pd.DataFrame:
    """Which of each group's comparisons with its reference group (its
    ``FAIRNESS_RATES`` verdicts and ratios) the shared documents must not
    show: those of a hidden rate (``hidden_rates``), and all of an attribute's
    for a rate hidden in its reference group, as a ratio (or its interval)
    beside the group's shown rate would give the reference's back."""
    hidden = hidden_rates(groups, disclosure)
    reference_hidden = (
        hidden.where(groups["is_reference"].astype(bool), False)
        .groupby(groups["attribute"], sort=False)
        .transform("any")
    )
    return hidden | reference_hidden


def shown_cases(groups: pd.DataFrame, hidden: pd.Series, disclosure: Disclosure) -> list:
    """Each group's number of cases as the shared documents may show it."""
    return [
        f"<{disclosure.min_count}" if n < disclosure.min_count else (SUPPRESSED if hide else int(n))
        for n, hide in zip(groups["n"], hidden, strict=True)
    ]


def shown_values(values: pd.Series, hidden: pd.Series) -> list:
    """``values`` with the suppressed groups' values replaced by a word."""
    return [SUPPRESSED if hide else value for value, hide in zip(values, hidden, strict=True)]


def shown_disparities(groups: pd.DataFrame, disclosure: Disclosure) -> pd.DataFrame:
    """``groups`` with the disparity verdicts the shared documents may not show
    (``hidden_comparisons``) marked suppressed, for counting them apart
    (``disparity_summary``)."""
    masked = groups.copy()
    for metric, hide in hidden_comparisons(groups, disclosure).items():
        column = f"{metric}_disparity"
        masked[column] = masked[column].astype(object).where(~hide, SUPPRESSED)
    return masked


ONGOING_EVENTS = {
    "cp_plan": "a child protection plan",
    "care_episode": "a period in care",
}
EVENTS_SINCE_REFERRAL = {
    "referral": "another referral",
    "nfa_closure": "a closure with no further action",
    "assessment": "an assessment",
    "section47": "a section 47 enquiry",
    "initial_conference": "an initial child protection conference",
}


def already_escalated_events(outcome: dict) -> list[str]:
    """The events that leave a referral out of the outcome's cohort as already
    escalated at its prediction point, as build_cohort applies them:
    escalation events, or a custom rule's all_of and any_of events, unless
    exclude_already_escalated is off; none for re-referral outcomes."""
    if not outcome.get("exclude_already_escalated", True):
        return []
    if outcome["type"] == "escalation":
        return outcome.get("events", list(ONGOING_EVENTS))
    if outcome["type"] == "custom":
        rule = outcome.get("rule") or {}
        return [*rule.get("all_of", []), *rule.get("any_of", [])]
    return []


def ongoing_exclusions(outcome: dict) -> list[str]:
    """The outcome's events with a duration (plans, care) that leave a referral
    out when one is ongoing at its prediction point."""
    events = already_escalated_events(outcome)
    return [label for event, label in ONGOING_EVENTS.items() if event in events]


def since_referral_exclusions(outcome: dict) -> list[str]:
    """The outcome's events without a duration that leave a referral out when
    one is dated from its referral date up to its prediction point."""
    events = already_escalated_events(outcome)
    return [label for event, label in EVENTS_SINCE_REFERRAL.items() if event in events]


def text_window_wording(outcome: dict) -> str:
    """Which notes make the outcome's text features, in plain English, from its
    config (``build_text_features.notes_end``)."""
    wording = f"text from the {outcome['text_window_days']} days before it"
    if outcome["type"] == "nfa_rereferral":
        wording += (
            ", but no later than the day the point is counted from (and none of that day "
            "when any referral was closed on it: see the leakage audit) and never from the "
            "referral's closure date on (its closure is half of the outcome)"
        )
    return wording


def cohort_rules(outcome: dict, max_age_years: float) -> str:
    """Which referrals make the outcome's cohort, in plain English, from its config."""
    left_out = ["those whose outcome cannot yet be known (the horizon passes the end of the data)"]
    if outcome.get("prediction_point", "referral") == "assessment_authorisation":
        left_out.append("those with no authorised assessment, which have no prediction point")
    if outcome.get("only_open_cases", False):
        left_out.append("those closed before the prediction point")
    if outcome["type"] == "nfa_rereferral":
        left_out.append(
            "those closed with no further action and referred again by the prediction "
            "point (their outcome is already known)"
        )
    ongoing = ongoing_exclusions(outcome)
    if ongoing:
        left_out.append(
            f"those of children with {' or '.join(ongoing)} ongoing at the prediction point"
        )
    since_referral = since_referral_exclusions(outcome)
    if since_referral:
        left_out.append(
            f"those of children with {' or '.join(since_referral)} from the referral date "
            "up to the prediction point (already escalated)"
        )
    return (
        f"Referrals of children under {max_age_years:g} at referral (or of unknown age); "
        f"left out: {'; '.join(left_out)}."
    )


# --- would more data help? ------------------------------------------------------

# A curve whose gain in test AP per doubling of the training rows is, within its
# noise, below this (and whose noise is smaller than this, so that such a gain
# would show) has "levelled off": doubling an LA's records is rarely possible,
# and a smaller gain would not change what the model can do.
LEVELLED_OFF_GAIN = 0.02
SLOPE_MIN_FRACTION = 0.25


class MoreDataAnswer(NamedTuple):
    """The answer to "would more data help?", with the gain in test AP per
    doubling of the training rows and the half-width of its 95% interval."""

    answer: str
    gain: float
    noise: float


def gain_per_doubling(n_train: np.ndarray, test_ap: np.ndarray) -> tuple[float, float]:
    """Return the least-squares slope of ``test_ap`` on log2(``n_train``) and
    the half-width of its 95% interval (Student's t on the residuals, which hold
    both the spread across repeats and the curve's departure from a line); the
    half-width is NaN with fewer than three points."""
    x = np.log2(np.asarray(n_train, dtype=float))
    y = np.asarray(test_ap, dtype=float)
    slope, intercept = np.polyfit(x, y, 1)
    freedom = len(x) - 2
    if freedom < 1:
        return float(slope), np.nan
    residuals = y - (intercept + slope * x)
    standard_error = np.sqrt((residuals @ residuals) / freedom / ((x - x.mean()) ** 2).sum())
    return float(slope), float(student_t.ppf(0.975, freedom) * standard_error)


def more_data_answer(curve: pd.DataFrame) -> MoreDataAnswer:
    """Return a plain answer to "would more data help?" from the gain in test
    AP per doubling of the training rows (``gain_per_doubling``) over the fitted
    subsets of at least ``SLOPE_MIN_FRACTION`` of the training rows (smaller
    ones mostly show whether a model can be fitted at all), judged with its
    noise: still rising when its whole 95% interval is above 0 (slowly, "a
    little", when the interval also lies below ``LEVELLED_OFF_GAIN``); fell
    when it is below 0; levelled off when it lies within ``LEVELLED_OFF_GAIN``
    of 0 (so that a worthwhile gain would have shown); and otherwise we cannot
    tell."""
    fitted = curve.loc[
        (curve["fraction"] >= SLOPE_MIN_FRACTION) & curve["test_average_precision"].notna()
    ]
    if fitted["n_train"].nunique() < 2 or len(fitted) < 3:
        return MoreDataAnswer("cannot tell: too few fitted subsets", np.nan, np.nan)
    gain, noise = gain_per_doubling(
        fitted["n_train"].to_numpy(), fitted["test_average_precision"].to_numpy()
    )
    numbers = f"{gain:+.3f} test AP per doubling of the training cases, ± {noise:.3f}"
    if gain - noise > 0 and gain + noise < LEVELLED_OFF_GAIN:
        answer = f"a little: test AP was still rising, slowly ({numbers})"
    elif gain - noise > 0:
        answer = f"probably: test AP was still rising ({numbers})"
    elif gain + noise < 0:
        answer = f"probably not: test AP fell as training cases were added ({numbers})"
    elif gain - noise > -LEVELLED_OFF_GAIN and gain + noise < LEVELLED_OFF_GAIN:
        answer = f"probably not much: test AP had levelled off ({numbers})"
    else:
        answer = f"cannot tell: the change is within its noise ({numbers})"
    return MoreDataAnswer(answer, gain, noise)
