"""Accumulated local effects (ALE) of one outcome x design's selected model.

The selected model, fitted on all outer training rows, and its most important
features' ALE curves; ``explain_selected_model`` describes how.
"""

from common import read_parquet, write_parquet
from explain_selected_model import selected_model_effects
from train_models import read_design_inputs


def main(snakemake) -> None:
    """Read the training inputs, CV results and importance; write the ALE."""
    cohort, splits, features, topics = read_design_inputs(snakemake)
    params = snakemake.params
    effects = selected_model_effects(
        cohort,
        splits,
        features,
        topics,
        read_parquet(snakemake.input.cv_results, "cv_results"),
        read_parquet(snakemake.input.importance, "importance"),
        outcome=str(params.outcome),
        design=str(params.design),
        n_features=int(params.ale_features),
        n_bins=int(params.ale_bins),
        seed=int(params.seed),
        threads=int(snakemake.threads),
        balance=dict(params.balance),
    )
    write_parquet(effects, snakemake.output.effects, "accumulated_local_effects")


if __name__ == "__main__":
    from common import run

    run(lambda: main(snakemake), snakemake.log[0])  # noqa: F821
