"""A new pseudonymisation key renames every id, and so reorders them: the
time-ordered designs, which decide the answer, must give the same results.

Each test runs a stage on toy data, then again with every referral, child and
family id replaced by another keyed hash, and compares the two.
"""

from __future__ import annotations

import hashlib
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

sys.path.insert(0, "workflow/scripts")
sys.path.insert(0, str(Path(__file__).parent))

from test_assess_fairness import make_inputs  # noqa: E402
from test_make_splits import toy_cohort, toy_features, toy_records  # noqa: E402

from assess_fairness import assess_fairness  # noqa: E402
from common import (  # noqa: E402
    content_codes,
    content_order,
    families_by_referral,
    family_numbers,
)
from evaluate_models import evaluate_all, score_matrix  # noqa: E402
from explain_selected_model import outer_split, selected_model, selected_model_learning_curve  # noqa: E402
from make_splits import make_splits  # noqa: E402
from refit_bootstrap import refit_bootstrap  # noqa: E402
from train_models import train_models  # noqa: E402

ID_COLUMNS = ("referral_id", "child_id", "family_id")
SEED = 7
MODELS = {
    "search_iterations": 2,
    # undersampling draws negatives by position: in id order the key chose them
    "class_balance": "undersample",
    "undersample_ratio": 2.0,
    "lightgbm": {
        "n_estimators": [20, 40],
        "learning_rate": [0.1],
        "num_leaves": [7],
        "min_child_samples": [10],
        "colsample_bytree": [0.8],
        "reg_lambda": [0.0, 1.0],
    },
    "logistic_regression": {"C": [0.1, 1.0], "penalty": ["l1", "l2"]},
}


def new_key_id(value: str) -> str:
    """The id another key would give: a different hash, so a different order."""
    return hashlib.sha256(b"another key" + str(value).encode()).hexdigest()[:16]


def rekeyed(frame: pd.DataFrame) -> pd.DataFrame:
    """``frame`` with every id column renamed as another key would."""
    out = frame.copy()
    for column in ID_COLUMNS:
        if column in out.columns:
            out[column] = out[column].map(new_key_id, na_action="ignore").astype(str)
    return out


def old_ids(frame: pd.DataFrame, cohort: pd.DataFrame) -> pd.DataFrame:
    """``frame``'s referral ids as the first key gave them (renamed back if
    another key gave them), sorted as the stage sorts them."""
    back = {new_key_id(i): i for i in cohort["referral_id"]}
    out = frame.assign(referral_id=[back.get(i, i) for i in frame["referral_id"]])
    return out.sort_values([c for c in ("fold", "model", "referral_id") if c in out]).reset_index(
        drop=True
    )


@pytest.fixture(scope="module")
def base():
    """The time-ordered structured design of a toy LA, trained under the first key."""
    cohort = toy_cohort(n_families=110, seed=4)
    features = toy_features(cohort, n_noise=3, seed=4)
    splits = make_splits(cohort, "time", 0.333, 3, seed=SEED)
    trained = train_models(cohort, splits, features, None, "time_structured", MODELS, SEED)
    return cohort, features, splits, trained


def test_the_time_splits_do_not_follow_the_ids(base):
    cohort, _, splits, _ = base
    again = make_splits(rekeyed(cohort), "time", 0.333, 3, seed=SEED)
    pd.testing.assert_frame_equal(old_ids(again, cohort), old_ids(splits, cohort), check_exact=True)


def test_the_random_splits_do_not_follow_the_ids(base):
    cohort = base[0]
    records = toy_records(cohort)
    splits = make_splits(cohort, "random", 0.4, 3, seed=SEED, records=records)
    rekeyed_records = {table: rekeyed(frame) for table, frame in records.items()}
    again = make_splits(rekeyed(cohort), "random", 0.4, 3, seed=SEED, records=rekeyed_records)
    pd.testing.assert_frame_equal(old_ids(again, cohort), old_ids(splits, cohort), check_exact=True)


def test_the_records_order_families_whose_cohort_rows_are_alike():
    # Ten families and their twins, alike in dates and labels: only the
    # children's and referrals' records tell them apart, and without them the
    # key would decide which twin falls on which side.
    cohort = toy_cohort(n_families=60, seed=5)
    originals = cohort[cohort["family_id"].isin(sorted(set(cohort["family_id"]))[:10])]
    twins = originals.assign(
        **{column: originals[column] + "_twin" for column in ID_COLUMNS},
    )
    both = pd.concat([cohort, twins], ignore_index=True)
    records = toy_records(both)
    splits = make_splits(both, "random", 0.4, 3, seed=SEED, records=records)
    rekeyed_records = {table: rekeyed(frame) for table, frame in records.items()}
    again = make_splits(rekeyed(both), "random", 0.4, 3, seed=SEED, records=rekeyed_records)
    pd.testing.assert_frame_equal(old_ids(again, both), old_ids(splits, both), check_exact=True)


def test_training_gives_the_same_search_scores_predictions_and_explanations(base):
    cohort, features, splits, (predictions, cv_results, importance) = base
    predictions2, cv_results2, importance2 = train_models(
        rekeyed(cohort),
        rekeyed(splits),
        rekeyed(features),
        None,
        "time_structured",
        MODELS,
        SEED,
    )
    pd.testing.assert_frame_equal(cv_results2, cv_results, check_exact=True)
    pd.testing.assert_frame_equal(
        old_ids(predictions2, cohort), old_ids(predictions, cohort), check_exact=True
    )
    pd.testing.assert_frame_equal(importance2, importance, check_exact=True)


def test_the_evaluation_intervals_are_the_same(base):
    cohort, _, _, (predictions, cv_results, _) = base
    details = [
        evaluate_all(
            given_predictions,
            cv_results,
            "escalation",
            "time_structured",
            bootstrap_resamples=60,
            seed=SEED,
            families=families_by_referral(given_cohort),
        )["details"]
        for given_predictions, given_cohort in (
            (predictions, cohort),
            (rekeyed(predictions), rekeyed(cohort)),
        )
    ]
    pd.testing.assert_frame_equal(details[1], details[0], check_exact=True)
    assert details[0]["ap_ci_lower"].notna().all()


def test_the_test_rows_are_summed_in_the_order_of_their_values(base):
    # A Brier score or a mean score summed in id order changes in its last
    # bits with the key.
    predictions = base[3][0]
    labels, wide = score_matrix(predictions)
    labels2, wide2 = score_matrix(rekeyed(predictions))
    assert np.array_equal(labels2, labels)
    assert np.array_equal(wide2.to_numpy(), wide.to_numpy())


def test_the_learning_curve_and_the_refit_bootstrap_are_the_same(base):
    cohort, features, splits, (_, cv_results, _) = base
    name, params = selected_model(cv_results)
    curves, refits = [], []
    for given in ((cohort, splits, features), tuple(map(rekeyed, (cohort, splits, features)))):
        curves.append(
            selected_model_learning_curve(
                *given,
                None,
                cv_results,
                "escalation",
                "time_structured",
                fractions=[0.3, 0.6],
                repeats=2,
                seed=SEED,
                balance=MODELS,
            )
        )
        data = outer_split(*given, None, "time_structured")
        refits.append(
            refit_bootstrap(
                name,
                params,
                data.families,
                data.labels,
                data.X_train,
                data.X_test,
                data.y_test,
                resamples=4,
                seed=SEED,
                balance=MODELS,
            )
        )
    pd.testing.assert_frame_equal(curves[1], curves[0], check_exact=True)
    pd.testing.assert_frame_equal(refits[1], refits[0], check_exact=True)


def test_the_fairness_intervals_are_the_same():
    inputs = make_inputs(n=300, seed=2)
    tables = [
        assess_fairness(**given, outcome="o", design="time_text", bootstrap_resamples=30, seed=1)
        for given in (
            inputs,
            {
                **inputs,
                "predictions": rekeyed(inputs["predictions"]),
                "cohort": rekeyed(inputs["cohort"]),
                "children": rekeyed(inputs["children"]),
            },
        )
    ]
    pd.testing.assert_frame_equal(tables[1], tables[0], check_exact=True)


def test_content_codes_number_equal_rows_alike_missing_values_included():
    content = np.array([[1.0, np.nan], [0.5, 2.0], [1.0, np.nan], [0.5, 3.0]])
    codes = content_codes(content)
    assert codes[0] == codes[2]
    assert len(set(codes)) == 3
    assert content_codes(np.zeros((0, 2))).shape == (0,)


def test_content_order_follows_the_values_not_the_given_order():
    content = np.random.default_rng(0).normal(size=(30, 3))
    shuffled = np.random.default_rng(1).permutation(30)
    assert np.array_equal(
        content[content_order(content)], content[shuffled][content_order(content[shuffled])]
    )


def test_family_numbers_follow_the_families_rows_not_their_ids():
    content = np.array([[3.0], [1.0], [1.0], [2.0], [3.0]])
    numbers = family_numbers(np.array(["z", "y", "y", "x", "w"]), content)
    renamed = family_numbers(np.array(["a", "b", "b", "c", "d"]), content)
    # y holds rows [1, 1], x [2], z and w [3] each: z and w hold the same
    # values, so which of them comes first cannot change a draw
    assert numbers.tolist() == [3, 0, 0, 1, 2]
    assert renamed[1:4].tolist() == [0, 0, 1]
    assert sorted(renamed[[0, 4]].tolist()) == [2, 3]
