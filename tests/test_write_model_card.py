"""Tests for workflow/scripts/write_model_card.py."""

import pandas as pd
import pytest
from test_render_report import audit_with_cases_between_two_groups

from report_wording import Disclosure, hidden_rates
from write_model_card import (
    data_sentence,
    fairness_findings,
    flagged_features,
    leakage_checks,
    markdown_table,
    model_card,
    results_table,
)

DESIGNS = ["random_structured", "random_text", "time_structured", "time_text"]
DISCLOSURE = Disclosure(min_count=10)
# audit_features' rows of one outcome: nothing flagged.
AUDIT = pd.DataFrame(
    {
        "check": ["single-feature ROC AUC", "single-feature extreme-group precision"],
        "subject": ["n_previous_referrals"] * 2,
        "value": [0.61, 0.3],
        "threshold": [0.9, 0.9],
        "flagged": [False, False],
        "detail": ["plausible"] * 2,
        "cases": pd.array([None, 20], dtype="Int64"),
        "positives": pd.array([None, 6], dtype="Int64"),
    }
)


def ts(*values: str) -> pd.Series:
    return pd.Series(pd.to_datetime(list(values))).astype("datetime64[ms]")


@pytest.fixture
def cohort() -> pd.DataFrame:
    return pd.DataFrame(
        {
            "outcome": "escalation",
            "referral_id": ["r1", "r2", "r3", "r4"],
            "child_id": ["c1", "c2", "c3", "c4"],
            "family_id": ["f1", "f1", "f2", "f3"],
            "referral_date": ts("2018-01-01", "2018-02-01", "2019-01-01", "2019-06-01"),
            "prediction_time": ts("2018-01-15", "2018-02-15", "2019-01-15", "2019-06-15"),
            "label_known_time": ts("2018-04-15", "2018-05-15", "2019-04-15", "2019-09-15"),
            "label": pd.Series([0, 1, 0, 1], dtype="int8"),
        }
    )


def splits_of(roles: dict[str, str]) -> pd.DataFrame:
    return pd.DataFrame(
        {"referral_id": list(roles), "fold": -1, "role": list(roles.values())}
    ).astype({"fold": "int16"})


def clean_inputs(cohort):
    splits = {
        "random": splits_of({"r1": "train", "r2": "train", "r3": "test", "r4": "test"}),
        "time": splits_of({"r1": "train", "r2": "train", "r3": "excluded", "r4": "test"}),
    }
    features = pd.DataFrame(
        {"referral_id": cohort["referral_id"], "feature_time": ts(*["2017-12-01"] * 4)}
    )
    return splits, features


def test_clean_inputs_pass_every_leakage_check(cohort):
    splits, features = clean_inputs(cohort)
    checks = leakage_checks(cohort, splits, features)
    assert len(checks) == 4
    assert (checks["count"] == 0).all()


def test_leakage_checks_count_what_they_look_for(cohort):
    splits, features = clean_inputs(cohort)
    # Random: siblings r1 and r2 on both sides. Time: r4 trains although its
    # label is known (2019-09-15) after the test period began (r3, 2019-01-15).
    # And one feature recorded at the prediction point itself.
    splits["random"] = splits_of({"r1": "train", "r2": "test", "r3": "test", "r4": "train"})
    splits["time"] = splits_of({"r1": "train", "r2": "train", "r3": "test", "r4": "train"})
    features.loc[0, "feature_time"] = cohort.loc[0, "prediction_time"]
    checks = leakage_checks(cohort, splits, features).set_index(["check", "split"])["count"]
    assert checks[("structured features recorded at or after the prediction point", "all")] == 1
    assert checks[("families on both sides of a split (outer or inner)", "random")] == 1
    assert checks[("families on both sides of a split (outer or inner)", "time")] == 0
    assert checks[("training labels known only after the test period began", "time")] == 1


def fairness_row(group: str, n: int, fdr_disparity: str, n_positive: int = 20) -> dict:
    """A group of ``n`` cases, half of them flagged and half of its
    ``n_positive`` cases with the outcome missed."""
    row = {
        "outcome": "escalation",
        "design": "time_text",
        "model": "lightgbm",
        "attribute": "sex",
        "group": group,
        "reference_group": "female",
        "is_reference": group == "female",
        "small_group": n < 30,
        "n": n,
        "n_positive": n_positive,
        "n_flagged": n // 2,
    }
    for metric in (
        "false_positive_rate",
        "false_negative_rate",
        "false_discovery_rate",
        "false_omission_rate",
        "flagged_share",
    ):
        row[metric] = 0.5
        row[f"{metric}_ratio"] = 1.0
        row[f"{metric}_disparity"] = "within band"
    row["false_discovery_rate_ratio"] = 1.6
    row["false_discovery_rate_disparity"] = fdr_disparity
    return row


def test_model_card_states_verdicts_fairness_and_checks(cohort):
    splits, features = clean_inputs(cohort)
    summary = pd.DataFrame(
        {
            "outcome": "escalation",
            "design": DESIGNS,
            "model": "lightgbm",
            "average_precision": [0.4, 0.5, 0.3, 0.7],
            "ap_ci_lower": [0.3, 0.4, 0.2, 0.66],
            "ap_ci_upper": [0.5, 0.6, 0.4, 0.8],
            "baseline_average_precision": 0.2,
            "ap_minus_baseline_lower": 0.05,
            "ap_minus_baseline_upper": 0.4,
            "best_feature_average_precision": 0.25,
            "ap_minus_best_feature_lower": 0.02,
            "ap_minus_best_feature_upper": 0.3,
            "base_rate": 0.1,
            "n_test": 400,
            "cv_ap_lower_bound": 0.35,
            "verdict": ["does not meet the bar"] * 3 + ["meets the bar"],
        }
    )
    fairness = pd.DataFrame(
        [
            fairness_row("female", 200, "reference"),
            fairness_row("male", 12, "outside band", n_positive=10),
            fairness_row("other", 60, "within band"),
            fairness_row("unknown", 80, "outside band"),
        ]
    )
    curves = pd.DataFrame(
        {
            "design": "time_text",
            "fraction": [0.25, 0.5, 1.0],
            "n_train": [25, 50, 100],
            "test_average_precision": [0.5, 0.6, 0.7],
        }
    )
    card = model_card(
        "la9",
        "escalation",
        {
            "description": "A plan  within 3 months.",
            "type": "escalation",
            "events": ["section47", "cp_plan"],
            "prediction_offset_days": 14,
            "horizon_months": 3,
            "text_window_days": 21,
        },
        ["structured", "text"],
        0.65,
        cohort,
        splits,
        features,
        AUDIT,
        summary,
        fairness,
        curves,
        [0.8, 1.25],
        DISCLOSURE,
        30,
        16,
    )
    assert card.startswith("# Model card: escalation in la9")
    assert "A plan within 3 months." in card
    assert "children under 16 at referral" in card
    assert "with a child protection plan ongoing at the prediction point; " in card
    assert "with a section 47 enquiry from the referral date up to the prediction point" in card
    assert (
        "| Time-ordered split, structured data and text | LightGBM (gradient boosting) | 0.700 | "
        "0.660 to 0.800" in card
    )
    assert "meets the bar | probably: test AP was still rising (+0.100" in card
    assert "**Answer:** Yes, on future cases." in card
    assert "| does not meet the bar (optimistic) |" in card
    # male (2 cases without the outcome) could identify a child, and so could
    # "other", the next smallest: neither their findings nor their verdicts count
    assert "| sex | unknown | 80 | false discovery rate | 1.600 | female |" in card
    assert "| sex | male |" not in card
    assert "clearly outside the band 1, clearly inside it 8, cannot be told" in card
    assert "Small groups (fewer than 30 cases), whose rates are uncertain: sex male." in card
    assert "12" not in card.split("## Fairness")[1]
    # four referrals: no count below 10 and no exact date
    assert (
        "<10 referrals of <10 children in <10 families, referred between 2018-01 and "
        "2019-06; <10 (a share not shown) had the outcome." in card
    )
    assert "2018-01-01" not in card and "2019-06-01" not in card
    assert "`disclosure.min_count` (now 10)" in card
    assert "## Leakage checks" in card
    assert "| families on both sides of a split (outer or inner) | random | 0 |" in card
    assert "No feature predicts the outcome implausibly well on its own" in card
    # the verdict's interval leaves out the run's own random draws, and says so
    assert "nor the run's own random draws (the config's seed)" in card
    assert "r1" not in card and "f1" not in card


def test_model_card_without_text_rests_on_the_structured_designs(cohort):
    splits, features = clean_inputs(cohort)
    summary = pd.DataFrame(
        {
            "outcome": "escalation",
            "design": ["random_structured", "time_structured"],
            "model": "lightgbm",
            "average_precision": [0.5, 0.7],
            "ap_ci_lower": [0.4, 0.66],
            "ap_ci_upper": [0.6, 0.8],
            "baseline_average_precision": 0.2,
            "ap_minus_baseline_lower": 0.05,
            "ap_minus_baseline_upper": 0.4,
            "best_feature_average_precision": 0.25,
            "ap_minus_best_feature_lower": 0.02,
            "ap_minus_best_feature_upper": 0.3,
            "base_rate": 0.1,
            "n_test": 400,
            "cv_ap_lower_bound": 0.35,
            "verdict": ["does not meet the bar", "meets the bar"],
        }
    )
    fairness = pd.DataFrame(
        [
            fairness_row("female", 200, "reference") | {"design": "time_structured"},
            fairness_row("male", 50, "outside band") | {"design": "time_structured"},
        ]
    )
    curves = pd.DataFrame(
        {
            "design": "time_structured",
            "fraction": [0.25, 0.5, 1.0],
            "n_train": [25, 50, 100],
            "test_average_precision": [0.5, 0.6, 0.7],
        }
    )
    definition = {
        "description": "A plan.",
        "type": "escalation",
        "prediction_offset_days": 14,
        "horizon_months": 3,
        "text_window_days": 21,
    }
    first = ["la9", "escalation", definition, ["structured"], 0.65, cohort]
    rest = [features, AUDIT, summary, fairness, curves, [0.8, 1.25], DISCLOSURE, 30, 18]
    card = model_card(*first, splits, *rest)
    assert "**Answer:** Yes, on future cases." in card
    assert "with structured data only (the pre-specified design, which decides), 0.700" in card
    assert "switched off in the config (designs.text: false)" in card
    assert "the two designs with text were not run" in card
    assert "## Fairness (time-ordered split, structured data only)" in card
    # the fairness of the design that answers
    assert "| sex | male | 50 | false discovery rate | 1.600 | female |" in card
    # a failed leakage check's count of 1 to 9 families is not shown
    splits["random"] = splits_of({"r1": "train", "r2": "test", "r3": "test", "r4": "train"})
    card = model_card(*first, splits, *rest)
    assert "| families on both sides of a split (outer or inner) | random | <10 |" in card
    assert "no case notes were used" in card and "case-note text from" not in card
    assert "Four designs" not in card and "structured data and text" not in card
    # a caution on model selection follows the answer, in its own paragraph
    assert "Model selection rests" not in card
    card = model_card(*first, splits, *rest, "Model selection rests on few cases.")
    assert "**Answer:** Yes, on future cases." in card
    after_answer = card.split("**Answer:**", 1)[1].split("\n\n")
    assert after_answer[1] == "Model selection rests on few cases."


def test_fairness_findings_lists_only_clear_disparities():
    groups = pd.DataFrame(
        [fairness_row("female", 200, "reference"), fairness_row("male", 50, "cannot tell")]
    )
    assert fairness_findings(groups, DISCLOSURE).empty
    shown = fairness_findings(
        pd.DataFrame(
            [
                fairness_row("female", 200, "reference"),
                fairness_row("male", 50, "outside band"),
                fairness_row("other", 40, "outside band"),
            ]
        ),
        DISCLOSURE,
    )
    assert shown["cases"].tolist() == [50, 40]
    assert shown["ratio to reference"].tolist() == [1.6, 1.6]
    assert markdown_table(pd.DataFrame({"a": [1.0, float("nan")]})).splitlines()[2:] == [
        "| 1.000 |",
        "| - |",
    ]


def test_fairness_findings_hide_verdicts_that_reveal_small_counts():
    # 3 of male's 13 flagged cases were false alarms (10 of its 20 with the
    # outcome were flagged): its false discovery rate would reveal the 3, and
    # so would the test set's count less the other groups', so the next
    # smallest group (unknown) is hidden too.
    groups = pd.DataFrame(
        [
            fairness_row("female", 200, "reference"),
            fairness_row("male", 80, "outside band") | {"n_flagged": 13},
            fairness_row("unknown", 85, "outside band"),
            fairness_row("other", 90, "outside band"),
        ]
    )
    shown = fairness_findings(groups, DISCLOSURE)
    assert shown["group"].tolist() == ["other"]
    # the reference group's rate revealing a small count hides every finding
    # against it, as the report hides those verdicts: a ratio, or only its
    # interval, beside the group's shown rate would give the reference's back
    reference_small = groups.assign(n_flagged=[13, 45, 45, 45])
    rates_hidden = hidden_rates(reference_small, DISCLOSURE)
    assert rates_hidden.loc[0].all() and not rates_hidden.loc[3].any()
    assert fairness_findings(reference_small, DISCLOSURE).empty


def test_the_card_hides_an_outcome_free_group_its_extreme_group_would_give_away():
    # The report shows the extreme group (not flagged); the card names the
    # flagged outcome-free group: it judges the whole audit, as the report does.
    sentence = flagged_features(audit_with_cases_between_two_groups(), DISCLOSURE)
    assert "`code` (single-feature outcome-free group suppressed" in sentence
    assert "415" not in sentence


def test_flagged_features_are_named_on_the_card():
    audit = AUDIT.assign(
        subject=["closure_marker", "closure_marker"],
        value=[0.74, 1.0],
        flagged=[False, True],
        positives=pd.array([None, 20], dtype="Int64"),
    )
    sentence = flagged_features(pd.concat([AUDIT, audit], ignore_index=True), DISCLOSURE)
    assert sentence.startswith("**1 feature(s) predict the outcome implausibly well")
    assert "`closure_marker` (single-feature extreme-group precision 1.000, threshold 0.9)" in (
        sentence
    )
    assert "n_previous_referrals" not in sentence


def test_an_outcome_free_group_is_named_on_the_card_in_cases():
    audit = pd.DataFrame(
        {
            "check": ["single-feature outcome-free group"],
            "subject": ["current_referral_closed"],
            "value": [238.0],
            "threshold": [149.0],
            "flagged": [True],
            "detail": ["0 of the 238 cases"],
            "cases": pd.array([238], dtype="Int64"),
            "positives": pd.array([0], dtype="Int64"),
        }
    )
    sentence = flagged_features(pd.concat([AUDIT, audit], ignore_index=True), DISCLOSURE)
    assert "`current_referral_closed` (single-feature outcome-free group 238, threshold 149)" in (
        sentence
    )
    assert "because it did not happen, or on cases that cannot have it" in sentence


def test_flagged_features_hide_an_extreme_group_share_counted_from_few_children():
    # 19 of the 20 cases with its highest values have the outcome: 0.950
    # would reveal the one without it; the flag is still named.
    audit = AUDIT.assign(
        subject="closure_marker",
        value=[0.74, 0.95],
        flagged=[False, True],
        positives=pd.array([None, 19], dtype="Int64"),
    )
    sentence = flagged_features(audit, DISCLOSURE)
    named = "`closure_marker` (single-feature extreme-group precision suppressed, threshold 0.9)"
    assert named in sentence
    assert "0.950" not in sentence


def test_data_sentence_hides_cases_with_the_outcome_that_give_those_without():
    # 25 of 30 referrals with the outcome: the 25 would give the 5 without it
    many = pd.DataFrame(
        {
            "child_id": [f"c{i}" for i in range(30)],
            "family_id": [f"f{i}" for i in range(30)],
            "referral_date": pd.date_range("2018-01-01", periods=30, freq="7D"),
            "label": [1] * 25 + [0] * 5,
        }
    )
    sentence = data_sentence(many, False, DISCLOSURE)
    assert "30 referrals of 30 children in 30 families, referred between 2018-01 and " in (sentence)
    assert "; suppressed (a share not shown) had the outcome." in sentence


def test_results_table_hides_a_base_rate_counted_from_few_cases():
    # 120 test cases, 6 with the outcome (the report's split table hides it too)
    summary = pd.DataFrame(
        {
            "design": ["time_structured", "time_text"],
            "model": "lightgbm",
            "average_precision": 0.3,
            "ap_ci_lower": 0.2,
            "ap_ci_upper": 0.4,
            "baseline_average_precision": 0.1,
            "ap_minus_baseline_lower": 0.05,
            "ap_minus_baseline_upper": 0.4,
            "best_feature_average_precision": 0.25,
            "ap_minus_best_feature_lower": 0.02,
            "ap_minus_best_feature_upper": 0.3,
            "base_rate": [0.05, 0.5],
            "n_test": 120,
            "cv_ap_lower_bound": 0.3,
            "verdict": "does not meet the bar",
        }
    )
    curves = pd.DataFrame(
        {
            "design": "time_text",
            "fraction": [0.25, 0.5, 1.0],
            "n_train": [25, 50, 100],
            "test_average_precision": [0.3, 0.3, 0.3],
        }
    )
    table = results_table(summary, curves, DISCLOSURE)
    assert table["base rate"].tolist() == ["suppressed", 0.5]
