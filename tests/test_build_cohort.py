"""Labels, censoring and population filters of build_cohort."""

from __future__ import annotations

import jsonschema
import pandas as pd
import pytest
import yaml
from conftest import ESCALATION, NFA, ROOT

import build_cohort as bc
from common import InputError


def labels(cohort: pd.DataFrame) -> dict[str, int]:
    return dict(zip(cohort["referral_id"], cohort["label"], strict=True))


def test_nfa_rereferral_labels_and_age_limit(tables):
    cohort, counts = bc.build_cohort("nfa", NFA, tables, 18, pd.Timestamp("2020-01-01"))
    assert labels(cohort) == {"r1": 1, "r3": 0, "r2": 0}
    assert counts["over_age_limit"] == 1
    assert (cohort["prediction_time"] - cohort["referral_date"]).dt.days.eq(1).all()


def test_nfa_label_needs_rereferral_within_horizon(tables):
    tables["referrals"].loc[1, "referral_date"] = pd.Timestamp("2017-02-01")
    cohort, _ = bc.build_cohort("nfa", NFA, tables, 18, pd.Timestamp("2020-01-01"))
    assert labels(cohort)["r1"] == 0


def test_nfa_cases_rereferred_by_their_prediction_point_are_left_out(tables):
    # r1 is closed NFA on 2016-01-20; two weeks after referral its point is
    # 2016-01-24, so a re-referral by then is both its label and its history.
    outcome = {**NFA, "prediction_offset_days": 14}
    end = pd.Timestamp("2020-01-01")
    for rereferral, kept in (("2016-01-22", False), ("2016-01-24", False), ("2016-01-25", True)):
        tables["referrals"].loc[1, "referral_date"] = pd.Timestamp(rereferral)
        cohort, counts = bc.build_cohort("nfa", outcome, tables, 18, end)
        assert ("r1" in set(cohort["referral_id"])) == kept
        assert counts["rereferred_by_prediction_point"] == int(not kept)
    assert labels(cohort)["r1"] == 1


def test_censoring_drops_rows_whose_horizon_passes_the_data_end(tables):
    cohort, counts = bc.build_cohort("nfa", NFA, tables, 18, pd.Timestamp("2017-03-01"))
    # Horizons end 2017-01-11 (r1), 2017-03-02 (r3) and 2017-06-02 (r2), NFA or not.
    assert cohort["referral_id"].tolist() == ["r1"]
    assert counts["censored"] == 2
    assert (cohort["label_known_time"] == pd.Timestamp("2017-01-11")).all()


def test_escalation_counts_events_after_the_prediction_point_only(tables):
    cohort, _ = bc.build_cohort("esc", ESCALATION, tables, 18, pd.Timestamp("2020-01-01"))
    assert labels(cohort) == {"r1": 0, "r3": 0, "r2": 1}


def test_escalation_excludes_children_already_on_a_plan(tables):
    tables["cp_plans"].loc[0, "start_date"] = pd.Timestamp("2016-06-10")
    cohort, counts = bc.build_cohort("esc", ESCALATION, tables, 18, pd.Timestamp("2020-01-01"))
    assert "r2" not in set(cohort["referral_id"])
    assert counts["already_escalated"] == 1


def test_events_without_a_duration_since_referral_count_as_already_escalated(tables):
    # r2 (referred 2016-06-01, point 2016-06-15) had its section 47 enquiry on
    # 2016-06-05: the plan of 2016-07-01 follows an escalation already under way.
    outcome = {**ESCALATION, "events": ["section47", "cp_plan", "care_episode"]}
    end = pd.Timestamp("2020-01-01")
    cohort, counts = bc.build_cohort("esc", outcome, tables, 18, end)
    assert "r2" not in set(cohort["referral_id"])
    assert counts["already_escalated"] == 1
    # An enquiry on the prediction point is already known; the day after, it is the label.
    tables["section47"].loc[0, "start_date"] = pd.Timestamp("2016-06-15")
    cohort, _ = bc.build_cohort("esc", outcome, tables, 18, end)
    assert "r2" not in set(cohort["referral_id"])
    tables["section47"].loc[0, "start_date"] = pd.Timestamp("2016-06-16")
    assert labels(bc.build_cohort("esc", outcome, tables, 18, end)[0])["r2"] == 1
    # An enquiry under an earlier referral (r1: 2016-01-10, point 2016-01-24) is
    # history for r2, which keeps its label, and escalation already under way for r1.
    tables["section47"].loc[0, "start_date"] = pd.Timestamp("2016-01-12")
    cohort, counts = bc.build_cohort("esc", outcome, tables, 18, end)
    assert labels(cohort) == {"r3": 0, "r2": 1}
    assert counts["already_escalated"] == 1


def test_a_conference_before_the_assessment_point_is_already_escalated(tables):
    # As config/la3.yaml: r2's first assessment is authorised on 2016-08-01, after
    # its initial conference (2016-06-20), so the conference is not to come.
    conference = {
        **ESCALATION,
        "type": "custom",
        "rule": {"all_of": ["initial_conference"]},
        "prediction_point": "assessment_authorisation",
        "prediction_offset_days": 1,
    }
    tables["cp_plans"] = tables["cp_plans"].iloc[0:0]
    cohort, counts = bc.build_cohort("icpc", conference, tables, 18, pd.Timestamp("2020-01-01"))
    assert labels(cohort) == {"r1": 0}
    assert counts["already_escalated"] == 1


def test_escalation_event_set_is_configurable(tables):
    tables["cp_plans"] = tables["cp_plans"].iloc[0:0]
    outcome = {**ESCALATION, "events": ["section47"], "prediction_offset_days": 1}
    cohort, _ = bc.build_cohort("esc", outcome, tables, 18, pd.Timestamp("2020-01-01"))
    assert labels(cohort)["r2"] == 1


def test_data_end_defaults_to_latest_referral(tables):
    assert bc.data_end(tables["referrals"], None) == pd.Timestamp("2018-06-01")
    assert bc.data_end(tables["referrals"], "2019-03-31") == pd.Timestamp("2019-03-31")


def test_assessment_authorisation_prediction_point(tables):
    outcome = {**ESCALATION, "prediction_point": "assessment_authorisation"}
    cohort, counts = bc.build_cohort("esc", outcome, tables, 18, pd.Timestamp("2020-01-01"))
    points = cohort.set_index("referral_id")["prediction_time"]
    # r1's assessment is authorised on 2016-01-15; r3 has none.
    assert points["r1"] == pd.Timestamp("2016-01-29")
    assert "r3" not in points.index
    assert counts["no_prediction_point"] == 1
    # r2's is authorised on 2016-08-01: its plan (2016-07-01 to 2017-01-01) is
    # ongoing at the point 2016-08-15, so it is excluded as already escalated.
    assert "r2" not in points.index
    assert counts["already_escalated"] == 1


def test_only_open_cases_drops_referrals_closed_before_the_point(tables):
    outcome = {**ESCALATION, "only_open_cases": True}
    cohort, counts = bc.build_cohort("esc", outcome, tables, 18, pd.Timestamp("2020-01-01"))
    # r1 closed on 2016-01-20, before its point 2016-01-24.
    assert "r1" not in set(cohort["referral_id"])
    assert counts["closed_before_prediction_point"] == 1


def test_custom_rule_over_canonical_events(tables):
    end = pd.Timestamp("2020-01-01")
    conference = {
        **ESCALATION,
        "type": "custom",
        "rule": {"all_of": ["initial_conference"]},
        "prediction_offset_days": 1,
    }
    cohort, _ = bc.build_cohort("icpc", conference, tables, 18, end)
    # r2's initial conference (2016-06-20) follows its point (2016-06-02).
    assert labels(cohort) == {"r1": 0, "r2": 1, "r3": 0}
    without_plan = {**conference, "rule": {"any_of": ["section47"], "none_of": ["cp_plan"]}}
    cohort, _ = bc.build_cohort("s47_no_plan", without_plan, tables, 18, end)
    assert labels(cohort)["r2"] == 0
    rereferred = {
        **conference,
        "rule": {"all_of": ["nfa_closure", "referral"]},
        "horizon_months": 6,
    }
    cohort, _ = bc.build_cohort("nfa", rereferred, tables, 18, end)
    assert labels(cohort)["r1"] == 1
    with pytest.raises(InputError, match="all_of or any_of"):
        bc.build_cohort("empty", {**conference, "rule": {"none_of": ["cp_plan"]}}, tables, 18, end)


def test_a_data_end_taken_from_the_latest_referral_is_logged_to_the_month():
    # the configured date is the analyst's; the latest referral's exact day can
    # point at one child
    counts = {"referrals": 1, "kept": 1, "positives": 0}
    line = bc.describe_counts(pd.Timestamp("2020-03-17"), False, counts)
    assert line.startswith("data end 2020-03 (the latest referral's month); referrals 1")
    assert "2020-03-17" not in line


def test_a_cohort_with_nothing_to_learn_stops_after_its_counts_are_logged():
    counts = {"referrals": 1, "censored": 1, "kept": 0, "positives": 0}
    line = bc.describe_counts(pd.Timestamp("2020-03-31"), True, counts)
    assert line == (
        "data end 2020-03-31; referrals 1, censored 1, kept 0, positives 0; base rate undefined"
    )
    with pytest.raises(InputError, match="'esc' has 0 positive case.*counts logged"):
        bc.check_both_classes("esc", counts)
    with pytest.raises(InputError, match="20 positive case.s. among 20"):
        bc.check_both_classes("esc", counts | {"kept": 20, "positives": 20})
    bc.check_both_classes("esc", counts | {"kept": 20, "positives": 3})


@pytest.mark.parametrize(
    "change", [{"events": ["court_order"]}, {"prediction_point": "contact"}, {"type": "court"}]
)
def test_the_config_schema_refuses_an_outcome_build_cohort_does_not_know(change):
    # build_cohort trusts its outcome: the workflow validates the config first,
    # naming the key (tests/test_config_schema.py).
    schema = yaml.safe_load((ROOT / "workflow" / "schemas" / "config.schema.yaml").read_text())
    config = yaml.safe_load((ROOT / "config" / "config.yaml").read_text())
    config["outcomes"]["escalation"].update(change)
    validator = jsonschema.Draft202012Validator(schema)
    assert validator.is_valid(yaml.safe_load((ROOT / "config" / "config.yaml").read_text()))
    errors = list(validator.iter_errors(config))
    assert [list(e.absolute_path)[:3] for e in errors] == [
        ["outcomes", "escalation", next(iter(change))]
    ]


def test_every_event_the_schema_allows_is_built_and_worded(tables):
    # The events are listed in the schema, built here and worded in the report
    # (report_wording): a new event must reach all three.
    from report_wording import EVENTS_SINCE_REFERRAL, ONGOING_EVENTS

    schema = yaml.safe_load((ROOT / "workflow" / "schemas" / "config.schema.yaml").read_text())
    events = schema["definitions"]["event"]["enum"]
    assert set(events) == set(ONGOING_EVENTS) | set(EVENTS_SINCE_REFERRAL)
    for event in events:
        starts = bc.event_starts(tables, [event])
        assert (starts["has_duration"] == (event in ONGOING_EVENTS)).all(), event
