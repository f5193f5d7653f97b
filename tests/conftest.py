"""Shared test set-up: scripts are importable as modules, and tiny canonical
tables are at hand."""

from __future__ import annotations

import copy
import shutil
import subprocess
import sys
import types
from pathlib import Path

import pandas as pd
import pytest
import yaml

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "workflow" / "scripts"))
BIN = Path(sys.executable).parent
# What a scratch copy needs to run the workflow on synthetic data.
WORKFLOW_FILES = (
    "Snakefile",
    "workflow",
    "config",
    "envs",
    "resources/vulnerability_lexicon.yaml",
    "resources/code_lists.yaml",
    "resources/first_names",
)
# The tiny synthetic LA of the end-to-end tests, as config/tiny.yaml.
TINY_CONFIG = {
    "la": "tiny",
    "synthetic": {"seed": 5, "n_children": 1500},
    "topics": {"num_topics": [4, 6], "passes": 4, "iterations": 50},
    "models": {"search_iterations": 3},
    "designs": {"time": {"inner_folds": 2}},
}
# Result files compared byte for byte between runs.
COMPARED_SUFFIXES = (".parquet", ".csv", ".html", ".png")


def scratch_copy(source_root: Path, work: Path) -> None:
    """Copy what the workflow needs to run into ``work``."""
    for item in WORKFLOW_FILES:
        source, target = source_root / item, work / item
        target.parent.mkdir(parents=True, exist_ok=True)
        if source.is_dir():
            shutil.copytree(
                source, target, dirs_exist_ok=True, ignore=shutil.ignore_patterns("__pycache__")
            )
        else:
            shutil.copy(source, target)


def tiny_copy(work: Path) -> None:
    """A scratch copy of the workflow in ``work`` with the tiny LA's config."""
    scratch_copy(ROOT, work)
    (work / "config" / "tiny.yaml").write_text(yaml.safe_dump(TINY_CONFIG))


def snakemake_environment(cwd: Path, extra: dict[str, str] | None = None) -> dict[str, str]:
    """A minimal environment for Snakemake: this venv first, HOME in the work folder."""
    return {"PATH": f"{BIN}:/usr/bin:/bin", "HOME": str(cwd), **(extra or {})}


def snakemake(
    *args: str, cwd: Path = ROOT, extra_env: dict[str, str] | None = None
) -> subprocess.CompletedProcess:
    """Run the Snakemake CLI of this environment."""
    return subprocess.run(
        [str(BIN / "snakemake"), *args],
        cwd=cwd,
        capture_output=True,
        text=True,
        env=snakemake_environment(cwd, extra_env),
    )


def differing_results(first: Path, second: Path) -> tuple[int, list[str]]:
    """Compare the result files under two results folders byte for byte.

    Returns how many files were compared and the relative paths that differ
    or are missing from ``second``.
    """
    compared, differing = 0, []
    for path in sorted(first.rglob("*")):
        if path.suffix in COMPARED_SUFFIXES:
            twin = second / path.relative_to(first)
            if not twin.exists() or path.read_bytes() != twin.read_bytes():
                differing.append(str(path.relative_to(first)))
            compared += 1
    return compared, differing


# The NFA re-referral outcome of the default config, as build_cohort receives it.
NFA = {
    "type": "nfa_rereferral",
    "horizon_months": 12,
    "prediction_offset_days": 1,
    "text_window_days": 7,
}

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


@pytest.fixture(scope="session")
def tiny_run(tmp_path_factory) -> Path:
    """Run the whole workflow once on the tiny synthetic LA in a scratch copy."""
    work = tmp_path_factory.mktemp("workflow")
    tiny_copy(work)
    result = snakemake("--cores", "2", "--configfile", "config/tiny.yaml", cwd=work)
    assert result.returncode == 0, result.stdout[-5000:] + result.stderr[-5000:]
    return work


def common_smk(monkeypatch, overrides: dict) -> dict:
    """The names workflow/rules/common.smk defines for the default config with
    ``overrides`` (top-level keys replaced; ``la`` named as an LA's own file
    would, since the bundled LA's name is refused for other data), run from
    the repository."""
    monkeypatch.chdir(ROOT)
    config = yaml.safe_load((ROOT / "config" / "config.yaml").read_text())
    config.update({"la": "demo_key_test", **copy.deepcopy(overrides)})
    # The default config sets every key these helpers read, so Snakemake's
    # schema check (which needs a running workflow) is skipped.
    workflow = types.SimpleNamespace(
        basedir=str(ROOT), modifier=types.SimpleNamespace(skip_validation=True)
    )
    namespace = {"config": config, "workflow": workflow}
    source = (ROOT / "workflow" / "rules" / "common.smk").read_text()
    exec(compile(source, "common.smk", "exec"), namespace)
    return namespace
