"""Tests for bench/fairness_interval_coverage.py."""

import importlib.util
from pathlib import Path

import numpy as np

import assess_fairness
import evaluate_models

BENCH = Path(__file__).resolve().parents[1] / "bench" / "fairness_interval_coverage.py"
spec = importlib.util.spec_from_file_location("fairness_interval_coverage", BENCH)
fairness_interval_coverage = importlib.util.module_from_spec(spec)
spec.loader.exec_module(fairness_interval_coverage)

TINY = {"replications": 12, "n_resamples": 40, "seed": 3, "population": 5_000}


def a_setting() -> "fairness_interval_coverage.Setting":
    """A setting whose groups have positives and flagged rows in most draws."""
    return fairness_interval_coverage.Setting(
        "test", 60, 200, 0.6, 0.0, -0.7, {"false_negative_rate": 0.3}, {"false_negative_rate": 0.4}
    )


def test_the_intervals_are_the_workflows_own(monkeypatch):
    monkeypatch.setattr(assess_fairness, "metric_interval", lambda *args: (-7.0, 7.0))
    monkeypatch.setattr(assess_fairness, "ratio_interval", lambda *args: (-5.0, 5.0))
    monkeypatch.setattr(evaluate_models, "percentile_interval", lambda samples: (-3.0, 3.0))
    record = fairness_interval_coverage.replicate(a_setting(), 20, np.random.default_rng(0))
    for metric in fairness_interval_coverage.METRICS:
        assert record[(metric, "rate")]["workflow"] == (-7.0, 7.0)
        assert record[(metric, "ratio")]["workflow"] == (-5.0, 5.0)
        assert record[(metric, "rate")]["plain"] == (-3.0, 3.0)
        assert record[(metric, "ratio")]["plain"] == (-3.0, 3.0)


def test_a_tiny_run_gives_miss_rates_between_0_and_1_and_repeats_itself():
    table = fairness_interval_coverage.coverage_table(**TINY)
    assert table == fairness_interval_coverage.coverage_table(**TINY)
    rows = [line.strip("| ").split(" | ") for line in table.splitlines()[2:]]
    assert len(rows) == 8 * 4
    for row in rows:
        for cell in (row[5], row[7], row[10], row[11]):
            below, above = (float(part.split("%")[0]) for part in cell.split(" / "))
            assert 0 <= below <= 100 and 0 <= above <= 100 and below + above <= 100
    assert table != fairness_interval_coverage.coverage_table(**(TINY | {"seed": 4}))


def test_each_interval_holds_its_observed_value_in_most_replications():
    setting = a_setting()
    records = fairness_interval_coverage.run_setting(setting, 30, 100, 0, 0)
    for key in records[0]:
        for method in fairness_interval_coverage.METHODS:
            held = [
                r[key][method][0] <= r[key]["observed"] <= r[key][method][1]
                for r in records
                if not np.isnan(r[key]["observed"])
            ]
            assert len(held) >= 20 and np.mean(held) >= 0.9, (key, method)


def test_coverage_counts_misses_at_each_end():
    records = [
        {"q": {"observed": 0.5, "at_bound": False, "plain": p, "workflow": w}}
        for p, w in [((0.6, 0.9), (0.1, 0.9)), ((0.1, 0.3), (0.1, 0.9)), ((0.2, 0.8), (0.3, 0.4))]
    ]
    result = fairness_interval_coverage.coverage(records, "q", 0.5)
    assert result["plain"]["miss_below"] == result["plain"]["miss_above"] == 1 / 3
    assert result["workflow"]["miss_below"] == 0 and result["workflow"]["miss_above"] == 1 / 3
    assert result["workflow"]["median_width"] == 0.8
