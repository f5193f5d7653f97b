"""The summary keeps one row per outcome x design: the selected model and the baseline."""

from __future__ import annotations

import pandas as pd

from common import SCHEMAS
from render_report import verdict_table
from report_wording import Disclosure, shareable_summary
from summarise_results import summarise


def metrics_row(outcome: str, design: str, model: str, selected: bool, ap: float) -> dict:
    return {
        "outcome": outcome,
        "design": design,
        "model": model,
        "selected": selected,
        "n_test": 100,
        "base_rate": 0.1,
        "average_precision": ap,
        "roc_auc": 0.7,
        "precision": 0.3,
        "recall": 0.4,
        "cv_ap_mean": 0.3,
        "cv_ap_sd": 0.05,
        "cv_ap_lower_bound": 0.25,
        "success_threshold": 0.65,
    }


def test_summary_has_the_selected_model_and_the_baseline_per_design():
    rows = []
    for design in ("random_text", "time_text"):
        rows += [
            metrics_row("esc", design, "lightgbm", True, 0.7),
            metrics_row("esc", design, "logistic_regression", False, 0.5),
            metrics_row("esc", design, "previous_referrals", False, 0.2),
            metrics_row("esc", design, "best_single_feature", False, 0.3),
        ]
    metrics = pd.DataFrame(rows)
    details = metrics[["outcome", "design", "model"]].assign(
        ap_ci_lower=0.66,
        ap_ci_upper=0.74,
        verdict="meets the bar",
        ap_minus_baseline_lower=0.4,
        ap_minus_baseline_upper=0.6,
        ap_minus_best_feature_lower=0.3,
        ap_minus_best_feature_upper=0.5,
    )
    summary = summarise(metrics, details, "time_text")
    assert summary["model"].tolist() == ["lightgbm", "lightgbm"]
    # the summary records which design answers the outcome
    assert summary.set_index("design")["decides"].to_dict() == {
        "random_text": False,
        "time_text": True,
    }
    assert not summarise(metrics, details, "time_structured")["decides"].any()
    assert summary["baseline_average_precision"].tolist() == [0.2, 0.2]
    assert summary["ap_minus_baseline_lower"].tolist() == [0.4, 0.4]
    assert summary["best_feature_average_precision"].tolist() == [0.3, 0.3]
    table = verdict_table(summary, Disclosure(min_count=10))
    assert table["verdict"].tolist() == ["meets the bar", "meets the bar"]
    assert table["AP less baseline (95%)"].tolist() == ["+0.400 to +0.600"] * 2
    assert "selected" not in summary.columns
    # the verdict is the answer: no point-estimate flag beside it to contradict it
    assert set(summary.columns) == set(SCHEMAS["summary"].names)


def test_the_csv_copy_hides_what_the_report_hides():
    # Snakemake's report shows summary.csv. The bundled LA's NFA re-referral
    # (time-ordered with text): 402 test cases, 23 with the outcome, 2 found of
    # the 8 flagged at the decision threshold; its escalation: 23 of 48 flagged.
    summary = pd.DataFrame(
        [
            metrics_row("nfa", "time_text", "lightgbm", True, 0.2),
            metrics_row("esc", "time_text", "lightgbm", True, 0.3),
            metrics_row("few", "time_text", "lightgbm", True, 0.3),
        ]
    ).assign(
        n_test=[402, 470, 8],
        base_rate=[23 / 402, 49 / 470, 0.5],
        precision=[2 / 8, 23 / 48, 0.5],
        recall=[2 / 23, 23 / 49, 0.5],
    )
    shared = shareable_summary(summary, Disclosure(min_count=10))
    assert shared["precision"].tolist() == ["suppressed", "0.4792", "suppressed"]
    assert shared["recall"].tolist() == ["suppressed", "0.4694", "suppressed"]
    assert shared["base_rate"].tolist() == ["0.0572", "0.1043", "suppressed"]
    assert shared["n_test"].tolist() == [402, 470, "<10"]
    assert shared["estimate"].tolist() == ["honest: future cases"] * 3
    assert list(shared.columns[:4]) == ["outcome", "design", "estimate", "model"]
    random = shareable_summary(summary.assign(design="random_text"), Disclosure(min_count=10))
    assert set(random["estimate"]) == {"optimistic: may learn from the future"}
    assert shared["average_precision"].tolist() == summary["average_precision"].tolist()
