"""Run the workflow on synthetic LAs of given sizes and collect time and memory.

For each size, a config is written that generates a synthetic LA (seed 42), the
workflow runs in a scratch copy of the repository, and every job's Snakemake
``benchmark:`` record is gathered into one table (wall time, CPU time, peak
resident memory). A no-op dry run is timed too (best of three), beside that of a trivial
workflow with as many jobs. Results go to ``bench/out/``:
``scale.csv`` (per job), ``scale_rules.csv`` (per rule), ``scale_summary.csv``
(per size) and ``scale.png``.

    .venv/bin/python bench/run_scale.py --sizes small medium --cores 2

Sizes: small (the CI size, 1,500 children), medium (10,000 children),
large (50,000 children, about 2 million notes).
"""

import argparse
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
sys.path.insert(0, str(ROOT / "tests"))
from conftest import scratch_copy  # noqa: E402

BIN = Path(sys.executable).parent
SIZES = {"small": 1500, "medium": 10000, "large": 50000}
NOOP_REPEATS = 3


def noop_dry_run_seconds(command: list[str], work: Path) -> float:
    """Best of three wall times of a dry run with nothing to do."""
    times = []
    for _ in range(NOOP_REPEATS):
        started = time.perf_counter()
        result = subprocess.run(
            [*command, "-n", "--quiet"], cwd=work, check=True, capture_output=True, text=True
        )
        times.append(time.perf_counter() - started)
        if "Nothing to be done" not in result.stdout + result.stderr:
            raise RuntimeError(f"the dry run in {work} is not a no-op: {result.stdout[-2000:]}")
    return min(times)


def trivial_noop_seconds(n_jobs: int, out: Path) -> float:
    """No-op dry run of a trivial workflow with ``n_jobs`` jobs (each touches a file)."""
    work = out / f"trivial_{n_jobs}"
    work.mkdir(parents=True, exist_ok=True)
    (work / "Snakefile").write_text(
        "rule all:\n"
        f"    input: expand('out/{{i}}.txt', i=range({n_jobs - 1}))\n\n"
        "rule touch:\n"
        "    output: 'out/{i}.txt'\n"
        "    shell: 'touch {output}'\n"
    )
    command = [str(BIN / "snakemake"), "--cores", "2"]
    subprocess.run(command, cwd=work, check=True, capture_output=True)
    return noop_dry_run_seconds(command, work)


def benchmark_record(path: Path) -> dict[str, float]:
    """Wall seconds, CPU seconds and peak resident memory (MB) of a job's last
    benchmark record. CPU time shows the work done whatever else shared the
    machine; on a loaded machine wall time mostly shows waiting."""
    record = pd.read_csv(path, sep="\t").iloc[-1]
    return {
        "seconds": float(record["s"]),
        "cpu_seconds": float(record["cpu_time"]),
        "max_rss_mb": float(record["max_rss"]),
    }


def collect_jobs(work: Path, la: str, size: str) -> pd.DataFrame:
    """Every job's benchmark record of a finished run of ``la`` in ``work``."""
    rows = []
    benchmarks = work / "results" / la / "benchmarks"
    generator = work / "resources" / "synthetic" / "generated" / "benchmarks"
    paths = [
        (path, str(path.relative_to(benchmarks)).removesuffix(".tsv"))
        for path in sorted(benchmarks.rglob("*.tsv"))
    ]
    paths += [(path, "generate_synthetic_la") for path in sorted(generator.glob("*.tsv"))]
    for path, job in paths:
        rows.append({"size": size, "job": job, **benchmark_record(path)})
    return pd.DataFrame(rows)


def per_rule(jobs: pd.DataFrame) -> pd.DataFrame:
    """Per size and rule: jobs, summed and longest wall time, peak memory."""
    rules = jobs.assign(rule=jobs["job"].str.split("/").str[0])
    return (
        rules.groupby(["size", "rule"], sort=False)
        .agg(
            jobs=("job", "size"),
            seconds_total=("seconds", "sum"),
            seconds_longest=("seconds", "max"),
            cpu_seconds_total=("cpu_seconds", "sum"),
            peak_mb=("max_rss_mb", "max"),
        )
        .round(1)
        .reset_index()
    )


def run_size(name: str, n_children: int, cores: int, out: Path) -> tuple[pd.DataFrame, dict]:
    """Run one size; return per-job benchmark rows and a summary row."""
    work = out / f"work_{name}"
    work.mkdir(parents=True, exist_ok=True)
    scratch_copy(ROOT, work)
    config = {"la": f"bench_{name}", "synthetic": {"seed": 42, "n_children": n_children}}
    (work / "config" / "bench.yaml").write_text(yaml.safe_dump(config))
    command = [str(BIN / "snakemake"), "--cores", str(cores), "--configfile", "config/bench.yaml"]
    started = time.perf_counter()
    subprocess.run(command, cwd=work, check=True)
    wall = time.perf_counter() - started
    noop = noop_dry_run_seconds(command, work)

    jobs = collect_jobs(work, f"bench_{name}", name)
    analysis = jobs.loc[jobs["job"] != "generate_synthetic_la"]
    summary = {
        "size": name,
        "children": n_children,
        "jobs": len(analysis),
        "wall_seconds": round(wall, 1),
        "wall_seconds_without_generation": round(
            wall - float(jobs.loc[jobs["job"] == "generate_synthetic_la", "seconds"].sum()), 1
        ),
        "cpu_seconds": round(float(analysis["cpu_seconds"].sum()), 1),
        "peak_job_mb": round(float(analysis["max_rss_mb"].max()), 1),
        "noop_dry_run_seconds": round(noop, 2),
        "trivial_noop_dry_run_seconds": round(trivial_noop_seconds(len(jobs) + 1, out), 2),
    }
    return jobs, summary


def plot(rules: pd.DataFrame, path: Path) -> None:
    """Per-rule CPU time (summed over jobs; unlike wall time, it does not count
    waiting for a shared machine) and peak memory, by size."""
    figure, (time_axes, memory_axes) = plt.subplots(1, 2, figsize=(10, 5), sharey=True)
    for axes, column, label in (
        (time_axes, "cpu_seconds_total", "CPU time summed over the rule's jobs (s)"),
        (memory_axes, "peak_mb", "peak resident memory of one job (MB)"),
    ):
        table = rules.pivot_table(index="rule", columns="size", values=column, sort=False)
        table.plot.barh(ax=axes, legend=axes is time_axes)
        axes.set_xlabel(label)
    time_axes.invert_yaxis()
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
    rules = per_rule(jobs)
    rules.to_csv(args.out / "scale_rules.csv", index=False)
    pd.DataFrame(summaries).to_csv(args.out / "scale_summary.csv", index=False)
    plot(rules, args.out / "scale.png")
    print(rules.to_markdown(index=False))
    print(pd.DataFrame(summaries).to_markdown(index=False))


if __name__ == "__main__":
    main()
