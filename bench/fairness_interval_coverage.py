"""Coverage of the fairness table's intervals for a small group's rates and ratios.

``assess_fairness`` gives each group's rates and their ratios to the reference
group bias-corrected (BC) bootstrap percentile intervals, falling back to the
Wilson interval for a rate at 0 or 1 and to the ratio of the two intervals' ends
for a ratio of such a rate. This measures, by simulation, how often those
intervals miss the true value below and above, and how wide they are, beside
plain 2.5th-97.5th bootstrap percentiles (``evaluate_models.percentile_interval``)
of the same resamples. Both are computed by the workflow's own functions
(``assess_fairness.group_metrics``, ``resampled_group_metrics`` and
``metric_columns``; ``evaluate_models.bootstrap_counts`` by family).

Data: families of 1-3 children (shares 0.5, 0.3, 0.2) share a family effect on
the logit of risk; a child's risk also depends on a feature the model sees,
whose mean is shifted per group to give the group's base rate, and on a
child effect the model does not see. A fixed scoring model sees the feature and
a noisy view of the family effect, and flags a child when its score is at least
0.5; its offset makes it flag 6% ("few flagged") or 25% ("many flagged") of the
reference group. Settings: a small group of 30 or 60 rows with a base rate of
6% or 16% against a reference of 200 or 400 rows at 10%. The truth is each
group's rate in a draw of ``--population`` rows; a ratio's truth is the ratio
of the true rates. Per replication, both groups are drawn afresh and resampled
``--resamples`` times by family. A replication counts for a quantity when its
observed value is defined (e.g. a false negative rate needs a positive case).

    nice -n 10 .venv/bin/python bench/fairness_interval_coverage.py \\
        --replications 2000 --resamples 200 --seed 0

``--quick`` runs a few replications on a small population (seconds; for tests).
The output is a markdown table, the same for the same arguments.
"""

import argparse
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "workflow" / "scripts"))

import assess_fairness  # noqa: E402
import evaluate_models  # noqa: E402

FAMILY_SIZES = np.array([1, 2, 3])
FAMILY_SIZE_SHARES = np.array([0.5, 0.3, 0.2])
FAMILY_SD = 1.0
FEATURE_NOISE_SD = 0.5
CHILD_SD = 0.7
INTERCEPT = -2.9
THRESHOLD = 0.5
REFERENCE_BASE_RATE = 0.10
SMALL_BASE_RATES = (0.06, 0.16)
FLAGGED_SHARES = {"few flagged": 0.06, "many flagged": 0.25}
GROUP_SIZES = ((30, 200), (60, 400))
METRICS = {"false_negative_rate": "FNR", "flagged_share": "share flagged"}
METHODS = ("plain", "workflow")
BAND = (0.8, 1.25)
BISECTION_STEPS = 25


@dataclass(frozen=True)
class Setting:
    """One simulated comparison of a small group with the reference group."""

    name: str
    n_small: int
    n_reference: int
    small_shift: float
    reference_shift: float
    score_offset: float
    small_truth: dict[str, float]
    reference_truth: dict[str, float]


def draw_group(
    n_rows: int, shift: float, score_offset: float, rng: np.random.Generator
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Draw ``n_rows`` children in families of 1-3: labels, scores and family numbers."""
    # every family has a child, so n_rows families always hold n_rows children;
    # the last one kept is cut short to give the group exactly n_rows
    sizes = rng.choice(FAMILY_SIZES, size=n_rows, p=FAMILY_SIZE_SHARES)
    sizes = sizes[: np.searchsorted(np.cumsum(sizes), n_rows) + 1]
    families = np.repeat(np.arange(len(sizes)), sizes)[:n_rows]
    family_effect = rng.normal(0, FAMILY_SD, len(sizes))[families]
    family_seen = family_effect + rng.normal(0, FEATURE_NOISE_SD, len(sizes))[families]
    feature = rng.normal(shift, 1, n_rows)
    child_effect = rng.normal(0, CHILD_SD, n_rows)
    risk = 1 / (1 + np.exp(-(INTERCEPT + feature + family_effect + child_effect)))
    labels = rng.random(n_rows) < risk
    scores = 1 / (1 + np.exp(-(score_offset + 0.9 * feature + 0.8 * family_seen)))
    return labels, scores, families


def true_rates(shift: float, score_offset: float, n_rows: int, seed: int) -> dict[str, float]:
    """Base rate, false negative rate and share flagged of a group in a draw of ``n_rows``."""
    labels, scores, _ = draw_group(n_rows, shift, score_offset, np.random.default_rng(seed))
    flagged = scores >= THRESHOLD
    return {
        "base_rate": float(labels.mean()),
        "false_negative_rate": float((labels & ~flagged).sum() / labels.sum()),
        "flagged_share": float(flagged.mean()),
    }


def bisect(increasing: Callable[[float], float], target: float, low: float, high: float) -> float:
    """The argument in [low, high] where the increasing function reaches ``target``."""
    for _ in range(BISECTION_STEPS):
        middle = (low + high) / 2
        low, high = (middle, high) if increasing(middle) < target else (low, middle)
    return (low + high) / 2


def make_settings(n_rows: int, seed: int) -> list[Setting]:
    """The settings, with each group's shift and the model's offsets fitted on
    draws of ``n_rows`` from one seed (the same draws at every step, so the
    fitted rate is monotone) and the groups' true rates from a fresh draw."""

    def base_rate(shift: float) -> float:
        return true_rates(shift, 0.0, n_rows, seed)["base_rate"]

    shifts = {
        rate: bisect(base_rate, rate, -4.0, 4.0)
        for rate in (*SMALL_BASE_RATES, REFERENCE_BASE_RATE)
    }
    reference_shift = shifts[REFERENCE_BASE_RATE]

    def flagged_share(offset: float) -> float:
        return true_rates(reference_shift, offset, n_rows, seed)["flagged_share"]

    offsets = {
        regime: bisect(flagged_share, share, -8.0, 8.0) for regime, share in FLAGGED_SHARES.items()
    }
    settings = []
    for regime, offset in offsets.items():
        reference_truth = true_rates(reference_shift, offset, n_rows, seed + 1)
        for rate in SMALL_BASE_RATES:
            small_truth = true_rates(shifts[rate], offset, n_rows, seed + 1)
            for n_small, n_reference in GROUP_SIZES:
                name = f"{regime}, {n_small}@{rate:.0%} vs {n_reference}@{REFERENCE_BASE_RATE:.0%}"
                settings.append(
                    Setting(
                        name,
                        n_small,
                        n_reference,
                        shifts[rate],
                        reference_shift,
                        offset,
                        small_truth,
                        reference_truth,
                    )
                )
    return settings


def group_resamples(
    n_rows: int, shift: float, score_offset: float, n_resamples: int, rng: np.random.Generator
) -> tuple[dict, dict]:
    """Draw a group and resample it by family: its metrics and their resamples."""
    labels, scores, families = draw_group(n_rows, shift, score_offset, rng)
    flagged = scores >= THRESHOLD
    counts = np.concatenate(
        list(evaluate_models.bootstrap_counts(n_rows, n_resamples, rng, groups=families))
    )
    point = assess_fairness.group_metrics(labels, scores, flagged, families)
    resampled = assess_fairness.resampled_group_metrics(labels, scores, flagged, counts)
    return point, resampled


def interval_pair(interval: tuple) -> tuple[float, float]:
    """An interval's two ends as floats."""
    return float(interval[0]), float(interval[1])


def replicate(setting: Setting, n_resamples: int, rng: np.random.Generator) -> dict:
    """One replication: per metric, the small group's rate and its ratio to the
    reference, each with its observed value, whether a rate it rests on sits at
    0 or 1 (where the workflow falls back from the bootstrap) and both methods'
    intervals."""
    small = group_resamples(
        setting.n_small, setting.small_shift, setting.score_offset, n_resamples, rng
    )
    reference = group_resamples(
        setting.n_reference, setting.reference_shift, setting.score_offset, n_resamples, rng
    )
    out = {}
    for metric in METRICS:
        columns = assess_fairness.metric_columns(
            metric, *small, *reference, is_reference=False, band=BAND
        )
        at_bound = [
            point[f"{metric}_denominator"] > 0
            and point[f"{metric}_numerator"] in (0, point[f"{metric}_denominator"])
            for point in (small[0], reference[0])
        ]
        resampled_ratio = assess_fairness.divide(small[1][metric], reference[1][metric])
        out[(metric, "rate")] = {
            "observed": columns[metric],
            "at_bound": at_bound[0],
            "plain": interval_pair(evaluate_models.percentile_interval(small[1][metric])),
            "workflow": (columns[f"{metric}_lower"], columns[f"{metric}_upper"]),
        }
        out[(metric, "ratio")] = {
            "observed": columns[f"{metric}_ratio"],
            "at_bound": any(at_bound),
            "plain": interval_pair(evaluate_models.percentile_interval(resampled_ratio)),
            "workflow": (columns[f"{metric}_ratio_lower"], columns[f"{metric}_ratio_upper"]),
        }
    return out


def run_setting(
    setting: Setting, replications: int, n_resamples: int, seed: int, number: int
) -> list[dict]:
    """All replications of one setting, drawn from ``seed`` and the setting's number."""
    rng = np.random.default_rng([seed, number])
    return [replicate(setting, n_resamples, rng) for _ in range(replications)]


def method_coverage(intervals: list[tuple[float, float]], true_value: float) -> dict:
    """The share of ``intervals`` lying above ``true_value`` (a miss below) and
    below it (a miss above), and their median width (0 for an interval of one
    point, even an infinite one), over those with both ends defined."""
    ends = np.array(intervals, dtype=float).reshape(-1, 2)
    lower, upper = ends[~np.isnan(ends).any(axis=1)].T
    if not len(lower):
        return {"counted": 0, "miss_below": np.nan, "miss_above": np.nan, "median_width": np.nan}
    with np.errstate(invalid="ignore"):
        width = np.where(upper == lower, 0.0, upper - lower)
    return {
        "counted": len(lower),
        "miss_below": float(np.mean(true_value < lower)),
        "miss_above": float(np.mean(true_value > upper)),
        "median_width": float(np.median(width)),
    }


def coverage(records: list[dict], key: tuple[str, str], true_value: float) -> dict:
    """Each method's ``method_coverage`` of one quantity over the replications
    where its observed value is defined (with their number and the share of
    them resting on a rate at 0 or 1), and again over those where no rate sits
    at 0 or 1 (under ``"bootstrapped"``: there the workflow's interval is BC)."""
    defined = [r[key] for r in records if not np.isnan(r[key]["observed"])]
    bootstrapped = [r for r in defined if not r["at_bound"]]
    out = {
        "replications": len(defined),
        "at_bound": 1 - len(bootstrapped) / len(defined) if defined else np.nan,
        "bootstrapped": {"replications": len(bootstrapped)},
    }
    for method in METHODS:
        out[method] = method_coverage([r[method] for r in defined], true_value)
        out["bootstrapped"][method] = method_coverage([r[method] for r in bootstrapped], true_value)
    return out


def true_value(setting: Setting, metric: str, quantity: str) -> float:
    """The true rate of the setting's small group, or its ratio to the reference's."""
    small = setting.small_truth[metric]
    return small if quantity == "rate" else small / setting.reference_truth[metric]


def miss_cell(result: dict, replications: int) -> str:
    """A method's miss rates below / above in per cent, with the number of
    intervals counted when some of the ``replications`` had none."""
    cell = f"{result['miss_below']:.1%} / {result['miss_above']:.1%}"
    if result["counted"] < replications:
        cell += f" ({result['counted']} defined)"
    return cell


def markdown_table(rows: list[tuple[str, str, float, dict]]) -> str:
    """The coverage rows as a markdown table (miss rates in per cent)."""
    lines = [
        "| setting | quantity | true | replications | at 0 or 1 | plain: miss below / above"
        " | plain: median width | workflow: miss below / above | workflow: median width"
        " | not at 0 or 1: replications | plain: miss below / above | BC: miss below / above |",
        "|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for setting, quantity, truth, result in rows:
        cells = [setting, quantity, f"{truth:.3f}", str(result["replications"])]
        cells.append(f"{result['at_bound']:.0%}")
        for method in METHODS:
            cells.append(miss_cell(result[method], result["replications"]))
            cells.append(f"{result[method]['median_width']:.3f}")
        bootstrapped = result["bootstrapped"]
        cells.append(str(bootstrapped["replications"]))
        cells += [miss_cell(bootstrapped[m], bootstrapped["replications"]) for m in METHODS]
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


def coverage_table(replications: int, n_resamples: int, seed: int, population: int) -> str:
    """Simulate every setting and return the markdown table of coverage."""
    rows = []
    for number, setting in enumerate(make_settings(population, seed)):
        records = run_setting(setting, replications, n_resamples, seed, number)
        for metric, short in METRICS.items():
            for quantity, label in (("rate", short), ("ratio", f"{short} ratio")):
                value = true_value(setting, metric, quantity)
                rows.append(
                    (setting.name, label, value, coverage(records, (metric, quantity), value))
                )
    return markdown_table(rows)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--replications", type=int, default=2000)
    parser.add_argument("--resamples", type=int, default=200)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--population", type=int, default=1_000_000)
    parser.add_argument("--quick", action="store_true", help="20 replications of 50 resamples")
    args = parser.parse_args()
    if args.quick:
        args.replications, args.resamples, args.population = 20, 50, 20_000
    print(coverage_table(args.replications, args.resamples, args.seed, args.population))


if __name__ == "__main__":
    main()
