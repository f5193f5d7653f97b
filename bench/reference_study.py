"""Re-run the 2020 study's modelling approach on a finished workflow run and
compare it with ours: test average precision and training time.

The reference follows the study's public code: text as TF-IDF (30 unigram
features) then scikit-learn LDA with the number of topics (2, 4 or 6) chosen
by log-likelihood, both fitted on training rows; structured features with
constant fill and missing-value indicators; scikit-learn
GradientBoostingClassifier in a 50-draw RandomizedSearchCV scored by average
precision. It uses the same cohort, structured features, vulnerability flags
(text designs; the study matched phrases for them too), outer split and inner
folds as the workflow run, so only the topic model and the classifier differ.

Training: our ``train_models`` job (which also explains the models) is rerun
here, once per design, in its own Python process on the run's inputs, its
outputs written to a temporary directory and checked to equal the run's; its
CPU time (user + sys of the whole process, interpreter start-up and imports
included) and wall time are set against the CPU and wall time of the
reference's imputation, search and refit. CPU time is the fair measure on a
shared machine; the load average is reported beside each row. Text: the wall
and CPU time of our ``fit_topics`` job (its Snakemake benchmark record)
against those of the reference's TF-IDF and LDA.

Test AP: our selected model's against the reference's, and their difference
(ours minus the reference's) with a 95% interval from bootstrap resamples of
the test families on which both are scored together (the workflow's own
resampling: whole families, not stratified by class,
``evaluation.bootstrap_resamples`` of them, seeded by ``seed``). Pairing
removes the test set's luck, which both share, so an interval that holds 0
means the two cannot be told apart on this test set.

    nice -n 15 .venv/bin/python bench/reference_study.py --results results/synthetic
"""

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd
import yaml
from scipy.stats import loguniform, randint, uniform
from sklearn.decomposition import LatentDirichletAllocation
from sklearn.ensemble import GradientBoostingClassifier
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.impute import SimpleImputer
from sklearn.metrics import average_precision_score
from sklearn.model_selection import RandomizedSearchCV

ROOT = Path(__file__).resolve().parents[1]
SCRIPTS = ROOT / "workflow" / "scripts"
sys.path.insert(0, str(SCRIPTS))

from common import families_by_referral, family_numbers  # noqa: E402
from evaluate_models import bootstrap_average_precision, percentile_interval  # noqa: E402

SEED = 20200901
DESIGNS = ["random_structured", "random_text", "time_structured", "time_text"]
OUR_OUTPUTS = ("predictions", "cv_results", "importance")
# Runs our train_models script in a fresh interpreter as Snakemake's script
# directive does: a ``snakemake`` object in its globals, the scripts on sys.path.
TRAIN_JOB = """
import json, runpy, sys, types
spec = json.loads(sys.argv[1])
sys.path.insert(0, spec["scripts"])
snakemake = types.SimpleNamespace(
    input=types.SimpleNamespace(**spec["input"]),
    output=types.SimpleNamespace(**spec["output"]),
    params=types.SimpleNamespace(**spec["params"]),
    threads=spec["threads"],
    log=spec["log"],
)
runpy.run_path(spec["script"], init_globals={"snakemake": snakemake}, run_name="__main__")
"""


def study_topics(train_docs: list[str], all_docs: list[str]) -> np.ndarray:
    """TF-IDF then LDA fitted on training documents, topics chosen by log-likelihood."""
    vectoriser = TfidfVectorizer(max_features=30)
    train_matrix = vectoriser.fit_transform(train_docs)
    best, best_score = None, -np.inf
    for n_topics in (2, 4, 6):
        model = LatentDirichletAllocation(n_components=n_topics, random_state=SEED)
        model.fit(train_matrix)
        score = model.score(train_matrix)
        if score > best_score:
            best, best_score = model, score
    return best.transform(vectoriser.transform(all_docs))


def inner_folds(splits: pd.DataFrame, train_ids: pd.Index) -> list[tuple[np.ndarray, np.ndarray]]:
    """The workflow's inner folds as positional indices into the training rows."""
    position = pd.Series(np.arange(len(train_ids)), index=train_ids)
    folds = []
    for _, rows in splits.loc[splits["fold"] >= 0].groupby("fold"):
        fit = position[rows.loc[rows["role"] == "fit", "referral_id"]].to_numpy()
        validate = position[rows.loc[rows["role"] == "validate", "referral_id"]].to_numpy()
        folds.append((fit, validate))
    return folds


def shared_features(results: Path, outcome: str, feature_set: str, ids: pd.Index) -> pd.DataFrame:
    """The features the reference shares with our models, for the cases
    ``ids``: the structured ones and, with text, the vulnerability flags (the
    study matched phrases for them too), so that only the topic model and
    the classifier differ."""
    folder = results / "features" / outcome
    tables = ["structured"] + (["text_flags"] if feature_set == "text" else [])
    frames = [
        pd.read_parquet(folder / f"{table}.parquet")
        .drop(columns="feature_time")
        .set_index("referral_id")
        .loc[ids]
        for table in tables
    ]
    return pd.concat(frames, axis=1, verify_integrity=True)


def reference_design(results: Path, outcome: str, design: str) -> dict:
    """Fit and score the study's approach for one outcome and design."""
    timing, feature_set = design.split("_")
    cohort = pd.read_parquet(results / "cohort" / f"{outcome}.parquet").set_index("referral_id")
    splits = pd.read_parquet(results / "splits" / outcome / f"{timing}.parquet")
    outer = splits.loc[splits["fold"] == -1]
    train_ids = pd.Index(outer.loc[outer["role"] == "train", "referral_id"])
    test_ids = pd.Index(outer.loc[outer["role"] == "test", "referral_id"])
    ids = train_ids.append(test_ids)

    started, started_cpu = time.perf_counter(), time.process_time()
    matrix = shared_features(results, outcome, feature_set, ids)
    text_seconds = text_cpu_seconds = 0.0
    if feature_set == "text":
        documents = pd.read_parquet(results / "features" / outcome / "text_documents.parquet")
        text = documents.set_index("referral_id")["tokens"].map(" ".join).loc[ids]
        topics = study_topics(text.loc[train_ids].tolist(), text.tolist())
        matrix = matrix.assign(**{f"lda_{k}": topics[:, k] for k in range(topics.shape[1])})
        text_seconds = time.perf_counter() - started
        text_cpu_seconds = time.process_time() - started_cpu
    started, started_cpu = time.perf_counter(), time.process_time()
    imputer = SimpleImputer(strategy="constant", fill_value=0, add_indicator=True)
    values = imputer.fit(matrix.loc[train_ids]).transform(matrix)
    train_x, test_x = values[: len(train_ids)], values[len(train_ids) :]
    labels = cohort["label"]
    search = RandomizedSearchCV(
        GradientBoostingClassifier(random_state=SEED),
        {
            "n_estimators": randint(50, 400),
            "learning_rate": loguniform(0.01, 0.3),
            "max_depth": randint(2, 6),
            "subsample": uniform(0.5, 0.5),
            "min_samples_leaf": randint(5, 50),
        },
        n_iter=50,
        scoring="average_precision",
        cv=inner_folds(splits, train_ids),
        random_state=SEED,
        n_jobs=1,
    )
    search.fit(train_x, labels.loc[train_ids].to_numpy())
    train_seconds = time.perf_counter() - started
    train_cpu_seconds = time.process_time() - started_cpu
    scores = search.predict_proba(test_x)[:, 1]
    return {
        "reference_scores": pd.Series(scores, index=test_ids),
        "reference_ap": average_precision_score(labels.loc[test_ids], scores),
        "reference_train_s": train_seconds,
        "reference_train_cpu_s": train_cpu_seconds,
        "reference_text_s": text_seconds,
        "reference_text_cpu_s": text_cpu_seconds,
    }


def paired_ap_difference(
    labels: np.ndarray,
    ours: np.ndarray,
    reference: np.ndarray,
    n_resamples: int,
    seed: int,
    families: np.ndarray | None = None,
) -> dict[str, float]:
    """Our test AP minus the reference's, with the 2.5th and 97.5th percentiles
    of that difference over bootstrap resamples of the test rows (of whole
    ``families`` if given, as the workflow's evaluation draws them), both
    models scored on each same resample."""
    scores = np.column_stack([ours, reference])
    groups = (
        None if families is None else family_numbers(families, np.column_stack([labels, scores]))
    )
    resampled = bootstrap_average_precision(labels, scores, n_resamples, seed, groups=groups)
    lower, upper = percentile_interval(resampled[0] - resampled[1])
    return {
        "ap_difference": average_precision_score(labels, ours)
        - average_precision_score(labels, reference),
        "ap_difference_lower": float(lower),
        "ap_difference_upper": float(upper),
    }


def our_test_scores(results: Path, outcome: str, design: str, model: str) -> pd.DataFrame:
    """The test labels, our selected model's scores and the family of each
    test row, by referral id."""
    predictions = pd.read_parquet(results / "models" / outcome / design / "predictions.parquet")
    chosen = predictions.loc[predictions["model"] == model].set_index("referral_id")
    families = families_by_referral(pd.read_parquet(results / "cohort" / f"{outcome}.parquet"))
    return chosen[["label", "score"]].assign(family=families.reindex(chosen.index))


def job_seconds(path: Path) -> tuple[float, float]:
    """Wall and CPU time of a job from its Snakemake benchmark record (the CPU
    time is sampled once a second, so it may miss the job's last second)."""
    record = pd.read_csv(path, sep="\t").iloc[-1]
    return float(record["s"]), float(record["cpu_time"])


def train_job_spec(results: Path, outcome: str, design: str, config: dict, out: Path) -> dict:
    """The inputs, outputs, params and threads Snakemake gives our ``train_models``
    job for one design, its outputs and log redirected to ``out``."""
    timing, feature_set = design.split("_")
    topics = results / "topics" / outcome / timing
    shares = "shares_tfidf.parquet" if config["tfidf"]["enabled"] else "shares.parquet"
    features = results / "features" / outcome
    text = feature_set == "text"
    return {
        "input": {
            "cohort": str(results / "cohort" / f"{outcome}.parquet"),
            "splits": str(results / "splits" / outcome / f"{timing}.parquet"),
            "features": str(features / "structured.parquet"),
            "topics": str(topics / shares) if text else [],
            "text_features": str(features / "text_flags.parquet") if text else [],
        },
        "output": {name: str(out / f"{name}.parquet") for name in OUR_OUTPUTS},
        # As the rule passes them: a model set to null is left out.
        "params": {
            "design": design,
            "models": {
                name: value for name, value in config["models"].items() if value is not None
            },
            "seed": config["seed"],
        },
        "threads": int(config["models"]["threads"]),
        "log": [str(out / "train_models.log")],
        "scripts": str(SCRIPTS),
        "script": str(SCRIPTS / "train_models.py"),
    }


def job_environment(threads: int) -> dict[str, str]:
    """This process's environment with the thread counts of numerical libraries
    set to the job's threads, as Snakemake sets them for every job."""
    variables = ("OMP", "GOTO", "OPENBLAS", "MKL", "NUMEXPR")
    limits = {f"{name}_NUM_THREADS": str(threads) for name in variables}
    return os.environ | limits | {"VECLIB_MAXIMUM_THREADS": str(threads)}


def children_cpu_seconds() -> float:
    """User + sys CPU time of this process's finished children."""
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def our_seconds(results: Path, outcome: str, design: str, config: dict) -> dict[str, float]:
    """CPU and wall time of our training job, rerun in a child process, and of
    our topic job (text designs) from its benchmark record."""
    timing, feature_set = design.split("_")
    with tempfile.TemporaryDirectory() as out:
        spec = train_job_spec(results, outcome, design, config, Path(out))
        command = [sys.executable, "-c", TRAIN_JOB, json.dumps(spec)]
        started, started_cpu = time.perf_counter(), children_cpu_seconds()
        subprocess.run(command, check=True, env=job_environment(spec["threads"]))
        wall, cpu = time.perf_counter() - started, children_cpu_seconds() - started_cpu
        run = results / "models" / outcome / design
        for name in OUR_OUTPUTS:
            if Path(out, f"{name}.parquet").read_bytes() != (run / f"{name}.parquet").read_bytes():
                raise SystemExit(
                    f"{outcome} / {design}: the rerun's {name} differs from {run}; "
                    "rerun the workflow with the current code first."
                )
    text = text_cpu = 0.0
    if feature_set == "text":
        record = results / "benchmarks" / "fit_topics" / f"{outcome}_{timing}.tsv"
        text, text_cpu = job_seconds(record)
    return {
        "our_train_s": wall,
        "our_train_cpu_s": cpu,
        "our_text_s": text,
        "our_text_cpu_s": text_cpu,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--results", type=Path, required=True)
    parser.add_argument("--out", type=Path, default=None)
    parser.add_argument("--designs", nargs="+", choices=DESIGNS, default=DESIGNS)
    parser.add_argument(
        "--outcomes", nargs="+", default=None, help="the run's outcomes to compare (default: all)"
    )
    parser.add_argument("--configfile", type=Path, default=ROOT / "config" / "config.yaml")
    args = parser.parse_args()
    config = yaml.safe_load(args.configfile.read_text())
    summary = pd.read_parquet(args.results / "summary.parquet")
    summary = summary.loc[summary["design"].isin(args.designs)]
    if args.outcomes is not None:
        summary = summary.loc[summary["outcome"].isin(args.outcomes)]
    rows = []
    for row in summary.itertuples():
        loads = [os.getloadavg()[0]]
        reference = reference_design(args.results, row.outcome, row.design)
        loads.append(os.getloadavg()[0])
        test = our_test_scores(args.results, row.outcome, row.design, row.model)
        difference = paired_ap_difference(
            test["label"].to_numpy(),
            test["score"].to_numpy(),
            reference["reference_scores"].loc[test.index].to_numpy(),
            int(config["evaluation"]["bootstrap_resamples"]),
            int(config["seed"]),
            test["family"].to_numpy(),
        )
        ours = our_seconds(args.results, row.outcome, row.design, config)
        loads.append(os.getloadavg()[0])
        our_total = ours["our_train_s"] + ours["our_text_s"]
        our_total_cpu = ours["our_train_cpu_s"] + ours["our_text_cpu_s"]
        reference_total = reference["reference_train_s"] + reference["reference_text_s"]
        reference_total_cpu = reference["reference_train_cpu_s"] + reference["reference_text_cpu_s"]
        rows.append(
            {
                "outcome": row.outcome,
                "design": row.design,
                "our_ap": row.average_precision,
                "reference_ap": reference["reference_ap"],
                **difference,
                **ours,
                "reference_train_s": reference["reference_train_s"],
                "reference_train_cpu_s": reference["reference_train_cpu_s"],
                "reference_text_s": reference["reference_text_s"],
                "reference_text_cpu_s": reference["reference_text_cpu_s"],
                "train_speed_up": reference["reference_train_s"] / ours["our_train_s"],
                "train_cpu_speed_up": reference["reference_train_cpu_s"] / ours["our_train_cpu_s"],
                "total_speed_up": reference_total / our_total,
                "total_cpu_speed_up": reference_total_cpu / our_total_cpu,
                "load_average": float(np.mean(loads)),
            }
        )
        print(json.dumps(rows[-1]), flush=True)
    table = pd.DataFrame(rows)
    if args.out:
        table.to_csv(args.out, index=False)
    print(table.to_markdown(index=False, floatfmt=".3f"))


if __name__ == "__main__":
    main()
