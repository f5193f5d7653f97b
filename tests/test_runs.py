"""Sturdiness of runs on the tiny synthetic LA: a run killed mid-way restarts to
the same results, dry runs say why a change reruns what it reruns, and two LAs
run at once without touching each other."""

import os
import re
import shutil
import signal
import subprocess
import time
from pathlib import Path

import pyarrow.parquet as pq
import pytest
import yaml
from conftest import (
    BIN,
    TINY_CONFIG,
    differing_results,
    snakemake,
    snakemake_environment,
    tiny_copy,
)

# Time between a job's announcement and the kill: long enough for its script to
# be running (the interpreter alone takes longer to start), shorter than any
# job of these rules on the tiny LA.
KILL_DELAY_SECONDS = 1.5


def run_and_kill(work: Path, rule: str) -> str:
    """Run the tiny LA on one core and SIGKILL the whole process group (Snakemake
    and its jobs) shortly after a job of ``rule`` starts; return the output."""
    process = subprocess.Popen(
        [str(BIN / "snakemake"), "--cores", "1", "--configfile", "config/tiny.yaml"]
        + ["--rerun-incomplete"],
        cwd=work,
        env=snakemake_environment(work),
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        start_new_session=True,
    )
    announcement = re.compile(rf"^(local)?rule {rule}:")
    output = []
    for line in process.stdout:
        output.append(line)
        if announcement.match(line):
            time.sleep(KILL_DELAY_SECONDS)
            os.killpg(process.pid, signal.SIGKILL)
            break
    process.wait()
    assert process.returncode == -signal.SIGKILL, "".join(output)[-3000:]
    return "".join(output)


def assert_every_parquet_is_whole(results: Path) -> None:
    """Every Parquet file left behind reads completely."""
    for path in sorted(results.rglob("*.parquet")):
        pq.read_table(path)


@pytest.mark.e2e
def test_killed_runs_restart_to_identical_results_on_one_core(tiny_run, tmp_path_factory):
    # One run, killed during text normalisation and again during training, then
    # finished on one core, must match the uninterrupted two-core run byte for
    # byte: this checks crash recovery and independence from --cores at once.
    work = tmp_path_factory.mktemp("killed")
    tiny_copy(work)
    results = work / "results" / "tiny"
    for rule in ("normalise_notes", "train_models"):
        run_and_kill(work, rule)
        # Snakemake marks the outputs of jobs that started and did not finish.
        assert any((work / ".snakemake" / "incomplete").iterdir()), rule
        assert_every_parquet_is_whole(results)
        # A killed Snakemake cannot release its lock; the user removes it.
        unlocked = snakemake("--unlock", "--configfile", "config/tiny.yaml", cwd=work)
        assert unlocked.returncode == 0, unlocked.stdout + unlocked.stderr
    result = snakemake(
        "--cores", "1", "--configfile", "config/tiny.yaml", "--rerun-incomplete", cwd=work
    )
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    compared, differing = differing_results(tiny_run / "results" / "tiny", results)
    assert compared > 40
    assert not differing


@pytest.mark.e2e
def test_a_new_pseudonymisation_key_gives_the_same_answer(tiny_run, tmp_path_factory):
    # A new key renames every id, and so reorders them. Everything the analyst
    # reads (summary, report, model cards, figures) must stay the same to the
    # byte: the time-ordered designs decide the answer, and the random design
    # orders its families by their values, not their ids.
    work = tmp_path_factory.mktemp("new_key")
    tiny_copy(work)
    result = snakemake(
        "--cores",
        "2",
        "--configfile",
        "config/tiny.yaml",
        cwd=work,
        extra_env={"LA_PSEUDONYMISATION_KEY": "a-new-key-after-the-old-one-was-shared"},
    )
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    first, second = tiny_run / "results" / "tiny", work / "results" / "tiny"
    ids = "ingest/referrals.parquet"
    assert (first / ids).read_bytes() != (second / ids).read_bytes()
    shown = [
        path.relative_to(first)
        for path in sorted(first.rglob("*"))
        if path.suffix in (".csv", ".html", ".md", ".png") and "benchmarks" not in path.parts
    ]
    assert len(shown) > 20
    differing = [str(p) for p in shown if (first / p).read_bytes() != (second / p).read_bytes()]
    assert not differing


def dry_run(work: Path, configfile: str, *args: str) -> str:
    """Output of a dry run of ``configfile`` in ``work`` with extra arguments."""
    result = snakemake("-n", "--cores", "2", "--configfile", configfile, *args, cwd=work)
    assert result.returncode == 0, result.stdout + result.stderr
    return result.stdout + result.stderr


def reasons(output: str) -> dict[str, str]:
    """Rule name -> the reason a dry run gives for running its (first) job."""
    found = {}
    job = re.compile(r"^(?:local)?rule (\w+):\n(?:    .*\n)*?    reason: (.*)$", re.M)
    for rule, reason in job.findall(output):
        found.setdefault(rule, reason)
    return found


@pytest.mark.e2e
def test_dry_run_says_a_hyperparameter_change_reruns_training(tiny_run):
    # Snakemake 9.27's --list-changes params lists an output of every job,
    # changed or not (its ParamsChange keeps the files of unchanged outputs), so
    # the dry run's reasons are what tells the user why.
    config = yaml.safe_load((tiny_run / "config" / "tiny.yaml").read_text())
    config["models"]["search_iterations"] += 1
    (tiny_run / "config" / "why_models.yaml").write_text(yaml.safe_dump(config))
    why = reasons(dry_run(tiny_run, "config/why_models.yaml"))
    # The reason names the values before and now.
    assert why["train_models"].startswith("Params have changed since last execution")
    assert "'search_iterations': 3" in why["train_models"]
    assert "'search_iterations': 4" in why["train_models"]
    assert why["evaluate_models"].startswith("Input files updated by another job")
    assert not {"ingest_records", "normalise_notes", "fit_topics"} & set(why)


@pytest.mark.e2e
def test_dry_run_reruns_nothing_for_settings_that_cannot_change_results(tiny_run):
    # Threads change speed only; the undersampling ratio changes nothing while
    # the models reweight the classes, nor the bigram settings while topics
    # learn no bigrams.
    config = yaml.safe_load((tiny_run / "config" / "tiny.yaml").read_text())
    config["models"] = {**config["models"], "threads": 2, "undersample_ratio": 3.0}
    config["topics"] = {**config["topics"], "bigram_threshold": 20.0}
    (tiny_run / "config" / "why_speed.yaml").write_text(yaml.safe_dump(config))
    planned = set(reasons(dry_run(tiny_run, "config/why_speed.yaml")))
    # Other tests may leave a job to do (an edited script's time); compare with them.
    assert planned == set(reasons(dry_run(tiny_run, "config/tiny.yaml")))
    assert (
        not {"fit_topics", "train_models", "learning_curve", "accumulated_local_effects"} & planned
    )


@pytest.mark.e2e
def test_dry_run_says_a_decision_tree_set_to_null_leaves_training(tiny_run):
    config = yaml.safe_load((tiny_run / "config" / "tiny.yaml").read_text())
    config["models"] = {**config["models"], "decision_tree": None}
    (tiny_run / "config" / "no_tree.yaml").write_text(yaml.safe_dump(config))
    why = reasons(dry_run(tiny_run, "config/no_tree.yaml"))
    before, now = why["train_models"].split(" now: ")
    assert "'decision_tree'" in before
    assert "'decision_tree'" not in now
    assert "'logistic_regression'" in now


@pytest.mark.e2e
def test_dry_run_and_list_changes_say_why_a_report_edit_reruns_the_report(tiny_run):
    script = tiny_run / "workflow" / "scripts" / "render_report.py"
    original, stat = script.read_text(), script.stat()
    script.write_text(original + "\n")
    try:
        changed = dry_run(tiny_run, "config/tiny.yaml", "--list-changes", "code")
        why = reasons(dry_run(tiny_run, "config/tiny.yaml"))
    finally:
        # Snakemake also compares the script's modification time with the outputs'.
        script.write_text(original)
        os.utime(script, ns=(stat.st_atime_ns, stat.st_mtime_ns))
    changed_files = {line for line in changed.splitlines() if line.startswith("results/")}
    assert "results/tiny/report/index.html" in changed_files
    assert all(path.startswith("results/tiny/report/") for path in changed_files), changed_files
    assert set(why) == {"render_report", "all"}
    assert "Code has changed since last execution" in why["render_report"]


@pytest.mark.e2e
def test_two_las_run_at_once_in_one_directory(tiny_run):
    # While the tiny LA reruns its report, a second LA whose exports are a copy
    # of the tiny LA's runs its ingestion in the same directory: Snakemake's
    # per-file locks let both go, and neither changes the other's results.
    shutil.copytree(
        tiny_run / "resources" / "synthetic" / "generated" / "seed5_n1500",
        tiny_run / "resources" / "synthetic" / "twin",
        dirs_exist_ok=True,
    )
    twin = {**TINY_CONFIG, "la": "twin", "synthetic": None}
    twin["data"] = {"directory": "resources/synthetic/twin"}
    (tiny_run / "config" / "twin.yaml").write_text(yaml.safe_dump(twin))
    report = tiny_run / "results" / "tiny" / "report" / "index.html"
    before = report.read_bytes()
    runs = [
        ["--configfile", "config/tiny.yaml", "--forcerun", "render_report"],
        ["--configfile", "config/twin.yaml", "--until", "ingest_notes"],
    ]
    processes = [
        subprocess.Popen(
            [str(BIN / "snakemake"), "--cores", "1", *run],
            cwd=tiny_run,
            env=snakemake_environment(tiny_run),
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
        for run in runs
    ]
    for process in processes:
        output, _ = process.communicate()
        assert process.returncode == 0, output[-3000:]
    assert report.read_bytes() == before
    for table in sorted((tiny_run / "results" / "tiny" / "ingest").glob("*.parquet")):
        twin_table = tiny_run / "results" / "twin" / "ingest" / table.name
        assert twin_table.read_bytes() == table.read_bytes(), table.name
