"""A register of every look at an LA's test sets.

The verdicts are honest only if the test cases judge one pre-specified
analysis. Each change an analyst tries (a setting, a model, a fix) and then
judges on the same test cases is another look, and enough looks will find a
"yes" by chance. So after every run that executed jobs, finished or failed
(Snakemake's ``onsuccess`` and ``onerror`` handlers), a ``summary.csv`` not
yet in ``results/{la}/test_set_looks.tsv`` is appended to it. The row holds
when the summary was written, fingerprints of the summary and of the config,
the workflow's version, and each outcome's deciding verdict; the config and
version are those of the run that registered it. The register only grows:
delete it and the record of earlier looks is gone, so keep it with the
results. It holds no case-level data. What it cannot see is listed in
docs/running.md.

It is not a rule's output: a rule's output is rewritten whole on every run,
while a register must keep the earlier rows.
"""

import csv
import datetime
import hashlib
import json
import subprocess
from pathlib import Path

COLUMNS = [
    "summary_written_utc",
    "summary_sha256",
    "config_sha256",
    "workflow_version",
    "deciding_verdicts",
]


def file_fingerprint(path: Path) -> str:
    """The first 16 hex digits of the SHA-256 of the file's bytes."""
    return hashlib.sha256(path.read_bytes()).hexdigest()[:16]


def config_fingerprint(config: dict) -> str:
    """The first 16 hex digits of the SHA-256 of the config, keys sorted, so
    that two looks under the same settings share it."""
    text = json.dumps(config, sort_keys=True, default=str)
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def workflow_version(basedir: str) -> str:
    """The workflow's git commit, with "+uncommitted changes" when its files
    differ from it or it holds files git does not track (an LA's config not
    yet committed, a new script); "unknown" outside a git clone."""

    def git(*args: str) -> str:
        result = subprocess.run(
            ["git", "-C", basedir, *args], capture_output=True, text=True, timeout=30
        )
        if result.returncode != 0:
            raise OSError(result.stderr)
        return result.stdout.strip()

    try:
        commit = git("rev-parse", "--short=12", "HEAD")
        changed = git("status", "--porcelain")
    except (OSError, subprocess.TimeoutExpired):
        return "unknown"
    return f"{commit}+uncommitted changes" if changed else commit


def deciding_verdicts(summary: Path) -> str:
    """Each outcome's deciding design, its test AP with the 95% interval, and
    its verdict, from ``summary.csv`` (one written before summaries had a
    ``decides`` column cannot say which design decided)."""
    with summary.open(newline="", encoding="utf-8") as handle:
        reader = csv.DictReader(handle)
        if "decides" not in (reader.fieldnames or []):
            return "unknown: the summary has no decides column (an older version wrote it)"
        rows = [row for row in reader if row["decides"] == "True"]
    return "; ".join(
        f"{row['outcome']} {row['design']}: {row['verdict']} (AP {row['average_precision']}, "
        f"95% {row['ap_ci_lower']} to {row['ap_ci_upper']})"
        for row in rows
    )


def look(summary: Path, config: dict, version: str) -> dict[str, str]:
    """The register's row for the run that wrote ``summary``."""
    written = datetime.datetime.fromtimestamp(summary.stat().st_mtime, tz=datetime.UTC)
    return {
        "summary_written_utc": written.strftime("%Y-%m-%dT%H:%M:%SZ"),
        "summary_sha256": file_fingerprint(summary),
        "config_sha256": config_fingerprint(config),
        "workflow_version": version,
        "deciding_verdicts": deciding_verdicts(summary),
    }


def register_look(register: Path, row: dict[str, str]) -> bool:
    """Append ``row`` to the ``register`` (a new or empty one gets a header)
    unless a row already records the same summary written at the same time
    (a run that rewrote nothing); return whether it was appended. A register
    whose header is not ``COLUMNS`` raises ``ValueError``: appending to it
    would misfile the row."""
    key = (row["summary_written_utc"], row["summary_sha256"])
    new = not register.exists() or register.stat().st_size == 0
    if not new:
        with register.open(newline="", encoding="utf-8") as handle:
            reader = csv.DictReader(handle, delimiter="\t")
            if reader.fieldnames != COLUMNS:
                raise ValueError(f"its header is {reader.fieldnames}, not the register's {COLUMNS}")
            seen = {(old["summary_written_utc"], old["summary_sha256"]) for old in reader}
        if key in seen:
            return False
    with register.open("a", newline="", encoding="utf-8") as handle:
        writer = csv.DictWriter(handle, fieldnames=COLUMNS, delimiter="\t")
        if new:
            writer.writeheader()
        writer.writerow(row)
    return True
