"""Fairness by group of one outcome x design's models on the held-out test set.

Every fitted model is assessed (never the "previous_referrals" baseline, whose
scores are counts, not probabilities); ``selected`` marks the model the study's
rule chose (from the CV results, by ``evaluate_models.selected_model_name``),
which the report leads with.

Groups (attribute: groups, in report order), from the cohort (referral date)
and the children table:

- ``age_band``: age at referral in years from the middle of the birth month,
  as in the cohort stage (``common.age_in_years``): "under 1" (also unborn children,
  referred before birth), "1-4", "5-9", "10-15", "16+", "missing".
- ``sex``: "female" (F, 2, FEMALE), "male" (M, 1, MALE), "unknown" (any other
  code, e.g. U, which the ingest stage writes for a missing sex), "missing".
- ``disability``: "disabled", "not disabled", "missing".
- ``ethnicity``: high-level groups of the four-letter census codes: "White"
  (W*), "Mixed" (M*), "Asian" (A*), "Black" (B*), "Other" (CHNE, OOTH),
  "Refused/not obtained" (REFU, NOBT), "unrecognised" (any other value; logged),
  "missing". Ethnicity is never a model feature.

Groups with no test rows are left out; groups smaller than ``min_group_size``
are kept and marked ``small_group``: their disparities are never judged (see
below).

Per model x attribute x group, at the decision threshold (a row is flagged when
its score is at least the threshold): size, positives, rows flagged, base rate
(observed rate, with a Wilson 95% interval), mean score and calibration gap
(mean score - observed rate), average precision (AP), false positive rate
FP / (FP + TN), false negative rate FN / (TP + FN), false discovery rate
FP / (TP + FP) = 1 - precision, false omission rate FN / (FN + TN) and share
flagged (selection rate). A rate without a denominator (e.g. the false
negative rate or AP of a group without positives, the false discovery rate
when nobody is flagged) is missing, never 0.

Uncertainty: ``bootstrap_resamples`` resamples of each group's rows, drawn by
family (siblings are not independent cases), plain as in ``evaluate_models``:
not stratified, since holding a group's one or two families with a positive
case fixed in every resample made its intervals far too narrow (the base
rate's interval is the Wilson 95% interval), drawn with
``np.random.default_rng([seed, attribute number, group number])`` so that a
group's resamples do not depend on other groups or models; every model is
scored on the same resamples. A group's AP, rates and ratios have
bias-corrected percentile intervals about their observed values
(``evaluate_models.bias_corrected_interval``, as for the verdict): with few
positive cases AP is biased upwards and plain percentiles inherit the bias,
which for the verdict put their lower end above the true AP 5-8% of the time
instead of 2.5%. Rates and ratios of small groups are skewed too. In
``bench/fairness_interval_coverage.py`` (groups of 30-60 rows against
references of 200-400, 6-16% positive, families of 1-3 with correlated
outcomes, a fixed model flagging 6% or 25% of the reference; 2,000
replications of 200 resamples; docs/benchmarks.md), where no rate sits at 0
or 1, plain percentiles missed the true share flagged or false negative rate
of a small group, or its ratio to the reference's, up to 9.6% of the time
instead of 5%, mostly at one end, and bias-corrected ones on average half a
point less often (up to 9.2%), for 0-3% more width; with the fallbacks
below, the workflow's intervals missed 0.2-10.0% of the time. A reviewer's
second simulation found coverage of 91-99% depending on the rate, as this
one does (90-99.8%). Read these intervals as rough when a rate rests
on a few dozen families. The mean score's interval is the 2.5th and 97.5th
percentiles. All ignore resamples
where a metric is undefined. A rate observed at exactly 0
or 1 (e.g. nobody flagged in a small group) cannot vary between resamples, so
its interval is the Wilson 95% interval instead.

Disparity: each metric's ratio to the attribute's reference group (configured
per attribute in ``fairness_reference``; by default the largest group other
than "missing", ties going to the first in report order). Its interval is the
bias-corrected percentiles of the resampled ratios about the ratio (the
groups' resamples paired by number; they are independent; a resample where
the reference's rate is 0 gives an infinite ratio), or, when either rate sits
at 0 or 1, the ratio of the two intervals' ends (lower / reference upper,
upper / reference lower), which is conservative. ``<metric>_outside_band``
says whether the ratio itself lies outside ``disparity_band`` (default 0.8 to
1.25); ``<metric>_disparity`` judges
it with its interval: "within band" (interval inside the band), "outside band"
(interval entirely outside), "cannot tell" (otherwise), "reference" (the
reference group itself, ratio 1) or "undefined" (no ratio: 0 / 0 or a missing
metric). A ratio x / 0 with x > 0 is infinite. A bootstrap of a handful of
families cannot show its own uncertainty, so a ratio is also "cannot tell"
whenever the group is small, or when the rows its rate or the reference's is
counted over (positives for AP and the false negative rate, negatives for the
false positive rate, flagged rows for the false discovery rate, unflagged rows
for the false omission rate, all rows for the share flagged) come from fewer
than ``MIN_FAMILIES`` families. That is the honest answer, not a failure.

Caveats for the report: AP rises with a group's base rate, so an AP ratio mixes
ranking quality with prevalence (the 2020 study's "pinned" AP and its
Friedman / Nemenyi tests are not computed here); the bootstrap holds the
fitted models fixed, so intervals show test-set sampling uncertainty only.
"""

import logging
from collections.abc import Mapping, Sequence

import numpy as np
import pandas as pd

from common import (
    FAIRNESS_METRICS,
    SCHEMAS,
    InputError,
    age_in_years,
    families_by_referral,
    family_numbers,
    read_parquet,
    value_shape,
    write_parquet,
)
from evaluate_models import (
    BASELINES,
    bias_corrected_interval,
    bootstrap_counts,
    check_test_set,
    percentile_interval,
    resampled_average_precision,
    score_matrix,
    selected_model_name,
    wilson_interval,
)

logger = logging.getLogger(__name__)

MISSING = "missing"
AGE_BANDS = ("under 1", "1-4", "5-9", "10-15", "16+")
AGE_EDGES = (1.0, 5.0, 10.0, 16.0)
GROUP_ORDER: dict[str, tuple[str, ...]] = {
    "age_band": (*AGE_BANDS, MISSING),
    "sex": ("female", "male", "unknown", MISSING),
    "disability": ("disabled", "not disabled", MISSING),
    "ethnicity": (
        "White",
        "Mixed",
        "Asian",
        "Black",
        "Other",
        "Refused/not obtained",
        "unrecognised",
        MISSING,
    ),
}
ATTRIBUTES = tuple(GROUP_ORDER)
SEX_CODES = {
    "F": "female",
    "2": "female",
    "FEMALE": "female",
    "M": "male",
    "1": "male",
    "MALE": "male",
}
ETHNICITY_CODES = {
    "CHNE": "Other",
    "OOTH": "Other",
    "REFU": "Refused/not obtained",
    "NOBT": "Refused/not obtained",
}
ETHNICITY_PREFIXES = {"W": "White", "M": "Mixed", "A": "Asian", "B": "Black"}

BOOTSTRAP_RESAMPLES = 200
MIN_GROUP_SIZE = 30
MIN_FAMILIES = 5
DISPARITY_BAND = (0.8, 1.25)
RATE_METRICS = FAIRNESS_METRICS
WITHIN = "within band"
OUTSIDE = "outside band"
UNSURE = "cannot tell"
UNDEFINED = "undefined"
REFERENCE = "reference"

GROUPS_SCHEMA = SCHEMAS["fairness_groups"]


# --- groups -------------------------------------------------------------------


def age_band(age_years: pd.Series) -> pd.Series:
    """Return the age band of ages in years (under 1 includes negative ages,
    i.e. unborn children; missing ages give "missing")."""
    age = pd.to_numeric(age_years, errors="coerce").astype(float).to_numpy()
    bands = np.asarray(AGE_BANDS, dtype=object)[np.searchsorted(AGE_EDGES, age, side="right")]
    bands = np.where(np.isnan(age), MISSING, bands)
    return pd.Series(bands, index=age_years.index, dtype="str")


def sex_group(sex: pd.Series) -> pd.Series:
    """Return "female", "male", "unknown" (other codes) or "missing"."""
    text = sex.astype("string").str.strip().str.upper()
    out = text.map(SEX_CODES).fillna("unknown")
    return out.where(text.notna() & (text != ""), MISSING).astype("str")


def disability_group(disability: pd.Series) -> pd.Series:
    """Return "disabled", "not disabled" or "missing"."""
    flags = disability.astype("boolean")
    out = flags.map({True: "disabled", False: "not disabled"})
    return out.where(flags.notna(), MISSING).astype("str")


def ethnicity_group(codes: pd.Series) -> pd.Series:
    """Return the high-level ethnic group of census ethnicity codes: White
    (W*), Mixed (M*), Asian (A*), Black (B*), Other (CHNE, OOTH), Refused/not
    obtained (REFU, NOBT), "unrecognised" for any other value and "missing"."""
    text = codes.astype("string").str.strip().str.upper()
    text = text.where(text != "", pd.NA)
    four_letters = text.str.fullmatch(r"[A-Z]{4}").fillna(False).astype(bool)
    by_prefix = text.str[:1].map(ETHNICITY_PREFIXES).where(four_letters)
    out = text.map(ETHNICITY_CODES).fillna(by_prefix).fillna("unrecognised")
    out = out.where(text.notna(), MISSING)
    # An unrecognised value may be free text naming someone: the log gets its shape.
    unrecognised = sorted({value_shape(v) for v in text[out == "unrecognised"].dropna()})
    if unrecognised:
        logger.warning(
            "ethnicity values written as %s are not census codes; they form the group "
            "'unrecognised'",
            unrecognised,
        )
    return out.astype("str")


def attach_groups(
    referral_ids: Sequence[str], cohort: pd.DataFrame, children: pd.DataFrame
) -> pd.DataFrame:
    """Return the group of each referral in each attribute, indexed by referral id
    (in the given order)."""
    ids = pd.Index(referral_ids, name="referral_id")
    referrals = cohort.drop_duplicates("referral_id").set_index("referral_id")
    absent = ids.difference(referrals.index)
    if len(absent):
        raise ValueError(
            f"the predictions name {len(absent)} referrals not in the cohort (e.g. {absent[0]})."
        )
    rows = referrals.loc[ids, ["child_id", "referral_date"]].reset_index()
    if children["child_id"].duplicated().any():
        raise ValueError("children: child_id is repeated.")
    people = children[["child_id", "sex", "birth_month", "ethnicity", "disability"]]
    rows = rows.merge(people, on="child_id", how="left", indicator=True)
    unknown = int((rows["_merge"] == "left_only").sum())
    if unknown:
        logger.warning("%d test referrals have no child record: their groups are missing", unknown)
    birth = pd.to_datetime(rows["birth_month"])
    return pd.DataFrame(
        {
            "age_band": age_band(age_in_years(birth, pd.to_datetime(rows["referral_date"]))),
            "sex": sex_group(rows["sex"]),
            "disability": disability_group(rows["disability"]),
            "ethnicity": ethnicity_group(rows["ethnicity"]),
        }
    ).set_index(ids)


# --- metrics ------------------------------------------------------------------


def rate_counts(
    true_pos: np.ndarray,
    false_pos: np.ndarray,
    true_neg: np.ndarray,
    false_neg: np.ndarray,
) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    """Return the numerator and denominator of each error rate and of the share
    flagged from (possibly weighted) confusion counts."""
    tp, fp, tn, fn = (
        np.asarray(x, dtype=float) for x in (true_pos, false_pos, true_neg, false_neg)
    )
    return {
        "false_positive_rate": (fp, fp + tn),
        "false_negative_rate": (fn, tp + fn),
        "false_discovery_rate": (fp, tp + fp),
        "false_omission_rate": (fn, fn + tn),
        "flagged_share": (tp + fp, tp + fp + tn + fn),
    }


def rates(
    true_pos: np.ndarray,
    false_pos: np.ndarray,
    true_neg: np.ndarray,
    false_neg: np.ndarray,
) -> dict[str, np.ndarray]:
    """Return the error rates and share flagged of (possibly weighted) confusion
    counts; a rate without a denominator is NaN."""
    out = {}
    for name, (numerator, denominator) in rate_counts(
        true_pos, false_pos, true_neg, false_neg
    ).items():
        with np.errstate(divide="ignore", invalid="ignore"):
            out[name] = np.where(denominator > 0, numerator / denominator, np.nan)
    return out


def resampled_group_metrics(
    labels: np.ndarray, scores: np.ndarray, flagged: np.ndarray, counts: np.ndarray
) -> dict[str, np.ndarray]:
    """Return each metric of a group for each resample in ``counts`` (shape
    (resamples, rows), multiplicity of each row): AP, mean score and the rates
    of ``rates``."""
    labels = np.asarray(labels).astype(bool)
    flagged = np.asarray(flagged).astype(bool)
    scores = np.asarray(scores, dtype=float)
    weights = np.atleast_2d(np.asarray(counts, dtype=float))
    cells = {
        "true_pos": labels & flagged,
        "false_pos": ~labels & flagged,
        "true_neg": ~labels & ~flagged,
        "false_neg": labels & ~flagged,
    }
    # numpy sums, not BLAS products: the same result whatever the thread count
    totals = {name: (weights * cell).sum(axis=1) for name, cell in cells.items()}
    out = rates(**totals)
    with np.errstate(divide="ignore", invalid="ignore"):
        size = weights.sum(axis=1)
        out["mean_score"] = np.where(size > 0, (weights * scores).sum(axis=1) / size, np.nan)
    out["average_precision"] = resampled_average_precision(labels, scores, weights)
    return out


def denominator_rows(labels: np.ndarray, flagged: np.ndarray) -> dict[str, np.ndarray]:
    """Return, per fairness metric, the mask of the rows it is counted over."""
    labels = np.asarray(labels).astype(bool)
    flagged = np.asarray(flagged).astype(bool)
    return {
        "average_precision": labels,
        "false_positive_rate": ~labels,
        "false_negative_rate": labels,
        "false_discovery_rate": flagged,
        "false_omission_rate": ~flagged,
        "flagged_share": np.ones(len(labels), dtype=bool),
    }


def group_metrics(
    labels: np.ndarray, scores: np.ndarray, flagged: np.ndarray, families: np.ndarray
) -> dict:
    """Return a group's size, positives, rows flagged, base rate with its Wilson
    interval, mean score, calibration gap, AP and rates (floats; NaN when
    undefined), each rate's numerator and denominator (``<rate>_numerator``,
    ``<rate>_denominator``) and the number of families among the rows each
    metric is counted over (``<metric>_families``)."""
    labels = np.asarray(labels).astype(bool)
    flagged = np.asarray(flagged).astype(bool)
    families = np.asarray(families, dtype=str)
    n_rows = len(labels)
    point = resampled_group_metrics(labels, scores, flagged, np.ones((1, n_rows)))
    n_positive = int(labels.sum())
    lower, upper = wilson_interval(np.array([n_positive]), np.array([n_rows]))
    base_rate = n_positive / n_rows if n_rows else np.nan
    out = {
        "n": n_rows,
        "n_positive": n_positive,
        "n_flagged": int(flagged.sum()),
        "base_rate": base_rate,
        "base_rate_lower": float(lower[0]),
        "base_rate_upper": float(upper[0]),
    }
    out |= {name: float(values[0]) for name, values in point.items()}
    out["calibration_gap"] = out["mean_score"] - base_rate
    cells = [
        labels & flagged,
        ~labels & flagged,
        ~labels & ~flagged,
        labels & ~flagged,
    ]
    for name, (numerator, denominator) in rate_counts(*(c.sum() for c in cells)).items():
        out[f"{name}_numerator"] = int(numerator)
        out[f"{name}_denominator"] = int(denominator)
    for name, rows in denominator_rows(labels, flagged).items():
        out[f"{name}_families"] = len(np.unique(families[rows]))
    return out


def divide(numerator: np.ndarray, denominator: np.ndarray) -> np.ndarray:
    """Return ``numerator / denominator``: NaN for 0 / 0 or missing values,
    infinite for x / 0 with x > 0."""
    numerator = np.asarray(numerator, dtype=float)
    denominator = np.asarray(denominator, dtype=float)
    with np.errstate(divide="ignore", invalid="ignore"):
        return numerator / denominator


def band_judgement(ratio: float, lower: float, upper: float, band: Sequence[float]) -> str:
    """Judge a disparity ratio and its interval against ``band``: "within band",
    "outside band", "cannot tell", or "undefined" when the ratio is missing."""
    low, high = band
    if np.isnan(ratio):
        return UNDEFINED
    if np.isnan(lower) or np.isnan(upper):
        return UNSURE
    if lower >= low and upper <= high:
        return WITHIN
    if upper < low or lower > high:
        return OUTSIDE
    return UNSURE


def metric_interval(
    resampled: np.ndarray,
    observed: float,
    numerator: int | None = None,
    denominator: int | None = None,
) -> tuple[float, float]:
    """Return the 95% interval of a group's metric: for a proportion
    ``numerator / denominator`` at 0 or 1 (where every resample gives the same
    value), the Wilson interval; otherwise (also for AP, which has no
    numerator) the bias-corrected bootstrap percentiles about its ``observed``
    value."""
    if denominator is not None and denominator > 0 and numerator in (0, denominator):
        lower, upper = wilson_interval(np.array([numerator]), np.array([denominator]))
        return float(lower[0]), float(upper[0])
    lower, upper = bias_corrected_interval(resampled, observed)
    return float(lower[0]), float(upper[0])


def ratio_interval(
    resampled: np.ndarray,
    reference_resampled: np.ndarray,
    ratio: float,
    interval: tuple[float, float],
    reference_interval: tuple[float, float],
    degenerate: bool,
) -> tuple[float, float]:
    """Return the 95% interval of a group's ``ratio`` to the reference: the
    bias-corrected percentiles of the resampled ratios about it, or, when
    either metric sits at 0 or 1 (``degenerate``), the ratio of their
    intervals' ends (lower / reference upper, upper / reference lower)."""
    if degenerate:
        lower = divide(interval[0], reference_interval[1])
        upper = divide(interval[1], reference_interval[0])
        return float(lower), float(upper)
    lower, upper = bias_corrected_interval(divide(resampled, reference_resampled), ratio)
    return float(lower[0]), float(upper[0])


def metric_columns(
    metric: str,
    point: Mapping,
    resampled: Mapping,
    reference_point: Mapping,
    reference_resampled: Mapping,
    is_reference: bool,
    band: Sequence[float],
    judgeable: bool = True,
) -> dict:
    """Return a metric's value, interval, ratio to the reference with its
    interval, ``<metric>_outside_band`` and ``<metric>_disparity`` for one group.
    The reference group's own ratio is 1 (judged "reference") when its metric
    is defined; a defined ratio that is not ``judgeable`` is "cannot tell"."""
    counts = (point.get(f"{metric}_numerator"), point.get(f"{metric}_denominator"))
    reference_counts = (
        reference_point.get(f"{metric}_numerator"),
        reference_point.get(f"{metric}_denominator"),
    )
    value = float(point[metric])
    interval = metric_interval(resampled[metric], value, *counts)
    reference_interval = metric_interval(
        reference_resampled[metric], float(reference_point[metric]), *reference_counts
    )
    out = {metric: value, f"{metric}_lower": interval[0], f"{metric}_upper": interval[1]}
    if np.isnan(value):
        ratio, ratio_interval_ = np.nan, (np.nan, np.nan)
    elif is_reference:
        ratio, ratio_interval_ = 1.0, (1.0, 1.0)
    else:
        ratio = float(divide(value, reference_point[metric]))
        degenerate = any(
            n is not None and d is not None and d > 0 and n in (0, d)
            for n, d in (counts, reference_counts)
        )
        ratio_interval_ = ratio_interval(
            resampled[metric],
            reference_resampled[metric],
            ratio,
            interval,
            reference_interval,
            degenerate,
        )
    if np.isnan(ratio):
        judgement, outside = UNDEFINED, None
    elif is_reference:
        judgement, outside = REFERENCE, False
    else:
        judgement = band_judgement(ratio, *ratio_interval_, band) if judgeable else UNSURE
        outside = bool(ratio < band[0] or ratio > band[1])
    return out | {
        f"{metric}_ratio": ratio,
        f"{metric}_ratio_lower": ratio_interval_[0],
        f"{metric}_ratio_upper": ratio_interval_[1],
        f"{metric}_outside_band": outside,
        f"{metric}_disparity": judgement,
    }


def choose_references(
    sizes: Mapping[str, Mapping[str, int]], configured: Mapping[str, str] | None = None
) -> dict[str, str]:
    """Return each attribute's reference group: the configured one, else the
    largest group other than "missing" (ties: first in report order; "missing"
    only if it is the only group)."""
    configured = dict(configured or {})
    unknown = sorted(set(configured) - set(ATTRIBUTES))
    if unknown:
        raise InputError(
            f"fairness.reference: unknown attributes {unknown}; use {list(ATTRIBUTES)}."
        )
    references = {}
    for attribute, groups in sizes.items():
        if attribute in configured:
            choice = str(configured[attribute])
            if choice not in groups:
                raise InputError(
                    f"fairness.reference.{attribute}: group {choice!r} has no test "
                    f"rows; choose one of {list(groups)} or leave it unset (largest group)."
                )
            references[attribute] = choice
            continue
        order = GROUP_ORDER[attribute]
        candidates = [g for g in groups if g != MISSING] or list(groups)
        references[attribute] = max(candidates, key=lambda g: (groups[g], -order.index(g)))
    return references


def check_parameters(
    bootstrap_resamples: int, min_group_size: int, band: Sequence[float]
) -> tuple[float, float]:
    """Check the fairness parameters and return the band as two floats."""
    if int(bootstrap_resamples) < 1:
        raise InputError(f"bootstrap_resamples: {bootstrap_resamples} must be at least 1.")
    if int(min_group_size) < 0:
        raise InputError(f"min_group_size: {min_group_size} must not be negative.")
    values = [float(v) for v in band]
    if len(values) != 2 or not 0 < values[0] <= 1 <= values[1]:
        raise InputError(
            f"disparity_band: {list(band)} must be two numbers [low, high] "
            "with 0 < low <= 1 <= high."
        )
    return values[0], values[1]


# --- assessment ---------------------------------------------------------------


def assess_fairness(
    predictions: pd.DataFrame,
    selected_model: str,
    cohort: pd.DataFrame,
    children: pd.DataFrame,
    outcome: str,
    design: str,
    decision_threshold: float = 0.5,
    bootstrap_resamples: int = BOOTSTRAP_RESAMPLES,
    seed: int = 0,
    fairness_reference: Mapping[str, str] | None = None,
    min_group_size: int = MIN_GROUP_SIZE,
    disparity_band: Sequence[float] = DISPARITY_BAND,
) -> pd.DataFrame:
    """Return the group table (``GROUPS_SCHEMA``): one row per fitted model x
    attribute x group, ``selected`` on the rows of ``selected_model``."""
    band = check_parameters(bootstrap_resamples, min_group_size, disparity_band)
    check_test_set(predictions, outcome, design)
    fitted = predictions[~predictions["model"].isin(BASELINES)]
    if fitted.empty:
        raise ValueError(f"{outcome} / {design}: the predictions hold no fitted model.")
    labels, wide = score_matrix(fitted)
    groups = attach_groups(wide.index, cohort, children)
    families = families_by_referral(cohort).reindex(wide.index).to_numpy()
    sizes = {
        attribute: {
            g: int((groups[attribute] == g).sum())
            for g in GROUP_ORDER[attribute]
            if (groups[attribute] == g).any()
        }
        for attribute in ATTRIBUTES
    }
    references = choose_references(sizes, fairness_reference)
    flagged = wide.to_numpy() >= decision_threshold
    n_resamples = int(bootstrap_resamples)

    rows = []
    for a, attribute in enumerate(ATTRIBUTES):
        per_group = {}
        for g, group in enumerate(GROUP_ORDER[attribute]):
            members = np.flatnonzero(groups[attribute].to_numpy() == group)
            if not len(members):
                continue
            rng = np.random.default_rng([int(seed), a, g])
            numbers = family_numbers(
                families[members], np.column_stack([labels[members], wide.to_numpy()[members]])
            )
            counts = np.concatenate(
                list(bootstrap_counts(len(members), n_resamples, rng, groups=numbers))
            )
            for m, model in enumerate(wide.columns):
                scores = wide[model].to_numpy()[members]
                point = group_metrics(
                    labels[members], scores, flagged[members, m], families[members]
                )
                resampled = resampled_group_metrics(
                    labels[members], scores, flagged[members, m], counts
                )
                per_group[(model, group)] = (point, resampled)
        reference = references[attribute]
        for model in wide.columns:
            ref_point, ref_resampled = per_group[(model, reference)]
            for group in GROUP_ORDER[attribute]:
                if (model, group) not in per_group:
                    continue
                point, resampled = per_group[(model, group)]
                row = {
                    "outcome": outcome,
                    "design": design,
                    "model": model,
                    "selected": model == selected_model,
                    "attribute": attribute,
                    "group": group,
                    "reference_group": reference,
                    "is_reference": group == reference,
                    "small_group": point["n"] < int(min_group_size),
                    "decision_threshold": float(decision_threshold),
                    "bootstrap_resamples": n_resamples,
                    "disparity_band_lower": band[0],
                    "disparity_band_upper": band[1],
                } | point
                low, high = percentile_interval(resampled["mean_score"])
                row |= {"mean_score_lower": float(low), "mean_score_upper": float(high)}
                for metric in RATE_METRICS:
                    judgeable = not row["small_group"] and (
                        min(point[f"{metric}_families"], ref_point[f"{metric}_families"])
                        >= MIN_FAMILIES
                    )
                    row |= metric_columns(
                        metric,
                        point,
                        resampled,
                        ref_point,
                        ref_resampled,
                        group == reference,
                        band,
                        judgeable,
                    )
                rows.append(row)
    table = pd.DataFrame(rows)
    order = {attribute: i for i, attribute in enumerate(ATTRIBUTES)}
    rank = [
        (model, order[attribute], GROUP_ORDER[attribute].index(group))
        for model, attribute, group in zip(
            table["model"], table["attribute"], table["group"], strict=True
        )
    ]
    table = table.iloc[sorted(range(len(table)), key=rank.__getitem__)].reset_index(drop=True)
    log_summary(table, outcome, design)
    return table[GROUPS_SCHEMA.names]


def log_summary(table: pd.DataFrame, outcome: str, design: str) -> None:
    """Log the reference groups, small groups and disparities judged outside the band."""
    for attribute, rows in table.groupby("attribute", sort=False):
        small = sorted(set(rows.loc[rows["small_group"], "group"]))
        logger.info(
            "%s / %s / %s: reference %s; small groups %s",
            outcome,
            design,
            attribute,
            rows["reference_group"].iloc[0],
            small or "none",
        )
    for metric in RATE_METRICS:
        outside = table[table[f"{metric}_disparity"] == OUTSIDE]
        for row in outside.itertuples():
            logger.info(
                "%s / %s / %s: %s of %s = %s is outside the band (ratio %.2f)",
                outcome,
                design,
                row.model,
                metric,
                row.attribute,
                row.group,
                getattr(row, f"{metric}_ratio"),
            )


def main(snakemake) -> None:
    """Read predictions, CV results, cohort and children; write the group table."""
    params = snakemake.params
    reference = params.fairness_reference
    if reference is not None and not isinstance(reference, Mapping):
        raise InputError(
            "fairness.reference must be null (largest group) or a mapping "
            f"attribute -> group, e.g. {{ethnicity: White}}; got {reference!r}."
        )
    table = assess_fairness(
        read_parquet(snakemake.input.predictions, "predictions"),
        selected_model_name(read_parquet(snakemake.input.cv_results, "cv_results")),
        read_parquet(snakemake.input.cohort, "cohort"),
        read_parquet(snakemake.input.children, "children"),
        outcome=str(params.outcome),
        design=str(params.design),
        decision_threshold=float(params.decision_threshold),
        bootstrap_resamples=int(params.bootstrap_resamples),
        seed=int(params.seed),
        fairness_reference=reference,
        min_group_size=int(params.min_group_size),
        disparity_band=list(params.disparity_band),
    )
    write_parquet(table, snakemake.output.groups, GROUPS_SCHEMA)


if __name__ == "__main__":
    from common import run

    run(lambda: main(snakemake), snakemake.log[0])  # noqa: F821
