"""Tests for workflow/scripts/train_models.py."""

from __future__ import annotations

import json
import sys
import types
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from sklearn.metrics import average_precision_score

sys.path.insert(0, "workflow/scripts")
sys.path.insert(0, str(Path(__file__).parent))

from test_make_splits import toy_cohort, toy_features  # noqa: E402

from common import InputError, read_parquet, write_parquet  # noqa: E402
from make_splits import make_splits  # noqa: E402
from train_models import (  # noqa: E402
    BASELINE,
    BEST_FEATURE,
    PERMUTATION_MAX_FEATURES,
    PERMUTATION_REPEATS,
    ColumnFilter,
    average_precision,
    balanced_rows,
    best_feature_params,
    best_single_feature,
    explain_model,
    lower_bound,
    main,
    make_model,
    mark_selected,
    params_json,
    permutation_drops,
    sample_candidates,
    single_feature_scores,
    train_models,
)

MODELS = {
    "search_iterations": 2,
    "lightgbm": {
        "n_estimators": [20, 40],
        "learning_rate": [0.1],
        "num_leaves": [7],
        "min_child_samples": [10],
        "colsample_bytree": [1.0],
        "reg_lambda": [0.0, 1.0],
    },
    "logistic_regression": {"C": [0.1, 1.0], "penalty": ["l1", "l2"]},
}
SEED = 5
K = 3


@pytest.fixture(scope="module")
def data():
    cohort = toy_cohort(n_families=120, seed=1)
    features = toy_features(cohort, n_noise=3, seed=1)
    splits = make_splits(cohort, "random", 0.4, K, seed=SEED)
    return cohort, splits, features


@pytest.fixture(scope="module")
def trained(data):
    cohort, splits, features = data
    return train_models(cohort, splits, features, None, "random_structured", MODELS, SEED)


def role_ids(splits: pd.DataFrame, fold: int, role: str) -> list[str]:
    rows = splits[(splits["fold"] == fold) & (splits["role"] == role)]
    return sorted(rows["referral_id"])


def toy_topics(splits: pd.DataFrame, cohort: pd.DataFrame, informative: str) -> pd.DataFrame:
    """Topic shares per fold. ``informative`` is "outer" (fold -1 rows reveal the
    label, inner-fold rows are noise) or "inner" (the reverse)."""
    rng = np.random.default_rng(0)
    labels = cohort.set_index("referral_id")["label"]
    frames = []
    for fold in sorted(splits["fold"].unique()):
        ids = sorted(splits.loc[splits["fold"] == fold, "referral_id"])
        if fold == -1:
            used = set(role_ids(splits, -1, "train")) | set(role_ids(splits, -1, "test"))
            ids = [i for i in ids if i in used]
        signal = (fold == -1) == (informative == "outer")
        y = labels.loc[ids].to_numpy()
        topic = (y + rng.normal(scale=0.1, size=len(ids))) if signal else rng.random(len(ids))
        frames.append(
            pd.DataFrame(
                {
                    "fold": np.int16(fold),
                    "referral_id": ids,
                    "topic_00": topic,
                    "topic_01": 1.0 - topic,
                }
            )
        )
    return pd.concat(frames, ignore_index=True)


def ap_by_model(predictions: pd.DataFrame) -> dict[str, float]:
    return {
        model: average_precision_score(group["label"], group["score"])
        for model, group in predictions.groupby("model")
    }


def test_cv_results_shape_and_one_selected_candidate_per_model(trained):
    _, cv_results, _ = trained
    assert list(cv_results.columns) == [
        "model",
        "candidate",
        "params",
        "fold",
        "average_precision",
        "selected",
    ]
    counts = cv_results.groupby("model").size().to_dict()
    assert counts == {
        "lightgbm": 2 * K,
        "logistic_regression": 2 * K,
        BASELINE: K,
        BEST_FEATURE: K,
    }
    for model, group in cv_results.groupby("model"):
        chosen = group[group["selected"]]
        assert chosen["candidate"].nunique() == 1, model
        assert sorted(chosen["fold"]) == list(range(K))
        bounds = group.groupby("candidate")["average_precision"].apply(lower_bound)
        assert chosen["candidate"].iloc[0] == bounds.idxmax()
    for params in cv_results["params"]:
        assert params == json.dumps(json.loads(params), sort_keys=True)


def test_predictions_only_for_test_rows(trained, data):
    cohort, splits, _ = data
    predictions, _, _ = trained
    test_ids = role_ids(splits, -1, "test")
    assert set(predictions["model"]) == {
        "lightgbm",
        "logistic_regression",
        BASELINE,
        BEST_FEATURE,
    }
    for _, group in predictions.groupby("model"):
        assert group["referral_id"].tolist() == test_ids
    labels = cohort.set_index("referral_id")["label"]
    assert (
        predictions["label"].to_numpy() == labels.loc[predictions["referral_id"]].to_numpy()
    ).all()
    assert predictions["score"].notna().all()


def test_planted_signal_beats_base_rate(trained):
    predictions, _, _ = trained
    base_rate = predictions["label"].mean()
    ap = ap_by_model(predictions)
    assert ap["lightgbm"] > base_rate + 0.4
    assert ap["logistic_regression"] > base_rate + 0.4


def test_two_runs_identical_and_thread_count_irrelevant(trained, data):
    cohort, splits, features = data
    again = train_models(
        cohort, splits, features, None, "random_structured", MODELS, SEED, threads=2
    )
    pd.testing.assert_frame_equal(trained[0], again[0])
    pd.testing.assert_frame_equal(trained[1], again[1])
    pd.testing.assert_frame_equal(trained[2], again[2])


def test_test_labels_do_not_influence_fitting(trained, data):
    cohort, splits, features = data
    test_ids = set(role_ids(splits, -1, "test"))
    permuted = cohort.copy()
    is_test = permuted["referral_id"].isin(test_ids).to_numpy()
    labels = permuted["label"].to_numpy().copy()
    labels[is_test] = np.random.default_rng(3).permutation(labels[is_test])
    permuted["label"] = labels.astype(np.int8)
    predictions, cv_results, importance = train_models(
        permuted, splits, features, None, "random_structured", MODELS, SEED
    )
    pd.testing.assert_frame_equal(cv_results, trained[1])
    pd.testing.assert_series_equal(predictions["score"], trained[0]["score"])
    assert not predictions["label"].equals(trained[0]["label"])
    # the explanations score the test labels: permutation drops change, the
    # label-free contributions do not
    key = ["model", "feature"]
    before = trained[2].sort_values(key).reset_index(drop=True)
    after = importance.sort_values(key).reset_index(drop=True)
    pd.testing.assert_series_equal(before["mean_abs_contribution"], after["mean_abs_contribution"])
    assert not np.allclose(before["permutation_ap_drop_mean"], after["permutation_ap_drop_mean"])


def test_test_features_do_not_influence_fitting(trained, data):
    cohort, splits, features = data
    test_ids = role_ids(splits, -1, "test")
    changed, kept = test_ids[::2], test_ids[1::2]
    altered = features.copy()
    rows = altered["referral_id"].isin(changed).to_numpy()
    for column in ("signal", "noise_00", "n_previous_referrals"):
        altered.loc[rows, column] = altered.loc[rows, column].to_numpy()[::-1] + 1.0
    predictions, cv_results, _ = train_models(
        cohort, splits, altered, None, "random_structured", MODELS, SEED
    )
    pd.testing.assert_frame_equal(cv_results, trained[1])
    before = trained[0][trained[0]["referral_id"].isin(kept)].reset_index(drop=True)
    after = predictions[predictions["referral_id"].isin(kept)].reset_index(drop=True)
    pd.testing.assert_frame_equal(before, after)


def test_excluded_rows_are_never_used():
    cohort = toy_cohort(n_families=120, seed=2)
    features = toy_features(cohort, n_noise=2, seed=2)
    splits = make_splits(cohort, "time", 0.333, K, seed=SEED)
    excluded = set(role_ids(splits, -1, "excluded"))
    assert excluded
    flipped = cohort.copy()
    rows = flipped["referral_id"].isin(excluded)
    flipped.loc[rows, "label"] = (1 - flipped.loc[rows, "label"]).astype(np.int8)
    first = train_models(cohort, splits, features, None, "time_structured", MODELS, SEED)
    second = train_models(flipped, splits, features, None, "time_structured", MODELS, SEED)
    pd.testing.assert_frame_equal(first[0], second[0])
    pd.testing.assert_frame_equal(first[1], second[1])
    pd.testing.assert_frame_equal(first[2], second[2])


@pytest.mark.parametrize("informative", ["outer", "inner"])
def test_topic_rows_of_the_right_fold(data, informative):
    cohort, splits, features = data
    noise_only = features.drop(columns=["signal", "n_previous_referrals"])
    topics = toy_topics(splits, cohort, informative)
    predictions, cv_results, _ = train_models(
        cohort, splits, noise_only, topics, "random_text", MODELS, SEED
    )
    base_rate = predictions["label"].mean()
    test_ap = ap_by_model(predictions)
    cv_ap = cv_results.groupby("model")["average_precision"].mean()
    for model in ("lightgbm", "logistic_regression"):
        if informative == "outer":  # final fit and test scores use fold -1
            assert test_ap[model] > 0.95
            assert cv_ap[model] < base_rate + 0.2
        else:  # inner fold f uses fold f
            assert cv_ap[model] > 0.95
            assert test_ap[model] < base_rate + 0.2


def test_importance_one_row_per_model_and_feature(trained, data):
    _, _, importance = trained
    _, _, features = data
    names = [c for c in features.columns if c not in ("referral_id", "feature_time")]
    assert list(importance.columns) == [
        "model",
        "feature",
        "permutation_ap_drop_mean",
        "permutation_ap_drop_sd",
        "mean_abs_contribution",
        "rank",
    ]
    assert importance["rank"].dtype == np.int32
    assert set(importance["model"]) == {"lightgbm", "logistic_regression"}  # no baseline
    ordered = importance.sort_values(["model", "rank", "feature"]).reset_index(drop=True)
    pd.testing.assert_frame_equal(importance, ordered)
    for model, group in importance.groupby("model"):
        assert sorted(group["feature"]) == sorted(names), model
        assert group["rank"].tolist() == list(range(1, len(names) + 1))
        # fewer features than the permutation screen: every feature is permuted
        assert group["permutation_ap_drop_mean"].notna().all()
        assert group["permutation_ap_drop_sd"].notna().all()
        assert (group["mean_abs_contribution"] >= 0).all()
        drops = group["permutation_ap_drop_mean"].to_numpy()
        assert (np.diff(drops) <= 0).all()


def test_planted_signal_ranks_first(trained):
    _, _, importance = trained
    top = importance[importance["rank"] == 1].set_index("model")["feature"].to_dict()
    assert top == {"lightgbm": "signal", "logistic_regression": "signal"}
    signal = importance[importance["feature"] == "signal"]
    assert (signal["permutation_ap_drop_mean"] > 0.1).all()
    for model, group in importance.groupby("model"):
        assert group["mean_abs_contribution"].idxmax() == group.index[0], model


def test_importance_screen_and_contributions():
    rng = np.random.default_rng(0)
    X = rng.normal(size=(300, 25))
    X[rng.random(X.shape) < 0.2] = np.nan
    y = (np.nan_to_num(X[:, 3]) + 0.3 * rng.normal(size=300) > 0).astype(int)
    names = [f"x{i:02d}" for i in range(25)]
    for name, params in (
        ("lightgbm", {"n_estimators": 20, "num_leaves": 7}),
        ("logistic_regression", {"C": 1.0, "penalty": "l2"}),
    ):
        model = make_model(name, params, 0, 1).fit(X, y)
        frame = explain_model(name, model, X, y, names, seed=0)
        permuted = frame["permutation_ap_drop_mean"].notna()
        assert permuted.sum() == PERMUTATION_MAX_FEATURES
        # the screen keeps the largest contributions; unscreened rows rank last
        assert (
            frame.loc[permuted, "mean_abs_contribution"].min()
            >= frame.loc[~permuted, "mean_abs_contribution"].max()
        )
        assert frame.loc[~permuted, "rank"].min() > PERMUTATION_MAX_FEATURES
        assert frame.set_index("feature").loc["x03", "rank"] == 1
    # linear SHAP: the feature's value and missing-indicator terms, summed per row
    steps = model.named_steps
    Z = steps["scale"].transform(steps["impute"].transform(steps["filter"].transform(X)))
    terms = Z * steps["model"].coef_[0]
    x03 = terms[:, 3] + terms[:, 25 + list(steps["impute"].indicator_.features_).index(3)]
    assert frame.set_index("feature").loc["x03", "mean_abs_contribution"] == pytest.approx(
        np.abs(x03).mean()
    )


@pytest.mark.parametrize("n_rows", [2, 7, 60, 501])
def test_average_precision_is_sklearns_bit_for_bit(n_rows):
    rng = np.random.default_rng(n_rows)
    for trial in range(20):
        y = (rng.random(n_rows) < 0.3).astype(np.int8)
        y[trial % n_rows] = 1
        # coarse scores give many ties, which share one threshold
        scores = np.round(rng.random(n_rows), 1 + trial % 3)
        assert average_precision(y, scores) == average_precision_score(y, scores)
    with pytest.raises(ValueError, match="positive"):
        average_precision(np.zeros(5), rng.random(5))


def test_permutation_drops_equal_sklearns_permutation_importance():
    from sklearn.inspection import permutation_importance

    rng = np.random.default_rng(3)
    X = rng.normal(size=(200, 6))
    X[rng.random(X.shape) < 0.1] = np.nan
    y = (np.nan_to_num(X[:, 1]) + rng.normal(size=200) > 0.5).astype(int)
    model = make_model("lightgbm", {"n_estimators": 20, "num_leaves": 7}, 0, 1).fit(X, y)
    columns = np.array([1, 4], dtype=np.intp)
    drop_mean, drop_sd = permutation_drops(model, X, y, columns, seed=11)
    expected = permutation_importance(
        model,
        X,
        y,
        scoring="average_precision",
        n_repeats=PERMUTATION_REPEATS,
        random_state=11,
    ).importances
    assert drop_mean[columns].tolist() == expected[columns].mean(axis=1).tolist()
    assert drop_sd[columns].tolist() == expected[columns].std(axis=1, ddof=1).tolist()
    assert np.isnan(np.delete(drop_mean, columns)).all()
    assert drop_mean[1] > 0.05


def test_text_design_needs_topics(data):
    cohort, splits, features = data
    with pytest.raises(InputError, match="topics"):
        train_models(cohort, splits, features, None, "time_text", MODELS, SEED)


def test_features_known_at_or_after_prediction_time_are_rejected(data):
    cohort, splits, features = data
    late = features.copy()
    late.loc[0, "feature_time"] = pd.Timestamp("2030-01-01")
    with pytest.raises(ValueError, match="feature_time at or after"):
        train_models(cohort, splits, late, None, "random_structured", MODELS, SEED)
    # a record timed on the prediction point is not known before it
    point = cohort.set_index("referral_id").loc[features.loc[0, "referral_id"], "prediction_time"]
    late.loc[0, "feature_time"] = point
    with pytest.raises(ValueError, match="feature_time at or after"):
        train_models(cohort, splits, late, None, "random_structured", MODELS, SEED)


def test_sample_candidates_distinct_and_deterministic():
    space = MODELS["logistic_regression"]
    draws = sample_candidates(space, 3, seed=1)
    assert len(draws) == 3
    assert len({params_json(d) for d in draws}) == 3
    assert draws == sample_candidates(space, 3, seed=1)
    assert len(sample_candidates(space, 50, seed=1)) == 4  # the whole grid
    assert params_json({"b": 1, "a": "l1"}) == '{"a": "l1", "b": 1}'


def test_lower_bound_and_selection_rule():
    scores = np.array([0.5, 0.7, 0.6])
    expected = 0.6 - 1.96 * np.std(scores, ddof=1) / np.sqrt(3)
    assert lower_bound(scores) == pytest.approx(expected)
    cv = pd.DataFrame(
        {
            "model": ["m"] * 6,
            "candidate": [0, 0, 1, 1, 2, 2],
            "params": ["{}"] * 6,
            "fold": [0, 1] * 3,
            # candidate 0: higher mean but unstable; 1 and 2 tie: the earlier wins
            "average_precision": [0.9, 0.3, 0.55, 0.55, 0.55, 0.55],
        }
    )
    assert mark_selected(cv)["selected"].tolist() == [False, False, True, True, False, False]


def test_column_filter_uses_fit_rows_only():
    X = np.array(
        [
            [1.0, 5.0, np.nan, 1.0],
            [2.0, 5.0, np.nan, np.nan],
            [3.0, 5.0, np.nan, 1.0],
            [4.0, 5.0, 1.0, 1.0],
        ]
    )
    fitted = ColumnFilter().fit(X)
    # constant column 1 and 75%-missing column 2 go; column 3 (1 or missing) stays
    assert fitted.keep_.tolist() == [True, False, False, True]
    assert fitted.transform(np.zeros((2, 4))).shape == (2, 2)


@pytest.mark.parametrize("name", ["logistic_regression", "decision_tree"])
def test_non_lightgbm_models_fill_missing_with_a_constant_and_an_indicator(name):
    fit = np.array([[1.0, 0.0], [3.0, 1.0], [np.nan, 0.0], [10.0, 1.0]])
    params = {"C": 1.0, "penalty": "l2"} if name == "logistic_regression" else {"max_depth": 2}
    model = make_model(name, params, 0, 1)
    model.fit(fit, np.array([0, 1, 0, 1]))
    assert model.named_steps["impute"].transform(np.array([[np.nan, 1.0]])).tolist() == [
        [0.0, 1.0, 1.0]
    ]
    assert model.named_steps["model"].class_weight == "balanced"


def test_l1_logistic_regression_stops_at_its_own_tolerance_unless_params_set_one():
    from sklearn.linear_model import LogisticRegression

    from train_models import L1_TOLERANCE

    def tolerance(params):
        return make_model("logistic_regression", params, 0, 1).named_steps["model"].tol

    assert tolerance({"C": 1.0, "penalty": "l1"}) == L1_TOLERANCE
    assert LogisticRegression().tol != L1_TOLERANCE
    assert tolerance({"C": 1.0, "penalty": "l2"}) == LogisticRegression().tol
    assert tolerance({"C": 1.0, "penalty": "l1", "tol": 1e-6}) == 1e-6


def test_tree_split_columns_map_indicators_to_their_feature():
    from train_models import tree_split_columns

    # column 0 is empty in the fit rows; column 2 matters only through missingness
    X = np.array([[np.nan, 1.0, np.nan], [np.nan, 2.0, 5.0]] * 20)
    y = np.array([1, 0] * 20)
    model = make_model("decision_tree", {"max_depth": 1}, 0, 1).fit(X, y)
    assert model.named_steps["impute"].transform(X).shape[1] == 3 + 2
    assert tree_split_columns(model, 3).tolist() in ([1], [2])


def test_undersampling_keeps_every_positive_and_is_seeded():
    y = np.array([0] * 90 + [1] * 10)
    rows = balanced_rows(y, "undersample", 2.0, seed=3)
    assert (y[rows] == 1).sum() == 10 and (y[rows] == 0).sum() == 20
    assert rows.tolist() == sorted(rows.tolist())
    assert rows.tolist() == balanced_rows(y, "undersample", 2.0, seed=3).tolist()
    assert rows.tolist() != balanced_rows(y, "undersample", 2.0, seed=4).tolist()
    assert balanced_rows(y, "weights", 2.0, seed=3).tolist() == list(range(100))
    with pytest.raises(InputError, match="class_balance"):
        balanced_rows(y, "oversample", 1.0, seed=3)


def test_undersampling_turns_class_weights_off_and_keeps_test_balance(data):
    cohort, splits, features = data
    undersampled = {**MODELS, "class_balance": "undersample", "undersample_ratio": 1.0}
    predictions, _, _ = train_models(
        cohort, splits, features, None, "random_structured", undersampled, SEED
    )
    test_ids = role_ids(splits, -1, "test")
    for _, rows in predictions.groupby("model"):
        assert sorted(rows["referral_id"]) == test_ids
    assert (
        make_model("decision_tree", {}, 0, 1, "undersample").named_steps["model"].class_weight
        is None
    )
    assert not make_model("lightgbm", {}, 0, 1, "undersample").get_params()["is_unbalance"]


def test_decision_tree_is_tuned_selected_and_explained(data):
    cohort, splits, features = data
    with_tree = {**MODELS, "decision_tree": {"max_depth": [2, 4], "min_samples_leaf": [5]}}
    predictions, cv_results, importance = train_models(
        cohort, splits, features, None, "random_structured", with_tree, SEED
    )
    assert "decision_tree" in set(predictions["model"])
    tree_cv = cv_results[cv_results["model"] == "decision_tree"]
    assert tree_cv.loc[tree_cv["selected"], "candidate"].nunique() == 1
    tree = importance[importance["model"] == "decision_tree"]
    # every feature the tree splits on is permuted; the others cannot matter
    assert tree["permutation_ap_drop_mean"].notna().all()
    assert tree["mean_abs_contribution"].isna().all()
    assert (tree["permutation_ap_drop_mean"] != 0).any()
    assert tree.sort_values("rank")["feature"].iloc[0] == "signal"


def test_main_writes_all_outputs_identically(tmp_path, data):
    cohort, splits, features = data
    write_parquet(cohort, tmp_path / "cohort.parquet", "cohort")
    write_parquet(splits, tmp_path / "splits.parquet", "splits")
    features.to_parquet(tmp_path / "structured.parquet", index=False)
    digests = []
    for run in ("a", "b"):
        snakemake = types.SimpleNamespace(
            input=types.SimpleNamespace(
                cohort=str(tmp_path / "cohort.parquet"),
                splits=str(tmp_path / "splits.parquet"),
                features=str(tmp_path / "structured.parquet"),
                topics=[],
                text_features=[],
            ),
            params=types.SimpleNamespace(design="random_structured", models=MODELS, seed=SEED),
            output=types.SimpleNamespace(
                predictions=str(tmp_path / run / "predictions.parquet"),
                cv_results=str(tmp_path / run / "cv_results.parquet"),
                importance=str(tmp_path / run / "importance.parquet"),
            ),
            threads=1 if run == "a" else 2,
            log=[str(tmp_path / f"{run}.log")],
        )
        main(snakemake)
        read_parquet(snakemake.output.predictions, "predictions")
        read_parquet(snakemake.output.cv_results, "cv_results")
        read_parquet(snakemake.output.importance, "importance")
        outputs = snakemake.output
        digests.append(
            [
                Path(p).read_bytes()
                for p in (outputs.predictions, outputs.cv_results, outputs.importance)
            ]
        )
    assert digests[0] == digests[1]


def test_text_features_join_with_the_later_knowledge_time():
    from train_models import add_text_features

    structured = pd.DataFrame(
        {
            "referral_id": ["r1", "r2"],
            "feature_time": pd.to_datetime(["2020-01-01", None]).astype("datetime64[ms]"),
            "n_previous_referrals": [1.0, 0.0],
        }
    )
    flags = pd.DataFrame(
        {
            "referral_id": ["r2", "r1"],
            "feature_time": pd.to_datetime(["2020-02-01", "2019-12-01"]).astype("datetime64[ms]"),
            "vulnerability_missing": [1.0, 0.0],
        }
    )
    joined = add_text_features(structured, flags).set_index("referral_id")
    assert joined.loc["r1", "feature_time"] == pd.Timestamp("2020-01-01")
    assert joined.loc["r2", "feature_time"] == pd.Timestamp("2020-02-01")
    assert joined.loc["r2", "vulnerability_missing"] == 1.0


def test_the_best_single_feature_is_chosen_on_the_rows_given_either_way_round():
    y = np.array([1, 1, 0, 0, 0, 0])
    features = pd.DataFrame(
        {
            "days_since": [1.0, 2.0, 9.0, 8.0, np.nan, 7.0],  # low values tell: lowest first
            "noise": [0.5, 0.1, 0.9, 0.2, 0.3, 0.4],
        },
        index=pd.Index([f"r{i}" for i in range(6)], name="referral_id"),
    )
    column, direction = best_single_feature(features, features.index, y)
    assert (column, direction) == ("days_since", -1.0)
    scores = single_feature_scores(features["days_since"].to_numpy(), direction)
    # missing ranks last, whichever way round
    assert scores[4] < np.delete(scores, 4).min()
    assert best_feature_params(column, direction) == {
        "feature": "days_since",
        "order": "lowest first",
    }
    # chosen on the rows given only: on the last four, where the one positive
    # has no days_since, noise ranked lowest first does best
    later = features.index[2:]
    assert best_single_feature(features, later, np.array([0, 0, 1, 0])) == ("noise", -1.0)


def test_the_best_single_feature_competes_only_among_the_columns_the_models_keep():
    # "rare_days" has a value on one training row, a positive: it ranks the
    # rows perfectly by luck, and would score every test row alike.
    y = np.array([1, 1, 0, 0, 0, 0])
    features = pd.DataFrame(
        {
            "rare_days": [1.0] + [np.nan] * 5,
            "noise": [0.8, 0.4, 0.9, 0.3, 0.2, 0.1],  # AP 0.583 at best, below 0.667
        },
        index=pd.Index([f"r{i}" for i in range(6)], name="referral_id"),
    )
    assert not ColumnFilter().fit(features.to_numpy()).keep_[0]
    assert best_single_feature(features, features.index, y)[0] == "noise"
    with pytest.raises(InputError, match="best-single-feature baseline"):
        best_single_feature(features[["rare_days"]], features.index, y)
