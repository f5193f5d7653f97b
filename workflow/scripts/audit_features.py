"""The leakage audit's single-feature checks of one outcome's feature set.

Scores every structured feature, or every vulnerability flag of the text
designs, alone against the label (``build_structured_features.single_feature_audit``:
ROC AUC and extreme-group precision) and writes the findings for the report.
Topic shares (and TF-IDF weights) are scored too, per split timing, on the
outer training rows only (``training_rows``): they come from a topic model
fitted on those rows, and scoring them on the test rows would let the test
labels steer what the analyst does next.
A flagged feature is warned about or, with
``leakage_audit.stop_on_implausible_feature``, stops the run before any
model is trained on it (training then waits for this job). The checks are a
job of their own, apart from the features, so that changing a threshold
reruns this audit, the report and the model cards, never the features or the models; one per
feature set, so that switching the text designs leaves the structured audit
alone.
"""

import pandas as pd
from build_structured_features import single_feature_audit

from common import OUTER_FOLD, read_parquet, write_parquet


def training_rows(
    cohort: pd.DataFrame, shares: pd.DataFrame, splits: pd.DataFrame, timing: str
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The cohort's outer training rows of a split and their topic shares (the
    outer topic model's, ``fold == OUTER_FOLD``), each column named with the
    split's ``timing``: a topic number means a different topic in each split."""
    train = splits.loc[(splits["fold"] == OUTER_FOLD) & (splits["role"] == "train"), "referral_id"]
    outer = shares.loc[shares["fold"] == OUTER_FOLD].drop(columns="fold")
    outer = outer.loc[outer["referral_id"].isin(set(train))]
    named = outer.rename(
        columns={c: f"{c} ({timing} split)" for c in outer.columns if c != "referral_id"}
    )
    return cohort.loc[cohort["referral_id"].isin(set(train))], named


def main(snakemake) -> None:
    """Audit the rule's features with the ``leakage_audit`` settings: topic
    shares on their split's outer training rows, other features on every row."""
    cohort = read_parquet(snakemake.input.cohort, "cohort")
    features = pd.read_parquet(snakemake.input.features)
    if hasattr(snakemake.input, "splits"):
        cohort, features = training_rows(
            cohort,
            features,
            read_parquet(snakemake.input.splits, "splits"),
            snakemake.wildcards.timing,
        )
    audit = single_feature_audit(cohort, {"features": features}, snakemake.params.leakage_audit)
    write_parquet(audit, snakemake.output.audit, "leakage_audit")


if __name__ == "__main__":
    from common import run

    run(lambda: main(snakemake), snakemake.log[0])  # noqa: F821
