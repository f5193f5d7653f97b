"""Learning curve of one outcome x design's selected model: would more data help?

The selected model is refitted on nested family subsets of the outer training
rows and scored on the test rows; ``explain_selected_model`` describes how.
"""

from common import read_parquet, write_parquet
from explain_selected_model import selected_model_learning_curve
from train_models import read_design_inputs


def main(snakemake) -> None:
    """Read the training inputs and CV results; write the learning curve."""
    cohort, splits, features, topics = read_design_inputs(snakemake)
    params = snakemake.params
    curve = selected_model_learning_curve(
        cohort,
        splits,
        features,
        topics,
        read_parquet(snakemake.input.cv_results, "cv_results"),
        outcome=str(params.outcome),
        design=str(params.design),
        fractions=[float(f) for f in params.learning_curve_fractions],
        repeats=int(params.learning_curve_repeats),
        seed=int(params.seed),
        threads=int(snakemake.threads),
        balance=dict(params.balance),
    )
    write_parquet(curve, snakemake.output.learning_curve, "learning_curve")


if __name__ == "__main__":
    from common import run

    run(lambda: main(snakemake), snakemake.log[0])  # noqa: F821
