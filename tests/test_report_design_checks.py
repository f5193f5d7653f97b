"""The report's design checks: the leakage audit and the split diagnostics."""

import pandas as pd

from render_report import audit_table, fold_table, split_picture


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
