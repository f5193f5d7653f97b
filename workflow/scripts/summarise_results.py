"""Collect every outcome and design's test metrics into the LA's summary.

The summary has one row per outcome x design: the model chosen by the study's
rule (highest lower bound of cross-validated average precision), its test
metrics and verdict against the pre-specified bar, beside the average
precision of the two baselines (ranking by number of previous referrals, and
by the single feature best on the training rows) and the paired intervals of
the model's AP less each, and whether the design is the one whose verdict answers the outcome
(``decides``: ``report_wording.answer_design`` of the designs run), so that a
summary says which design decided even read apart from its run's config.
"""

import logging

import pandas as pd

from common import read_parquet, write_parquet
from report_wording import Disclosure, answer_design, shareable_summary

logger = logging.getLogger(__name__)

# Each baseline's test AP, as the summary names it.
BASELINE_APS = {
    "previous_referrals": "baseline_average_precision",
    "best_single_feature": "best_feature_average_precision",
}


def summarise(metrics: pd.DataFrame, details: pd.DataFrame, deciding_design: str) -> pd.DataFrame:
    """One row per outcome x design with the selected model, its bootstrap
    interval and verdict, each baseline's AP and the interval of the model's AP
    less it, and whether it is the ``deciding_design``."""
    selected = metrics.loc[metrics["selected"]].drop(columns="selected")
    selected = selected.merge(
        details[
            [
                "outcome",
                "design",
                "model",
                "ap_ci_lower",
                "ap_ci_upper",
                "verdict",
                "ap_minus_baseline_lower",
                "ap_minus_baseline_upper",
                "ap_minus_best_feature_lower",
                "ap_minus_best_feature_upper",
            ]
        ],
        on=["outcome", "design", "model"],
        how="left",
        validate="one_to_one",
    )
    summary = selected
    for model, column in BASELINE_APS.items():
        baseline = metrics.loc[
            metrics["model"] == model, ["outcome", "design", "average_precision"]
        ]
        summary = summary.merge(
            baseline.rename(columns={"average_precision": column}),
            on=["outcome", "design"],
            how="left",
            validate="one_to_one",
        )
    summary["decides"] = summary["design"] == deciding_design
    return summary.sort_values(["outcome", "design"], kind="stable").reset_index(drop=True)


def main(snakemake) -> None:
    """Write the summary (Parquet, and its shareable CSV copy) and every model's metrics."""
    metrics = pd.concat(
        [read_parquet(path, "metrics") for path in snakemake.input.metrics], ignore_index=True
    ).sort_values(["outcome", "design", "model"], kind="stable")
    write_parquet(metrics, snakemake.output.all_models, "metrics")
    details = pd.concat(
        [read_parquet(path, "details") for path in snakemake.input.details],
        ignore_index=True,
    )
    summary = summarise(metrics, details, answer_design(snakemake.params.feature_sets))
    write_parquet(summary, snakemake.output.summary, "summary")
    # Snakemake's report shows the CSV copy: it hides what the HTML report hides.
    shareable_summary(summary, Disclosure(int(snakemake.params.disclosure_min_count))).to_csv(
        snakemake.output.summary_csv, index=False, lineterminator="\n", float_format="%.4f"
    )
    for row in summary.itertuples():
        logger.info(
            "%s / %s: %s AP %.3f (95%% CI %.3f-%.3f: %s; baseline %.3f, base rate %.3f)",
            row.outcome,
            row.design,
            row.model,
            row.average_precision,
            row.ap_ci_lower,
            row.ap_ci_upper,
            row.verdict,
            row.baseline_average_precision,
            row.base_rate,
        )


if __name__ == "__main__":
    from common import run

    run(lambda: main(snakemake), snakemake.log[0])  # noqa: F821
