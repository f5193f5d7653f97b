"""Tests for workflow/scripts/make_splits.py, and the toy data the model tests share."""

from __future__ import annotations

import logging
import re
import sys
import types

import numpy as np
import pandas as pd
import pytest

sys.path.insert(0, "workflow/scripts")

from common import InputError, read_parquet, write_parquet  # noqa: E402
from make_splits import (  # noqa: E402
    expanding_blocks,
    fold_fraction,
    latest_rows,
    main,
    make_splits,
    split_diagnostics,
    too_few_for_folds,
    top_level_settings,
)

HORIZON_DAYS = 91


def toy_cohort(n_families: int = 150, seed: int = 0, base_rate: float = 0.3) -> pd.DataFrame:
    """A cohort of families with 1-3 children of 1-3 referrals each, spread over
    2015-2021, labelled with a family-level tendency (siblings share outcomes)."""
    rng = np.random.default_rng(seed)
    rows = []
    start = pd.Timestamp("2015-01-01")
    for family in range(n_families):
        family_risk = rng.normal()
        first_day = int(rng.integers(0, 6 * 365))
        for child in range(int(rng.integers(1, 4))):
            day = first_day + int(rng.integers(0, 120))
            for _ in range(int(rng.integers(1, 4))):
                referral_date = start + pd.Timedelta(days=day)
                rows.append(
                    {
                        "outcome": "escalation",
                        "referral_id": f"r{len(rows):05d}",
                        "child_id": f"c{family:04d}_{child}",
                        "family_id": f"f{family:04d}",
                        "referral_date": referral_date,
                        "prediction_time": referral_date + pd.Timedelta(days=14),
                        "label_known_time": referral_date + pd.Timedelta(days=14 + HORIZON_DAYS),
                        "risk": family_risk + rng.normal(scale=0.7),
                    }
                )
                day += int(rng.integers(30, 400))
    cohort = pd.DataFrame(rows)
    cut = np.quantile(cohort["risk"], 1 - base_rate)
    cohort["label"] = (cohort["risk"] > cut).astype(np.int8)
    # Shuffle row order so nothing relies on the input order.
    cohort = cohort.drop(columns="risk").sample(frac=1.0, random_state=seed)
    for column in ("referral_date", "prediction_time", "label_known_time"):
        cohort[column] = cohort[column].astype("datetime64[ms]")
    return cohort.reset_index(drop=True)


def toy_records(cohort: pd.DataFrame) -> dict[str, pd.DataFrame]:
    """The children and referrals tables of ``cohort``: each child's family,
    sex and birth month, each referral's source, need and closure."""
    rng = np.random.default_rng(0)
    children = cohort.drop_duplicates("child_id")[["child_id", "family_id"]].reset_index(drop=True)
    months = pd.Timestamp("2005-01-01") + pd.to_timedelta(
        30 * rng.integers(0, 180, len(children)), unit="D"
    )
    children = children.assign(
        sex=rng.choice(["F", "M"], len(children)),
        birth_month=months.to_period("M").to_timestamp().astype("datetime64[ms]"),
        ethnicity="WBRI",
        disability=rng.random(len(children)) < 0.1,
    )
    nfa = rng.random(len(cohort)) < 0.4
    referrals = cohort[["referral_id", "child_id", "referral_date"]].assign(
        referral_source=rng.choice(["1A", "3B", "5C"], len(cohort)),
        primary_need=rng.choice(["N1", "N2", "N3"], len(cohort)),
        nfa=nfa,
        closure_date=cohort["referral_date"] + pd.Timedelta(days=30),
        closure_reason=np.where(nfa, "RC8", "RC1"),
    )
    return {"children": children, "referrals": referrals.reset_index(drop=True)}


def toy_features(
    cohort: pd.DataFrame, n_noise: int = 4, seed: int = 0, strength: float = 3.0
) -> pd.DataFrame:
    """Structured features: ``signal`` (label + noise, the planted signal),
    ``n_previous_referrals``, and ``n_noise`` noise columns with missing values."""
    rng = np.random.default_rng(seed)
    n = len(cohort)
    ordered = cohort.sort_values(["child_id", "referral_date", "referral_id"])
    previous = ordered.groupby("child_id").cumcount().reindex(cohort.index)
    features = pd.DataFrame(
        {
            "referral_id": cohort["referral_id"].astype(str),
            "feature_time": (cohort["prediction_time"] - pd.Timedelta(days=1)).astype(
                "datetime64[ms]"
            ),
            "signal": strength * cohort["label"].to_numpy() + rng.normal(size=n),
            "n_previous_referrals": previous.to_numpy().astype(float),
        }
    )
    for i in range(n_noise):
        values = rng.normal(size=n)
        values[rng.random(n) < 0.2] = np.nan
        features[f"noise_{i:02d}"] = values
    features.loc[rng.random(n) < 0.05, "feature_time"] = pd.NaT
    return features


def outer(splits: pd.DataFrame, role: str) -> pd.DataFrame:
    return splits[(splits["fold"] == -1) & (splits["role"] == role)]


def with_cohort(splits: pd.DataFrame, cohort: pd.DataFrame) -> pd.DataFrame:
    return splits.merge(cohort, on="referral_id", how="left", validate="many_to_one")


@pytest.fixture(scope="module")
def cohort() -> pd.DataFrame:
    return toy_cohort()


@pytest.fixture(scope="module", params=["random", "time"])
def timing(request) -> str:
    return request.param


@pytest.fixture(scope="module")
def splits(cohort, timing) -> pd.DataFrame:
    settings = {"random": (0.4, 5), "time": (0.333, 3)}[timing]
    return make_splits(cohort, timing, *settings, seed=7)


def test_outer_roles_cover_every_row_once(splits, cohort, timing):
    outer_rows = splits[splits["fold"] == -1]
    assert sorted(outer_rows["referral_id"]) == sorted(cohort["referral_id"])
    assert outer_rows["referral_id"].is_unique
    allowed = {"train", "test"} if timing == "random" else {"train", "test", "excluded"}
    assert set(outer_rows["role"]) <= allowed


def test_no_family_in_train_and_test(splits, cohort):
    families = with_cohort(splits, cohort)
    train = set(families.loc[(families["fold"] == -1) & (families["role"] == "train"), "family_id"])
    test = set(families.loc[(families["fold"] == -1) & (families["role"] == "test"), "family_id"])
    assert train and test and not train & test


def test_inner_folds_over_train_rows_without_shared_families(splits, cohort, timing):
    train_ids = set(outer(splits, "train")["referral_id"])
    folds = sorted(f for f in splits["fold"].unique() if f >= 0)
    assert folds == list(range(5 if timing == "random" else 3))
    rows = with_cohort(splits, cohort)
    for fold in folds:
        inner = rows[rows["fold"] == fold]
        assert set(inner["role"]) == {"fit", "validate"}
        assert set(inner["referral_id"]) <= train_ids
        assert inner["referral_id"].is_unique
        fit = set(inner.loc[inner["role"] == "fit", "family_id"])
        validate = set(inner.loc[inner["role"] == "validate", "family_id"])
        assert not fit & validate, f"fold {fold} shares a family"
        for role in ("fit", "validate"):
            assert inner.loc[inner["role"] == role, "label"].nunique() == 2


def test_random_validate_sets_partition_train(cohort):
    splits = make_splits(cohort, "random", 0.4, 5, seed=7)
    train_ids = sorted(outer(splits, "train")["referral_id"])
    validate = splits[splits["role"] == "validate"]
    assert sorted(validate["referral_id"]) == train_ids
    assert "excluded" not in set(splits["role"])


def test_time_train_labels_known_before_test_starts(cohort):
    splits = make_splits(cohort, "time", 0.333, 3, seed=7)
    rows = with_cohort(splits, cohort)
    outer_rows = rows[rows["fold"] == -1]
    test = outer_rows[outer_rows["role"] == "test"]
    train = outer_rows[outer_rows["role"] == "train"]
    test_start = test["prediction_time"].min()
    # The test set is the latest rows, repeat referrals of earlier families included.
    assert (outer_rows.loc[outer_rows["role"] != "test", "prediction_time"] < test_start).all()
    assert (train["label_known_time"] <= test_start).all()
    assert not set(train["family_id"]) & set(test["family_id"])
    # Rows left out are exactly those whose label was unknown or whose family is tested.
    excluded = outer_rows[outer_rows["role"] == "excluded"]
    unknown = excluded["label_known_time"] > test_start
    tested = excluded["family_id"].isin(set(test["family_id"]))
    assert (unknown | tested).all()


def test_time_fit_rows_precede_validate_rows(cohort):
    splits = make_splits(cohort, "time", 0.333, 3, seed=7)
    rows = with_cohort(splits, cohort)
    previous_fit = 0
    for fold in range(3):
        inner = rows[rows["fold"] == fold]
        fit = inner[inner["role"] == "fit"]
        validate = inner[inner["role"] == "validate"]
        start = validate["prediction_time"].min()
        assert (fit["label_known_time"] <= start).all()
        assert fit["prediction_time"].max() < start
        assert not set(fit["family_id"]) & set(validate["family_id"])
        assert len(fit) > previous_fit  # expanding window
        previous_fit = len(fit)


@pytest.mark.parametrize(("timing", "fraction"), [("random", 0.4), ("time", 0.333)])
def test_test_fraction_approximately_right(cohort, timing, fraction):
    splits = make_splits(cohort, timing, fraction, 3, seed=7)
    share = len(outer(splits, "test")) / len(cohort)
    assert share == pytest.approx(fraction, abs=0.05)


def test_random_split_keeps_base_rate(cohort):
    splits = make_splits(cohort, "random", 0.4, 5, seed=7)
    rows = with_cohort(splits, cohort)
    base_rate = cohort["label"].mean()
    for (fold, role), rate in rows.groupby(["fold", "role"])["label"].mean().items():
        assert rate == pytest.approx(base_rate, abs=0.07), (fold, role)


@pytest.mark.parametrize("timing", ["random", "time"])
def test_same_seed_same_frame_whatever_the_row_order(cohort, timing):
    first = make_splits(cohort, timing, 0.4, 3, seed=11)
    shuffled = cohort.sample(frac=1.0, random_state=3).reset_index(drop=True)
    second = make_splits(shuffled, timing, 0.4, 3, seed=11)
    pd.testing.assert_frame_equal(first, second)
    assert list(first.columns) == ["referral_id", "fold", "role"]
    assert first["fold"].dtype == np.int16
    assert first.equals(first.sort_values(["fold", "referral_id"]).reset_index(drop=True))


def test_other_seed_other_random_split(cohort):
    first = make_splits(cohort, "random", 0.4, 3, seed=1)
    second = make_splits(cohort, "random", 0.4, 3, seed=2)
    assert not first.equals(second)


def test_time_folds_without_positives_raise_input_error():
    cohort = toy_cohort(n_families=40, base_rate=0.03, seed=4)
    with pytest.raises(InputError, match="designs.time.inner_folds"):
        make_splits(cohort, "time", 0.333, 8, seed=7)


def test_at_the_minimum_of_two_folds_the_advice_is_not_fewer_folds():
    # an independent synthetic LA of 1,000 children: a time-ordered
    # validation block held no case with the outcome even with 2 folds
    cohort = toy_cohort(n_families=40, base_rate=0.03, seed=4)
    with pytest.raises(InputError, match="designs.time.inner_folds") as raised:
        make_splits(cohort, "time", 0.333, 8, seed=7)
    assert "reduce designs.time.inner_folds" in str(raised.value)
    cohort = toy_cohort(n_families=200, seed=1)
    splits = make_splits(cohort, "time", 0.333, 2, seed=7)
    last_block = splits.loc[(splits["fold"] == 1) & (splits["role"] == "validate"), "referral_id"]
    none_late = cohort.assign(
        label=cohort["label"].where(~cohort["referral_id"].isin(last_block), 0)
    )
    with pytest.raises(InputError, match="inner fold 1 validate set has 0 positive") as raised:
        make_splits(none_late, "time", 0.333, 2, seed=7)
    message = str(raised.value)
    assert "reduce designs.time.inner_folds" not in message
    assert "already at its minimum, 2" in message
    assert "designs.time.test_fraction" in message and "set its name to null" in message
    # the random design's advice names its own settings
    advice = too_few_for_folds(top_level_settings("random"), 2)
    assert "already at its minimum, 2" in advice and "designs.random.test_fraction" in advice
    assert too_few_for_folds(top_level_settings("random"), 3).endswith(
        "reduce designs.random.inner_folds."
    )


def test_messages_name_the_outcomes_own_setting_where_it_sets_one():
    # An outcome with its own time-ordered folds: the advice must name the key
    # that set them, or the LA would change the top-level one to no effect.
    cohort = toy_cohort(n_families=40, base_rate=0.03, seed=4)
    own = {
        "test_fraction": "designs.time.test_fraction",
        "inner_folds": "outcomes.esc.designs.time.inner_folds",
        "own": "outcomes.esc.designs.time",
    }
    with pytest.raises(InputError, match="inner fold") as raised:
        make_splits(cohort, "time", 0.333, 8, seed=7, settings=own)
    assert str(raised.value).endswith("reduce outcomes.esc.designs.time.inner_folds.")
    # A shared top-level size is named with the outcome's own key beside it:
    # changing the shared one would move every outcome's split.
    advice = too_few_for_folds(own, 2)
    assert (
        "a smaller designs.time.test_fraction (or outcomes.esc.designs.time.test_fraction "
        "for this outcome alone)" in advice
    )
    with pytest.raises(InputError, match=r"outcomes\.esc\.designs\.time\.inner_folds is 1"):
        make_splits(cohort, "time", 0.333, 1, seed=7, settings=own)


@pytest.mark.parametrize("inner_folds", [2, 3, 5])
def test_a_first_fold_without_known_outcomes_gets_advice_that_can_mend_it(inner_folds):
    # The reviewer's LA: fold 0 had too few cases to fit on with 2, 3 or 5
    # folds alike, so "reduce inner_folds" could not help. Here a two-year
    # horizon leaves no case whose outcome is known before fold 0 validates.
    cohort = toy_cohort(n_families=200, seed=1)
    long_horizon = cohort.assign(
        label_known_time=cohort["prediction_time"] + pd.Timedelta(days=730)
    )
    with pytest.raises(InputError, match="inner fold 0 fit set") as raised:
        make_splits(long_horizon, "time", 0.333, inner_folds, seed=7)
    message = str(raised.value)
    assert "horizon_months" in message and "designs.time.test_fraction" in message
    assert "reduce designs.time.inner_folds" not in message
    # following the advice, a shorter horizon, mends it
    make_splits(cohort, "time", 0.333, inner_folds, seed=7)


def test_missing_family_id_keeps_the_child_together(cohort):
    cohort = cohort.copy()
    cohort["family_id"] = cohort["family_id"].astype("string")
    cohort.loc[cohort["child_id"].str.startswith("c000"), "family_id"] = pd.NA
    splits = make_splits(cohort, "random", 0.4, 3, seed=7)
    rows = with_cohort(splits, cohort)
    per_child = rows[rows["fold"] == -1].groupby("child_id")["role"].nunique()
    assert (per_child == 1).all()


def test_rows_sharing_a_prediction_time_share_an_expanding_block():
    # Ranked by row order (the rows are sorted by pseudonymised id), the two
    # rows of 2020-01-06 fell on both sides of a boundary, by the key.
    days = ["01", "02", "03", "04", "05", "06", "06", "07"]
    times = pd.Series(pd.to_datetime([f"2020-01-{day}" for day in days]))
    blocks = expanding_blocks(times, 2)
    assert blocks.tolist() == [0, 0, 0, 0, 1, 1, 1, 2]
    reordered = expanding_blocks(times[::-1].reset_index(drop=True), 2)
    assert reordered.tolist() == blocks[::-1].tolist()


def test_helpers():
    assert fold_fraction(0.4) == (5, 2)
    assert fold_fraction(0.333) == (3, 1)
    assert fold_fraction(0.25) == (4, 1)
    times = pd.Series(pd.to_datetime(["2020-01-01", "2020-01-02", "2020-01-02", "2020-01-03"]))
    assert latest_rows(times, 0.25).tolist() == [False, False, False, True]
    assert latest_rows(times, 0.5).tolist() == [False, True, True, True]


def test_bad_settings_raise_input_error(cohort):
    with pytest.raises(InputError, match="test_fraction"):
        make_splits(cohort, "random", 1.2, 3, seed=7)
    with pytest.raises(InputError, match="timing"):
        make_splits(cohort, "calendar", 0.4, 3, seed=7)


def split_job(
    tmp_path, cohort: pd.DataFrame, inner_folds: int = 3, timing: str = "time"
) -> types.SimpleNamespace:
    """The ``snakemake`` object of a ``timing``-design split job for outcome "esc"."""
    cohort_path = tmp_path / "cohort.parquet"
    write_parquet(cohort, cohort_path, "cohort")
    paths = {table: str(tmp_path / f"{table}.parquet") for table in ("children", "referrals")}
    for table, frame in toy_records(cohort).items():
        write_parquet(frame, paths[table], table)
    return types.SimpleNamespace(
        input=types.SimpleNamespace(cohort=str(cohort_path), **paths),
        wildcards=types.SimpleNamespace(outcome="esc", timing=timing),
        params=types.SimpleNamespace(
            timing=timing,
            sizes={"test_fraction": 0.333, "inner_folds": inner_folds},
            size_settings=top_level_settings(timing),
            seed=7,
        ),
        output=types.SimpleNamespace(
            splits=str(tmp_path / "splits.parquet"),
            diagnostics=str(tmp_path / "diagnostics.parquet"),
        ),
        log=[str(tmp_path / "log.txt")],
        threads=1,
    )


def test_too_few_cases_names_the_outcome(tmp_path):
    cohort = toy_cohort(n_families=40, base_rate=0.03, seed=4)
    message = r"outcome 'esc', time design: inner fold \d .*designs.time.inner_folds"
    with pytest.raises(InputError, match=message):
        main(split_job(tmp_path, cohort, inner_folds=8))


def test_main_writes_schema(tmp_path, cohort):
    snakemake = split_job(tmp_path, cohort)
    main(snakemake)
    written = read_parquet(snakemake.output.splits, "splits")
    expected = make_splits(cohort, "time", 0.333, 3, seed=7)
    assert written["referral_id"].tolist() == expected["referral_id"].tolist()
    assert written["role"].tolist() == expected["role"].tolist()
    diagnostics = read_parquet(snakemake.output.diagnostics, "split_diagnostics")
    assert diagnostics["rows"].sum() == len(expected)


@pytest.mark.parametrize("timing", ["random", "time"])
def test_split_diagnostics_count_rows_positives_and_dates(cohort, timing):
    splits = make_splits(cohort, timing, 0.333, 3, seed=7)
    diagnostics = split_diagnostics(splits, cohort).set_index(["fold", "role"])
    labelled = splits.merge(cohort, on="referral_id")
    test = labelled[(labelled["fold"] == -1) & (labelled["role"] == "test")]
    row = diagnostics.loc[(-1, "test")]
    assert row["rows"] == len(test)
    assert row["positives"] == test["label"].sum()
    assert row["base_rate"] == pytest.approx(test["label"].mean())
    # to the month, as the first day of it: an exact first or last day can
    # point at one case
    assert row["first_prediction_time"] == test["prediction_time"].min().replace(day=1)
    assert row["last_prediction_time"] == test["prediction_time"].max().replace(day=1)
    times = diagnostics[["first_prediction_time", "last_prediction_time"]].stack()
    assert (times.dt.day == 1).all()
    assert (diagnostics["shared_families"] == 0).all()
    assert set(diagnostics.index.get_level_values("fold")) == {-1, 0, 1, 2}


@pytest.mark.parametrize("timing", ["random", "time"])
def test_the_log_gives_prediction_times_to_the_month(tmp_path, cohort, timing, caplog):
    with caplog.at_level(logging.INFO):
        main(split_job(tmp_path, cohort, timing=timing))
    assert re.search(r"fold -1 test .*, \d{4}-\d{2} to \d{4}-\d{2}$", caplog.text, re.M)
    if timing == "time":
        assert re.search(r"time design: test from \d{4}-\d{2}: ", caplog.text)
    assert not re.search(r"\d{4}-\d{2}-\d{2}", caplog.text)


def test_split_diagnostics_count_families_on_both_sides(cohort):
    splits = make_splits(cohort, "random", 0.4, 3, seed=7)
    outer = splits[splits["fold"] == -1]
    family = cohort.set_index("referral_id")["family_id"]
    test_families = family[outer.loc[outer["role"] == "test", "referral_id"]]
    test_family = test_families[test_families.duplicated()].iloc[0]
    sibling = cohort.loc[cohort["family_id"] == test_family, "referral_id"].iloc[0]
    planted = splits.copy()
    moved = (planted["fold"] == -1) & (planted["referral_id"] == sibling)
    planted.loc[moved, "role"] = "train"
    diagnostics = split_diagnostics(planted, cohort).set_index(["fold", "role"])
    assert diagnostics.loc[(-1, "train"), "shared_families"] == 1
    assert diagnostics.loc[(-1, "test"), "shared_families"] == 1
