"""Tests for the selection caution of workflow/scripts/report_wording.py."""

import pandas as pd
import pytest

from report_wording import Disclosure, answer_design, selection_caution


def diagnostics(rows: list[tuple[int, str, int]]) -> pd.DataFrame:
    """A split's fold table: (fold, role, positives) per row."""
    return pd.DataFrame(rows, columns=["fold", "role", "positives"])


FOLDS = diagnostics(
    [
        (-1, "test", 3),
        (-1, "train", 40),
        (0, "fit", 12),
        (0, "validate", 9),
        (1, "fit", 21),
        (1, "validate", 19),
    ]
)


def test_the_caution_says_why_a_choice_on_few_cases_is_chance():
    caution = selection_caution(FOLDS, 10, Disclosure(10))
    assert caution.startswith(
        "Model selection rests on few cases with the outcome: some inner fit or validation "
        "sets of this split hold fewer than 10 (evaluation.min_inner_positives). On so few,"
    )
    assert "largely chance" in caution and "test AP" in caution
    # the answer's brief form names the split and leaves the advice to the fold table's
    brief = selection_caution(FOLDS, 10, Disclosure(10), "the time-ordered split", brief=True)
    assert brief == (
        "Model selection rests on few cases with the outcome: some inner fit or validation "
        "sets of the time-ordered split hold fewer than 10 (evaluation.min_inner_positives), "
        "so which model was selected is largely chance (see its fold table)."
    )


def test_only_the_inner_sets_count():
    # the outer test set is small too, but it chooses nothing
    assert selection_caution(FOLDS, 9, Disclosure(9)) == ""
    assert "fewer than 13" in selection_caution(FOLDS, 13, Disclosure(10))


@pytest.mark.parametrize("min_positives", [3, 10, 20])
def test_the_bound_is_never_below_the_disclosure_count(min_positives):
    # "fewer than 3" would say a set holds 1 or 2: below min_count; the bound
    # is the one judged and stated
    stated = max(min_positives, 10)
    assert f"hold fewer than {stated} " in selection_caution(FOLDS, min_positives, Disclosure(10))


def test_the_deciding_design_is_of_the_time_ordered_split():
    assert answer_design(["structured", "text"]) == "time_text"
    assert answer_design(["structured"]) == "time_structured"
