"""Tests for the selection caution of workflow/scripts/report_wording.py."""

import pandas as pd
import pytest

from report_wording import Disclosure, listed, selection_caution, thin_inner_sets


def diagnostics(rows: list[tuple[int, str, int]]) -> pd.DataFrame:
    """A split's fold table: (fold, role, positives) per row."""
    return pd.DataFrame(rows, columns=["fold", "role", "positives"])


FOLDS = diagnostics(
    [
        (-1, "test", 3),
        (-1, "train", 40),
        (0, "fit", 6),
        (0, "validate", 9),
        (1, "fit", 15),
        (1, "validate", 10),
        (2, "fit", 25),
        (2, "validate", 2),
    ]
)


def test_thin_inner_sets_are_the_inner_folds_below_the_bound_by_role():
    # the outer test set is small too, but it chooses nothing
    assert thin_inner_sets(FOLDS, 10) == {"fit": [0], "validate": [0, 2]}
    assert thin_inner_sets(FOLDS, 2) == {}
    assert thin_inner_sets(FOLDS, 3) == {"validate": [2]}


def test_the_caution_names_the_sets_and_the_setting():
    caution = selection_caution(thin_inner_sets(FOLDS, 10), 10, Disclosure(10), "time-ordered")
    assert caution.startswith(
        "Model selection rests on few cases with the outcome: in the time-ordered split, "
        "the fit set of inner fold 0 and the validation sets of inner folds 0 and 2 hold "
        "fewer than 10 each (evaluation.min_inner_positives)."
    )
    assert "largely chance" in caution and "test AP" in caution
    # the answer's brief form names the same sets, and leaves the advice to the
    # fold table's
    brief = selection_caution(
        thin_inner_sets(FOLDS, 10), 10, Disclosure(10), "time-ordered", brief=True
    )
    assert brief.startswith(
        caution.split(". ")[0].removesuffix(" (evaluation.min_inner_positives)")
    )
    assert brief.endswith(
        "(evaluation.min_inner_positives), so which model was selected is largely chance "
        "(see that split's fold table)."
    )
    assert "test AP" not in brief
    assert selection_caution({}, 10, Disclosure(10), "time-ordered") == ""


@pytest.mark.parametrize(("min_positives", "stated"), [(3, 10), (10, 10), (20, 20)])
def test_the_stated_bound_never_reveals_a_count_below_the_disclosure_count(min_positives, stated):
    # "fewer than 3" would say a set holds 0 to 2 cases: below min_count
    caution = selection_caution({"validate": [2]}, min_positives, Disclosure(10))
    assert f"the validation set of inner fold 2 holds fewer than {stated} (" in caution


def test_listed_joins_as_english_does():
    assert listed([0]) == "0"
    assert listed([0, 1]) == "0 and 1"
    assert listed(["a", "b", "c"]) == "a, b and c"
