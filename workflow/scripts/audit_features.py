"""The leakage audit's single-feature checks of one outcome's feature set on
one split.

Scores every structured feature, every vulnerability flag or every topic share
(and TF-IDF weight) of the text designs alone against the label
(``single_feature_audit``): its ROC AUC alone (in its better direction,
missing values ranked lowest), and the share of cases with the outcome among
its cases at one extreme (a rare marker, which the AUC misses); and, the
mirror case, the cases at its highest or lowest value (or all the others)
when none has the outcome and chance alone would almost never leave so many
outcome-free (a field filled in only because the outcome did not happen). A
feature that reaches the configured ceiling probably records the outcome
rather than predicts it. The findings are written as a table for the report.
The checks score the split's outer training rows only (``training_rows``): scored on the
test rows, a finding would let the test labels steer what the analyst does
next (leave a feature out, rerun), and a feature is a leak the models can
learn only where they are trained. Topic shares are the outer topic model's,
fitted on those same rows.
A flagged feature is warned about or, with
``leakage_audit.stop_on_implausible_feature``, stops the run before any
model is trained on it (training then waits for this job). The checks are a
job of their own, apart from the features (their code too), so that changing a
threshold reruns this audit, the report and the model cards, never the
features, nor the models unless the audit stops the run (then training waits
for it, and retrains); one per feature set and split, so that switching the
text designs leaves the structured audit alone.
"""

import logging
import math
from typing import NamedTuple

import numpy as np
import pandas as pd
from sklearn.metrics import roc_auc_score

from common import AUDIT_COLUMNS, OUTER_FOLD, InputError, read_parquet, write_parquet

logger = logging.getLogger(__name__)

# Names of the leakage audit's single-feature checks (its table's "check" column).
AUC_CHECK = "single-feature ROC AUC"
PRECISION_CHECK = "single-feature extreme-group precision"
OUTCOME_FREE_CHECK = "single-feature outcome-free group"
# What to do about a flagged feature, in the audit table and the messages.
OUTCOME_RECORD_ADVICE = "check that it is not recorded because of the outcome"
NO_OUTCOME_RECORD_ADVICE = (
    "check that it is not recorded because the outcome did not happen, and that the outcome "
    "can happen to these cases at all"
)


def single_feature_auc(values: pd.Series, labels: pd.Series) -> float:
    """ROC AUC of one feature used alone as a score, in its better direction
    (``max(auc, 1 - auc)``); missing values rank lowest; 0.5 if constant."""
    filled = values.to_numpy(dtype="float64", na_value=np.nan)
    missing = np.isnan(filled)
    if missing.all() or labels.nunique() < 2:
        return 0.5
    filled = np.where(missing, np.nanmin(filled) - 1.0, filled)
    if len(np.unique(filled)) < 2:
        return 0.5
    auc = float(roc_auc_score(labels.to_numpy(), filled))
    return max(auc, 1.0 - auc)


class ExtremeGroup(NamedTuple):
    """The cases at one extreme of a feature and how many have the outcome."""

    share: float
    cases: int
    positives: int
    direction: str
    cut: float
    # Cases of the group whose value is missing (they rank lowest).
    missing: int


def extreme_group_precision(values: pd.Series, labels: pd.Series, min_cases: int) -> ExtremeGroup:
    """The share of cases with the outcome (``labels`` 1) among the cases at
    the feature's more telling extreme.

    The group at the high extreme is every case whose value is at least the
    ``min_cases``-th highest value: the smallest group of highest values, ties
    included, that holds ``min_cases`` cases or more (for a 0/1 flag set on at
    least ``min_cases`` cases, the cases with the flag set; on fewer, every
    case). The low extreme is built the same way from the lowest values.
    Missing values rank lowest, as in ``single_feature_auc``, so a marker
    recorded as a missing value is seen too. Returns the extreme whose share is
    higher (the high one on a tie), with its size, positives, direction
    (``"highest"`` or ``"lowest"``) and cut (its least extreme value; ``-inf``
    for missing). With fewer than ``min_cases`` cases in all, both groups are
    every case and the share is the base rate.
    """
    filled = values.to_numpy(dtype="float64", na_value=np.nan)
    absent = np.isnan(filled)
    filled = np.where(absent, -np.inf, filled)
    positive = labels.to_numpy(dtype="float64")
    ordered = np.sort(filled)
    size = min(min_cases, len(ordered))
    groups = []
    for direction, cut in (("highest", ordered[-size]), ("lowest", ordered[size - 1])):
        members = filled >= cut if direction == "highest" else filled <= cut
        cases = int(members.sum())
        positives = int(positive[members].sum())
        missing = int((members & absent).sum())
        groups.append(
            ExtremeGroup(positives / cases, cases, positives, direction, float(cut), missing)
        )
    return max(groups, key=lambda group: group.share)


def describe_extreme_group(group: ExtremeGroup) -> str:
    """One sentence on an extreme group, for the audit table and messages.
    The cohort's base rate is left out: the report shows it beside its counts,
    and hides it when it would reveal a small count, which a rate repeated in
    this sentence would not."""
    if np.isneginf(group.cut) and group.direction == "highest":
        # Fewer values than the group's minimum: the group is every case.
        return (
            f"every case (too few values to judge): {group.positives} of the {group.cases} "
            "have the outcome"
        )
    if group.direction == "highest":
        which = f"with its highest values ({group.cut:g} or more)"
    elif np.isneginf(group.cut):
        which = "with it missing"
    else:
        missing = ", or missing" if group.missing else ""
        which = f"with its lowest values ({group.cut:g} or less{missing})"
    return f"{group.positives} of the {group.cases} cases {which} have the outcome"


def outcome_free_group(values: pd.Series, labels: pd.Series) -> ExtremeGroup:
    """The largest group of cases at one end of a feature with no case with
    the outcome (``labels`` 1), among four: the cases at its highest value,
    those at its lowest (missing values rank lowest, as in
    ``single_feature_auc``), and all the others of each.

    The groups are whole values, never the tail beyond the most extreme case
    with the outcome: a genuine continuous predictor always leaves such a tail
    outcome-free (the label plus noise, AUC 0.76, leaves 80 of 1,000 cases
    below its lowest positive), while a record made because the outcome did not
    happen is one value (a code, a flag), or its being filled in at all (all
    the cases above the lowest value, missing). Returns the largest (the first
    of highest value, above the lowest, lowest value, below the highest, on a
    tie) with its direction, cut (its least extreme value; ``-inf`` for
    missing, NaN when empty) and missing values; its share and positives are
    0, or with every group holding a case with the outcome an empty group.
    """
    filled = values.to_numpy(dtype="float64", na_value=np.nan)
    absent = np.isnan(filled)
    filled = np.where(absent, -np.inf, filled)
    outcome = labels.to_numpy() == 1
    found = [ExtremeGroup(0.0, 0, 0, "highest", np.nan, 0)]
    distinct = np.unique(filled)
    for direction, cut in (
        ("highest", distinct[-1]),
        ("highest", distinct[min(1, len(distinct) - 1)]),
        ("lowest", distinct[0]),
        ("lowest", distinct[max(-2, -len(distinct))]),
    ):
        members = filled >= cut if direction == "highest" else filled <= cut
        if not (members & outcome).any():
            found.append(
                ExtremeGroup(
                    0.0, int(members.sum()), 0, direction, float(cut), int((members & absent).sum())
                )
            )
    return max(found, key=lambda group: group.cases)


def describe_outcome_free_group(group: ExtremeGroup) -> str:
    """One sentence on an outcome-free group (``outcome_free_group``), for the
    audit table and messages."""
    if not group.cases:
        return "a case with the outcome has its highest value, and one its lowest"
    return describe_extreme_group(group)


def implausible_outcome_free_size(
    base_rate: float, max_chance: float, groups_checked: int, min_cases: int
) -> float:
    """The fewest cases, and at least ``min_cases``, that a group with no case
    with the outcome holds when chance alone would leave a group that large
    outcome-free with probability ``(1 - base_rate) ** size`` below
    ``max_chance / groups_checked`` (Bonferroni over every group checked).
    Infinite when no case has the outcome (every group is then outcome-free)."""
    if base_rate <= 0:
        return math.inf
    if base_rate >= 1:
        return float(min_cases)
    size = math.floor(math.log(max_chance / groups_checked) / math.log1p(-base_rate)) + 1
    return float(max(min_cases, size))


def leakage_audit(
    cohort: pd.DataFrame,
    feature_tables: dict[str, pd.DataFrame],
    max_single_feature_auc: float,
    max_single_feature_precision: float,
    min_cases_for_precision: int,
    max_outcome_free_chance: float,
) -> pd.DataFrame:
    """The audit's single-feature findings, one row per check and feature.

    ``single-feature ROC AUC``: per feature column, its AUC alone against the
    label, flagged at or above ``max_single_feature_auc``.
    ``single-feature extreme-group precision``: per feature column, the share
    of cases with the outcome among its at least ``min_cases_for_precision``
    cases at one extreme (``extreme_group_precision``), flagged at or above
    ``max_single_feature_precision`` when above the base rate (a group no more
    often positive than the whole cohort, such as every case of a constant
    feature, is never a finding). The threshold is an absolute share, not a
    multiple of the base rate: a genuine predictor seldom makes a group of
    that size nearly all positive, a record made because of the outcome does.
    ``single-feature outcome-free group``: per feature column, the size of its
    largest group at one end with no case with the outcome
    (``outcome_free_group``), flagged at or above the size that chance alone
    leaves outcome-free, at the base rate, with probability below
    ``max_outcome_free_chance`` shared out over the four groups of every
    column (and at least ``min_cases_for_precision``;
    ``implausible_outcome_free_size``). At a base rate of a few percent most
    cases are without the outcome, so only a group too large to be so by
    chance is a finding: a record made because the outcome did not happen.
    """
    rows = []
    labels = cohort.set_index("referral_id")["label"]
    base_rate = float(labels.mean())
    frames = [
        table.set_index("referral_id")
        .reindex(labels.index)
        .drop(columns="feature_time", errors="ignore")
        for table in feature_tables.values()
    ]
    outcome_free_size = implausible_outcome_free_size(
        base_rate,
        max_outcome_free_chance,
        4 * sum(frame.shape[1] for frame in frames),
        min_cases_for_precision,
    )
    for frame in frames:
        for column in frame.columns:
            auc = single_feature_auc(frame[column], labels)
            flagged = auc >= max_single_feature_auc
            rows.append(
                {
                    "check": AUC_CHECK,
                    "subject": str(column),
                    "value": auc,
                    "threshold": float(max_single_feature_auc),
                    "flagged": flagged,
                    "detail": (
                        f"predicts the label implausibly well on its own: {OUTCOME_RECORD_ADVICE}"
                        if flagged
                        else "plausible"
                    ),
                }
            )
            group = extreme_group_precision(frame[column], labels, min_cases_for_precision)
            flagged = group.share >= max_single_feature_precision and group.share > base_rate
            described = describe_extreme_group(group)
            rows.append(
                {
                    "check": PRECISION_CHECK,
                    "subject": str(column),
                    "value": group.share,
                    "threshold": float(max_single_feature_precision),
                    "flagged": flagged,
                    "detail": (f"{described}: {OUTCOME_RECORD_ADVICE}" if flagged else described),
                    "cases": group.cases,
                    "positives": group.positives,
                }
            )
            group = outcome_free_group(frame[column], labels)
            flagged = group.cases >= outcome_free_size
            described = describe_outcome_free_group(group)
            rows.append(
                {
                    "check": OUTCOME_FREE_CHECK,
                    "subject": str(column),
                    "value": float(group.cases),
                    "threshold": outcome_free_size,
                    "flagged": flagged,
                    "detail": f"{described}: {NO_OUTCOME_RECORD_ADVICE}" if flagged else described,
                    # the cases outside the group, which hold every case with the
                    # outcome: with the training rows and base rate the report
                    # shows, the group's size gives their count without it
                    "cases": len(labels) - group.cases,
                    "positives": int(labels.sum()),
                }
            )
    return pd.DataFrame(rows, columns=AUDIT_COLUMNS).astype(
        {"cases": "Int64", "positives": "Int64"}
    )


def implausible_feature_message(audit: pd.DataFrame, settings: dict) -> str:
    """Name every flagged feature, its value (and, for the extreme-group
    precision and the outcome-free group, which extreme, its cut and size) and
    what to do once it is checked; empty if none is flagged. The precision
    threshold cannot be raised past a share of 1, so the way past a checked
    feature is a larger group (``min_cases_for_precision``), or a warning
    instead of a stop; past an outcome-free group, a smaller chance
    (``max_outcome_free_chance``) or the warning."""
    go_on = (
        ", or set leakage_audit.stop_on_implausible_feature: false to go on with a warning"
        if settings["stop_on_implausible_feature"]
        else ""
    )
    lines = []
    found = audit.loc[audit["flagged"] & (audit["check"] == AUC_CHECK)]
    if len(found):
        named = ", ".join(
            f"{s} ({v:.3f})" for s, v in zip(found["subject"], found["value"], strict=True)
        )
        lines.append(
            f"leakage audit: feature(s) {named} reach a single-feature ROC AUC of "
            f"{settings['max_single_feature_auc']} or more on their own; "
            "check that they are not recorded because of the outcome. Once checked, raise "
            f"leakage_audit.max_single_feature_auc above their AUC (if below 1){go_on}."
        )
    found = audit.loc[audit["flagged"] & (audit["check"] == PRECISION_CHECK)]
    if len(found):
        named = "; ".join(
            f"{s} ({v:.3f}: {d.removesuffix(f': {OUTCOME_RECORD_ADVICE}')})"
            for s, v, d in zip(found["subject"], found["value"], found["detail"], strict=True)
        )
        lines.append(
            "leakage audit: feature(s) reach a share of cases with the outcome, among their "
            f"cases at one extreme, of {settings['max_single_feature_precision']} or more on "
            f"their own: {named}; check that they are not recorded because of the outcome. Once "
            "checked, raise leakage_audit.min_cases_for_precision above the group's size (a "
            f"larger group is less often nearly all positive by chance){go_on}."
        )
    found = audit.loc[audit["flagged"] & (audit["check"] == OUTCOME_FREE_CHECK)]
    if len(found):
        named = "; ".join(
            f"{s} ({d.removesuffix(f': {NO_OUTCOME_RECORD_ADVICE}')}; {t:g} or more is implausible)"
            for s, d, t in zip(found["subject"], found["detail"], found["threshold"], strict=True)
        )
        lines.append(
            "leakage audit: feature(s) have, at one end, a group of cases none of which has "
            "the outcome, too large to be outcome-free by chance at the base rate (with "
            "probability below leakage_audit.max_outcome_free_chance, "
            f"{settings['max_outcome_free_chance']}, shared out over the four groups of every "
            f"feature): {named}; check that they are not recorded because the outcome did not "
            "happen, and that the outcome can happen to these cases at all. Once checked, lower "
            "leakage_audit.max_outcome_free_chance (a smaller chance needs a larger group)"
            f"{go_on}."
        )
    return "\n".join(lines)


def single_feature_audit(
    cohort: pd.DataFrame, feature_tables: dict[str, pd.DataFrame], settings: dict
) -> pd.DataFrame:
    """The single-feature checks of ``feature_tables`` (``leakage_audit``)
    with the ``leakage_audit`` config ``settings``: a feature flagged as
    implausibly predictive is warned about, or with
    ``stop_on_implausible_feature`` stops the run (``InputError``)."""
    audit = leakage_audit(
        cohort,
        feature_tables,
        settings["max_single_feature_auc"],
        settings["max_single_feature_precision"],
        settings["min_cases_for_precision"],
        settings["max_outcome_free_chance"],
    )
    message = implausible_feature_message(audit, settings)
    if message:
        if settings["stop_on_implausible_feature"]:
            raise InputError(message)
        logger.warning(message)
    return audit


def training_rows(
    cohort: pd.DataFrame, features: pd.DataFrame, splits: pd.DataFrame, timing: str
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The cohort's outer training rows of a split and their features (for
    topic shares, the outer topic model's, ``fold == OUTER_FOLD``), each
    feature named with the split's ``timing``: the report shows every split's
    findings together, and a topic number means a different topic in each
    split."""
    train = set(
        splits.loc[(splits["fold"] == OUTER_FOLD) & (splits["role"] == "train"), "referral_id"]
    )
    if "fold" in features.columns:
        features = features.loc[features["fold"] == OUTER_FOLD].drop(columns="fold")
    features = features.loc[features["referral_id"].isin(train)]
    named = features.rename(
        columns={
            c: f"{c} ({timing} split)"
            for c in features.columns
            if c not in ("referral_id", "feature_time")
        }
    )
    return cohort.loc[cohort["referral_id"].isin(train)], named


def main(snakemake) -> None:
    """Audit the rule's features on its split's outer training rows with the
    ``leakage_audit`` settings."""
    cohort, features = training_rows(
        read_parquet(snakemake.input.cohort, "cohort"),
        pd.read_parquet(snakemake.input.features),
        read_parquet(snakemake.input.splits, "splits"),
        snakemake.wildcards.timing,
    )
    audit = single_feature_audit(cohort, {"features": features}, snakemake.params.leakage_audit)
    write_parquet(audit, snakemake.output.audit, "leakage_audit")


if __name__ == "__main__":
    from common import run

    run(lambda: main(snakemake), snakemake.log[0])  # noqa: F821
