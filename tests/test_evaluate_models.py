"""Tests for workflow/scripts/evaluate_models.py."""

import sys
import time
import types
from statistics import NormalDist

import numpy as np
import pandas as pd
import pyarrow.parquet as pq
import pytest

sys.path.insert(0, "workflow/scripts")

from sklearn.metrics import average_precision_score  # noqa: E402

from common import SCHEMAS, InputError, family_numbers, read_parquet, write_parquet  # noqa: E402
from evaluate_models import (  # noqa: E402
    AT_THRESHOLD_DETAILS,
    CALIBRATION_SCHEMA,
    DETAILS_SCHEMA,
    FAILS,
    MEETS,
    THRESHOLDS_SCHEMA,
    UNSURE,
    bias_corrected_interval,
    bootstrap_average_precision,
    bootstrap_counts,
    calibration_table,
    evaluate,
    evaluate_all,
    f_beta,
    holdout_metrics,
    main,
    percentile_interval,
    resampled_average_precision,
    rich_metrics,
    score_matrix,
    selected_model_name,
    threshold_table,
    top_k_metrics,
    verdict,
    wilson_interval,
)

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


def cohort(labels=LABELS) -> pd.DataFrame:
    """The cohort rows of the test predictions, siblings in pairs."""
    point = pd.Timestamp("2020-01-01")
    return pd.DataFrame(
        {
            "outcome": "escalation",
            "referral_id": IDS,
            "child_id": [f"c{i}" for i in range(len(IDS))],
            "family_id": [f"f{i // 2}" for i in range(len(IDS))],
            "referral_date": point,
            "prediction_time": point,
            "label_known_time": point,
            "label": np.asarray(labels, dtype=np.int8),
        }
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
    assert "meets_threshold" not in metrics.columns
    other = metrics.set_index("model").loc["logistic_regression"]
    assert other["average_precision"] == pytest.approx(0.5)
    assert other["roc_auc"] == pytest.approx(0.5)
    assert other["precision"] == 0.0 and other["recall"] == 0.0
    baseline = metrics.set_index("model").loc["previous_referrals"]
    assert baseline["average_precision"] == pytest.approx(1.0)
    # a baseline's scores are counts or a feature's values, not probabilities:
    # flagging at 0.5 would flag every case with one previous referral
    assert np.isnan(baseline["precision"]) and np.isnan(baseline["recall"])


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


def test_later_stages_learn_the_selection_from_cv_results_alone(metrics):
    # fairness, explanation and refit bootstrap read the choice from training's
    # CV results, so changing the success threshold reruns none of them
    assert selected_model_name(cv_results()) == "logistic_regression"
    for threshold in (0.1, 0.9):
        again = evaluate(predictions(), cv_results(), "escalation", "time_text", threshold)
        assert again.loc[again["selected"], "model"].tolist() == ["logistic_regression"]


def test_models_need_both_cv_results_and_predictions():
    frame = predictions()
    with pytest.raises(ValueError, match=r"\['lightgbm'\] have CV results or test predictions"):
        evaluate(frame[frame["model"] != "lightgbm"], cv_results(), "escalation", "time_text")


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


@pytest.mark.parametrize("value", [0, 1])
def test_single_class_test_set_is_an_input_error(value):
    with pytest.raises(InputError, match="all .*(positive|negative)"):
        evaluate(predictions(labels=[value] * 5), cv_results(), "escalation", "time_text")


def test_models_must_share_test_rows():
    frame = predictions()
    frame = frame[~((frame["model"] == "lightgbm") & (frame["referral_id"] == "r5"))]
    with pytest.raises(ValueError, match="cannot be compared"):
        evaluate(frame, cv_results(), "escalation", "time_text")


def snakemake_job(tmp_path, name: str = "out", **params) -> types.SimpleNamespace:
    """A stand-in for the ``snakemake`` object of one evaluate_models job."""
    return types.SimpleNamespace(
        input=types.SimpleNamespace(
            predictions=str(tmp_path / "predictions.parquet"),
            cv_results=str(tmp_path / "cv_results.parquet"),
            cohort=str(tmp_path / "cohort.parquet"),
        ),
        params=types.SimpleNamespace(
            outcome="escalation",
            design="time_text",
            success_threshold=0.65,
            decision_threshold=0.5,
            top_k_percent=[10, 25],
            bootstrap_resamples=200,
            calibration_bins=10,
            seed=7,
            **params,
        ),
        output=types.SimpleNamespace(
            **{
                table: str(tmp_path / name / f"{table}.parquet")
                for table in ("metrics", "details", "thresholds", "calibration")
            }
        ),
        log=[str(tmp_path / "log.txt")],
        threads=1,
    )


def test_main_round_trip_is_byte_identical(tmp_path):
    write_parquet(predictions(), tmp_path / "predictions.parquet", "predictions")
    write_parquet(cv_results(), tmp_path / "cv_results.parquet", "cv_results")
    write_parquet(cohort(), tmp_path / "cohort.parquet", "cohort")
    first, second = snakemake_job(tmp_path, "a"), snakemake_job(tmp_path, "b")
    main(first)
    main(second)
    written = read_parquet(first.output.metrics, "metrics")
    assert len(written) == 3
    assert written["selected"].sum() == 1
    schemas = {
        "details": DETAILS_SCHEMA,
        "thresholds": THRESHOLDS_SCHEMA,
        "calibration": CALIBRATION_SCHEMA,
    }
    for table, schema in schemas.items():
        read = pq.read_table(getattr(first.output, table))
        assert read.schema.remove_metadata().equals(schema)
    for table in ("metrics", *schemas):
        a = (tmp_path / "a" / f"{table}.parquet").read_bytes()
        b = (tmp_path / "b" / f"{table}.parquet").read_bytes()
        assert a == b, table


# --- richer metrics -----------------------------------------------------------


@pytest.fixture(scope="module")
def tables() -> dict[str, pd.DataFrame]:
    return evaluate_all(
        predictions(), cv_results(), "escalation", "time_text", 0.65, 0.5, [10, 25], 300, 3
    )


def test_metrics_table_is_unchanged_and_details_extend_it(tables, metrics):
    pd.testing.assert_frame_equal(tables["metrics"], metrics)
    details = tables["details"]
    assert list(details.columns) == DETAILS_SCHEMA.names
    assert details.columns[: len(SCHEMAS["metrics"].names)].tolist() == SCHEMAS["metrics"].names
    pd.testing.assert_frame_equal(details[SCHEMAS["metrics"].names], metrics)


def test_hand_computed_rich_metrics(tables):
    row = tables["details"].set_index("model").loc["lightgbm"]
    # flagged at 0.5: 0.9 (pos), 0.8 (neg), 0.6 (pos): TP 2, FP 1, TN 2, FN 0
    assert row["n_positive"] == 2 and row["n_flagged"] == 3
    assert row["flagged_share"] == pytest.approx(0.6)
    assert row["accuracy"] == pytest.approx(0.8)
    assert row["false_alarms_per_100_flagged"] == pytest.approx(100 / 3)
    assert row["missed_per_100_at_risk"] == pytest.approx(0.0)
    assert row[["tp_per_1000", "fp_per_1000", "tn_per_1000", "fn_per_1000"]].tolist() == (
        pytest.approx([400, 200, 400, 0])
    )
    beta2 = 0.1**2
    assert row["f0_1"] == pytest.approx((1 + beta2) * (2 / 3) / (beta2 * 2 / 3 + 1))
    assert row["brier_score"] == pytest.approx((0.01 + 0.64 + 0.16 + 0.09 + 0.01) / 5)
    # top 10% of 5 rows is 1 row (0.9, positive): 1 of the 2 positives
    assert row["share_of_positives_in_top_10pct"] == pytest.approx(0.5)
    baseline = tables["details"].set_index("model").loc["previous_referrals"]
    assert np.isnan(baseline["brier_score"])
    none_flagged = tables["details"].set_index("model").loc["logistic_regression"]
    assert none_flagged["precision"] == 0.0 and none_flagged["missed_per_100_at_risk"] == 100.0


def test_false_alarms_undefined_when_nothing_is_flagged():
    out = rich_metrics(np.array([1, 0]), np.array([0.2, 0.1]), 0.5, True)
    assert out["n_flagged"] == 0 and np.isnan(out["false_alarms_per_100_flagged"])
    assert out["f0_1"] == 0.0


def test_f_beta_weights_precision():
    assert f_beta(1.0, 0.1) > f_beta(0.1, 1.0)
    assert f_beta(0.5, 0.5) == pytest.approx(0.5)
    assert f_beta(0.0, 0.0) == 0.0


def test_top_k_ties_are_flagged_in_proportion():
    # top 50% of 4 rows = 2 rows; three rows tie at 0.5 holding 2 positives:
    # expected true positives 2 * 2/3
    out = top_k_metrics(np.array([1, 0, 1, 0]), np.array([0.5, 0.5, 0.5, 0.1]), 50)
    assert out["n_flagged"] == 2 and out["threshold"] == 0.5
    assert out["precision"] == pytest.approx(2 / 3)
    assert out["recall"] == pytest.approx(2 / 3)
    reordered = top_k_metrics(np.array([0, 1, 0, 1]), np.array([0.1, 0.5, 0.5, 0.5]), 50)
    assert reordered["precision"] == pytest.approx(out["precision"])


def test_threshold_table_rows_and_values():
    labels = np.array(LABELS)
    scores = np.array(SCORES["lightgbm"])
    table = threshold_table(labels, scores, 0.35, [25, 10])
    rules = table["rule"].tolist()
    assert rules.count("score_threshold") == 10 and rules.count("top_k_percent") == 2
    assert table.loc[table["is_decision_threshold"], "threshold"].tolist() == [0.35]
    at = table.set_index(["rule", "threshold"])
    row = at.loc[("score_threshold", 0.7)]
    # 0.9 (pos) and 0.8 (neg) flagged
    assert row["precision"] == pytest.approx(0.5) and row["recall"] == pytest.approx(0.5)
    assert row["f0_1"] == pytest.approx(0.5)
    top = table[table["rule"] == "top_k_percent"].set_index("k_percent")
    assert top.index.tolist() == [10.0, 25.0]
    # top 25% of 5 rows = 2 rows: 0.9 (pos), 0.8 (neg)
    assert top.loc[25.0, "n_flagged"] == 2 and top.loc[25.0, "threshold"] == 0.8
    assert top.loc[25.0, "precision"] == pytest.approx(0.5)
    nothing = at.loc[("score_threshold", 0.9)]
    assert nothing["n_flagged"] == 1


def test_calibration_bins():
    labels = np.array([0, 1, 1, 0, 1])
    scores = np.array([0.05, 0.15, 0.1, 0.12, 1.0])
    table = calibration_table(labels, scores, 10)
    assert table["n"].sum() == 5 and len(table) == 10
    assert table["n"].tolist() == [1, 3, 0, 0, 0, 0, 0, 0, 0, 1]
    assert table.loc[1, "mean_score"] == pytest.approx((0.15 + 0.1 + 0.12) / 3)
    assert table.loc[1, "observed_rate"] == pytest.approx(2 / 3)
    assert np.isnan(table.loc[2, "mean_score"]) and np.isnan(table.loc[2, "observed_lower"])
    assert table.loc[0, "observed_lower"] == 0.0 and table.loc[9, "observed_upper"] == 1.0


def test_calibration_leaves_out_baselines(tables):
    assert sorted(set(tables["calibration"]["model"])) == ["lightgbm", "logistic_regression"]
    assert list(tables["calibration"].columns) == CALIBRATION_SCHEMA.names
    assert list(tables["thresholds"].columns) == THRESHOLDS_SCHEMA.names
    # the baseline ranks by counts: its top k% rules only, no score thresholds
    assert len(tables["thresholds"]) == 2 * (9 + 2) + 2
    baseline = tables["thresholds"].loc[tables["thresholds"]["model"] == "previous_referrals"]
    assert (baseline["rule"] == "top_k_percent").all()


def test_a_baseline_has_no_measure_at_the_decision_threshold(tables):
    details = tables["details"].set_index("model")
    at_threshold = ["precision", "recall", "n_flagged", *AT_THRESHOLD_DETAILS]
    assert details.loc["previous_referrals", at_threshold].isna().all()
    assert details.loc["lightgbm", at_threshold].notna().all()
    # ranking measures stay
    assert details.loc["previous_referrals", ["average_precision", "ap_ci_lower"]].notna().all()


def test_wilson_interval_known_value():
    lower, upper = wilson_interval(np.array([5]), np.array([10]))
    assert lower[0] == pytest.approx(0.2366, abs=1e-4)
    assert upper[0] == pytest.approx(0.7634, abs=1e-4)


# --- bootstrap ----------------------------------------------------------------


def test_resampled_average_precision_matches_sklearn_with_weights():
    rng = np.random.default_rng(1)
    labels = (rng.random(200) < 0.3).astype(int)
    scores = np.round(rng.random(200) + 0.3 * labels, 1)  # many ties
    counts = np.concatenate(list(bootstrap_counts(len(labels), 20, rng)))
    counts[0, :50] = 0
    got = resampled_average_precision(labels, scores, counts)
    expected = [average_precision_score(labels, scores, sample_weight=c) for c in counts]
    np.testing.assert_allclose(got, expected, rtol=1e-12)
    ones = resampled_average_precision(labels, scores, np.ones((1, 200)))
    assert ones[0] == pytest.approx(average_precision_score(labels, scores))


def test_resampled_average_precision_without_positives_is_nan():
    out = resampled_average_precision(np.array([1, 0, 0]), np.array([0.9, 0.1, 0.2]), [[0, 2, 1]])
    assert np.isnan(out[0])


def test_bootstrap_counts_chunks_seed_and_varying_class_counts():
    labels = np.array([1] * 7 + [0] * 30)
    chunks = list(bootstrap_counts(len(labels), 25, np.random.default_rng(5), max_cells=37 * 4))
    assert [len(c) for c in chunks] == [4] * 6 + [1]
    counts = np.concatenate(chunks)
    again = np.concatenate(
        list(bootstrap_counts(len(labels), 25, np.random.default_rng(5), max_cells=37 * 4))
    )
    np.testing.assert_array_equal(counts, again)
    assert (counts.sum(axis=1) == 37).all()
    # plain resampling: the number of positives varies as between test sets
    assert counts[:, :7].sum(axis=1).std() > 0


def test_bootstrap_counts_draw_whole_families_and_positive_families_vary():
    # families: f0 = rows 0-2 (one positive), f1 = rows 3-4, f2 = row 5, f3 = rows 6-7 (positive)
    labels = np.array([1, 0, 0, 0, 0, 0, 1, 1])
    families = np.array(["f0", "f0", "f0", "f1", "f1", "f2", "f3", "f3"])
    counts = np.concatenate(
        list(bootstrap_counts(len(labels), 200, np.random.default_rng(3), groups=families))
    )
    for members in ([0, 1, 2], [3, 4], [6, 7]):
        assert (counts[:, members] == counts[:, members[:1]]).all()
    # four families are drawn in every resample, positive ones 0 to 4 times
    assert ((counts[:, 0] + counts[:, 3] + counts[:, 5] + counts[:, 6]) == 4).all()
    assert set(counts[:, 0] + counts[:, 6]) == {0, 1, 2, 3, 4}
    singletons = np.concatenate(
        list(bootstrap_counts(len(labels), 50, np.random.default_rng(3), groups=np.arange(8)))
    )
    rows = np.concatenate(list(bootstrap_counts(len(labels), 50, np.random.default_rng(3))))
    np.testing.assert_array_equal(singletons, rows)


def test_a_family_bootstrap_counts_identical_siblings_once():
    # 150 families of 4 identical siblings hold the information of 150 cases,
    # not 600: the interval is about twice as wide (sqrt(4)) as a row bootstrap's.
    rng = np.random.default_rng(0)
    family_labels = (rng.random(150) < 0.15).astype(int)
    family_scores = family_labels * 0.3 + rng.random(150)
    families = np.repeat(np.arange(150), 4)
    labels, scores = family_labels[families], family_scores[families]
    by_row = bootstrap_average_precision(labels, scores, 300, seed=1)[0]
    by_family = bootstrap_average_precision(labels, scores, 300, seed=1, groups=families)[0]
    row_lower, row_upper = percentile_interval(by_row)
    family_lower, family_upper = percentile_interval(by_family)
    assert family_upper - family_lower > 1.6 * (row_upper - row_lower)


def test_evaluate_all_resamples_families_and_names_a_missing_one():
    frame, _ = large_predictions(400, seed=2)
    ids = sorted(frame["referral_id"].unique())
    families = pd.Series([f"f{i // 3}" for i in range(len(ids))], index=ids)
    tables = evaluate_all(frame, cv_results(), "o", "d", bootstrap_resamples=50, families=families)
    details = tables["details"].set_index("model")
    assert (details["bootstrap_method"] == "by family").all()
    # The verdicts' intervals are the family bootstrap's, not the narrower row one's.
    labels, wide = score_matrix(frame)
    groups = family_numbers(
        families.loc[wide.index].to_numpy(), np.column_stack([labels, wide.to_numpy()])
    )
    for name, group_by in (("family", groups), ("row", None)):
        resampled = bootstrap_average_precision(labels, wide.to_numpy(), 50, 0, group_by)
        observed = details.loc[wide.columns, "average_precision"].to_numpy()
        lower, upper = bias_corrected_interval(resampled, observed)
        same = np.allclose(details.loc[wide.columns, "ap_ci_lower"], lower) and np.allclose(
            details.loc[wide.columns, "ap_ci_upper"], upper
        )
        assert same == (name == "family")
    with pytest.raises(ValueError, match="not in the cohort"):
        evaluate_all(frame, cv_results(), "o", "d", families=families.iloc[1:])


def test_percentile_interval_handles_nan_and_infinity():
    lower, upper = percentile_interval(np.array([[1.0, np.nan, 3.0], [np.nan] * 3]))
    assert lower[0] == pytest.approx(1.05) and upper[0] == pytest.approx(2.95)
    assert np.isnan(lower[1]) and np.isnan(upper[1])
    _, upper = percentile_interval(np.array([1.0, np.inf, np.inf, np.inf]))
    assert upper == np.inf


@pytest.mark.parametrize(
    ("lower", "upper", "expected"),
    [
        (0.65, 0.9, MEETS),
        (0.7, 0.8, MEETS),
        (0.5, 0.6499, FAILS),
        (0.5, 0.65, UNSURE),
        (0.6, 0.7, UNSURE),
        (np.nan, np.nan, UNSURE),
    ],
)
def test_verdict(lower, upper, expected):
    assert verdict(lower, upper, 0.65) == expected


def large_predictions(n: int = 3000, seed: int = 0) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Predictions of a strong, a useless and a baseline model on ``n`` rows."""
    rng = np.random.default_rng(seed)
    labels = (rng.random(n) < 0.15).astype(np.int8)
    scores = {
        "lightgbm": np.clip(0.85 * labels + 0.3 * rng.random(n), 0, 1),
        "logistic_regression": rng.random(n),
        "previous_referrals": rng.poisson(1 + labels).astype(float),
    }
    ids = [f"r{i:05d}" for i in range(n)]
    frame = pd.concat(
        [
            pd.DataFrame({"referral_id": ids, "model": m, "label": labels, "score": s})
            for m, s in scores.items()
        ],
        ignore_index=True,
    )
    cv = pd.DataFrame(
        [
            {
                "model": m,
                "candidate": 0,
                "params": "{}",
                "fold": f,
                "average_precision": 0.5,
                "selected": True,
            }
            for m in scores
            for f in range(3)
        ]
    )
    return frame, cv


def test_verdicts_and_speed_on_3000_rows():
    frame, cv = large_predictions()
    started = time.perf_counter()
    tables = evaluate_all(frame, cv, "o", "d", 0.65, 0.5, [10, 25], 500, 11)
    assert time.perf_counter() - started < 5
    details = tables["details"].set_index("model")
    assert details.loc["lightgbm", "verdict"] == MEETS
    assert details.loc["logistic_regression", "verdict"] == FAILS
    for model, row in details.iterrows():
        assert row["ap_ci_lower"] - 1e-12 <= row["average_precision"], model
        assert row["average_precision"] <= row["ap_ci_upper"] + 1e-12, model
    assert (details["bootstrap_valid"] == 500).all()
    # the models against the baseline, paired on the same resamples: the strong
    # model clearly above it, the useless one clearly below, the baseline itself none
    assert details.loc["lightgbm", "ap_minus_baseline_lower"] > 0
    assert details.loc["logistic_regression", "ap_minus_baseline_upper"] < 0
    assert (
        details.loc["previous_referrals", ["ap_minus_baseline_lower", "ap_minus_baseline_upper"]]
        .isna()
        .all()
    )
    for model in ("lightgbm", "logistic_regression"):
        gap = (
            details.loc[model, "average_precision"]
            - details.loc["previous_referrals", "average_precision"]
        )
        assert (
            details.loc[model, "ap_minus_baseline_lower"]
            <= gap
            <= details.loc[model, "ap_minus_baseline_upper"]
        )


def test_bootstrap_interval_is_seeded_and_paired():
    frame, _ = large_predictions(400, seed=2)
    wide = frame.pivot(index="referral_id", columns="model", values="score")
    labels = frame.drop_duplicates("referral_id")["label"].to_numpy()
    a = bootstrap_average_precision(labels, wide.to_numpy(), 50, seed=1)
    b = bootstrap_average_precision(labels, wide.to_numpy(), 50, seed=1)
    c = bootstrap_average_precision(labels, wide.to_numpy(), 50, seed=2)
    np.testing.assert_array_equal(a, b)
    assert not np.array_equal(a, c)
    single = bootstrap_average_precision(labels, wide["lightgbm"].to_numpy(), 50, seed=1)
    np.testing.assert_array_equal(single[0], a[list(wide.columns).index("lightgbm")])


def test_plain_bootstrap_drops_resamples_without_positives(caplog):
    labels = [1, 0, 0, 0, 0]
    frame = predictions(labels=labels)
    with caplog.at_level("INFO"):
        tables = evaluate_all(frame, cv_results(), "o", "d", bootstrap_resamples=200, seed=0)
    warnings = [r.getMessage() for r in caplog.records if r.levelname == "WARNING"]
    assert any("of 200 bootstrap resamples hold no positive case" in w for w in warnings)
    details = tables["details"]
    assert (details["bootstrap_method"] == "by row").all()
    assert (details["bootstrap_valid"] < 200).all() and (details["bootstrap_valid"] > 0).all()
    assert details["ap_ci_lower"].notna().all()


def test_bad_parameters_are_input_errors():
    with pytest.raises(InputError, match="top_k_percent"):
        evaluate_all(predictions(), cv_results(), "o", "d", top_k_percent=[0])
    with pytest.raises(InputError, match="bootstrap_resamples"):
        evaluate_all(predictions(), cv_results(), "o", "d", bootstrap_resamples=0)


def test_a_score_on_a_bin_edge_falls_in_the_bin_the_threshold_rule_flags_it_in():
    # "score >= 0.3" flags a score of exactly 0.3: so must its calibration bin
    table = calibration_table(np.array([0, 1, 1]), np.array([0.3, 0.6, 0.7]), 10)
    assert table.loc[table["n"] > 0, "bin"].tolist() == [3, 6, 7]
    assert table["bin_lower"].iloc[3] == 0.3


def test_the_bias_corrected_interval_shifts_with_the_observed_value():
    samples = np.arange(1, 101) / 100
    plain = percentile_interval(samples)
    # observed at the resamples' median: z0 = 0, the plain percentile interval
    centred = bias_corrected_interval(samples, 0.505)
    # (Phi(-1.96) is 0.024998, not 0.025)
    np.testing.assert_allclose(np.ravel(centred), plain, atol=1e-5)
    # observed at 0.8: 79 resamples below and one tie, p = 0.795, so the ends are
    # the percentiles at Phi(2 z0 -+ 1.96), not at 2.5% and 97.5%
    normal = NormalDist()
    z0 = normal.inv_cdf(0.795)
    levels = [normal.cdf(2 * z0 - 1.96), normal.cdf(2 * z0 + 1.96)]
    lower, upper = bias_corrected_interval(samples, 0.8)
    np.testing.assert_allclose([lower[0], upper[0]], np.quantile(samples, levels))
    assert lower[0] > 0.35 > plain[0]
    # observed beyond every resample: z0 stays finite (half a resample from 0),
    # NaN resamples are ignored, and a statistic without resamples has none
    lower, upper = bias_corrected_interval(
        np.array([np.r_[samples, np.nan], np.full(101, np.nan)]), [2.0, 0.5]
    )
    assert 0.99 < lower[0] <= upper[0] <= 1.0
    assert np.isnan(lower[1]) and np.isnan(upper[1])


def test_the_bias_corrected_interval_keeps_infinite_resamples():
    # ratios to a reference rate that is 0 in some resamples: an end among the
    # infinite ones is infinite, not NaN (numpy interpolates inf - inf)
    samples = np.r_[np.linspace(0.5, 2.0, 190), np.full(10, np.inf)]
    lower, upper = bias_corrected_interval(samples, 1.9)
    assert 0.5 < lower[0] < 2.0 and upper[0] == np.inf
    lower, upper = bias_corrected_interval(samples, 1.0)
    assert 0.5 < lower[0] < upper[0] < 2.0


def test_the_bias_corrected_lower_end_says_yes_falsely_about_as_often_as_it_should():
    # Test sets of 150 cases, 6% positive: AP is biased upwards, and the plain
    # percentile interval's lower end lies above the population AP far more
    # often than the nominal 2.5% (each time a false "meets the bar").
    rng = np.random.default_rng(3)

    def draw(n):
        labels = (rng.random(n) < 0.06).astype(int)
        return labels, rng.normal(2.0 * labels, 1.0)

    truth = average_precision_score(*draw(400_000))
    plain_misses = corrected_misses = trials = 0
    for replicate in range(300):
        labels, scores = draw(150)
        if not labels.any():
            continue
        trials += 1
        resampled = bootstrap_average_precision(labels, scores, 200, seed=replicate)
        observed = resampled_average_precision(labels, scores, np.ones(len(labels)))
        plain_misses += truth < percentile_interval(resampled)[0][0]
        corrected_misses += truth < bias_corrected_interval(resampled, observed)[0][0]
    assert plain_misses / trials > 0.06
    assert corrected_misses / trials < 0.04
