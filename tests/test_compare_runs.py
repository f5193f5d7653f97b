"""Tests for workflow/scripts/compare_runs.py and summarise_las.py."""

import types

import numpy as np
import pandas as pd
import pytest

from common import SCHEMAS, InputError, enforce_schema, read_parquet, write_parquet
from compare_runs import compare_summaries, read_earlier_summary
from render_report import deciding_design_note
from summarise_las import la_name, stack_summaries
from summarise_las import main as summarise_las_main


def summary(rows: list[tuple[str, str, str, float, str]]) -> pd.DataFrame:
    """A summary table with the given (outcome, design, model, AP, verdict) rows."""
    frame = pd.DataFrame(
        rows, columns=["outcome", "design", "model", "average_precision", "verdict"]
    )
    n = len(frame)
    return frame.assign(
        n_test=np.full(n, 300, dtype=np.int64),
        base_rate=0.1,
        roc_auc=0.7,
        precision=0.3,
        recall=0.4,
        cv_ap_mean=0.3,
        cv_ap_sd=0.05,
        cv_ap_lower_bound=0.25,
        success_threshold=0.65,
        baseline_average_precision=0.2,
        ap_ci_lower=frame["average_precision"] - 0.05,
        ap_ci_upper=frame["average_precision"] + 0.05,
        ap_minus_baseline_lower=frame["average_precision"] - 0.25,
        ap_minus_baseline_upper=frame["average_precision"] - 0.15,
        best_feature_average_precision=0.25,
        ap_minus_best_feature_lower=frame["average_precision"] - 0.3,
        ap_minus_best_feature_upper=frame["average_precision"] - 0.2,
        decides=frame["design"] == "time_text",
    )[SCHEMAS["summary"].names]


EARLIER = summary(
    [
        ("escalation", "time_text", "lightgbm", 0.30, "does not meet the bar"),
        ("escalation", "random_text", "lightgbm", 0.40, "does not meet the bar"),
    ]
)
CURRENT = summary(
    [
        ("escalation", "time_text", "logistic_regression", 0.66, "cannot tell"),
        ("nfa_rereferral", "time_text", "lightgbm", 0.10, "does not meet the bar"),
    ]
)


def test_changes_are_current_minus_earlier_with_status():
    deltas = compare_summaries(EARLIER, CURRENT)
    enforce_schema(deltas, "run_deltas")
    ap = deltas.loc[deltas["metric"] == "average_precision"].set_index(["outcome", "design"])
    row = ap.loc[("escalation", "time_text")]
    assert row["change"] == pytest.approx(0.36)
    assert (row["status"], row["earlier_model"], row["current_model"]) == (
        "both",
        "lightgbm",
        "logistic_regression",
    )
    assert row["current_verdict"] == "cannot tell"
    assert ap.loc[("escalation", "random_text"), "status"] == "dropped"
    assert np.isnan(ap.loc[("escalation", "random_text"), "current"])
    assert ap.loc[("nfa_rereferral", "time_text"), "status"] == "new"
    # deterministic: the same inputs in another row order give the same table
    again = compare_summaries(EARLIER.iloc[::-1], CURRENT.iloc[::-1])
    pd.testing.assert_frame_equal(deltas, again)
    assert deltas["metric"].iloc[0] == "average_precision"


def test_the_deciding_design_is_compared_and_derived_for_an_older_summary(tmp_path):
    # an earlier run with text, the current one with designs.text switched off
    current = summary(
        [
            ("escalation", "time_structured", "lightgbm", 0.7, "meets the bar"),
            ("escalation", "random_structured", "lightgbm", 0.7, "meets the bar"),
        ]
    ).assign(decides=lambda frame: frame["design"] == "time_structured")
    path = tmp_path / "old.parquet"
    # written before summaries recorded the deciding design
    EARLIER.drop(columns="decides").to_parquet(path)
    earlier = read_earlier_summary(str(path))
    assert earlier.set_index("design")["decides"].to_dict() == {
        "time_text": True,
        "random_text": False,
    }
    deltas = compare_summaries(earlier, current)
    enforce_schema(deltas, "run_deltas")
    ap = deltas.loc[deltas["metric"] == "average_precision"].set_index("design")
    assert ap.loc["time_text", "earlier_decides"] and pd.isna(
        ap.loc["time_text", "current_decides"]
    )
    assert ap.loc["time_structured", "current_decides"]
    note = deciding_design_note(deltas)
    assert "escalation: the design that decides the answer changed" in note
    assert "from time-ordered split, structured data and text in the earlier run" in note
    assert "to time-ordered split, structured data only in this one" in note
    assert deciding_design_note(compare_summaries(EARLIER, CURRENT)) == ""


def test_earlier_summary_must_hold_the_compared_columns(tmp_path):
    path = tmp_path / "old.parquet"
    EARLIER.drop(columns="roc_auc").to_parquet(path)
    with pytest.raises(InputError, match=r"lacks column\(s\) \['roc_auc'\]"):
        read_earlier_summary(str(path))
    (tmp_path / "text.parquet").write_text("not parquet")
    with pytest.raises(InputError, match="cannot read"):
        read_earlier_summary(str(tmp_path / "text.parquet"))


def test_cross_la_summary_has_one_row_per_la_outcome_design(tmp_path):
    write_parquet(CURRENT, tmp_path / "la2" / "summary.parquet", "summary")
    # la1 was run before summaries recorded the deciding design
    (tmp_path / "la1").mkdir()
    EARLIER.drop(columns="decides").to_parquet(tmp_path / "la1" / "summary.parquet")
    job = types.SimpleNamespace(
        input=types.SimpleNamespace(
            summaries=[
                str(tmp_path / "la2" / "summary.parquet"),
                str(tmp_path / "la1" / "summary.parquet"),
            ]
        ),
        output=types.SimpleNamespace(
            summary=str(tmp_path / "cross" / "summary.parquet"),
            summary_csv=str(tmp_path / "cross" / "summary.csv"),
        ),
        params=types.SimpleNamespace(disclosure_min_count=10),
    )
    (tmp_path / "cross").mkdir()
    summarise_las_main(job)
    table = read_parquet(job.output.summary, "cross_la_summary")
    assert list(zip(table["la"], table["outcome"], table["design"], strict=True)) == [
        ("la1", "escalation", "random_text"),
        ("la1", "escalation", "time_text"),
        ("la2", "escalation", "time_text"),
        ("la2", "nfa_rereferral", "time_text"),
    ]
    assert table["decides"].tolist() == [False, True, True, True]
    shared = pd.read_csv(tmp_path / "cross" / "summary.csv")
    assert list(shared.columns[:3]) == ["la", "outcome", "design"]
    # the CSV copy goes beyond the LAs: it hides what their reports hide
    assert shared["precision"].tolist() == [0.3] * 4 and shared["n_test"].tolist() == [300] * 4
    few = CURRENT.assign(n_test=40)  # 4 of the 40 test cases with the outcome
    write_parquet(few, tmp_path / "la2" / "summary.parquet", "summary")
    summarise_las_main(job)
    shared = pd.read_csv(tmp_path / "cross" / "summary.csv").set_index("la")
    assert set(shared.loc["la2", "precision"]) == set(shared.loc["la2", "base_rate"])
    assert set(shared.loc["la2", "precision"]) == {"suppressed"}
    # the Parquet keeps every figure
    table = read_parquet(job.output.summary, "cross_la_summary")
    assert table.loc[table["la"] == "la2", "n_test"].tolist() == [40, 40]
    assert la_name("results/la7/summary.parquet") == "la7"
    assert len(stack_summaries({"a": EARLIER, "b": EARLIER})) == 4
    job.input.summaries.append(str(tmp_path / "la1" / "summary.parquet"))
    with pytest.raises(InputError, match="named 'la1'"):
        summarise_las_main(job)
