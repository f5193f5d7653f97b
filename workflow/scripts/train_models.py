"""Tune, select and refit the models of one outcome x design; score the test rows.

For each model (LightGBM, a scaled logistic regression and a decision tree)
named in the models config, a random search
draws ``search_iterations`` candidates from the configured grid without
replacement, scores each on every inner fold's validate rows by average
precision (AP), and selects the candidate with the highest lower bound
``mean - 1.96 * sd / sqrt(k)`` (sd with ddof=1; ties go to the earlier draw),
as the 2020 study did. The selected candidate is refitted on all outer
training rows and scores the test rows. Two baselines, never selected, let
the report show whether the models beat a rule of thumb: "previous_referrals"
scores each row by its ``n_previous_referrals`` feature (missing counts as 0);
"best_single_feature" ranks the rows by the one feature of the design (a
structured feature or vulnerability flag, not a topic share), and direction,
that gives the highest AP on the rows it is chosen on: each inner fold's fit
rows for that fold, the outer training rows for the test rows
(``best_single_feature``). A model that cannot beat one feature picked on
the training rows adds nothing a one-line rule would not.

Class imbalance (``models.class_balance``) is handled on the rows a model is
fitted on, never on the rows it scores, which keep their real balance:
``weights`` reweights the classes (LightGBM ``is_unbalance``, balanced class
weights for the others); ``undersample`` keeps every positive fit row and a
seeded random ``undersample_ratio`` negatives per positive, without weights.
Missing values are native in LightGBM; the other models fill them with 0 and
add an indicator column per feature with missing values in the fit rows.

Leakage safety: every fitted object (column filter, indicators, scaler,
class weights, undersampling, trees) sees only the rows it is fitted on: the fit
rows of an inner fold, or the outer training rows for the final refit. No fit
reads a test label: they order the test rows (``design_rows``), are copied into
the predictions and score the permutation importance. For text designs the topic shares
of inner fold ``f`` come from the topic model fitted on that fold's fit rows
(``fold == f`` in the topics file), and those for the final refit and the test
rows from the model fitted on the outer training rows (``fold == -1``).

Explanations ("importance" output): each refitted model (not the baseline) is
explained on the test rows, one row per model x feature (structured features,
then topic shares):

- ``permutation_ap_drop_mean`` / ``_sd``: the drop in test AP when the feature's
  column is shuffled (the shuffles of sklearn ``permutation_importance``, ``n_repeats=5``,
  ``random_state=seed``); sd over the repeats with ddof=1. To bound the cost,
  only the 20 features with the largest ``mean_abs_contribution`` (ties: feature
  name) are permuted; the others get NaN. NaN too if the test rows hold one
  class only (AP is then undefined).
- ``mean_abs_contribution``: mean over test rows (a fixed sample of 1,000 drawn
  with ``seed`` if there are more) of |contribution to the log-odds|; NaN for
  the decision tree, for which every feature it splits on is permuted instead
  of screening, and the others get an exact drop of 0.
  LightGBM: TreeSHAP values from ``booster.predict(pred_contrib=True)``.
  Logistic regression: the exact linear SHAP values ``coef * z``, with ``z`` the
  standardised (imputed) column, centred on the training mean; a feature's value
  and missing-indicator columns are summed before taking |.|. Columns the model
  dropped (constant or mostly missing) get 0. Both are in log-odds units.
- ``rank``: 1 = largest permutation drop; ties (and NaN drops, ranked last) are
  broken by larger ``mean_abs_contribution``, then by feature name.

Cost: one prediction on the test rows per permuted feature and repeat. A
400-tree, 31-leaf LightGBM takes ~0.1-0.15 s per prediction of 3,000 rows, so
permuting all 80 features would take ~45 s; the top-20 screen bounds it to 100
predictions per model. TreeSHAP on 3,000 rows of such a model takes ~6-11 s,
hence the 1,000-row sample for the contributions. The importance is
descriptive only (it does not feed selection); correlated features share credit
and may each look unimportant.

Determinism: candidates come from ``np.random.default_rng(seed)``, and
LightGBM runs with ``deterministic=True`` and ``force_row_wise=True``, so the
outputs are byte-identical for the same inputs and seed whatever the number
of threads. Every model is fitted on, and every test set explained in, its
rows sorted by their values (``design_rows``), not by referral id: the ids are
keyed hashes, and in id order a new pseudonymisation key could change a fit
(by the order of floating-point sums), which the selection among close
candidates can magnify.
"""

import itertools
import json
import logging
import time

import numpy as np
import pandas as pd
from lightgbm import LGBMClassifier
from sklearn.base import BaseEstimator, TransformerMixin
from sklearn.impute import SimpleImputer
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import StandardScaler
from sklearn.tree import DecisionTreeClassifier

from common import (
    BASELINE_FEATURE,
    OUTER_FOLD,
    InputError,
    content_order,
    read_parquet,
    write_parquet,
)

logger = logging.getLogger(__name__)

MODELS = ("lightgbm", "logistic_regression", "decision_tree")
CLASS_BALANCE = ("weights", "undersample")
BASELINE = "previous_referrals"
BEST_FEATURE = "best_single_feature"
MAX_MISSING_SHARE = 0.7
Z_95 = 1.96
NON_FEATURE_COLUMNS = ("referral_id", "feature_time")
TOPIC_KEY_COLUMNS = ("fold", "referral_id")
PERMUTATION_REPEATS = 5
PERMUTATION_MAX_FEATURES = 20
CONTRIBUTION_MAX_ROWS = 1000
# liblinear's L1 solver stops when its gradient norm falls to tol x (minority
# class share) of the initial one, so sklearn's default tol of 1e-4 asks for
# 6e-6 at a 6% positive rate. With a weak penalty (C of 1 or 10) on the
# collinear one-hot columns it crawls there: 15-63 s per fit on 30,000 rows,
# most of train_models' CPU on a large LA. At 1e-3 (still 6e-5 at 6%) no CV
# AP of the large LA moved by more than 7e-4 and no selection changed
# (docs/benchmarks.md). The L2 solver needs a few Newton steps and keeps
# sklearn's default.
L1_TOLERANCE = 1e-3
IMPORTANCE_COLUMNS = (
    "model",
    "feature",
    "permutation_ap_drop_mean",
    "permutation_ap_drop_sd",
    "mean_abs_contribution",
    "rank",
)


# --- candidates and selection -------------------------------------------------


def sample_candidates(space: dict[str, list], n_draws: int, seed: int) -> list[dict]:
    """Draw ``n_draws`` distinct points of the grid ``space`` (all of them if the
    grid is smaller) with ``np.random.default_rng(seed)``, in draw order."""
    keys = sorted(space)
    values = []
    for key in keys:
        options = space[key]
        values.append(list(options) if isinstance(options, list | tuple) else [options])
    grid = list(itertools.product(*values))
    n_draws = min(int(n_draws), len(grid))
    rng = np.random.default_rng(seed)
    picks = rng.choice(len(grid), size=n_draws, replace=False)
    return [dict(zip(keys, grid[int(i)], strict=True)) for i in picks]


def params_json(params: dict) -> str:
    """Return ``params`` as compact JSON with sorted keys."""
    return json.dumps(params, sort_keys=True)


def lower_bound(scores: np.ndarray) -> float:
    """Return ``mean - 1.96 * sd / sqrt(k)`` of per-fold scores (sd with ddof=1)."""
    scores = np.asarray(scores, dtype=float)
    return float(scores.mean() - Z_95 * scores.std(ddof=1) / np.sqrt(len(scores)))


def mark_selected(cv_results: pd.DataFrame) -> pd.DataFrame:
    """Set ``selected`` on every fold row of each model's candidate with the
    highest CV lower bound (ties: the lowest candidate number)."""
    bounds = (
        cv_results.groupby(["model", "candidate"], sort=True)["average_precision"]
        .apply(lower_bound)
        .rename("bound")
        .reset_index()
        .sort_values(["model", "bound", "candidate"], ascending=[True, False, True])
    )
    best = bounds.drop_duplicates("model")
    chosen = set(zip(best["model"], best["candidate"], strict=True))
    out = cv_results.copy()
    out["selected"] = [
        (m, c) in chosen for m, c in zip(out["model"], out["candidate"], strict=True)
    ]
    return out


# --- estimators ---------------------------------------------------------------


class ColumnFilter(TransformerMixin, BaseEstimator):
    """Drop columns that are constant (missing counted as a value) or at least
    ``max_missing`` missing in the rows the filter is fitted on."""

    def __init__(self, max_missing: float = MAX_MISSING_SHARE):
        self.max_missing = max_missing

    def fit(self, X, y=None):
        X = np.asarray(X, dtype=float)
        missing = np.isnan(X)
        share_missing = missing.mean(axis=0)
        filled = np.where(missing, np.nanmax(np.abs(X), initial=0.0) + 1.0, X)
        constant = (filled == filled[:1]).all(axis=0)
        self.keep_ = ~constant & (share_missing < self.max_missing)
        if not self.keep_.any():
            raise InputError(
                "every feature is constant or at least "
                f"{self.max_missing:.0%} missing in the rows a logistic regression "
                "or the best-single-feature baseline is fitted on; check the feature "
                "stage's output."
            )
        return self

    def transform(self, X):
        return np.asarray(X, dtype=float)[:, self.keep_]


def imputer() -> SimpleImputer:
    """Constant fill with an indicator column per feature missing in the fit
    rows; every column is kept, so output column ``i`` is input column ``i``."""
    return SimpleImputer(
        strategy="constant", fill_value=0.0, add_indicator=True, keep_empty_features=True
    )


def make_model(
    name: str, params: dict, seed: int, threads: int, class_balance: str = "weights"
) -> BaseEstimator:
    """Return an unfitted estimator for model ``name`` with hyperparameters ``params``.

    With ``class_balance == "weights"`` the classes are reweighted (LightGBM
    ``is_unbalance``, balanced class weights for the others); with
    ``"undersample"`` the fit rows are balanced beforehand (``balanced_rows``).
    """
    weighted = class_balance == "weights"
    if name == "lightgbm":
        return LGBMClassifier(
            objective="binary",
            is_unbalance=weighted,
            deterministic=True,
            force_row_wise=True,
            random_state=seed,
            n_jobs=threads,
            verbose=-1,
            **params,
        )
    class_weight = "balanced" if weighted else None
    if name == "logistic_regression":
        options = dict(params)
        penalty = options.pop("penalty", "l2")
        if penalty not in ("l1", "l2"):
            raise InputError(
                f"models.logistic_regression.penalty: {penalty!r} is not supported; use l1 or l2."
            )
        if penalty == "l1":
            options.setdefault("tol", L1_TOLERANCE)
        classifier = LogisticRegression(
            l1_ratio=1.0 if penalty == "l1" else 0.0,
            solver="liblinear",
            class_weight=class_weight,
            random_state=seed,
            max_iter=5000,
            **options,
        )
        return Pipeline(
            [
                ("filter", ColumnFilter()),
                ("impute", imputer()),
                ("scale", StandardScaler()),
                ("model", classifier),
            ]
        )
    if name == "decision_tree":
        tree = DecisionTreeClassifier(class_weight=class_weight, random_state=seed, **params)
        return Pipeline([("impute", imputer()), ("model", tree)])
    raise InputError(f"unknown model {name!r} in the models config; use one of {MODELS}.")


def balanced_rows(y: np.ndarray, class_balance: str, ratio: float, seed: int) -> np.ndarray:
    """Return the sorted indices of the fit rows a model is fitted on: all of
    them, or for ``undersample`` every positive and a seeded random sample of
    ``ratio`` negatives per positive (all negatives if there are fewer)."""
    rows = np.arange(len(y))
    if class_balance == "weights":
        return rows
    if class_balance != "undersample":
        raise InputError(
            f"models.class_balance: {class_balance!r} is not supported; use one of {CLASS_BALANCE}."
        )
    positives = rows[y == 1]
    negatives = rows[y != 1]
    n_keep = min(len(negatives), int(np.ceil(ratio * len(positives))))
    kept = np.random.default_rng(seed).choice(negatives, size=n_keep, replace=False)
    return np.sort(np.concatenate([positives, kept]))


def fit_model(
    name: str,
    params: dict,
    X_fit: np.ndarray,
    y_fit: np.ndarray,
    balance: dict,
    seed: int,
    threads: int,
) -> BaseEstimator:
    """Fit model ``name`` on the fit rows, balanced as ``balance`` says
    (keys ``class_balance`` and ``undersample_ratio``)."""
    method = balance.get("class_balance", "weights")
    rows = balanced_rows(y_fit, method, float(balance.get("undersample_ratio", 1.0)), seed)
    model = make_model(name, params, seed, threads, method)
    model.fit(X_fit[rows], y_fit[rows])
    return model


def positive_scores(model: BaseEstimator, X: np.ndarray) -> np.ndarray:
    """Return a fitted classifier's P(label = 1) for the rows of ``X``."""
    return model.predict_proba(X)[:, 1].astype(np.float64)


def fit_and_score(
    name: str,
    params: dict,
    X_fit: np.ndarray,
    y_fit: np.ndarray,
    X_score: np.ndarray,
    balance: dict,
    seed: int,
    threads: int,
) -> np.ndarray:
    """Fit model ``name`` on the fit rows and return P(label = 1) for ``X_score``."""
    model = fit_model(name, params, X_fit, y_fit, balance, seed, threads)
    return positive_scores(model, X_score)


def baseline_scores(features: pd.DataFrame, ids: pd.Index) -> np.ndarray:
    """Score rows by their number of previous referrals (missing counts as 0)."""
    return features.loc[ids, BASELINE_FEATURE].fillna(0.0).to_numpy(dtype=np.float64)


def single_feature_scores(values: np.ndarray, direction: float) -> np.ndarray:
    """Scores that rank rows by one feature's ``values``, highest first
    (``direction`` 1) or lowest first (-1); missing values rank last."""
    signed = direction * values
    lowest = np.nanmin(signed) - 1.0 if np.isfinite(signed).any() else 0.0
    return np.where(np.isnan(signed), lowest, signed)


def best_single_feature(features: pd.DataFrame, ids: pd.Index, y: np.ndarray) -> tuple[str, float]:
    """The feature column, and direction (1: highest first, -1: lowest
    first), whose ranking of the rows ``ids`` has the highest AP against their
    labels ``y``; ties go to the earlier column in name order, then to highest
    first. Only the columns the models' ``ColumnFilter`` keeps on those rows
    compete: a column with a value on a handful of rows can rank them by luck
    and then score every test row alike, flattering the models beside it."""
    best_ap, best = -1.0, ("", 1.0)
    rows = features.loc[ids]
    kept = rows.columns[ColumnFilter().fit(rows.to_numpy(dtype=np.float64)).keep_]
    for column in sorted(kept):
        values = rows[column].to_numpy(dtype=np.float64)
        for direction in (1.0, -1.0):
            ap = average_precision(y, single_feature_scores(values, direction))
            if ap > best_ap:
                best_ap, best = ap, (column, direction)
    return best


def best_feature_params(column: str, direction: float) -> dict:
    """The best single feature's choice, as its CV results record it."""
    return {"feature": column, "order": "highest first" if direction > 0 else "lowest first"}


# --- explanations -------------------------------------------------------------


def average_precision(y: np.ndarray, scores: np.ndarray) -> float:
    """Return sklearn's ``average_precision_score(y, scores)`` for 0/1 labels
    with at least one positive, bit for bit, by the same array operations
    without its input checks, which on a few hundred rows cost several times
    the computation and would dominate the thousands of scorings of a search
    and its explanations."""
    y = np.asarray(y)
    scores = np.asarray(scores, dtype=np.float64)
    if not (y == 1).any():
        raise ValueError("average precision needs at least one positive label.")
    order = np.argsort(-scores, kind="stable")
    # the last row of each run of tied scores is a threshold
    thresholds = np.append(np.flatnonzero(np.diff(scores[order])), len(scores) - 1)
    true_positives = np.cumsum((y[order] == 1).astype(np.float64))[thresholds]
    flagged = 1 + thresholds.astype(np.float64)
    precision = np.append((true_positives / flagged)[::-1], 1.0)
    recall = np.append((true_positives / true_positives[-1])[::-1], 0.0)
    return float(max(0.0, -np.sum(np.diff(recall) * precision[:-1])))


def permutation_drops(
    model: BaseEstimator, X: np.ndarray, y: np.ndarray, columns: np.ndarray, seed: int
) -> tuple[np.ndarray, np.ndarray]:
    """Return, per column of ``X``, the mean and sd (ddof=1) over repeats of the
    drop in AP when the column is shuffled; NaN for columns not in ``columns``
    and for all if ``y`` holds one class only.

    The shuffles are those of sklearn's ``permutation_importance(n_repeats=5,
    random_state=seed)``: one seed drawn from ``RandomState(seed)`` starts a
    fresh ``RandomState`` per column, whose repeats shuffle the already
    shuffled column again, so the drops equal sklearn's."""
    drop_mean = np.full(X.shape[1], np.nan)
    drop_sd = np.full(X.shape[1], np.nan)
    if len(np.unique(y)) < 2 or len(columns) == 0:
        return drop_mean, drop_sd
    baseline = average_precision(y, positive_scores(model, X))
    column_seed = np.random.RandomState(seed).randint(np.iinfo(np.int32).max + 1)
    for column in columns:
        shuffler = np.random.RandomState(column_seed)
        permuted = np.array(X, dtype=np.float64, copy=True)
        order = np.arange(len(X))
        drops = np.empty(PERMUTATION_REPEATS)
        for repeat in range(PERMUTATION_REPEATS):
            shuffler.shuffle(order)
            permuted[:, column] = permuted[order, column]
            drops[repeat] = baseline - average_precision(y, positive_scores(model, permuted))
        drop_mean[column] = drops.mean()
        drop_sd[column] = drops.std(ddof=1)
    return drop_mean, drop_sd


def screen_columns(contributions: np.ndarray, names: list[str], limit: int) -> np.ndarray:
    """Return the sorted indices of the ``limit`` columns with the largest
    contribution (NaN last; ties: name)."""
    keys = np.nan_to_num(np.asarray(contributions, dtype=np.float64), nan=-np.inf)
    order = sorted(range(len(names)), key=lambda i: (-keys[i], names[i]))
    return np.array(sorted(order[:limit]), dtype=np.intp)


def mean_abs_contributions(name: str, model: BaseEstimator, X: np.ndarray) -> np.ndarray:
    """Return each column's mean |contribution to the log-odds| over the rows of
    ``X``: TreeSHAP for LightGBM, ``coef * standardised value`` for the logistic
    regression (value and missing-indicator columns summed per row)."""
    if name == "lightgbm":
        contributions = model.booster_.predict(X, pred_contrib=True)
        return np.abs(contributions[:, : X.shape[1]]).mean(axis=0)
    if name == "logistic_regression":
        steps = model.named_steps
        imputed = steps["impute"].transform(steps["filter"].transform(X))
        terms = steps["scale"].transform(imputed) * steps["model"].coef_[0]
        kept = np.flatnonzero(steps["filter"].keep_)
        owner = kept
        indicator = steps["impute"].indicator_
        if indicator is not None:
            owner = np.concatenate([kept, kept[indicator.features_]])
        per_feature = np.zeros(X.shape, dtype=np.float64)
        for column, feature in enumerate(owner):
            per_feature[:, feature] += terms[:, column]
        return np.abs(per_feature).mean(axis=0)
    return np.full(X.shape[1], np.nan)


def tree_split_columns(model: Pipeline, n_features: int) -> np.ndarray:
    """Return the sorted indices of the features a fitted decision tree pipeline
    splits on (a missing-indicator split counts for its feature)."""
    used = np.flatnonzero(model.named_steps["model"].feature_importances_ > 0)
    owner = np.arange(n_features)
    indicator = model.named_steps["impute"].indicator_
    if indicator is not None:
        owner = np.concatenate([owner, indicator.features_])
    return np.unique(owner[used]).astype(np.intp)


def explain_model(
    name: str,
    model: BaseEstimator,
    X_test: np.ndarray,
    y_test: np.ndarray,
    feature_names: list[str],
    seed: int,
) -> pd.DataFrame:
    """Return one row per feature: permutation AP drop, mean |contribution| and
    rank (1 = most important) of the fitted ``model`` on the test rows."""
    rows = np.arange(len(X_test))
    if len(rows) > CONTRIBUTION_MAX_ROWS:
        rng = np.random.default_rng(seed)
        rows = np.sort(rng.choice(len(rows), size=CONTRIBUTION_MAX_ROWS, replace=False))
    contributions = mean_abs_contributions(name, model, X_test[rows])
    if name == "decision_tree":
        columns = tree_split_columns(model, len(feature_names))
    else:
        columns = screen_columns(contributions, feature_names, PERMUTATION_MAX_FEATURES)
    drop_mean, drop_sd = permutation_drops(model, X_test, y_test, columns, seed)
    if name == "decision_tree" and len(np.unique(y_test)) == 2:
        # a feature the tree never splits on cannot change its predictions
        unused = np.setdiff1d(np.arange(len(feature_names)), columns)
        drop_mean[unused] = 0.0
        drop_sd[unused] = 0.0
    frame = pd.DataFrame(
        {
            "model": name,
            "feature": pd.Series(feature_names, dtype=str),
            "permutation_ap_drop_mean": drop_mean,
            "permutation_ap_drop_sd": drop_sd,
            "mean_abs_contribution": contributions,
        }
    )
    order = frame.sort_values(
        ["permutation_ap_drop_mean", "mean_abs_contribution", "feature"],
        ascending=[False, False, True],
        na_position="last",
        kind="stable",
    ).index
    rank = np.empty(len(frame), dtype=np.int32)
    rank[order.to_numpy()] = np.arange(1, len(frame) + 1, dtype=np.int32)
    frame["rank"] = rank
    return frame


# --- data ---------------------------------------------------------------------


def parse_design(design: str) -> tuple[str, str]:
    """Split a design name such as "time_text" into (timing, feature set)."""
    parts = str(design).split("_")
    if (
        len(parts) != 2
        or parts[0] not in ("random", "time")
        or parts[1]
        not in (
            "structured",
            "text",
        )
    ):
        raise InputError(f"unknown design {design!r}; use {{random,time}}_{{structured,text}}.")
    return parts[0], parts[1]


def prepare_features(features: pd.DataFrame, cohort: pd.DataFrame) -> pd.DataFrame:
    """Return the structured features as float64, indexed by referral id, after
    checking ids are unique and no feature was known at or after its prediction time."""
    if features["referral_id"].duplicated().any():
        raise ValueError("structured features: referral_id is repeated.")
    columns = [c for c in features.columns if c not in NON_FEATURE_COLUMNS]
    if not columns:
        raise ValueError("structured features: no feature columns.")
    not_numeric = [c for c in columns if not pd.api.types.is_numeric_dtype(features[c])]
    if not_numeric:
        raise ValueError(f"structured features: columns {not_numeric} are not numeric.")
    if "feature_time" in features.columns:
        times = features[["referral_id", "feature_time"]].merge(
            cohort[["referral_id", "prediction_time"]], on="referral_id"
        )
        # A record timed on the point is not known before it, as the leakage audit holds.
        late = times["feature_time"] >= times["prediction_time"]
        if late.any():
            first = times.loc[late, "referral_id"].sort_values().iloc[0]
            raise ValueError(
                f"structured features: {int(late.sum())} rows have feature_time at or after "
                f"prediction_time (e.g. referral {first}); features would leak the future."
            )
    return features.set_index("referral_id")[columns].astype(np.float64)


def prepare_topics(topics: pd.DataFrame, features: pd.DataFrame) -> pd.DataFrame:
    """Return topic shares as float64 indexed by (fold, referral id)."""
    if topics.duplicated(list(TOPIC_KEY_COLUMNS)).any():
        raise ValueError("topics: a (fold, referral_id) pair is repeated.")
    columns = [c for c in topics.columns if c not in TOPIC_KEY_COLUMNS]
    clash = sorted(set(columns) & set(features.columns))
    if clash:
        raise ValueError(f"topics: columns {clash} also name structured features.")
    frame = topics.astype({"fold": np.int64}).set_index(list(TOPIC_KEY_COLUMNS))
    return frame[columns].astype(np.float64)


def design_matrix(
    features: pd.DataFrame, topics: pd.DataFrame | None, fold: int, ids: pd.Index
) -> np.ndarray:
    """Return the feature matrix of ``ids``: structured features, then (text
    designs) the topic shares from the topic model of ``fold``."""
    missing = ids.difference(features.index)
    if len(missing):
        raise ValueError(
            f"structured features lack {len(missing)} referrals of the splits (e.g. {missing[0]})."
        )
    parts = [features.loc[ids].to_numpy()]
    if topics is not None:
        keys = pd.MultiIndex.from_arrays([np.full(len(ids), fold, dtype=np.int64), ids])
        absent = keys.difference(topics.index)
        if len(absent):
            raise ValueError(
                f"topics lack {len(absent)} referrals for fold {fold} "
                f"(e.g. {absent[0][1]}); the topic stage must cover every row of the fold."
            )
        parts.append(topics.loc[keys].to_numpy())
    return np.hstack(parts).astype(np.float64)


def feature_names(features: pd.DataFrame, topics: pd.DataFrame | None) -> list[str]:
    """Return the column names of ``design_matrix``, in order."""
    names = [str(c) for c in features.columns]
    return names + ([str(c) for c in topics.columns] if topics is not None else [])


def split_ids(splits: pd.DataFrame, fold: int, role: str) -> pd.Index:
    """Return the sorted referral ids with ``role`` in ``fold``."""
    rows = splits[(splits["fold"] == fold) & (splits["role"] == role)]
    return pd.Index(sorted(rows["referral_id"].astype(str)), name="referral_id")


def design_rows(
    splits: pd.DataFrame,
    fold: int,
    role: str,
    labels: pd.Series,
    features: pd.DataFrame,
    topics: pd.DataFrame | None,
) -> tuple[pd.Index, np.ndarray, np.ndarray]:
    """Return the referral ids, feature matrix (``design_matrix``) and labels
    of the rows with ``role`` in ``fold``, in the order of their values
    (``common.content_order``): models are fitted on, and test rows shuffled
    in, an order that a new pseudonymisation key leaves as it is."""
    ids = split_ids(splits, fold, role)
    X = design_matrix(features, topics, fold, ids)
    y = labels.loc[ids].to_numpy()
    order = content_order(np.column_stack([X, y]))
    return ids[order], X[order], y[order]


# --- training -----------------------------------------------------------------


def cross_validate(
    models: dict,
    splits: pd.DataFrame,
    labels: pd.Series,
    features: pd.DataFrame,
    topics: pd.DataFrame | None,
    seed: int,
    threads: int,
) -> tuple[pd.DataFrame, dict[str, dict]]:
    """Score every candidate of every model on every inner fold.

    Returns the CV results (with ``selected`` marked) and each model's selected
    hyperparameters.
    """
    inner = sorted(int(f) for f in splits["fold"].unique() if f != OUTER_FOLD)
    if len(inner) < 2:
        raise InputError("the splits hold fewer than two inner folds; check make_splits.")
    n_draws = int(models["search_iterations"])
    candidates = {
        name: sample_candidates(models[name], n_draws, seed) for name in MODELS if name in models
    }
    if not candidates:
        raise InputError(f"the models config names none of {MODELS}.")
    rows = []
    for fold in inner:
        fit_ids, X_fit, y_fit = design_rows(splits, fold, "fit", labels, features, topics)
        validate_ids, X_validate, y_validate = design_rows(
            splits, fold, "validate", labels, features, topics
        )
        for what, y in (("fit", y_fit), ("validate", y_validate)):
            if len(np.unique(y)) < 2:
                raise InputError(
                    f"inner fold {fold}: the {what} rows hold one class only; "
                    "reduce the design's inner_folds."
                )
        for name, draws in candidates.items():
            for number, params in enumerate(draws):
                scores = fit_and_score(
                    name, params, X_fit, y_fit, X_validate, models, seed, threads
                )
                rows.append(
                    (
                        name,
                        number,
                        params_json(params),
                        fold,
                        average_precision(y_validate, scores),
                    )
                )
        if BASELINE_FEATURE in features.columns:
            scores = baseline_scores(features, validate_ids)
            rows.append(
                (
                    BASELINE,
                    0,
                    params_json({"feature": BASELINE_FEATURE}),
                    fold,
                    average_precision(y_validate, scores),
                )
            )
        column, direction = best_single_feature(features, fit_ids, y_fit)
        values = features.loc[validate_ids, column].to_numpy(dtype=np.float64)
        rows.append(
            (
                BEST_FEATURE,
                0,
                params_json(best_feature_params(column, direction)),
                fold,
                average_precision(y_validate, single_feature_scores(values, direction)),
            )
        )
    cv_results = pd.DataFrame(
        rows, columns=["model", "candidate", "params", "fold", "average_precision"]
    )
    cv_results = cv_results.astype(
        {"candidate": np.int32, "fold": np.int16, "average_precision": np.float64}
    )
    cv_results = mark_selected(cv_results)
    cv_results = cv_results.sort_values(["model", "candidate", "fold"], kind="stable")
    cv_results = cv_results.reset_index(drop=True)
    chosen = cv_results[cv_results["selected"]].drop_duplicates("model")
    selected = {
        m: candidates[m][int(c)]
        for m, c in zip(chosen["model"], chosen["candidate"], strict=True)
        if m in candidates
    }
    for model, params in selected.items():
        bound = lower_bound(
            cv_results.loc[
                cv_results["selected"] & (cv_results["model"] == model), "average_precision"
            ]
        )
        logger.info("%s: selected %s (CV AP lower bound %.3f)", model, params_json(params), bound)
    return cv_results, selected


def refit_and_predict(
    selected: dict[str, dict],
    balance: dict,
    splits: pd.DataFrame,
    labels: pd.Series,
    features: pd.DataFrame,
    topics: pd.DataFrame | None,
    seed: int,
    threads: int,
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Refit each model's selected candidate on all training rows (balanced as
    ``balance`` says) and score the test rows; add the baseline's scores.
    Return (predictions, importance)."""
    train_ids, X_train, y_train = design_rows(splits, OUTER_FOLD, "train", labels, features, topics)
    test_ids, X_test, y_test = design_rows(splits, OUTER_FOLD, "test", labels, features, topics)
    if len(train_ids) == 0 or len(test_ids) == 0:
        raise InputError("the outer split has no training or no test rows; check make_splits.")
    names = feature_names(features, topics)
    frames = []
    explanations = []
    for name, params in selected.items():
        model = fit_model(name, params, X_train, y_train, balance, seed, threads)
        scores = positive_scores(model, X_test)
        started = time.perf_counter()
        explanations.append(explain_model(name, model, X_test, y_test, names, seed))
        logger.info(
            "%s: explained %d features on %d test rows in %.1f s",
            name,
            len(names),
            len(test_ids),
            time.perf_counter() - started,
        )
        frames.append(
            pd.DataFrame({"referral_id": test_ids, "model": name, "label": y_test, "score": scores})
        )
    if BASELINE_FEATURE in features.columns:
        frames.append(
            pd.DataFrame(
                {
                    "referral_id": test_ids,
                    "model": BASELINE,
                    "label": y_test,
                    "score": baseline_scores(features, test_ids),
                }
            )
        )
    column, direction = best_single_feature(features, train_ids, y_train)
    logger.info(
        "%s: %s, %s (chosen on the training rows)",
        BEST_FEATURE,
        column,
        best_feature_params(column, direction)["order"],
    )
    values = features.loc[test_ids, column].to_numpy(dtype=np.float64)
    frames.append(
        pd.DataFrame(
            {
                "referral_id": test_ids,
                "model": BEST_FEATURE,
                "label": y_test,
                "score": single_feature_scores(values, direction),
            }
        )
    )
    predictions = pd.concat(frames, ignore_index=True)
    predictions["referral_id"] = predictions["referral_id"].astype(str)
    predictions["label"] = predictions["label"].astype(np.int8)
    predictions = predictions.sort_values(["model", "referral_id"], kind="stable")
    importance = pd.concat(explanations, ignore_index=True)[list(IMPORTANCE_COLUMNS)]
    importance = importance.sort_values(["model", "rank", "feature"], kind="stable")
    return predictions.reset_index(drop=True), importance.reset_index(drop=True)


def train_models(
    cohort: pd.DataFrame,
    splits: pd.DataFrame,
    features: pd.DataFrame,
    topics: pd.DataFrame | None,
    design: str,
    models: dict,
    seed: int,
    threads: int = 1,
) -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame]:
    """Return (predictions, cv_results, importance) for one outcome x design."""
    _, feature_set = parse_design(design)
    if feature_set == "text" and topics is None:
        raise InputError(f"design {design!r} needs the topics input; check the rule.")
    if feature_set == "structured" and topics is not None:
        logger.warning("design %s is structured: ignoring the topics input", design)
        topics = None
    unknown = set(splits["referral_id"]) - set(cohort["referral_id"])
    if unknown:
        raise ValueError(f"the splits name {len(unknown)} referrals not in the cohort.")
    labels = cohort.set_index("referral_id")["label"].astype(np.int8)
    feature_table = prepare_features(features, cohort)
    topic_table = prepare_topics(topics, feature_table) if topics is not None else None
    if BASELINE_FEATURE not in feature_table.columns:
        logger.warning("no %s feature: the baseline is left out", BASELINE_FEATURE)
    logger.info(
        "design %s: %d features%s, %d threads",
        design,
        feature_table.shape[1],
        f" + {topic_table.shape[1]} topics" if topic_table is not None else "",
        threads,
    )
    started = time.perf_counter()
    cv_results, selected = cross_validate(
        models, splits, labels, feature_table, topic_table, seed, threads
    )
    predictions, importance = refit_and_predict(
        selected, models, splits, labels, feature_table, topic_table, seed, threads
    )
    logger.info("trained in %.1f s", time.perf_counter() - started)
    return predictions, cv_results, importance


def add_text_features(features: pd.DataFrame, text_features: pd.DataFrame) -> pd.DataFrame:
    """Join per-referral text features (e.g. vulnerability flags) to the
    structured ones; ``feature_time`` becomes the later of the two."""
    joined = features.merge(
        text_features, on="referral_id", how="left", suffixes=("", "_text"), validate="one_to_one"
    )
    joined["feature_time"] = joined[["feature_time", "feature_time_text"]].max(axis=1)
    return joined.drop(columns="feature_time_text")


def read_design_inputs(snakemake) -> tuple:
    """Read the cohort, splits, features (with text features) and topics of a
    job with the inputs of rule train_models (explanations and refits read the same)."""
    cohort = read_parquet(snakemake.input.cohort, "cohort")
    splits = read_parquet(snakemake.input.splits, "splits")
    features = pd.read_parquet(snakemake.input.features)
    if snakemake.input.text_features:
        features = add_text_features(features, pd.read_parquet(snakemake.input.text_features))
    topics = pd.read_parquet(snakemake.input.topics) if snakemake.input.topics else None
    return cohort, splits, features, topics


def main(snakemake) -> None:
    """Read the inputs, train, and write predictions, CV results and importance."""
    cohort, splits, features, topics = read_design_inputs(snakemake)
    predictions, cv_results, importance = train_models(
        cohort,
        splits,
        features,
        topics,
        design=snakemake.params.design,
        models=dict(snakemake.params.models),
        seed=int(snakemake.params.seed),
        threads=int(snakemake.threads),
    )
    write_parquet(predictions, snakemake.output.predictions, "predictions")
    write_parquet(cv_results, snakemake.output.cv_results, "cv_results")
    write_parquet(importance, snakemake.output.importance, "importance")


if __name__ == "__main__":
    from common import run

    run(lambda: main(snakemake), snakemake.log[0])  # noqa: F821
