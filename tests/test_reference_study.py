"""Tests for the paired comparison of bench/reference_study.py."""

import importlib.util
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from sklearn.metrics import average_precision_score

BENCH = Path(__file__).resolve().parents[1] / "bench" / "reference_study.py"
spec = importlib.util.spec_from_file_location("reference_study", BENCH)
reference_study = importlib.util.module_from_spec(spec)
spec.loader.exec_module(reference_study)


def toy_scores(n_rows: int = 400, seed: int = 1) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Labels, a score that follows them and a score that ignores them."""
    rng = np.random.default_rng(seed)
    labels = (rng.random(n_rows) < 0.15).astype(int)
    informative = labels + rng.normal(0, 0.6, n_rows)
    uninformative = rng.random(n_rows)
    return labels, informative, uninformative


def test_identical_models_differ_by_exactly_zero():
    labels, informative, _ = toy_scores()
    difference = reference_study.paired_ap_difference(labels, informative, informative, 200, 0)
    assert difference == {
        "ap_difference": 0.0,
        "ap_difference_lower": 0.0,
        "ap_difference_upper": 0.0,
    }


def test_a_clearly_better_model_has_an_interval_above_zero():
    labels, informative, uninformative = toy_scores()
    difference = reference_study.paired_ap_difference(labels, informative, uninformative, 200, 0)
    assert difference["ap_difference"] == pytest.approx(
        average_precision_score(labels, informative)
        - average_precision_score(labels, uninformative)
    )
    assert 0 < difference["ap_difference_lower"] < difference["ap_difference"]
    assert difference["ap_difference"] < difference["ap_difference_upper"]


def test_swapping_the_models_mirrors_the_difference_and_its_interval():
    labels, informative, uninformative = toy_scores()
    forward = reference_study.paired_ap_difference(labels, informative, uninformative, 200, 4)
    backward = reference_study.paired_ap_difference(labels, uninformative, informative, 200, 4)
    assert backward["ap_difference"] == pytest.approx(-forward["ap_difference"])
    assert backward["ap_difference_lower"] == pytest.approx(-forward["ap_difference_upper"])
    assert backward["ap_difference_upper"] == pytest.approx(-forward["ap_difference_lower"])


def test_pairing_narrows_the_interval_of_two_similar_models():
    """Two models that rank alike share each resample's luck, so the interval of
    their difference is far narrower than either model's own interval."""
    labels, informative, _ = toy_scores()
    rng = np.random.default_rng(9)
    similar = informative + rng.normal(0, 0.05, len(labels))
    difference = reference_study.paired_ap_difference(labels, informative, similar, 300, 0)
    own = reference_study.bootstrap_average_precision(labels, informative, 300, 0)[0]
    own_lower, own_upper = reference_study.percentile_interval(own)
    paired_width = difference["ap_difference_upper"] - difference["ap_difference_lower"]
    assert paired_width < 0.5 * (own_upper - own_lower)
    assert difference["ap_difference_lower"] <= 0 <= difference["ap_difference_upper"]


def test_our_test_scores_are_the_selected_models_by_referral(tmp_path):
    folder = tmp_path / "models" / "escalation" / "time_text"
    folder.mkdir(parents=True)
    pd.DataFrame(
        {
            "referral_id": ["r1", "r2", "r1", "r2"],
            "model": ["lightgbm", "lightgbm", "decision_tree", "decision_tree"],
            "label": [1, 0, 1, 0],
            "score": [0.9, 0.2, 0.5, 0.5],
        }
    ).to_parquet(folder / "predictions.parquet")
    (tmp_path / "cohort").mkdir()
    pd.DataFrame(
        {"referral_id": ["r2", "r1"], "child_id": ["c2", "c1"], "family_id": [None, "f1"]}
    ).to_parquet(tmp_path / "cohort" / "escalation.parquet")
    scores = reference_study.our_test_scores(tmp_path, "escalation", "time_text", "lightgbm")
    assert scores.index.tolist() == ["r1", "r2"]
    assert scores["score"].tolist() == [0.9, 0.2]
    assert scores["label"].tolist() == [1, 0]
    assert scores["family"].tolist() == ["f1", "child:c2"]


def test_the_reference_shares_structured_features_and_text_flags(tmp_path):
    folder = tmp_path / "features" / "escalation"
    folder.mkdir(parents=True)
    time = pd.Timestamp("2020-01-01")
    pd.DataFrame(
        {"referral_id": ["r1", "r2"], "n_previous_referrals": [0.0, 2.0], "feature_time": time}
    ).to_parquet(folder / "structured.parquet")
    pd.DataFrame(
        {"referral_id": ["r2", "r1"], "flag_missing": [1.0, 0.0], "feature_time": time}
    ).to_parquet(folder / "text_flags.parquet")
    ids = pd.Index(["r2", "r1"])
    text = reference_study.shared_features(tmp_path, "escalation", "text", ids)
    assert text.index.tolist() == ["r2", "r1"]
    assert text.to_dict("list") == {"n_previous_referrals": [2.0, 0.0], "flag_missing": [1.0, 0.0]}
    structured = reference_study.shared_features(tmp_path, "escalation", "structured", ids)
    assert structured.columns.tolist() == ["n_previous_referrals"]
