"""Helpers of workflow/rules/common.smk that rules and handlers call: split
sizes per outcome, and the register of looks, which must never fail a run."""

import types

import yaml
from conftest import ROOT, common_smk


def test_an_outcomes_own_split_sizes_override_the_top_level_ones(monkeypatch):
    outcomes = yaml.safe_load((ROOT / "config" / "config.yaml").read_text())["outcomes"]
    outcomes["nfa_rereferral"]["designs"] = {"time": {"inner_folds": 2}}
    helpers = common_smk(monkeypatch, {"outcomes": outcomes})
    rare = types.SimpleNamespace(outcome="nfa_rereferral", timing="time")
    assert helpers["split_sizes"](rare) == {"test_fraction": 0.333, "inner_folds": 2}
    assert helpers["split_size_settings"](rare) == {
        "test_fraction": "designs.time.test_fraction",
        "inner_folds": "outcomes.nfa_rereferral.designs.time.inner_folds",
        "own": "outcomes.nfa_rereferral.designs.time",
    }
    for other in (
        types.SimpleNamespace(outcome="escalation", timing="time"),
        types.SimpleNamespace(outcome="nfa_rereferral", timing="random"),
    ):
        assert helpers["split_sizes"](other) == helpers["config"]["designs"][other.timing]


def test_a_register_that_cannot_be_appended_to_warns_and_fails_nothing(
    monkeypatch, tmp_path, capsys
):
    helpers = common_smk(monkeypatch, {})
    helpers["RESULTS"] = str(tmp_path)
    (tmp_path / "summary.csv").write_text(
        "outcome,design,average_precision,ap_ci_lower,ap_ci_upper,verdict,decides\n"
        "esc,time_text,0.3609,0.2000,0.5200,does not meet the bar,True\n",
        encoding="utf-8",
    )
    register = tmp_path / "test_set_looks.tsv"
    # renamed columns, as a spreadsheet might save it
    register.write_text("when\tsha\n2026-01-01\tabc\n", encoding="utf-8")
    helpers["register_test_set_look"]()
    warning = capsys.readouterr().err
    assert f"not registered in {register}" in warning and "restore its header" in warning
    assert register.read_text(encoding="utf-8") == "when\tsha\n2026-01-01\tabc\n"
    register.unlink()
    helpers["register_test_set_look"]()
    assert register.read_text(encoding="utf-8").count("\n") == 2
    assert capsys.readouterr().err == ""
