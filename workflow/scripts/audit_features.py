"""The leakage audit's single-feature checks of one outcome's feature set on
one split.

Scores every structured feature, every vulnerability flag or every topic share
(and TF-IDF weight) of the text designs alone against the label
(``build_structured_features.single_feature_audit``: ROC AUC and
extreme-group precision) and writes the findings for the report. The checks
score the split's outer training rows only (``training_rows``): scored on the
test rows, a finding would let the test labels steer what the analyst does
next (leave a feature out, rerun), and a feature is a leak the models can
learn only where they are trained. Topic shares are the outer topic model's,
fitted on those same rows.
A flagged feature is warned about or, with
``leakage_audit.stop_on_implausible_feature``, stops the run before any
model is trained on it (training then waits for this job). The checks are a
job of their own, apart from the features, so that changing a threshold
reruns this audit, the report and the model cards, never the features or the
models; one per feature set and split, so that switching the text designs
leaves the structured audit alone.
"""

import pandas as pd
from build_structured_features import single_feature_audit

from common import OUTER_FOLD, read_parquet, write_parquet


def training_rows(
    cohort: pd.DataFrame, features: pd.DataFrame, splits: pd.DataFrame, timing: str
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The cohort's outer training rows of a split and their features (for
    topic shares, the outer topic model's, ``fold == OUTER_FOLD``), each
    feature named with the split's ``timing``: the report shows every split's
    findings together, and a topic number means a different topic in each
    split."""
    train = set(
        splits.loc[(splits["fold"] == OUTER_FOLD) & (splits["role"] == "train"), "referral_id"]
    )
    if "fold" in features.columns:
        features = features.loc[features["fold"] == OUTER_FOLD].drop(columns="fold")
    features = features.loc[features["referral_id"].isin(train)]
    named = features.rename(
        columns={
            c: f"{c} ({timing} split)"
            for c in features.columns
            if c not in ("referral_id", "feature_time")
        }
    )
    return cohort.loc[cohort["referral_id"].isin(train)], named


def main(snakemake) -> None:
    """Audit the rule's features on its split's outer training rows with the
    ``leakage_audit`` settings."""
    cohort, features = training_rows(
        read_parquet(snakemake.input.cohort, "cohort"),
        pd.read_parquet(snakemake.input.features),
        read_parquet(snakemake.input.splits, "splits"),
        snakemake.wildcards.timing,
    )
    audit = single_feature_audit(cohort, {"features": features}, snakemake.params.leakage_audit)
    write_parquet(audit, snakemake.output.audit, "leakage_audit")


if __name__ == "__main__":
    from common import run

    run(lambda: main(snakemake), snakemake.log[0])  # noqa: F821
