"""Shared test set-up: scripts are importable as modules, and tiny canonical
tables are at hand."""

from __future__ import annotations

import sys
from pathlib import Path

import pandas as pd
import pytest

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "workflow" / "scripts"))


# The escalation outcome of the default config, as build_cohort receives it.
ESCALATION = {
    "type": "escalation",
    "events": ["cp_plan", "care_episode"],
    "horizon_months": 3,
    "prediction_offset_days": 14,
    "text_window_days": 21,
    "exclude_already_escalated": True,
}


def dates(*values: str | None) -> pd.Series:
    """A datetime64[ms] series from ISO strings (None for missing)."""
    return pd.Series(pd.to_datetime(list(values), format="ISO8601")).astype("datetime64[ms]")


@pytest.fixture
def tables() -> dict[str, pd.DataFrame]:
    """Canonical tables of three children in two families.

    Child a (family f1) has two referrals: r1 closed NFA and re-referred (r2)
    within 12 months; r2 leads to a plan within 3 months of its prediction
    point. Child b (f1) has one referral without NFA. Child c (f2) is 18 at
    referral and falls outside the population.
    """
    children = pd.DataFrame(
        {
            "child_id": ["a", "b", "c"],
            "family_id": ["f1", "f1", "f2"],
            "sex": ["F", "M", "U"],
            "birth_month": dates("2010-05-01", "2012-01-01", "2000-01-01"),
            "ethnicity": ["WBRI", "WBRI", "BAFR"],
            "disability": [False, True, False],
        }
    )
    referrals = pd.DataFrame(
        {
            "referral_id": ["r1", "r2", "r3", "r4"],
            "child_id": ["a", "a", "b", "c"],
            "referral_date": dates("2016-01-10", "2016-06-01", "2016-03-01", "2018-06-01"),
            "referral_source": ["6", "2A", "6", "1A"],
            "primary_need": ["N1", "N1", "N4", "N4"],
            "nfa": [True, False, False, False],
            "closure_date": dates("2016-01-20", "2017-01-01", "2016-09-01", None),
            "closure_reason": ["RC8", "RC7", "RC7", None],
        }
    )
    assessments = pd.DataFrame(
        {
            "assessment_id": ["s1", "s2"],
            "referral_id": ["r1", "r2"],
            "child_id": ["a", "a"],
            "start_date": dates("2016-01-11", "2016-06-02"),
            "authorisation_date": dates("2016-01-15", "2016-08-01"),
            "factors": [["3B", "4B"], ["16A"]],
        }
    )
    section47 = pd.DataFrame(
        {
            "referral_id": ["r2"],
            "child_id": ["a"],
            "start_date": dates("2016-06-05"),
            "icpc_date": dates("2016-06-20"),
        }
    )
    cp_plans = pd.DataFrame(
        {
            "referral_id": ["r2"],
            "child_id": ["a"],
            "start_date": dates("2016-07-01"),
            "end_date": dates("2017-01-01"),
            "category": ["NEG"],
        }
    )
    care_episodes = pd.DataFrame(
        {
            "child_id": pd.Series([], dtype="str"),
            "start_date": dates(),
            "end_date": dates(),
            "legal_status": pd.Series([], dtype="str"),
            "placement": pd.Series([], dtype="str"),
        }
    )
    return {
        "children": children,
        "referrals": referrals,
        "assessments": assessments,
        "section47": section47,
        "cp_plans": cp_plans,
        "care_episodes": care_episodes,
    }
