"""Write a synthetic LA as statutory returns only, with a config that runs the
whole workflow on them: the worked example of an LA pointing the workflow at
its CIN census XML files, its SSDA903 return and a notes export.

The LA (default 2,000 children referred from April 2014 to March 2020) is
written by the generator, its referrals as one CIN census XML return per
collection year and its care episodes as an SSDA903 CSV return
(``ingest_scale.write_returns``), with the families file the returns lack.
Everything goes under ``resources/synthetic/generated/<la>/``, where the
demo pseudonymisation key is accepted, and the config to ``<that folder>/config.yaml``:

    .venv/bin/python bench/statutory_la.py

then run the snakemake command it prints.
"""

import argparse
import sys
from pathlib import Path

import pandas as pd
import yaml

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "bench"))

from ingest_scale import generate_la, write_returns  # noqa: E402


def statutory_config(name: str, folder: Path, cin: list[Path], ssda903: Path) -> dict:
    """A config that reads only the returns, the families file and the notes."""
    return {
        "la": name,
        "data": {"directory": str(folder / "la")},
        "statutory": {
            "cin": [str(path) for path in cin],
            "ssda903": [str(ssda903)],
            "families": str(folder / "families.csv"),
            "directory": str(folder / "converted"),
        },
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--name", default="statutory_demo")
    parser.add_argument("--children", type=int, default=2000)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--start", default="2014-04-01")
    parser.add_argument("--end", default="2020-03-31")
    args = parser.parse_args()
    folder = Path("resources") / "synthetic" / "generated" / args.name
    la = generate_la(ROOT / folder, args.seed, args.children, args.start, args.end)
    cin, ssda903 = write_returns(la, ROOT / folder)
    children = pd.read_csv(la / "children.csv", dtype=str)
    children[["LAchildID", "FamilyID"]].to_csv(ROOT / folder / "families.csv", index=False)
    config = statutory_config(
        args.name, folder, [p.relative_to(ROOT) for p in cin], ssda903.relative_to(ROOT)
    )
    path = ROOT / folder / "config.yaml"
    path.write_text(yaml.safe_dump(config, sort_keys=False), encoding="utf-8")
    print(f".venv/bin/snakemake --cores 2 --configfile {path.relative_to(ROOT)}")


if __name__ == "__main__":
    main()
