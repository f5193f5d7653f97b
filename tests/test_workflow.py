"""The workflow as a whole: configs, lint, pinned environments and an end-to-end
run on a tiny synthetic LA."""

from __future__ import annotations

import ast
import hashlib
import html
import re
import shutil
import subprocess
from pathlib import Path

import pandas as pd
import pyarrow.parquet as pq
import pytest
import yaml
from conftest import BIN, ROOT, scratch_copy, snakemake

from common import DECIDING_TIMING, SCHEMAS
from evaluate_models import BASELINES
from report_wording import Disclosure, selection_caution

CONFIGS = sorted((ROOT / "config").glob("*.yaml"))
DESIGNS = ["random_structured", "random_text", "time_structured", "time_text"]


@pytest.mark.parametrize("config", CONFIGS, ids=[c.name for c in CONFIGS])
def test_every_config_dry_runs(config):
    result = snakemake("-n", "--cores", "2", "--configfile", str(config))
    assert result.returncode == 0, result.stdout + result.stderr


def test_snakemake_lint_is_clean():
    result = snakemake("--lint")
    assert result.returncode == 0, result.stdout + result.stderr


def test_snakefmt_and_ruff_are_clean():
    for command in (
        ["snakefmt", "--check", "."],
        ["ruff", "check", "."],
        ["ruff", "format", "--check", "."],
    ):
        result = subprocess.run(
            [str(BIN / command[0]), *command[1:]], cwd=ROOT, capture_output=True, text=True
        )
        assert result.returncode == 0, f"{command}: {result.stdout}{result.stderr}"


def test_scripts_run_under_snakemake_script_directive():
    # Snakemake prepends a preamble to each script, so a __future__ import,
    # which must come first in a file, breaks the job with a SyntaxError.
    for script in sorted((ROOT / "workflow" / "scripts").glob("*.py")):
        assert "from __future__" not in script.read_text(), script.name


def lock_pins() -> dict[str, str]:
    pins = {}
    for line in (ROOT / "requirements.lock").read_text().splitlines():
        if line and not line.startswith("#"):
            name, version = line.split("==")
            pins[name.lower().replace("_", "-")] = version
    return pins


def test_conda_environments_use_the_lock_pins():
    pins = lock_pins()
    for env_file in sorted((ROOT / "envs").glob("*.yaml")):
        env = yaml.safe_load(env_file.read_text())
        pip = next(d["pip"] for d in env["dependencies"] if isinstance(d, dict))
        assert "python=3.11" in env["dependencies"]
        for requirement in pip:
            name, version = requirement.split("==")
            assert pins[name.lower()] == version, f"{env_file.name}: {requirement}"


def test_pyproject_pins_agree_with_the_lock():
    pins = lock_pins()
    text = (ROOT / "pyproject.toml").read_text()
    for name, version in re.findall(r'"([A-Za-z0-9_.-]+)==([^"]+)"', text):
        assert pins[name.lower()] == version, name


def test_every_rule_names_log_benchmark_environment_and_resources():
    for rule_file in sorted((ROOT / "workflow" / "rules").glob("*.smk")):
        for block in re.split(r"\n(?=rule )", rule_file.read_text()):
            if not block.startswith("rule "):
                continue
            name = block.split()[1].rstrip(":")
            directives = ["log:", "benchmark:", "conda:", "threads:", "mem_mb=", "output:"]
            for directive in directives:
                assert directive in block, f"{rule_file.name}: rule {name} lacks {directive}"


def sibling_imports(script: str) -> set[str]:
    """The workflow's own modules (not common) a script imports directly."""
    folder = ROOT / "workflow" / "scripts"
    tree = ast.parse((folder / f"{script}.py").read_text(encoding="utf-8"))
    names = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.module:
            names.add(node.module)
        elif isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
    return {n for n in names if n != "common" and (folder / f"{n}.py").is_file()}


def test_rules_list_the_scripts_their_script_imports():
    # Snakemake tracks only a rule's own script: editing a module it imports
    # must rerun it too, so the rule lists imported_scripts(<its script>).
    for rule_file in sorted((ROOT / "workflow" / "rules").glob("*.smk")):
        for block in re.split(r"\n(?=rule )", rule_file.read_text()):
            script = re.search(r'"\.\./scripts/(\w+)\.py"', block)
            if not block.startswith("rule ") or not script:
                continue
            if sibling_imports(script.group(1)):
                assert f'imported_scripts("{script.group(1)}")' in block, script.group(1)


def test_snakemake_report_embeds_no_parquet():
    # Snakemake's report cannot tell Parquet's type and shows it as binary text.
    for rule_file in sorted((ROOT / "workflow" / "rules").glob("*.smk")):
        embedded = re.findall(r'report\(\s*f?"([^"]*)"', rule_file.read_text())
        assert embedded or rule_file.name != "report.smk"
        assert not [path for path in embedded if path.endswith(".parquet")], rule_file.name


@pytest.mark.e2e
def test_end_to_end_outputs_follow_their_schemas(tiny_run):
    results = tiny_run / "results" / "tiny"
    for name in ("children", "referrals", "assessments", "section47", "cp_plans", "care_episodes"):
        schema = pq.read_schema(results / "ingest" / f"{name}.parquet").remove_metadata()
        assert schema.equals(SCHEMAS[name]), name
    summary = pd.read_parquet(results / "summary.parquet")
    assert pq.read_schema(results / "summary.parquet").remove_metadata().equals(SCHEMAS["summary"])
    assert len(summary) == 2 * len(DESIGNS)
    assert set(summary["design"]) == set(DESIGNS)
    assert (results / "report" / "index.html").stat().st_size > 10_000


@pytest.mark.e2e
def test_report_and_cards_caution_when_few_cases_chose_the_model(tiny_run):
    # Under each split with an inner set short of cases with the outcome, and,
    # for the deciding (time-ordered) split, after the answer and in the card.
    results = tiny_run / "results" / "tiny"
    report = html.unescape((results / "report" / "index.html").read_text(encoding="utf-8"))
    answers = report.split("<h2>The answer</h2>", 1)[1].split("<h2>", 1)[0]
    expected = 0
    for path in sorted((results / "splits").glob("*/*_diagnostics.parquet")):
        outcome, timing = path.parent.name, path.name.removesuffix("_diagnostics.parquet")
        folds = pd.read_parquet(path)
        caution = selection_caution(folds, 10, Disclosure(10))
        if caution:
            assert caution in report
            expected += 1
        if timing == DECIDING_TIMING:
            answer = answers.split(f"<b>{outcome}</b>", 1)[1].split("</li>", 1)[0]
            card = (results / "model_cards" / f"{outcome}.md").read_text(encoding="utf-8")
            split = "the time-ordered split"
            brief = selection_caution(folds, 10, Disclosure(10), split, brief=True)
            full = selection_caution(folds, 10, Disclosure(10), split)
            for shown, said in ((answer, brief), (card, full)):
                assert (said in shown) if said else ("Model selection rests" not in shown)
            expected += bool(brief)
    assert report.count("Model selection rests on few cases") == expected
    # the tiny LA's NFA re-referral time split has inner sets of 2 to 11
    assert expected >= 2


# Training positives a design needs before the tiny LA can show its signal: the
# time-ordered NFA design trains on about 26 (its 12-month horizon keeps a year
# of cases out of training), too few for a stable result.
MIN_TRAINING_POSITIVES = 50


@pytest.mark.e2e
def test_end_to_end_models_find_the_planted_signal(tiny_run):
    results = tiny_run / "results" / "tiny"
    summary = pd.read_parquet(results / "summary.parquet")
    powered = []
    for row in summary.loc[summary["design"].str.endswith("_text")].itertuples():
        timing = row.design.split("_")[0]
        folds = pd.read_parquet(results / "splits" / row.outcome / f"{timing}_diagnostics.parquet")
        outer_train = folds.loc[(folds["fold"] == -1) & (folds["role"] == "train")]
        if outer_train["positives"].iloc[0] >= MIN_TRAINING_POSITIVES:
            powered.append(row)
    assert len(powered) >= 3, summary.to_string()
    # The signal reaches the models: the best fitted model of each design finds
    # it. Which model the inner folds select is noisy on a few dozen positives
    # (docs/study_designs.md, the seeds' spread), so the selected one need only
    # beat the base rate.
    for row in powered:
        metrics = pd.read_parquet(
            results / "evaluation" / row.outcome / row.design / "metrics.parquet"
        )
        fitted = metrics.loc[~metrics["model"].isin(BASELINES)]
        assert fitted["average_precision"].max() > 1.5 * row.base_rate, metrics.to_string()
        assert row.average_precision > row.base_rate, summary.to_string()


@pytest.mark.e2e
def test_end_to_end_second_run_has_nothing_to_do(tiny_run):
    result = snakemake("-n", "--cores", "2", "--configfile", "config/tiny.yaml", cwd=tiny_run)
    assert result.returncode == 0
    assert "Nothing to be done" in result.stdout + result.stderr


@pytest.mark.e2e
def test_the_run_registered_its_look_at_the_test_sets_and_a_run_with_nothing_to_do_did_not(
    tiny_run,
):
    register = tiny_run / "results" / "tiny" / "test_set_looks.tsv"
    before = register.read_bytes()
    looks = pd.read_csv(register, sep="\t")
    summary = (tiny_run / "results" / "tiny" / "summary.csv").read_bytes()
    assert looks["summary_sha256"].iloc[-1] == hashlib.sha256(summary).hexdigest()[:16]
    assert looks["deciding_verdicts"].iloc[-1].startswith("escalation time_text: ")
    result = snakemake("--cores", "1", "--configfile", "config/tiny.yaml", cwd=tiny_run)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    assert register.read_bytes() == before


@pytest.mark.e2e
def test_no_planted_identifier_reaches_results_or_logs(tiny_run):
    raw = tiny_run / "resources" / "synthetic" / "generated" / "seed5_n1500"
    people = pd.read_csv(raw / "people.csv", dtype=str)
    children = pd.read_csv(raw / "children.csv", dtype=str)
    referrals = pd.read_csv(raw / "referrals.csv", dtype=str)
    identifiers = set(children["LAchildID"]) | set(children["NHSNumber"]) | set(children["UPN"])
    identifiers |= set(children["Postcode"]) | set(people["CarerEmail"]) | set(people["CarerPhone"])
    identifiers |= set(referrals["CINdetailsID"])
    # Short enough to occur inside an embedded image's base64 by chance: matched
    # as whole words, as surnames are.
    whole_words = set(people["ChildLastName"]) | set(children["FamilyID"])
    any_identifier = substring_pattern(identifiers)
    results = tiny_run / "results" / "tiny"
    for path in sorted(results.rglob("*")):
        if path.suffix == ".parquet":
            frame = pq.read_table(path).to_pandas()
            text = " ".join(
                frame[c].astype(str).str.cat(sep=" ")
                for c in frame.columns
                if frame[c].dtype == object or str(frame[c].dtype) in ("str", "string")
            )
        elif path.is_file() and path.suffix in (".log", ".csv", ".html", ".tsv"):
            text = path.read_text(encoding="utf-8", errors="replace")
        else:
            continue
        words = set(re.findall(r"[A-Za-z0-9@.'+-]+", text))
        leaked = whole_words & words
        if any_identifier.search(text):
            leaked |= {i for i in identifiers if i in text}
        assert not leaked, f"{path}: {sorted(leaked)[:5]}"


def test_the_identifier_pattern_finds_exactly_the_texts_holding_one():
    identifiers = {"C123", "C1234", "ab@x.org", "07700 900123", "AB1 2CD"}
    pattern = substring_pattern(identifiers)
    for text in ("ref C1234.", "call 07700 900123", "mail ab@x.org", "AB1 2CDX"):
        assert pattern.search(text), text
    for text in ("C12 3", "07700 90012", "ab@x.or", "AB1 2C", "c123"):
        assert not pattern.search(text), text


def substring_pattern(words: set[str]) -> re.Pattern:
    """A pattern found wherever any of ``words`` occurs in a text, built as a
    trie of their characters: testing each of ~10,000 identifiers against
    megabytes of notes one by one takes minutes, this seconds. A word that is
    a prefix of another ends the branch: finding it is enough."""
    trie: dict = {}
    for word in words:
        node = trie
        for character in word:
            node = node.setdefault(character, {})
        node[""] = {}

    def branch(node: dict) -> str:
        if "" in node:
            return ""
        options = [re.escape(c) + branch(child) for c, child in sorted(node.items())]
        return options[0] if len(options) == 1 else "(?:" + "|".join(options) + ")"

    return re.compile(branch(trie))


def planned_jobs(
    work: Path, configfile: str, extra_env: dict[str, str] | None = None
) -> dict[str, int]:
    """Jobs per rule a dry run would execute, from its job-stats table."""
    result = snakemake(
        "-n", "--cores", "2", "--configfile", configfile, cwd=work, extra_env=extra_env
    )
    assert result.returncode == 0, result.stdout + result.stderr
    return job_counts(result.stdout + result.stderr)


def job_counts(output: str) -> dict[str, int]:
    """Jobs per rule in a dry run's output, from its job-stats table."""
    if "Nothing to be done" in output:
        return {}
    stats = output.split("Job stats:")[1].split("total")[0]
    rows = [line.split() for line in stats.splitlines()[3:] if line.strip()]
    return {rule: int(count) for rule, count in rows}


def planned_rules(work: Path, configfile: str, extra_env: dict[str, str] | None = None) -> set[str]:
    """Rules a dry run would execute."""
    return set(planned_jobs(work, configfile, extra_env))


def changed_config(work: Path, name: str, change: dict) -> str:
    """Write the tiny config with ``change`` merged in; return its path."""
    config = yaml.safe_load((work / "config" / "tiny.yaml").read_text())
    for key, value in change.items():
        config[key] = {**config.get(key, {}), **value}
    (work / "config" / name).write_text(yaml.safe_dump(config))
    return f"config/{name}"


DOWNSTREAM_OF_TRAINING = {
    "train_models",
    "evaluate_models",
    "assess_fairness",
    "learning_curve",
    "accumulated_local_effects",
    "summarise_results",
    "render_report",
    "write_model_card",
}


@pytest.mark.e2e
def test_changing_a_hyperparameter_reruns_only_training_and_after(tiny_run):
    configfile = changed_config(tiny_run, "lr.yaml", {"models": {"search_iterations": 4}})
    assert planned_rules(tiny_run, configfile) == DOWNSTREAM_OF_TRAINING | {"all"}


@pytest.mark.e2e
def test_changing_the_topic_grid_reruns_topics_and_after_not_ingestion(tiny_run):
    configfile = changed_config(tiny_run, "topics.yaml", {"topics": {"num_topics": [4, 5]}})
    assert (
        planned_rules(tiny_run, configfile)
        == {"fit_topics", "audit_features", "all"} | DOWNSTREAM_OF_TRAINING
    )


@pytest.mark.e2e
def test_an_outcomes_own_split_size_reruns_only_its_own_split_and_after(tiny_run):
    # One rare outcome needing fewer folds must leave the others' splits alone.
    own = changed_config(
        tiny_run,
        "own_folds.yaml",
        {"outcomes": {"escalation": {"designs": {"time": {"inner_folds": 3}}}}},
    )
    jobs = planned_jobs(tiny_run, own)
    assert jobs["make_splits"] == 1 and jobs["train_models"] == 2
    assert not {"build_cohort", "build_structured_features"} & set(jobs)


@pytest.mark.e2e
def test_changing_a_text_window_or_excluded_features_reruns_no_cohort(tiny_run):
    # Keys the cohort never reads must not rerun it, and with it every design.
    window = changed_config(
        tiny_run, "window.yaml", {"outcomes": {"escalation": {"text_window_days": 14}}}
    )
    rules = planned_rules(tiny_run, window)
    assert "build_text_features" in rules
    assert not {"build_cohort", "make_splits", "build_structured_features"} & rules
    excluded = changed_config(
        tiny_run,
        "excluded.yaml",
        {"outcomes": {"escalation": {"exclude_features": ["disability"]}}},
    )
    rules = planned_rules(tiny_run, excluded)
    assert "build_structured_features" in rules
    assert not {"build_cohort", "make_splits", "fit_topics"} & rules


def reversed_keys(value):
    """``value`` with the keys of every mapping in it in reverse order."""
    if isinstance(value, dict):
        return {key: reversed_keys(value[key]) for key in reversed(list(value))}
    return value


def reordered_config(work: Path, name: str, lightgbm_change: dict) -> str:
    """Write the tiny config with the keys of every mapping reversed, the
    default outcomes and LightGBM search space spelt out (keys reversed too)
    and ``lightgbm_change`` applied to that space; return its path."""
    defaults = yaml.safe_load((ROOT / "config" / "config.yaml").read_text())
    config = yaml.safe_load((work / "config" / "tiny.yaml").read_text())
    config["outcomes"] = defaults["outcomes"]
    config["models"]["lightgbm"] = {**defaults["models"]["lightgbm"], **lightgbm_change}
    text = yaml.safe_dump(reversed_keys(config), sort_keys=False)
    assert text.index("topics:") < text.index("la:")  # the order did change
    (work / "config" / name).write_text(text)
    return f"config/{name}"


@pytest.mark.e2e
def test_reordering_config_keys_reruns_nothing_but_a_changed_value_does(tiny_run):
    # Snakemake compares the repr of each param, and a mapping's follows its key
    # order: common.smk sorts the config's keys.
    reordered = reordered_config(tiny_run, "reordered.yaml", {})
    assert planned_rules(tiny_run, reordered) == set()
    changed = reordered_config(tiny_run, "reordered_leaves.yaml", {"num_leaves": [7, 15]})
    assert planned_rules(tiny_run, changed) == DOWNSTREAM_OF_TRAINING | {"all"}


@pytest.mark.e2e
def test_a_success_threshold_reruns_only_what_uses_it(tiny_run):
    # fairness and the explanations read the selected model from the CV
    # results, not from the metrics that carry the threshold
    configfile = changed_config(tiny_run, "bar.yaml", {"evaluation": {"success_threshold": 0.6}})
    assert planned_rules(tiny_run, configfile) == {
        "evaluate_models",
        "summarise_results",
        "render_report",
        "write_model_card",
        "all",
    }


@pytest.mark.e2e
def test_the_selection_caution_setting_reruns_only_the_report_and_cards(tiny_run):
    configfile = changed_config(
        tiny_run, "caution.yaml", {"evaluation": {"min_inner_positives": 5}}
    )
    assert planned_rules(tiny_run, configfile) == {"render_report", "write_model_card", "all"}


@pytest.mark.e2e
def test_an_explanation_setting_reruns_only_its_own_explanation(tiny_run):
    # The learning curve's refits never read the ALE settings, nor the ALE the
    # learning curve's: each is its own rule. The model cards quote the learning
    # curve, not the ALE.
    explained = len(list((tiny_run / "results" / "tiny" / "evaluation").glob("*/*")))
    ale = changed_config(tiny_run, "ale.yaml", {"evaluation": {"ale_bins": 5}})
    jobs = planned_jobs(tiny_run, ale)
    assert set(jobs) == {"accumulated_local_effects", "render_report", "all"}
    # one per outcome and design
    assert jobs["accumulated_local_effects"] == explained
    repeats = changed_config(
        tiny_run, "repeats.yaml", {"evaluation": {"learning_curve_repeats": 2}}
    )
    jobs = planned_jobs(tiny_run, repeats)
    assert set(jobs) == {"learning_curve", "render_report", "write_model_card", "all"}
    assert jobs["learning_curve"] == explained


@pytest.mark.e2e
def test_the_refit_bootstrap_adds_only_its_own_jobs_and_centres_on_the_test_ap(tiny_run):
    # Off by default; switched on, it refits the selected models and the
    # report shows their interval, and nothing upstream reruns. Its interval
    # centres on training's own full refit, read from training's predictions.
    configfile = changed_config(
        tiny_run, "refit.yaml", {"evaluation": {"refit_bootstrap_resamples": 3}}
    )
    explained = len(list((tiny_run / "results" / "tiny" / "evaluation").glob("*/*")))
    jobs = planned_jobs(tiny_run, configfile)
    assert set(jobs) == {"refit_bootstrap", "render_report", "all"}
    assert jobs["refit_bootstrap"] == explained
    design = "escalation/time_structured"
    target = tiny_run / "results" / "tiny" / "evaluation" / design / "refit_bootstrap.parquet"
    written = [
        target,
        tiny_run / "results/tiny/logs/refit_bootstrap/escalation_time_structured.log",
        tiny_run / "results/tiny/benchmarks/refit_bootstrap/escalation_time_structured.tsv",
    ]
    try:
        result = snakemake(
            str(target.relative_to(tiny_run)),
            "--cores",
            "1",
            "--configfile",
            configfile,
            cwd=tiny_run,
        )
        assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
        assert job_counts(result.stdout + result.stderr) == {"refit_bootstrap": 1}
        table = pd.read_parquet(target)
        assert table["resample"].tolist() == [0, 1, 2]
        summary = pd.read_parquet(tiny_run / "results" / "tiny" / "summary.parquet")
        row = summary.loc[
            (summary["outcome"] == "escalation") & (summary["design"] == "time_structured")
        ].iloc[0]
        assert set(table["model"]) == {row["model"]}
        assert f"test AP {row['average_precision']:.3f}, refit bootstrap" in written[1].read_text()
    finally:
        for path in written:
            path.unlink(missing_ok=True)


@pytest.mark.e2e
def test_a_text_setting_reruns_the_text_designs_only(tiny_run):
    configfile = changed_config(tiny_run, "stop.yaml", {"text": {"min_token_length": 3}})
    jobs = planned_jobs(tiny_run, configfile)
    assert "build_structured_features" not in jobs
    # one text-feature job per outcome; its two text designs (random and time)
    # retrain, its two structured-only designs do not
    assert jobs["build_text_features"] >= 1
    assert jobs["train_models"] == 2 * jobs["build_text_features"]


@pytest.mark.e2e
def test_editing_the_report_script_reruns_only_the_report(tiny_run):
    script = tiny_run / "workflow" / "scripts" / "render_report.py"
    script.write_text(script.read_text() + "\n")
    try:
        assert planned_rules(tiny_run, "config/tiny.yaml") == {"render_report", "all"}
    finally:
        script.write_text(script.read_text()[:-1])


@pytest.mark.e2e
def test_a_lost_artefact_is_rebuilt_though_the_report_is_up_to_date(tiny_run):
    lost = next((tiny_run / "results" / "tiny" / "evaluation").rglob("fairness.parquet"))
    kept = lost.with_name("kept-aside")
    lost.rename(kept)
    try:
        assert planned_rules(tiny_run, "config/tiny.yaml") == {
            "assess_fairness",
            "render_report",
            "write_model_card",
            "all",
        }
    finally:
        kept.rename(lost)


@pytest.mark.e2e
def test_a_different_pseudonymisation_key_reruns_every_pseudonymising_rule(tiny_run):
    # notes and records pseudonymised with different keys would no longer link
    planned = planned_rules(
        tiny_run,
        "config/tiny.yaml",
        extra_env={"LA_PSEUDONYMISATION_KEY": "another-key-typed-in-a-later-session"},
    )
    assert {"ingest_records", "ingest_notes", "redact_notes"} <= planned


@pytest.mark.e2e
def test_changing_an_audit_threshold_reruns_the_audit_report_and_cards_only(tiny_run):
    # The single-feature checks are their own job; training waits for them only
    # when they stop the run (leakage_audit.stop_on_implausible_feature). The
    # report and the model cards name the flagged features.
    configfile = changed_config(
        tiny_run, "audit.yaml", {"leakage_audit": {"min_cases_for_precision": 30}}
    )
    jobs = planned_jobs(tiny_run, configfile)
    assert set(jobs) == {
        "audit_features",
        "render_report",
        "write_model_card",
        "all",
    }
    # one per outcome, split and audited set (structured, flags, topics)
    assert jobs["audit_features"] == 12
    # when the audit stops the run, training waits for it (it lists the audits)
    stopping = changed_config(
        tiny_run, "audit_stop.yaml", {"leakage_audit": {"stop_on_implausible_feature": True}}
    )
    assert "train_models" in planned_jobs(tiny_run, stopping)


@pytest.mark.e2e
def test_switching_the_text_designs_off_reruns_no_structured_job(tiny_run):
    # The notes are ingested by a rule of their own: the structured tables, and
    # every structured design made from them, do not depend on designs.text.
    configfile = changed_config(tiny_run, "text_off.yaml", {"designs": {"text": False}})
    result = snakemake("-n", "--cores", "2", "--configfile", configfile, cwd=tiny_run)
    planned = result.stdout + result.stderr
    assert result.returncode == 0, planned
    jobs = job_counts(planned)
    # the summary and report drop the text designs
    assert {"summarise_results", "render_report"} <= set(jobs)
    assert set(jobs) <= {
        "summarise_results",
        "render_report",
        "write_model_card",
        "all",
    }
    # the text-on run's text results are still there, and no job reads them
    assert (tiny_run / "results" / "tiny" / "text").is_dir()
    assert not re.search(r"(random|time)_text|text_flags|leakage_audit_text|text/|topics/", planned)


# An LA without usable case notes: the bundled synthetic LA without its notes
# and people (redaction names) exports, with the text designs switched off.
NO_NOTES_CONFIG = {
    "la": "no_notes",
    "designs": {"text": False, "time": {"inner_folds": 2}},
    "models": {"search_iterations": 3},
}
TEXT_RULES = {
    "redact_notes",
    "normalise_notes",
    "flag_vulnerabilities",
    "build_text_features",
    "fit_topics",
    "fit_tfidf",
}


def no_notes_copy(work: Path) -> str:
    """A scratch copy of the workflow in ``work`` whose LA has no notes or
    people exports, configured with designs.text off; returns the config path."""
    scratch_copy(ROOT, work)
    data = work / "resources" / "synthetic"
    data.mkdir(parents=True)
    for export in (ROOT / "resources" / "synthetic").glob("*.csv"):
        if export.name not in ("case_notes.csv", "people.csv"):
            shutil.copy(export, data / export.name)
    (work / "config" / "no_notes.yaml").write_text(yaml.safe_dump(NO_NOTES_CONFIG))
    return "config/no_notes.yaml"


def test_without_text_no_text_job_or_design_is_planned_and_no_notes_needed(tmp_path):
    configfile = no_notes_copy(tmp_path)
    assert not (tmp_path / "resources" / "synthetic" / "case_notes.csv").exists()
    result = snakemake("-n", "--cores", "2", "--configfile", configfile, cwd=tmp_path)
    planned = result.stdout + result.stderr
    assert result.returncode == 0, planned
    jobs = job_counts(planned)
    assert not TEXT_RULES & set(jobs), jobs
    # two outcomes, each under the two structured designs
    assert jobs["train_models"] == 4 and jobs["render_report"] == 1
    assert not re.search(r"(random|time)_text|leakage_audit_text|case_notes|topics/", planned)
    # the same LA with text on needs its notes, and is told of the setting
    on = yaml.safe_load((tmp_path / configfile).read_text())
    on["designs"]["text"] = True
    (tmp_path / "config" / "text_on.yaml").write_text(yaml.safe_dump(on))
    missing = snakemake("-n", "--cores", "2", "--configfile", "config/text_on.yaml", cwd=tmp_path)
    output = missing.stdout + missing.stderr
    assert missing.returncode != 0
    assert "the case-notes export resources/synthetic/case_notes.csv does not exist" in output
    assert "without usable case notes, set designs.text: false" in output
    # with the notes there, the people export (names to redact) is asked for alike
    shutil.copy(
        ROOT / "resources" / "synthetic" / "case_notes.csv", tmp_path / "resources" / "synthetic"
    )
    missing = snakemake("-n", "--cores", "2", "--configfile", "config/text_on.yaml", cwd=tmp_path)
    output = missing.stdout + missing.stderr
    assert missing.returncode != 0
    people = "resources/synthetic/people.csv does not exist"
    assert f"the people export (names to redact from the notes) {people}" in output
    assert "without usable case notes, set designs.text: false" in output
    # a wrong data folder is named, not blamed on the notes
    on["data"] = {"directory": "resources/synthetic/elsewhere"}
    (tmp_path / "config" / "wrong_folder.yaml").write_text(yaml.safe_dump(on))
    wrong = snakemake(
        "-n", "--cores", "2", "--configfile", "config/wrong_folder.yaml", cwd=tmp_path
    )
    output = wrong.stdout + wrong.stderr
    assert wrong.returncode != 0
    assert "nor does its folder resources/synthetic/elsewhere: check data.directory" in output
    assert "designs.text: false" not in output
    # with text off, a text job asked for says that text is off
    forced = snakemake(
        "-n", "--cores", "2", "--configfile", configfile, "-R", "redact_notes", cwd=tmp_path
    )
    output = forced.stdout + forced.stderr
    assert forced.returncode != 0
    assert "designs.text is false: the designs with text are switched off" in output


@pytest.fixture(scope="session")
def no_notes_run(tmp_path_factory) -> Path:
    """Run the whole workflow once on the bundled LA without notes, text off."""
    work = tmp_path_factory.mktemp("no_notes")
    configfile = no_notes_copy(work)
    result = snakemake("--cores", "2", "--configfile", configfile, cwd=work)
    assert result.returncode == 0, result.stdout[-5000:] + result.stderr[-5000:]
    return work


@pytest.mark.e2e
def test_without_notes_the_structured_designs_run_and_one_answers(no_notes_run):
    results = no_notes_run / "results" / "no_notes"
    summary = pd.read_parquet(results / "summary.parquet")
    assert sorted(set(summary["design"])) == ["random_structured", "time_structured"]
    assert len(summary) == 4
    assert not (results / "text").exists() and not (results / "topics").exists()
    report = (results / "report" / "index.html").read_text(encoding="utf-8")
    assert "switched off in the config (designs.text: false)" in report
    assert report.count("structured data only (the pre-specified design, which decides)") == 2
    assert "structured data and text" not in report and "Topics in the notes" not in report
    card = (results / "model_cards" / "escalation.md").read_text(encoding="utf-8")
    assert "## Fairness (time-ordered split, structured data only)" in card
    rerun = snakemake(
        "-n", "--cores", "2", "--configfile", "config/no_notes.yaml", cwd=no_notes_run
    )
    assert "Nothing to be done" in rerun.stdout + rerun.stderr


def declared_memory() -> dict[str, int]:
    """Each rule's ``mem_mb``, read from the rule files."""
    memory = {}
    for path in sorted((ROOT / "workflow" / "rules").glob("*.smk")):
        for block in re.split(r"^rule ", path.read_text(encoding="utf-8"), flags=re.M)[1:]:
            name = block.split(":", 1)[0]
            found = re.search(r"mem_mb=(\d+)", block.split("\nrule ", 1)[0])
            memory[name] = int(found.group(1)) if found else None
    return memory


def test_slurm_profile_sizes_every_rule_with_its_own_memory():
    profile = yaml.safe_load(
        (ROOT / "workflow" / "profiles" / "slurm" / "config.yaml").read_text(encoding="utf-8")
    )
    sized = profile["set-resources"]
    memory = declared_memory()
    assert len(memory) > 20
    assert sorted(sized) == sorted(memory)
    for rule, resources in sized.items():
        assert resources["mem_mb"] == memory[rule], rule
        assert resources["runtime"] > 0, rule
