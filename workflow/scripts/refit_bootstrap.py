"""Optional refit bootstrap of one outcome x design's selected model.

The verdict's interval comes from resampling the test rows with the fitted
model held fixed: it shows how much the test AP would move on other test
cases, not how much it would move had the model been trained on other cases.
The 2020 study refitted its models on bootstrap resamples of the training set;
this step does the same when ``evaluation.refit_bootstrap_resamples`` is above
0 (off by default: it costs one model fit per resample).

Each resample draws as many families as the training rows hold, with
replacement, with ``np.random.default_rng([seed, resample])``, and takes all of
each drawn family's rows as often as the family is drawn, so siblings stay
together. The selected model, with the hyperparameters training chose (not
retuned), is refitted on those rows and scores the unchanged test rows. A
resample holding one class only cannot be fitted; its AP is missing. The
logged interval is the bias-corrected percentile interval of the valid
resamples' test APs (``evaluate_models.bias_corrected_interval``, as for the
verdict) about the test AP of the model training refitted on all the training
rows, read from training's test predictions rather than fitted again: with few
positive cases AP is biased upwards and plain percentiles inherit the bias.
"""

import logging

import numpy as np
import pandas as pd
from sklearn.metrics import average_precision_score

from common import SCHEMAS, family_numbers, read_parquet, write_parquet
from evaluate_models import bias_corrected_interval, bootstrap_counts
from explain_selected_model import outer_split, selected_model
from train_models import fit_model, read_design_inputs

logger = logging.getLogger(__name__)


def family_resample(numbers: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Return row positions of a bootstrap resample of whole families (each
    row's family number, ``common.family_numbers``): as many families as there
    are, drawn with replacement, each with all its rows, as often as it is
    drawn (the evaluation's cluster bootstrap, ``bootstrap_counts``, drawn once)."""
    counts = next(bootstrap_counts(len(numbers), 1, rng, groups=numbers))[0]
    return np.repeat(np.arange(len(numbers)), counts)


def refit_bootstrap(
    name: str,
    params: dict,
    families: pd.Series,
    labels: pd.Series,
    X_train: pd.DataFrame,
    X_test: np.ndarray,
    y_test: np.ndarray,
    resamples: int,
    seed: int,
    threads: int = 1,
    balance: dict | None = None,
) -> pd.DataFrame:
    """Return one row per resample: training rows and positives used and the
    refitted model's test AP (classes balanced as training did, ``balance``)."""
    matrix = X_train.to_numpy()
    y_train = labels.to_numpy()
    numbers = family_numbers(families.to_numpy(), np.column_stack([matrix, y_train]))
    rows = []
    for resample in range(int(resamples)):
        positions = family_resample(numbers, np.random.default_rng([seed, resample]))
        y_fit = y_train[positions]
        test_ap = np.nan
        if len(np.unique(y_fit)) == 2:
            model = fit_model(name, params, matrix[positions], y_fit, balance or {}, seed, threads)
            test_ap = float(average_precision_score(y_test, model.predict_proba(X_test)[:, 1]))
        rows.append(
            {
                "resample": resample,
                "n_train": len(positions),
                "n_train_positive": int(y_fit.sum()),
                "test_average_precision": test_ap,
            }
        )
    return pd.DataFrame(rows).astype(
        {"resample": np.int32, "n_train": np.int64, "n_train_positive": np.int64}
    )


def selected_test_average_precision(predictions: pd.DataFrame, model: str) -> float:
    """Return the test AP of ``model`` in training's test ``predictions``: that
    of the model refitted on all the training rows."""
    rows = predictions.loc[predictions["model"] == model]
    if rows.empty:
        raise ValueError(f"predictions: no test scores of the selected model {model}.")
    return float(average_precision_score(rows["label"], rows["score"]))


def refit_interval(test_average_precision: pd.Series, observed: float) -> tuple[float, float]:
    """Return the bias-corrected 95% interval of the resamples' test APs
    (missing ones left out) about ``observed``, the test AP of the model
    refitted on all the training rows."""
    lower, upper = bias_corrected_interval(test_average_precision.to_numpy(), observed)
    return float(lower[0]), float(upper[0])


def main(snakemake) -> None:
    """Refit the selected model on bootstrap resamples; write their test APs."""
    cohort, splits, features, topics = read_design_inputs(snakemake)
    params = snakemake.params
    name, hyperparameters = selected_model(read_parquet(snakemake.input.cv_results, "cv_results"))
    data = outer_split(cohort, splits, features, topics, str(params.design))
    table = refit_bootstrap(
        name,
        hyperparameters,
        data.families,
        data.labels,
        data.X_train,
        data.X_test,
        data.y_test,
        int(params.resamples),
        int(params.seed),
        int(snakemake.threads),
        dict(params.balance),
    )
    table = table.assign(outcome=str(params.outcome), design=str(params.design), model=name)
    write_parquet(
        table[SCHEMAS["refit_bootstrap"].names], snakemake.output.resamples, "refit_bootstrap"
    )
    valid = table["test_average_precision"].dropna()
    if len(valid):
        observed = selected_test_average_precision(
            read_parquet(snakemake.input.predictions, "predictions"), name
        )
        low, high = refit_interval(valid, observed)
        logger.info(
            "%s / %s / %s: test AP %.3f, refit bootstrap 95%% interval %.3f to %.3f "
            "(bias-corrected; %d of %d resamples)",
            params.outcome,
            params.design,
            name,
            observed,
            low,
            high,
            len(valid),
            len(table),
        )


if __name__ == "__main__":
    from common import run

    run(lambda: main(snakemake), snakemake.log[0])  # noqa: F821
