"""Compare each design's test average precision with the oracle's.

The synthetic LA generator writes ``ground_truth.csv``: the true probability of
each outcome for each referral. Ranking the same test rows by that probability
gives the best average precision any model could expect (the oracle AP). The
workflow never reads the ground truth; this benchmark joins it to the test
predictions through the same keyed hash of the referral id.

    python bench/oracle_ap.py --results results/la1 \
        --raw resources/synthetic/generated/seed1001_n2000 --key DEMO-KEY-for-synthetic-data-only
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import pandas as pd
from sklearn.metrics import average_precision_score

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "workflow" / "scripts"))

from common import pseudonymise  # noqa: E402

GROUND_TRUTH_COLUMNS = {"nfa_rereferral": "p_nfa_rereferral", "escalation": "p_escalation"}


def oracle_table(results: Path, ground_truth: pd.DataFrame, key: bytes) -> pd.DataFrame:
    """Test AP of the selected model, the baseline and the oracle per outcome x design."""
    truth = ground_truth.assign(referral_id=pseudonymise(ground_truth["CINdetailsID"], key))
    summary = pd.read_parquet(results / "summary.parquet")
    rows = []
    for row in summary.itertuples():
        column = GROUND_TRUTH_COLUMNS.get(row.outcome)
        if column is None:
            continue
        predictions = pd.read_parquet(
            results / "models" / row.outcome / row.design / "predictions.parquet"
        )
        selected = predictions.loc[predictions["model"] == row.model].merge(
            truth[["referral_id", column]], on="referral_id", how="inner", validate="one_to_one"
        )
        oracle = average_precision_score(selected["label"], selected[column])
        rows.append(
            {
                "outcome": row.outcome,
                "design": row.design,
                "model": row.model,
                "n_test": len(selected),
                "base_rate": row.base_rate,
                "test_ap": row.average_precision,
                "baseline_ap": row.baseline_average_precision,
                "oracle_ap": oracle,
                "ratio_to_oracle": row.average_precision / oracle,
            }
        )
    return pd.DataFrame(rows)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--results", type=Path, required=True)
    parser.add_argument("--raw", type=Path, required=True)
    parser.add_argument("--key", required=True)
    args = parser.parse_args()
    truth = pd.read_csv(args.raw / "ground_truth.csv", dtype={"CINdetailsID": str})
    table = oracle_table(args.results, truth, args.key.encode("utf-8"))
    print(table.to_markdown(index=False, floatfmt=".3f"))


if __name__ == "__main__":
    main()
