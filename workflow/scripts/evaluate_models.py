"""Score each model's test predictions for one outcome x design.

One row per model: the test-set average precision (AP, the study's headline
metric), ROC AUC, precision and recall at the decision threshold (a row is
flagged when its score is at least the threshold; no flags give precision 0),
the test size and base rate, and the inner-CV AP of the model's selected
candidate (mean, sd with ddof=1, and the lower bound mean - 1.96 sd / sqrt(k)).

``selected`` follows the study's rule: among the fitted models (never the
"previous_referrals" baseline), the one whose selected candidate has the
highest CV lower bound; ties go to the first model name in alphabetical order.
The choice never looks at the test set. ``meets_threshold`` compares the test
AP with the success threshold set in advance (0.65 in the study).
"""

import logging

import numpy as np
import pandas as pd
from sklearn.metrics import average_precision_score, precision_score, recall_score, roc_auc_score
from train_models import BASELINE, lower_bound

from common import InputError, read_parquet, write_parquet

logger = logging.getLogger(__name__)

BASELINES = frozenset({BASELINE})


def holdout_metrics(labels: np.ndarray, scores: np.ndarray, decision_threshold: float) -> dict:
    """Return n_test, base_rate, average_precision, roc_auc, precision and recall
    (at ``scores >= decision_threshold``) of one model's test predictions."""
    labels = np.asarray(labels, dtype=int)
    scores = np.asarray(scores, dtype=float)
    flagged = (scores >= decision_threshold).astype(int)
    return {
        "n_test": len(labels),
        "base_rate": float(labels.mean()),
        "average_precision": float(average_precision_score(labels, scores)),
        "roc_auc": float(roc_auc_score(labels, scores)),
        "precision": float(precision_score(labels, flagged, zero_division=0)),
        "recall": float(recall_score(labels, flagged, zero_division=0)),
    }


def cv_summary(cv_results: pd.DataFrame) -> pd.DataFrame:
    """Return, per model, the mean, sd (ddof=1) and lower bound of the CV AP of
    its selected candidate, indexed by model."""
    chosen = cv_results[cv_results["selected"]]
    candidates = chosen.groupby("model")["candidate"].nunique()
    if (candidates != 1).any():
        raise ValueError(
            f"cv_results: models {sorted(candidates[candidates != 1].index)} do not have "
            "exactly one selected candidate."
        )
    grouped = chosen.groupby("model", sort=True)["average_precision"]
    return pd.DataFrame(
        {
            "cv_ap_mean": grouped.mean(),
            "cv_ap_sd": grouped.std(ddof=1),
            "cv_ap_lower_bound": grouped.apply(lower_bound),
        }
    )


def select_model(summary: pd.DataFrame) -> str:
    """Return the non-baseline model with the highest CV lower bound (ties: the
    first name alphabetically)."""
    fitted = summary[~summary.index.isin(BASELINES)]
    if fitted.empty:
        raise ValueError("cv_results hold no fitted model, only baselines.")
    ranked = fitted.reset_index().sort_values(
        ["cv_ap_lower_bound", "model"], ascending=[False, True], kind="stable"
    )
    return str(ranked["model"].iloc[0])


def check_test_set(predictions: pd.DataFrame, outcome: str, design: str) -> None:
    """Check every model scored the same test rows, and both classes occur."""
    if predictions.empty:
        raise ValueError(f"{outcome} / {design}: the predictions are empty.")
    if predictions[["model", "referral_id"]].duplicated().any():
        raise ValueError(f"{outcome} / {design}: a model scored a referral twice.")
    reference = None
    for model, group in predictions.groupby("model", sort=True):
        rows = group.sort_values("referral_id")[["referral_id", "label"]].reset_index(drop=True)
        if reference is None:
            reference = rows
        elif not rows.equals(reference):
            raise ValueError(
                f"{outcome} / {design}: model {model} scored other test rows or labels "
                "than the others; the models cannot be compared."
            )
    n_pos = int(reference["label"].sum())
    n_rows = len(reference)
    if n_pos in (0, n_rows):
        raise InputError(
            f"{outcome} / {design}: the test set's {n_rows} referrals are all "
            f"{'positive' if n_pos else 'negative'}, so average precision and ROC AUC "
            "are undefined. The LA has too few (or too many) cases of this outcome for a "
            "held-out test: use a longer extract or change the design's test_fraction."
        )
    scores = predictions["score"]
    if scores.isna().any() or not np.isfinite(scores).all():
        raise ValueError(f"{outcome} / {design}: some scores are missing or infinite.")


def evaluate(
    predictions: pd.DataFrame,
    cv_results: pd.DataFrame,
    outcome: str,
    design: str,
    success_threshold: float = 0.65,
    decision_threshold: float = 0.5,
) -> pd.DataFrame:
    """Return the metrics table (schema "metrics"), one row per model."""
    check_test_set(predictions, outcome, design)
    summary = cv_summary(cv_results)
    missing = sorted(set(predictions["model"]) - set(summary.index))
    if missing:
        raise ValueError(f"{outcome} / {design}: models {missing} have no selected CV rows.")
    winner = select_model(summary.loc[sorted(set(predictions["model"]))])
    rows = []
    for model, group in predictions.groupby("model", sort=True):
        row = {"outcome": outcome, "design": design, "model": model, "selected": model == winner}
        row |= holdout_metrics(
            group["label"].to_numpy(), group["score"].to_numpy(), decision_threshold
        )
        row |= summary.loc[model].to_dict()
        row["success_threshold"] = float(success_threshold)
        row["meets_threshold"] = bool(row["average_precision"] >= success_threshold)
        rows.append(row)
        logger.info(
            "%s / %s / %s: test AP %.3f (base rate %.3f), ROC AUC %.3f, CV AP %.3f +- %.3f%s",
            outcome,
            design,
            model,
            row["average_precision"],
            row["base_rate"],
            row["roc_auc"],
            row["cv_ap_mean"],
            row["cv_ap_sd"],
            " (selected)" if row["selected"] else "",
        )
    metrics = pd.DataFrame(rows)
    return metrics.astype({"n_test": np.int64, "selected": bool, "meets_threshold": bool})


def main(snakemake) -> None:
    """Read predictions and CV results, evaluate, and write the metrics."""
    predictions = read_parquet(snakemake.input.predictions, "predictions")
    cv_results = read_parquet(snakemake.input.cv_results, "cv_results")
    params = snakemake.params
    metrics = evaluate(
        predictions,
        cv_results,
        outcome=str(params.outcome),
        design=str(params.design),
        success_threshold=float(getattr(params, "success_threshold", 0.65)),
        decision_threshold=float(getattr(params, "decision_threshold", 0.5)),
    )
    write_parquet(metrics, snakemake.output.metrics, "metrics")


if __name__ == "__main__":
    from common import run

    run(lambda: main(snakemake), snakemake.log[0])  # noqa: F821
