"""Tests for workflow/scripts/refit_bootstrap.py."""

import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from sklearn.metrics import average_precision_score

sys.path.insert(0, str(Path(__file__).parent))

from test_make_splits import toy_cohort, toy_features  # noqa: E402

from evaluate_models import bias_corrected_interval, percentile_interval  # noqa: E402
from explain_selected_model import fit_selected_model, outer_split, selected_model  # noqa: E402
from make_splits import make_splits  # noqa: E402
from refit_bootstrap import (  # noqa: E402
    family_resample,
    refit_bootstrap,
    refit_interval,
    selected_test_average_precision,
)
from render_report import refit_bootstrap_section  # noqa: E402
from train_models import train_models  # noqa: E402

PARAMS = {"C": 1.0, "penalty": "l2"}


def test_resamples_draw_whole_families_with_replacement():
    families = pd.Series(["a", "a", "b", "c", "c", "c"])
    numbers = np.array([0, 0, 1, 2, 2, 2])
    positions = family_resample(numbers, np.random.default_rng(3))
    drawn = families.iloc[positions]
    # every drawn family comes with all its rows, as often as it is drawn
    for family, count in drawn.value_counts().items():
        assert count % int((families == family).sum()) == 0
    assert drawn.nunique() <= 3
    again = family_resample(numbers, np.random.default_rng(3))
    assert np.array_equal(positions, again)


def test_refits_are_seeded_and_score_the_test_rows():
    cohort = toy_cohort(n_families=80, seed=2)
    features = toy_features(cohort, n_noise=2, seed=2)
    splits = make_splits(cohort, "random", 0.4, 3, seed=1)
    data = outer_split(cohort, splits, features, None, "random_structured")
    args = (data.families, data.labels, data.X_train, data.X_test, data.y_test)
    table = refit_bootstrap("logistic_regression", PARAMS, *args, resamples=3, seed=7)
    assert table["resample"].tolist() == [0, 1, 2]
    assert table["test_average_precision"].between(0, 1).all()
    # the planted signal is found whichever families train the model
    assert table["test_average_precision"].min() > data.y_test.mean()
    again = refit_bootstrap("logistic_regression", PARAMS, *args, resamples=3, seed=7)
    pd.testing.assert_frame_equal(table, again)
    one_class = data.labels * 0
    args = (data.families, one_class, data.X_train, data.X_test, data.y_test)
    assert (
        refit_bootstrap("logistic_regression", PARAMS, *args, 1, 7)["test_average_precision"]
        .isna()
        .all()
    )


def test_the_refit_interval_is_bias_corrected_about_the_full_refits_test_ap():
    # refits' test APs mostly below the full refit's, as with few positive
    # cases: the plain percentiles would sit too low about it
    valid = np.random.default_rng(0).beta(2, 8, size=400)
    low, high = refit_interval(pd.Series(np.r_[valid, np.nan]), 0.3)
    corrected = bias_corrected_interval(valid, 0.3)
    plain = percentile_interval(valid)
    assert (low, high) == (float(corrected[0][0]), float(corrected[1][0]))
    assert low > float(plain[0]) + 0.02 and high > float(plain[1]) + 0.02


def test_the_interval_centres_on_trainings_own_full_refit():
    # the refit log reads the full refit's test AP from training's predictions
    # instead of fitting it again: the two must be the same model's
    cohort = toy_cohort(n_families=80, seed=4)
    features = toy_features(cohort, n_noise=2, seed=4)
    splits = make_splits(cohort, "random", 0.4, 3, seed=1)
    models = {"search_iterations": 2, "logistic_regression": {"C": [0.1, 1.0], "penalty": ["l2"]}}
    predictions, cv_results, _ = train_models(
        cohort, splits, features, None, "random_structured", models, 9
    )
    name, params = selected_model(cv_results)
    data = outer_split(cohort, splits, features, None, "random_structured")
    refitted = fit_selected_model(name, params, data, 9)
    expected = average_precision_score(data.y_test, refitted.predict_proba(data.X_test)[:, 1])
    assert selected_test_average_precision(predictions, name) == expected
    with pytest.raises(ValueError, match="no test scores of the selected model tree"):
        selected_test_average_precision(predictions, "tree")


def test_report_shows_both_intervals():
    summary = pd.DataFrame(
        {
            "outcome": ["esc"],
            "design": ["time_text"],
            "average_precision": [0.4],
            "ap_ci_lower": [0.3],
            "ap_ci_upper": [0.5],
        }
    )
    resamples = pd.DataFrame(
        {
            "outcome": "esc",
            "design": "time_text",
            "test_average_precision": np.r_[np.linspace(0.2, 0.6, 41), np.nan],
        }
    )
    section = refit_bootstrap_section(resamples, summary)
    assert "0.300 to 0.500" in section
    # bias-corrected about the test AP, as the refit log's (refit_interval)
    low, high = refit_interval(resamples["test_average_precision"], 0.4)
    assert f"{low:.3f} to {high:.3f}" in section
    assert "41 of 42" in section
