"""Structured and text features: only records known before the prediction point."""

from __future__ import annotations

import logging

import build_structured_features as bsf
import build_text_features as btf
import numpy as np
import pandas as pd
import pytest
from conftest import ESCALATION, NFA, dates

import audit_features as af
import build_cohort as bc
from common import InputError, SafetyCheckError


def cohort_of(tables) -> pd.DataFrame:
    cohort, _ = bc.build_cohort("esc", ESCALATION, tables, 18, pd.Timestamp("2020-01-01"))
    return cohort


def test_history_counts_exclude_the_current_referral_and_later_records(tables):
    cohort = cohort_of(tables)
    features = bsf.structured_features(cohort, tables).set_index("referral_id")
    assert features.loc["r1", "n_previous_referrals"] == 0
    assert features.loc["r2", "n_previous_referrals"] == 1
    assert features.loc["r2", "n_previous_nfa_closures"] == 1
    # r1's assessment is earlier history of r2; r2's own assessment (06-02) and
    # section 47 (06-05) are before its point (06-15) but are not history.
    assert features.loc["r2", "n_previous_assessments"] == 1
    assert features.loc["r2", "n_previous_section47"] == 0
    assert features.loc["r2", "n_previous_family_section47"] == 0
    assert features.loc["r2", "n_previous_cp_plans"] == 0
    assert features.loc["r1", "n_previous_section47"] == 0


def test_the_own_referrals_records_are_history_of_the_childs_later_referrals(tables):
    # a third referral of child a after r2's enquiry and plan ended
    referrals = pd.concat(
        [
            tables["referrals"],
            pd.DataFrame(
                {
                    "referral_id": ["r5"],
                    "child_id": ["a"],
                    "referral_date": dates("2017-02-01"),
                    "referral_source": ["6"],
                    "primary_need": ["N1"],
                    "nfa": [False],
                    "closure_date": dates(None),
                    "closure_reason": [None],
                }
            ),
        ],
        ignore_index=True,
    )
    tables = tables | {"referrals": referrals}
    features = bsf.structured_features(cohort_of(tables), tables).set_index("referral_id")
    assert features.loc["r5", "n_previous_section47"] == 1
    assert features.loc["r5", "n_previous_cp_plans"] == 1
    assert features.loc["r5", "n_previous_assessments"] == 2
    assert features.loc["r5", "factor_16A"] == 1


def test_assessment_factors_count_only_once_authorised(tables):
    features = bsf.structured_features(cohort_of(tables), tables).set_index("referral_id")
    assert features.loc["r2", "factor_3B"] == 1
    # r2's own assessment is authorised on 2016-08-01, after its point.
    assert features.loc["r2", "factor_16A"] == 0
    assert features.loc["r1", "factor_3B"] == 1
    assert features.loc["r1", "factor_16A"] == 0


def test_feature_time_is_before_every_prediction_point(tables):
    cohort = cohort_of(tables)
    features = bsf.structured_features(cohort, tables)
    times = features.set_index("referral_id")["feature_time"]
    assert bsf.leakage_violations(cohort, times, "structured") == []
    assert (times < cohort.set_index("referral_id")["prediction_time"]).all()


def test_ethnicity_is_never_a_feature(tables):
    features = bsf.structured_features(cohort_of(tables), tables)
    assert not [c for c in features.columns if "ethnic" in c.lower()]
    assert {"age_years", "sex_male", "disability"} <= set(features.columns)


def test_leakage_audit_catches_a_planted_leak(tables):
    cohort = cohort_of(tables)
    times = cohort.set_index("referral_id")["prediction_time"] - pd.Timedelta(days=1)
    assert bsf.leakage_violations(cohort, times, "structured features") == []
    times.iloc[0] = times.iloc[0] + pd.Timedelta(days=1)
    violations = bsf.leakage_violations(cohort, times, "structured features")
    assert len(violations) == 1
    assert cohort["referral_id"].iloc[0] in violations[0]


def test_text_documents_use_only_notes_in_the_window_before_the_point(tables):
    cohort = cohort_of(tables)
    tokens = pd.DataFrame(
        {
            "note_id": ["n1", "n2", "n3", "n4"],
            "child_id": ["a", "a", "a", "b"],
            "note_datetime": dates(
                "2016-06-01T10:00", "2016-06-14T09:00", "2016-06-15T00:00", "2016-03-02"
            ),
            "document_type": ["Case note"] * 4,
            "tokens": [["early"], ["late"], ["after"], ["other"]],
        }
    )
    documents = btf.text_documents(cohort, tokens, window_days=21).set_index("referral_id")
    assert documents.loc["r2", "tokens"] == ["early", "late"]
    assert documents.loc["r2", "n_notes"] == 2
    assert documents.loc["r3", "tokens"] == ["other"]
    assert documents.loc["r1", "tokens"] == []
    assert documents.loc["r1", "n_notes"] == 0


def test_notes_written_at_the_same_time_join_in_the_order_of_their_words_not_ids(tables):
    # Note ids are keyed hashes: a new key renames and reorders them.
    cohort = cohort_of(tables)
    tokens = pd.DataFrame(
        {
            "note_id": ["n1", "n2", "n3"],
            "child_id": ["a", "a", "a"],
            "note_datetime": dates("2016-06-01", "2016-06-01", "2016-06-02"),
            "document_type": ["Case note"] * 3,
            "tokens": [["school", "concern"], ["police", "visit"], ["home"]],
        }
    )
    documents = [
        btf.text_documents(cohort, tokens.assign(note_id=ids), window_days=21)
        .set_index("referral_id")
        .loc["r2", "tokens"]
        for ids in (["n1", "n2", "n3"], ["z9", "a1", "m5"])
    ]
    assert documents[0] == documents[1] == ["police", "visit", "school", "concern", "home"]


def test_vulnerability_flags_come_from_notes_in_the_window_only(tables):
    cohort = cohort_of(tables)
    flags = pd.DataFrame(
        {
            "note_id": ["n1", "n2", "n3"],
            "child_id": ["a", "a", "a"],
            "note_datetime": dates("2016-06-01T10:00", "2016-06-15T00:00", "2016-01-20"),
            "flag_substance_abuse": pd.Series([1, 0, 0], dtype="int8"),
            "flag_missing": pd.Series([0, 1, 1], dtype="int8"),
        }
    )
    features = btf.flag_features(cohort, flags, window_days=21).set_index("referral_id")
    assert features.loc["r2", "vulnerability_substance_abuse"] == 1
    # n2 is at r2's prediction point, so it is not yet known.
    assert features.loc["r2", "vulnerability_missing"] == 0
    assert features.loc["r1", "vulnerability_missing"] == 1
    assert features.loc["r2", "vulnerability_note_count"] == 1
    assert features.loc["r2", "vulnerability_flagged_note_share"] == 1.0
    assert features.loc["r3"].drop(["feature_time", "vulnerability_flagged_note_share"]).sum() == 0
    assert pd.isna(features.loc["r3", "vulnerability_flagged_note_share"])
    assert bsf.leakage_violations(cohort, features["feature_time"], "flags") == []


def test_previous_text_flags_come_from_notes_before_the_window_only(tables):
    cohort = cohort_of(tables)
    flags = pd.DataFrame(
        {
            "note_id": ["n1", "n2", "n3"],
            "child_id": ["a", "a", "a"],
            "note_datetime": dates("2016-06-01T10:00", "2016-06-15T00:00", "2016-01-20"),
            "flag_substance_abuse": pd.Series([1, 0, 0], dtype="int8"),
            "flag_missing": pd.Series([0, 1, 1], dtype="int8"),
        }
    )
    features = btf.text_flag_features(cohort, flags, window_days=21, previous_text=True)
    features = features.set_index("referral_id")
    # r2 (point 2016-06-15): n1 is in its window, n3 before it, n2 not yet known.
    assert features.loc["r2", "vulnerability_substance_abuse"] == 1
    assert features.loc["r2", "previous_vulnerability_substance_abuse"] == 0
    assert features.loc["r2", "previous_vulnerability_missing"] == 1
    assert features.loc["r2", "feature_time"] == pd.Timestamp("2016-06-01T10:00")
    assert bsf.leakage_violations(cohort, features["feature_time"], "flags") == []
    window_only = btf.text_flag_features(cohort, flags, window_days=21, previous_text=False)
    assert not [c for c in window_only.columns if c.startswith("previous_")]


def test_document_type_filter_keeps_only_the_configured_types():
    notes = pd.DataFrame(
        {"note_id": ["n1", "n2", "n3"], "document_type": ["Case note", "Strategy", "Case note"]}
    )
    assert btf.select_document_types(notes, ["Case note"], "esc")["note_id"].tolist() == [
        "n1",
        "n3",
    ]
    assert btf.select_document_types(notes, None, "esc")["note_id"].tolist() == ["n1", "n2", "n3"]


def test_a_document_type_no_note_has_stops_the_run_naming_it():
    # the reviewer's typo: "Case Note" for the export's "Case note" left every
    # window empty, and the run failed later with the wrong diagnosis
    notes = pd.DataFrame({"note_id": ["n1", "n2"], "document_type": ["Case note", "Strategy"]})
    message = (
        r"outcome 'esc': no case note has document type 'Case Note' \(did you mean "
        r"'Case note'\?\), 'Visit' of outcomes.esc.document_types"
    )
    with pytest.raises(InputError, match=message):
        btf.select_document_types(notes, ["Case Note", "Strategy", "Visit"], "esc")


def test_leakage_audit_flags_a_planted_single_feature_leak(tables):
    cohort = cohort_of(tables)
    structured = bsf.structured_features(cohort, tables)
    labels = cohort.set_index("referral_id")["label"]
    # a planted leak: the label itself, recorded as if it were history
    structured["planted_outcome_record"] = structured["referral_id"].map(labels).astype(float)
    audit = af.leakage_audit(cohort, {"structured": structured}, 0.9, 0.9, 20, 0.001)
    auc = audit.loc[audit["check"] == af.AUC_CHECK].set_index("subject")
    assert auc.loc["planted_outcome_record", "flagged"]
    assert auc.loc["planted_outcome_record", "value"] == 1.0
    assert "age_years" in auc.index
    # one row per feature and single-feature check
    precision = audit.loc[audit["check"] == af.PRECISION_CHECK, "subject"]
    assert precision.tolist() == auc.index.tolist()


AUDIT_SETTINGS = {
    "max_single_feature_auc": 0.9,
    "max_single_feature_precision": 0.9,
    "min_cases_for_precision": 20,
    "max_outcome_free_chance": 0.001,
    "stop_on_implausible_feature": False,
}


def test_the_audit_stops_before_writing_when_a_note_postdates_the_point(tables):
    cohort = cohort_of(tables)
    points = cohort.set_index("referral_id")["prediction_time"]
    flags = pd.DataFrame(
        {"referral_id": points.index, "feature_time": points - pd.Timedelta(days=2)}
    )
    earlier = points - pd.Timedelta(days=1)
    audit = bsf.time_audit(
        cohort,
        {
            "text documents": earlier,
            "vulnerability flags": flags.set_index("referral_id")["feature_time"],
        },
    ).set_index("subject")
    assert audit.loc[["text documents", "vulnerability flags"], "value"].eq(0).all()
    assert not audit["flagged"].any()
    planted = earlier.copy()
    planted.iloc[0] = points.iloc[0]  # a note recorded at the prediction point itself
    with pytest.raises(SafetyCheckError, match="leakage audit failed"):
        bsf.time_audit(cohort, {"text documents": planted})


def test_the_audit_stops_on_an_implausible_feature_when_asked(tables):
    cohort = cohort_of(tables)
    structured = bsf.structured_features(cohort, tables)
    labels = cohort.set_index("referral_id")["label"]
    structured["planted_outcome_record"] = structured["referral_id"].map(labels).astype(float)
    audit = af.single_feature_audit(cohort, {"structured": structured}, AUDIT_SETTINGS)
    assert audit_rows(audit, af.AUC_CHECK).loc["planted_outcome_record", "flagged"]
    with pytest.raises(InputError, match="planted_outcome_record"):
        af.single_feature_audit(
            cohort,
            {"structured": structured},
            {**AUDIT_SETTINGS, "stop_on_implausible_feature": True},
        )


def test_single_feature_auc_is_direction_free_and_ranks_missing_lowest():
    labels = pd.Series([0, 0, 1, 1])
    assert af.single_feature_auc(pd.Series([4.0, 3.0, 2.0, 1.0]), labels) == 1.0
    assert af.single_feature_auc(pd.Series([float("nan"), float("nan"), 1.0, 1.0]), labels) == 1.0
    assert af.single_feature_auc(pd.Series([1.0, 1.0, 1.0, 1.0]), labels) == 0.5


def rare_marker_cohort() -> tuple[pd.DataFrame, pd.DataFrame]:
    """1,000 cases, base rate 0.1; a marker set on 30 of the 100 positives
    (3% of cases, all positive), and a strong but genuine feature: the label
    plus noise, AUC about 0.76."""
    labels = np.r_[np.ones(100), np.zeros(900)].astype("int8")
    noise = np.random.default_rng(0).normal(size=1000)
    cohort = pd.DataFrame({"referral_id": [f"r{i}" for i in range(1000)], "label": labels})
    features = pd.DataFrame(
        {
            "referral_id": cohort["referral_id"],
            "rare_marker": np.r_[np.ones(30), np.zeros(970)],
            "genuine_score": labels + noise,
        }
    )
    return cohort, features


def audit_rows(audit: pd.DataFrame, check: str) -> pd.DataFrame:
    return audit.loc[audit["check"] == check].set_index("subject")


def test_a_rare_marker_escapes_the_auc_but_not_the_extreme_group_precision():
    cohort, features = rare_marker_cohort()
    audit = af.leakage_audit(cohort, {"structured": features}, 0.9, 0.9, 20, 0.001)
    auc = audit_rows(audit, af.AUC_CHECK)
    precision = audit_rows(audit, af.PRECISION_CHECK)
    assert auc.loc["rare_marker", "value"] == pytest.approx(0.65)
    assert not auc.loc["rare_marker", "flagged"]
    assert precision.loc["rare_marker", "value"] == 1.0
    assert precision.loc["rare_marker", "flagged"]
    assert precision.loc["rare_marker", "detail"].startswith(
        "30 of the 30 cases with its highest values (1 or more) have the outcome: "
    )
    # the cohort's base rate stays out of the text: the report shows or hides it with its counts
    assert not audit["detail"].str.contains("base rate").any()
    assert (precision.loc["rare_marker", "cases"], precision.loc["rare_marker", "positives"]) == (
        30,
        30,
    )
    assert auc["cases"].isna().all()
    # strong but genuine: well above the base rate at its top, far from certain
    assert 0.7 < auc.loc["genuine_score", "value"] < 0.9
    assert 0.1 < precision.loc["genuine_score", "value"] < 0.9
    assert not precision.loc["genuine_score", "flagged"]
    assert af.OUTCOME_RECORD_ADVICE not in precision.loc["genuine_score", "detail"]


def test_an_extreme_group_needs_the_minimum_number_of_cases():
    labels = pd.Series(np.r_[np.ones(100), np.zeros(900)])
    marker = pd.Series(np.r_[np.ones(5), np.zeros(995)])  # 5 cases, all positive
    group = af.extreme_group_precision(marker, labels, 20)
    # fewer than 20 flagged cases: the high group is every case, at the base rate
    assert (group.cases, group.share) == (1000, 0.1)
    assert af.extreme_group_precision(marker, labels, 5).share == 1.0
    assert af.extreme_group_precision(marker, labels, 2000).cases == 1000


def test_an_extreme_group_keeps_ties_and_looks_both_ways():
    # 15 cases at 3 (all positive), 10 tied at 2 (5 positive), 975 at 0
    values = pd.Series(np.r_[np.full(15, 3.0), np.full(10, 2.0), np.zeros(975)])
    labels = pd.Series(np.r_[np.ones(15), np.ones(5), np.zeros(980)])
    group = af.extreme_group_precision(values, labels, 20)
    assert (group.cases, group.positives, group.share) == (25, 20, 0.8)
    assert (group.direction, group.cut) == ("highest", 2.0)
    # the same feature reversed: its lowest values tell the outcome
    low = af.extreme_group_precision(-values, labels, 20)
    assert (low.cases, low.share, low.direction, low.cut) == (25, 0.8, "lowest", -2.0)


def test_missing_values_rank_lowest_in_the_extreme_group():
    labels = pd.Series(np.r_[np.ones(100), np.zeros(900)])
    # a marker recorded as a missing value on 25 positives
    values = pd.Series(np.r_[np.full(25, np.nan), np.arange(975.0) % 7])
    group = af.extreme_group_precision(values, labels, 20)
    assert (group.cases, group.share, group.direction) == (25, 1.0, "lowest")
    assert np.isneginf(group.cut)
    assert af.describe_extreme_group(group).startswith("25 of the 25 cases with it missing")
    # 10 missing: the group goes on to the lowest values, ties included
    few = pd.Series(np.r_[np.full(10, np.nan), np.arange(990.0) % 7])
    group = af.extreme_group_precision(few, labels, 20)
    assert (group.direction, group.cut) == ("lowest", 0.0)
    assert group.cases == 10 + len(range(0, 990, 7))
    assert "(0 or less, or missing)" in af.describe_extreme_group(group)
    # "or missing" only when some value is
    complete = af.extreme_group_precision(pd.Series(np.arange(1000.0) % 7), labels, 20)
    assert complete.missing == 0
    lowest = af.ExtremeGroup(0.2, 20, 4, "lowest", 0.0, 0)
    assert "(0 or less) have" in af.describe_extreme_group(lowest)


def test_a_feature_with_too_few_values_is_described_as_every_case():
    labels = pd.Series(np.r_[np.ones(100), np.zeros(900)])
    values = pd.Series(np.r_[np.ones(5), np.full(995, np.nan)])  # 5 values, 20 needed
    group = af.extreme_group_precision(values, labels, 20)
    described = af.describe_extreme_group(group)
    assert described.startswith("every case (too few values to judge): 100 of the 1000 have")
    assert "-inf" not in described


def test_a_group_no_more_positive_than_the_cohort_is_never_flagged():
    cohort = pd.DataFrame(
        {"referral_id": [f"r{i}" for i in range(100)], "label": [1] * 95 + [0] * 5}
    )
    constant = pd.DataFrame({"referral_id": cohort["referral_id"], "constant": 1.0})
    audit = af.leakage_audit(cohort, {"structured": constant}, 0.9, 0.9, 20, 0.001)
    row = audit_rows(audit, af.PRECISION_CHECK).loc["constant"]
    assert row["value"] == 0.95
    assert not row["flagged"]


def test_the_audit_warns_or_stops_on_a_rare_marker(caplog):
    cohort, features = rare_marker_cohort()
    with caplog.at_level(logging.WARNING):
        audit = af.single_feature_audit(cohort, {"structured": features}, AUDIT_SETTINGS)
    assert audit.loc[audit["flagged"], "subject"].tolist() == ["rare_marker"]
    # which extreme, its cut and size, and no advice to stop stopping
    group = "rare_marker (1.000: 30 of the 30 cases with its highest values (1 or more) have"
    assert group in caplog.text
    assert "genuine_score" not in caplog.text
    assert "stop_on_implausible_feature" not in caplog.text
    with pytest.raises(InputError) as stopped:
        af.single_feature_audit(
            cohort,
            {"structured": features},
            {**AUDIT_SETTINGS, "stop_on_implausible_feature": True},
        )
    message = str(stopped.value)
    assert group in message
    # a share of 1 cannot be un-flagged by the threshold, which the schema caps at 1
    assert "max_single_feature_precision" not in message
    assert "raise leakage_audit.min_cases_for_precision above the group's size" in message
    assert "set leakage_audit.stop_on_implausible_feature: false" in message
    relaxed = {**AUDIT_SETTINGS, "max_single_feature_precision": 1.0, "min_cases_for_precision": 31}
    audit = af.single_feature_audit(
        cohort, {"structured": features}, relaxed | {"stop_on_implausible_feature": True}
    )
    assert not audit["flagged"].any()


def outcome_free_cohort() -> tuple[pd.DataFrame, pd.DataFrame]:
    """3,000 cases, base rate 0.07 (210 positives), and four features: a
    closure date filled in only for 40% of the cases without the outcome (a
    record made because the outcome did not happen), a 0/1 closure code on the
    same cases, a protective flag on 800 cases of which 8 have the outcome
    (0.01: low, not none), and a flag on 40 cases none with the outcome (as
    chance leaves one in 18 groups of 40: 0.93 ** 40 = 0.055)."""
    rng = np.random.default_rng(0)
    labels = np.r_[np.ones(210), np.zeros(2790)].astype("int8")
    closed = np.r_[np.zeros(210, bool), rng.random(2790) < 0.4]
    protective = np.zeros(3000)
    protective[np.r_[0:8, 210:1002]] = 1
    small = np.zeros(3000)
    small[2000:2040] = 1
    cohort = pd.DataFrame({"referral_id": [f"r{i}" for i in range(3000)], "label": labels})
    features = pd.DataFrame(
        {
            "referral_id": cohort["referral_id"],
            "days_to_closure": np.where(closed, rng.integers(1, 90, 3000), np.nan),
            "closure_code_nfa": closed.astype(float),
            "protective_flag": protective,
            "small_outcome_free_flag": small,
        }
    )
    return cohort, features


def test_a_field_filled_only_without_the_outcome_is_flagged():
    cohort, features = outcome_free_cohort()
    audit = af.leakage_audit(cohort, {"structured": features}, 0.9, 0.9, 20, 0.001)
    free = audit_rows(audit, af.OUTCOME_FREE_CHECK)
    closed = int(features["closure_code_nfa"].sum())
    assert 1000 < closed < 1200
    # missing ranks lowest: the filled closure dates are the high group
    assert free.loc["days_to_closure", "value"] == closed
    assert free.loc["days_to_closure", "flagged"]
    assert free.loc["days_to_closure", "detail"].startswith(
        f"0 of the {closed} cases with its highest values (1 or more) have the outcome: "
        + af.NO_OUTCOME_RECORD_ADVICE
    )
    assert free.loc["closure_code_nfa", "flagged"]
    # cases and positives: those outside the group, which hold all 210 positives
    assert (free.loc["closure_code_nfa", "cases"], free.loc["closure_code_nfa", "positives"]) == (
        3000 - closed,
        210,
    )
    # the other checks miss it: a group without the outcome is no high share, and AUC about 0.7
    assert audit.loc[audit["check"] != af.OUTCOME_FREE_CHECK, "flagged"].eq(False).all()
    # 4 features, 4 groups each: 0.93 ** size < 0.001 / 16 from 134 cases
    assert (free["threshold"] == 134).all()


def test_a_protective_feature_or_a_small_outcome_free_group_is_not_flagged():
    cohort, features = outcome_free_cohort()
    audit = af.leakage_audit(cohort, {"structured": features}, 0.9, 0.9, 20, 0.001)
    free = audit_rows(audit, af.OUTCOME_FREE_CHECK)
    # 8 of its 800 cases have the outcome: no group at either extreme is free of it
    assert free.loc["protective_flag", "value"] == 0
    assert not free.loc["protective_flag", "flagged"]
    assert free.loc["protective_flag", "detail"] == (
        "a case with the outcome has its highest value, and one its lowest"
    )
    assert free.loc["small_outcome_free_flag", "value"] == 40
    assert not free.loc["small_outcome_free_flag", "flagged"]
    assert af.NO_OUTCOME_RECORD_ADVICE not in free.loc["small_outcome_free_flag", "detail"]


def test_an_outcome_free_group_is_a_value_at_one_end_or_all_the_others():
    labels = pd.Series([1, 0, 1, 0, 0, 0, 0, 0])
    # the cases at the highest value, 3, none with the outcome
    group = af.outcome_free_group(pd.Series([0.0, 0, 1, 1, 3, 3, 3, 2]), labels)
    assert (group.cases, group.positives, group.direction, group.cut) == (3, 0, "highest", 3.0)
    # a continuous feature: the 3 cases below its lowest positive (and the 3 above its
    # highest) are no group, as a genuine predictor makes such tails; its highest and its
    # lowest value hold 1 case each
    group = af.outcome_free_group(pd.Series([5.0, 7, 4, 3, 8, 6, 2, 1]), labels)
    assert (group.cases, group.direction, group.cut) == (1, "highest", 8.0)
    # missing only without the outcome: the missing cases are the lowest value
    missing = pd.Series([1.0, np.nan, 2, np.nan, np.nan, 3, 4, 5])
    group = af.outcome_free_group(missing, labels)
    assert (group.cases, group.direction, group.missing) == (3, "lowest", 3)
    assert np.isneginf(group.cut)
    assert af.describe_outcome_free_group(group) == (
        "0 of the 3 cases with it missing have the outcome"
    )
    # filled in only without the outcome: every case above the lowest value, missing
    filled = pd.Series([np.nan, 3.0, np.nan, 7, 9, 2, np.nan, np.nan])
    group = af.outcome_free_group(filled, pd.Series([1, 0, 1, 0, 0, 0, 1, 1]))
    assert (group.cases, group.direction, group.cut, group.missing) == (4, "highest", 2.0, 0)
    assert af.describe_outcome_free_group(group) == (
        "0 of the 4 cases with its highest values (2 or more) have the outcome"
    )
    # recorded (as 9) on every case with the outcome: all the cases below the highest
    # value, over several values, are outcome-free, more than at the lowest value alone
    group = af.outcome_free_group(
        pd.Series([0.0, 0, 1, 1, 2, 2, 9, 9]), pd.Series([0] * 6 + [1] * 2)
    )
    assert (group.cases, group.direction, group.cut) == (6, "lowest", 2.0)


def test_the_implausible_outcome_free_size_is_where_chance_falls_below_its_share():
    size = af.implausible_outcome_free_size(0.07, 0.001, 200, 20)
    assert 0.93 ** (size - 1) >= 0.001 / 200 > 0.93**size
    # at a high base rate a small group is implausible, but never below the minimum
    assert af.implausible_outcome_free_size(0.5, 0.001, 2, 20) == 20
    assert af.implausible_outcome_free_size(0.0, 0.001, 2, 20) == float("inf")
    # every case with the outcome: no group is outcome-free, the minimum is the limit
    assert af.implausible_outcome_free_size(1.0, 0.001, 2, 20) == 20


def test_an_outcome_free_group_as_large_as_the_implausible_size_is_flagged():
    # 40 cases, half with the outcome: chance leaves 13 outcome-free with probability
    # below 0.001 / 8, so the limit is the minimum group, 20 cases; a flag on 20 cases
    # without the outcome reaches it, one on 19 does not
    cohort = pd.DataFrame(
        {"referral_id": [f"r{i}" for i in range(40)], "label": [1] * 20 + [0] * 20}
    )
    features = pd.DataFrame(
        {
            "referral_id": cohort["referral_id"],
            "at_the_limit": np.r_[np.zeros(20), np.ones(20)],
            "below_the_limit": np.r_[np.zeros(21), np.ones(19)],
        }
    )
    audit = af.leakage_audit(cohort, {"structured": features}, 0.9, 0.9, 20, 0.001)
    free = audit_rows(audit, af.OUTCOME_FREE_CHECK)
    assert (free["threshold"] == 20).all()
    assert free.loc["at_the_limit", ["value", "flagged"]].tolist() == [20, True]
    assert free.loc["below_the_limit", ["value", "flagged"]].tolist() == [19, False]


def test_the_audit_warns_or_stops_on_an_outcome_free_field(caplog):
    cohort, features = outcome_free_cohort()
    planted = features[["referral_id", "days_to_closure", "protective_flag"]]
    with caplog.at_level(logging.WARNING):
        audit = af.single_feature_audit(cohort, {"structured": planted}, AUDIT_SETTINGS)
    assert audit.loc[audit["flagged"], "subject"].tolist() == ["days_to_closure"]
    closed = int(features["closure_code_nfa"].sum())
    group = (
        f"days_to_closure (0 of the {closed} cases with its highest values (1 or more) have the "
        "outcome; 124 or more is implausible)"
    )
    assert group in caplog.text
    assert "protective_flag" not in caplog.text
    with pytest.raises(InputError) as stopped:
        af.single_feature_audit(
            cohort,
            {"structured": planted},
            {**AUDIT_SETTINGS, "stop_on_implausible_feature": True},
        )
    message = str(stopped.value)
    assert group in message
    assert "because the outcome did not happen" in message
    # the configured chance, so that the analyst knows what to lower it from
    assert "leakage_audit.max_outcome_free_chance, 0.001, shared out" in message
    assert "lower leakage_audit.max_outcome_free_chance" in message
    assert "set leakage_audit.stop_on_implausible_feature: false" in message


def test_spell_durations_count_only_days_before_the_point(tables):
    cohort = cohort_of(tables).set_index("referral_id")
    spells = pd.DataFrame(
        {
            "child_id": ["a", "a", "a"],
            "start_date": dates("2015-01-01", "2016-05-01", "2016-07-01"),
            "end_date": dates("2015-01-31", None, "2016-08-01"),
        }
    )
    features, used = bsf.duration_features(cohort.reset_index(), spells, "cp_plans")
    point = cohort.loc["r2", "prediction_time"]
    open_days = (point - pd.Timestamp("2016-05-01")).days
    # r2: a 30-day plan that ended, one still open at the point, one starting after it
    assert features.loc["r2", "total_days_cp_plans"] == 30 + open_days
    assert features.loc["r2", "mean_days_cp_plans"] == (30 + open_days) / 2
    assert used["r2"] == pd.Timestamp("2016-05-01")
    assert features.loc["r3", "total_days_cp_plans"] == 0
    assert pd.isna(features.loc["r3", "mean_days_cp_plans"])


def test_family_history_counts_siblings_records_known_before_the_point(tables):
    features = bsf.structured_features(cohort_of(tables), tables).set_index("referral_id")
    # b's referral r3 (point 2016-03-15) follows sibling a's r1 (NFA, closed 2016-01-20)
    assert features.loc["r3", "n_previous_family_referrals"] == 1
    assert features.loc["r3", "n_previous_family_nfa_closures"] == 1
    assert features.loc["r3", "n_previous_referrals"] == 0
    # a's r2 counts r1 and b's r3, never itself; r2's plan starts after its point
    assert features.loc["r2", "n_previous_family_referrals"] == 2
    assert features.loc["r2", "n_previous_family_cp_plans"] == 0


def test_children_without_a_family_id_are_their_own_household(tables):
    children = tables["children"].assign(family_id=[None, None, "f2"])
    household = bsf.households(children)
    assert household["a"] != household["b"]
    assert household["c"] == "f2"


def test_current_referral_steps_count_only_the_own_referral_before_the_point(tables):
    features = bsf.structured_features(cohort_of(tables), tables).set_index("referral_id")
    # r2 (referred 2016-06-01, point 2016-06-15): assessment started 06-02 and
    # section 47 on 06-05 are known; authorisation (08-01) and conference (06-20) are not.
    assert features.loc["r2", "current_referral_assessment_started"] == 1
    assert features.loc["r2", "days_since_current_referral_assessment_started"] == 13
    assert features.loc["r2", "current_referral_section47"] == 1
    assert features.loc["r2", "days_since_current_referral_section47"] == 10
    assert features.loc["r2", "current_referral_assessment_authorised"] == 0
    assert features.loc["r2", "current_referral_initial_conference"] == 0
    assert pd.isna(features.loc["r2", "days_since_current_referral_initial_conference"])
    # r1's NFA closure (2016-01-20) is before r2's point but is another referral's.
    assert features.loc["r2", "current_referral_closure"] == 0
    assert features.loc["r1", "current_referral_nfa_closure"] == 1
    assert features.loc["r1", "days_since_current_referral_closure"] == 4
    assert features.loc["r3"].filter(like="current_referral_").fillna(0).sum() == 0
    # the closure is the latest record r1 uses, and feature_time records it
    assert features.loc["r1", "feature_time"] == pd.Timestamp("2016-01-20")


def test_a_step_on_the_prediction_point_is_not_yet_known(tables):
    cohort = cohort_of(tables)
    point = cohort.set_index("referral_id").loc["r2", "prediction_time"]
    steps = pd.DataFrame(
        {
            "referral_id": ["r2", "r2", "r2"],
            "step": ["section47", "initial_conference", "closure"],
            "time": pd.Series(
                [point - pd.Timedelta(days=1), point, point + pd.Timedelta(days=3)]
            ).astype("datetime64[ms]"),
        }
    )
    features, used = bsf.current_referral_features(cohort, steps)
    assert features.loc["r2", "current_referral_section47"] == 1
    assert features.loc["r2", "days_since_current_referral_section47"] == 1
    assert features.loc["r2", "current_referral_initial_conference"] == 0
    assert features.loc["r2", "current_referral_closure"] == 0
    assert used["r2"] == point - pd.Timedelta(days=1)
    assert pd.isna(used["r1"])
    assert bsf.leakage_violations(cohort, used, "current referral") == []


def test_the_primary_need_is_known_from_the_assessment_or_closure_only(tables):
    # CIN records the primary need at assessment or closure. r1 (point 2016-01-24)
    # was assessed on 01-15; r2 (point 06-15) is assessed on 08-01; r3 (point
    # 03-15) has no assessment and closes on 03-05 here.
    referrals = tables["referrals"].assign(
        closure_date=dates("2016-01-20", "2017-01-01", "2016-03-05", None)
    )
    tables = tables | {"referrals": referrals}
    features = bsf.structured_features(cohort_of(tables), tables).set_index("referral_id")
    assert features.loc["r1", ["need_N1", "need_N4"]].tolist() == [1, 0]
    assert features.loc["r2", ["need_N1", "need_N4"]].isna().all()
    assert features.loc["r3", ["need_N1", "need_N4"]].tolist() == [0, 1]
    assert features.loc["r3", "feature_time"] == pd.Timestamp("2016-03-05")
    # the referral's source is known from the referral itself
    assert features.loc["r2", ["source_2A", "source_6"]].tolist() == [1, 0]
    # an NFA outcome never sees the closure, so r3's need stays unknown
    outcome = {**NFA, "prediction_offset_days": 14}
    cohort, _ = bc.build_cohort("nfa", outcome, tables, 18, pd.Timestamp("2020-01-01"))
    nfa = bsf.structured_features(cohort, tables, outcome_type="nfa_rereferral")
    nfa = nfa.set_index("referral_id")
    assert nfa.loc["r1", "need_N1"] == 1
    assert nfa.loc["r3", ["need_N1", "need_N4"]].isna().all()
    assert bsf.leakage_violations(cohort, nfa["feature_time"], "structured") == []
    # without the own referral's steps the point sees the referral only: no need
    without = bsf.structured_features(cohort_of(tables), tables, current_referral=False)
    assert not [c for c in without.columns if c.startswith("need_")]
    assert "source_6" in without.columns


def test_referral_steps_date_each_step_and_leave_out_plans_and_care(tables):
    steps = bsf.referral_steps(tables)
    assert set(steps["step"]) == set(bsf.CURRENT_REFERRAL_STEPS)
    nfa = steps.loc[steps["step"] == "nfa_closure"]
    assert nfa["referral_id"].tolist() == ["r1"]
    # r4 is still open: no closure step
    assert "r4" not in set(steps.loc[steps["step"] == "closure", "referral_id"])


def test_current_referral_features_can_be_switched_off(tables):
    features = bsf.structured_features(cohort_of(tables), tables, current_referral=False)
    assert not [c for c in features.columns if "current_referral" in c]
    assert "n_previous_section47" in features.columns


def test_the_own_assessments_factors_count_only_with_current_referral_features(tables):
    # r2's own assessment authorised on 2016-06-10, before its point (06-15)
    assessments = tables["assessments"].assign(authorisation_date=dates("2016-01-15", "2016-06-10"))
    tables = tables | {"assessments": assessments}
    cohort = cohort_of(tables)
    with_current = bsf.structured_features(cohort, tables).set_index("referral_id")
    without = bsf.structured_features(cohort, tables, current_referral=False)
    without = without.set_index("referral_id")
    assert with_current.loc["r2", "factor_16A"] == 1
    assert with_current.loc["r2", "feature_time"] == pd.Timestamp("2016-06-10")
    assert without.loc["r2", "factor_16A"] == 0
    assert without.loc["r2", "factor_3B"] == 1
    # without the own referral's steps, its latest record is the referral itself
    assert without.loc["r2", "feature_time"] == pd.Timestamp("2016-06-01")


def test_an_nfa_outcome_never_sees_its_own_referrals_closure(tables):
    # r1 closed with no further action on its referral day, seen by a next-day point
    referrals = tables["referrals"].assign(
        closure_date=dates("2016-01-10", "2017-01-01", "2016-09-01", None)
    )
    tables = tables | {"referrals": referrals}
    cohort, _ = bc.build_cohort("nfa", NFA, tables, 18, pd.Timestamp("2020-01-01"))
    assert cohort.set_index("referral_id").loc["r1", "label"] == 1
    features = bsf.structured_features(cohort, tables, outcome_type="nfa_rereferral")
    assert not [c for c in features.columns if "closure" in c and "current_referral" in c]
    assert "current_referral_assessment_started" in features.columns
    escalation = bsf.structured_features(cohort, tables, outcome_type="escalation")
    assert escalation.set_index("referral_id").loc["r1", "current_referral_nfa_closure"] == 1
    assert set(bsf.known_referral_steps("nfa_rereferral")) == set(bsf.CURRENT_REFERRAL_STEPS) - {
        "closure",
        "nfa_closure",
    }


def test_notes_that_match_no_cohort_child_stop_the_run():
    cohort_children = pd.Series(["a1", "a2"])
    btf.check_notes_linked_to_cohort(pd.Series(["a2", "zz"]), cohort_children)
    btf.check_notes_linked_to_cohort(pd.Series([], dtype="str"), cohort_children)
    with pytest.raises(InputError, match="different keys"):
        btf.check_notes_linked_to_cohort(pd.Series(["b1", "b2"]), cohort_children)


def test_an_nfa_outcomes_text_never_holds_its_own_referrals_closure_note(tables):
    # r1 (child a, referred 2016-01-10) is closed with no further action on
    # 01-20 and seen at a day-14 point (01-24); its closure note is n3.
    outcome = {**NFA, "prediction_offset_days": 14}
    cohort, _ = bc.build_cohort("nfa", outcome, tables, 18, pd.Timestamp("2020-01-01"))
    assert cohort.set_index("referral_id").loc["r1", "label"] == 1
    times = dates("2016-01-10T09:00", "2016-01-13T10:00", "2016-01-20T15:00", "2016-01-22T10:00")
    tokens = pd.DataFrame(
        {
            "note_id": ["n1", "n2", "n3", "n4"],
            "child_id": ["a"] * 4,
            "note_datetime": times,
            "document_type": ["Case note"] * 4,
            "tokens": [["contact"], ["visit"], ["further", "action"], ["after"]],
        }
    )
    flags = pd.DataFrame(
        {
            "note_id": ["n1", "n2", "n3", "n4"],
            "child_id": ["a"] * 4,
            "note_datetime": times,
            "flag_missing": pd.Series([0, 0, 1, 0], dtype="int8"),
        }
    )
    end, closed_on_anchor_day = btf.notes_end(cohort, tables["referrals"], "nfa_rereferral", 14)
    # the end of the referral day, before the closure date
    assert end["r1"] == pd.Timestamp("2016-01-11")
    assert closed_on_anchor_day == 0
    documents = btf.text_documents(cohort, tokens, 14, end).set_index("referral_id")
    assert documents.loc["r1", "tokens"] == ["contact"]
    # "previous text" (before a 2-day window) never holds the closure note either
    text_flags = btf.text_flag_features(cohort, flags, 2, True, end).set_index("referral_id")
    assert text_flags.loc["r1", "previous_vulnerability_missing"] == 0
    assert text_flags.loc["r1", "previous_vulnerability_note_count"] == 1
    # an escalation outcome keeps every note up to its point
    kept, _ = btf.notes_end(cohort, tables["referrals"], "escalation", 14)
    assert kept.equals(cohort.set_index("referral_id")["prediction_time"])
    escalation = btf.text_documents(cohort, tokens, 14, kept).set_index("referral_id")
    assert escalation.loc["r1", "n_notes"] == 4


def test_a_referral_closed_on_its_anchor_day_takes_that_days_notes_from_every_case(tables):
    # r1 (child a, referred 2016-01-10) is closed on 01-20; r9 (child c,
    # referred 2016-01-12) is closed at the front door that day. Were r9 alone
    # to lose its referral day's notes, its empty window would tell the closure.
    referrals = pd.concat(
        [
            tables["referrals"],
            pd.DataFrame(
                {
                    "referral_id": ["r9"],
                    "child_id": ["c"],
                    "referral_date": dates("2016-01-12"),
                    "referral_source": ["6"],
                    "primary_need": ["N9"],
                    "nfa": [True],
                    "closure_date": dates("2016-01-12"),
                    "closure_reason": ["RC8"],
                }
            ),
        ],
        ignore_index=True,
    )
    cohort = pd.DataFrame(
        {
            "outcome": "nfa",
            "referral_id": ["r1", "r9"],
            "child_id": ["a", "c"],
            "prediction_time": dates("2016-01-11", "2016-01-13"),
        }
    )
    tokens = pd.DataFrame(
        {
            "note_id": ["n1", "n2", "n3"],
            "child_id": ["a", "c", "c"],
            "note_datetime": dates("2016-01-10T09:00", "2016-01-05T10:00", "2016-01-12T09:00"),
            "document_type": ["Case note"] * 3,
            "tokens": [["contact"], ["earlier"], ["closed"]],
        }
    )
    end, closed_on_anchor_day = btf.notes_end(cohort, referrals, "nfa_rereferral", 1)
    assert closed_on_anchor_day == 1
    # every case's notes end at the start of its referral day
    assert end.to_dict() == {"r1": pd.Timestamp("2016-01-10"), "r9": pd.Timestamp("2016-01-12")}
    documents = btf.text_documents(cohort, tokens, 14, end).set_index("referral_id")
    assert documents.loc["r1", "n_notes"] == 0
    assert documents.loc["r9", "tokens"] == ["earlier"]
    audit = btf.anchor_day_audit(closed_on_anchor_day)
    assert (audit["check"] == btf.ANCHOR_DAY_CHECK).all()
    assert audit["value"].tolist() == [1.0]
    assert "no case's notes include that day" in audit["detail"].iloc[0]
    # without the front-door closure every case keeps its referral day's notes
    open_end, none_closed = btf.notes_end(cohort, tables["referrals"], "nfa_rereferral", 1)
    assert none_closed == 0
    assert open_end["r1"] == pd.Timestamp("2016-01-11")
    assert btf.anchor_day_audit(none_closed)["value"].tolist() == [0.0]


def siblings_referral(nfa: bool, closure_date: str, closure_reason: str) -> pd.DataFrame:
    """Referral r5 of child b, made with sister a's r1 on 2016-01-10."""
    return pd.DataFrame(
        {
            "referral_id": ["r5"],
            "child_id": ["b"],
            "referral_date": dates("2016-01-10"),
            "referral_source": ["6"],
            "primary_need": ["N1"],
            "nfa": [nfa],
            "closure_date": dates(closure_date),
            "closure_reason": [closure_reason],
        }
    )


def test_an_nfa_outcome_never_counts_a_siblings_closure_of_the_same_incident(tables):
    # b is referred with sister a on 2016-01-10 (r5); both referrals are closed
    # with no further action that day, before the next-day point.
    sibling = siblings_referral(nfa=True, closure_date="2016-01-10", closure_reason="RC8")
    referrals = pd.concat([tables["referrals"], sibling], ignore_index=True)
    referrals["closure_date"] = referrals["closure_date"].where(
        referrals["referral_id"] != "r1", pd.Timestamp("2016-01-10")
    )
    tables = tables | {"referrals": referrals}
    cohort, _ = bc.build_cohort("nfa", NFA, tables, 18, pd.Timestamp("2020-01-01"))
    nfa = bsf.structured_features(cohort, tables, outcome_type="nfa_rereferral")
    nfa = nfa.set_index("referral_id")
    assert nfa.loc["r1", "n_previous_family_nfa_closures"] == 0
    assert pd.isna(nfa.loc["r1", "days_since_last_family_nfa_closures"])
    # the sibling's referral itself is known at the point and is no closure
    assert nfa.loc["r1", "n_previous_family_referrals"] == 1
    # closures of referrals made on other dates are history, as before
    assert nfa.loc["r3", "n_previous_family_nfa_closures"] == 2
    assert nfa.loc["r3", "n_previous_nfa_closures"] == 1
    escalation = bsf.structured_features(cohort, tables, outcome_type="escalation")
    assert escalation.set_index("referral_id").loc["r1", "n_previous_family_nfa_closures"] == 1


def test_an_nfa_outcome_counts_a_siblings_same_incident_enquiry_only_by_its_anchor_day(tables):
    # b is referred with sister a on 2016-01-10 (r5); enquiries under r5 start
    # that day, at the first moment of the next (01-11) and on 01-13, before
    # a's day-7 point (01-17). The later two tell that the incident was not
    # closed at the front door, as a's own would.
    sibling = siblings_referral(nfa=False, closure_date="2016-03-01", closure_reason="RC7")
    enquiries = pd.DataFrame(
        {
            "referral_id": ["r5", "r5", "r5"],
            "child_id": ["b", "b", "b"],
            "start_date": dates("2016-01-10", "2016-01-11", "2016-01-13"),
            "icpc_date": dates(None, None, None),
        }
    )
    tables = tables | {
        "referrals": pd.concat([tables["referrals"], sibling], ignore_index=True),
        "section47": pd.concat([tables["section47"], enquiries], ignore_index=True),
    }
    outcome = {**NFA, "prediction_offset_days": 7}
    cohort, _ = bc.build_cohort("nfa", outcome, tables, 18, pd.Timestamp("2020-01-01"))
    nfa = bsf.structured_features(cohort, tables, True, "nfa_rereferral", 7)
    assert nfa.set_index("referral_id").loc["r1", "n_previous_family_section47"] == 1
    # an escalation outcome's point sees both: they are known and not its label
    escalation = bsf.structured_features(cohort, tables, True, "escalation", 7)
    assert escalation.set_index("referral_id").loc["r1", "n_previous_family_section47"] == 3


def test_an_nfa_outcome_leaves_out_its_own_steps_from_the_first_moment_after_its_anchor_day(
    tables,
):
    # r1 (referred 2016-01-10) assessed that day, authorised at the first
    # moment of the next: at a day-14 point the start counts, the
    # authorisation, its factors and the primary need it records do not.
    assessments = tables["assessments"].copy()
    assessments.loc[0, "start_date"] = pd.Timestamp("2016-01-10")
    assessments.loc[0, "authorisation_date"] = pd.Timestamp("2016-01-11")
    tables = tables | {"assessments": assessments}
    outcome = {**NFA, "prediction_offset_days": 14}
    cohort, _ = bc.build_cohort("nfa", outcome, tables, 18, pd.Timestamp("2020-01-01"))
    nfa = bsf.structured_features(cohort, tables, True, "nfa_rereferral", 14)
    nfa = nfa.set_index("referral_id")
    assert nfa.loc["r1", "current_referral_assessment_started"] == 1
    assert nfa.loc["r1", "current_referral_assessment_authorised"] == 0
    assert nfa.loc["r1", "factor_3B"] == 0
    assert pd.isna(nfa.loc["r1", "need_N1"])


def test_an_nfa_outcome_sees_its_own_referrals_steps_only_up_to_its_anchor_day(tables):
    # r1 (referred 2016-01-10, assessed 01-11 to 01-15, closed NFA 01-20) at a
    # day-14 point (01-24): whether an assessment started after the referral
    # day tells whether the case was closed at the front door.
    outcome = {**NFA, "prediction_offset_days": 14}
    cohort, _ = bc.build_cohort("nfa", outcome, tables, 18, pd.Timestamp("2020-01-01"))
    nfa = bsf.structured_features(cohort, tables, True, "nfa_rereferral", 14)
    nfa = nfa.set_index("referral_id")
    assert nfa.loc["r1", "current_referral_assessment_started"] == 0
    assert nfa.loc["r1", "current_referral_assessment_authorised"] == 0
    assert nfa.loc["r1", "factor_3B"] == 0
    assert pd.isna(nfa.loc["r1", "need_N1"])
    assert nfa.loc["r1", "feature_time"] == pd.Timestamp("2016-01-10")
    escalation = bsf.structured_features(cohort, tables, True, "escalation", 14)
    escalation = escalation.set_index("referral_id")
    assert escalation.loc["r1", "current_referral_assessment_started"] == 1
    assert escalation.loc["r1", "days_since_current_referral_assessment_started"] == 13
    assert escalation.loc["r1", "factor_3B"] == 1
    assert escalation.loc["r1", "need_N1"] == 1


POINT = pd.Timestamp("2020-06-01 10:00")


def boundary_cohort() -> pd.DataFrame:
    return pd.DataFrame(
        {
            "referral_id": ["r1"],
            "child_id": ["a"],
            "referral_date": [POINT - pd.Timedelta(days=1)],
            "prediction_time": [POINT],
        }
    )


def test_history_leaves_out_an_event_dated_exactly_at_the_point():
    """``<`` not ``<=``: a record made at the prediction point is not yet known."""
    events = pd.DataFrame({"child_id": ["a", "a"], "time": [POINT - pd.Timedelta(days=3), POINT]})
    features, latest = bsf.history_features(boundary_cohort(), events, "referrals")
    assert features.loc["r1", "n_previous_referrals"] == 1
    assert features.loc["r1", "days_since_last_referrals"] == 3
    assert latest["r1"] == POINT - pd.Timedelta(days=3)


def test_durations_leave_out_a_spell_starting_at_the_point_and_an_end_at_it():
    """A spell starting at the point is not counted; one ending at it is
    counted up to the point, and its end (not yet known) is not a date used."""
    start = POINT - pd.Timedelta(days=10)
    spells = pd.DataFrame(
        {"child_id": ["a", "a"], "start_date": [start, POINT], "end_date": [POINT, pd.NaT]}
    )
    features, used = bsf.duration_features(boundary_cohort(), spells, "cp_plans")
    assert features.loc["r1", "total_days_cp_plans"] == 10
    assert features.loc["r1", "mean_days_cp_plans"] == 10
    assert used["r1"] == start


def test_free_text_codes_become_other_not_column_names(tables):
    free_text = "Neighbour - Mrs J Kowalczyk, 14 Acacia Ave"
    sources = tables["referrals"]["referral_source"].copy()
    sources.iloc[[0, 1]] = [free_text, " 2a"]
    assert bsf.listed_or_other(sources, {"1A", "2A", "6"}).tolist() == ["other", "2A", "6", "1A"]
    needs = tables["referrals"]["primary_need"].copy()
    needs.iloc[2] = "Kowalczyk family"
    factors = tables["assessments"]["factors"].map(list)
    factors.iloc[0] = [*factors.iloc[0], "MR KOWALCZYK"]
    raw = tables | {
        "referrals": tables["referrals"].assign(referral_source=sources, primary_need=needs),
        "assessments": tables["assessments"].assign(factors=factors),
    }
    code_lists = {
        "referrals": {
            "referral_source": [{"from": None, "to": None, "codes": ["1A", "2A", "6", "9"]}],
            "primary_need": [{"from": None, "to": None, "codes": ["N1", "N4"]}],
        },
        "assessments": {
            "factors": [
                {
                    "from": None,
                    "to": None,
                    "codes": sorted(
                        {f for codes in tables["assessments"]["factors"] for f in codes}
                    ),
                }
            ]
        },
    }
    coded = bsf.coded_tables(raw, code_lists)
    features = bsf.structured_features(cohort_of(coded), coded).set_index("referral_id")
    assert not [c for c in features.columns if "KOWALCZYK" in c.upper()]
    sources_columns = [c for c in features.columns if c.startswith("source_")]
    assert sources_columns == ["source_1A", "source_2A", "source_6", "source_other"]
    assert features.loc["r1", sources_columns].tolist() == [0, 0, 0, 1]
    assert features.loc["r2", sources_columns].tolist() == [0, 1, 0, 0]
    assert "need_other" in features.columns
    assert "factor_other" in features.columns
    # Without the code lists the free text would name columns.
    raw_features = bsf.structured_features(cohort_of(raw), raw)
    assert [c for c in raw_features.columns if "KOWALCZYK" in c.upper()]


def test_features_an_la_cannot_date_can_be_left_out_by_name_or_pattern(tables):
    features = bsf.structured_features(cohort_of(tables), tables)
    kept = bsf.without_excluded(features, ["disability", "need_*"], "esc")
    assert "disability" not in kept.columns
    assert not [c for c in kept.columns if c.startswith("need_")]
    assert [c for c in features.columns if c.startswith("need_")]
    assert {"referral_id", "feature_time", "age_years"} <= set(kept.columns)
    assert bsf.without_excluded(features, [], "esc").equals(features)
    # a misspelt name would leave in the feature it meant to leave out
    with pytest.raises(InputError, match=r"outcomes.esc.exclude_features: 'disabled' match"):
        bsf.without_excluded(features, ["disability", "disabled"], "esc")
    # the baseline ranks cases by the number of previous referrals: never left out
    with pytest.raises(InputError, match=r"'n_previous_\*' would leave out 'n_previous_referrals'"):
        bsf.without_excluded(features, ["n_previous_*"], "esc")


def audited_split() -> tuple[list[str], np.ndarray, pd.DataFrame, pd.DataFrame]:
    """140 referrals, the first 100 the outer training rows and the last 40
    the test rows: their ids, labels, cohort and splits."""
    ids = [f"r{i:03d}" for i in range(140)]
    labels = np.r_[np.tile([1, 0, 0, 0], 25), np.tile([1, 0], 20)]
    cohort = pd.DataFrame({"referral_id": ids, "label": labels})
    splits = pd.DataFrame({"referral_id": ids, "fold": -1, "role": ["train"] * 100 + ["test"] * 40})
    return ids, labels, cohort, splits


def test_topic_shares_are_audited_on_the_outer_training_rows_only():
    # 100 training and 40 test rows; topic_01 is planted as the label itself on
    # the training rows, topic_00 is noise. The inner fold's shares are ignored.
    rng = np.random.default_rng(0)
    ids, labels, cohort, splits = audited_split()
    outer = pd.DataFrame(
        {
            "fold": -1,
            "referral_id": ids,
            "topic_00": rng.random(140),
            "topic_01": np.r_[labels[:100] * 0.8 + 0.1, rng.random(40)],
        }
    )
    inner = outer.assign(fold=0, topic_00=labels * 1.0)
    rows, topics = af.training_rows(cohort, pd.concat([outer, inner]), splits, "time")
    assert rows["referral_id"].tolist() == ids[:100]
    assert list(topics.columns) == ["referral_id", "topic_00 (time split)", "topic_01 (time split)"]
    settings = AUDIT_SETTINGS | {"stop_on_implausible_feature": True}
    with pytest.raises(InputError, match=r"topic_01 \(time split\) \(1.000\)"):
        af.single_feature_audit(rows, {"topics": topics}, settings)
    audit = af.single_feature_audit(
        rows, {"topics": topics}, settings | {"stop_on_implausible_feature": False}
    )
    flagged = audit.loc[audit["flagged"], "subject"].unique().tolist()
    assert flagged == ["topic_01 (time split)"]


def test_structured_features_are_audited_on_the_outer_training_rows_only():
    # A feature equal to the label on the 40 test rows only, noise on the 100
    # training rows: flagged on every row, not on the rows the audit scores.
    rng = np.random.default_rng(1)
    ids, labels, cohort, splits = audited_split()
    structured = pd.DataFrame(
        {
            "referral_id": ids,
            "feature_time": pd.Timestamp("2020-01-01"),
            "closure_code": np.r_[rng.random(100), labels[100:] * 1.0],
        }
    )
    settings = AUDIT_SETTINGS
    on_test_rows = af.single_feature_audit(
        cohort.iloc[100:], {"features": structured.iloc[100:]}, settings
    )
    assert on_test_rows["flagged"].any()
    rows, features = af.training_rows(cohort, structured, splits, "random")
    assert list(features.columns) == ["referral_id", "feature_time", "closure_code (random split)"]
    audit = af.single_feature_audit(rows, {"features": features}, settings)
    assert set(audit["subject"]) == {"closure_code (random split)"}
    assert not audit["flagged"].any()
