"""Assign each referral of one outcome's cohort to the outer and inner splits.

The outer split (``fold == -1``) puts every cohort row in exactly one role:
"train", "test" or "excluded". The inner folds (``fold == 0 .. k-1``) cover
training rows only, each with role "fit" or "validate"; a training row missing
from an inner fold is used by neither side of that fold. Siblings (rows sharing
a ``family_id``; a child without one is its own family) never fall on both
sides of any split.

Two timings, as in the 2020 study:

random
    The outer split is a stratified group split: ``StratifiedGroupKFold`` with
    shuffling and the seed cuts the families into ``n`` folds that keep the
    base rate, and the first ``m`` folds form the test set, where ``m / n`` is
    the fraction closest to ``test_fraction`` (0.4 -> 2 of 5 folds, 0.333 -> 1
    of 3). The inner folds are ``StratifiedGroupKFold(inner_folds)`` over the
    training rows. Nothing is excluded.

time
    The latest ``test_fraction`` of rows by prediction time form the test set,
    as a model would meet them in use (repeat referrals included). Training
    rows are earlier rows whose label was known before the test period began
    (``label_known_time <= test start``) and whose family has no test row;
    other rows are "excluded". The inner folds are expanding windows: the
    earlier half of the training rows in time is the initial window, the later
    half is cut into ``inner_folds`` equal blocks; fold ``f`` validates on block
    ``f + 1`` and fits on earlier rows by the same rule.

Every fit, train, validate and test set must hold both classes, otherwise an
``InputError`` says which setting to change. The output is sorted by fold and
referral id.

The ids are keyed hashes, so a new pseudonymisation key reorders them; the
splits do not follow that order. The time-ordered ones depend on times alone.
The random ones cut families numbered by their rows' values
(``common.family_numbers`` of ``split_content``: the referrals' dates, labels,
sources, needs and closures, the children's birth months, sex and
disability), not by id; only families alike in all of these fall by the key.
"""

import logging

import numpy as np
import pandas as pd
from sklearn.model_selection import StratifiedGroupKFold

from common import (
    OUTER_FOLD,
    InputError,
    SafetyCheckError,
    families_by_referral,
    family_numbers,
    read_parquet,
    write_parquet,
)

logger = logging.getLogger(__name__)

TIMINGS = ("random", "time")


def fold_fraction(test_fraction: float, max_folds: int = 20) -> tuple[int, int]:
    """Return ``(n_folds, n_test_folds)`` with ``n_test_folds / n_folds`` closest
    to ``test_fraction``, preferring fewer folds on ties."""
    best: tuple[float, int, int] | None = None
    for n_folds in range(2, max_folds + 1):
        n_test = min(max(round(test_fraction * n_folds), 1), n_folds - 1)
        error = abs(n_test / n_folds - test_fraction)
        if best is None or error < best[0] - 1e-12:
            best = (error, n_folds, n_test)
    assert best is not None
    return best[1], best[2]


def check_classes(labels: pd.Series | np.ndarray, what: str, advice: str) -> None:
    """Raise ``InputError`` unless ``labels`` hold both a 0 and a 1."""
    values = np.asarray(labels)
    n_pos = int((values == 1).sum())
    n_neg = int((values == 0).sum())
    if n_pos == 0 or n_neg == 0:
        raise InputError(
            f"{what} has {n_pos} positive and {n_neg} negative cases; both classes "
            f"are needed. {advice}"
        )


def top_level_settings(timing: str) -> dict[str, str]:
    """The config keys of ``timing``'s split sizes when the outcome sets none
    of its own."""
    return {key: f"designs.{timing}.{key}" for key in ("test_fraction", "inner_folds")}


def setting_to_change(settings: dict[str, str], key: str) -> str:
    """The config key to change for the split size ``key``: the one that set
    it and, when that is the top-level one (which every outcome shares), the
    outcome's own key (``settings["own"]``, where given) that changes it for
    this outcome alone."""
    name = settings[key]
    own = settings.get("own")
    if own and not name.startswith(own):
        return f"{name} (or {own}.{key} for this outcome alone)"
    return name


def too_few_for_folds(settings: dict[str, str], inner_folds: int) -> str:
    """What to do when an inner fold's set lacks a class: fewer folds while
    there can be fewer (2 is the minimum), otherwise more training cases, or
    the outcome left out; ``settings`` names the config key of each size."""
    if inner_folds > 2:
        return (
            "The LA has too few cases with this outcome for this many folds: reduce "
            f"{setting_to_change(settings, 'inner_folds')}."
        )
    return (
        f"{settings['inner_folds']} is already at its minimum, 2: the training cases hold "
        f"too few with this outcome to tune models on. Use a longer extract, a smaller "
        f"{setting_to_change(settings, 'test_fraction')} (more training cases), or leave "
        "this outcome out of the LA's config (under outcomes, set its name to null)."
    )


def stratified_group_folds(
    labels: np.ndarray, groups: np.ndarray, n_folds: int, seed: int, advice: str
) -> np.ndarray:
    """Return the fold (0..n_folds-1) of each row from a shuffled
    ``StratifiedGroupKFold``; rows must already be in a canonical order."""
    n_groups = len(np.unique(groups))
    n_pos = int((labels == 1).sum())
    if n_groups < n_folds or n_pos < n_folds:
        raise InputError(
            f"cannot cut {n_folds} folds from {n_groups} families with {n_pos} "
            f"positive cases. {advice}"
        )
    splitter = StratifiedGroupKFold(n_splits=n_folds, shuffle=True, random_state=seed)
    fold = np.full(len(labels), -1, dtype=np.int64)
    for index, (_, test_index) in enumerate(splitter.split(np.zeros(len(labels)), labels, groups)):
        fold[test_index] = index
    return fold


def days(times: pd.Series) -> np.ndarray:
    """Days since 1970 of ``times`` (missing: NaN)."""
    return ((times - pd.Timestamp(0)) / pd.Timedelta(days=1)).to_numpy(dtype=np.float64)


def codes(values: pd.Series) -> np.ndarray:
    """Each value's rank among the distinct values (missing: NaN)."""
    ranks = pd.factorize(values, sort=True)[0]
    return np.where(ranks < 0, np.nan, ranks).astype(np.float64)


def split_content(data: pd.DataFrame, records: dict[str, pd.DataFrame] | None) -> np.ndarray:
    """Per cohort row, the values that order the families for the random
    design: the referral's dates and label and, given the ``children`` and
    ``referrals`` tables (``records``), the child's birth month, sex and
    disability and the referral's source, primary need, closure and its
    reason (unknown: missing). Any value serves: the split shuffles the
    families it orders, so their order only has to be free of the ids."""
    columns = [days(data[c]) for c in ("referral_date", "prediction_time", "label_known_time")]
    columns.append(data["label"].to_numpy(dtype=np.float64))
    if records is not None:
        child = records["children"].drop_duplicates("child_id").set_index("child_id")
        referral = records["referrals"].drop_duplicates("referral_id").set_index("referral_id")
        columns.append(days(data["child_id"].map(child["birth_month"])))
        columns.extend(codes(data["child_id"].map(child[c])) for c in ("sex", "disability"))
        columns.append(days(data["referral_id"].map(referral["closure_date"])))
        columns.extend(
            codes(data["referral_id"].map(referral[c]))
            for c in ("referral_source", "primary_need", "nfa", "closure_reason")
        )
    return np.column_stack(columns)


def random_splits(
    cohort: pd.DataFrame,
    test_fraction: float,
    inner_folds: int,
    seed: int,
    settings: dict[str, str],
    records: dict[str, pd.DataFrame] | None = None,
) -> pd.DataFrame:
    """Outer and inner splits for the random design (see module docstring);
    ``settings`` names the config key of each size, for messages."""
    data = cohort.sort_values("referral_id", kind="stable").reset_index(drop=True)
    labels = data["label"].to_numpy().astype(int)
    groups = family_numbers(families_by_referral(data).to_numpy(), split_content(data, records))
    n_folds, n_test = fold_fraction(test_fraction)
    logger.info(
        "random design: test = %d of %d stratified group folds (target %.3f)",
        n_test,
        n_folds,
        test_fraction,
    )
    outer = stratified_group_folds(
        labels,
        groups,
        n_folds,
        seed,
        "The cohort is too small for a held-out test set; lower "
        f"{setting_to_change(settings, 'test_fraction')} or use more data.",
    )
    is_test = outer < n_test
    roles = np.where(is_test, "test", "train")
    frames = [pd.DataFrame({"referral_id": data["referral_id"], "fold": OUTER_FOLD, "role": roles})]
    advice = "Too few cases for the test split; use more data."
    check_classes(labels[is_test], "random design: the test set", advice)
    check_classes(labels[~is_test], "random design: the training set", advice)

    train = data[~is_test].reset_index(drop=True)
    train_labels = labels[~is_test]
    inner_advice = too_few_for_folds(settings, inner_folds)
    inner = stratified_group_folds(train_labels, groups[~is_test], inner_folds, seed, inner_advice)
    for fold in range(inner_folds):
        validate = inner == fold
        check_classes(
            train_labels[validate], f"random design: inner fold {fold} validate set", inner_advice
        )
        check_classes(
            train_labels[~validate], f"random design: inner fold {fold} fit set", inner_advice
        )
        frames.append(
            pd.DataFrame(
                {
                    "referral_id": train["referral_id"],
                    "fold": fold,
                    "role": np.where(validate, "validate", "fit"),
                }
            )
        )
    return finish(frames)


def time_holdout(
    times: pd.Series, known: pd.Series, groups: pd.Series, is_holdout: np.ndarray
) -> np.ndarray:
    """Rows that may train a model evaluated on the held-out rows: their label
    is known before the first held-out prediction point, and their family has
    no held-out row."""
    start = times[is_holdout].min()
    held_out_families = set(groups[is_holdout])
    return ~is_holdout & (known <= start).to_numpy() & ~groups.isin(held_out_families).to_numpy()


def latest_rows(times: pd.Series, fraction: float) -> np.ndarray:
    """The latest ``fraction`` of rows by prediction time; rows sharing the
    cut-off time fall on the same side."""
    cutoff = times.sort_values(kind="stable").iloc[int(round(len(times) * (1 - fraction)))]
    return (times >= cutoff).to_numpy()


def expanding_blocks(times: pd.Series, n_folds: int) -> np.ndarray:
    """Block of each row for expanding-window folds: the earlier half of the
    rows in time is block 0, the later half is cut into ``n_folds`` equal
    blocks 1..n_folds; rows sharing a time share a block. Labels become known
    months after their prediction point, so the first fold needs a long
    initial window to fit on."""
    # Ties ranked alike: ranked in row order (by pseudonymised id), tied rows
    # at a boundary fell into one block or the next by the key.
    order = times.rank(method="min").to_numpy() - 1
    half = len(times) / 2
    later = np.floor((order - half) * n_folds / (len(times) - half)).astype(int) + 1
    return np.where(order < half, 0, np.minimum(later, n_folds))


def time_splits(
    cohort: pd.DataFrame, test_fraction: float, inner_folds: int, settings: dict[str, str]
) -> pd.DataFrame:
    """Outer and inner splits for the time-ordered design (see module
    docstring); ``settings`` names the config key of each size, for messages."""
    data = cohort.sort_values("referral_id", kind="stable").reset_index(drop=True)
    if data["prediction_time"].isna().any() or data["label_known_time"].isna().any():
        raise InputError("cohort: prediction or label time is missing for some rows.")
    groups = families_by_referral(data)
    times = data["prediction_time"]
    known = data["label_known_time"]
    labels = data["label"].to_numpy().astype(int)

    is_test = latest_rows(times, test_fraction)
    is_train = time_holdout(times, known, groups, is_test)
    roles = np.select([is_test, is_train], ["test", "train"], "excluded")
    # The month only: the first test row's exact day can point at one case.
    logger.info(
        "time design: test from %s: %d test, %d train, %d excluded rows",
        f"{times[is_test].min():%Y-%m}",
        is_test.sum(),
        is_train.sum(),
        (~is_test & ~is_train).sum(),
    )
    frames = [pd.DataFrame({"referral_id": data["referral_id"], "fold": OUTER_FOLD, "role": roles})]
    advice = (
        "Too few cases, or too short a period, for a time-ordered test split; "
        f"use a longer extract or adjust {setting_to_change(settings, 'test_fraction')}."
    )
    check_classes(labels[is_test], "time design: the test set", advice)
    check_classes(labels[is_train], "time design: the training set", advice)

    validate_advice = too_few_for_folds(settings, inner_folds)
    # Fold 0 fits on the earlier half of the training rows whatever the number
    # of folds, so fewer folds cannot mend its fit set.
    fit_advice = (
        "Too few earlier cases have their outcome known before this fold's validation "
        "rows begin: use a longer extract, a shorter horizon_months for this outcome, or "
        f"a smaller {setting_to_change(settings, 'test_fraction')} (more training rows); "
        "fewer inner folds do not help the first fold, which fits on the earlier half of "
        "the training rows."
    )
    train = data[is_train].reset_index(drop=True)
    train_times = train["prediction_time"]
    train_groups = groups[is_train].reset_index(drop=True)
    train_known = known[is_train].reset_index(drop=True)
    train_labels = labels[is_train]
    block = expanding_blocks(train_times, inner_folds)
    for fold in range(inner_folds):
        validate = block == fold + 1
        fit = (block <= fold) & time_holdout(train_times, train_known, train_groups, validate)
        where = f"time design: inner fold {fold}"
        check_classes(train_labels[validate], f"{where} validate set", validate_advice)
        check_classes(train_labels[fit], f"{where} fit set", fit_advice)
        keep = fit | validate
        frames.append(
            pd.DataFrame(
                {
                    "referral_id": train["referral_id"][keep],
                    "fold": fold,
                    "role": np.where(validate[keep], "validate", "fit"),
                }
            )
        )
    return finish(frames)


def finish(frames: list[pd.DataFrame]) -> pd.DataFrame:
    """Concatenate split frames with the schema's types, sorted (fold, referral_id)."""
    out = pd.concat(frames, ignore_index=True)
    out["fold"] = out["fold"].astype(np.int16)
    out["role"] = out["role"].astype(str)
    out["referral_id"] = out["referral_id"].astype(str)
    return out.sort_values(["fold", "referral_id"], kind="stable").reset_index(drop=True)


def make_splits(
    cohort: pd.DataFrame,
    timing: str,
    test_fraction: float,
    inner_folds: int,
    seed: int,
    settings: dict[str, str] | None = None,
    records: dict[str, pd.DataFrame] | None = None,
) -> pd.DataFrame:
    """Check the cohort and settings, then return the splits for ``timing``;
    ``settings`` names the config key of each size (default: the top-level
    ``designs``), for messages; ``records`` (the ``children`` and
    ``referrals`` tables) add to what orders the random design's families
    (``split_content``)."""
    if timing not in TIMINGS:
        raise InputError(f"unknown timing {timing!r}; use one of {TIMINGS}.")
    settings = settings or top_level_settings(timing)
    if not 0 < test_fraction < 1:
        raise InputError(
            f"{settings['test_fraction']} is {test_fraction}; it must lie between 0 and 1."
        )
    if int(inner_folds) < 2:
        raise InputError(f"{settings['inner_folds']} is {inner_folds}; it must be at least 2.")
    if cohort["referral_id"].isna().any() or cohort["referral_id"].duplicated().any():
        raise InputError("cohort: referral_id is missing or repeated; fix the cohort stage.")
    if not cohort["label"].isin([0, 1]).all():
        raise InputError("cohort: label must be 0 or 1 on every row.")
    if timing == "random":
        return random_splits(cohort, test_fraction, int(inner_folds), int(seed), settings, records)
    return time_splits(cohort, test_fraction, int(inner_folds), settings)


def month_start(time: pd.Timestamp) -> pd.Timestamp:
    """The first day of ``time``'s month."""
    return time.to_period("M").to_timestamp()


def split_diagnostics(splits: pd.DataFrame, cohort: pd.DataFrame) -> pd.DataFrame:
    """One row per fold and role: rows, positives, base rate, the months of the
    first and last prediction times (``month_start``: the diagnostics and logs are
    shared, and a role's exact first or last day can point at one case), and
    ``shared_families``, the number of the role's families that also have a row
    on the fold's other side (train vs test, fit vs validate; it must be 0).
    Excluded rows are on neither side: 0."""
    labelled = splits.merge(
        cohort[["referral_id", "label", "prediction_time"]], on="referral_id", validate="m:1"
    )
    labelled["family"] = labelled["referral_id"].map(families_by_referral(cohort))
    rows = []
    for (fold, role), part in labelled.groupby(["fold", "role"], sort=True):
        others = labelled.loc[
            (labelled["fold"] == fold)
            & (labelled["role"] != role)
            & (labelled["role"] != "excluded")
        ]
        shared = 0
        if role != "excluded":
            shared = len(set(part["family"]) & set(others["family"]))
        rows.append(
            {
                "fold": fold,
                "role": role,
                "rows": len(part),
                "positives": int(part["label"].sum()),
                "base_rate": float(part["label"].mean()),
                "first_prediction_time": month_start(part["prediction_time"].min()),
                "last_prediction_time": month_start(part["prediction_time"].max()),
                "shared_families": shared,
            }
        )
    out = pd.DataFrame(rows).astype({"fold": np.int16, "rows": np.int64, "positives": np.int64})
    return out.astype({"shared_families": np.int64})


def main(snakemake) -> None:
    """Read the cohort and records, make the splits and write them."""
    cohort = read_parquet(snakemake.input.cohort, "cohort")
    params = snakemake.params
    try:
        splits = make_splits(
            cohort,
            timing=params.timing,
            test_fraction=float(params.sizes["test_fraction"]),
            inner_folds=int(params.sizes["inner_folds"]),
            seed=int(params.seed),
            settings=dict(params.size_settings),
            records={
                "children": read_parquet(snakemake.input.children, "children"),
                "referrals": read_parquet(snakemake.input.referrals, "referrals"),
            },
        )
    except InputError as error:
        # Each outcome has its own cohort: say which one has too few cases.
        raise InputError(f"outcome {snakemake.wildcards.outcome!r}, {error}") from None
    diagnostics = split_diagnostics(splits, cohort)
    for row in diagnostics.itertuples():
        logger.info(
            "fold %d %-8s %6d rows, base rate %.3f, %s to %s",
            row.fold,
            row.role,
            row.rows,
            row.base_rate,
            f"{row.first_prediction_time:%Y-%m}",
            f"{row.last_prediction_time:%Y-%m}",
        )
    if diagnostics["shared_families"].any():
        raise SafetyCheckError("siblings straddle a split:\n" + diagnostics.to_string())
    write_parquet(splits, snakemake.output.splits, "splits")
    write_parquet(diagnostics, snakemake.output.diagnostics, "split_diagnostics")


if __name__ == "__main__":
    from common import run

    run(lambda: main(snakemake), snakemake.log[0])  # noqa: F821
