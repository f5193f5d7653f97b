"""Compare each design's test average precision with the oracle's and with an attainable bound.

The synthetic LA generator writes ``ground_truth.csv``: the true probability of
each outcome for each referral. Ranking the same test rows by that probability
gives the best average precision any model could expect (the oracle AP). The
workflow never reads the ground truth; this benchmark joins it to the test
predictions through the same keyed hash of the referral id.

The oracle knows the generator's latent ``family_risk`` and ``text_risk``,
which no model can see: they show only through a few sentences of the notes
and through history. So the benchmark also estimates the attainable AP, the AP
of a model that knows how the data were generated but sees only what the
design may see. It is a logistic regression (standardised inputs, default L2
penalty) fitted on the design's outer training rows and scored on its test
rows (the workflow's own splits), with these inputs per case, all dated
strictly before the prediction point:

- the structured terms of the generator's logits (``LOGIT`` in
  ``generate_synthetic_la.py``): a section 47 enquiry of the referral started,
  the referral closed with no further action, primary need N1, a police
  referral, the source's NFA shift (``SOURCE_NFA``), an infant, aged 16 or 17
  at referral (from the birth month, as the workflow sees it), an earlier
  child protection plan and earlier referrals (at most 3);
- for the designs with text, the numbers of concern and of protective
  sentences in the child's notes that the design reads: those in the outcome's
  text window (of its document types) and, with ``previous_text``, all earlier
  ones. A note's risk sentences are concern sentences with a probability that
  rises with the latent risks, so these counts carry what the text says about
  them. Sentences are recognised by matching the generator's templates on the
  raw notes (placeholders standing for a few words; a typo loses a sentence).

The attainable AP is an estimate from one fit, not a ceiling: the workflow's
model may beat it, e.g. through history that reflects the family's risk. Its
ratio says how much of the gap to the oracle a model could close. Two variants
test whether the bound is low only because of how it is estimated:

- ``boosted_attainable_ap``: gradient boosting (scikit-learn's
  HistGradientBoostingClassifier, seeded) on the same inputs, free of the
  logistic regression's linearity;
- ``household_attainable_ap`` (text designs): the logistic regression given,
  besides, the concern and protective sentences of the notes of every child of
  the family (same window and dates), since siblings' notes also show the
  family's risk.

    python bench/oracle_ap.py --results results/synthetic --raw resources/synthetic \
        --key DEMO-KEY-for-synthetic-data-only --configfile config/config.yaml
"""

from __future__ import annotations

import argparse
import re
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import yaml
from sklearn.ensemble import HistGradientBoostingClassifier
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import average_precision_score
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler
from threadpoolctl import threadpool_limits

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "workflow" / "scripts"))

import generate_synthetic_la as generator  # noqa: E402
from common import pseudonymise  # noqa: E402

GROUND_TRUTH_COLUMNS = {"nfa_rereferral": "p_nfa_rereferral", "escalation": "p_escalation"}
POLICE_SOURCE = "6"
# A placeholder ({child}, {carer1} ...) stands for a few words within one sentence.
PLACEHOLDER = r"[^.!?\n]{1,80}?"


# Sentences are joined by a space or a line break after their final stop.
SENTENCE_BREAK = re.compile(r'(?<=[.!?])\s+|(?<=[.!?]")\s+')


def template_pattern(templates: list[str]) -> re.Pattern:
    """One regular expression matching any of the given sentence templates."""
    return re.compile(
        "|".join(
            PLACEHOLDER.join(re.escape(piece) for piece in re.split(r"\{\w+\}", template))
            for template in templates
        )
    )


CONCERN = template_pattern([s for items in generator.CONCERN.values() for s in items])
PROTECTIVE = template_pattern(generator.PROTECTIVE)


def sentence_counts(texts: pd.Series) -> pd.DataFrame:
    """Numbers of whole sentences of each note that match a concern and a
    protective template."""
    sentences = texts.map(SENTENCE_BREAK.split)

    def matching(pattern: re.Pattern) -> pd.Series:
        return sentences.map(lambda parts: sum(bool(pattern.fullmatch(p)) for p in parts))

    return pd.DataFrame(
        {"concern": matching(CONCERN), "protective": matching(PROTECTIVE)}, index=texts.index
    )


def read_raw(raw: Path) -> dict[str, pd.DataFrame]:
    """The generator's exports the drivers need, with parsed dates and note counts."""
    dates = {
        "referrals": ["CINreferralDate", "CINclosureDate"],
        "children": ["PersonBirthDate"],
        "section47": ["S47ActualStartDate"],
        "cp_plans": ["CPPstartDate"],
        "case_notes": ["NoteDateTime"],
    }
    tables = {
        name: pd.read_csv(raw / f"{name}.csv", dtype=str, keep_default_na=False, na_values=[""])
        for name in dates
    }
    for name, columns in dates.items():
        for column in columns:
            tables[name][column] = pd.to_datetime(tables[name][column]).astype("datetime64[ms]")
    notes = tables["case_notes"]
    tables["case_notes"] = pd.concat([notes, sentence_counts(notes["NoteText"])], axis=1)
    return tables


def structured_drivers(cohort: pd.DataFrame, raw: dict[str, pd.DataFrame]) -> pd.DataFrame:
    """The structured terms of the generator's logits known at each row's point,
    indexed by referral_id. ``cohort`` has referral_id, prediction_time and the
    raw CINdetailsID, LAchildID and CINreferralDate."""
    point = cohort["prediction_time"]
    referral = cohort.merge(raw["referrals"], on=["CINdetailsID", "LAchildID"], how="left")
    birth = cohort["LAchildID"].map(raw["children"].set_index("LAchildID")["PersonBirthDate"])
    birth_month = birth.dt.to_period("M").dt.start_time
    age_days = (cohort["CINreferralDate"] - birth_month).dt.days
    s47 = raw["section47"].groupby("CINdetailsID")["S47ActualStartDate"].min()
    s47_start = cohort["CINdetailsID"].map(s47)
    nfa_closed = (
        (referral["ReferralNFA"].isin(["1", "true", "True"]))
        & (referral["CINclosureDate"] < point.to_numpy())
    ).to_numpy()

    def earlier(events: pd.DataFrame, column: str) -> pd.Series:
        """Number of the child's events dated before the referral."""
        pairs = cohort[["referral_id", "LAchildID", "CINreferralDate"]].merge(
            events[["LAchildID", column]].rename(columns={column: "event_date"}), on="LAchildID"
        )
        pairs = pairs.loc[pairs["event_date"] < pairs["CINreferralDate"]]
        return pairs.groupby("referral_id").size().reindex(cohort["referral_id"], fill_value=0)

    source = referral["ReferralSource"].to_numpy()
    source_nfa = dict(zip(generator.SOURCES, generator.SOURCE_NFA, strict=True))
    return pd.DataFrame(
        {
            "section47_started": (s47_start < point).to_numpy(dtype=float),
            "nfa_closed": nfa_closed.astype(float),
            "need_n1": (referral["PrimaryNeedCode"] == "N1").to_numpy(dtype=float),
            "police": (source == POLICE_SOURCE).astype(float),
            "source_nfa_shift": pd.Series(source).map(source_nfa).fillna(0.0).to_numpy(),
            "infant": (age_days < 365).to_numpy(dtype=float),
            "sixteen": (age_days >= 16 * 365.25).to_numpy(dtype=float),
            "seventeen": (age_days >= 17 * 365.25).to_numpy(dtype=float),
            "previous_cp_plan": (earlier(raw["cp_plans"], "CPPstartDate") > 0).to_numpy(float),
            "previous_referrals": np.minimum(
                earlier(raw["referrals"], "CINreferralDate").to_numpy(), 3
            ).astype(float),
        },
        index=pd.Index(cohort["referral_id"]),
    )


def text_drivers(cohort: pd.DataFrame, notes: pd.DataFrame, outcome: dict) -> pd.DataFrame:
    """Concern and protective sentences in the notes a text design reads: in the
    outcome's window before the point (of its document types) and, with
    ``previous_text``, before the window. Indexed by referral_id."""
    if outcome.get("document_types"):
        notes = notes.loc[notes["DocumentType"].isin(outcome["document_types"])]
    pairs = cohort[["referral_id", "LAchildID", "prediction_time"]].merge(
        notes[["LAchildID", "NoteDateTime", "concern", "protective"]], on="LAchildID"
    )
    start = pairs["prediction_time"] - pd.Timedelta(days=outcome["text_window_days"])
    parts = {
        "window": (pairs["NoteDateTime"] >= start)
        & (pairs["NoteDateTime"] < pairs["prediction_time"])
    }
    if outcome.get("previous_text", True):
        parts["earlier"] = pairs["NoteDateTime"] < start
    columns = {}
    for name, rows in parts.items():
        sums = pairs.loc[rows].groupby("referral_id")[["concern", "protective"]].sum()
        sums = sums.reindex(cohort["referral_id"], fill_value=0)
        columns[f"{name}_concern"] = sums["concern"]
        columns[f"{name}_protective"] = sums["protective"]
    return pd.DataFrame(columns).astype(float)


def household_text_drivers(
    cohort: pd.DataFrame, notes: pd.DataFrame, outcome: dict, families: pd.Series
) -> pd.DataFrame:
    """``text_drivers`` over the notes of every child of each row's family
    (``families``: FamilyID by LAchildID), columns prefixed ``household_``."""

    def family(children: pd.Series) -> pd.Series:
        """The family of each child, or the child itself without one."""
        return children.map(families).fillna(children)

    return text_drivers(
        cohort.assign(LAchildID=family(cohort["LAchildID"])),
        notes.assign(LAchildID=family(notes["LAchildID"])),
        outcome,
    ).add_prefix("household_")


def attainable_ap(
    drivers: pd.DataFrame, labels: pd.Series, roles: pd.Series, boosted: bool = False
) -> float:
    """Test AP of a logistic regression (or, ``boosted``, of gradient boosting)
    on ``drivers`` fitted on the training rows."""
    train, test = roles == "train", roles == "test"
    if boosted:
        model = HistGradientBoostingClassifier(
            learning_rate=0.05, max_iter=300, max_leaf_nodes=15, random_state=0
        )
    else:
        model = make_pipeline(StandardScaler(), LogisticRegression(max_iter=1000))
    # One OpenMP thread: boosting's threads spin and crawl on a busy machine.
    with threadpool_limits(limits=1):
        model.fit(drivers.loc[train], labels.loc[train])
        scores = model.predict_proba(drivers.loc[test])[:, 1]
    return float(average_precision_score(labels.loc[test], scores))


def design_drivers(
    results: Path, outcome: str, settings: dict, raw: dict[str, pd.DataFrame], key: bytes
) -> dict[str, pd.DataFrame]:
    """The attainable model's inputs for the outcome's cohort, per feature set."""
    cohort = pd.read_parquet(results / "cohort" / f"{outcome}.parquet")
    referrals = raw["referrals"][["CINdetailsID", "LAchildID", "CINreferralDate"]]
    referrals = referrals.assign(referral_id=pseudonymise(referrals["CINdetailsID"], key))
    cohort = cohort[["referral_id", "prediction_time", "label"]].merge(
        referrals, on="referral_id", how="inner", validate="one_to_one"
    )
    structured = structured_drivers(cohort, raw)
    text = text_drivers(cohort, raw["case_notes"], settings)
    families = raw["children"].set_index("LAchildID")["FamilyID"]
    household = household_text_drivers(cohort, raw["case_notes"], settings, families)
    return {
        "labels": cohort.set_index("referral_id")["label"],
        "structured": structured,
        "text": pd.concat([structured, text], axis=1),
        "household": pd.concat([structured, text, household], axis=1),
    }


def oracle_table(
    results: Path,
    ground_truth: pd.DataFrame,
    key: bytes,
    raw: dict[str, pd.DataFrame],
    outcomes: dict[str, dict],
) -> pd.DataFrame:
    """Test AP of the selected model, the baseline, the attainable model and the
    oracle per outcome x design."""
    truth = ground_truth.assign(referral_id=pseudonymise(ground_truth["CINdetailsID"], key))
    summary = pd.read_parquet(results / "summary.parquet")
    drivers = {}
    rows = []
    for row in summary.itertuples():
        column = GROUND_TRUTH_COLUMNS.get(row.outcome)
        if column is None:
            continue
        if row.outcome not in drivers:
            drivers[row.outcome] = design_drivers(
                results, row.outcome, outcomes[row.outcome], raw, key
            )
        timing, features = row.design.split("_")
        splits = pd.read_parquet(results / "splits" / row.outcome / f"{timing}.parquet")
        roles = splits.loc[splits["fold"] == -1].set_index("referral_id")["role"]
        inputs = drivers[row.outcome][features]
        labels = drivers[row.outcome]["labels"]
        roles = roles.reindex(inputs.index)
        attainable = attainable_ap(inputs, labels, roles)
        boosted = attainable_ap(inputs, labels, roles, boosted=True)
        household = (
            attainable_ap(drivers[row.outcome]["household"], labels, roles)
            if features == "text"
            else np.nan
        )
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
                "attainable_ap": attainable,
                "boosted_attainable_ap": boosted,
                "household_attainable_ap": household,
                "oracle_ap": oracle,
                "ratio_to_attainable": row.average_precision / attainable,
                "ratio_to_oracle": row.average_precision / oracle,
                "best_attainable_to_oracle": np.nanmax([attainable, boosted, household]) / oracle,
            }
        )
    return pd.DataFrame(rows)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--results", type=Path, required=True)
    parser.add_argument("--raw", type=Path, required=True)
    parser.add_argument("--key", required=True)
    parser.add_argument(
        "--configfile",
        type=Path,
        default=Path("config/config.yaml"),
        help="the run's config, for each outcome's text window and document types",
    )
    args = parser.parse_args()
    truth = pd.read_csv(args.raw / "ground_truth.csv", dtype={"CINdetailsID": str})
    outcomes = yaml.safe_load(args.configfile.read_text())["outcomes"]
    table = oracle_table(
        args.results, truth, args.key.encode("utf-8"), read_raw(args.raw), outcomes
    )
    print(table.to_markdown(index=False, floatfmt=".3f"))


if __name__ == "__main__":
    main()
