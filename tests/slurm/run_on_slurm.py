"""Run the tiny synthetic LA on a real single-node SLURM cluster and check the
results are byte-identical to a local run.

Needs root on a Debian-like machine: tests/slurm/slurm_cluster.sh installs
munge, slurmctld, slurmd and slurm-client from Debian's packages if they are
missing, then starts the cluster; it is stopped again at the end.

    .venv/bin/python tests/slurm/run_on_slurm.py [--reference WORK] [--keep]

The workflow runs through snakemake-executor-plugin-slurm with the profile
workflow/profiles/slurm, one SLURM job per rule instance. Without --reference
the local run (--cores 2) is made first in another scratch copy; with it, the
results under WORK/results/tiny (a finished local run of config/tiny.yaml, as
the end-to-end tests leave it) are the reference. Prints a summary and exits
non-zero if any result file differs.
"""

import argparse
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))
from conftest import differing_results, snakemake, tiny_copy  # noqa: E402

CLUSTER = HERE / "slurm_cluster.sh"
# What a real cluster would take from the profile; here there is no accounting
# database, so no account, and job states come from squeue, polled often.
SLURM_ARGUMENTS = (
    "--workflow-profile",
    "workflow/profiles/slurm",
    "--slurm-no-account",
    "--slurm-status-command",
    "squeue",
    "--slurm-init-seconds-before-status-checks",
    "5",
)


def timed_run(work: Path, *args: str) -> float:
    """Run the tiny LA in ``work``; return its wall time in seconds."""
    started = time.perf_counter()
    result = snakemake("--configfile", "config/tiny.yaml", *args, cwd=work)
    seconds = time.perf_counter() - started
    if result.returncode != 0:
        sys.exit(f"run in {work} failed:\n{result.stdout[-3000:]}{result.stderr[-3000:]}")
    return seconds


def slurm_jobs() -> list[str]:
    """Jobs the cluster still remembers (squeue keeps them for MinJobAge)."""
    listing = subprocess.run(
        ["squeue", "--states=all", "--noheader", "--format=%i %j %T %M"],
        capture_output=True,
        text=True,
        check=True,
    )
    return listing.stdout.splitlines()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--reference", type=Path, help="a finished local run of config/tiny.yaml")
    parser.add_argument("--keep", action="store_true", help="leave the cluster running")
    args = parser.parse_args()

    subprocess.run([str(CLUSTER), "start"], check=True)
    try:
        with tempfile.TemporaryDirectory(prefix="csc-slurm-") as scratch:
            scratch = Path(scratch)
            if args.reference is None:
                args.reference = scratch / "local"
                tiny_copy(args.reference)
                local_seconds = timed_run(args.reference, "--cores", "2")
                print(f"local run (--cores 2): {local_seconds:.0f} s", flush=True)
            on_slurm = scratch / "slurm"
            tiny_copy(on_slurm)
            slurm_seconds = timed_run(on_slurm, *SLURM_ARGUMENTS)
            jobs = slurm_jobs()
            print(f"SLURM run: {slurm_seconds:.0f} s, {len(jobs)} SLURM jobs remembered")
            print("\n".join(jobs[-5:]))
            compared, differing = differing_results(
                args.reference / "results" / "tiny", on_slurm / "results" / "tiny"
            )
    finally:
        if not args.keep:
            subprocess.run([str(CLUSTER), "stop"], check=True)
    print(f"{compared} result files compared, {len(differing)} differ")
    if differing or compared == 0:
        sys.exit("differing: " + ", ".join(differing))


if __name__ == "__main__":
    main()
