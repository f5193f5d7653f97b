"""Write the model card of one (LA, outcome) in Markdown.

The card is the short, shareable account of what was tested and what it
showed: the data, the outcome's definition, the four designs (two when the
config switches text off), each design's selected model against the
pre-specified bar (with the baseline, the base rate and the CV-to-test gap,
i.e. the cross-validated lower bound minus the test AP), whether more data
would help, fairness by group for the design that answers (``answer_design``),
the leakage checks recomputed from the artefacts, and the limits.

Leakage checks (each reported with its count, which must be 0):

- structured features recorded at or after the prediction point (``feature_time >=
  prediction_time``; the text features' times are checked where they are built,
  which stops the run on any, and are not recomputed here, so the card names
  the structured features only);
- families with cases on both sides of the outer split, and of any inner fold
  (fit against validate rows), per split timing;
- time-ordered split: training cases whose label became known after the test
  period began (``label_known_time`` later than the earliest test
  ``prediction_time``).

Beside them, the features the leakage audit's single-feature checks flag as
predicting the outcome implausibly well on their own (``audit_features``),
which the report lists too: with ``stop_on_implausible_feature`` off (the
default) such a run goes on, and the shareable card must say so.

The card holds aggregate numbers only (no identifiers), and is meant to be
shared: counts below ``disclosure.min_count``, the rates and ratios counted
from them, and the counts and rates of groups that could identify a child are
suppressed, and dates are given to the month (``report_wording``).
"""

import logging
import math

import pandas as pd

from common import OUTER_FOLD, read_parquet
from report_wording import (
    DESIGN_LABELS,
    GAP_NOTE,
    INTERVAL_NOTE,
    MODEL_LABELS,
    POINT_LABELS,
    SUPPRESSED,
    TEXT_SWITCHED_OFF,
    Disclosure,
    answer_design,
    audit_share_hidden,
    baseline_difference,
    cohort_rules,
    disparity_summary,
    hidden_comparisons,
    honest_answer,
    is_time_ordered,
    more_data_answer,
    selection_caution,
    shown_base_rate,
    shown_cases,
    shown_count,
    shown_disparities,
    shown_figure,
    shown_pair,
    shown_rate,
    suppressed_groups,
)

logger = logging.getLogger(__name__)

DISPARITY_METRICS = {
    "false_positive_rate": "false positive rate",
    "false_negative_rate": "false negative rate",
    "false_discovery_rate": "false discovery rate",
    "false_omission_rate": "false omission rate",
    "flagged_share": "share flagged",
}


def cell(value) -> str:
    """A Markdown table cell: numbers to three decimals, missing as a dash."""
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, int):
        return f"{value:,}"
    if isinstance(value, float):
        return "-" if math.isnan(value) else f"{value:.3f}"
    return str(value).replace("|", "/")


def markdown_table(frame: pd.DataFrame) -> str:
    """``frame`` as a GitHub-flavoured Markdown table."""
    lines = [
        "| " + " | ".join(str(c) for c in frame.columns) + " |",
        "|" + "|".join("---" for _ in frame.columns) + "|",
    ]
    for row in frame.itertuples(index=False):
        lines.append("| " + " | ".join(cell(v) for v in row) + " |")
    return "\n".join(lines)


def leakage_checks(
    cohort: pd.DataFrame, splits: dict[str, pd.DataFrame], features: pd.DataFrame
) -> pd.DataFrame:
    """Count the leakage each check looks for (0 everywhere means none)."""
    times = features[["referral_id", "feature_time"]].merge(
        cohort[["referral_id", "prediction_time"]], on="referral_id"
    )
    rows = [
        {
            "check": "structured features recorded at or after the prediction point",
            "split": "all",
            "count": int((times["feature_time"] >= times["prediction_time"]).sum()),
        }
    ]
    keyed = cohort.set_index("referral_id")
    for timing, split in sorted(splits.items()):
        split = split.join(
            keyed[["family_id", "label_known_time", "prediction_time"]], on="referral_id"
        )
        straddling = 0
        for fold, rows_of_fold in split.groupby("fold", sort=True):
            first, second = ("train", "test") if fold == OUTER_FOLD else ("fit", "validate")
            families = [
                set(rows_of_fold.loc[rows_of_fold["role"] == role, "family_id"])
                for role in (first, second)
            ]
            straddling += len(families[0] & families[1])
        rows.append(
            {
                "check": "families on both sides of a split (outer or inner)",
                "split": timing,
                "count": straddling,
            }
        )
        if timing == "time":
            outer = split.loc[split["fold"] == OUTER_FOLD]
            test_start = outer.loc[outer["role"] == "test", "prediction_time"].min()
            train = outer.loc[outer["role"] == "train"]
            rows.append(
                {
                    "check": "training labels known only after the test period began",
                    "split": timing,
                    "count": int((train["label_known_time"] > test_start).sum()),
                }
            )
    return pd.DataFrame(rows)


def card_figure(check: str, value: float) -> str:
    """A finding's value as the card writes it: a number of cases, or a
    measure to 3 decimals."""
    figure = shown_figure(check, value)
    return str(figure) if isinstance(figure, int) else f"{figure:.3f}"


def flagged_features(audit: pd.DataFrame, disclosure: Disclosure) -> str:
    """The card's sentence on the single-feature checks of the leakage audit
    (``audit_features``' rows): every feature flagged as predicting the
    outcome implausibly well on its own, or that none was. An extreme group's
    share that would reveal a count below ``disclosure.min_count`` is
    suppressed (``audit_share_hidden``, judged on the whole audit as the
    report judges it: a row's pair may be shown there); the flag is still
    named."""
    audit = audit.reset_index(drop=True)
    hidden = pd.Series(audit_share_hidden(audit, disclosure), index=audit.index)
    flagged = audit.loc[audit["flagged"]].sort_values(["subject", "check"])
    if flagged.empty:
        return (
            "No feature predicts the outcome implausibly well on its own (the single-feature "
            "ROC AUC, extreme-group precision and outcome-free group checks of "
            "`leakage_audit`)."
        )
    listed = "; ".join(
        f"`{row.subject}` ({row.check} "
        f"{SUPPRESSED if hide else card_figure(row.check, row.value)}, "
        f"threshold {shown_figure(row.check, row.threshold):g})"
        for row, hide in zip(flagged.itertuples(index=False), hidden[flagged.index], strict=True)
    )
    return (
        f"**{flagged['subject'].nunique()} feature(s) predict the outcome implausibly well on "
        "their own: check that none is recorded because of the outcome (for an outcome-free "
        "group: because it did not happen, or on cases that cannot have it) before trusting "
        f"any result.** {listed}."
    )


def results_table(
    summary: pd.DataFrame, curves: pd.DataFrame, disclosure: Disclosure
) -> pd.DataFrame:
    """One row per design: the selected model against the bar (the random
    designs' verdicts marked optimistic); a base rate that would reveal a
    count below ``disclosure.min_count`` is suppressed."""
    rows = []
    time_ordered = is_time_ordered(summary["design"])
    for row, honest in zip(summary.itertuples(index=False), time_ordered, strict=True):
        answer = more_data_answer(curves.loc[curves["design"] == row.design]).answer
        rows.append(
            {
                "design": DESIGN_LABELS.get(row.design, row.design),
                "selected model": MODEL_LABELS.get(row.model, row.model),
                "test AP": row.average_precision,
                "95% interval": f"{row.ap_ci_lower:.3f} to {row.ap_ci_upper:.3f}",
                "baseline AP": row.baseline_average_precision,
                "AP less baseline (95%)": baseline_difference(
                    row.ap_minus_baseline_lower, row.ap_minus_baseline_upper
                ),
                "best single feature AP": row.best_feature_average_precision,
                "AP less best feature (95%)": baseline_difference(
                    row.ap_minus_best_feature_lower, row.ap_minus_best_feature_upper
                ),
                "base rate": shown_base_rate(row.base_rate, row.n_test, disclosure),
                "CV-to-test gap": row.cv_ap_lower_bound - row.average_precision,
                "verdict": row.verdict if honest else f"{row.verdict} (optimistic)",
                "more data would help?": answer,
            }
        )
    return pd.DataFrame(rows)


def fairness_findings(groups: pd.DataFrame, disclosure: Disclosure) -> pd.DataFrame:
    """Groups whose rate differs from the reference group's beyond the band
    (judged with bootstrap intervals); findings that could identify a child,
    or give back a reference group's hidden rate, are left out as the report
    leaves them out (``report_wording.hidden_comparisons``)."""
    cases = shown_cases(groups, suppressed_groups(groups, disclosure), disclosure)
    hidden = hidden_comparisons(groups, disclosure)
    rows = []
    for index, row, shown in zip(groups.index, groups.itertuples(index=False), cases, strict=True):
        for metric, label in DISPARITY_METRICS.items():
            if hidden.loc[index, metric]:
                continue
            if getattr(row, f"{metric}_disparity") == "outside band":
                rows.append(
                    {
                        "attribute": row.attribute,
                        "group": row.group,
                        "cases": shown,
                        "rate": label,
                        "ratio to reference": getattr(row, f"{metric}_ratio"),
                        "reference": row.reference_group,
                    }
                )
    return pd.DataFrame(
        rows, columns=["attribute", "group", "cases", "rate", "ratio to reference", "reference"]
    )


def data_sentence(cohort: pd.DataFrame, text: bool, disclosure: Disclosure) -> str:
    """The card's account of the cohort: its referrals, children, families,
    months and cases with the outcome, as the shared documents may show them."""
    positives = int(cohort["label"].sum())
    share = shown_rate(positives, len(cohort), disclosure)
    share = "a share not shown" if share == SUPPRESSED else f"{share:.1%}"
    return (
        f"{cell(shown_count(len(cohort), disclosure))} referrals of "
        f"{cell(shown_count(cohort['child_id'].nunique(), disclosure))} children in "
        f"{cell(shown_count(cohort['family_id'].nunique(), disclosure))} families, referred "
        f"between {cohort['referral_date'].min():%Y-%m} and "
        f"{cohort['referral_date'].max():%Y-%m}; "
        f"{cell(shown_pair(positives, len(cohort), disclosure))} ({share}) had the outcome. "
        "Identifiers are keyed hashes; "
        + ("case notes were redacted before use." if text else "no case notes were used.")
    )


def model_card(
    la: str,
    outcome: str,
    definition: dict,
    feature_sets: list[str],
    success_threshold: float,
    cohort: pd.DataFrame,
    splits: dict[str, pd.DataFrame],
    features: pd.DataFrame,
    audit: pd.DataFrame,
    summary: pd.DataFrame,
    fairness: pd.DataFrame,
    curves: pd.DataFrame,
    disparity_band: list[float],
    disclosure: Disclosure,
    min_group_size: int,
    max_age_years: float,
    selection_note: str = "",
) -> str:
    """The model card of one outcome as Markdown, of the designs of
    ``feature_sets`` (common.smk's FEATURE_SETS); ``selection_note``
    (``selection_caution`` of the deciding split) follows the answer."""
    answer = answer_design(feature_sets)
    text = "text" in feature_sets
    summary = summary.loc[summary["outcome"] == outcome]
    honest = summary.loc[summary["design"] == answer]
    chosen = honest["model"].iloc[0] if len(honest) else None
    groups = fairness.loc[
        (fairness["outcome"] == outcome)
        & (fairness["design"] == answer)
        & (fairness["model"] == chosen)
    ]
    leaks = leakage_checks(cohort, splits, features)
    findings = fairness_findings(groups, disclosure)
    small = groups.loc[groups["small_group"], ["attribute", "group"]]
    low, high = disparity_band
    parts = [
        f"# Model card: {outcome} in {la}",
        "",
        "## Data",
        "",
        data_sentence(cohort, text, disclosure),
        "",
        "## Outcome",
        "",
        " ".join(str(definition.get("description", "")).split()),
        "",
        f"Prediction point: {definition['prediction_offset_days']} day(s) after the "
        f"{POINT_LABELS[definition.get('prediction_point', 'referral')]}; "
        f"outcome horizon {definition['horizon_months']} months"
        + (
            f"; case-note text from the {definition['text_window_days']} days before the "
            "prediction point. "
            if text
            else ". "
        )
        + cohort_rules(definition, max_age_years),
        "",
        "## Designs",
        "",
        (
            "Four designs, as in the 2020 study: random or time-ordered test sets, crossed with "
            "structured data only or structured data and case-note text (topics and "
            "vulnerability flags). Siblings never "
            "fall on both sides of a split; topic models and every fitted step see training "
            "cases only. The time-ordered text design is the honest estimate of use on "
            "future cases."
            if text
            else "Two designs, random or time-ordered test sets, with structured data only. "
            "Siblings never fall on both sides of a split; every fitted step sees training "
            "cases only. The time-ordered design is the honest estimate of use on future "
            f"cases. {TEXT_SWITCHED_OFF}"
        ),
        "",
        "## Results against the bar",
        "",
        f"The pre-specified bar is an average precision (AP) of {success_threshold:g} on "
        "held-out test cases. A design meets the bar when the whole 95% bootstrap interval "
        "is at or above it, does not meet it when the whole interval is below it, and "
        "otherwise we cannot tell. AP depends on the base rate; the baseline ranks cases by "
        "their number of previous referrals, the best single feature by the one feature "
        f"that did best on the training rows. {INTERVAL_NOTE} {GAP_NOTE} The random designs "
        "may learn from the future: their verdicts are marked optimistic.",
        "",
        f"**Answer:** {honest_answer(summary, success_threshold, answer, disclosure)}",
        "",
        *([selection_note, ""] if selection_note else []),
        markdown_table(results_table(summary, curves, disclosure)),
        "",
        f"## Fairness ({DESIGN_LABELS[answer].lower()})",
        "",
        f"Error rates at the decision threshold compared with each attribute's reference "
        f"group, against a band of {low:g} to {high:g}, judged with bootstrap intervals.",
        "",
    ]
    parts.append(disparity_summary(shown_disparities(groups, disclosure)))
    if not findings.empty:
        parts += ["", "Rates clearly outside the band:", "", markdown_table(findings)]
    if not small.empty:
        listed = ", ".join(f"{a} {g}" for a, g in small.itertuples(index=False, name=None))
        parts += [
            "",
            f"Small groups (fewer than {min_group_size} cases), whose rates are "
            f"uncertain: {listed}.",
        ]
    parts += [
        "",
        disclosure.note().replace("&lt;", "<").replace("<code>", "`").replace("</code>", "`"),
    ]
    parts += [
        "",
        "## Leakage checks",
        "",
        "Counts of what each check looks for; every count must be 0.",
        "",
        markdown_table(leaks.assign(count=[shown_count(n, disclosure) for n in leaks["count"]])),
        "",
        flagged_features(audit, disclosure),
        "",
        "## Limits",
        "",
        "- AP rises with the base rate: compare each model with the base rate and the "
        "baseline, not only with the bar.",
        "- The bootstrap resamples whole families (siblings are not independent cases) and "
        "holds the fitted models fixed: intervals show the uncertainty of the test set, "
        "not of refitting.",
        "- The random designs may learn from the future; only the time-ordered designs "
        "estimate use on new cases.",
        "- Fairness is assessed for recorded attributes only; small groups give wide "
        "intervals, and a model that meets the bar is not thereby fair or safe to use.",
        "- Feature effects and importances describe the model, not causes.",
        "",
    ]
    if (leaks["count"] > 0).any():
        logger.warning("%s: a leakage check found %d cases", outcome, int(leaks["count"].sum()))
    return "\n".join(parts)


def main(snakemake) -> None:
    """Read one outcome's results and write its model card."""
    params = snakemake.params
    splits = {
        path.split("/")[-1].removesuffix(".parquet"): read_parquet(path, "splits")
        for path in snakemake.input.splits
    }
    disclosure = Disclosure(int(params.disclosure_min_count))
    (deciding_diagnostics,) = snakemake.input.deciding_diagnostics
    min_positives = int(params.min_inner_positives)
    card = model_card(
        str(params.la),
        str(params.outcome),
        dict(params.definition),
        list(params.feature_sets),
        float(params.success_threshold),
        read_parquet(snakemake.input.cohort, "cohort"),
        splits,
        pd.read_parquet(snakemake.input.features, columns=["referral_id", "feature_time"]),
        pd.concat(
            [read_parquet(p, "leakage_audit") for p in snakemake.input.audits], ignore_index=True
        ),
        read_parquet(snakemake.input.summary, "summary"),
        pd.concat(
            [read_parquet(p, "fairness_groups") for p in snakemake.input.fairness],
            ignore_index=True,
        ),
        pd.concat(
            [read_parquet(p, "learning_curve") for p in snakemake.input.learning_curves],
            ignore_index=True,
        ),
        [float(b) for b in params.disparity_band],
        disclosure,
        int(params.min_group_size),
        float(params.max_age_years),
        selection_caution(
            read_parquet(deciding_diagnostics, "split_diagnostics"),
            min_positives,
            disclosure,
            "the time-ordered split",
        ),
    )
    with open(snakemake.output.card, "w", encoding="utf-8") as handle:
        handle.write(card)


if __name__ == "__main__":
    from common import run

    run(lambda: main(snakemake), snakemake.log[0])  # noqa: F821
