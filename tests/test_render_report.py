"""Tests for the report sections of workflow/scripts/render_report.py."""

import numpy as np
import pandas as pd
from test_compare_runs import CURRENT, EARLIER

from compare_runs import compare_summaries
from render_report import (
    audit_table,
    deltas_section,
    fold_table,
    group_calibration_section,
    learning_curve_table,
    split_picture,
    table_html,
)


def test_missing_numbers_show_as_a_dash():
    assert "<td>-</td>" in table_html(pd.DataFrame({"a": [np.nan]}))


def test_deltas_section_shows_each_designs_change_and_status():
    section = deltas_section(compare_summaries(EARLIER, CURRENT), "archive/old.parquet")
    assert "archive/old.parquet" in section
    assert "<td>0.300</td><td>0.660</td><td>0.360</td>" in section
    assert "dropped" in section and "new" in section
    assert "Logistic regression" in section
    assert "The bar changed" not in section


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
    assert table["would more data help?"].iloc[0].startswith("probably:")


def test_group_calibration_section_lists_every_group(tmp_path):
    groups = pd.DataFrame(
        {
            "attribute": ["sex", "sex"],
            "group": ["female", "male"],
            "n": [120, 15],
            "small_group": [False, True],
            "mean_score": [0.2, 0.3],
            "base_rate": [0.1, 0.2],
            "base_rate_lower": [0.05, 0.07],
            "base_rate_upper": [0.17, 0.45],
            "calibration_gap": [0.1, 0.1],
        }
    )
    section = group_calibration_section(groups, "model", "x", tmp_path)
    assert (tmp_path / "group_calibration_x.png").stat().st_size > 1000
    assert "0.070 to 0.450" in section
    assert group_calibration_section(groups.iloc[:0], "model", "x", tmp_path) == ""


def audit_frame() -> pd.DataFrame:
    return pd.DataFrame(
        {
            "check": ["records before the prediction point"] + ["single-feature ROC AUC"] * 8,
            "subject": ["structured features", "leak", *[f"f{i}" for i in range(7)]],
            "value": [0.0, 0.97, 0.8, 0.7, 0.66, 0.65, 0.6, 0.55, 0.5],
            "threshold": [0.0] + [0.9] * 8,
            "flagged": [False, True] + [False] * 7,
            "detail": ["ok", "implausible", *["plausible"] * 7],
        }
    )


def test_audit_table_shows_checks_flags_and_strongest_features_once():
    shown = audit_table(audit_frame(), top=3)
    assert shown["subject"].tolist() == ["structured features", "leak", "f0", "f1"]
    assert shown["flagged"].tolist() == ["ok", "FLAGGED", "ok", "ok"]


def test_fold_table_and_picture_cover_every_fold():
    diagnostics = pd.DataFrame(
        {
            "fold": pd.Series([-1, -1, 0, 0], dtype="int16"),
            "role": ["test", "train", "fit", "validate"],
            "rows": [10, 20, 12, 8],
            "positives": [1, 2, 1, 1],
            "base_rate": [0.1, 0.1, 1 / 12, 0.125],
            "first_prediction_time": pd.to_datetime(
                ["2020-01-01", "2018-01-01", "2018-01-01", "2019-01-01"]
            ),
            "last_prediction_time": pd.to_datetime(
                ["2020-12-31", "2019-12-31", "2018-12-31", "2019-12-31"]
            ),
            "shared_families": [0, 0, 0, 0],
        }
    )
    table = fold_table(diagnostics)
    assert table["fold"].tolist() == ["outer", "outer", "inner 0", "inner 0"]
    assert table["from"].iloc[0] == "2020-01-01"
    figure = split_picture(diagnostics, "t")
    assert [t.get_text() for t in figure.axes[0].get_yticklabels()] == ["outer", "inner 0"]
    assert len(figure.axes[0].patches) == 4
