"""Run the workflow on synthetic LAs of given sizes and collect time and memory.

For each size, a config is written that generates a synthetic LA (seed 42), the
workflow runs in a scratch copy of the repository, and every job's Snakemake
``benchmark:`` record is gathered into one table (wall time, peak resident
memory). A no-op dry run is timed too. Results go to ``bench/out/``:
``scale.csv`` (per job), ``scale_summary.csv`` (per size) and ``scale.png``.

    .venv/bin/python bench/run_scale.py --sizes small medium --cores 2

Sizes: small (the CI size, 1,500 children), medium (10,000 children),
large (50,000 children, about 2 million notes).
"""

import argparse
import shutil
import subprocess
import sys
import time
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import pandas as pd  # noqa: E402
import yaml  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
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
SIZES = {"small": 1500, "medium": 10000, "large": 50000}


def scratch_copy(work: Path) -> None:
    """Copy what the workflow needs to run into ``work``."""
    for item in WORKFLOW_FILES:
        source = ROOT / item
        (work / item).parent.mkdir(parents=True, exist_ok=True)
        if source.is_dir():
            shutil.copytree(
                source,
                work / item,
                dirs_exist_ok=True,
                ignore=shutil.ignore_patterns("__pycache__"),
            )
        else:
            shutil.copy(source, work / item)


def run_size(name: str, n_children: int, cores: int, out: Path) -> tuple[pd.DataFrame, dict]:
    """Run one size; return per-job benchmark rows and a summary row."""
    work = out / f"work_{name}"
    work.mkdir(parents=True, exist_ok=True)
    scratch_copy(work)
    config = {"la": f"bench_{name}", "synthetic": {"seed": 42, "n_children": n_children}}
    (work / "config" / "bench.yaml").write_text(yaml.safe_dump(config))
    command = [str(BIN / "snakemake"), "--cores", str(cores), "--configfile", "config/bench.yaml"]
    started = time.perf_counter()
    subprocess.run(command, cwd=work, check=True)
    wall = time.perf_counter() - started
    started = time.perf_counter()
    subprocess.run([*command, "-n", "--quiet"], cwd=work, check=True, capture_output=True)
    noop = time.perf_counter() - started

    rows = []
    for path in sorted((work / "results" / f"bench_{name}" / "benchmarks").rglob("*.tsv")):
        record = pd.read_csv(path, sep="\t").iloc[-1]
        rows.append(
            {
                "size": name,
                "job": str(
                    path.relative_to(work / "results" / f"bench_{name}" / "benchmarks")
                ).removesuffix(".tsv"),
                "seconds": float(record["s"]),
                "max_rss_mb": float(record["max_rss"]),
            }
        )
    generator = work / "resources" / "synthetic" / "generated" / "benchmarks"
    for path in sorted(generator.glob("*.tsv")):
        record = pd.read_csv(path, sep="\t").iloc[-1]
        rows.append(
            {
                "size": name,
                "job": "generate_synthetic_la",
                "seconds": float(record["s"]),
                "max_rss_mb": float(record["max_rss"]),
            }
        )
    jobs = pd.DataFrame(rows)
    analysis = jobs.loc[jobs["job"] != "generate_synthetic_la"]
    summary = {
        "size": name,
        "children": n_children,
        "jobs": len(analysis),
        "wall_seconds": round(wall, 1),
        "wall_seconds_without_generation": round(
            wall - jobs.loc[jobs["job"] == "generate_synthetic_la", "seconds"].sum(), 1
        ),
        "peak_job_mb": round(float(analysis["max_rss_mb"].max()), 1),
        "noop_dry_run_seconds": round(noop, 2),
    }
    return jobs, summary


def plot(jobs: pd.DataFrame, path: Path) -> None:
    """Per-stage wall time by size."""
    jobs = jobs.assign(stage=jobs["job"].str.split("/").str[0])
    table = jobs.pivot_table(index="stage", columns="size", values="seconds", aggfunc="sum")
    figure, axes = plt.subplots(figsize=(7, 4))
    table.plot.barh(ax=axes)
    axes.set_xlabel("wall time summed over jobs (s)")
    figure.tight_layout()
    figure.savefig(path, dpi=96, metadata={"Software": None})


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", nargs="+", choices=list(SIZES), default=["small"])
    parser.add_argument("--cores", type=int, default=2)
    parser.add_argument("--out", type=Path, default=ROOT / "bench" / "out")
    args = parser.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)
    all_jobs, summaries = [], []
    for name in args.sizes:
        jobs, summary = run_size(name, SIZES[name], args.cores, args.out)
        all_jobs.append(jobs)
        summaries.append(summary)
        print(summary, flush=True)
    jobs = pd.concat(all_jobs, ignore_index=True)
    jobs.to_csv(args.out / "scale.csv", index=False)
    pd.DataFrame(summaries).to_csv(args.out / "scale_summary.csv", index=False)
    plot(jobs, args.out / "scale.png")
    print(pd.DataFrame(summaries).to_markdown(index=False))


if __name__ == "__main__":
    main()
