"""Learning curve and accumulated local effects of one outcome x design's selected model.

The functions of rules ``learning_curve`` and ``accumulated_local_effects``
(whose scripts, ``learning_curve.py`` and ``accumulated_local_effects.py``, are
thin). They are two jobs so that a setting only one of them reads (such as
``evaluation.ale_bins``) does not rerun the other's refits.

The selected model (chosen from the CV results by the study's rule, as
``evaluate_models.selected_model_name`` applies it, without looking at the test
set) keeps the hyperparameters training chose (its ``selected`` candidate in
the CV results); nothing is tuned here.

Learning curve ("would more data help?"): the model is refitted on nested
fractions of the outer training rows and scored by average precision (AP) on
the held-out test rows and on the rows it was fitted on. Fractions are drawn
by family, so siblings stay together: the training families are shuffled with
``np.random.default_rng([seed, repeat])`` and each fraction takes the shortest
prefix of that order holding at least ``fraction x`` the training rows, so a
smaller fraction's rows are always part of a larger one's. Each fraction below
1 is drawn ``repeats`` times; the whole training set once (its fit is the
model training refitted, so its test AP equals the reported one). A subset
holding one class only cannot be fitted: its APs are missing. The test rows
only score the curve; no choice depends on them.

Accumulated local effects (ALE, first order, as in the 2020 study) of the
``ale_features`` features ranked most important for the selected model
(permutation importance) that take at least two values in the training rows,
for the selected model fitted on all training rows (the same fit as the
learning curve's whole training set):
on the training rows (a fixed sample of ``ALE_MAX_ROWS`` drawn with ``seed`` if
there are more), the feature's values are cut at its quantiles into at most
``ale_bins`` intervals, the outermost edges at its 5th and 95th percentiles
(``ALE_OUTER_QUANTILE``) rather than its minimum and maximum, which are one
case's value and are shown in the shared report; rows beyond them count with the
outermost intervals. For the rows in each interval the change in predicted
probability between the interval's upper and lower edge (other features as
they are) is averaged, the averages are accumulated from the lowest edge, and
the curve is centred so that its mean over the rows is 0. A value of 0.05 at
an edge means that cases there score on average 5 percentage points above the
average case, other features held as they are. Unlike partial dependence, ALE
only evaluates the model near observed combinations of features, so
correlated features do not produce impossible cases. Rows missing the feature
are left out of its curve. The effects are descriptive; they do not show cause.
"""

import json
import logging
from typing import NamedTuple

import numpy as np
import pandas as pd
from sklearn.base import BaseEstimator
from sklearn.metrics import average_precision_score

from common import OUTER_FOLD, SCHEMAS, families_by_referral, family_numbers
from evaluate_models import selected_model_name
from train_models import (
    design_rows,
    feature_names,
    fit_model,
    parse_design,
    prepare_features,
    prepare_topics,
)

logger = logging.getLogger(__name__)

LEARNING_CURVE_FRACTIONS = (0.1, 0.25, 0.5, 0.75, 1.0)
LEARNING_CURVE_REPEATS = 3
ALE_FEATURES = 4
ALE_BINS = 10
# The outermost ALE edges: the shared report shows every edge, and a feature's
# minimum or maximum is one case's value.
ALE_OUTER_QUANTILE = 0.05
ALE_MAX_ROWS = 2000


# --- inputs -------------------------------------------------------------------


def selected_model(cv_results: pd.DataFrame) -> tuple[str, dict]:
    """Return the selected model's name and the hyperparameters of its selected
    candidate."""
    model = selected_model_name(cv_results)
    rows = cv_results.loc[cv_results["selected"] & (cv_results["model"] == model), "params"]
    if rows.nunique() != 1:
        raise ValueError(f"cv_results: model {model} has no single selected candidate.")
    return model, json.loads(rows.iloc[0])


def family_order(families: pd.Series, content: np.ndarray, seed: int, repeat: int) -> list[str]:
    """Return the distinct families of ``families`` in a seeded random order
    of the order their rows' values give them (``content``, one row per
    family member; ``common.family_numbers``), not of their ids."""
    numbers = pd.Series(family_numbers(families.to_numpy(), content), index=families.to_numpy())
    distinct = np.array(numbers[~numbers.index.duplicated()].sort_values().index, dtype=object)
    rng = np.random.default_rng([seed, repeat])
    return list(distinct[rng.permutation(len(distinct))])


def nested_subset(families: pd.Series, order: list[str], fraction: float) -> pd.Index:
    """Return the row ids (``families``' index, in its order) of the shortest
    prefix of family ``order`` holding at least ``fraction`` of the rows."""
    sizes = families.astype(str).value_counts().reindex(order).to_numpy()
    needed = int(np.ceil(round(fraction * len(families), 9)))
    taken = int(np.searchsorted(np.cumsum(sizes), max(needed, 1)) + 1)
    chosen = set(order[:taken])
    return families.index[families.astype(str).isin(chosen)]


def require_both_classes(labels: pd.Series) -> None:
    """Raise if the training ``labels`` hold one class only: no model can be
    fitted on them."""
    if labels.nunique() < 2:
        raise ValueError("the training rows hold one class only; no model can be fitted.")


# --- learning curve -----------------------------------------------------------


def learning_curve(
    name: str,
    params: dict,
    families: pd.Series,
    labels: pd.Series,
    X_train: pd.DataFrame,
    X_test: np.ndarray,
    y_test: np.ndarray,
    fractions: list[float],
    repeats: int,
    seed: int,
    threads: int = 1,
    balance: dict | None = None,
) -> pd.DataFrame:
    """Refit model ``name`` with ``params`` on nested family subsets of the
    training rows (``X_train`` indexed by referral id, ``families`` and
    ``labels`` likewise), balancing classes as training did (``balance``: the
    models config's class_balance and undersample_ratio), and score each on the
    test rows and on its own rows.

    Returns one row per fraction x repeat."""
    require_both_classes(labels)
    fractions = sorted({float(f) for f in fractions} | {1.0})
    rows = []
    content = np.column_stack([X_train.to_numpy(), labels.to_numpy()])
    for repeat in range(int(repeats)):
        order = family_order(families, content, seed, repeat)
        for fraction in fractions:
            if fraction >= 1.0 and repeat > 0:
                continue
            ids = nested_subset(families, order, fraction)
            y_fit = labels.loc[ids].to_numpy()
            row = {
                "fraction": fraction,
                "repeat": repeat,
                "n_train": len(ids),
                "n_train_positive": int(y_fit.sum()),
                "n_families": int(families.loc[ids].nunique()),
                "train_average_precision": np.nan,
                "test_average_precision": np.nan,
            }
            if len(np.unique(y_fit)) == 2:
                X_fit = X_train.loc[ids].to_numpy()
                model = fit_model(name, params, X_fit, y_fit, balance or {}, seed, threads)
                row["train_average_precision"] = float(
                    average_precision_score(y_fit, model.predict_proba(X_fit)[:, 1])
                )
                row["test_average_precision"] = float(
                    average_precision_score(y_test, model.predict_proba(X_test)[:, 1])
                )
            rows.append(row)
            logger.info(
                "%s: %.0f%% of training rows (repeat %d, %d rows): test AP %.3f",
                name,
                fraction * 100,
                repeat,
                row["n_train"],
                row["test_average_precision"],
            )
    curve = pd.DataFrame(rows).astype(
        {"repeat": np.int32, "n_train": np.int64, "n_train_positive": np.int64}
    )
    curve["n_families"] = curve["n_families"].astype(np.int64)
    return curve


# --- accumulated local effects ------------------------------------------------


def ale_edges(values: np.ndarray, n_bins: int) -> np.ndarray:
    """Return the distinct quantiles of ``values`` at 0, 1/n_bins, ..., 1, the
    outermost moved in to ``ALE_OUTER_QUANTILE`` and 1 - ``ALE_OUTER_QUANTILE``
    (so that no edge is the minimum or maximum, one case's value)."""
    levels = np.clip(
        np.linspace(0.0, 1.0, int(n_bins) + 1), ALE_OUTER_QUANTILE, 1.0 - ALE_OUTER_QUANTILE
    )
    return np.unique(np.quantile(values, levels))


def accumulated_local_effects(
    model: BaseEstimator, X: np.ndarray, column: int, n_bins: int = ALE_BINS
) -> pd.DataFrame:
    """Return the centred first-order ALE of column ``column`` of ``X`` on the
    predicted probability: one row per edge with its value, effect and the rows
    in the interval ending there (0 for the lowest edge). Rows missing the
    feature are left out, and rows beyond the outermost edges count with the
    outermost intervals; fewer than two distinct edges give no rows."""
    present = X[~np.isnan(X[:, column])]
    values = present[:, column]
    edges = ale_edges(values, n_bins) if len(values) else np.array([])
    if len(edges) < 2:
        return pd.DataFrame({"edge": [], "value": [], "effect": [], "n_rows": []})
    # Interval k (1..K) holds values in (edge[k-1], edge[k]]; the lowest edge
    # joins the first interval.
    interval = np.clip(np.searchsorted(edges, values, side="left"), 1, len(edges) - 1)
    lower = present.copy()
    upper = present.copy()
    lower[:, column] = edges[interval - 1]
    upper[:, column] = edges[interval]
    change = model.predict_proba(upper)[:, 1] - model.predict_proba(lower)[:, 1]
    counts = np.bincount(interval, minlength=len(edges))
    sums = np.bincount(interval, weights=change, minlength=len(edges))
    mean_change = np.divide(sums, counts, out=np.zeros(len(edges)), where=counts > 0)
    effect = np.cumsum(mean_change)
    # Centre: each interval's rows sit on average midway between its edges.
    midpoints = (effect[:-1] + effect[1:]) / 2
    effect = effect - float((midpoints * counts[1:]).sum() / counts[1:].sum())
    return pd.DataFrame(
        {
            "edge": np.arange(len(edges), dtype=np.int32),
            "value": edges.astype(np.float64),
            "effect": effect.astype(np.float64),
            "n_rows": counts.astype(np.int64),
        }
    )


def ale_features(importance: pd.DataFrame, model: str, X: pd.DataFrame, limit: int) -> list[str]:
    """Return the ``limit`` features ranked most important for ``model`` that
    take at least two distinct values in ``X``, in rank order."""
    ranked = importance.loc[importance["model"] == model].sort_values("rank", kind="stable")
    chosen = []
    for feature in ranked["feature"]:
        if feature in X.columns and X[feature].dropna().nunique() >= 2:
            chosen.append(str(feature))
        if len(chosen) == limit:
            break
    return chosen


def ale_table(
    model: BaseEstimator,
    X: pd.DataFrame,
    features: list[str],
    n_bins: int,
    seed: int,
    max_rows: int = ALE_MAX_ROWS,
) -> pd.DataFrame:
    """Return the ALE rows of each feature in ``features`` (with its rank) on a
    seeded sample of at most ``max_rows`` rows of ``X``."""
    matrix = X.to_numpy(dtype=np.float64)
    if len(matrix) > max_rows:
        rng = np.random.default_rng(seed)
        matrix = matrix[np.sort(rng.choice(len(matrix), size=max_rows, replace=False))]
    frames = []
    for rank, feature in enumerate(features, start=1):
        column = X.columns.get_loc(feature)
        effects = accumulated_local_effects(model, matrix, column, n_bins)
        frames.append(effects.assign(feature=feature, feature_rank=np.int32(rank)))
    if not frames:
        return pd.DataFrame(
            columns=["feature", "feature_rank", "edge", "value", "effect", "n_rows"]
        )
    return pd.concat(frames, ignore_index=True)


# --- one outcome x design -----------------------------------------------------


class TrainTest(NamedTuple):
    """The outer split of one design, ready for refitting the selected model."""

    families: pd.Series
    labels: pd.Series
    X_train: pd.DataFrame
    X_test: np.ndarray
    y_test: np.ndarray


def outer_split(
    cohort: pd.DataFrame,
    splits: pd.DataFrame,
    features: pd.DataFrame,
    topics: pd.DataFrame | None,
    design: str,
) -> TrainTest:
    """Return the training rows (families, labels and feature matrix indexed by
    referral id, in the order training fits them in) and the test rows, built
    exactly as training builds them for the final refit."""
    _, feature_set = parse_design(design)
    if feature_set == "structured":
        topics = None
    labels = cohort.set_index("referral_id")["label"].astype(np.int8)
    families = families_by_referral(cohort)
    feature_table = prepare_features(features, cohort)
    topic_table = prepare_topics(topics, feature_table) if topics is not None else None
    train_ids, X_train, y_train = design_rows(
        splits, OUTER_FOLD, "train", labels, feature_table, topic_table
    )
    _, X_test, y_test = design_rows(splits, OUTER_FOLD, "test", labels, feature_table, topic_table)
    return TrainTest(
        families.loc[train_ids],
        pd.Series(y_train, index=train_ids, name="label"),
        pd.DataFrame(X_train, index=train_ids, columns=feature_names(feature_table, topic_table)),
        X_test,
        y_test,
    )


def fit_selected_model(
    name: str,
    params: dict,
    data: TrainTest,
    seed: int,
    threads: int = 1,
    balance: dict | None = None,
) -> BaseEstimator:
    """Return model ``name`` with ``params`` fitted on all of ``data``'s
    training rows, classes balanced as training did (``balance``): the learning
    curve's fit on the whole training set."""
    require_both_classes(data.labels)
    return fit_model(
        name, params, data.X_train.to_numpy(), data.labels.to_numpy(), balance or {}, seed, threads
    )


def selected_model_learning_curve(
    cohort: pd.DataFrame,
    splits: pd.DataFrame,
    features: pd.DataFrame,
    topics: pd.DataFrame | None,
    cv_results: pd.DataFrame,
    outcome: str,
    design: str,
    fractions: list[float] = LEARNING_CURVE_FRACTIONS,
    repeats: int = LEARNING_CURVE_REPEATS,
    seed: int = 0,
    threads: int = 1,
    balance: dict | None = None,
) -> pd.DataFrame:
    """Return the learning curve of the selected model."""
    name, params = selected_model(cv_results)
    data = outer_split(cohort, splits, features, topics, design)
    curve = learning_curve(
        name,
        params,
        data.families,
        data.labels,
        data.X_train,
        data.X_test,
        data.y_test,
        fractions,
        repeats,
        seed,
        threads,
        balance,
    )
    curve = curve.assign(outcome=outcome, design=design, model=name)
    return curve[SCHEMAS["learning_curve"].names]


def selected_model_effects(
    cohort: pd.DataFrame,
    splits: pd.DataFrame,
    features: pd.DataFrame,
    topics: pd.DataFrame | None,
    cv_results: pd.DataFrame,
    importance: pd.DataFrame,
    outcome: str,
    design: str,
    n_features: int = ALE_FEATURES,
    n_bins: int = ALE_BINS,
    seed: int = 0,
    threads: int = 1,
    balance: dict | None = None,
) -> pd.DataFrame:
    """Return the ALE table of the selected model, fitted on all training rows."""
    name, params = selected_model(cv_results)
    data = outer_split(cohort, splits, features, topics, design)
    model = fit_selected_model(name, params, data, seed, threads, balance)
    chosen = ale_features(importance, name, data.X_train, n_features)
    effects = ale_table(model, data.X_train, chosen, n_bins, seed)
    effects = effects.assign(outcome=outcome, design=design, model=name)
    return effects[SCHEMAS["accumulated_local_effects"].names]
