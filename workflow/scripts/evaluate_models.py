"""Score each model's test predictions for one outcome x design.

Outputs (one outcome x design each):

- ``metrics`` (schema "metrics", unchanged contract): one row per model with the
  test-set average precision (AP, the study's headline metric), ROC AUC,
  precision and recall at the decision threshold, the test size and base rate,
  the inner-CV AP of the model's selected candidate (mean, sd with ddof=1, and
  the lower bound mean - 1.96 sd / sqrt(k)) and the success threshold. Whether
  a model meets it is the ``details`` verdict, judged on the interval: a point
  estimate alone could contradict it.
- ``details`` (``DETAILS_SCHEMA``): every column of ``metrics`` plus the richer
  set: positives, Brier score, share flagged, F0.1, accuracy, the plain-language
  metrics ("false alarms" per 100 flagged = (1 - precision) x 100, "children at
  risk missed" per 100 at-risk = (1 - recall) x 100, share of positive cases in
  the top 10% of scores, TP/FP/TN/FN per 1,000 cases), a bootstrap 95% interval
  of the test AP, and the verdict.
- ``thresholds`` (``THRESHOLDS_SCHEMA``): precision, recall and F0.1 per model
  at the score thresholds 0.1 .. 0.9 (plus the decision threshold if it is not
  one of them) and at the top k% of scores for each configured k.
- ``calibration`` (``CALIBRATION_SCHEMA``): per model with probability scores,
  ``calibration_bins`` equal-width bins of the score on [0, 1]: rows, positives,
  mean predicted score and observed rate with a Wilson 95% interval. Empty bins
  are kept (n = 0, means missing) so every model has the same bins.

Conventions:

- A row is flagged when its score is at least the threshold. With no row
  flagged, precision is 0 (as in ``metrics``), while "false alarms per 100
  flagged" is missing: it has no denominator.
- Top k%: the ``ceil(k / 100 * n)`` highest scores are flagged. Rows tied with
  the last flagged score are flagged in proportion, i.e. counts are the
  expectation under random tie-breaking (deterministic, no seed needed); this
  matters for the baseline, whose scores are small integers.
- Brier score and calibration need probabilities: they are missing (Brier) or
  left out (calibration) for baselines ("previous_referrals" scores counts,
  "best_single_feature" a feature's values) and for any model with a score
  outside [0, 1].
- For the same reason a baseline has no metric at a score threshold: its
  precision, recall and every other measure at the decision threshold are
  missing, and its thresholds table holds the top k% rules only (which rank,
  so mean the same whatever the scores' scale).
- Bootstrap: ``bootstrap_resamples`` resamples of the test set's families
  (siblings share risks and records, so they are not independent cases: a
  family is drawn with all its test rows), drawn with
  ``np.random.default_rng(seed)``; the same resamples serve every model
  (paired). The resamples are plain, not stratified by class: the number of
  positive cases varies between them as it would between test sets, and
  holding it fixed narrowed the intervals (their lower ends by 0.01 to 0.03 on
  the bundled LA), flattering the verdicts. A resample without a positive case
  (AP undefined) is left out; ``bootstrap_valid`` counts those kept (logged,
  with a warning when some are left out).
- Intervals of the AP and of each model's AP less a baseline's are
  bias-corrected percentile intervals (Efron's BC; ``bias_corrected_interval``):
  the percentiles (numpy's linear method) at Phi(2 z0 -+ 1.96), where z0 =
  Phi^-1(share of resamples below the test-set value, ties counted half). With
  few positive cases the test-set AP is biased upwards and plain percentiles
  inherit the bias: their lower end lay above the true AP 5-8% of the time
  instead of 2.5% (simulated, 400 and 150 cases at 6% positive), a false
  "meets the bar" twice as often as it should be; the bias-corrected end
  2.4-3.5%.
  The bootstrap holds the fitted models fixed: it measures the uncertainty of
  the test-set estimate, not of refitting (the 2020 study refitted 500 times).
- Verdict per model: "meets the bar" when the interval's lower bound is at
  least the success threshold, "does not meet the bar" when its upper bound is
  below it, otherwise "cannot tell".

``selected`` follows the study's rule: among the fitted models (never the
"previous_referrals" baseline), the one whose selected candidate has the
highest CV lower bound; ties go to the first model name in alphabetical order.
The choice never looks at the test set.
"""

import logging
import math
from collections.abc import Iterator, Sequence
from statistics import NormalDist

import numpy as np
import pandas as pd
from sklearn.metrics import average_precision_score, precision_score, recall_score, roc_auc_score

from common import (
    SCHEMAS,
    InputError,
    content_order,
    families_by_referral,
    family_numbers,
    read_parquet,
    write_parquet,
)
from train_models import BASELINE, BEST_FEATURE, lower_bound

logger = logging.getLogger(__name__)

BASELINES = frozenset({BASELINE, BEST_FEATURE})
# The details' columns of each model's AP less each baseline's (paired_differences).
BASELINE_COLUMNS = {"ap_minus_baseline": BASELINE, "ap_minus_best_feature": BEST_FEATURE}
F_BETA = 0.1
Z_95 = 1.96
SCORE_THRESHOLDS = tuple(round(0.1 * i, 1) for i in range(1, 10))
TOP_K_PERCENT = (10.0, 25.0)
PLAIN_TOP_PERCENT = 10.0
BOOTSTRAP_RESAMPLES = 500
CALIBRATION_BINS = 10
# Largest number of (resample x row) cells held in memory at once by the bootstrap.
BOOTSTRAP_CHUNK_CELLS = 2_000_000
# The details' measures at the decision threshold (besides n_flagged, an
# integer), missing for the baselines (is_thresholded).
AT_THRESHOLD_DETAILS = (
    "flagged_share",
    "f0_1",
    "accuracy",
    "false_alarms_per_100_flagged",
    "missed_per_100_at_risk",
    "tp_per_1000",
    "fp_per_1000",
    "tn_per_1000",
    "fn_per_1000",
)

MEETS = "meets the bar"
FAILS = "does not meet the bar"
UNSURE = "cannot tell"

DETAILS_SCHEMA = SCHEMAS["details"]
THRESHOLDS_SCHEMA = SCHEMAS["thresholds"]
CALIBRATION_SCHEMA = SCHEMAS["calibration"]


# --- point metrics ------------------------------------------------------------


def holdout_metrics(
    labels: np.ndarray, scores: np.ndarray, decision_threshold: float, thresholded: bool = True
) -> dict:
    """Return n_test, base_rate, average_precision, roc_auc, precision and recall
    (at ``scores >= decision_threshold``; missing unless ``thresholded``) of one
    model's test predictions."""
    labels = np.asarray(labels, dtype=int)
    scores = np.asarray(scores, dtype=float)
    flagged = (scores >= decision_threshold).astype(int)
    at_threshold = {"precision": np.nan, "recall": np.nan}
    if thresholded:
        at_threshold = {
            "precision": float(precision_score(labels, flagged, zero_division=0)),
            "recall": float(recall_score(labels, flagged, zero_division=0)),
        }
    return {
        "n_test": len(labels),
        "base_rate": float(labels.mean()),
        "average_precision": float(average_precision_score(labels, scores)),
        "roc_auc": float(roc_auc_score(labels, scores)),
    } | at_threshold


def f_beta(precision: float, recall: float, beta: float = F_BETA) -> float:
    """Return the F-beta score of ``precision`` and ``recall`` (0 when both are 0)."""
    denominator = beta**2 * precision + recall
    if denominator <= 0:
        return 0.0
    return float((1 + beta**2) * precision * recall / denominator)


def confusion_counts(labels: np.ndarray, flagged: np.ndarray) -> dict[str, int]:
    """Return the true/false positives/negatives of boolean flags."""
    labels = np.asarray(labels).astype(bool)
    flagged = np.asarray(flagged).astype(bool)
    return {
        "tp": int((labels & flagged).sum()),
        "fp": int((~labels & flagged).sum()),
        "tn": int((~labels & ~flagged).sum()),
        "fn": int((labels & ~flagged).sum()),
    }


def plain_language(precision: float, recall: float, n_flagged: float) -> dict[str, float]:
    """Return "false alarms" per 100 flagged and "children at risk missed" per
    100 at-risk; false alarms are missing when nothing is flagged."""
    return {
        "false_alarms_per_100_flagged": (1 - precision) * 100 if n_flagged > 0 else np.nan,
        "missed_per_100_at_risk": (1 - recall) * 100,
    }


def top_k_count(n_rows: int, k_percent: float) -> int:
    """Return how many rows the top ``k_percent``% of ``n_rows`` flags (at least 1)."""
    if not 0 < k_percent <= 100:
        raise InputError(f"evaluation.top_k_percent: {k_percent} is not in (0, 100].")
    return max(1, math.ceil(round(k_percent * n_rows / 100, 9)))


def top_k_metrics(labels: np.ndarray, scores: np.ndarray, k_percent: float) -> dict:
    """Return the cut-off score, rows flagged, precision and recall when the top
    ``k_percent``% of scores are flagged.

    Rows tied with the cut-off score are flagged in proportion (the expectation
    under random tie-breaking), so the result does not depend on row order.
    """
    labels = np.asarray(labels, dtype=float)
    scores = np.asarray(scores, dtype=float)
    n_flagged = top_k_count(len(scores), k_percent)
    cutoff = float(np.sort(scores)[::-1][n_flagged - 1])
    above = scores > cutoff
    tied = scores == cutoff
    slots = n_flagged - int(above.sum())
    true_positives = labels[above].sum() + labels[tied].sum() * slots / tied.sum()
    n_positive = labels.sum()
    return {
        "threshold": cutoff,
        "n_flagged": n_flagged,
        "precision": float(true_positives / n_flagged),
        "recall": float(true_positives / n_positive) if n_positive else np.nan,
    }


def brier_score(labels: np.ndarray, scores: np.ndarray) -> float:
    """Return the mean squared difference between score and label."""
    labels = np.asarray(labels, dtype=float)
    scores = np.asarray(scores, dtype=float)
    return float(np.mean((scores - labels) ** 2))


def is_thresholded(model: str) -> bool:
    """Whether a model's score can be cut at a probability threshold: not a
    baseline, whose scores are counts or a feature's raw values."""
    return model not in BASELINES


def is_probability(model: str, scores: np.ndarray) -> bool:
    """Whether a model's scores are probabilities: not a baseline, all in [0, 1]."""
    scores = np.asarray(scores, dtype=float)
    return is_thresholded(model) and bool(((scores >= 0) & (scores <= 1)).all())


def rich_metrics(
    labels: np.ndarray,
    scores: np.ndarray,
    decision_threshold: float,
    probabilities: bool,
    thresholded: bool = True,
) -> dict:
    """Return the richer test metrics of one model at ``decision_threshold``
    (columns of ``DETAILS_SCHEMA`` that do not come from ``holdout_metrics``,
    the CV summary or the bootstrap); those at the threshold are missing
    unless ``thresholded``."""
    labels = np.asarray(labels, dtype=int)
    scores = np.asarray(scores, dtype=float)
    n_rows = len(labels)
    flagged = scores >= decision_threshold
    counts = confusion_counts(labels, flagged)
    n_positive = counts["tp"] + counts["fn"]
    n_flagged = counts["tp"] + counts["fp"]
    precision = counts["tp"] / n_flagged if n_flagged else 0.0
    recall = counts["tp"] / n_positive if n_positive else np.nan
    out = {
        "n_positive": n_positive,
        "brier_score": brier_score(labels, scores) if probabilities else np.nan,
        "decision_threshold": float(decision_threshold),
        "n_flagged": n_flagged,
        "flagged_share": n_flagged / n_rows,
        "f0_1": f_beta(precision, recall),
        "accuracy": (counts["tp"] + counts["tn"]) / n_rows,
    }
    out |= plain_language(precision, recall, n_flagged)
    out["share_of_positives_in_top_10pct"] = top_k_metrics(labels, scores, PLAIN_TOP_PERCENT)[
        "recall"
    ]
    for name, value in counts.items():
        out[f"{name}_per_1000"] = value / n_rows * 1000
    if not thresholded:
        out |= dict.fromkeys(AT_THRESHOLD_DETAILS, np.nan) | {"n_flagged": pd.NA}
    return out


# --- threshold table and calibration ------------------------------------------


def score_thresholds(decision_threshold: float) -> list[float]:
    """Return the thresholds 0.1 .. 0.9, plus ``decision_threshold`` if it is not
    one of them, in increasing order."""
    values = list(SCORE_THRESHOLDS)
    if not np.isclose(values, decision_threshold).any():
        values.append(float(decision_threshold))
    return sorted(values)


def threshold_table(
    labels: np.ndarray,
    scores: np.ndarray,
    decision_threshold: float = 0.5,
    top_k_percent: Sequence[float] = TOP_K_PERCENT,
    thresholded: bool = True,
) -> pd.DataFrame:
    """Return precision, recall and F0.1 of one model at each score threshold
    (rule "score_threshold", only if ``thresholded``) and at each top k% (rule
    "top_k_percent"; its ``threshold`` is the cut-off score)."""
    labels = np.asarray(labels, dtype=int)
    scores = np.asarray(scores, dtype=float)
    n_rows = len(labels)
    n_positive = int(labels.sum())
    rows = []
    for threshold in score_thresholds(decision_threshold) if thresholded else []:
        counts = confusion_counts(labels, scores >= threshold)
        n_flagged = counts["tp"] + counts["fp"]
        rows.append(
            {
                "rule": "score_threshold",
                "threshold": float(threshold),
                "k_percent": np.nan,
                "is_decision_threshold": bool(np.isclose(threshold, decision_threshold)),
                "n_flagged": n_flagged,
                "precision": counts["tp"] / n_flagged if n_flagged else 0.0,
                "recall": counts["tp"] / n_positive if n_positive else np.nan,
            }
        )
    for k in sorted({float(k) for k in top_k_percent}):
        row = top_k_metrics(labels, scores, k)
        rows.append({"rule": "top_k_percent", "k_percent": k, "is_decision_threshold": False} | row)
    table = pd.DataFrame(rows)
    table["flagged_share"] = table["n_flagged"] / n_rows
    table["f0_1"] = [f_beta(p, r) for p, r in zip(table["precision"], table["recall"], strict=True)]
    table["false_alarms_per_100_flagged"] = np.where(
        table["n_flagged"] > 0, (1 - table["precision"]) * 100, np.nan
    )
    table["missed_per_100_at_risk"] = (1 - table["recall"]) * 100
    return table.astype({"n_flagged": np.int64, "is_decision_threshold": bool})


def wilson_interval(
    successes: np.ndarray, trials: np.ndarray, z: float = Z_95
) -> tuple[np.ndarray, np.ndarray]:
    """Return the Wilson score interval of a proportion: exactly 0 (1) as the
    lower (upper) bound when there are no successes (failures); missing when
    there are no trials."""
    successes = np.asarray(successes, dtype=float)
    trials = np.asarray(trials, dtype=float)
    with np.errstate(divide="ignore", invalid="ignore"):
        share = successes / trials
        centre = (share + z**2 / (2 * trials)) / (1 + z**2 / trials)
        half = (
            z / (1 + z**2 / trials) * np.sqrt(share * (1 - share) / trials + z**2 / (4 * trials**2))
        )
    lower = np.where(successes > 0, np.clip(centre - half, 0, 1), 0.0)
    upper = np.where(successes < trials, np.clip(centre + half, 0, 1), 1.0)
    lower = np.where(trials > 0, lower, np.nan)
    upper = np.where(trials > 0, upper, np.nan)
    return lower, upper


def calibration_table(
    labels: np.ndarray, scores: np.ndarray, n_bins: int = CALIBRATION_BINS
) -> pd.DataFrame:
    """Return ``n_bins`` equal-width bins of probability scores on [0, 1]
    (left-closed; the last bin also holds 1.0) with rows, positives, mean score,
    observed rate and its Wilson 95% interval. Empty bins have missing means."""
    if int(n_bins) < 1:
        raise InputError(f"evaluation.calibration_bins: {n_bins} must be at least 1.")
    n_bins = int(n_bins)
    labels = np.asarray(labels, dtype=float)
    scores = np.asarray(scores, dtype=float)
    # rounded, so that a score of exactly 0.3 falls in the bin from 0.3, as the
    # threshold rule "score >= 0.3" flags it (linspace gives 0.30000000000000004)
    edges = np.linspace(0.0, 1.0, n_bins + 1).round(12)
    bins = np.clip(np.searchsorted(edges, scores, side="right") - 1, 0, n_bins - 1)
    n = np.bincount(bins, minlength=n_bins)
    positives = np.bincount(bins, weights=labels, minlength=n_bins)
    score_sums = np.bincount(bins, weights=scores, minlength=n_bins)
    with np.errstate(divide="ignore", invalid="ignore"):
        mean_score = np.where(n > 0, score_sums / n, np.nan)
        observed = np.where(n > 0, positives / n, np.nan)
    lower, upper = wilson_interval(positives, n)
    return pd.DataFrame(
        {
            "bin": np.arange(n_bins, dtype=np.int64),
            "bin_lower": edges[:-1],
            "bin_upper": edges[1:],
            "n": n.astype(np.int64),
            "n_positive": np.rint(positives).astype(np.int64),
            "mean_score": mean_score,
            "observed_rate": observed,
            "observed_lower": lower,
            "observed_upper": upper,
        }
    )


# --- bootstrap ----------------------------------------------------------------


def bootstrap_counts(
    n_rows: int,
    n_resamples: int,
    rng: np.random.Generator,
    max_cells: int = BOOTSTRAP_CHUNK_CELLS,
    groups: np.ndarray | None = None,
) -> Iterator[np.ndarray]:
    """Yield bootstrap resamples of the rows as multiplicities: integer arrays of
    shape (resamples in chunk, rows) whose row ``b`` counts how often each row is
    drawn in resample ``b``. Chunks together hold ``n_resamples`` resamples.

    ``groups`` (one number per row, its family's from
    ``common.family_numbers``) makes it a cluster bootstrap: groups are drawn
    with replacement and every row counts as often as its group is drawn.
    Without it every row is its own group. The groups are drawn in the order
    of their numbers, which follow the families' rows, not their ids: in id
    order a new pseudonymisation key moved the intervals' ends by up to 0.02. The chunk
    size depends only on the number of groups, so the draws are the same for
    the same inputs and generator state.
    """
    if groups is None:
        row_group = np.arange(n_rows)
    else:
        row_group = np.unique(np.asarray(groups), return_inverse=True)[1]
    n_groups = int(row_group.max()) + 1 if len(row_group) else 0
    chunk = max(1, int(max_cells) // max(n_groups, 1))
    done = 0
    while done < n_resamples:
        size = min(chunk, n_resamples - done)
        offsets = (np.arange(size, dtype=np.int64) * n_groups)[:, None]
        draws = rng.integers(0, n_groups, size=(size, n_groups))
        counts = np.bincount((offsets + draws).ravel(), minlength=size * n_groups)
        yield counts.reshape(size, n_groups)[:, row_group]
        done += size


def resampled_average_precision(
    labels: np.ndarray, scores: np.ndarray, counts: np.ndarray
) -> np.ndarray:
    """Return the average precision of each resample in ``counts`` (shape
    (resamples, rows), multiplicity of each row), exactly as scikit-learn's
    ``average_precision_score`` with ``sample_weight=counts[b]``: tied scores
    form one threshold. A resample without a positive gives NaN.

    Vectorised: the rows are sorted by score once, and the weighted true and
    false positives at every distinct score are cumulative sums over the
    resample matrix.
    """
    labels = np.asarray(labels, dtype=float)
    scores = np.asarray(scores, dtype=float)
    counts = np.atleast_2d(np.asarray(counts, dtype=float))
    order = np.argsort(-scores, kind="stable")
    sorted_scores = scores[order]
    block_ends = np.r_[np.flatnonzero(np.diff(sorted_scores) != 0), len(scores) - 1]
    weights = counts[:, order]
    sorted_labels = labels[order]
    true_pos = np.cumsum(weights * sorted_labels, axis=1)[:, block_ends]
    flagged = np.cumsum(weights, axis=1)[:, block_ends]
    total_pos = true_pos[:, -1:]
    with np.errstate(divide="ignore", invalid="ignore"):
        precision = np.where(flagged > 0, true_pos / flagged, 0.0)
        recall = true_pos / total_pos
    steps = np.diff(recall, axis=1, prepend=0.0)
    ap = (steps * precision).sum(axis=1)
    return np.where(total_pos[:, 0] > 0, ap, np.nan)


def percentile_interval(samples: np.ndarray, axis: int = -1) -> tuple[np.ndarray, np.ndarray]:
    """Return the 2.5th and 97.5th percentiles along ``axis``, ignoring NaN
    (infinite values are kept; missing when every sample is NaN)."""
    samples = np.asarray(samples, dtype=float)
    big = np.finfo(np.float64).max
    finite = np.clip(samples, -big, big)
    valid = ~np.isnan(finite).all(axis=axis)
    safe = np.where(np.isnan(finite).all(axis=axis, keepdims=True), 0.0, finite)
    lower, upper = np.nanquantile(safe, [0.025, 0.975], axis=axis)
    lower = np.where(valid, lower, np.nan)
    upper = np.where(valid, upper, np.nan)
    lower = np.where(lower >= big, np.inf, np.where(lower <= -big, -np.inf, lower))
    upper = np.where(upper >= big, np.inf, np.where(upper <= -big, -np.inf, upper))
    return lower, upper


def bias_corrected_interval(
    samples: np.ndarray, observed: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """Return the bias-corrected (BC) 95% percentile interval of each row of
    ``samples`` (statistics x resamples, or one statistic's resamples) about
    its ``observed`` value, ignoring NaN resamples (missing when all are NaN;
    infinite ones are kept, and an end among them is infinite).

    z0 = Phi^-1(p), p the share of resamples below the observed value (ties
    count half), kept within half a resample of 0 and 1 so that z0 is finite;
    the interval is the percentiles at Phi(2 z0 -+ 1.96). With z0 = 0 (the
    observed value is the resamples' median) it is the plain percentile
    interval.
    """
    samples = np.atleast_2d(np.asarray(samples, dtype=float))
    observed = np.atleast_1d(np.asarray(observed, dtype=float))
    normal = NormalDist()
    lower = np.full(len(samples), np.nan)
    upper = np.full(len(samples), np.nan)
    for i, (row, value) in enumerate(zip(samples, observed, strict=True)):
        valid = row[~np.isnan(row)]
        if not len(valid) or np.isnan(value):
            continue
        share = ((valid < value).sum() + 0.5 * (valid == value).sum()) / len(valid)
        half = 0.5 / len(valid)
        z0 = normal.inv_cdf(min(max(share, half), 1 - half))
        levels = [normal.cdf(2 * z0 - Z_95), normal.cdf(2 * z0 + Z_95)]
        with np.errstate(invalid="ignore"):
            ends = np.quantile(valid, levels)
        # next to an infinite resample (a ratio to a rate of 0) numpy's
        # interpolation gives NaN (inf - inf): the end is the nearest resample
        nearest = np.quantile(valid, levels, method="nearest")
        lower[i], upper[i] = np.where(np.isnan(ends), nearest, ends)
    return lower, upper


def bootstrap_average_precision(
    labels: np.ndarray,
    scores: np.ndarray,
    n_resamples: int = BOOTSTRAP_RESAMPLES,
    seed: int = 0,
    groups: np.ndarray | None = None,
) -> np.ndarray:
    """Return the AP of ``n_resamples`` bootstrap resamples of the rows (of
    whole ``groups`` if given: see ``bootstrap_counts``) for each column of
    ``scores`` (shape (rows, models)), as an array (models, resamples). Every
    model is scored on the same resamples."""
    if int(n_resamples) < 1:
        raise InputError(f"bootstrap_resamples: {n_resamples} must be at least 1.")
    scores = np.asarray(scores, dtype=float)
    if scores.ndim == 1:
        scores = scores[:, None]
    rng = np.random.default_rng(seed)
    chunks = []
    for counts in bootstrap_counts(len(labels), int(n_resamples), rng, groups=groups):
        chunks.append(
            np.stack([resampled_average_precision(labels, column, counts) for column in scores.T])
        )
    return np.concatenate(chunks, axis=1)


def paired_differences(
    resampled: np.ndarray, observed: np.ndarray, models: list[str], baseline: str
) -> tuple[np.ndarray, np.ndarray]:
    """The bias-corrected 95% interval of each model's AP less ``baseline``'s,
    over the same resamples (``resampled``: models x resamples, ``observed``:
    the test-set APs, both in the order of ``models``), so that both share each
    resample's luck; NaN for the baseline itself and for every model when the
    baseline did not run."""
    if baseline not in models:
        return (np.full(len(models), np.nan),) * 2
    index = models.index(baseline)
    lower, upper = bias_corrected_interval(resampled - resampled[index], observed - observed[index])
    lower[index] = upper[index] = np.nan
    return lower, upper


def verdict(lower: float, upper: float, threshold: float) -> str:
    """Return "meets the bar" when ``lower >= threshold``, "does not meet the bar"
    when ``upper < threshold``, otherwise (or when unknown) "cannot tell"."""
    if np.isfinite(lower) and lower >= threshold:
        return MEETS
    if np.isfinite(upper) and upper < threshold:
        return FAILS
    return UNSURE


# --- tables -------------------------------------------------------------------


def cv_summary(cv_results: pd.DataFrame) -> pd.DataFrame:
    """Return, per model, the mean, sd (ddof=1) and lower bound of the CV AP of
    its selected candidate, indexed by model."""
    chosen = cv_results[cv_results["selected"]]
    candidates = chosen.groupby("model")["candidate"].nunique()
    if (candidates != 1).any():
        raise ValueError(
            f"cv_results: models {sorted(candidates[candidates != 1].index)} do not have "
            "exactly one selected candidate."
        )
    grouped = chosen.groupby("model", sort=True)["average_precision"]
    return pd.DataFrame(
        {
            "cv_ap_mean": grouped.mean(),
            "cv_ap_sd": grouped.std(ddof=1),
            "cv_ap_lower_bound": grouped.apply(lower_bound),
        }
    )


def select_model(summary: pd.DataFrame) -> str:
    """Return the non-baseline model with the highest CV lower bound (ties: the
    first name alphabetically)."""
    fitted = summary[~summary.index.isin(BASELINES)]
    if fitted.empty:
        raise ValueError("cv_results hold no fitted model, only baselines.")
    ranked = fitted.reset_index().sort_values(
        ["cv_ap_lower_bound", "model"], ascending=[False, True], kind="stable"
    )
    return str(ranked["model"].iloc[0])


def selected_model_name(cv_results: pd.DataFrame) -> str:
    """Return the model the study's rule selects from training's CV results
    alone: every stage that needs the choice reads it here, so that none
    depends on the evaluation settings."""
    return select_model(cv_summary(cv_results))


def check_test_set(predictions: pd.DataFrame, outcome: str, design: str) -> None:
    """Check every model scored the same test rows, and both classes occur."""
    if predictions.empty:
        raise ValueError(f"{outcome} / {design}: the predictions are empty.")
    if predictions[["model", "referral_id"]].duplicated().any():
        raise ValueError(f"{outcome} / {design}: a model scored a referral twice.")
    reference = None
    for model, group in predictions.groupby("model", sort=True):
        rows = group.sort_values("referral_id")[["referral_id", "label"]].reset_index(drop=True)
        if reference is None:
            reference = rows
        elif not rows.equals(reference):
            raise ValueError(
                f"{outcome} / {design}: model {model} scored other test rows or labels "
                "than the others; the models cannot be compared."
            )
    n_pos = int(reference["label"].sum())
    n_rows = len(reference)
    if n_pos in (0, n_rows):
        raise InputError(
            f"{outcome} / {design}: the test set's {n_rows} referrals are all "
            f"{'positive' if n_pos else 'negative'}, so average precision and ROC AUC "
            "are undefined. The LA has too few (or too many) cases of this outcome for a "
            "held-out test: use a longer extract or change the design's test_fraction."
        )
    scores = predictions["score"]
    if scores.isna().any() or not np.isfinite(scores).all():
        raise ValueError(f"{outcome} / {design}: some scores are missing or infinite.")


def evaluate(
    predictions: pd.DataFrame,
    cv_results: pd.DataFrame,
    outcome: str,
    design: str,
    success_threshold: float = 0.65,
    decision_threshold: float = 0.5,
) -> pd.DataFrame:
    """Return the metrics table (schema "metrics"), one row per model."""
    check_test_set(predictions, outcome, design)
    summary = cv_summary(cv_results)
    missing = sorted(set(predictions["model"]) ^ set(summary.index))
    if missing:
        raise ValueError(
            f"{outcome} / {design}: models {missing} have CV results or test predictions, "
            "not both; rerun train_models."
        )
    winner = selected_model_name(cv_results)
    rows = []
    for model, group in predictions.groupby("model", sort=True):
        row = {"outcome": outcome, "design": design, "model": model, "selected": model == winner}
        row |= holdout_metrics(
            group["label"].to_numpy(),
            group["score"].to_numpy(),
            decision_threshold,
            is_thresholded(model),
        )
        row |= summary.loc[model].to_dict()
        row["success_threshold"] = float(success_threshold)
        rows.append(row)
        logger.info(
            "%s / %s / %s: test AP %.3f (base rate %.3f), ROC AUC %.3f, CV AP %.3f +- %.3f%s",
            outcome,
            design,
            model,
            row["average_precision"],
            row["base_rate"],
            row["roc_auc"],
            row["cv_ap_mean"],
            row["cv_ap_sd"],
            " (selected)" if row["selected"] else "",
        )
    metrics = pd.DataFrame(rows)
    return metrics.astype({"n_test": np.int64, "selected": bool})


def score_matrix(predictions: pd.DataFrame) -> tuple[np.ndarray, pd.DataFrame]:
    """Return the test labels and a (rows x models) score table, models by
    name and rows by their values (label, then scores: ``common.content_order``),
    so that no sum over them (a Brier score, a mean score) follows the ids,
    which change with the pseudonymisation key. The rows must already be checked."""
    wide = predictions.pivot(index="referral_id", columns="model", values="score")
    wide = wide.sort_index(axis=1)
    labels = (
        predictions.drop_duplicates("referral_id")
        .set_index("referral_id")["label"]
        .loc[wide.index]
        .to_numpy(dtype=int)
    )
    order = content_order(np.column_stack([labels, wide.to_numpy()]))
    return labels[order], wide.iloc[order]


def evaluate_all(
    predictions: pd.DataFrame,
    cv_results: pd.DataFrame,
    outcome: str,
    design: str,
    success_threshold: float = 0.65,
    decision_threshold: float = 0.5,
    top_k_percent: Sequence[float] = TOP_K_PERCENT,
    bootstrap_resamples: int = BOOTSTRAP_RESAMPLES,
    seed: int = 0,
    calibration_bins: int = CALIBRATION_BINS,
    families: pd.Series | None = None,
) -> dict[str, pd.DataFrame]:
    """Return the ``metrics``, ``details``, ``thresholds`` and ``calibration``
    tables of one outcome x design. ``families`` (indexed by referral_id, as
    ``common.families_by_referral`` gives) makes the bootstrap resample whole
    families; without it, rows."""
    metrics = evaluate(
        predictions, cv_results, outcome, design, success_threshold, decision_threshold
    )
    labels, wide = score_matrix(predictions)
    groups = None
    if families is not None:
        unknown = wide.index.difference(families.index)
        if len(unknown):
            raise ValueError(
                f"{outcome} / {design}: {len(unknown)} test rows (e.g. {unknown[0]}) "
                "are not in the cohort; rerun build_cohort and train_models."
            )
        groups = family_numbers(
            families.loc[wide.index].to_numpy(), np.column_stack([labels, wide.to_numpy()])
        )
    resampled = bootstrap_average_precision(
        labels, wide.to_numpy(), bootstrap_resamples, seed, groups
    )
    # by the resamples' own arithmetic, so that a resample equal to the test
    # set counts as a tie in bias_corrected_interval, not by rounding
    observed = np.array(
        [
            resampled_average_precision(labels, column, np.ones(len(labels)))
            for column in wide.T.to_numpy()
        ]
    )[:, 0]
    method = "by family" if families is not None else "by row"
    valid = np.isfinite(resampled).sum(axis=1)
    logger.info(
        "%s / %s: %d bootstrap resamples %s, %d with a positive case",
        outcome,
        design,
        bootstrap_resamples,
        method,
        valid.min(),
    )
    if valid.min() < bootstrap_resamples:
        logger.warning(
            "%s / %s: %d of %d bootstrap resamples hold no positive case and are left "
            "out of the intervals: the test set has few positives, so read its "
            "intervals as rough.",
            outcome,
            design,
            bootstrap_resamples - valid.min(),
            bootstrap_resamples,
        )
    lower, upper = bias_corrected_interval(resampled, observed)
    differences = {
        prefix: paired_differences(resampled, observed, list(wide.columns), name)
        for prefix, name in BASELINE_COLUMNS.items()
    }
    key = {"outcome": outcome, "design": design}
    details, thresholds, calibration = [], [], []
    for i, model in enumerate(wide.columns):
        scores = wide[model].to_numpy()
        probabilities = is_probability(model, scores)
        thresholded = is_thresholded(model)
        row = metrics.loc[metrics["model"] == model].iloc[0].to_dict()
        row |= rich_metrics(labels, scores, decision_threshold, probabilities, thresholded)
        row |= {
            "bootstrap_resamples": int(bootstrap_resamples),
            "bootstrap_valid": int(valid[i]),
            "bootstrap_method": method,
            "ap_ci_lower": float(lower[i]),
            "ap_ci_upper": float(upper[i]),
            "verdict": verdict(lower[i], upper[i], success_threshold),
        }
        for prefix, (difference_lower, difference_upper) in differences.items():
            row[f"{prefix}_lower"] = float(difference_lower[i])
            row[f"{prefix}_upper"] = float(difference_upper[i])
        details.append(row)
        logger.info(
            "%s / %s / %s: test AP %.3f, 95%% interval %.3f to %.3f against %.2f: %s",
            outcome,
            design,
            model,
            row["average_precision"],
            lower[i],
            upper[i],
            success_threshold,
            row["verdict"],
        )
        table = threshold_table(labels, scores, decision_threshold, top_k_percent, thresholded)
        thresholds.append(table.assign(**key, model=model))
        if probabilities:
            bins = calibration_table(labels, scores, calibration_bins)
            calibration.append(bins.assign(**key, model=model))
        else:
            logger.info("%s: scores are not probabilities; no calibration", model)
    details = pd.DataFrame(details).astype(
        {"n_test": np.int64, "n_positive": np.int64, "n_flagged": "Int64", "selected": bool}
    )
    calibration_frame = (
        pd.concat(calibration, ignore_index=True)
        if calibration
        else pd.DataFrame(columns=CALIBRATION_SCHEMA.names)
    )
    return {
        "metrics": metrics,
        "details": details[DETAILS_SCHEMA.names],
        "thresholds": pd.concat(thresholds, ignore_index=True)[THRESHOLDS_SCHEMA.names],
        "calibration": calibration_frame[CALIBRATION_SCHEMA.names],
    }


def main(snakemake) -> None:
    """Read predictions and CV results, evaluate, and write the four tables."""
    predictions = read_parquet(snakemake.input.predictions, "predictions")
    cv_results = read_parquet(snakemake.input.cv_results, "cv_results")
    families = families_by_referral(read_parquet(snakemake.input.cohort, "cohort"))
    params = snakemake.params
    tables = evaluate_all(
        predictions,
        cv_results,
        outcome=str(params.outcome),
        design=str(params.design),
        success_threshold=float(params.success_threshold),
        decision_threshold=float(params.decision_threshold),
        top_k_percent=[float(k) for k in params.top_k_percent],
        bootstrap_resamples=int(params.bootstrap_resamples),
        seed=int(params.seed),
        calibration_bins=int(params.calibration_bins),
        families=families,
    )
    write_parquet(tables["metrics"], snakemake.output.metrics, "metrics")
    write_parquet(tables["details"], snakemake.output.details, DETAILS_SCHEMA)
    write_parquet(tables["thresholds"], snakemake.output.thresholds, THRESHOLDS_SCHEMA)
    write_parquet(tables["calibration"], snakemake.output.calibration, CALIBRATION_SCHEMA)


if __name__ == "__main__":
    from common import run

    run(lambda: main(snakemake), snakemake.log[0])  # noqa: F821
