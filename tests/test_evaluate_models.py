"""Tests for workflow/scripts/evaluate_models.py."""

from __future__ import annotations

import sys
import types

import numpy as np
import pandas as pd
import pytest

sys.path.insert(0, "workflow/scripts")

from evaluate_models import evaluate, holdout_metrics, main  # noqa: E402

from common import SCHEMAS, InputError, read_parquet, write_parquet  # noqa: E402

IDS = ["r1", "r2", "r3", "r4", "r5"]
LABELS = [1, 0, 1, 0, 0]
SCORES = {
    # AP 5/6, ROC AUC 5/6, at 0.5: 3 flagged, 2 true: precision 2/3, recall 1
    "lightgbm": [0.9, 0.8, 0.6, 0.3, 0.1],
    # ranked: neg, pos, neg, pos, neg: AP (1/2 + 2/4) / 2 = 1/2; ROC AUC 3/6;
    # at 0.5: 1 flagged, 0 true: precision 0, recall 0
    "logistic_regression": [0.45, 0.9, 0.4, 0.42, 0.1],
    # counts of previous referrals: AP 1; flagged (>= 0.5) when any earlier referral
    "previous_referrals": [2.0, 0.0, 1.0, 0.0, 0.0],
}
CV_AP = {
    # higher mean (0.75) but unstable: lower bound ~0.499
    ("lightgbm", 0): [0.9, 0.5, 0.85],
    ("lightgbm", 1): [0.1, 0.1, 0.1],
    # lower mean (0.7) but stable: lower bound 0.7 -> the study's choice
    ("logistic_regression", 0): [0.7, 0.7, 0.7],
    # the baseline has the best bound but is never the selected model
    ("previous_referrals", 0): [0.8, 0.8, 0.8],
}
SELECTED = {("lightgbm", 0), ("logistic_regression", 0), ("previous_referrals", 0)}


def predictions(scores: dict[str, list[float]] = SCORES, labels=LABELS) -> pd.DataFrame:
    return pd.DataFrame(
        [
            {"referral_id": rid, "model": model, "label": np.int8(y), "score": s}
            for model, values in scores.items()
            for rid, y, s in zip(IDS, labels, values, strict=True)
        ]
    )


def cv_results(cv_ap: dict = CV_AP) -> pd.DataFrame:
    return pd.DataFrame(
        [
            {
                "model": model,
                "candidate": candidate,
                "params": "{}",
                "fold": fold,
                "average_precision": ap,
                "selected": (model, candidate) in SELECTED,
            }
            for (model, candidate), values in cv_ap.items()
            for fold, ap in enumerate(values)
        ]
    )


@pytest.fixture(scope="module")
def metrics() -> pd.DataFrame:
    return evaluate(predictions(), cv_results(), "escalation", "time_text", 0.65, 0.5)


def test_hand_computed_test_metrics(metrics):
    row = metrics.set_index("model").loc["lightgbm"]
    assert row["n_test"] == 5
    assert row["base_rate"] == pytest.approx(0.4)
    assert row["average_precision"] == pytest.approx(5 / 6)
    assert row["roc_auc"] == pytest.approx(5 / 6)
    assert row["precision"] == pytest.approx(2 / 3)
    assert row["recall"] == pytest.approx(1.0)
    assert row["meets_threshold"]
    other = metrics.set_index("model").loc["logistic_regression"]
    assert other["average_precision"] == pytest.approx(0.5)
    assert other["roc_auc"] == pytest.approx(0.5)
    assert other["precision"] == 0.0 and other["recall"] == 0.0
    assert not other["meets_threshold"]
    baseline = metrics.set_index("model").loc["previous_referrals"]
    assert baseline["average_precision"] == pytest.approx(1.0)
    assert baseline["precision"] == 1.0 and baseline["recall"] == 1.0


def test_cv_summary_of_selected_candidate(metrics):
    row = metrics.set_index("model").loc["lightgbm"]
    values = np.array(CV_AP[("lightgbm", 0)])
    assert row["cv_ap_mean"] == pytest.approx(values.mean())
    assert row["cv_ap_sd"] == pytest.approx(values.std(ddof=1))
    assert row["cv_ap_lower_bound"] == pytest.approx(
        values.mean() - 1.96 * values.std(ddof=1) / np.sqrt(3)
    )


def test_selected_is_best_cv_lower_bound_never_baseline_never_test(metrics):
    # lightgbm has the better test AP and CV mean; the baseline the best bound.
    assert metrics.set_index("model")["selected"].to_dict() == {
        "lightgbm": False,
        "logistic_regression": True,
        "previous_referrals": False,
    }


def test_schema_and_columns(metrics):
    assert list(metrics.columns) == SCHEMAS["metrics"].names
    assert (metrics["outcome"] == "escalation").all()
    assert (metrics["design"] == "time_text").all()
    assert (metrics["success_threshold"] == 0.65).all()


def test_ties_count_against_the_model_and_threshold_is_inclusive():
    tied = holdout_metrics(np.array([1, 0]), np.array([0.5, 0.5]), 0.5)
    assert tied["average_precision"] == pytest.approx(0.5)
    assert tied["roc_auc"] == pytest.approx(0.5)
    assert tied["precision"] == pytest.approx(0.5) and tied["recall"] == 1.0
    none_flagged = holdout_metrics(np.array([1, 0]), np.array([0.2, 0.1]), 0.5)
    assert none_flagged["precision"] == 0.0 and none_flagged["recall"] == 0.0


def test_ap_equal_to_threshold_meets_it():
    out = evaluate(predictions(), cv_results(), "o", "d", success_threshold=0.5)
    assert out.set_index("model").loc["logistic_regression", "meets_threshold"]


@pytest.mark.parametrize("value", [0, 1])
def test_single_class_test_set_is_an_input_error(value):
    with pytest.raises(InputError, match="all .*(positive|negative)"):
        evaluate(predictions(labels=[value] * 5), cv_results(), "escalation", "time_text")


def test_models_must_share_test_rows():
    frame = predictions()
    frame = frame[~((frame["model"] == "lightgbm") & (frame["referral_id"] == "r5"))]
    with pytest.raises(ValueError, match="cannot be compared"):
        evaluate(frame, cv_results(), "escalation", "time_text")


def test_main_round_trip(tmp_path):
    write_parquet(predictions(), tmp_path / "predictions.parquet", "predictions")
    write_parquet(cv_results(), tmp_path / "cv_results.parquet", "cv_results")
    snakemake = types.SimpleNamespace(
        input=types.SimpleNamespace(
            predictions=str(tmp_path / "predictions.parquet"),
            cv_results=str(tmp_path / "cv_results.parquet"),
        ),
        params=types.SimpleNamespace(
            outcome="escalation", design="time_text", success_threshold=0.65, decision_threshold=0.5
        ),
        output=types.SimpleNamespace(metrics=str(tmp_path / "metrics.parquet")),
        log=[str(tmp_path / "log.txt")],
        threads=1,
    )
    main(snakemake)
    written = read_parquet(snakemake.output.metrics, "metrics")
    assert len(written) == 3
    assert written["selected"].sum() == 1
