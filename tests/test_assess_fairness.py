"""Tests for workflow/scripts/assess_fairness.py.

Group metrics are checked against fairlearn's MetricFrame (a test-only
dependency) on the same labels, flags and groups.
"""

import types
import warnings

import numpy as np
import pandas as pd
import pyarrow.parquet as pq
import pytest
from fairlearn.metrics import (
    MetricFrame,
    count,
    false_negative_rate,
    false_positive_rate,
    selection_rate,
)
from sklearn.metrics import average_precision_score, precision_score

from assess_fairness import (
    GROUPS_SCHEMA,
    OUTSIDE,
    REFERENCE,
    UNDEFINED,
    UNSURE,
    WITHIN,
    age_band,
    assess_fairness,
    attach_groups,
    band_judgement,
    choose_references,
    disability_group,
    ethnicity_group,
    group_metrics,
    main,
    metric_columns,
    sex_group,
)
from common import InputError, write_parquet
from evaluate_models import bias_corrected_interval, percentile_interval

MODELS = ("lightgbm", "logistic_regression", "previous_referrals")
N_ROWS = 600
RESAMPLES = 40


def make_inputs(n: int = N_ROWS, seed: int = 0) -> dict[str, pd.DataFrame]:
    """Predictions, selected model, cohort and children of ``n`` test referrals, one
    child each, with a tiny all-negative ethnic group ("BAFR", 8 rows, one of
    which, the first, has no child record)."""
    rng = np.random.default_rng(seed)
    ids = [f"r{i:04d}" for i in range(n)]
    child_ids = [f"c{i:04d}" for i in range(n)]
    referral_date = pd.Timestamp("2020-06-15")
    ages = rng.uniform(-0.2, 17.9, n)
    birth = (referral_date - pd.to_timedelta(np.round(ages * 365.25), unit="D")).to_period("M")
    birth_month = pd.Series(birth.to_timestamp()).astype("datetime64[ms]")
    birth_month[rng.random(n) < 0.05] = pd.NaT
    ethnicity = rng.choice(["WBRI", "WOTH", "APKN", "MWBC", "OOTH", "REFU"], size=n)
    ethnicity[:8] = "BAFR"
    labels = (rng.random(n) < 0.2).astype(np.int8)
    labels[:8] = 0
    children = pd.DataFrame(
        {
            "child_id": child_ids[1:],  # the first child has no record
            "family_id": child_ids[1:],
            "sex": rng.choice(["F", "M", "U"], size=n - 1, p=[0.48, 0.48, 0.04]),
            "birth_month": birth_month[1:].to_numpy(),
            "ethnicity": ethnicity[1:],
            "disability": rng.random(n - 1) < 0.1,
        }
    )
    cohort = pd.DataFrame(
        {
            "outcome": "escalation",
            "referral_id": ids,
            "child_id": child_ids,
            "family_id": child_ids,
            "referral_date": pd.Series([referral_date] * n).astype("datetime64[ms]"),
            "prediction_time": pd.Series([referral_date] * n).astype("datetime64[ms]"),
            "label_known_time": pd.Series([referral_date] * n).astype("datetime64[ms]"),
            "label": labels,
        }
    )
    scores = {
        "lightgbm": np.clip(0.35 * labels + rng.random(n) * 0.7, 0, 1),
        "logistic_regression": rng.random(n),
        "previous_referrals": rng.poisson(1, n).astype(float),
    }
    predictions = pd.concat(
        [
            pd.DataFrame({"referral_id": ids, "model": m, "label": labels, "score": s})
            for m, s in scores.items()
        ],
        ignore_index=True,
    )
    return {
        "predictions": predictions,
        "selected_model": "logistic_regression",
        "cohort": cohort,
        "children": children,
    }


@pytest.fixture(scope="module")
def inputs() -> dict[str, pd.DataFrame]:
    return make_inputs()


@pytest.fixture(scope="module")
def table(inputs) -> pd.DataFrame:
    return assess_fairness(
        **inputs,
        outcome="escalation",
        design="time_text",
        decision_threshold=0.5,
        bootstrap_resamples=RESAMPLES,
        seed=3,
    )


# --- groups -------------------------------------------------------------------


def test_age_bands_at_their_edges():
    ages = pd.Series([-0.1, 0.0, 0.99, 1.0, 4.99, 5.0, 9.99, 10.0, 15.99, 16.0, 17.5, np.nan])
    assert age_band(ages).tolist() == [
        "under 1",
        "under 1",
        "under 1",
        "1-4",
        "1-4",
        "5-9",
        "5-9",
        "10-15",
        "10-15",
        "16+",
        "16+",
        "missing",
    ]


def test_ethnicity_groups():
    codes = pd.Series(
        [
            "WBRI",
            "mwbc",
            " ABAN",
            "BCRB",
            "CHNE",
            "OOTH",
            "REFU",
            "NOBT",
            None,
            "",
            "XXXX",
            "WHITE",
        ],
        dtype="str",
    )
    assert ethnicity_group(codes).tolist() == [
        "White",
        "Mixed",
        "Asian",
        "Black",
        "Other",
        "Other",
        "Refused/not obtained",
        "Refused/not obtained",
        "missing",
        "missing",
        "unrecognised",
        "unrecognised",
    ]


def test_unrecognised_ethnicity_is_logged_by_its_shape_only(caplog):
    codes = pd.Series(["WBRI", "Mrs Kowalczyk 12"], dtype="str")
    with caplog.at_level("WARNING"):
        assert ethnicity_group(codes).tolist() == ["White", "unrecognised"]
    assert "Aaa Aaaaaaaaa 99" not in caplog.text and "AAA AAAAAAAAA 99" in caplog.text
    assert "KOWALCZYK" not in caplog.text.upper()


def test_sex_and_disability_groups():
    sex = pd.Series(["F", "m", "U", "2", None, "X"], dtype="str")
    assert sex_group(sex).tolist() == ["female", "male", "unknown", "female", "missing", "unknown"]
    flags = pd.Series([True, False, None], dtype="boolean")
    assert disability_group(flags).tolist() == ["disabled", "not disabled", "missing"]


def test_attach_groups_uses_referral_date_and_marks_unknown_children(inputs):
    ids = ["r0000", "r0010"]
    groups = attach_groups(ids, inputs["cohort"], inputs["children"])
    assert groups.index.tolist() == ids
    assert groups.loc["r0000"].tolist() == ["missing"] * 4  # no child record
    child = inputs["children"].set_index("child_id").loc["c0010"]
    age = (pd.Timestamp("2020-06-01") - child["birth_month"]).days / 365.25
    expected = age_band(pd.Series([age])).iloc[0]
    assert groups.loc["r0010", "age_band"] == expected
    with pytest.raises(ValueError, match="not in the cohort"):
        attach_groups(["nope"], inputs["cohort"], inputs["children"])


# --- against fairlearn --------------------------------------------------------


def false_omission_rate(y_true, y_pred) -> float:
    y_true, y_pred = np.asarray(y_true), np.asarray(y_pred)
    negatives = y_pred == 0
    return float((y_true[negatives] == 1).mean()) if negatives.any() else np.nan


@pytest.mark.parametrize("model", ["lightgbm", "logistic_regression"])
@pytest.mark.parametrize("attribute", ["age_band", "sex", "disability", "ethnicity"])
def test_group_metrics_match_fairlearn(inputs, table, model, attribute):
    predictions = inputs["predictions"]
    rows = predictions[predictions["model"] == model].sort_values("referral_id")
    groups = attach_groups(rows["referral_id"], inputs["cohort"], inputs["children"])[attribute]
    y_true = rows["label"].to_numpy()
    y_flag = (rows["score"].to_numpy() >= 0.5).astype(int)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        flags = MetricFrame(
            metrics={
                "n": count,
                "false_positive_rate": false_positive_rate,
                "false_negative_rate": false_negative_rate,
                "precision": lambda y, p: precision_score(y, p, zero_division=np.nan),
                "flagged_share": selection_rate,
                "false_omission_rate": false_omission_rate,
            },
            y_true=y_true,
            y_pred=y_flag,
            sensitive_features=groups.to_numpy(),
        ).by_group
        ranking = MetricFrame(
            metrics={"average_precision": average_precision_score},
            y_true=y_true,
            y_pred=rows["score"].to_numpy(),
            sensitive_features=groups.to_numpy(),
        ).by_group
    ours = table[(table["model"] == model) & (table["attribute"] == attribute)].set_index("group")
    assert sorted(ours.index) == sorted(flags.index)
    flags = flags.loc[ours.index]
    np.testing.assert_array_equal(ours["n"], flags["n"])
    flags["false_discovery_rate"] = 1 - flags["precision"]
    # fairlearn reports 0 where a rate has no denominator; ours is missing there
    defined = {
        "false_positive_rate": ours["n"] > ours["n_positive"],
        "false_negative_rate": ours["n_positive"] > 0,
        "false_discovery_rate": ours["n_flagged"] > 0,
        "false_omission_rate": ours["n_flagged"] < ours["n"],
        "flagged_share": ours["n"] > 0,
    }
    for metric, ok in defined.items():
        np.testing.assert_allclose(
            ours.loc[ok, metric], flags.loc[ok, metric], rtol=1e-12, err_msg=metric
        )
        assert ours.loc[~ok, metric].isna().all(), metric
    has_positives = ours["n_positive"] > 0
    np.testing.assert_allclose(
        ours.loc[has_positives, "average_precision"],
        ranking.loc[ours.index[has_positives], "average_precision"],
        rtol=1e-12,
    )
    assert ours.loc[~has_positives, "average_precision"].isna().all()
    # ratios are the group's metric over the reference group's
    reference = ours["reference_group"].iloc[0]
    for metric in ("false_positive_rate", "flagged_share"):
        expected = flags[metric] / flags.loc[reference, metric]
        np.testing.assert_allclose(ours[f"{metric}_ratio"], expected, rtol=1e-12)


# --- table --------------------------------------------------------------------


def test_table_shape_order_and_flags(table):
    assert list(table.columns) == GROUPS_SCHEMA.names
    assert sorted(set(table["model"])) == ["lightgbm", "logistic_regression"]  # no baseline
    assert table.groupby("model")["selected"].first().to_dict() == {
        "lightgbm": False,
        "logistic_regression": True,
    }
    assert table["attribute"].unique().tolist() == ["age_band", "sex", "disability", "ethnicity"]
    ages = table[(table["model"] == "lightgbm") & (table["attribute"] == "age_band")]
    assert ages["group"].tolist() == ["under 1", "1-4", "5-9", "10-15", "16+", "missing"]
    for _, rows in table.groupby(["model", "attribute"]):
        assert rows["n"].sum() == N_ROWS
        assert rows["is_reference"].sum() == 1
    assert (table["small_group"] == (table["n"] < 30)).all()


def test_tiny_group_without_positives_is_kept_not_a_crash(table):
    black = table[(table["attribute"] == "ethnicity") & (table["group"] == "Black")]
    assert len(black) == 2
    row = black.iloc[0]
    # eight BAFR children, but the first has no child record (group "missing")
    assert row["n"] == 7 and row["n_positive"] == 0 and row["small_group"]
    assert np.isnan(row["average_precision"]) and np.isnan(row["false_negative_rate"])
    assert row["false_negative_rate_disparity"] == UNDEFINED
    assert row["base_rate"] == 0 and row["base_rate_lower"] == 0
    assert 0 < row["base_rate_upper"] < 0.5


def test_reference_is_largest_non_missing_group(table):
    rows = table[(table["model"] == "lightgbm") & (table["attribute"] == "sex")]
    largest = rows.loc[rows["group"] != "missing"].sort_values("n").iloc[-1]["group"]
    assert (rows["reference_group"] == largest).all()
    reference = rows[rows["is_reference"]].iloc[0]
    assert reference["false_positive_rate_ratio"] == 1.0
    assert reference["false_positive_rate_disparity"] == REFERENCE


def test_intervals_contain_the_estimates(table):
    for metric in ("average_precision", "false_positive_rate", "false_discovery_rate"):
        ok = table[metric].notna()
        inside = (table.loc[ok, f"{metric}_lower"] <= table.loc[ok, metric] + 1e-12) & (
            table.loc[ok, metric] <= table.loc[ok, f"{metric}_upper"] + 1e-12
        )
        assert inside.all(), metric


def test_configured_reference_and_errors(inputs):
    out = assess_fairness(
        **inputs,
        outcome="o",
        design="d",
        bootstrap_resamples=5,
        fairness_reference={"ethnicity": "Asian"},
    )
    ethnicity = out[out["attribute"] == "ethnicity"]
    assert (ethnicity["reference_group"] == "Asian").all()
    with pytest.raises(InputError, match="fairness.reference.ethnicity"):
        assess_fairness(**inputs, outcome="o", design="d", fairness_reference={"ethnicity": "X"})
    with pytest.raises(InputError, match="unknown attributes"):
        assess_fairness(**inputs, outcome="o", design="d", fairness_reference={"race": "White"})
    with pytest.raises(InputError, match="disparity_band"):
        assess_fairness(**inputs, outcome="o", design="d", disparity_band=[1.2, 0.8])


def test_choose_references_ties_and_missing():
    sizes = {"sex": {"female": 10, "male": 10, "missing": 50}, "age_band": {"missing": 4}}
    assert choose_references(sizes) == {"sex": "female", "age_band": "missing"}


@pytest.mark.parametrize(
    ("ratio", "lower", "upper", "expected"),
    [
        (1.0, 0.8, 1.25, WITHIN),
        (1.0, 0.79, 1.1, UNSURE),
        (2.0, 1.3, 3.0, OUTSIDE),
        (0.5, 0.2, 0.79, OUTSIDE),
        (1.5, 1.1, np.inf, UNSURE),
        (np.inf, 2.0, np.inf, OUTSIDE),
        (np.nan, np.nan, np.nan, UNDEFINED),
        (1.0, np.nan, np.nan, UNSURE),
    ],
)
def test_band_judgement(ratio, lower, upper, expected):
    assert band_judgement(ratio, lower, upper, (0.8, 1.25)) == expected


def test_zero_rate_uses_wilson_interval_and_conservative_ratio():
    labels = np.array([0] * 6)
    point = group_metrics(labels, np.full(6, 0.1), np.zeros(6, dtype=bool), np.arange(6))
    resampled = {"flagged_share": np.zeros(10)}
    reference = group_metrics(
        np.array([0] * 100), np.linspace(0, 1, 100), np.arange(100) < 20, np.arange(100)
    )
    reference_resampled = {"flagged_share": np.full(10, 0.2)}
    out = metric_columns(
        "flagged_share", point, resampled, reference, reference_resampled, False, (0.8, 1.25)
    )
    assert out["flagged_share"] == 0 and out["flagged_share_lower"] == 0
    assert 0.3 < out["flagged_share_upper"] < 0.45  # Wilson upper bound of 0 / 6
    assert out["flagged_share_ratio"] == 0 and out["flagged_share_outside_band"]
    assert out["flagged_share_ratio_upper"] > 1.25
    assert out["flagged_share_disparity"] == UNSURE  # six rows cannot show a disparity


def test_a_group_ap_interval_is_bias_corrected_as_the_verdicts_is():
    # resampled APs mostly below the group's AP, as with few positive cases:
    # the plain percentiles would sit too low and too narrow about it
    resampled = {"average_precision": np.random.default_rng(0).beta(2, 8, size=400)}
    point = {"average_precision": 0.3}
    reference = {"average_precision": 0.2}
    reference_resampled = {"average_precision": np.full(400, 0.2)}
    out = metric_columns(
        "average_precision", point, resampled, reference, reference_resampled, False, (0.8, 1.25)
    )
    corrected = bias_corrected_interval(resampled["average_precision"], 0.3)
    plain = percentile_interval(resampled["average_precision"])
    interval = (out["average_precision_lower"], out["average_precision_upper"])
    assert interval == (float(corrected[0][0]), float(corrected[1][0]))
    assert interval[0] > float(plain[0]) + 0.02 and interval[1] > float(plain[1]) + 0.02


def test_a_group_rate_and_its_ratio_have_bias_corrected_intervals():
    # a small group's share flagged, skewed as with few flagged cases, against
    # a reference whose share varies little
    rng = np.random.default_rng(1)
    resampled = {"flagged_share": rng.beta(2, 14, size=400)}
    point = {"flagged_share": 0.16, "flagged_share_numerator": 8, "flagged_share_denominator": 50}
    reference_resampled = {"flagged_share": rng.normal(0.1, 0.01, size=400)}
    reference = {
        "flagged_share": 0.1,
        "flagged_share_numerator": 30,
        "flagged_share_denominator": 300,
    }
    out = metric_columns(
        "flagged_share", point, resampled, reference, reference_resampled, False, (0.8, 1.25)
    )
    ratios = resampled["flagged_share"] / reference_resampled["flagged_share"]
    for column, resamples, observed in (
        ("flagged_share", resampled["flagged_share"], 0.16),
        ("flagged_share_ratio", ratios, out["flagged_share_ratio"]),
    ):
        corrected = bias_corrected_interval(resamples, observed)
        plain = percentile_interval(resamples)
        interval = (out[f"{column}_lower"], out[f"{column}_upper"])
        assert interval == (float(corrected[0][0]), float(corrected[1][0]))
        assert interval[0] > float(plain[0]) + 0.01


def test_deterministic_and_byte_identical(tmp_path, inputs, table):
    again = assess_fairness(
        **inputs, outcome="escalation", design="time_text", bootstrap_resamples=RESAMPLES, seed=3
    )
    pd.testing.assert_frame_equal(table, again)
    write_parquet(inputs["predictions"], tmp_path / "predictions.parquet", "predictions")
    write_parquet(inputs["cohort"], tmp_path / "cohort.parquet", "cohort")
    write_parquet(inputs["children"], tmp_path / "children.parquet", "children")
    # The study's rule selects logistic regression, never the (higher) baseline.
    cv_results = pd.DataFrame(
        {
            "model": [m for m in MODELS for _ in range(2)],
            "candidate": np.int32(0),
            "params": "{}",
            "fold": np.int16([0, 1] * len(MODELS)),
            "average_precision": [0.30, 0.31, 0.40, 0.41, 0.50, 0.51],
            "selected": True,
        }
    )
    write_parquet(cv_results, tmp_path / "cv_results.parquet", "cv_results")
    outputs = []
    for name in ("a", "b"):
        snakemake = types.SimpleNamespace(
            input=types.SimpleNamespace(
                **{
                    key: str(tmp_path / f"{key}.parquet")
                    for key in ("predictions", "cv_results", "cohort", "children")
                }
            ),
            params=types.SimpleNamespace(
                outcome="escalation",
                design="time_text",
                decision_threshold=0.5,
                bootstrap_resamples=RESAMPLES,
                seed=3,
                fairness_reference=None,
                min_group_size=30,
                disparity_band=[0.8, 1.25],
            ),
            output=types.SimpleNamespace(groups=str(tmp_path / name / "groups.parquet")),
            log=[str(tmp_path / "log.txt")],
        )
        main(snakemake)
        outputs.append((tmp_path / name / "groups.parquet").read_bytes())
    assert outputs[0] == outputs[1]
    written = pq.read_table(tmp_path / "a" / "groups.parquet")
    assert written.schema.remove_metadata().equals(GROUPS_SCHEMA)
    pd.testing.assert_frame_equal(
        written.to_pandas()[["model", "attribute", "group", "n", "false_positive_rate"]],
        table[["model", "attribute", "group", "n", "false_positive_rate"]],
        check_dtype=False,
    )


def test_fairness_reference_must_be_a_mapping():
    snakemake = types.SimpleNamespace(
        params=types.SimpleNamespace(fairness_reference="White"),
    )
    with pytest.raises(InputError, match="mapping"):
        main(snakemake)


def test_group_intervals_resample_whole_families():
    # identical siblings in threes (same record, label and scores) hold the
    # information of a third as many cases: intervals widen by about sqrt(3)
    inputs = make_inputs()
    first = np.arange(N_ROWS) // 3 * 3
    cohort = inputs["cohort"].assign(label=inputs["cohort"]["label"].to_numpy()[first])
    children = pd.concat([cohort[["child_id"]].iloc[:1], inputs["children"]], ignore_index=True)
    children = children.assign(
        **{c: children[c].to_numpy()[first] for c in children.columns if c != "child_id"}
    ).iloc[1:]
    predictions = inputs["predictions"].copy()
    for _, rows in predictions.groupby("model"):
        predictions.loc[rows.index, "score"] = rows["score"].to_numpy()[first]
        predictions.loc[rows.index, "label"] = cohort["label"].to_numpy()
    alone = {**inputs, "cohort": cohort, "children": children, "predictions": predictions}
    siblings = {**alone, "cohort": cohort.assign(family_id=[f"f{i}" for i in first])}
    widths = []
    for case in (alone, siblings):
        out = assess_fairness(**case, outcome="o", design="d", bootstrap_resamples=200, seed=3)
        ok = out["average_precision"].notna() & (out["n"] >= 60)
        widths.append(
            out.loc[ok, "average_precision_upper"] - out.loc[ok, "average_precision_lower"]
        )
    assert (widths[1] / widths[0]).median() > 1.3


@pytest.mark.parametrize(
    ("positive_families", "min_group_size", "expected"),
    [(1, 30, UNSURE), (10, 30, OUTSIDE), (10, 48, UNSURE)],
)
def test_a_disparity_is_judged_only_over_enough_families(
    positive_families, min_group_size, expected
):
    # 40 more Black children (47 in all), 10 of them positive and all missed; the
    # positives are siblings of one family or ten families. One family cannot
    # show a disparity, however large: a bootstrap that keeps it in every
    # resample made its interval far too narrow. Nor can a group smaller than
    # min_group_size.
    inputs = make_inputs()
    group = np.arange(8, 48)
    positives = group[:10]
    children = inputs["children"].copy()
    children.loc[children["child_id"].isin([f"c{i:04d}" for i in group]), "ethnicity"] = "BCRB"
    labels = inputs["cohort"]["label"].to_numpy().copy()
    labels[group] = 0
    labels[positives] = 1
    family = np.array([f"c{i:04d}" for i in range(N_ROWS)], dtype=object)
    family[positives] = [f"f{i % positive_families}" for i in range(10)]
    cohort = inputs["cohort"].assign(label=labels, family_id=family)
    predictions = inputs["predictions"].assign(label=np.tile(labels, len(MODELS)))
    missed = predictions["referral_id"].isin([f"r{i:04d}" for i in positives])
    predictions.loc[missed, "score"] = 0.0
    out = assess_fairness(
        **{**inputs, "cohort": cohort, "children": children, "predictions": predictions},
        outcome="o",
        design="d",
        bootstrap_resamples=200,
        seed=3,
        min_group_size=min_group_size,
    )
    row = out.set_index(["model", "attribute", "group"]).loc[("lightgbm", "ethnicity", "Black")]
    assert row["n"] == 47 and row["n_positive"] == 10
    assert row["small_group"] == (min_group_size > 47)
    assert row["false_negative_rate"] == 1.0 and row["false_negative_rate_ratio"] > 2
    assert row["false_negative_rate_disparity"] == expected


def test_a_score_at_the_decision_threshold_is_flagged(inputs):
    # as in evaluate_models: a case scored exactly at the threshold is flagged
    at_threshold = inputs["predictions"].assign(score=0.5)
    out = assess_fairness(
        **{**inputs, "predictions": at_threshold},
        outcome="o",
        design="d",
        decision_threshold=0.5,
        bootstrap_resamples=RESAMPLES,
        seed=3,
    )
    rates = out.loc[out["n_positive"] > 0, "false_negative_rate"]
    assert len(rates) and (rates == 0).all()
