"""Compare this run's summary with an earlier run's: what changed, per outcome x design.

The earlier run is named explicitly in the config (``evaluation.compare_with``:
the path of a copy of an earlier ``summary.parquet``), so the comparison is
deterministic: the same two summaries always give the same table. One row per
outcome x design x metric (``COMPARED_METRICS``) with the earlier and current
values and their change (current - earlier), and each run's selected model,
verdict and whether the design decides its outcome's answer (an earlier summary
written before summaries recorded it gets it from the designs it holds,
``report_wording.answer_design``). A design in only one run keeps its row
with the other run's value, model and verdict missing, and ``status`` "new"
or "dropped" (else "both").
"""

import logging

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from common import InputError, read_parquet, write_parquet
from report_wording import answer_design

logger = logging.getLogger(__name__)

KEY = ["outcome", "design"]
COMPARED_METRICS = (
    "average_precision",
    "ap_ci_lower",
    "ap_ci_upper",
    "roc_auc",
    "cv_ap_lower_bound",
    "baseline_average_precision",
    "base_rate",
    "n_test",
    "success_threshold",
)
LABELS = ["model", "verdict", "decides"]


def deciding_rows(designs: pd.Series) -> pd.Series:
    """Whether each design decides its outcome's answer, as the run that made
    ``designs`` chose it: with a text design among them, the time-ordered one
    with text, else the time-ordered structured one (``answer_design``)."""
    feature_sets = sorted({design.split("_", 1)[1] for design in designs})
    return designs == answer_design(feature_sets)


def read_earlier_summary(path: str) -> pd.DataFrame:
    """Read the columns the comparison needs from an earlier summary; raise
    ``InputError`` naming the file and the missing columns."""
    try:
        table = pq.read_table(path)
    except (OSError, pa.ArrowInvalid) as error:
        raise InputError(
            f"evaluation.compare_with: cannot read {path} as Parquet ({error}); point it at "
            "a copy of an earlier run's summary.parquet."
        ) from error
    needed = KEY + LABELS + list(COMPARED_METRICS)
    # Summaries written before "decides" was recorded lack it: it is derived.
    missing = [c for c in needed if c not in table.column_names and c != "decides"]
    if missing:
        raise InputError(
            f"evaluation.compare_with: {path} lacks column(s) {missing}; it must be a "
            "summary.parquet written by this workflow."
        )
    frame = table.select([c for c in needed if c in table.column_names]).to_pandas()
    if "decides" not in frame.columns:
        frame["decides"] = deciding_rows(frame["design"])
    if frame.duplicated(KEY).any():
        raise InputError(
            f"evaluation.compare_with: {path} repeats an outcome x design; it must be a "
            "summary.parquet written by this workflow."
        )
    return frame


def compare_summaries(earlier: pd.DataFrame, current: pd.DataFrame) -> pd.DataFrame:
    """Return the long table of changes between two summaries."""
    columns = KEY + LABELS + list(COMPARED_METRICS)
    merged = earlier[columns].merge(
        current[columns], on=KEY, how="outer", suffixes=("_earlier", "_current"), indicator=True
    )
    merged["status"] = merged["_merge"].map(
        {"both": "both", "left_only": "dropped", "right_only": "new"}
    )
    frames = []
    for metric in COMPARED_METRICS:
        before = merged[f"{metric}_earlier"].astype(np.float64)
        after = merged[f"{metric}_current"].astype(np.float64)
        frames.append(
            pd.DataFrame(
                {
                    "outcome": merged["outcome"],
                    "design": merged["design"],
                    "status": merged["status"].astype(str),
                    "metric": metric,
                    "earlier": before,
                    "current": after,
                    "change": after - before,
                    "earlier_model": merged["model_earlier"],
                    "current_model": merged["model_current"],
                    "earlier_verdict": merged["verdict_earlier"],
                    "current_verdict": merged["verdict_current"],
                    "earlier_decides": merged["decides_earlier"].astype("boolean"),
                    "current_decides": merged["decides_current"].astype("boolean"),
                }
            )
        )
    # Frames are in metric order, so a stable sort keeps it within each design.
    deltas = pd.concat(frames, ignore_index=True)
    return deltas.sort_values(KEY, kind="stable").reset_index(drop=True)


def main(snakemake) -> None:
    """Compare the configured earlier summary with this run's; write the changes."""
    earlier = read_earlier_summary(snakemake.input.earlier)
    current = read_parquet(snakemake.input.summary, "summary")
    deltas = compare_summaries(earlier, current)
    write_parquet(deltas, snakemake.output.deltas, "run_deltas")
    ap = deltas.loc[deltas["metric"] == "average_precision"]
    for row in ap.itertuples():
        logger.info(
            "%s / %s (%s): test AP %.3f -> %.3f (%+.3f)",
            row.outcome,
            row.design,
            row.status,
            row.earlier,
            row.current,
            row.change,
        )


if __name__ == "__main__":
    from common import run

    run(lambda: main(snakemake), snakemake.log[0])  # noqa: F821
