"""The leakage audit's single-feature checks of one outcome's feature set.

Scores every structured feature, or every vulnerability flag of the text
designs, alone against the label (``build_structured_features.single_feature_audit``:
ROC AUC and extreme-group precision) and writes the findings for the report.
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

from common import read_parquet, write_parquet


def main(snakemake) -> None:
    """Audit the rule's features with the ``leakage_audit`` settings."""
    cohort = read_parquet(snakemake.input.cohort, "cohort")
    features = pd.read_parquet(snakemake.input.features)
    audit = single_feature_audit(cohort, {"features": features}, snakemake.params.leakage_audit)
    write_parquet(audit, snakemake.output.audit, "leakage_audit")


if __name__ == "__main__":
    from common import run

    run(lambda: main(snakemake), snakemake.log[0])  # noqa: F821
