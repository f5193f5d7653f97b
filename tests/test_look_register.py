"""The register of looks at the test sets: one row per new summary, kept
across runs, with the config, version and deciding verdicts."""

from __future__ import annotations

import csv
import os
import subprocess
from pathlib import Path

import pytest
from look_register import (
    config_fingerprint,
    deciding_verdicts,
    look,
    register_look,
    workflow_version,
)

SUMMARY_HEADER = "outcome,design,average_precision,ap_ci_lower,ap_ci_upper,verdict,decides\n"


def write_summary(path: Path, escalation_ap: str, modified: int) -> Path:
    path.write_text(
        SUMMARY_HEADER
        + f"esc,time_text,{escalation_ap},0.2000,0.5200,does not meet the bar,True\n"
        + "esc,time_structured,0.2351,0.1388,0.3310,does not meet the bar,False\n"
        + "nfa,time_text,0.1276,0.0351,0.2726,does not meet the bar,True\n",
        encoding="utf-8",
    )
    os.utime(path, (modified, modified))
    return path


def rows(register: Path) -> list[dict[str, str]]:
    with register.open(newline="", encoding="utf-8") as handle:
        return list(csv.DictReader(handle, delimiter="\t"))


def test_a_new_summary_adds_a_row_and_an_unchanged_one_does_not(tmp_path):
    register = tmp_path / "test_set_looks.tsv"
    summary = write_summary(tmp_path / "summary.csv", "0.3609", modified=1_700_000_000)
    assert register_look(register, look(summary, {"seed": 1}, "abc"))
    # a run that wrote no new summary (nothing to do, or an earlier stage only)
    assert not register_look(register, look(summary, {"seed": 1}, "abc"))
    write_summary(summary, "0.4100", modified=1_700_000_600)
    assert register_look(register, look(summary, {"seed": 2}, "abc"))
    # the same bytes written again later are another look
    write_summary(summary, "0.3609", modified=1_700_001_200)
    assert register_look(register, look(summary, {"seed": 1}, "abc"))
    looks = rows(register)
    assert [row["summary_written_utc"] for row in looks] == [
        "2023-11-14T22:13:20Z",
        "2023-11-14T22:23:20Z",
        "2023-11-14T22:33:20Z",
    ]
    assert looks[0]["summary_sha256"] == looks[2]["summary_sha256"] != looks[1]["summary_sha256"]
    assert looks[0]["config_sha256"] == looks[2]["config_sha256"] != looks[1]["config_sha256"]


def test_deciding_verdicts_name_the_deciding_designs_only(tmp_path):
    summary = write_summary(tmp_path / "summary.csv", "0.3609", modified=1_700_000_000)
    assert deciding_verdicts(summary) == (
        "esc time_text: does not meet the bar (AP 0.3609, 95% 0.2000 to 0.5200); "
        "nfa time_text: does not meet the bar (AP 0.1276, 95% 0.0351 to 0.2726)"
    )


def test_the_config_fingerprint_ignores_key_order_but_not_values():
    assert config_fingerprint({"a": 1, "b": {"c": 2, "d": 3}}) == config_fingerprint(
        {"b": {"d": 3, "c": 2}, "a": 1}
    )
    assert config_fingerprint({"a": 1}) != config_fingerprint({"a": 2})


def test_the_version_is_the_commit_and_says_when_files_differ_from_it(tmp_path):
    assert workflow_version(str(tmp_path)) == "unknown"

    def git(*args: str) -> str:
        return subprocess.run(
            ["git", "-C", str(tmp_path), "-c", "user.name=t", "-c", "user.email=t@t", *args],
            check=True,
            capture_output=True,
            text=True,
        ).stdout.strip()

    git("init", "-q")
    (tmp_path / "Snakefile").write_text("rule all:\n")
    git("add", "Snakefile")
    git("commit", "-q", "-m", "first")
    commit = git("rev-parse", "--short=12", "HEAD")
    assert workflow_version(str(tmp_path)) == commit
    # an LA's config written but not committed
    (tmp_path / "la3.yaml").write_text("la: la3\n")
    assert workflow_version(str(tmp_path)) == f"{commit}+uncommitted changes"
    (tmp_path / "la3.yaml").unlink()
    (tmp_path / "Snakefile").write_text("rule all:\n    input: []\n")
    assert workflow_version(str(tmp_path)) == f"{commit}+uncommitted changes"


def test_a_summary_from_before_the_decides_column_is_registered_as_unknown(tmp_path):
    summary = tmp_path / "summary.csv"
    summary.write_text(
        "outcome,design,average_precision,verdict\nesc,time_text,0.3,does not meet the bar\n",
        encoding="utf-8",
    )
    assert deciding_verdicts(summary).startswith("unknown: the summary has no decides column")


def test_an_empty_register_gets_a_header_and_one_with_other_columns_is_refused(tmp_path):
    summary = write_summary(tmp_path / "summary.csv", "0.3609", modified=1_700_000_000)
    register = tmp_path / "test_set_looks.tsv"
    register.touch()
    assert register_look(register, look(summary, {}, "abc"))
    assert len(rows(register)) == 1
    edited = tmp_path / "edited.tsv"
    edited.write_text("when\tverdict\n2026-01-01\tyes\n", encoding="utf-8")
    with pytest.raises(ValueError, match="its header is"):
        register_look(edited, look(summary, {}, "abc"))
