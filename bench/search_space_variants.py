"""Score LightGBM search-space variants as the study's rule would use them, on finished runs.

A change to a model's default search space changes every LA's answer, so it is
tried on development LAs first (synthetic LAs of seeds that no reported
comparison uses) under a rule written down before any result is seen. For
each design of each run, every variant trains exactly as ``train_models``
does (same cohort, features, topics, splits, seed and other models; only
LightGBM's space differs); the study's rule picks the model from the CV
results alone (highest CV AP lower bound over the inner folds), and the
picked model's test AP is recorded, beside every model's test AP and the
CPU time of the search and refits. One JSON line per run x design x variant.

A variant is a YAML mapping of LightGBM grid entries that replace or add to
``models.lightgbm`` of the config, e.g. ``{num_leaves: [3, 7, 15], subsample:
[0.5, 0.75, 1.0]}``; ``current`` (no change) is always run first:

    nice -n 15 .venv/bin/python bench/search_space_variants.py \\
        --results results/dev44 results/dev45 --designs time_structured time_text \\
        --variants bench/lightgbm_variants.yaml --out bench/out/variants.jsonl
"""

import argparse
import copy
import json
import resource
import sys
from pathlib import Path

import pandas as pd
import yaml

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "workflow" / "scripts"))

from evaluate_models import selected_model_name  # noqa: E402
from train_models import add_text_features, average_precision, train_models  # noqa: E402

DESIGNS = ["random_structured", "random_text", "time_structured", "time_text"]


def variant_models(models: dict, lightgbm_changes: dict) -> dict:
    """The ``models`` config with ``lightgbm_changes`` laid over LightGBM's space."""
    changed = copy.deepcopy(models)
    changed["lightgbm"] = {**changed["lightgbm"], **lightgbm_changes}
    return changed


def design_inputs(results: Path, outcome: str, design: str) -> tuple:
    """The cohort, splits, features and topics ``train_models`` reads for one design."""
    timing, feature_set = design.split("_")
    cohort = pd.read_parquet(results / "cohort" / f"{outcome}.parquet")
    splits = pd.read_parquet(results / "splits" / outcome / f"{timing}.parquet")
    features = pd.read_parquet(results / "features" / outcome / "structured.parquet")
    topics = None
    if feature_set == "text":
        flags = pd.read_parquet(results / "features" / outcome / "text_flags.parquet")
        features = add_text_features(features, flags)
        topics = pd.read_parquet(results / "topics" / outcome / timing / "shares.parquet")
    return cohort, splits, features, topics


def cpu_seconds() -> float:
    """This process's user + system CPU time so far."""
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def score_variant(inputs: tuple, design: str, models: dict, seed: int) -> dict:
    """Train one design with ``models``; the picked model, its test AP, every
    model's test AP and the CPU seconds taken."""
    started = cpu_seconds()
    predictions, cv_results, _ = train_models(*inputs, design=design, models=models, seed=seed)
    cpu = cpu_seconds() - started
    test_aps = {
        str(model): average_precision(rows["label"].to_numpy(), rows["score"].to_numpy())
        for model, rows in predictions.groupby("model", sort=True)
    }
    picked = selected_model_name(cv_results)
    return {"selected": picked, "test_ap": test_aps[picked], "test_aps": test_aps, "cpu_s": cpu}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--results", type=Path, nargs="+", required=True)
    parser.add_argument("--variants", type=Path, required=True)
    parser.add_argument("--designs", nargs="+", choices=DESIGNS, default=DESIGNS)
    parser.add_argument("--configfile", type=Path, default=ROOT / "config" / "config.yaml")
    parser.add_argument("--out", type=Path, required=True)
    args = parser.parse_args()
    config = yaml.safe_load(args.configfile.read_text(encoding="utf-8"))
    models = {k: v for k, v in config["models"].items() if k != "threads" and v is not None}
    variants = {"current": {}, **yaml.safe_load(args.variants.read_text(encoding="utf-8"))}
    args.out.parent.mkdir(parents=True, exist_ok=True)
    with args.out.open("a", encoding="utf-8") as out:
        for results in args.results:
            for outcome in sorted(config["outcomes"]):
                for design in args.designs:
                    inputs = design_inputs(results, outcome, design)
                    for name, changes in variants.items():
                        row = {"results": str(results), "outcome": outcome, "design": design}
                        row |= {"variant": name}
                        row |= score_variant(
                            inputs, design, variant_models(models, changes), int(config["seed"])
                        )
                        print(json.dumps(row), flush=True)
                        out.write(json.dumps(row) + "\n")


if __name__ == "__main__":
    main()
