"""How much one LA's answer depends on the workflow's seed.

The verdict's interval resamples the test cases with the fitted model held
fixed; it says nothing of how the model itself would differ had its random
draws differed (the topic model's start, the search's candidates, LightGBM's
sampling). This benchmark reruns the same LA with other values of ``seed``,
each into its own results folder (``--config seed=S la=<la>_seedS``), up to
the evaluation of the chosen designs, and tabulates each run's selected
model, test AP, interval and verdict. On the time-ordered designs the split
does not depend on the seed, so the spread is the models' alone; on the
random designs the test set changes too.

    nice -n 10 .venv/bin/python bench/seed_spread.py --seeds 1 2 3 \\
        --designs time_structured time_text --cores 2 > bench/out/seed_spread.tsv

Each run is a full workflow run up to ``evaluate_models`` (a few minutes on
the bundled LA at two cores). The runs' folders stay under ``results/`` for
inspection; delete them when done.
"""

import argparse
import subprocess
import sys
from pathlib import Path

import pandas as pd
import yaml

ROOT = Path(__file__).resolve().parents[1]
COLUMNS = ["seed", "outcome", "design", "model", "average_precision", "ap_ci_lower", "ap_ci_upper"]


def run_seed(configfile: Path, la: str, seed: int, designs: list[str], cores: int) -> Path:
    """Run the workflow for one ``seed`` up to the evaluation of ``designs``
    of every outcome; return the run's results folder."""
    config = yaml.safe_load(configfile.read_text(encoding="utf-8"))
    name = f"{la}_seed{seed}"
    targets = [
        f"results/{name}/evaluation/{outcome}/{design}/details.parquet"
        for outcome in sorted(config["outcomes"])
        for design in designs
    ]
    subprocess.run(
        [
            sys.executable,
            "-m",
            "snakemake",
            *targets,
            "--configfile",
            str(configfile),
            "--config",
            f"seed={seed}",
            f"la={name}",
            "--cores",
            str(cores),
            "--quiet",
        ],
        cwd=ROOT,
        check=True,
    )
    return ROOT / "results" / name


def selected_rows(results: Path, seed: int, designs: list[str]) -> pd.DataFrame:
    """Each design's selected model's test AP, interval and verdict."""
    rows = []
    for path in sorted(results.glob("evaluation/*/*/details.parquet")):
        details = pd.read_parquet(path)
        if details["design"].iloc[0] not in designs:
            continue
        chosen = details.loc[details["selected"]].iloc[0]
        rows.append({"seed": seed, **chosen[COLUMNS[1:] + ["verdict"]].to_dict()})
    return pd.DataFrame(rows)


def main() -> None:
    """Run every seed and print one tab-separated row per seed, outcome and design."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--configfile", type=Path, default=ROOT / "config" / "config.yaml")
    parser.add_argument("--seeds", type=int, nargs="+", required=True)
    parser.add_argument("--designs", nargs="+", default=["time_structured", "time_text"])
    parser.add_argument("--cores", type=int, default=2)
    args = parser.parse_args()
    la = yaml.safe_load(args.configfile.read_text(encoding="utf-8"))["la"]
    table = pd.concat(
        [
            selected_rows(
                run_seed(args.configfile, la, seed, args.designs, args.cores), seed, args.designs
            )
            for seed in args.seeds
        ],
        ignore_index=True,
    )
    print(table.to_csv(sep="\t", index=False, float_format="%.3f"), end="")
    spread = table.groupby(["outcome", "design"])["average_precision"].agg(["min", "max"])
    print(spread.to_string(float_format="%.3f"), file=sys.stderr)


if __name__ == "__main__":
    main()
