"""Re-run the 2020 study's modelling approach on a finished workflow run and
compare it with ours: test average precision and training time.

The reference follows the study's public code: text as TF-IDF (30 unigram
features) then scikit-learn LDA with the number of topics (2, 4 or 6) chosen
by log-likelihood, both fitted on training rows; structured features with
constant fill and missing-value indicators; scikit-learn
GradientBoostingClassifier in a 50-draw RandomizedSearchCV scored by average
precision. It uses the same cohort, features, outer split and inner folds as
the workflow run, so only the modelling differs. Times are reported per
stage: training (our ``train_models`` job's benchmark record, which also
explains the models, against the reference's search and refit) and text (our
``fit_topics`` job against the reference's TF-IDF and LDA), and in total.

    .venv/bin/python bench/reference_study.py --results results/synthetic
"""

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd
from scipy.stats import loguniform, randint, uniform
from sklearn.decomposition import LatentDirichletAllocation
from sklearn.ensemble import GradientBoostingClassifier
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.impute import SimpleImputer
from sklearn.metrics import average_precision_score
from sklearn.model_selection import RandomizedSearchCV

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "workflow" / "scripts"))

SEED = 20200901
DESIGNS = ["random_structured", "random_text", "time_structured", "time_text"]


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


def reference_design(results: Path, outcome: str, design: str) -> dict:
    """Fit and score the study's approach for one outcome and design."""
    timing, feature_set = design.split("_")
    cohort = pd.read_parquet(results / "cohort" / f"{outcome}.parquet").set_index("referral_id")
    splits = pd.read_parquet(results / "splits" / outcome / f"{timing}.parquet")
    features = pd.read_parquet(results / "features" / outcome / "structured.parquet")
    features = features.drop(columns="feature_time").set_index("referral_id")
    outer = splits.loc[splits["fold"] == -1]
    train_ids = pd.Index(outer.loc[outer["role"] == "train", "referral_id"])
    test_ids = pd.Index(outer.loc[outer["role"] == "test", "referral_id"])
    ids = train_ids.append(test_ids)

    started = time.perf_counter()
    matrix = features.loc[ids]
    text_seconds = 0.0
    if feature_set == "text":
        documents = pd.read_parquet(results / "features" / outcome / "text_documents.parquet")
        text = documents.set_index("referral_id")["tokens"].map(" ".join).loc[ids]
        topics = study_topics(text.loc[train_ids].tolist(), text.tolist())
        matrix = matrix.assign(**{f"lda_{k}": topics[:, k] for k in range(topics.shape[1])})
        text_seconds = time.perf_counter() - started
    started = time.perf_counter()
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
    scores = search.predict_proba(test_x)[:, 1]
    return {
        "reference_ap": average_precision_score(labels.loc[test_ids], scores),
        "reference_train_s": train_seconds,
        "reference_text_s": text_seconds,
    }


def job_seconds(path: Path) -> float:
    """Wall time of a job from its Snakemake benchmark record."""
    return float(pd.read_csv(path, sep="\t")["s"].iloc[-1])


def our_seconds(results: Path, outcome: str, design: str) -> dict[str, float]:
    """Wall time of our training and (text designs) topic jobs for one outcome and design."""
    timing, feature_set = design.split("_")
    benchmarks = results / "benchmarks"
    text = 0.0
    if feature_set == "text":
        text = job_seconds(benchmarks / "fit_topics" / f"{outcome}_{timing}.tsv")
    return {
        "our_train_s": job_seconds(benchmarks / "train_models" / f"{outcome}_{design}.tsv"),
        "our_text_s": text,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--results", type=Path, required=True)
    parser.add_argument("--out", type=Path, default=None)
    parser.add_argument("--designs", nargs="+", choices=DESIGNS, default=DESIGNS)
    args = parser.parse_args()
    summary = pd.read_parquet(args.results / "summary.parquet")
    summary = summary.loc[summary["design"].isin(args.designs)]
    rows = []
    for row in summary.itertuples():
        reference = reference_design(args.results, row.outcome, row.design)
        ours = our_seconds(args.results, row.outcome, row.design)
        our_total = ours["our_train_s"] + ours["our_text_s"]
        reference_total = reference["reference_train_s"] + reference["reference_text_s"]
        rows.append(
            {
                "outcome": row.outcome,
                "design": row.design,
                "our_ap": row.average_precision,
                "reference_ap": reference["reference_ap"],
                **ours,
                "reference_train_s": reference["reference_train_s"],
                "reference_text_s": reference["reference_text_s"],
                "train_speed_up": reference["reference_train_s"] / ours["our_train_s"],
                "total_speed_up": reference_total / our_total,
            }
        )
        print(json.dumps(rows[-1]), flush=True)
    table = pd.DataFrame(rows)
    if args.out:
        table.to_csv(args.out, index=False)
    print(table.to_markdown(index=False, floatfmt=".3f"))


if __name__ == "__main__":
    main()
