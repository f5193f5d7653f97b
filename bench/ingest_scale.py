"""Benchmark ingestion at LA scale: wall time and peak memory.

Generates a synthetic LA (by default 50,000 children referred over ten years,
1 April 2010 to 31 March 2020, about two million case notes), writes its
referrals as ten CIN census XML returns (one per collection year) and its
care episodes as an SSDA903 CSV return, then measures, each in its own
process as the workflow runs them:

1. ``convert``: ``convert_statutory_returns.convert`` (returns -> raw tables);
2. ``ingest``: ``ingest_records.ingest`` on the converted tables and the notes
   export, and writing the canonical Parquet tables and the QA table.

Run it with ``nice`` on a shared machine; the generated files are cached in
``--work`` (default ``bench/out/ingest_scale``), so a rerun measures only:

    nice -n 10 .venv/bin/python bench/ingest_scale.py

Results are printed and written to ``<work>/ingest_scale.json``; the figures
are recorded in docs/benchmarks.md.
"""

import argparse
import json
import logging
import resource
import subprocess
import sys
import time
from pathlib import Path

import pandas as pd
import yaml

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "workflow" / "scripts"))

import convert_statutory_returns as csr  # noqa: E402
import generate_synthetic_la as gen  # noqa: E402
import ingest_records as ir  # noqa: E402

logger = logging.getLogger("ingest_scale")
CIN_TABLES = ["children", "referrals", "assessments", "section47", "cp_plans"]
KEY = b"benchmark-key-not-for-real-data"


def generate_la(work: Path, seed: int, children: int, start: str, end: str) -> Path:
    """The synthetic LA's exports (generated once, then reused)."""
    la = work / "la"
    if not (la / "case_notes.csv").is_file():
        tables = gen.generate(seed, children, start, end, gen.DEFAULT_NOTES_PER_REFERRAL)
        gen.write_exports(tables, la)
    return la


def write_returns(la: Path, work: Path) -> tuple[list[Path], Path]:
    """CIN census XML returns per collection year and one SSDA903 CSV return."""
    cin_dir, ssda903 = work / "returns" / "cin", work / "returns" / "ssda903"
    if not cin_dir.is_dir():
        exports = {name: pd.read_csv(la / f"{name}.csv", dtype=str) for name in CIN_TABLES}
        gen.write_cin_census(exports, cin_dir)
    if not ssda903.is_dir():
        ssda903.mkdir(parents=True)
        children = pd.read_csv(la / "children.csv", dtype=str)
        header = pd.DataFrame(
            {
                "CHILD": children["LAchildID"],
                "SEX": children["Sex"].map({"M": "1", "F": "2"}),
                "DOB": pd.to_datetime(children["PersonBirthDate"]).dt.strftime("%d/%m/%Y"),
                "ETHNIC": children["Ethnicity"],
                "UPN": children["UPN"],
                "MOTHER": "",
                "MC_DOB": "",
            }
        )
        episodes = pd.read_csv(la / "episodes.csv", dtype=str)
        header = header.loc[header["CHILD"].isin(set(episodes["CHILD"]))]
        header.to_csv(ssda903 / "header.csv", index=False)
        episodes.to_csv(ssda903 / "episodes.csv", index=False)
    return sorted(cin_dir.glob("cin_census_*.xml")), ssda903


def run_convert(work: Path) -> dict[str, int]:
    """Convert the returns into raw tables; return row counts."""
    cin, ssda903 = sorted((work / "returns" / "cin").glob("*.xml")), work / "returns" / "ssda903"
    tables = csr.convert(cin, [ssda903], None, work / "converted")
    return {name: len(frame) for name, frame in tables.items()}


def run_ingest(work: Path) -> dict[str, int]:
    """Ingest the converted tables and the notes; write Parquet; return row counts."""
    config = yaml.safe_load((ROOT / "config" / "config.yaml").read_text(encoding="utf-8"))
    specs = config["data"]["tables"]
    paths = {t: work / "converted" / specs[t]["path"] for t in ir.DATE_COLUMNS}
    paths["notes"] = work / "la" / specs["notes"]["path"]
    mappings = {t: specs[t]["columns"] for t in [*ir.DATE_COLUMNS, "notes"]}
    tables, qa = ir.ingest(
        paths,
        mappings,
        KEY,
        config["data"]["list_separator"],
        ir.load_code_lists(ROOT / config["data"]["code_lists"]),
        ir.extract_date(None),
    )
    out = work / "results"
    outputs = {name: out / f"{name}.parquet" for name in [*tables, "qa"]}
    ir.write_outputs(tables, qa, outputs)
    counts = {name: len(frame) for name, frame in tables.items()}
    notes = qa.loc[(qa["table"] == "notes") & (qa["measure"] == "rows_read"), "count"]
    counts["notes"] = int(notes.iloc[0])
    return counts


def measure_step(step: str, work: Path) -> None:
    """Run one step in this process and print its wall time, peak memory and counts."""
    started = time.perf_counter()
    counts = {"convert": run_convert, "ingest": run_ingest}[step](work)
    seconds = time.perf_counter() - started
    peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(json.dumps({"step": step, "seconds": seconds, "peak_mb": peak_mb, "rows": counts}))


def main() -> None:
    """Prepare the data, then measure each step in a fresh process."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--children", type=int, default=50_000)
    parser.add_argument("--seed", type=int, default=11)
    parser.add_argument("--start", default="2010-04-01")
    parser.add_argument("--end", default="2020-03-31")
    parser.add_argument("--work", type=Path, default=ROOT / "bench" / "out" / "ingest_scale")
    parser.add_argument("--step", choices=["convert", "ingest"], help=argparse.SUPPRESS)
    args = parser.parse_args()
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    if args.step:
        measure_step(args.step, args.work)
        return
    args.work.mkdir(parents=True, exist_ok=True)
    started = time.perf_counter()
    la = generate_la(args.work, args.seed, args.children, args.start, args.end)
    cin, _ = write_returns(la, args.work)
    print(f"data ready in {time.perf_counter() - started:.0f} s: {len(cin)} CIN returns")
    results = []
    for step in ("convert", "ingest"):
        done = subprocess.run(
            [sys.executable, __file__, "--step", step, "--work", str(args.work)],
            check=True,
            capture_output=True,
            text=True,
        )
        results.append(json.loads(done.stdout.strip().splitlines()[-1]))
        print(
            f"{step}: {results[-1]['seconds']:.1f} s, peak {results[-1]['peak_mb']:.0f} MB, "
            f"rows {results[-1]['rows']}"
        )
    total = sum(r["seconds"] for r in results)
    peak = max(r["peak_mb"] for r in results)
    print(f"ingestion: {total:.1f} s in all, peak memory {peak:.0f} MB")
    summary = {"children": args.children, "cin_returns": len(cin), "steps": results}
    (args.work / "ingest_scale.json").write_text(json.dumps(summary, indent=2), encoding="utf-8")


if __name__ == "__main__":
    main()
