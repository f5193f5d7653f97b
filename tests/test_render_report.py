"""Tests for the report sections of workflow/scripts/render_report.py."""

import re
from dataclasses import fields

import matplotlib.dates as mdates
import numpy as np
import pandas as pd
import pytest
from sklearn.metrics import average_precision_score
from test_compare_runs import CURRENT, EARLIER

from audit_features import leakage_audit
from compare_runs import compare_summaries
from evaluate_models import bias_corrected_interval
from render_report import (
    FairnessComparison,
    RunArtefacts,
    ale_section,
    audit_table,
    calibration_alt,
    calibration_figure,
    calibration_points_table,
    cohort_table,
    data_qa_section,
    deltas_section,
    disparity_cell,
    fairness_table,
    flagging_hidden,
    fold_table,
    group_calibration_section,
    headline_section,
    learning_curve_section,
    learning_curve_table,
    merged_bins,
    models_section,
    models_table,
    outcome_definitions,
    pr_alt,
    pr_curve_figure,
    pr_points_table,
    refit_bootstrap_section,
    score_inflation,
    shown_calibration,
    shown_parts,
    shown_pr_points,
    shown_test_base_rate,
    split_picture,
    split_table,
    table_html,
    terms_section,
    threshold_rules_hidden,
    threshold_table,
    verdict_table,
)
from report_wording import (
    SUPPRESSED,
    Disclosure,
    answer_design,
    cohort_rules,
    disparity_summary,
    hidden_rates,
    honest_answer,
    pair_reveals_small_count,
    random_average_precision,
    shown_disparities,
    study_designs,
    suppressed_groups,
    text_window_wording,
)

DISCLOSURE = Disclosure(min_count=10)
# common.smk's FEATURE_SETS by default and with designs.text: false.
WITH_TEXT = ["structured", "text"]
STRUCTURED_ONLY = ["structured"]
# score_inflation of the default config (models.class_balance: weights).
WEIGHTED = score_inflation({"class_balance": "weights"})


def test_missing_numbers_show_as_a_dash():
    assert "<td>-</td>" in table_html(pd.DataFrame({"a": [np.nan]}))


def test_deltas_section_shows_each_designs_change_and_status():
    section = deltas_section(compare_summaries(EARLIER, CURRENT), "archive/old.parquet")
    assert "archive/old.parquet" in section
    assert "<td>0.300</td><td>0.660</td><td>0.360</td>" in section
    assert "dropped" in section and "new" in section
    assert "Logistic regression" in section
    assert "The bar changed" not in section


def test_refit_interval_says_what_the_refits_hold_fixed():
    summary = summary_of({"time_text": NO})
    resamples = pd.DataFrame(
        {"outcome": "escalation", "design": "time_text", "test_average_precision": [0.4, 0.5]}
    )
    section = refit_bootstrap_section(resamples, summary)
    assert "depends on which cases it was trained on" in section
    assert (
        "The hyperparameters and, in the designs with text, the topic model (fitted once on "
        "all the training cases) are held fixed" in section
    )


def test_refit_interval_is_bias_corrected_about_the_test_ap():
    # refits that mostly score below the test AP (0.5): a plain percentile
    # interval would sit too low, as the verdict's would on few positives
    summary = summary_of({"time_text": NO})
    refits = np.linspace(0.2, 0.6, 41)
    resamples = pd.DataFrame(
        {"outcome": "escalation", "design": "time_text", "test_average_precision": refits}
    )
    section = refit_bootstrap_section(resamples, summary)
    (low,), (high,) = bias_corrected_interval(refits, 0.5)
    plain = np.quantile(refits, [0.025, 0.975])
    assert f"{low:.3f} to {high:.3f}" in section
    assert f"{plain[0]:.3f} to {plain[1]:.3f}" not in section


def test_deltas_section_says_when_the_bar_moved():
    lower_bar = CURRENT.assign(success_threshold=0.5)
    section = deltas_section(compare_summaries(EARLIER, lower_bar), "archive/old.parquet")
    assert "The bar changed between the runs" in section
    assert "<td>0.650</td><td>0.500</td>" in section


def test_learning_curve_table_answers_per_design():
    curves = pd.DataFrame(
        {
            "design": "time_text",
            "model": "lightgbm",
            "fraction": [0.25, 0.5, 1.0],
            "n_train": [25, 50, 100],
            "test_average_precision": [0.2, 0.25, 0.3],
        }
    )
    table = learning_curve_table(curves)
    assert table["design"].tolist() == ["Time-ordered split, structured data and text"]
    assert table["training cases"].tolist() == [100]
    assert table["test AP, smallest share"].tolist() == [0.2]
    assert table["test AP, all"].tolist() == [0.3]
    assert table["would more data help?"].iloc[0].startswith("probably:")


def fairness_groups(rows: list[tuple[str, str, int, int]]) -> pd.DataFrame:
    """One model's fairness rows: (attribute, group, cases, positive cases),
    with the rates of flagging half the cases, among them half of those with
    the outcome."""
    groups = pd.DataFrame(rows, columns=["attribute", "group", "n", "n_positive"])
    rate = groups["n_positive"] / groups["n"]
    flagged = groups["n"] // 2
    found = groups["n_positive"] // 2
    missed = groups["n_positive"] - found
    rates = {
        "false_positive_rate": (flagged - found) / (groups["n"] - groups["n_positive"]),
        "false_negative_rate": missed / groups["n_positive"],
        "false_discovery_rate": (flagged - found) / flagged,
        "false_omission_rate": missed / (groups["n"] - flagged),
        "flagged_share": flagged / groups["n"],
    }
    groups = groups.assign(
        n_flagged=flagged,
        # each attribute's first group is its reference
        is_reference=groups.groupby("attribute").cumcount() == 0,
        small_group=groups["n"] < 30,
        base_rate=rate,
        base_rate_lower=rate / 2,
        base_rate_upper=rate * 1.5,
        mean_score=0.3,
        calibration_gap=0.3 - rate,
        average_precision=0.4,
    )
    for metric, values in rates.items():
        groups[metric] = values
        groups[f"{metric}_disparity"] = "cannot tell"
        groups[f"{metric}_ratio_lower"] = 0.6
        groups[f"{metric}_ratio_upper"] = 1.7
    return groups


def test_groups_that_could_identify_a_child_are_suppressed():
    groups = fairness_groups(
        [
            ("ethnicity", "White", 300, 30),
            ("ethnicity", "Black", 40, 10),
            ("ethnicity", "Asian", 24, 1),  # small and one positive: the reviewer's case
            ("ethnicity", "Other", 60, 10),
            ("sex", "female", 200, 20),
            ("sex", "male", 210, 4),  # large, but fewer than 5 positives
            ("age_band", "1-4", 100, 10),
            ("age_band", "5-9", 100, 96),  # fewer than 5 without the outcome
            ("age_band", "10-15", 120, 10),
            ("disability", "disabled", 40, 6),
            ("disability", "not disabled", 370, 40),
        ]
    )
    hidden = suppressed_groups(groups, DISCLOSURE)
    # Asian alone would be hidden in ethnicity: the next smallest (Black) is hidden
    # too, so its figures cannot be recovered from the total. Sex and disability
    # have two groups.
    assert groups.loc[hidden, "group"].tolist() == ["Black", "Asian", "female", "male"] + [
        "1-4",
        "5-9",
        "disabled",
        "not disabled",
    ]
    table = fairness_table(groups, DISCLOSURE)
    asian = table.loc[table["group"] == "Asian"].iloc[0]
    assert asian["cases"] == "suppressed"
    assert asian["base rate"] == asian["AP"] == asian["FNR"] == "suppressed"
    assert asian["FNR vs reference"] == "suppressed"
    male = table.loc[table["group"] == "male"].iloc[0]
    assert male["cases"] == "suppressed" and male["base rate"] == "suppressed"
    white = table.loc[table["group"] == "White"].iloc[0]
    assert white["cases"] == 300 and white["base rate"] == pytest.approx(0.1)
    assert white["FNR vs reference"] == "cannot tell (ratio 0.60 to 1.70)"
    html = table_html(table)
    assert "<td>300</td>" in html
    assert "<td>24</td>" not in html and "0.042" not in html
    assert suppressed_groups(groups, Disclosure(1)).sum() == 0


def test_fairness_rates_never_give_a_small_cell_alone_or_by_subtraction():
    groups = fairness_groups(
        [
            # the reviewer's age band: 7 of its 14 flagged had the outcome, 7 did not
            ("age_band", "5-9", 154, 21),
            ("age_band", "10-15", 200, 40),
            ("age_band", "1-4", 180, 30),
            # three groups each with too few positives, 9 between them: White's
            # 40 shown beside the test set's 49 would give the 9
            ("ethnicity", "White", 365, 40),
            ("ethnicity", "Asian", 40, 4),
            ("ethnicity", "Black", 35, 3),
            ("ethnicity", "Mixed", 30, 2),
            ("sex", "female", 250, 45),
            ("sex", "male", 284, 46),
        ]
    )
    age = groups["group"] == "5-9"
    groups.loc[age, "n_flagged"] = 14
    groups.loc[age, "false_negative_rate"] = 14 / 21
    hidden = suppressed_groups(groups, DISCLOSURE)
    assert groups.loc[hidden, "group"].tolist() == ["White", "Asian", "Black", "Mixed"]
    rates = hidden_rates(groups, DISCLOSURE).set_axis(groups["group"])
    # the age band's cells are hidden, and the next smallest band's with them,
    # lest the test set's counts less the shown band's give them back
    assert rates.loc["5-9"].all() and rates.loc["1-4"].all()
    assert not rates.loc["10-15"].any()
    assert not rates.loc[["female", "male"]].any(axis=None)
    table = fairness_table(groups, DISCLOSURE).set_index("group")
    assert table.loc["5-9", "FOR"] == table.loc["5-9", "flagged"] == "suppressed"
    assert table.loc["5-9", "base rate"] == pytest.approx(21 / 154)


def test_fairness_verdicts_do_not_reveal_counts_that_suppression_hides():
    # The reviewer's case: "Mixed" (21 cases, none with the outcome) and
    # "Refused" (4) were suppressed but their FNR verdict "undefined" showed
    # that no case had the outcome; "Black" had none flagged (FDR undefined).
    groups = fairness_groups(
        [
            ("ethnicity", "White", 300, 30),
            ("ethnicity", "Black", 100, 20),
            ("ethnicity", "Mixed", 21, 0),
            ("ethnicity", "Refused", 4, 0),
            ("sex", "female", 200, 40),
            ("sex", "male", 212, 10),
        ]
    )
    groups.loc[groups["n_positive"] == 0, "false_negative_rate_disparity"] = "undefined"
    groups.loc[groups["group"] == "Black", "n_flagged"] = 0
    groups.loc[groups["group"] == "Black", "false_discovery_rate_disparity"] = "undefined"
    # male: 5 of its 10 with the outcome missed (FNR 0.5 reveals the 5)
    table = fairness_table(groups, DISCLOSURE)
    html = table_html(table)
    assert "undefined" not in html
    by_group = table.set_index("group")
    assert by_group.loc["Mixed", "FNR vs reference"] == "suppressed"
    assert by_group.loc["Refused", "cases"] == "<10"
    assert by_group.loc["Black", "FDR"] == by_group.loc["Black", "FDR vs reference"]
    assert by_group.loc["Black", "FDR"] == "suppressed"
    assert by_group.loc["male", "FNR"] == "suppressed"
    assert by_group.loc["male", "FNR vs reference"] == "suppressed"
    assert by_group.loc["White", "FNR vs reference"] == "cannot tell (ratio 0.60 to 1.70)"
    # the verdicts counted in the sentence are the ones shown
    summary = disparity_summary(shown_disparities(groups, DISCLOSURE))
    assert "undefined (a rate with no cases to count) 0." in summary
    # and those hidden are said to be, lest the reader think fewer were made
    hidden = int(hidden_rates(groups, DISCLOSURE).to_numpy().sum())
    assert hidden > 1
    assert summary.endswith(f" {hidden} more are hidden, as their figures could identify a child.")


def test_fairness_verdicts_do_not_give_back_a_reference_rate_that_is_hidden():
    # The reviewer's case: White, the reference, flags 20 of its 300 cases, 5
    # of them false alarms, so its rates are hidden; Black's FNR ratio to it
    # (and its interval) beside Black's shown FNR would give White's back.
    groups = fairness_groups(
        [
            ("ethnicity", "White", 300, 30),
            ("ethnicity", "Black", 100, 20),
            ("ethnicity", "Other", 90, 20),
            ("ethnicity", "Asian", 80, 20),
            ("sex", "female", 300, 50),
            ("sex", "male", 270, 40),
        ]
    )
    groups.loc[groups["group"] == "White", "n_flagged"] = 20
    assert hidden_rates(groups, DISCLOSURE).loc[0].all()
    table = fairness_table(groups, DISCLOSURE).set_index("group")
    assert table.loc["Black", "FNR"] == pytest.approx(0.5)
    for label in ("FPR", "FNR", "FDR", "FOR", "flagged"):
        assert set(table.loc[["White", "Black", "Other", "Asian"], f"{label} vs reference"]) == {
            "suppressed"
        }
        # another attribute's reference is shown, and so are its comparisons
        assert table.loc["male", f"{label} vs reference"] == "cannot tell (ratio 0.60 to 1.70)"
    # the sentence counts them as hidden, not as shown verdicts
    summary = disparity_summary(shown_disparities(groups, DISCLOSURE))
    assert summary.endswith(" 20 more are hidden, as their figures could identify a child.")


def test_calibration_captions_name_the_configured_class_balance(tmp_path):
    assert WEIGHTED.startswith("balanced class weights")
    undersampled = score_inflation({"class_balance": "undersample", "undersample_ratio": 2.0})
    assert undersampled.startswith("fitting on 2 negative cases per positive")
    assert "class weights" not in undersampled
    assert score_inflation({"class_balance": "undersample", "undersample_ratio": 1.0}).startswith(
        "fitting on 1 negative case per"
    )
    groups = fairness_groups([("sex", "female", 300, 50), ("sex", "male", 270, 40)])
    section = group_calibration_section(groups, "model", "z", tmp_path, DISCLOSURE, undersampled)
    assert f"({undersampled}, so compare groups with each other)" in section


def test_group_calibration_section_hides_groups_that_could_identify_a_child(tmp_path):
    groups = fairness_groups(
        [("sex", "female", 120, 12), ("sex", "male", 15, 3), ("ethnicity", "White", 135, 15)]
    )
    # male's mean score, the mean of its few children's scores, is left out too
    groups.loc[groups["group"] == "male", "mean_score"] = 0.512
    section = group_calibration_section(groups, "model", "x", tmp_path, DISCLOSURE, WEIGHTED)
    assert (tmp_path / "group_calibration_x.png").stat().st_size > 1000
    assert "0.512" not in section and "<td>0.300</td>" in section
    assert "0.056 to 0.167" in section  # White's interval is shown
    assert "0.200" not in section and "<td>15</td>" not in section  # male's is not
    assert "could identify a child" in section
    assert (
        group_calibration_section(groups.iloc[:0], "model", "x", tmp_path, DISCLOSURE, WEIGHTED)
        == ""
    )
    only_small = groups.iloc[:2].assign(n=[20, 15])
    section = group_calibration_section(only_small, "model", "y", tmp_path, DISCLOSURE, WEIGHTED)
    assert "<figure>" not in section and not (tmp_path / "group_calibration_y.png").exists()


def audit_frame() -> pd.DataFrame:
    return pd.DataFrame(
        {
            "check": ["records before the prediction point"] + ["single-feature ROC AUC"] * 8,
            "subject": ["structured features", "leak", *[f"f{i}" for i in range(7)]],
            "value": [0.0, 0.97, 0.8, 0.7, 0.66, 0.65, 0.6, 0.55, 0.5],
            "threshold": [0.0] + [0.9] * 8,
            "flagged": [False, True] + [False] * 7,
            "detail": ["ok", "implausible", *["plausible"] * 7],
            "cases": pd.array([None] * 9, dtype="Int64"),
            "positives": pd.array([None] * 9, dtype="Int64"),
        }
    )


def test_audit_table_shows_checks_flags_and_strongest_features_once():
    shown = audit_table(audit_frame(), DISCLOSURE, top=3)
    assert shown["subject"].tolist() == ["structured features", "leak", "f0", "f1"]
    assert shown["flagged"].tolist() == ["ok", "FLAGGED", "ok", "ok"]


def test_audit_table_shows_each_single_feature_checks_flags_and_strongest():
    # a rare marker: low in AUC, flagged by its extreme-group precision
    precision = pd.DataFrame(
        {
            "check": ["single-feature extreme-group precision"] * 5,
            "subject": ["f0", "f1", "f2", "leak", "marker"],
            "value": [0.5, 0.3, 0.2, 0.4, 1.0],
            "threshold": [0.9] * 5,
            "flagged": [False, False, False, False, True],
            "detail": ["10 of the 20 cases", "", "", "", "30 of the 30 cases: check"],
            "cases": pd.array([20, 20, 20, 20, 30], dtype="Int64"),
            "positives": pd.array([10, 6, 4, 8, 30], dtype="Int64"),
        }
    )
    text_flags = audit_frame().iloc[[0]].assign(subject="text documents")
    shown = audit_table(pd.concat([audit_frame(), precision, text_flags]), DISCLOSURE, top=2)
    assert shown["subject"].tolist() == [
        "structured features",
        "text documents",
        "leak",
        "f0",
        "marker",
        "f0",
    ]
    assert shown["check"].tolist()[2:4] == ["single-feature ROC AUC"] * 2
    assert shown["check"].tolist()[4:] == ["single-feature extreme-group precision"] * 2
    assert shown["flagged"].tolist() == ["ok", "ok", "FLAGGED", "ok", "FLAGGED", "ok"]
    assert shown["value"].tolist()[4:] == [1.0, 0.5]


def test_audit_table_hides_an_extreme_group_share_counted_from_few_children():
    # 4 of 20 with the outcome; 19 of 20 (1 without); 10 of 20 is shown
    precision = pd.DataFrame(
        {
            "check": ["single-feature extreme-group precision"] * 3,
            "subject": ["few_with", "few_without", "enough"],
            "value": [0.2, 0.95, 0.5],
            "threshold": [0.9] * 3,
            "flagged": [False, True, False],
            "detail": ["4 of the 20 cases", "19 of the 20 cases: check", "10 of the 20 cases"],
            "cases": pd.array([20, 20, 20], dtype="Int64"),
            "positives": pd.array([4, 19, 10], dtype="Int64"),
        }
    )
    shown = audit_table(precision, DISCLOSURE).set_index("subject")
    assert shown.loc["few_with", "value"] == shown.loc["few_without", "value"] == "suppressed"
    assert shown.loc["few_without", "flagged"] == "FLAGGED"
    assert not shown.loc[["few_with", "few_without"], "finding"].str.contains("of the 20").any()
    assert shown.loc["few_without", "finding"].endswith("not recorded because of the outcome")
    assert shown.loc["enough", "value"] == 0.5
    assert shown.loc["enough", "finding"] == "10 of the 20 cases"


def test_audit_table_shows_outcome_free_groups_as_counts_with_their_own_advice():
    # only the flagged group and the top ones are shown, sizes as whole cases;
    # a hidden flagged group's advice is about the outcome not happening
    sizes = [238.0, 40.0, 30.0, 20.0, 12.0]
    outcome_free = pd.DataFrame(
        {
            "check": ["single-feature outcome-free group"] * 5,
            "subject": ["closed", "f1", "f2", "f3", "few"],
            "value": sizes,
            "threshold": [149.0] * 5,
            "flagged": [True, False, False, False, True],
            "detail": ["0 of the 238 cases: check", "", "", "", "0 of the 12 cases: check"],
            "cases": pd.array([238, 40, 30, 20, 3], dtype="Int64"),
            "positives": pd.array([0] * 5, dtype="Int64"),
        }
    )
    shown = audit_table(outcome_free, DISCLOSURE, top=2).set_index("subject")
    assert shown.index.tolist() == ["closed", "few", "f1"]
    assert "outcome-free group</td><td>238</td><td>149</td>" in table_html(shown)
    assert shown.loc["few", "value"] == "suppressed"
    assert shown.loc["few", "finding"].endswith("the outcome can happen to these cases at all")


def test_an_outcome_free_group_never_gives_a_hidden_count_by_subtraction():
    # a marker on all 60 positives of 500 training rows and on 5 others: its
    # precision row hides "60 of 65"; the outcome-free group (the other 435)
    # with the rows and positives the split table shows would give 5 back
    labels = np.r_[np.ones(60), np.zeros(440)].astype("int8")
    marker = np.r_[np.ones(65), np.zeros(435)]
    cohort = pd.DataFrame({"referral_id": [f"r{i}" for i in range(500)], "label": labels})
    features = pd.DataFrame({"referral_id": cohort["referral_id"], "marker": marker})
    audit = leakage_audit(cohort, {"structured": features}, 0.9, 0.9, 20, 0.001)
    shown = audit_table(audit, DISCLOSURE).set_index("check")
    assert shown.loc["single-feature extreme-group precision", "value"] == "suppressed"
    assert shown.loc["single-feature outcome-free group", "value"] == "suppressed"
    assert "435" not in table_html(shown)


def audit_with_cases_between_two_groups() -> pd.DataFrame:
    """The mutation review's case: 500 training rows, 60 with the outcome; 415
    at 0 without it, 5 at 1 (1 with it), 80 at 2 (59 with it). "59 of the 80 at
    2 or more" and "0 of the 415 at 0 or less" leave 5 cases at 1, 1 of them
    with the outcome. The outcome-free group is flagged, the extreme group not."""
    labels = np.r_[np.zeros(415), [1, 0, 0, 0, 0], np.ones(59), np.zeros(21)].astype("int8")
    code = np.r_[np.zeros(415), np.ones(5), np.full(80, 2.0)]
    cohort = pd.DataFrame({"referral_id": [f"r{i}" for i in range(500)], "label": labels})
    features = pd.DataFrame({"referral_id": cohort["referral_id"], "code": code})
    return leakage_audit(cohort, {"structured": features}, 0.9, 0.9, 20, 0.001)


def test_an_extreme_group_and_an_outcome_free_group_never_give_the_cases_between():
    shown = audit_table(audit_with_cases_between_two_groups(), DISCLOSURE).set_index("check")
    sizes = [
        shown.loc[check, "value"]
        for check in ("single-feature extreme-group precision", "single-feature outcome-free group")
    ]
    assert SUPPRESSED in sizes


@pytest.mark.parametrize(
    ("group", "free", "outside", "hidden"),
    [
        # opposite ends: 500 - 80 - 415 = 5 cases between
        ((80, 59), 415, (85, 60), True),
        # opposite ends: 60 cases between, 1 with the outcome
        ((80, 59), 360, (140, 60), True),
        # opposite ends: 100 between, 30 with the outcome: nothing small
        ((80, 30), 320, (180, 60), False),
        # one end: the 35 highest hold 10 with the outcome, the 20 highest none:
        # the 15 between them hold the 10, and 5 without it
        ((35, 10), 20, (480, 60), True),
        # the reviewer's overlap: the 50 highest (2 or more) hold 20 with the
        # outcome, the 455 at 2 or less none: 5 cases at 2 are in both
        ((50, 20), 455, (45, 20), True),
    ],
)
def test_an_extreme_and_an_outcome_free_group_are_judged_together(group, free, outside, hidden):
    assert pair_reveals_small_count(*group, free, *outside, DISCLOSURE) is hidden


def test_audit_table_hides_an_outcome_free_group_of_few_cases():
    # the 495 cases outside the group (60 with the outcome) are enough to show, but
    # the group itself is 5 cases
    audit = pd.DataFrame(
        {
            "check": ["single-feature outcome-free group"],
            "subject": ["code_x"],
            "value": [5.0],
            "threshold": [134.0],
            "flagged": [False],
            "detail": ["0 of the 5 cases with its highest values (3 or more) have the outcome"],
            "cases": pd.array([495], dtype="Int64"),
            "positives": pd.array([60], dtype="Int64"),
        }
    )
    shown = audit_table(audit, DISCLOSURE)
    assert shown["value"].tolist() == [SUPPRESSED]
    assert "of the 5 cases" not in table_html(shown)


def test_audit_table_prints_outcome_free_counts_beside_auc_rows_as_whole_numbers():
    audit = pd.DataFrame(
        {
            "check": ["single-feature ROC AUC", "single-feature outcome-free group"],
            "subject": ["source_2A", "source_2A"],
            "value": [0.61, 72.0],
            "threshold": [0.9, 210.0],
            "flagged": [False, False],
            "detail": ["", "0 of the 72 cases"],
            "cases": pd.array([None, 700], dtype="Int64"),
            "positives": pd.array([None, 40], dtype="Int64"),
        }
    )
    html_table = table_html(audit_table(audit, DISCLOSURE))
    assert "<td>0.610</td><td>0.900</td>" in html_table
    assert "<td>72</td><td>210</td>" in html_table


def test_fold_table_and_picture_cover_every_fold():
    diagnostics = pd.DataFrame(
        {
            "fold": pd.Series([-1, -1, 0, 0], dtype="int16"),
            "role": ["test", "train", "fit", "validate"],
            "rows": [10, 200, 71, 8],
            "positives": [1, 20, 1, 1],
            "base_rate": [0.1, 0.1, 1 / 71, 0.125],
            "first_prediction_time": pd.to_datetime(
                ["2020-01-01", "2018-01-01", "2018-01-01", "2019-01-01"]
            ),
            "last_prediction_time": pd.to_datetime(
                ["2020-12-31", "2019-12-31", "2018-12-31", "2019-12-31"]
            ),
            "shared_families": [0, 0, 0, 0],
        }
    )
    table = fold_table(diagnostics, DISCLOSURE)
    assert table["fold"].tolist() == ["outer", "outer", "inner 0", "inner 0"]
    # The reviewer's case: "71 rows, 1 positive, 2016-05-12 to 2016-10-15". A
    # fold's roles add up to totals shown elsewhere (the cohort's, the outer
    # training rows'): where one role's count is hidden, so is the other's.
    assert table["rows"].tolist() == [10, 200, "suppressed", "suppressed"]
    # the inner folds' counts alike: "<10" beside "suppressed" would tell which
    # are small
    assert table["positives"].tolist() == ["<10", "suppressed", "suppressed", "suppressed"]
    assert table["base rate"].tolist() == ["suppressed"] * 4
    assert table["from"].tolist() == ["2020-01", "2018-01", "2018-01", "2019-01"]
    assert table["to"].iloc[0] == "2020-12"
    assert "0.014" not in table_html(table)
    figure = split_picture(diagnostics, "t")
    assert [t.get_text() for t in figure.axes[0].get_yticklabels()] == ["outer", "inner 0"]
    assert len(figure.axes[0].patches) == 4
    # bars span whole months: 2020-01-01 to 2020-12-31 ends at the end of December
    test_bar = figure.axes[0].patches[0]
    assert mdates.num2date(test_bar.get_x()).strftime("%Y-%m-%d") == "2020-01-01"
    assert mdates.num2date(test_bar.get_x() + test_bar.get_width()).month == 12


def random_folds(train: tuple, test: tuple, validate: list[tuple]) -> pd.DataFrame:
    """Fold diagnostics of a random split: (rows, positives) of the outer
    training and test rows and of each inner fold's validation rows."""
    records = [(-1, "test", *test), (-1, "train", *train)]
    for fold, (rows, positives) in enumerate(validate):
        records += [(fold, "fit", train[0] - rows, train[1] - positives)]
        records += [(fold, "validate", rows, positives)]
    frame = pd.DataFrame(records, columns=["fold", "role", "rows", "positives"])
    return frame.assign(
        fold=frame["fold"].astype("int16"),
        first_prediction_time=pd.Timestamp("2015-01-01"),
        last_prediction_time=pd.Timestamp("2019-01-01"),
        shared_families=0,
    )


def test_fold_table_hides_counts_that_the_other_role_of_the_fold_reveals():
    # The bundled LA's NFA re-referral, random split: the validation fold's 9
    # positives showed as <10, but the training rows' 43 less the fit rows' 34
    # gave them; the rows (145 = 723 - 578) are safe to show.
    diagnostics = random_folds((723, 43), (484, 28), [(145, 9)])
    table = fold_table(diagnostics, DISCLOSURE)
    assert table["rows"].tolist() == [484, 723, 578, 145]
    assert table["positives"].tolist() == [28, 43, "suppressed", "suppressed"]
    assert table["base rate"].tolist()[:2] == pytest.approx([28 / 484, 43 / 723])
    assert table["base rate"].tolist()[2:] == ["suppressed"] * 2
    # and a role with few cases without the outcome (5 of 30) hides its
    # positives, and so the other role's
    few_without = diagnostics.assign(rows=[484, 723, 30, 693], positives=[28, 43, 25, 18])
    assert fold_table(few_without, DISCLOSURE)["positives"].tolist()[2:] == ["suppressed"] * 2


def test_fold_table_hides_every_inner_fold_count_the_others_would_give():
    # The training rows' 50 positives less four folds' validation positives
    # (10, 10, 11, 10) would give the fifth's 9.
    folds = random_folds(
        (500, 50), (400, 40), [(100, 9), (100, 10), (100, 10), (100, 11), (100, 10)]
    )
    table = fold_table(folds, DISCLOSURE)
    inner = table["fold"] != "outer"
    assert table.loc[~inner, "positives"].tolist() == [40, 50]
    assert set(table.loc[inner, "positives"]) == {"suppressed"}
    assert set(table.loc[inner, "base rate"]) == {"suppressed"}
    assert table.loc[inner, "rows"].tolist() == [400, 100] * 5
    # The test set's 8 positives hide the training rows' 92; an inner fold's
    # fit and validation positives (74 + 18) must not give them back.
    folds = random_folds((500, 92), (400, 8), [(250, 18), (250, 74)])
    table = fold_table(folds, DISCLOSURE)
    assert table["positives"].tolist()[:2] == ["<10", "suppressed"]
    assert set(table.loc[table["fold"] != "outer", "positives"]) == {"suppressed"}
    # nothing hidden: every count is shown
    folds = random_folds((500, 50), (400, 40), [(250, 25), (250, 25)])
    assert all(isinstance(v, int) for v in fold_table(folds, DISCLOSURE)["positives"])


def test_split_table_hides_the_training_rows_not_the_public_test_set_for_the_excluded():
    # The headline shows the test set's 23 positives of 400; hiding them for
    # the excluded rows' 7 would leave 90 - 60 - 23 = 7 to be worked out.
    labels = [1] * 60 + [0] * 540 + [1] * 23 + [0] * 377 + [1] * 7 + [0] * 143
    roles = ["train"] * 600 + ["test"] * 400 + ["excluded"] * 150
    cohort = pd.DataFrame(
        {
            "referral_id": [f"r{i}" for i in range(1150)],
            "family_id": [f"f{i}" for i in range(1150)],
            "label": labels,
            "referral_date": pd.date_range("2015-01-01", periods=1150, freq="D"),
        }
    ).assign(prediction_time=lambda frame: frame["referral_date"] + pd.Timedelta(days=14))
    split = pd.DataFrame({"referral_id": cohort["referral_id"], "fold": -1, "role": roles})
    row = split_table({("escalation", "time"): split}, {"escalation": cohort}, DISCLOSURE).iloc[0]
    assert row["test base rate"] == pytest.approx(23 / 400)
    assert row["train base rate"] == "suppressed"


def summary_of(verdicts: dict[str, str]) -> pd.DataFrame:
    """A summary with one outcome's designs and their verdicts."""
    designs = list(verdicts)
    return pd.DataFrame(
        {
            "outcome": "escalation",
            "design": designs,
            "model": "lightgbm",
            "average_precision": np.linspace(0.5, 0.8, len(designs)),
            "ap_ci_lower": 0.4,
            "ap_ci_upper": 0.9,
            "baseline_average_precision": 0.12,
            "ap_minus_baseline_lower": 0.2,
            "ap_minus_baseline_upper": 0.6,
            "best_feature_average_precision": 0.2,
            "ap_minus_best_feature_lower": 0.1,
            "ap_minus_best_feature_upper": 0.5,
            "base_rate": 0.1,
            "roc_auc": 0.8,
            "cv_ap_lower_bound": 0.5,
            "n_test": 400,
            "verdict": list(verdicts.values()),
        }
    )


NO, YES, UNSURE = "does not meet the bar", "meets the bar", "cannot tell"


def test_the_answer_comes_from_the_time_ordered_designs_only():
    # random designs meeting the bar do not make the answer "yes"
    random_yes = {"random_structured": YES, "random_text": YES}
    both_no = summary_of(random_yes | {"time_structured": NO, "time_text": NO})
    answer = honest_answer(both_no, 0.65, "time_text", DISCLOSURE)
    assert answer.startswith("No, not on future cases.")
    assert "with structured data only, 0.700 (95% interval 0.400 to 0.900): does not" in answer
    assert "bar of 0.65" in answer and "about the base rate, 0.100 (on average" in answer
    unsure = summary_of(random_yes | {"time_structured": NO, "time_text": UNSURE})
    assert honest_answer(unsure, 0.65, "time_text", DISCLOSURE).startswith(
        "Cannot tell: not shown to reach the bar, so not to be relied on."
    )
    yes = summary_of({"random_text": NO, "time_structured": UNSURE, "time_text": YES})
    assert honest_answer(yes, 0.65, "time_text", DISCLOSURE).startswith("Yes, on future cases.")
    assert "time-ordered design with structured data and text was not run" in honest_answer(
        summary_of(random_yes), 0.65, "time_text", DISCLOSURE
    )


def test_a_yes_says_when_ranking_by_previous_referrals_does_as_well():
    summary = summary_of({"time_structured": NO, "time_text": YES})
    answer = honest_answer(summary, 0.65, "time_text", DISCLOSURE)
    assert "interval +0.200 to +0.600, so clearly better)" in answer
    # the reviewer's case: the model meets the bar, the baseline scores as well
    summary["ap_minus_baseline_lower"] = -0.05
    answer = honest_answer(summary, 0.65, "time_text", DISCLOSURE)
    assert answer.startswith(
        "Yes, on future cases, but not clearly better than ranking by previous referrals."
    )
    assert "so not clearly better)" in answer
    # nor than the single feature that did best on the training rows
    both = summary.assign(ap_minus_best_feature_lower=-0.02)
    assert honest_answer(both, 0.65, "time_text", DISCLOSURE).startswith(
        "Yes, on future cases, but not clearly better than ranking by previous referrals or "
        "ranking by the single feature best on the training rows."
    )
    assert (
        "Ranking by the single feature best on the training rows scored 0.200 (the decisive "
        "model less it: 95% interval -0.020 to +0.500, so not clearly better)."
    ) in honest_answer(both, 0.65, "time_text", DISCLOSURE)
    summary["ap_minus_baseline_upper"] = -0.01
    assert "so clearly worse)" in honest_answer(summary, 0.65, "time_text", DISCLOSURE)
    # a bar that ranking at random would meet on average gives no answer
    summary["base_rate"] = 0.7
    assert honest_answer(summary, 0.65, "time_text", DISCLOSURE).startswith(
        "Cannot tell: ranking at random would on average score an AP at or above the bar"
    )
    # even below the base rate: 6 of 10 test cases with the outcome (base rate
    # 0.6) score 0.686 on average at random, above a bar of 0.65
    tiny = summary.assign(base_rate=0.6, n_test=10)
    assert honest_answer(tiny, 0.65, "time_text", DISCLOSURE).startswith(
        "Cannot tell: ranking at random would on average score"
    )
    # without a baseline (no previous-referrals feature) nothing is said of it,
    # and a yes is not called "not clearly better" than it
    summary[["ap_minus_baseline_lower", "ap_minus_baseline_upper"]] = np.nan
    summary["baseline_average_precision"] = np.nan
    summary["base_rate"] = 0.1
    answer = honest_answer(summary, 0.65, "time_text", DISCLOSURE)
    assert answer.startswith("Yes, on future cases. Tested")
    assert "previous referrals" not in answer and "nan" not in answer
    assert answer.endswith(
        "Ranking at random scores about the base rate, 0.100 (on average 0.113 on these 400 "
        "test cases: a little more on a small test set)."
    )


@pytest.mark.parametrize(
    ("cases", "positives", "expected"),
    # the reviewer's test sets, and the extremes: one case, every case positive
    [(402, 23, 0.0703), (470, 49, 0.1152), (150, 9, 0.0890), (1, 1, 1.0), (30, 30, 1.0)],
)
def test_random_ranking_scores_a_little_more_than_the_base_rate(cases, positives, expected):
    assert random_average_precision(cases, positives) == pytest.approx(expected, abs=5e-5)
    labels = np.zeros(cases)
    labels[:positives] = 1
    rng = np.random.default_rng(0)
    simulated = np.mean([average_precision_score(labels, rng.random(cases)) for _ in range(2000)])
    assert simulated == pytest.approx(random_average_precision(cases, positives), abs=0.003)
    assert random_average_precision(cases, positives) >= positives / cases


def test_only_the_pre_specified_design_decides_the_answer():
    # Two chances at "yes" would raise the risk of a false one, up to double.
    structured_yes = summary_of({"time_structured": YES, "time_text": NO})
    answer = honest_answer(structured_yes, 0.65, "time_text", DISCLOSURE)
    assert answer.startswith("No, not on future cases.")
    assert "with structured data only, 0.500 (95% interval 0.400 to 0.900): meets" in answer
    assert "and text (the pre-specified design, which decides), 0.800" in answer
    assert answer.index("structured data only") < answer.index("pre-specified")
    structured_unsure = summary_of({"time_structured": UNSURE, "time_text": NO})
    assert honest_answer(structured_unsure, 0.65, "time_text", DISCLOSURE).startswith(
        "No, not on future cases."
    )


def test_the_config_s_feature_sets_give_the_designs_and_the_one_that_answers():
    assert study_designs(WITH_TEXT) == [
        "random_structured",
        "random_text",
        "time_structured",
        "time_text",
    ]
    assert answer_design(WITH_TEXT) == "time_text"
    assert study_designs(STRUCTURED_ONLY) == ["random_structured", "time_structured"]
    assert answer_design(STRUCTURED_ONLY) == "time_structured"


def test_without_text_the_structured_design_answers_and_the_report_says_why():
    summary = summary_of({"random_structured": YES, "time_structured": UNSURE})
    answer = honest_answer(summary, 0.65, answer_design(STRUCTURED_ONLY), DISCLOSURE)
    assert answer.startswith("Cannot tell: not shown to reach the bar, so not to be relied on.")
    assert "with structured data only (the pre-specified design, which decides), 0.800" in answer
    section = headline_section(summary, STRUCTURED_ONLY, 0.65, None, None, None, DISCLOSURE, {}, {})
    assert "predicted under two study designs, with structured data only." in section
    assert "rerun it with two or three other seeds (bench/seed_spread.py)" in section
    assert "One pre-specified design, time-ordered with structured data only, decides" in section
    assert (
        "Case-note text was switched off in the config (designs.text: false), so the two "
        "designs with text were not run (they did not fail) and the answer rests on "
        "structured data only."
    ) in section
    assert "time-ordered with text" not in section and "four study designs" not in section
    with_text = headline_section(
        summary_of({"time_structured": NO, "time_text": NO}),
        WITH_TEXT,
        0.65,
        None,
        None,
        None,
        DISCLOSURE,
        {"escalation": "Two weeks after referral: a plan or care within 3 months. "},
        {},
    )
    assert "four study designs" in with_text and "switched off" not in with_text
    # the answer names each outcome in plain English, not only by its config key
    assert (
        "<b>escalation</b> (Two weeks after referral: a plan or care within 3 months): No,"
        in with_text
    )


def test_a_test_set_with_few_cases_with_the_outcome_hides_its_base_rate():
    # 120 test cases, 6 with the outcome: the split table hides the base rate,
    # so the headline table and the answer may not show it beside the cases.
    summary = summary_of({"time_structured": NO, "time_text": NO}).assign(
        n_test=120, base_rate=0.05
    )
    table = verdict_table(summary, DISCLOSURE)
    assert table["base rate"].tolist() == ["suppressed"] * 2
    assert table["test cases"].tolist() == [120, 120]
    answer = honest_answer(summary, 0.65, "time_text", DISCLOSURE)
    assert "0.050" not in answer and "on average" not in answer
    assert "the base rate (not shown: fewer than 10 test cases had, or had not," in answer
    few_cases = verdict_table(summary.assign(n_test=8, base_rate=0.5), DISCLOSURE)
    assert few_cases["test cases"].tolist() == ["<10"] * 2


def test_outcome_definitions_give_the_text_window_only_when_text_is_on():
    outcomes = {
        "escalation": {
            "description": "A plan.",
            "prediction_offset_days": 14,
            "prediction_point": "referral",
            "type": "escalation",
            "text_window_days": 21,
            "horizon_months": 3,
        }
    }
    assert "; text from the 21 days before it.</li>" in outcome_definitions(outcomes, True)
    without = outcome_definitions(outcomes, False)
    assert (
        "14 day(s) after the referral date; the outcome is looked for in the 3 months " in without
    )
    assert "after it.</li>" in without and "text" not in without


def test_headline_marks_the_random_designs_optimistic():
    summary = summary_of(
        {"random_structured": YES, "random_text": YES, "time_structured": NO, "time_text": NO}
    )
    table = verdict_table(summary, DISCLOSURE)
    assert table["verdict"].tolist() == [YES] * 2 + [NO] * 2
    assert table["estimate"].tolist()[1:3] == [
        "optimistic: may learn from the future",
        "honest: future cases",
    ]
    section = headline_section(summary, WITH_TEXT, 0.65, None, None, None, DISCLOSURE, {}, {})
    assert "<h2>The answer</h2>" in section
    assert "<li><b>escalation</b> (see Outcomes below): No, not on future cases." in section
    assert "Model selection rests" not in section
    # an outcome's caution closes its answer, escaped
    cautioned = headline_section(
        summary, WITH_TEXT, 0.65, None, None, None, DISCLOSURE, {}, {"escalation": "Few's."}
    )
    answer = cautioned.split("<li><b>escalation</b>", 1)[1].split("</li>", 1)[0]
    assert answer.endswith(" Few&#x27;s.")
    # the optimistic rows are not coloured green
    assert 'class="meets"' not in section and section.count('class="optimistic"') == 2
    assert section.count('class="fails"') == 2


def test_cohort_rules_follow_each_outcomes_config():
    nfa = {"type": "nfa_rereferral", "exclude_already_escalated": True}
    assert cohort_rules(nfa, 18) == (
        "Referrals of children under 18 at referral (or of unknown age); left out: those "
        "whose outcome cannot yet be known (the horizon passes the end of the data); those "
        "closed with no further action and referred again by the prediction point (their "
        "outcome is already known)."
    )
    escalation = {"type": "escalation", "events": ["cp_plan", "care_episode"]}
    rules = cohort_rules(escalation, 16)
    assert "under 16" in rules
    assert rules.endswith(
        "those of children with a child protection plan or a period in care ongoing at the "
        "prediction point."
    )
    kept = cohort_rules(escalation | {"exclude_already_escalated": False}, 18)
    assert "ongoing" not in kept
    # events without a duration are never ongoing but count from the referral
    # date; open cases and assessment points
    custom = {
        "type": "custom",
        "rule": {"all_of": ["section47"], "any_of": ["care_episode"], "none_of": ["cp_plan"]},
        "only_open_cases": True,
        "prediction_point": "assessment_authorisation",
    }
    rules = cohort_rules(custom, 18)
    assert "with a period in care ongoing" in rules and "plan" not in rules
    assert (
        "those of children with a section 47 enquiry from the referral date up to the "
        "prediction point (already escalated)"
    ) in rules
    assert "from the referral date" not in cohort_rules(escalation, 18)
    assert "referred again" not in rules
    assert "closed before the prediction point" in rules
    assert "no authorised assessment" in rules


def test_text_window_wording_says_an_nfa_outcome_never_reads_its_own_closure():
    escalation = {"type": "escalation", "text_window_days": 21}
    assert text_window_wording(escalation) == "text from the 21 days before it"
    nfa = text_window_wording({"type": "nfa_rereferral", "text_window_days": 7})
    assert nfa.startswith("text from the 7 days before it, but no later than the day")
    assert "never from the referral's closure date on" in nfa


def test_fairness_comparison_states_the_configured_reference_and_band():
    default = FairnessComparison(None, (0.8, 1.25))
    assert default.description() == (
        "each attribute's reference group (its largest group) beyond the 0.8 to 1.25 band"
    )
    chosen = FairnessComparison({"ethnicity": "White", "age_band": "5-9"}, (0.75, 1.5))
    assert chosen.description() == (
        "each attribute's reference group (age band: 5-9; ethnicity: White; for any other "
        "attribute, its largest group) beyond the 0.75 to 1.5 band"
    )


def test_disparity_summary_counts_the_comparisons_that_could_not_be_told():
    groups = fairness_groups([("sex", "female", 200, 20), ("sex", "male", 210, 20)])
    groups.loc[0, [c for c in groups.columns if c.endswith("_disparity")]] = "reference"
    summary = disparity_summary(groups)
    assert summary.startswith(
        "Of 5 comparisons of a group's rate with its reference group's shown: clearly outside "
        "the band 0, clearly inside it 0, cannot be told (the interval spans the band's edge, "
        "or too few children or families to judge) 5"
    )
    assert "not evidence of fairness" in summary
    groups.loc[1, "false_positive_rate_disparity"] = "outside band"
    groups.loc[1, "flagged_share_disparity"] = "undefined"
    summary = disparity_summary(groups)
    assert "outside the band 1, clearly inside it 0, cannot be told" in summary
    assert "to count) 1." in summary and "not evidence" not in summary
    # a judgement this sentence does not know is counted, not lost
    groups.loc[1, "false_negative_rate_disparity"] = "too few positive families"
    summary = disparity_summary(groups)
    assert "families to judge) 2, too few positive families 1, undefined" in summary
    # every comparison hidden (the bundled escalation outcome): they were made, not missing
    hidden = groups.copy()
    for column in [c for c in groups.columns if c.endswith("_disparity")]:
        hidden[column] = hidden[column].where(hidden[column] == "reference", "suppressed")
    assert disparity_summary(hidden).startswith(
        "All 5 comparisons of a group's rate with its reference group's are hidden"
    )


def test_threshold_table_hides_rules_that_flag_or_find_few_cases():
    # 60 test cases with the outcome. The reviewer's cases: "score >= 0.9 | 3
    # flagged | precision 0.000" and "7 flagged, 0.857".
    thresholds = pd.DataFrame(
        {
            "rule": ["threshold", "threshold", "threshold", "top_k_percent"],
            "threshold": [0.5, 0.8, 0.9, np.nan],
            "k_percent": [np.nan, np.nan, np.nan, 10.0],
            "is_decision_threshold": [True, False, False, False],
            "n_flagged": [100, 7, 3, 40],
            "flagged_share": [0.25, 7 / 400, 3 / 400, 0.1],
            "precision": [0.3, 6 / 7, 0.0, 0.2],
            "recall": [0.5, 0.1, 0.0, 8 / 60],
            "f0_1": [0.3, 0.8, 0.0, 0.2],
            "false_alarms_per_100_flagged": [70.0, 100 / 7, 100.0, 80.0],
            "missed_per_100_at_risk": [50.0, 90.0, 100.0, 100 * 52 / 60],
        }
    )
    table = threshold_table(thresholds, DISCLOSURE)
    assert table.iloc[0]["flagged"] == 100
    assert table.iloc[0]["precision"] == 0.3 and table.iloc[0]["F0.1"] == 0.3
    for row in (1, 2):
        assert set(table.iloc[row, 1:]) == {"suppressed"}
    # 8 of the top 10% had the outcome: precision and recall would reveal the 8
    assert set(table.iloc[3, 1:]) == {"suppressed"}
    html = table_html(table)
    assert "0.857" not in html and "<td>3</td>" not in html and "<td>7</td>" not in html


def bundled_thresholds() -> pd.DataFrame:
    """The bundled LA's random-structured LightGBM flagging rules (567 test
    cases, 49 with the outcome): (rule, threshold, k%, flagged, found)."""
    rules = [
        ("score_threshold", 0.1, np.nan, 195, 32),
        ("score_threshold", 0.2, np.nan, 146, 25),
        ("score_threshold", 0.3, np.nan, 118, 24),
        ("score_threshold", 0.4, np.nan, 95, 23),
        ("score_threshold", 0.5, np.nan, 68, 19),
        ("score_threshold", 0.6, np.nan, 51, 10),
        ("score_threshold", 0.7, np.nan, 36, 8),
        ("top_k_percent", 0.57, 10.0, 57, 14),
        ("top_k_percent", 0.22, 25.0, 142, 24),
    ]
    rule, threshold, k_percent, flagged, found = (np.array(c) for c in zip(*rules, strict=True))
    precision, recall = found / flagged, found / 49
    return pd.DataFrame(
        {
            "model": "lightgbm",
            "rule": rule,
            "threshold": threshold.astype(float),
            "k_percent": k_percent.astype(float),
            "is_decision_threshold": threshold == 0.5,
            "n_flagged": flagged.astype(int),
            "flagged_share": flagged / 567,
            "precision": precision,
            "recall": recall,
            "f0_1": precision,
            "false_alarms_per_100_flagged": 100 * (1 - precision),
            "missed_per_100_at_risk": 100 * (1 - recall),
        }
    )


def test_threshold_table_hides_rules_that_differ_from_a_shown_one_by_few_cases():
    # Each rule alone was safe to show from 0.1 to 0.6 and the top 10% and
    # 25%, but flagging at 0.2 (146 flagged, 25 found) and at 0.3 (118, 24)
    # told that 1 of the 28 cases scored in between had the outcome.
    thresholds = bundled_thresholds()
    flagged = thresholds["n_flagged"]
    table = threshold_table(thresholds, DISCLOSURE).set_index("rule")
    # The decision threshold is kept; 0.1 is 127 cases and 13 found from it.
    shown = table.index[table["precision"] != "suppressed"].tolist()
    assert shown == ["score >= 0.1", "score >= 0.5"]
    assert table.loc["score >= 0.5", "precision"] == pytest.approx(19 / 68)
    # the hidden rules' flagged cases go too: 146 at 0.2 less 142 in the top
    # 25% would give 4 cases scored between them
    assert table.loc[shown, "flagged"].tolist() == [195, 68]
    assert set(table.drop(index=shown)["flagged"]) == {"suppressed"}
    assert flagged.tolist()[1] - flagged.tolist()[-1] == 4


def test_threshold_table_shows_no_two_flagged_counts_a_few_cases_apart():
    # The reviewer's case: flagging 24 at 0.3 and 19 at 0.4 gave 5 cases
    # scored in between, though both rules' precision and recall were hidden.
    thresholds = bundled_thresholds()
    thresholds.loc[2:3, "n_flagged"] = [24, 19]
    flagged = threshold_table(thresholds, DISCLOSURE)["flagged"]
    counts = np.array([n for n in flagged if n != "suppressed"])
    gaps = np.abs(counts[:, None] - counts[None, :])
    assert not ((gaps > 0) & (gaps < DISCLOSURE.min_count)).any()
    assert 24 not in counts.tolist() or 19 not in counts.tolist()


def test_rules_that_flag_the_same_cases_are_both_shown_and_the_empty_bin_hides_nothing():
    # no test case scored from 0.5 to 0.6: both rules flag the same 51 cases, and
    # nothing lies between them to reveal
    thresholds = bundled_thresholds()
    thresholds.loc[4, ["n_flagged", "precision", "recall"]] = [51, 10 / 51, 10 / 49]
    table = threshold_table(thresholds, DISCLOSURE).set_index("rule")
    assert table.loc[["score >= 0.5", "score >= 0.6"], "flagged"].tolist() == [51, 51]
    # the calibration bin between the two rules is empty: merged past it, not hidden
    bins = bundled_bins()
    bins.loc[5, ["n", "n_positive", "mean_score"]] = [0, 0, np.nan]
    merged = merged_bins(bins, pd.Series([0.1, 0.5, 0.6]), DISCLOSURE)
    assert merged["n"].tolist() == [372, 127, 51]
    assert merged["score_from"].tolist() == [0.0, 0.1, 0.6]


def test_flagging_hides_rules_that_leave_few_cases_unflagged():
    # 100 test cases, 20 with the outcome: flagging 95 finds all 20 and leaves
    # 5 unflagged, all without it; flagging all of them leaves none.
    found, flagged = np.array([20, 10, 20]), np.array([95, 60, 100])
    hidden = flagging_hidden(found, flagged, np.full(3, 20), np.full(3, 100), DISCLOSURE)
    assert hidden.tolist() == [True, False, False]


def bundled_bins() -> pd.DataFrame:
    """The bundled LA's random-structured LightGBM calibration bins (those of
    ``bundled_thresholds``): every bin above 0.1 held 11 to 49 cases but 1 to
    9 with the outcome (1 of 28, 1 of 23, ...)."""
    return pd.DataFrame(
        {
            "model": "lightgbm",
            "bin": range(10),
            "bin_lower": np.arange(10) / 10,
            "n": [372, 49, 28, 23, 27, 17, 15, 11, 14, 11],
            "n_positive": [17, 7, 1, 1, 4, 9, 2, 2, 4, 2],
            "mean_score": np.arange(10) / 10 + 0.05,
        }
    )


def test_calibration_bins_are_merged_between_the_thresholds_the_table_shows():
    # The bins' cases with the outcome, which the threshold table's flagged
    # counts at each edge give away: its table shows the rules at 0.1 and 0.5.
    bins = bundled_bins()
    merged = merged_bins(bins, pd.Series([0.1, 0.5]), DISCLOSURE)
    assert merged["n"].tolist() == [372, 127, 68]
    assert merged["observed_rate"].tolist() == pytest.approx([17 / 372, 13 / 127, 19 / 68])
    scores = 49 * 0.15 + 28 * 0.25 + 23 * 0.35 + 27 * 0.45
    assert merged["mean_score"].iloc[1] == pytest.approx(scores / 127)
    figure = calibration_figure(shown_calibration(bins, bundled_thresholds(), DISCLOSURE), "t")
    assert figure.axes[0].lines[0].get_ydata().tolist() == pytest.approx(
        [17 / 372, 13 / 127, 19 / 68]
    )
    # a threshold between bin edges is no edge; with none, all cases are one
    # bin, shown only if the base rate may be
    assert merged_bins(bins, pd.Series([0.15, 0.5]), DISCLOSURE)["n"].tolist() == [499, 68]
    assert merged_bins(bins, pd.Series([], dtype=float), DISCLOSURE)["n"].tolist() == [567]
    few = bins.assign(n_positive=[3] + [0] * 9)
    assert merged_bins(few, pd.Series([], dtype=float), DISCLOSURE).empty
    merged = shown_calibration(few, bundled_thresholds(), DISCLOSURE)
    line = calibration_figure(merged, "t").axes[0].lines[0]
    assert line.get_label().endswith(": hidden (too few cases to show)")
    assert merged_bins(bins.assign(n=0), pd.Series([0.5]), DISCLOSURE).empty


def test_cohort_and_split_tables_show_months_and_no_small_counts():
    cohort = pd.DataFrame(
        {
            "referral_id": [f"r{i}" for i in range(30)],
            "child_id": [f"c{i}" for i in range(30)],
            "family_id": [f"f{i // 4}" for i in range(30)],
            "label": [1] * 3 + [0] * 27,
            "referral_date": pd.date_range("2016-05-12", periods=30, freq="7D"),
        }
    ).assign(prediction_time=lambda frame: frame["referral_date"] + pd.Timedelta(days=14))
    table = cohort_table({"escalation": cohort}, DISCLOSURE)
    row = table.iloc[0]
    assert (row["referrals"], row["children"], row["families"]) == (30, 30, "<10")
    assert row["positives"] == "<10" and row["base rate"] == "suppressed"
    assert (row["first referral"], row["last referral"]) == ("2016-05", "2016-12")
    # 25 of 30 with the outcome: the 25 would give the 5 without it
    most = cohort_table({"escalation": cohort.assign(label=[1] * 25 + [0] * 5)}, DISCLOSURE)
    assert most.iloc[0]["positives"] == most.iloc[0]["base rate"] == "suppressed"
    roles = ["train"] * 20 + ["test"] * 8 + ["excluded"] * 2
    split = pd.DataFrame({"referral_id": cohort["referral_id"], "fold": -1, "role": roles})
    table = split_table({("escalation", "time"): split}, {"escalation": cohort}, DISCLOSURE)
    row = table.iloc[0]
    assert (row["train rows"], row["test rows"], row["excluded rows"]) == (20, "<10", "<10")
    assert row["train base rate"] == row["test base rate"] == "suppressed"
    # the test set's first prediction time (its first referral is 2016-09-29)
    assert row["test from"] == "2016-10" and row["families in both"] == 0
    assert "2016-05-12" not in table_html(table)


def qa_rows(rows: list[tuple]) -> pd.DataFrame:
    """Rows of the ingest_qa table: (table, measure, column, value, count, share)."""
    return pd.DataFrame(rows, columns=["table", "measure", "column", "value", "count", "share"])


def test_data_qa_section_shows_no_small_count_and_only_months():
    qa = qa_rows(
        [
            ("referrals", "rows_read", None, None, 503, np.nan),
            ("referrals", "rows_kept", None, None, 500, np.nan),
            ("referrals", "rows_rejected", "child_id", "unknown child", 3, np.nan),
            ("referrals", "date_min", "referral_date", "2015-04-02", 496, np.nan),
            ("referrals", "date_max", "referral_date", "2020-01-04", 496, np.nan),
            ("care", "date_min", "date_of_birth", "2003-07", 80, np.nan),
            ("care", "date_max", "date_of_birth", "2019-11", 80, np.nan),
            ("referrals", "missing", "referral_date", None, 4, 0.008),
            ("referrals", "missing", "source", None, 40, 0.08),
            ("referrals", "code", "source", "police", 400, np.nan),
            ("referrals", "code", "source", "health", 53, np.nan),
            ("referrals", "code", "source", "family", 10, np.nan),
            ("referrals", "code", "source", "post", 60, np.nan),
            ("referrals", "code", "source", "school", 7, np.nan),
            ("care", "rows_read", None, None, 80, np.nan),
            ("care", "rows_kept", None, None, 80, np.nan),
        ]
    )
    section = data_qa_section(qa, DISCLOSURE)
    # rows left out (3), the missing dates (4) and all that would reveal them
    for revealing in ("<td>3</td>", "<td>4</td>", "<td>500</td>", "<td>496</td>", "0.008"):
        assert revealing not in section
    assert "<td>503</td>" in section and "<td>40</td>" in section and "0.080" in section
    # school's 7 could be worked out from the column's total: family is hidden too
    assert "police (400), post (60), health (53), family (suppressed), school (&lt;10)" in section
    assert "2020-01-04" not in section and "2015-04-02" not in section
    assert '<td class="text">2015-04</td>' in section
    assert '<td class="text">2020-01</td>' in section


def test_models_table_hides_precision_and_recall_that_reveal_few_cases():
    # 100 test cases, 20 with the outcome: the tree flags 5 and finds 4 of
    # them; the baseline has no decision rule, so nothing to hide
    rows = pd.DataFrame(
        {
            "design": "time_text",
            "model": ["lightgbm", "decision_tree", "previous_referrals"],
            "selected": [True, False, False],
            "n_test": 100,
            "base_rate": 0.2,
            "average_precision": [0.5, 0.3, 0.25],
            "roc_auc": [0.8, 0.6, 0.55],
            "precision": [0.5, 0.8, np.nan],
            "recall": [0.5, 0.2, np.nan],
            "cv_ap_mean": 0.4,
            "cv_ap_sd": 0.05,
        }
    )
    table = models_table(rows, DISCLOSURE)
    assert table["precision"].tolist()[:2] == [0.5, "suppressed"]
    assert table["recall"].tolist()[:2] == [0.5, "suppressed"]
    assert pd.isna(table["precision"].iloc[2]) and pd.isna(table["recall"].iloc[2])
    assert table["test AP"].tolist() == [0.5, 0.3, 0.25]


def pr_figure(predictions: pd.DataFrame, rules: pd.DataFrame):
    """The precision-recall figure of ``predictions`` as the report draws it."""
    return pr_curve_figure(
        shown_pr_points(predictions, rules, DISCLOSURE),
        shown_test_base_rate(predictions, DISCLOSURE),
        "t",
    )


def interleaved_predictions() -> pd.DataFrame:
    """43 test cases, 22 with the outcome; the top k cases hold 2 + (k - 3) // 2 of them."""
    return pd.DataFrame(
        {
            "model": "lightgbm",
            "label": [1, 0, 1] + [0, 1] * 20,
            "score": np.linspace(1, 0, 43),
        }
    )


def decision_rule() -> pd.DataFrame:
    """The thresholds table's decision rule for ``interleaved_predictions``:
    flagging the 23 cases scored 0.5 or more finds 12."""
    return pd.DataFrame(
        {
            "model": ["lightgbm"],
            "rule": ["score_threshold"],
            "threshold": [0.5],
            "k_percent": [np.nan],
            "n_flagged": [23],
            "precision": [12 / 23],
            "recall": [12 / 22],
            "flagged_share": [23 / 43],
            "is_decision_threshold": [True],
        }
    )


def test_precision_recall_curves_show_only_thresholds_the_table_could_show():
    # The first steps of a curve would show whether the few highest-scored
    # cases had the outcome, its last ones the few cases with the outcome
    # scored lowest, and each step whether one more case had it.
    predictions = interleaved_predictions()
    rules = decision_rule()
    no_rules = rules.iloc[:0]
    figure = pr_figure(predictions, no_rules)
    curve = figure.axes[0].lines[0]
    # Alone, flagging 20 to 23 cases finds 10 to 12 with 10 or 11 false alarms
    # and leaves 10 to 12 with the outcome and 10 or 11 without unflagged
    # (flagging 24 would leave 9 without it), but 20 and 21 differ by one case
    # with the outcome; flagging all 43 finds all 22 (12 more than 20, 11 more
    # false alarms). Flagging 10 (4 found) would have shown on the old curve,
    # as on the bundled LA's (2 of the top 10).
    assert curve.get_xdata().tolist() == pytest.approx([1, 10 / 22])
    assert curve.get_ydata().tolist() == pytest.approx([22 / 43, 10 / 20])
    assert figure.axes[0].lines[1].get_ydata()[0] == pytest.approx(22 / 43)  # base rate
    # The threshold table's rules that may be shown are kept first: the curve
    # goes through the decision threshold's.
    curve = pr_figure(predictions, rules).axes[0].lines[0]
    assert curve.get_xdata().tolist() == pytest.approx([1, 12 / 22])
    # a test set with 5 cases with the outcome shows no base rate
    few = predictions.assign(label=[1] * 5 + [0] * 38)
    lines = pr_figure(few, no_rules).axes[0].lines
    # (nor any point of the curve, and the legend says why the line is missing)
    assert [line.get_label() for line in lines] == [
        "LightGBM (gradient boosting): hidden (too few cases to show)"
    ]
    assert lines[0].get_xdata().size == 0


def test_codes_hidden_together_never_sum_to_a_small_count():
    # the reviewer's closure reasons: four codes of 1, 1, 3 and 1 referrals,
    # whose sum 6 the column's total less the three shown codes would give
    counts = pd.Series([820, 363, 220, 1, 1, 3, 1])
    shown = shown_parts(counts, DISCLOSURE)
    assert shown == [820, 363, "suppressed", "<10", "<10", "<10", "<10"]
    # hidden parts summing to 10 or more need no company
    assert shown_parts(pd.Series([820, 363, 220, 6, 5]), DISCLOSURE) == [
        820,
        363,
        220,
        "<10",
        "<10",
    ]
    # one hidden part alone is always joined by the next smallest
    assert shown_parts(pd.Series([820, 363, 220, 5]), DISCLOSURE) == [820, 363, "suppressed", "<10"]


def test_the_report_explains_its_terms_in_plain_english():
    section = terms_section()
    for term in ("average precision (AP)", "ROC AUC", "F0.1", "log-odds", "topic, coherence"):
        assert f"<b>{term}" in section


def test_one_hidden_group_hides_the_next_smallest_even_when_its_counts_are_zero():
    # C is hidden for its 0 cases with the outcome; alone, its figures would be
    # the test set's less A's and B's, so B is hidden with it.
    groups = fairness_groups(
        [
            ("sex", "A", 100, 20),
            ("sex", "B", 50, 10),
            ("sex", "C", 12, 0),
        ]
    )
    hidden = suppressed_groups(groups, Disclosure(10))
    assert groups.loc[hidden, "group"].tolist() == ["B", "C"]


def test_precision_recall_numbers_are_the_points_the_figure_shows():
    predictions = interleaved_predictions()
    points = shown_pr_points(predictions, decision_rule(), DISCLOSURE)
    curve = pr_curve_figure(points, 22 / 43, "t").axes[0].lines[0]
    table = pr_points_table(points)
    # one row per point drawn, from the fewest cases flagged, naming the rule
    assert sorted(zip(curve.get_xdata(), curve.get_ydata(), strict=True)) == sorted(
        zip(table["recall"], table["precision"], strict=True)
    )
    assert table["cases flagged"].tolist() == [23, 43]
    assert table["flagging rule"].tolist() == ["score >= 0.5 (decision threshold)", ""]
    assert table["recall"].tolist() == pytest.approx([12 / 22, 1])
    assert table["precision"].tolist() == pytest.approx([12 / 23, 22 / 43])
    # a model whose every point is hidden has one row, and no number in it
    few = predictions.assign(label=[1] * 5 + [0] * 38)
    hidden = pr_points_table(shown_pr_points(few, decision_rule().iloc[:0], DISCLOSURE))
    assert len(hidden) == 1
    assert hidden["flagging rule"].iloc[0] == "every point hidden (too few cases to show)"
    assert set(hidden.iloc[0, 2:]) == {SUPPRESSED}
    models = pd.DataFrame({"model": ["lightgbm"], "selected": [True], "average_precision": [0.6]})
    points = shown_pr_points(few, decision_rule().iloc[:0], DISCLOSURE)
    assert "test AP 0.600, every point hidden (too few cases to show)" in pr_alt(
        "x", models, points, SUPPRESSED
    )


def test_precision_recall_points_never_show_a_rule_the_thresholds_table_hides():
    # a rule flagging the top 20 (10 found) is 3 cases from the decision threshold's
    # 23, which the table keeps and shows: the table hides the 20, and so must the
    # curve, though its point alone could be shown
    predictions = interleaved_predictions()
    top_20 = decision_rule().assign(
        threshold=predictions["score"].iloc[19],
        n_flagged=20,
        precision=10 / 20,
        recall=10 / 22,
        flagged_share=20 / 43,
        is_decision_threshold=False,
    )
    rules = pd.concat([decision_rule(), top_20], ignore_index=True)
    assert threshold_rules_hidden(rules, DISCLOSURE).tolist() == [False, True]
    points = pr_points_table(shown_pr_points(predictions, rules, DISCLOSURE))
    assert points["cases flagged"].tolist() == [23, 43]


def bare_artefacts(**given) -> RunArtefacts:
    """A run's artefacts with only those ``given``, for a section that reads no others."""
    return RunArtefacts(**({field.name: None for field in fields(RunArtefacts)} | given))


def test_every_precision_recall_figure_is_described_and_has_its_numbers(tmp_path):
    lightgbm = interleaved_predictions()
    # the decision tree ranks the cases the other way round
    tree = lightgbm.assign(model="decision_tree", score=lightgbm["score"].to_numpy()[::-1])
    key = {"outcome": "escalation", "design": "time_structured"}
    all_models = pd.DataFrame(
        {
            "model": ["lightgbm", "decision_tree"],
            "selected": [True, False],
            "average_precision": [0.61, 0.43],
            "roc_auc": [0.7, 0.5],
            "precision": [12 / 23, 10 / 20],
            "recall": [12 / 22, 10 / 22],
            "cv_ap_mean": 0.5,
            "cv_ap_sd": 0.1,
            "base_rate": 22 / 43,
            "n_test": 43,
        }
    ).assign(**key)
    artefacts = bare_artefacts(
        all_models=all_models,
        predictions={("escalation", "time_structured"): pd.concat([lightgbm, tree])},
        thresholds=decision_rule().assign(**key),
    )
    section = models_section("escalation", ["time_structured"], artefacts, tmp_path, DISCLOSURE)
    alts = re.findall(r'<img [^>]*alt="([^"]*)"', section)
    assert len(alts) == 1 and "escalation, Time-ordered split, structured data only" in alts[0]
    # each model by name with its test AP, and the base rate line
    assert "LightGBM (gradient boosting), selected, test AP 0.610, 2 points shown" in alts[0]
    assert "Decision tree, test AP 0.430" in alts[0]
    assert "a dotted line marks the base rate, 0.512" in alts[0]
    assert "The dotted line is the test set's base rate, 0.512." in section
    assert section.count("<details><summary>Numbers behind this figure: precision and") == 1
    assert (
        '<td class="text">score &gt;= 0.5 (decision threshold)</td><td>23</td>'
        "<td>0.545</td><td>0.522</td>" in section
    )


def test_calibration_numbers_are_the_merged_bins_and_hide_what_the_figure_hides():
    bins = bundled_bins()
    merged = shown_calibration(bins, bundled_thresholds(), DISCLOSURE)
    table = calibration_points_table(merged)
    assert table["scores"].tolist() == ["0.0 to 0.1", "0.1 to 0.5", "0.5 to 1.0"]
    # each row's cases, mean score and observed rate are those of the
    # calibration table's bins from its lower edge up to its upper one
    for row, (low, high) in zip(table.itertuples(), [(0, 1), (1, 5), (5, 10)], strict=True):
        part = bins.iloc[low:high]
        assert row.cases == part["n"].sum()
        assert row[5] == pytest.approx(part["n_positive"].sum() / part["n"].sum())
        assert row[4] == pytest.approx((part["mean_score"] * part["n"]).sum() / part["n"].sum())
    line = calibration_figure(merged, "t").axes[0].lines[0]
    assert line.get_xdata().tolist() == pytest.approx(table["mean predicted score"].tolist())
    assert line.get_ydata().tolist() == pytest.approx(table["observed rate"].tolist())
    alt = calibration_alt("escalation, design", merged)
    # the ranges the table holds
    scores, rates = table["mean predicted score"], table["observed rate"]
    assert (
        f"LightGBM (gradient boosting), 3 bins with mean predicted scores from "
        f"{scores.min():.3f} to {scores.max():.3f} and observed rates from "
        f"{rates.min():.3f} to {rates.max():.3f};" in alt
    )
    # bins the figure hides stay hidden in the table: no count, score or rate
    few = shown_calibration(bins.assign(n_positive=[3] + [0] * 9), bundled_thresholds(), DISCLOSURE)
    hidden = calibration_points_table(few)
    assert len(hidden) == 1 and set(hidden.iloc[0, 2:]) == {SUPPRESSED}
    assert "every bin hidden" in calibration_alt("escalation, design", few)
    assert not re.search(r"<td>\d", table_html(hidden))


def test_learning_curve_and_effects_figures_are_described_and_have_their_numbers(tmp_path):
    curves = pd.DataFrame(
        {
            "design": "time_text",
            "model": "lightgbm",
            "fraction": [0.25, 0.25, 0.5, 0.5, 1.0, 1.0],
            "n_train": [24, 26, 49, 50, 100, 100],
            "test_average_precision": [0.2, 0.3, 0.3, 0.3, 0.4, 0.4],
        }
    )
    section = learning_curve_section("escalation", curves, tmp_path)
    # from the smallest share to all, past the middle one
    assert (
        "Time-ordered split, structured data and text: 0.250 on 25 cases to 0.400 on 100" in section
    )
    assert (
        '<td class="text">25%</td><td>25</td><td>0.250</td><td>0.200</td><td>0.300</td>' in section
    )
    # the mean training cases rounded, as the figure places the point (49.5), not cut
    assert '<td class="text">50%</td><td>50</td>' in section
    effects = pd.DataFrame(
        {
            "feature": ["age", "age", "previous_referrals", "previous_referrals"],
            "feature_rank": [2, 2, 1, 1],
            "edge": [0, 1, 0, 1],
            "value": [3.0, 12.0, 0.0, 4.0],
            "effect": [-0.02, 0.01, -0.05, 0.08],
        }
    )
    # (rows given in reverse: the table and the text order them)
    section = ale_section(effects.iloc[::-1], "LightGBM, time-ordered", "x", tmp_path)
    alt = re.findall(r'<img [^>]*alt="([^"]*)"', section)[0]
    assert "score of LightGBM, time-ordered" in alt
    assert "previous_referrals, from -5.0 to +8.0 percentage points; age, from -2.0" in alt
    # the most important feature first, its values in order
    assert (
        '<td class="text">previous_referrals</td><td class="text">0</td><td>-5.000</td>'
        '</tr><tr><td class="text">previous_referrals</td><td class="text">4</td>' in section
    )
    # values a few thousandths apart stay apart
    shares = effects.assign(value=[0.0012, 0.0018, 0.0, 4.0])
    assert '<td class="text">0.0012</td>' in ale_section(shares, "model", "y", tmp_path)


def test_precision_recall_points_keep_apart_from_a_top_k_rule_off_the_curve():
    # 100 test cases, 40 with the outcome: the top 20 alternate (10 with it),
    # the next 10 tie and all have it, the other 70 hold 20. The top 25% cuts
    # through the tie, so it is no point of the curve, but the thresholds table
    # shows it (25 flagged, 15 found): the points at 20 flagged (10 found) and
    # 30 (20 found) would each give 5 cases around it that all had the outcome.
    predictions = pd.DataFrame(
        {
            "model": "lightgbm",
            "label": [1, 0] * 10 + [1] * 10 + ([1] * 2 + [0] * 5) * 10,
            "score": np.concatenate(
                [np.linspace(1, 0.81, 20), np.full(10, 0.7), np.linspace(0.6, 0.01, 70)]
            ),
        }
    )
    found, flagged = np.array([15, 20]), np.array([25, 30])
    rules = pd.DataFrame(
        {
            "model": "lightgbm",
            "rule": ["top_k_percent", "score_threshold"],
            "threshold": 0.7,
            "k_percent": [25.0, np.nan],
            "is_decision_threshold": False,
            "n_flagged": flagged,
            "flagged_share": flagged / 100,
            "precision": found / flagged,
            "recall": found / 40,
            "f0_1": found / flagged,
            "false_alarms_per_100_flagged": 100 * (1 - found / flagged),
            "missed_per_100_at_risk": 100 * (1 - found / 40),
        }
    )
    table = threshold_table(rules, DISCLOSURE)
    # the table shows the top 25%, and so hides the rule at 0.7, 5 cases on
    assert table["flagged"].tolist() == [25, SUPPRESSED]
    points = pr_points_table(shown_pr_points(predictions, rules, DISCLOSURE))
    shown = np.array(points["cases flagged"].tolist())
    assert not (np.abs(shown - 25) < DISCLOSURE.min_count).any()
    assert points["cases flagged"].tolist() == [45, 100]


def test_a_disparity_cell_shows_a_ratio_interval_open_above():
    # A ratio's upper end is infinite when the reference's rate was 0 in some
    # resamples: the finite lower end still says how far apart they may be.
    assert disparity_cell("cannot tell", 0.62, np.inf) == "cannot tell (ratio 0.62 or more)"
    assert disparity_cell("within band", 0.85, 1.2) == "within band (ratio 0.85 to 1.20)"
    assert disparity_cell("cannot tell", np.nan, np.nan) == "cannot tell"
    assert disparity_cell("reference", 1.0, 1.0) == "reference"
    assert disparity_cell(None, 0.5, 2.0) == ""
