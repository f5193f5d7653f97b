"""Render the LA's self-contained HTML report.

The report answers the study's question for each outcome and design: does the
selected model reach the pre-specified average precision? It shows the
outcome definitions, the cohorts and splits, every model's test metrics beside
a simple baseline, precision-recall curves and the topics found in the notes
(none when the config switches the text designs off).
Figures are embedded, so the one HTML file can be shared as it is; they are
also written as PNG files for ``snakemake --report``. Each is described in
words (its alt text) and has its points in a table beneath it, for readers
who cannot see it and for copying. Being shared, it
suppresses the counts and rates of groups of children small enough to identify
one, and every count below ``disclosure.min_count`` (``report_wording``);
dates are given to the month. The Parquet files keep every figure.
"""

import base64
import html
import io
import logging
import math
from dataclasses import dataclass
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.dates as mdates  # noqa: E402
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
from sklearn.metrics import precision_recall_curve  # noqa: E402

from audit_features import (  # noqa: E402
    AUC_CHECK,
    NO_OUTCOME_RECORD_ADVICE,
    OUTCOME_FREE_CHECK,
    OUTCOME_RECORD_ADVICE,
    PRECISION_CHECK,
)
from common import DECIDING_TIMING, OUTER_FOLD, read_parquet  # noqa: E402
from evaluate_models import bias_corrected_interval  # noqa: E402
from report_wording import (  # noqa: E402
    DESIGN_LABELS,
    FAIRNESS_RATES,
    GAP_NOTE,
    INTERVAL_NOTE,
    LEVELLED_OFF_GAIN,
    MODEL_LABELS,
    OPTIMISTIC,
    POINT_LABELS,
    SUPPRESSED,
    TEXT_SWITCHED_OFF,
    Disclosure,
    answer_design,
    audit_share_hidden,
    baseline_difference,
    cohort_rules,
    decision_rule_hidden,
    disparity_summary,
    flagging_hidden,
    hidden_comparisons,
    hidden_rates,
    hide_complements,
    honest_answer,
    is_time_ordered,
    more_data_answer,
    rate_is_disclosive,
    selection_caution,
    shown_base_rate,
    shown_cases,
    shown_count,
    shown_disparities,
    shown_figure,
    shown_pair,
    shown_rate,
    shown_values,
    study_designs,
    suppressed_groups,
    text_window_wording,
)

logger = logging.getLogger(__name__)

STYLE = """
body { font-family: system-ui, sans-serif; max-width: 70em; margin: 2em auto; padding: 0 1em;
       color: #1d2733; line-height: 1.45; }
h1 { font-size: 1.7em; } h2 { border-bottom: 2px solid #d5dce4; padding-bottom: .2em; }
table { border-collapse: collapse; margin: .8em 0 1.4em; font-size: .92em; }
th, td { border: 1px solid #d5dce4; padding: .3em .6em; text-align: right; }
th { background: #eef2f6; } td.text, th.text { text-align: left; }
.meets { background: #dff3e4; } .fails { background: #fbe3e1; }
.optimistic { color: #4a5868; font-style: italic; } .answer li { margin: .3em 0; }
.note { color: #4a5868; font-size: .92em; } .scroll { overflow-x: auto; }
figure { display: inline-block; margin: .5em; } figcaption { font-size: .85em; color: #4a5868; }
"""
VERDICT_CLASSES = {"meets the bar": "meets", "does not meet the bar": "fails"}


def rows_of(
    table: pd.DataFrame, outcome: str, design: str, model: str | None = None
) -> pd.DataFrame:
    """Rows of one outcome and design (and model, if given) of a results table."""
    keep = (table["outcome"] == outcome) & (table["design"] == design)
    if model is not None:
        keep &= table["model"] == model
    return table.loc[keep]


def table_html(frame: pd.DataFrame, row_classes: list[str] | None = None) -> str:
    """An HTML table; numbers to three decimals, text left-aligned."""
    header = "".join(
        f'<th class="{"text" if frame[c].dtype == object or str(frame[c].dtype) == "str" else ""}">'
        f"{html.escape(str(c))}</th>"
        for c in frame.columns
    )
    rows = []
    for i, row in enumerate(frame.itertuples(index=False)):
        cells = []
        for value in row:
            if isinstance(value, float):
                cells.append("<td>-</td>" if math.isnan(value) else f"<td>{value:.3f}</td>")
            elif isinstance(value, bool):
                cells.append(f"<td>{'yes' if value else 'no'}</td>")
            elif isinstance(value, int):
                cells.append(f"<td>{value:,}</td>")
            else:
                cells.append(f'<td class="text">{html.escape(str(value))}</td>')
        css = f' class="{row_classes[i]}"' if row_classes else ""
        rows.append(f"<tr{css}>{''.join(cells)}</tr>")
    return f'<div class="scroll"><table><tr>{header}</tr>{"".join(rows)}</table></div>'


def baseline_differences(summary: pd.DataFrame, prefix: str) -> list[str]:
    """Each row's interval of its AP less a baseline's (the summary's
    ``{prefix}_lower`` and ``_upper``), as the tables show it."""
    return [
        baseline_difference(low, high)
        for low, high in zip(summary[f"{prefix}_lower"], summary[f"{prefix}_upper"], strict=True)
    ]


def verdict_table(summary: pd.DataFrame, disclosure: Disclosure) -> pd.DataFrame:
    """The headline table: one row per outcome and design; the estimate column
    marks the random designs optimistic. A test set's cases and base rate are
    not shown when they would reveal a count below ``disclosure.min_count``."""
    time_ordered = is_time_ordered(summary["design"])
    return pd.DataFrame(
        {
            "outcome": summary["outcome"],
            "design": summary["design"].map(DESIGN_LABELS),
            "estimate": np.where(time_ordered, "honest: future cases", OPTIMISTIC),
            "selected model": summary["model"].map(MODEL_LABELS),
            "test AP": summary["average_precision"],
            "95% interval": [
                f"{low:.3f} to {high:.3f}"
                for low, high in zip(summary["ap_ci_lower"], summary["ap_ci_upper"], strict=True)
            ],
            "baseline AP": summary["baseline_average_precision"],
            "AP less baseline (95%)": baseline_differences(summary, "ap_minus_baseline"),
            "best single feature AP": summary["best_feature_average_precision"],
            "AP less best feature (95%)": baseline_differences(summary, "ap_minus_best_feature"),
            "base rate": [
                shown_base_rate(rate, n, disclosure)
                for rate, n in zip(summary["base_rate"], summary["n_test"], strict=True)
            ],
            "ROC AUC": summary["roc_auc"],
            "CV AP lower bound": summary["cv_ap_lower_bound"],
            "CV-to-test gap": summary["cv_ap_lower_bound"] - summary["average_precision"],
            "test cases": [shown_count(n, disclosure) for n in summary["n_test"]],
            "verdict": summary["verdict"],
        }
    )


def month_of(date: pd.Timestamp) -> str:
    """A date as the shared report shows it: its year and month (an exact
    first or last date can single out one case)."""
    return date.strftime("%Y-%m")


def cohort_table(cohorts: dict[str, pd.DataFrame], disclosure: Disclosure) -> pd.DataFrame:
    """Size, base rate and months of each outcome's cohort."""
    rows = []
    for outcome, cohort in cohorts.items():
        positives = int(cohort["label"].sum())
        rows.append(
            {
                "outcome": outcome,
                "referrals": shown_count(len(cohort), disclosure),
                "children": shown_count(cohort["child_id"].nunique(), disclosure),
                "families": shown_count(cohort["family_id"].nunique(), disclosure),
                "positives": shown_pair(positives, len(cohort), disclosure),
                "base rate": shown_rate(positives, len(cohort), disclosure),
                "first referral": month_of(cohort["referral_date"].min()),
                "last referral": month_of(cohort["referral_date"].max()),
            }
        )
    return pd.DataFrame(rows)


def split_table(
    splits: dict[tuple[str, str], pd.DataFrame], cohorts: dict, disclosure: Disclosure
) -> pd.DataFrame:
    """Outer split sizes, base rates and sibling overlap (which must be 0)."""
    rows = []
    for (outcome, timing), split in splits.items():
        outer = split.loc[split["fold"] == OUTER_FOLD].merge(
            cohorts[outcome][["referral_id", "family_id", "label", "prediction_time"]],
            on="referral_id",
        )
        families = {
            role: set(outer.loc[outer["role"] == role, "family_id"]) for role in ("train", "test")
        }
        roles = (
            outer.groupby("role")["label"]
            .agg(rows="size", positives="sum")
            .reindex(["train", "test", "excluded"], fill_value=0)
        )
        # as the outer fold's rows of the fold table show them
        shown = shown_roles(roles.index, roles["rows"], roles["positives"], disclosure)
        test = outer.loc[outer["role"] == "test"]
        rows.append(
            {
                "outcome": outcome,
                "split": timing,
                "train rows": shown.loc["train", "rows"],
                "test rows": shown.loc["test", "rows"],
                "excluded rows": shown.loc["excluded", "rows"],
                "train base rate": shown.loc["train", "base rate"],
                "test base rate": shown.loc["test", "base rate"],
                # prediction times, as the fold table and the split picture date rows
                "test from": month_of(test["prediction_time"].min()),
                "families in both": shown_count(
                    len(families["train"] & families["test"]), disclosure
                ),
            }
        )
    return pd.DataFrame(rows)


def figure_data_uri(figure: plt.Figure, path: Path) -> str:
    """Save a figure as PNG (without timestamps, for reproducibility) and
    return it as an embeddable data URI."""
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png", dpi=96, metadata={"Software": None})
    plt.close(figure)
    path.write_bytes(buffer.getvalue())
    return "data:image/png;base64," + base64.b64encode(buffer.getvalue()).decode("ascii")


def numbers_behind(what: str, table: pd.DataFrame, note: str) -> str:
    """A figure's numbers as a table folded beneath it, for readers who cannot
    see the figure and for copying: ``what`` names the figure, ``note`` says
    how to read the table (HTML)."""
    return (
        f"<details><summary>Numbers behind this figure: {html.escape(what)}</summary>"
        f'<p class="note">{note}</p>{table_html(table)}</details>'
    )


# Shapes as well as colours tell the models (and the designs) apart, for
# readers who cannot tell the colours apart and for grey-scale prints.
MODEL_MARKERS = {
    "lightgbm": "o",
    "logistic_regression": "s",
    "decision_tree": "^",
    "previous_referrals": "x",
    "best_single_feature": "+",
}
DESIGN_MARKERS = dict(zip(DESIGN_LABELS, ["o", "s", "^", "D"], strict=True))


def legend_label(model: str, drawn: bool) -> str:
    """A model's name in a figure's legend, saying so when every point of its
    line is hidden, lest an empty figure read as a missing model."""
    name = MODEL_LABELS.get(model, model)
    return name if drawn else f"{name}: hidden (too few cases to show)"


def shown_pr_points(
    predictions: pd.DataFrame, rules: pd.DataFrame, disclosure: Disclosure
) -> dict[str, pd.DataFrame]:
    """The points of each model's precision-recall curve on the test set that
    may be shown, by model (all of them, sorted; none for a model whose every
    point is hidden): each one's cases flagged, recall and precision, and the
    flagging rules of the thresholds table (``rules``, its rows of every model)
    it is, if any. The points are the thresholds whose precision and recall
    the threshold table could show (``flagging_hidden``) and that differ from
    each other by enough cases with and without the outcome
    (``differenced_hidden``): each step of a full curve shows whether one more
    case had the outcome. Each model's rules that may be shown are kept first
    (and points are kept apart from those that are no point of the curve), so
    that the curve and the tables reveal no count together."""
    points = {}
    for model, rows in predictions.groupby("model", sort=True):
        precision, recall, thresholds = precision_recall_curve(rows["label"], rows["score"])
        flagged = len(rows) - np.searchsorted(np.sort(rows["score"]), thresholds, side="left")
        positives = int(rows["label"].sum())
        found = np.round(recall[:-1] * positives)
        model_rules = rules.loc[rules["model"] == model]
        shown_rules = model_rules.loc[~threshold_rules_hidden(model_rules, disclosure)]
        # A shown top k% rule that cuts through tied scores is no point of the
        # curve, but the table shows its counts: the points are kept apart from
        # it as from the others.
        off_curve = shown_rules.loc[~shown_rules["n_flagged"].isin(flagged)]
        off_flagged = off_curve["n_flagged"].to_numpy()
        off_found = np.round(off_curve["precision"].to_numpy() * off_flagged)
        hidden = differenced_hidden(
            np.concatenate([off_found, found]),
            np.concatenate([off_flagged, flagged]),
            pd.concat(
                [
                    pd.Series(False, index=range(len(off_curve))),
                    flagging_hidden(
                        found,
                        flagged,
                        np.full(len(found), positives),
                        np.full(len(found), len(rows)),
                        disclosure,
                    ),
                ],
                ignore_index=True,
            ),
            np.concatenate(
                [
                    np.ones(len(off_curve), dtype=bool),
                    np.isin(flagged, shown_rules["n_flagged"].to_numpy()),
                ]
            ),
            disclosure,
        )[len(off_curve) :]
        # The last point of the curve (recall 0) has no threshold: it flags no case.
        shown = pd.DataFrame(
            {
                "flagged": flagged[~hidden],
                "recall": recall[:-1][~hidden],
                "precision": precision[:-1][~hidden],
            }
        )
        # Only rules that may be shown are named: a hidden rule that a point
        # happens to match would be given away.
        names = {
            int(count): "; ".join(
                rule_label(rule.rule, rule.threshold, rule.k_percent)
                + (" (decision threshold)" if rule.is_decision_threshold else "")
                for rule in same.itertuples()
            )
            for count, same in shown_rules.groupby("n_flagged", sort=True)
        }
        shown["rule"] = [names.get(int(n), "") for n in shown["flagged"]]
        points[model] = shown
    return points


def shown_test_base_rate(predictions: pd.DataFrame, disclosure: Disclosure) -> float | str:
    """The base rate of the test set, as the shared report may show it
    (``shown_rate``); every model's rows of ``predictions`` hold the same cases."""
    cases = predictions.groupby("model")["label"].agg(["size", "sum"]).iloc[0]
    return shown_rate(int(cases["sum"]), int(cases["size"]), disclosure)


def pr_curve_figure(
    points: dict[str, pd.DataFrame], base_rate: float | str, title: str
) -> plt.Figure:
    """Precision against recall at each model's ``points`` that may be shown
    (``shown_pr_points``), with the base rate unless it is suppressed."""
    figure, axes = plt.subplots(figsize=(4.6, 3.6))
    for model, shown in points.items():
        # Points only: a line between two shown thresholds would not be the
        # curve between them, whose points are hidden.
        axes.plot(
            shown["recall"],
            shown["precision"],
            marker=MODEL_MARKERS.get(model, "o"),
            linestyle="none",
            markersize=4,
            label=legend_label(model, not shown.empty),
        )
    if base_rate != SUPPRESSED:
        axes.axhline(base_rate, color="grey", linestyle=":", label="base rate")
    axes.set_xlabel("recall (share of the cases with the outcome found)")
    axes.set_ylabel("precision")
    axes.set_xlim(0, 1)
    axes.set_ylim(0, 1.02)
    axes.set_title(title, fontsize=9)
    axes.legend(fontsize=7, loc="upper right")
    figure.tight_layout()
    return figure


def pr_alt(
    what: str, models: pd.DataFrame, points: dict[str, pd.DataFrame], base_rate: float | str
) -> str:
    """The precision-recall figure of ``what`` (outcome and design) in words:
    each model's test AP (``models``, its rows of the metrics table) and
    points shown, and the base rate line."""
    ap = dict(zip(models["model"], models["average_precision"], strict=True))
    selected = set(models.loc[models["selected"].astype(bool), "model"])
    described = [
        f"{MODEL_LABELS.get(model, model)}{', selected' if model in selected else ''}, "
        f"test AP {ap[model]:.3f}, "
        + (
            f"{len(shown)} point{'' if len(shown) == 1 else 's'} shown"
            if len(shown)
            else "every point hidden (too few cases to show)"
        )
        for model, shown in points.items()
    ]
    line = (
        "the base rate is hidden (too few cases)"
        if base_rate == SUPPRESSED
        else f"a dotted line marks the base rate, {base_rate:.3f}"
    )
    return (
        f"Precision against recall on the test cases, {what}, for each model: "
        f"{'; '.join(described)}; {line}. The numbers are in the tables beneath the figures."
    )


def pr_points_table(points: dict[str, pd.DataFrame]) -> pd.DataFrame:
    """The precision-recall figure's points as a table: one row per point shown,
    by model and from the fewest cases flagged, naming the thresholds table's
    flagging rules among them; one row for a model whose points are all hidden."""
    rows = []
    for model, shown in points.items():
        name = MODEL_LABELS.get(model, model)
        if shown.empty:
            rows.append(
                {
                    "model": name,
                    "flagging rule": "every point hidden (too few cases to show)",
                    "cases flagged": SUPPRESSED,
                    "recall": SUPPRESSED,
                    "precision": SUPPRESSED,
                }
            )
        for point in shown.sort_values("flagged", kind="stable").itertuples(index=False):
            rows.append(
                {
                    "model": name,
                    "flagging rule": point.rule,
                    "cases flagged": int(point.flagged),
                    "recall": float(point.recall),
                    "precision": float(point.precision),
                }
            )
    return pd.DataFrame(rows)


def differenced_hidden(
    found: np.ndarray,
    flagged: np.ndarray,
    hidden: pd.Series,
    first: np.ndarray,
    disclosure: Disclosure,
) -> np.ndarray:
    """``hidden`` (one model's flagging rules), with more rules hidden so that no
    two shown ones differ by a count from 1 to ``disclosure.min_count - 1``:
    the rules flag nested sets of cases (the highest scored), so subtracting
    two rules' flagged cases and those found gives the cases scored between
    them and how many had the outcome. The ``first`` rules (the decision
    threshold, which the models table shows) are kept first, then the others
    from the fewest flagged."""
    found = np.asarray(found, dtype=float)
    flagged = np.asarray(flagged, dtype=float)
    shown: list[int] = []
    for i in sorted(range(len(found)), key=lambda i: (not first[i], flagged[i])):
        if hidden.iloc[i]:
            continue
        # against every shown rule at once: a curve has a rule per test case,
        # and pairs in Python took seconds per curve at 20,000 test cases
        between = np.abs(flagged[i] - flagged[shown])
        disclosive = rate_is_disclosive(np.abs(found[i] - found[shown]), between, disclosure)
        if not (disclosive & (between != 0)).any():
            shown.append(i)
    return ~np.isin(np.arange(len(found)), shown)


def threshold_rules_hidden(thresholds: pd.DataFrame, disclosure: Disclosure) -> np.ndarray:
    """Which of one model's flagging rules (rows of its ``thresholds`` table)
    may not show their precision and recall: those whose flagged or unflagged
    cases, or those of them with or without the outcome (``flagging_hidden``),
    or the cases scored between them and another rule shown, or those of them
    with or without the outcome (``differenced_hidden``), number from 1 to
    ``disclosure.min_count - 1``."""
    flagged = thresholds["n_flagged"].to_numpy()
    found = np.nan_to_num(thresholds["precision"].to_numpy() * flagged).round()
    recall = thresholds["recall"].to_numpy()
    # Every rule counts the same test cases, and the same ones with the outcome.
    positives = np.nanmax(
        np.divide(found, recall, out=np.full(len(found), np.nan), where=recall > 0), initial=0
    ).round()
    share = thresholds["flagged_share"].to_numpy()
    cases = np.nanmax(
        np.divide(flagged, share, out=np.full(len(found), np.nan), where=share > 0), initial=0
    ).round()
    return differenced_hidden(
        found,
        flagged,
        flagging_hidden(
            found, flagged, np.full(len(found), positives), np.full(len(found), cases), disclosure
        ),
        thresholds["is_decision_threshold"].to_numpy(dtype=bool),
        disclosure,
    )


def rule_label(rule: str, threshold: float, k_percent: float) -> str:
    """A flagging rule of the thresholds table as the report names it."""
    return f"top {k_percent:g}%" if rule == "top_k_percent" else f"score >= {threshold:g}"


def threshold_table(thresholds: pd.DataFrame, disclosure: Disclosure) -> pd.DataFrame:
    """Flagged cases, precision, recall and F0.1 across score thresholds and
    top-k% rules (of one model), all suppressed where they would reveal a
    count below ``disclosure.min_count`` (``threshold_rules_hidden``): two
    rules' flagged cases alone differing by 1 to ``min_count - 1`` give the
    cases scored between them."""
    flagged = thresholds["n_flagged"].to_numpy()
    hidden = threshold_rules_hidden(thresholds, disclosure)
    return pd.DataFrame(
        {
            "rule": [
                rule_label(rule, threshold, k_percent)
                for rule, threshold, k_percent in zip(
                    thresholds["rule"],
                    thresholds["threshold"],
                    thresholds["k_percent"],
                    strict=True,
                )
            ],
            "flagged": shown_values(pd.Series(flagged), hidden),
            "precision": shown_values(thresholds["precision"], hidden),
            "recall": shown_values(thresholds["recall"], hidden),
            "F0.1": shown_values(thresholds["f0_1"], hidden),
            "false alarms per 100 flagged": shown_values(
                thresholds["false_alarms_per_100_flagged"], hidden
            ),
            "at-risk children missed per 100": shown_values(
                thresholds["missed_per_100_at_risk"], hidden
            ),
        }
    )


@dataclass(frozen=True)
class FairnessComparison:
    """How groups are compared: each attribute's reference group (config;
    ``None`` or an attribute left out = its largest group) and the band of
    ratios to it that count as no disparity."""

    reference: dict | None
    band: tuple[float, float]

    def description(self) -> str:
        """The comparison in plain English, as the fairness section states it."""
        chosen = "; ".join(
            f"{attribute.replace('_', ' ')}: {group}"
            for attribute, group in sorted((self.reference or {}).items())
        )
        reference = (
            f"each attribute's reference group ({chosen}; for any other attribute, its "
            "largest group)"
            if chosen
            else "each attribute's reference group (its largest group)"
        )
        low, high = self.band
        return f"{reference} beyond the {low:g} to {high:g} band"


def fairness_table(groups: pd.DataFrame, disclosure: Disclosure) -> pd.DataFrame:
    """Error rates by group with their disparity verdicts, for one model; the
    counts, rates and verdicts that could identify a child are suppressed, and
    an attribute's verdicts for a rate its reference group's hides
    (``hidden_comparisons``)."""
    hidden = suppressed_groups(groups, disclosure)
    rates_hidden = hidden_rates(groups, disclosure)
    comparisons_hidden = hidden_comparisons(groups, disclosure)
    table = pd.DataFrame(
        {
            "attribute": groups["attribute"],
            "group": groups["group"],
            "cases": shown_cases(groups, hidden, disclosure),
            "small": groups["small_group"].astype(bool),
            "base rate": shown_values(groups["base_rate"], hidden),
            "AP": shown_values(groups["average_precision"], hidden),
        }
    )
    for column, label in FAIRNESS_RATES.items():
        table[label] = shown_values(groups[column], rates_hidden[column])
        table[f"{label} vs reference"] = shown_values(
            pd.Series(
                [
                    disparity_cell(verdict, low, high)
                    for verdict, low, high in zip(
                        groups[f"{column}_disparity"],
                        groups[f"{column}_ratio_lower"],
                        groups[f"{column}_ratio_upper"],
                        strict=True,
                    )
                ],
                index=groups.index,
            ),
            comparisons_hidden[column],
        )
    return table


def disparity_cell(verdict: str | None, low: float, high: float) -> str:
    """A group's disparity verdict with the 95% interval of its rate's ratio to
    the reference group's, which says how far apart they may be (open above
    when the reference's rate was 0 in some resamples)."""
    if pd.isna(verdict):
        return ""
    if verdict == "reference" or not np.isfinite(low) or np.isnan(high):
        return str(verdict)
    if np.isinf(high):
        return f"{verdict} (ratio {low:.2f} or more)"
    return f"{verdict} (ratio {low:.2f} to {high:.2f})"


def importance_table(importance: pd.DataFrame, top: int = 10) -> pd.DataFrame:
    """The features whose permutation most lowers test AP, for one model."""
    rows = importance.sort_values("rank").head(top)
    return pd.DataFrame(
        {
            "rank": rows["rank"].astype(int),
            "feature": rows["feature"],
            "AP drop when permuted": rows["permutation_ap_drop_mean"],
            "sd": rows["permutation_ap_drop_sd"],
            "mean |contribution|": rows["mean_abs_contribution"],
        }
    )


def merged_bins(bins: pd.DataFrame, cuts: pd.Series, disclosure: Disclosure) -> pd.DataFrame:
    """One model's calibration bins, merged between the bin edges among
    ``cuts``: the score thresholds whose flagging rule the threshold table may
    show (``threshold_rules_hidden``), so that each merged bin's cases and
    those of them with the outcome are what two such rules (or one and all the
    cases) give by subtraction anyway. Each one's scores (from the edge below
    it up to the next, on [0, 1]), cases, mean score and observed rate; none
    at all when any merged bin's cases, or those of them with or without the
    outcome, would reveal a count below ``disclosure.min_count``."""
    bins = bins.loc[bins["n"] > 0].sort_values("bin")
    edges = np.sort(
        [edge for edge in bins["bin_lower"] if np.isclose(edge, np.asarray(cuts, float)).any()]
    )
    # Bins from one edge up to the next form one merged bin.
    group = np.searchsorted(edges, bins["bin_lower"].to_numpy() + 1e-9, side="right")
    merged = (
        bins.assign(score_sum=bins["mean_score"] * bins["n"], group=group)
        .groupby("group")[["n", "n_positive", "score_sum"]]
        .sum()
    )
    counts = zip(merged["n_positive"], merged["n"], strict=True)
    if any(rate_is_disclosive(p, n, disclosure) for p, n in counts):
        merged = merged.iloc[:0]
    bounds = np.concatenate([[0.0], edges, [1.0]])
    return pd.DataFrame(
        {
            "score_from": bounds[merged.index.to_numpy(dtype=int)],
            "score_to": bounds[merged.index.to_numpy(dtype=int) + 1],
            "n": merged["n"].astype(int).to_numpy(),
            "mean_score": (merged["score_sum"] / merged["n"]).to_numpy(),
            "observed_rate": (merged["n_positive"] / merged["n"]).to_numpy(),
        }
    )


def shown_calibration(
    calibration: pd.DataFrame, rules: pd.DataFrame, disclosure: Disclosure
) -> dict[str, pd.DataFrame]:
    """Each model's calibration bins (sorted by model), merged between the
    score thresholds of its flagging rules (``rules``, its rows of the
    thresholds table) that may be shown (``merged_bins``)."""
    merged = {}
    for model, rows in calibration.groupby("model", sort=True):
        model_rules = rules.loc[rules["model"] == model]
        shown = model_rules.loc[~threshold_rules_hidden(model_rules, disclosure)]
        merged[model] = merged_bins(
            rows, shown.loc[shown["rule"] == "score_threshold", "threshold"], disclosure
        )
    return merged


def calibration_figure(merged: dict[str, pd.DataFrame], title: str) -> plt.Figure:
    """Observed rate against mean predicted score per bin, for each model, its
    bins merged as they may be shown (``shown_calibration``)."""
    figure, axes = plt.subplots(figsize=(4.6, 3.6))
    for model, rows in merged.items():
        axes.plot(
            rows["mean_score"],
            rows["observed_rate"],
            marker=MODEL_MARKERS.get(model, "o"),
            linewidth=1.2,
            label=legend_label(model, not rows.empty),
        )
    axes.plot([0, 1], [0, 1], color="grey", linestyle=":", label="perfect calibration")
    axes.set_xlabel("mean predicted score in bin")
    axes.set_ylabel("observed rate in bin")
    axes.set_xlim(0, 1)
    axes.set_ylim(0, 1)
    axes.set_title(title, fontsize=9)
    axes.legend(fontsize=7, loc="upper left")
    figure.tight_layout()
    return figure


def calibration_alt(what: str, merged: dict[str, pd.DataFrame]) -> str:
    """The calibration figure of ``what`` (outcome and design) in words: each
    model's merged bins, their mean predicted scores and observed rates."""
    described = [
        f"{MODEL_LABELS.get(model, model)}, every bin hidden (too few cases to show)"
        if bins.empty
        else f"{MODEL_LABELS.get(model, model)}, {len(bins)} bin{'' if len(bins) == 1 else 's'}"
        f" with mean predicted scores from {bins['mean_score'].min():.3f} to "
        f"{bins['mean_score'].max():.3f} and observed rates from "
        f"{bins['observed_rate'].min():.3f} to {bins['observed_rate'].max():.3f}"
        for model, bins in merged.items()
    ]
    return (
        f"Calibration on the test cases, {what}: observed rate against mean predicted score "
        f"per bin of scores, for each model: {'; '.join(described)}; a dotted diagonal "
        "marks perfect calibration. The numbers are in the table beneath the figure."
    )


def calibration_points_table(merged: dict[str, pd.DataFrame]) -> pd.DataFrame:
    """The calibration figure's points as a table: each model's merged bins
    (``shown_calibration``) with their scores, cases, mean predicted score and
    observed rate; one row for a model whose bins are all hidden."""
    rows = []
    for model, bins in merged.items():
        name = MODEL_LABELS.get(model, model)
        if bins.empty:
            rows.append(
                {
                    "model": name,
                    "scores": "every bin hidden (too few cases to show)",
                    "cases": SUPPRESSED,
                    "mean predicted score": SUPPRESSED,
                    "observed rate": SUPPRESSED,
                }
            )
        for row in bins.itertuples(index=False):
            rows.append(
                {
                    "model": name,
                    "scores": f"{row.score_from:.1f} to {row.score_to:.1f}",
                    "cases": int(row.n),
                    "mean predicted score": float(row.mean_score),
                    "observed rate": float(row.observed_rate),
                }
            )
    return pd.DataFrame(rows)


def learning_curve_figure(curves: pd.DataFrame, title: str) -> plt.Figure:
    """Test AP of each design's selected model against the training rows it
    was refitted on: mean over repeats, with their range shaded."""
    figure, axes = plt.subplots(figsize=(5.6, 3.8))
    for design, label in DESIGN_LABELS.items():
        rows = curves.loc[curves["design"] == design]
        if rows.empty:
            continue
        by_fraction = rows.groupby("fraction", sort=True).agg(
            n_train=("n_train", "mean"),
            mean=("test_average_precision", "mean"),
            low=("test_average_precision", "min"),
            high=("test_average_precision", "max"),
        )
        (line,) = axes.plot(
            by_fraction["n_train"],
            by_fraction["mean"],
            marker=DESIGN_MARKERS[design],
            linewidth=1.4,
            label=label,
        )
        axes.fill_between(
            by_fraction["n_train"],
            by_fraction["low"],
            by_fraction["high"],
            color=line.get_color(),
            alpha=0.15,
        )
    axes.set_xlabel("training cases the model was fitted on")
    axes.set_ylabel("test average precision")
    axes.set_ylim(bottom=0)
    axes.set_title(title, fontsize=9)
    axes.legend(fontsize=7, loc="lower right")
    figure.tight_layout()
    return figure


def learning_curve_table(curves: pd.DataFrame) -> pd.DataFrame:
    """Per design: the selected model's test AP on the smallest share and on all of the
    training cases, and the plain answer to "would more data help?"."""
    rows = []
    for design, label in DESIGN_LABELS.items():
        curve = curves.loc[curves["design"] == design]
        if curve.empty:
            continue
        reading = more_data_answer(curve)
        means = curve.groupby("fraction")["test_average_precision"].mean()
        rows.append(
            {
                "design": label,
                "model": MODEL_LABELS.get(curve["model"].iloc[0], curve["model"].iloc[0]),
                "training cases": int(curve["n_train"].max()),
                "test AP, smallest share": float(means.iloc[0]),
                "test AP, all": float(means.loc[1.0]),
                "AP gain per doubling": reading.gain,
                "± (95% interval)": reading.noise,
                "would more data help?": reading.answer,
            }
        )
    return pd.DataFrame(rows)


def learning_curve_points(curves: pd.DataFrame) -> pd.DataFrame:
    """The learning-curve figure's points: per design and share of its training
    cases, the training cases (mean over repeats, as the figure places them)
    and the test AP's mean, lowest and highest over the repeats."""
    rows = []
    for design, label in DESIGN_LABELS.items():
        curve = curves.loc[curves["design"] == design]
        by_fraction = curve.groupby("fraction", sort=True).agg(
            n_train=("n_train", "mean"),
            mean=("test_average_precision", "mean"),
            low=("test_average_precision", "min"),
            high=("test_average_precision", "max"),
        )
        for fraction, point in by_fraction.iterrows():
            rows.append(
                {
                    "design": label,
                    "share of training cases": f"{fraction:.0%}",
                    "training cases": int(round(point["n_train"])),
                    "test AP (mean)": float(point["mean"]),
                    "lowest": float(point["low"]),
                    "highest": float(point["high"]),
                }
            )
    return pd.DataFrame(rows)


def learning_curve_alt(outcome: str, curves: pd.DataFrame) -> str:
    """The learning-curve figure in words: each design's mean test AP on its
    fewest and on all of its training cases."""
    points = learning_curve_points(curves)
    designs = [
        f"{label}: {rows['test AP (mean)'].iloc[0]:.3f} on "
        f"{rows['training cases'].iloc[0]:,} cases to {rows['test AP (mean)'].iloc[-1]:.3f} "
        f"on {rows['training cases'].iloc[-1]:,}"
        for label, rows in points.groupby("design", sort=False)
    ]
    return (
        f"Learning curves of {outcome}: test average precision of each design's selected "
        f"model against the training cases it was refitted on; {'; '.join(designs)}. "
        "The numbers are in the table beneath the figure."
    )


def learning_curve_section(outcome: str, curves: pd.DataFrame, figure_dir: Path) -> str:
    """The learning curves of one outcome's designs, with their reading."""
    uri = figure_data_uri(
        learning_curve_figure(curves, f"{outcome}: learning curves"),
        figure_dir / f"learning_curve_{outcome}.png",
    )
    return (
        "<h3>Would more data help?</h3>"
        '<p class="note">Each design\'s selected model, with the hyperparameters training '
        "chose, refitted on growing shares of its training cases (whole families, drawn at "
        "random and repeated; the band spans the repeats) and scored on the same test cases. "
        "The gain per doubling is the slope of test AP against the logarithm of the training "
        "cases, over subsets of at least a quarter of them, with its 95% interval (&plusmn;), "
        "which grows with the spread across repeats and the curve's wobble. Test AP was "
        "<b>still rising</b> when the whole interval is above 0 (more cases would probably "
        f"help; only <b>a little</b> when the interval also lies below {LEVELLED_OFF_GAIN:.2f}); "
        "it <b>levelled off</b> when the interval lies within a gain of "
        f"{LEVELLED_OFF_GAIN:.2f} per doubling either side of 0, so "
        "that such a gain would have shown (they would probably not help much); otherwise "
        "the curve is too noisy to tell. The subsets of one repeat are nested, so the points "
        "are not independent and the interval is if anything too narrow.</p>"
        + table_html(learning_curve_table(curves))
        + f'<figure><img src="{uri}" width="560" '
        f'alt="{html.escape(learning_curve_alt(outcome, curves))}">'
        "<figcaption>Test average precision against the number of training cases."
        "</figcaption></figure>"
        + numbers_behind(
            f"{outcome}, learning curves",
            learning_curve_points(curves),
            "Each point of the figure: the training cases (the mean over the repeats) and "
            "the test AP's mean over the repeats, with the lowest and highest (the band).",
        )
    )


def ale_figure(effects: pd.DataFrame, title: str) -> plt.Figure:
    """One panel per feature: its accumulated local effect on the model's score."""
    features = effects.sort_values("feature_rank")["feature"].drop_duplicates().tolist()
    figure, axes = plt.subplots(
        1, len(features), figsize=(2.6 * len(features), 2.8), squeeze=False, sharey=True
    )
    for panel, feature in zip(axes[0], features, strict=True):
        rows = effects.loc[effects["feature"] == feature].sort_values("edge")
        panel.plot(rows["value"], rows["effect"] * 100, marker=".", linewidth=1.4)
        panel.axhline(0, color="grey", linestyle=":", linewidth=1)
        panel.set_xlabel(feature, fontsize=8)
        panel.tick_params(labelsize=7)
    axes[0][0].set_ylabel("change in score (percentage points)", fontsize=8)
    figure.suptitle(title, fontsize=9)
    figure.tight_layout()
    return figure


def ale_points(effects: pd.DataFrame) -> pd.DataFrame:
    """The accumulated-local-effects figure's points: each feature's values
    (its quantiles) and effects, from the most important feature."""
    rows = effects.sort_values(["feature_rank", "edge"], kind="stable")
    return pd.DataFrame(
        {
            "feature": rows["feature"].to_numpy(),
            # three significant figures: a topic's share of the notes can be
            # a few thousandths, which three decimals would round together
            "value": [f"{value:.3g}" for value in rows["value"]],
            "change in score (percentage points)": (rows["effect"] * 100).to_numpy(),
        }
    )


def ale_alt(effects: pd.DataFrame, label: str) -> str:
    """The accumulated-local-effects figure in words: each feature's effects
    from lowest to highest."""
    ranges = [
        f"{feature}, from {rows['effect'].min() * 100:+.1f} to "
        f"{rows['effect'].max() * 100:+.1f} percentage points"
        for feature, rows in effects.sort_values("feature_rank", kind="stable").groupby(
            "feature", sort=False
        )
    ]
    return (
        f"Accumulated local effects of the top features on the score of {label}, one "
        f"panel per feature: {'; '.join(ranges)}. The numbers are in the table beneath "
        "the figure."
    )


def ale_section(effects: pd.DataFrame, label: str, name: str, figure_dir: Path) -> str:
    """The accumulated local effects of the selected model's top features."""
    if effects.empty:
        return ""
    uri = figure_data_uri(ale_figure(effects, label), figure_dir / f"ale_{name}.png")
    return (
        f"<h3>How the top features move the score: {html.escape(label)}</h3>"
        '<p class="note">Accumulated local effects on the training cases: how far cases '
        "at each value of the feature score above (or below) the average case, other "
        "features as they are, in percentage points of the model's score (a ranking score, "
        "not a calibrated risk: see the calibration figures). Points mark quantiles "
        "of the feature, from its 5th to its 95th percentile (cases beyond them count with "
        "the outermost interval). The effects describe the model, not causes.</p>"
        f'<figure><img src="{uri}" alt="{html.escape(ale_alt(effects, label))}">'
        "<figcaption>Accumulated local effects of the most important features."
        "</figcaption></figure>"
        + numbers_behind(
            f"accumulated local effects, {label}",
            ale_points(effects),
            "Each point of the figure: a value of the feature (one of its quantiles) and "
            "how far cases there score above (or below) the average case.",
        )
    )


def group_calibration_figure(groups: pd.DataFrame, title: str) -> plt.Figure:
    """Per group (one row each): mean predicted score beside the observed rate
    and its 95% interval."""
    labels = [
        f"{attribute.replace('_', ' ')}: {group}"
        for attribute, group in zip(groups["attribute"], groups["group"], strict=True)
    ]
    rows = range(len(groups))[::-1]
    height = 0.24 * len(groups) + 1.5
    figure, axes = plt.subplots(figsize=(6.4, height))
    axes.errorbar(
        groups["base_rate"],
        rows,
        xerr=[
            groups["base_rate"] - groups["base_rate_lower"],
            groups["base_rate_upper"] - groups["base_rate"],
        ],
        fmt="o",
        markersize=4,
        capsize=2,
        label="observed rate (95% interval)",
    )
    axes.plot(groups["mean_score"], rows, "D", markersize=4, label="mean predicted score")
    axes.set_yticks(list(rows), labels, fontsize=7)
    right = float(pd.concat([groups["base_rate_upper"], groups["mean_score"]]).max())
    axes.set_xlim(0, min(1.0, right * 1.1))
    axes.set_xlabel("share of cases", fontsize=8)
    axes.tick_params(axis="x", labelsize=7)
    axes.set_title(title, fontsize=8)
    figure.legend(fontsize=7, loc="lower center", ncol=2)
    # Leave a strip of about 0.4 inch at the bottom for the legend.
    figure.tight_layout(rect=(0, 0.4 / height, 1, 1))
    return figure


def score_inflation(balance: dict) -> str:
    """Why the models' scores run above the observed rates, as training
    balanced the rows they were fitted on (``balance``: ``models.class_balance``
    and, when undersampling, ``models.undersample_ratio``, as training reads
    them): a phrase for the calibration captions."""
    if balance["class_balance"] == "undersample":
        ratio = float(balance["undersample_ratio"])
        negatives = f"{ratio:g} negative case{'' if ratio == 1 else 's'}"
        return (
            f"fitting on {negatives} per positive "
            "(<code>models.class_balance: undersample</code>) pushes scores above observed "
            "rates"
        )
    return (
        "balanced class weights (<code>models.class_balance: weights</code>) push scores "
        "above observed rates"
    )


def group_calibration_section(
    groups: pd.DataFrame,
    label: str,
    name: str,
    figure_dir: Path,
    disclosure: Disclosure,
    inflation: str,
) -> str:
    """Calibration by group: does the model over- or under-state some groups' risk?
    Groups whose figures could identify a child are left out of the figure and
    suppressed in the table; ``inflation`` (``score_inflation``) says why every
    score runs high."""
    if groups.empty:
        return ""
    hidden = suppressed_groups(groups, disclosure)
    figure = ""
    if not hidden.all():
        uri = figure_data_uri(
            group_calibration_figure(groups.loc[~hidden], label),
            figure_dir / f"group_calibration_{name}.png",
        )
        figure = (
            f'<figure><img src="{uri}" alt="Calibration by group, {html.escape(label)}: '
            "each group's mean predicted score beside its observed rate with a 95% interval, "
            f"for the {(~hidden).sum()} group{'' if (~hidden).sum() == 1 else 's'} whose "
            "figures may be shown; the table beneath "
            'the figure gives the numbers.">'
            "<figcaption>Mean predicted score against observed rate, per group whose "
            "figures may be shown.</figcaption></figure>"
        )
    table = pd.DataFrame(
        {
            "attribute": groups["attribute"],
            "group": groups["group"],
            "cases": shown_cases(groups, hidden, disclosure),
            "small": groups["small_group"].astype(bool),
            "mean score": shown_values(groups["mean_score"], hidden),
            "observed rate": shown_values(groups["base_rate"], hidden),
            "95% interval": shown_values(
                pd.Series(
                    [
                        f"{low:.3f} to {high:.3f}"
                        for low, high in zip(
                            groups["base_rate_lower"], groups["base_rate_upper"], strict=True
                        )
                    ]
                ),
                hidden,
            ),
            "score minus observed": shown_values(groups["calibration_gap"], hidden),
        }
    )
    return (
        f"<h3>Calibration by group: {html.escape(label)}</h3>"
        '<p class="note">Each group\'s mean predicted score beside the share of its cases '
        "that had the outcome (with a 95% interval). Points on the diagonal mean the model "
        "states that group's risk as it is; a group far above or below it has its risk "
        f"overstated or understated relative to others ({inflation}, so compare groups with "
        "each other). Groups whose figures could identify a child are suppressed (see "
        '"What this report hides").</p>' + figure + table_html(table)
    )


def refit_bootstrap_section(resamples: pd.DataFrame, summary: pd.DataFrame) -> str:
    """Each design's test-set interval beside the interval from refitting the
    selected model on bootstrap resamples of the training families, with its
    hyperparameters and topic model fixed (refit_bootstrap.py), bias-corrected
    about the test AP as the verdict's is."""
    rows = []
    for (outcome, design), group in resamples.groupby(["outcome", "design"], sort=True):
        valid = group["test_average_precision"].dropna().to_numpy()
        headline = summary.loc[(summary["outcome"] == outcome) & (summary["design"] == design)]
        test_ap = float(headline["average_precision"].iloc[0])
        (low,), (high,) = bias_corrected_interval(valid, test_ap)
        rows.append(
            {
                "outcome": outcome,
                "design": DESIGN_LABELS.get(design, design),
                "test AP": test_ap,
                "test-set interval": f"{headline['ap_ci_lower'].iloc[0]:.3f} to "
                f"{headline['ap_ci_upper'].iloc[0]:.3f}",
                "refit interval": f"{float(low):.3f} to {float(high):.3f}",
                "refits": f"{len(valid)} of {len(group)}",
            }
        )
    return (
        "<h3>Uncertainty from refitting</h3>"
        '<p class="note">The verdict\'s interval resamples the test families with the '
        "model held fixed. Here the selected model was also refitted on bootstrap resamples of "
        "the training families (same hyperparameters) and scored on the same test cases: "
        "the refit interval shows how much the result depends on which cases it was "
        "trained on. The hyperparameters and, in the designs with text, the topic model "
        "(fitted once on all the training cases) are held fixed, so the interval leaves out "
        "how much those would change with other training cases.</p>"
        + table_html(pd.DataFrame(rows))
    )


def deltas_section(deltas: pd.DataFrame, compared_with: str) -> str:
    """What changed in each design's headline numbers since the earlier run."""
    ap = deltas.loc[deltas["metric"] == "average_precision"]
    by_design = deltas.set_index(["outcome", "design"])
    keys = list(zip(ap["outcome"], ap["design"], strict=True))

    def column(metric: str, which: str) -> np.ndarray:
        return by_design.loc[by_design["metric"] == metric].loc[keys, which].to_numpy()

    bar_earlier, bar = (
        column("success_threshold", "earlier"),
        column("success_threshold", "current"),
    )
    bar_moved = ~np.isclose(bar_earlier, bar) & ~np.isnan(bar_earlier) & ~np.isnan(bar)
    table = pd.DataFrame(
        {
            "outcome": ap["outcome"],
            "design": ap["design"].map(DESIGN_LABELS),
            "status": ap["status"],
            "earlier test AP": ap["earlier"],
            "test AP": ap["current"],
            "change": ap["change"],
            "change in interval's lower end": column("ap_ci_lower", "change"),
            "earlier bar": bar_earlier,
            "bar": bar,
            "earlier model": ap["earlier_model"].fillna("").replace(MODEL_LABELS),
            "model": ap["current_model"].fillna("").replace(MODEL_LABELS),
            "earlier verdict": ap["earlier_verdict"].fillna(""),
            "verdict": ap["current_verdict"].fillna(""),
        }
    )
    return (
        "<h2>What changed since the earlier run</h2>"
        f'<p class="note">Compared with the summary in {html.escape(compared_with)} '
        "(<code>evaluation.compare_with</code>). Change is this run minus the earlier one; "
        '"new" and "dropped" designs are in only one of the runs.</p>'
        + (
            '<p class="note"><b>The bar changed between the runs</b> '
            "(<code>evaluation.success_threshold</code>): a verdict that changed with the "
            "same test AP changed because of the bar, not the model.</p>"
            if bar_moved.any()
            else ""
        )
        + deciding_design_note(deltas)
        + table_html(table)
    )


def deciding_design_note(deltas: pd.DataFrame) -> str:
    """A warning for each outcome whose answer comes from another design than
    in the earlier run (e.g. designs.text switched), else nothing: its verdict
    answers another question, not the earlier one a second time."""
    notes = []
    for outcome, rows in deltas.groupby("outcome", sort=True):
        earlier = rows.loc[rows["earlier_decides"].fillna(False).astype(bool), "design"]
        current = rows.loc[rows["current_decides"].fillna(False).astype(bool), "design"]
        # An outcome in only one of the runs has nothing to compare.
        if len(earlier) and len(current) and set(earlier) != set(current):
            was, now = (
                DESIGN_LABELS.get(found.iloc[0], found.iloc[0]).lower()
                for found in (earlier, current)
            )
            notes.append(
                f'<p class="note"><b>{html.escape(str(outcome))}: the design that decides the '
                f"answer changed</b>, from {html.escape(was)} in the earlier run to "
                f"{html.escape(now)} in this one (<code>designs.text</code> was switched). The two "
                "answers test different models and are not two tries at the same question.</p>"
            )
    return "".join(notes)


def topic_word_table(words: pd.DataFrame, top: int = 10) -> pd.DataFrame:
    """Top words of each topic, one row per topic."""
    words = words.loc[words["rank"] < top]
    grouped = words.groupby("topic", sort=True)["word"].agg(", ".join)
    return pd.DataFrame({"topic": grouped.index.astype(int), "top words": grouped.to_numpy()})


def flag_advice(check: str) -> str:
    """What to do about a feature flagged by the single-feature ``check``."""
    return NO_OUTCOME_RECORD_ADVICE if check == OUTCOME_FREE_CHECK else OUTCOME_RECORD_ADVICE


def audit_table(audit: pd.DataFrame, disclosure: Disclosure, top: int = 5) -> pd.DataFrame:
    """The leakage audit of one outcome: the time checks, then for each
    single-feature check every flagged feature and the ``top`` features that
    predict the label best on their own by it. An extreme group's share and
    counts are hidden when they would reveal a count below
    ``disclosure.min_count`` (a flag still shows: the analyst must see it)."""
    feature_checks = [AUC_CHECK, PRECISION_CHECK, OUTCOME_FREE_CHECK]
    audit = audit.reset_index(drop=True)
    parts = [audit.loc[~audit["check"].isin(feature_checks)]]
    for check in feature_checks:
        single = audit.loc[audit["check"] == check].sort_values(
            ["value", "subject"], ascending=[False, True], kind="stable"
        )
        parts += [single.loc[single["flagged"]], single.head(top)]
    shown = pd.concat(parts).drop_duplicates(["check", "subject"])
    # judged on the whole audit, as the model card judges it: a row's pair
    # may be shown in the other document
    hidden = pd.Series(audit_share_hidden(audit, disclosure), index=audit.index)[shown.index]
    return pd.DataFrame(
        {
            "check": shown["check"],
            "subject": shown["subject"],
            # object columns: a float column would print the outcome-free
            # group's numbers of cases with decimals
            "value": pd.Series(
                [
                    SUPPRESSED if hide else shown_figure(check, value)
                    for hide, check, value in zip(
                        hidden, shown["check"], shown["value"], strict=True
                    )
                ],
                index=shown.index,
                dtype=object,
            ),
            "limit": pd.Series(
                [
                    shown_figure(check, limit)
                    for check, limit in zip(shown["check"], shown["threshold"], strict=True)
                ],
                index=shown.index,
                dtype=object,
            ),
            "flagged": shown["flagged"].map({True: "FLAGGED", False: "ok"}),
            "finding": [
                f"figures hidden: alone or with another row of this feature, they would "
                f"reveal fewer than {disclosure.min_count} cases with (or without) the outcome"
                + (f": {flag_advice(check)}" if flagged else "")
                if hide
                else detail
                for hide, check, flagged, detail in zip(
                    hidden, shown["check"], shown["flagged"], shown["detail"], strict=True
                )
            ],
        }
    )


def fold_table(diagnostics: pd.DataFrame, disclosure: Disclosure) -> pd.DataFrame:
    """Class balance, months and sibling overlap of every fold of one split;
    each fold's rows and positives as ``shown_roles`` shows them. The inner
    folds' validation rows share out the training rows (and, time-ordered,
    each fold's fit rows are the last one's fit and validation rows), so one
    hidden count among them, or in the outer training or excluded rows, could
    be worked out from the others: the inner folds' counts of that kind are
    then all suppressed, alike ("<10" beside "suppressed" would tell which
    are small, and the totals could then pin them)."""
    shown = pd.concat(
        [
            shown_roles(
                pd.Index(roles["role"]), roles["rows"], roles["positives"], disclosure
            ).set_axis(roles.index)
            for _, roles in diagnostics.groupby("fold", sort=False)
        ]
    ).loc[diagnostics.index]
    inner = (diagnostics["fold"] != OUTER_FOLD).to_numpy()
    private = (inner | (diagnostics["role"] != "test")).to_numpy()
    for column in ("rows", "positives"):
        hidden = np.array([not isinstance(v, int) for v in shown[column]])
        if (hidden & private).any():
            shown.loc[inner, column] = SUPPRESSED
    shown["base rate"] = shown_base_rates(shown)
    return pd.DataFrame(
        {
            "fold": diagnostics["fold"].map(lambda f: "outer" if f == OUTER_FOLD else f"inner {f}"),
            "role": diagnostics["role"],
            "rows": shown["rows"],
            "positives": shown["positives"],
            "base rate": shown["base rate"],
            "from": diagnostics["first_prediction_time"].map(month_of),
            "to": diagnostics["last_prediction_time"].map(month_of),
            "families on both sides": [
                shown_count(n, disclosure) for n in diagnostics["shared_families"]
            ],
        }
    )


ROLE_COLOURS = {
    "train": "#4477aa",
    "fit": "#4477aa",
    "test": "#cc6677",
    "validate": "#ddaa33",
    "excluded": "#bbbbbb",
}


def split_picture(diagnostics: pd.DataFrame, title: str) -> plt.Figure:
    """The prediction-time range of each role in each fold, in whole months, one
    line per fold."""
    figure, axes = plt.subplots(figsize=(6.4, 1.3 + 0.45 * diagnostics["fold"].nunique()))
    folds = sorted(diagnostics["fold"].unique())
    for position, fold in enumerate(folds):
        for row in diagnostics.loc[diagnostics["fold"] == fold].itertuples():
            # Whole months, as the tables show: exact first and last dates single
            # out one case.
            start = mdates.date2num(row.first_prediction_time.to_period("M").start_time)
            end = mdates.date2num(row.last_prediction_time.to_period("M").end_time)
            width = end - start
            # excluded rows span the training period: a thin bar beneath it
            excluded = row.role == "excluded"
            axes.barh(
                position + (0.3 if excluded else 0.0),
                width,
                left=start,
                height=0.15 if excluded else 0.6,
                color=ROLE_COLOURS.get(row.role, "#000000"),
                label=row.role,
            )
    axes.set_yticks(
        range(len(folds)), ["outer" if f == OUTER_FOLD else f"inner {f}" for f in folds]
    )
    axes.invert_yaxis()
    axes.xaxis_date()
    handles, labels = axes.get_legend_handles_labels()
    unique = dict(zip(labels, handles, strict=True))
    axes.legend(
        unique.values(),
        unique.keys(),
        fontsize=7,
        ncols=len(unique),
        loc="upper center",
        bbox_to_anchor=(0.5, -0.3),
        frameon=False,
    )
    axes.set_title(title, fontsize=9)
    axes.set_xlabel("prediction time")
    figure.tight_layout()
    return figure


def shown_parts(
    counts: pd.Series,
    disclosure: Disclosure,
    of: pd.Series | None = None,
    public: list[bool] | None = None,
) -> list:
    """Counts that add up to a total shown elsewhere (a column's codes, a
    table's problems of one kind, a fold's rows of each role) as the shared
    report may show them: the small ones as "<min_count", each one whose rest
    of ``of`` (aligned totals, e.g. the rows of the positives) is small as
    suppressed, and where exactly one is hidden, the next smallest suppressed
    too, and more until the hidden parts' sum is 0 or at least ``min_count``
    (``hide_complements``), so that none, alone or summed, can be worked out
    from the total. A part marked
    ``public`` (shown elsewhere in full, as the test set's are) is never the
    one suppressed for another's sake: hiding it here would protect nothing."""
    values = [int(count) for count in counts]
    public = public if public is not None else [False] * len(values)
    shown = [shown_count(count, disclosure) for count in values]
    if of is not None:
        shown = [
            SUPPRESSED
            if disclosure.is_small(int(total) - count) and isinstance(shown_as, int) and count
            else shown_as
            for count, total, shown_as in zip(values, of, shown, strict=True)
        ]
    hidden = [not isinstance(shown_as, int) for shown_as in shown]
    others = [i for i, hide in enumerate(hidden) if not hide and values[i] > 0 and not public[i]]
    # ties go to the first part, in the order given
    order = sorted(others, key=lambda i: (values[i], i))
    widened = hide_complements(np.array(hidden), np.array(values), order, disclosure)
    return [
        SUPPRESSED if hide and not was else shown_as
        for shown_as, hide, was in zip(shown, widened, hidden, strict=True)
    ]


def shown_roles(
    roles: pd.Index, rows: pd.Series, positives: pd.Series, disclosure: Disclosure
) -> pd.DataFrame:
    """The rows, positives and base rate of each role of one fold (train, test
    and excluded, or fit and validate, whose rows and positives add up to
    totals shown elsewhere) as the shared report may show them
    (``shown_parts``; the test role's counts are public, as the headline shows
    them); a base rate only beside the rows and positives it is counted from."""
    public = [role == "test" for role in roles]
    shown_rows = shown_parts(rows, disclosure, public=public)
    shown_positives = shown_parts(positives, disclosure, of=rows, public=public)
    return pd.DataFrame({"rows": shown_rows, "positives": shown_positives}, index=roles).assign(
        **{"base rate": lambda frame: shown_base_rates(frame)}
    )


def shown_base_rates(shown: pd.DataFrame) -> list:
    """Each row's base rate, beside shown rows and positives only."""
    return [
        p / n if isinstance(p, int) and isinstance(n, int) and n > 0 else SUPPRESSED
        for p, n in zip(shown["positives"], shown["rows"], strict=True)
    ]


def data_qa_section(qa: pd.DataFrame, disclosure: Disclosure, top_codes: int = 12) -> str:
    """The "Data and QA" section: what ingestion read, kept and left out per table,
    and the problems, months of dates, missing values and codes it found (from
    the ``ingest_qa`` table). Counts from 1 to ``disclosure.min_count - 1``, and
    what would reveal them, are suppressed."""
    parts = [
        "<h2>Data and QA</h2>",
        '<p class="note">What ingestion read from each export and what it kept. Rows are '
        "left out only when they cannot be used (unknown child or referral, end before "
        "start, dated after the run); unknown codes and suspicious dates are kept and "
        "listed here, except that a code neither listed nor held by 10 children (it may be "
        "free text, such as a name) is written as UNLISTED. Check the problems with the "
        "source system before trusting the results.</p>",
    ]
    counts = qa.pivot_table(
        index="table", columns="measure", values="count", aggfunc="sum", sort=False
    )
    read = [int(v) for v in counts["rows_read"]]
    kept = dict(zip(counts.index.astype(str), (int(v) for v in counts["rows_kept"]), strict=True))
    rows = pd.DataFrame(
        {
            "table": list(kept),
            "rows read": [shown_count(n, disclosure) for n in read],
            "rows kept": [
                shown_pair(k, n, disclosure) for k, n in zip(kept.values(), read, strict=True)
            ],
            "rows left out": [
                shown_count(n - k, disclosure) for k, n in zip(kept.values(), read, strict=True)
            ],
        }
    )
    parts.append(table_html(rows))
    problem_measures = {
        "rows_rejected": "left out",
        "unknown_code": "unknown code (kept)",
        "impossible_date": "impossible date (kept)",
        "warning": "kept with a warning",
    }
    problems = qa.loc[qa["measure"].isin(list(problem_measures))]
    problem_rows = pd.Series(index=problems.index, dtype=object)
    for _, group in problems.groupby(["table", "measure"], sort=False):
        problem_rows.loc[group.index] = shown_parts(group["count"], disclosure)
    parts.append("<h3>Problems found</h3>")
    if problems.empty:
        parts.append('<p class="note">None.</p>')
    else:
        parts.append(
            table_html(
                pd.DataFrame(
                    {
                        "table": problems["table"].astype(str),
                        "what": problems["measure"].map(problem_measures),
                        "column": problems["column"].fillna("").astype(str),
                        "detail": problems["value"].fillna("").astype(str),
                        "rows": problem_rows.tolist(),
                    }
                )
            )
        )
    dates = qa.loc[qa["measure"].isin(["date_min", "date_max"])]
    ranges = dates.pivot_table(
        index=["table", "column"], columns="measure", values="value", aggfunc="first", sort=False
    ).reset_index()
    present = dates.loc[dates["measure"] == "date_min"].set_index(["table", "column"])["count"]
    parts.append("<h3>Date ranges</h3>")
    parts.append('<p class="note">Months of the first and last dates of each column.</p>')
    parts.append(
        table_html(
            pd.DataFrame(
                {
                    "table": ranges["table"].astype(str),
                    "column": ranges["column"].astype(str),
                    # ISO dates (or months, as ingestion keeps dates of birth): to the month
                    "first": ranges["date_min"].astype(str).str.slice(0, 7),
                    "last": ranges["date_max"].astype(str).str.slice(0, 7),
                    "dates present": [
                        shown_pair(int(present[(t, c)]), kept[str(t)], disclosure)
                        for t, c in zip(ranges["table"], ranges["column"], strict=True)
                    ],
                }
            )
        )
    )
    missing = qa.loc[(qa["measure"] == "missing") & (qa["count"] > 0)]
    parts.append("<h3>Missing values</h3>")
    if missing.empty:
        parts.append('<p class="note">No column has missing values.</p>')
    else:
        parts.append(
            table_html(
                pd.DataFrame(
                    {
                        "table": missing["table"].astype(str),
                        "column": missing["column"].astype(str),
                        "missing": [
                            shown_pair(int(v), kept[str(t)], disclosure)
                            for t, v in zip(missing["table"], missing["count"], strict=True)
                        ],
                        "share": [
                            SUPPRESSED
                            if rate_is_disclosive(int(v), kept[str(t)], disclosure)
                            else float(share)
                            for t, v, share in zip(
                                missing["table"], missing["count"], missing["share"], strict=True
                            )
                        ],
                    }
                )
            )
        )
    codes = qa.loc[qa["measure"] == "code"]
    parts.append(
        f'<h3>Codes</h3><p class="note">The {top_codes} most frequent codes of each coded '
        "column, with their counts.</p>"
    )
    summary = []
    for (table, column), group in codes.groupby(["table", "column"], sort=False):
        group = group.sort_values("count", ascending=False, kind="stable")
        counts = shown_parts(group["count"], disclosure)
        summary.append(
            {
                "table": str(table),
                "column": str(column),
                "distinct codes": len(group),
                "most frequent": ", ".join(
                    f"{value} ({f'{count:,}' if isinstance(count, int) else count})"
                    for value, count in list(zip(group["value"], counts, strict=True))[:top_codes]
                ),
            }
        )
    parts.append(table_html(pd.DataFrame(summary)))
    return "\n".join(parts)


@dataclass(frozen=True)
class RunArtefacts:
    """The run's artefacts that the report shows.

    Dictionaries are keyed by outcome, by (outcome, timing) or by
    (outcome, design), as each artefact is written; ``deltas`` and ``refits``
    are None when the run made none.
    """

    summary: pd.DataFrame
    all_models: pd.DataFrame
    ingest_qa: pd.DataFrame
    cohorts: dict[str, pd.DataFrame]
    splits: dict[tuple[str, str], pd.DataFrame]
    diagnostics: dict[tuple[str, str], pd.DataFrame]
    audits: dict[str, pd.DataFrame]
    predictions: dict[tuple[str, str], pd.DataFrame]
    importance: dict[tuple[str, str], pd.DataFrame]
    topics: dict[tuple[str, str], tuple[pd.DataFrame, pd.DataFrame]]
    thresholds: pd.DataFrame
    calibration: pd.DataFrame
    fairness: pd.DataFrame
    learning_curves: pd.DataFrame
    effects: pd.DataFrame
    deltas: pd.DataFrame | None
    refits: pd.DataFrame | None


def described(descriptions: dict[str, str], outcome: str) -> str:
    """An outcome's plain-English description, to stand in brackets after its
    name (without its closing full stop)."""
    return descriptions.get(outcome, "see Outcomes below").strip().rstrip(".")


def headline_section(
    summary: pd.DataFrame,
    feature_sets: list[str],
    success_threshold: float,
    refits: pd.DataFrame | None,
    deltas: pd.DataFrame | None,
    compared_with: str | None,
    disclosure: Disclosure,
    descriptions: dict[str, str],
    cautions: dict[str, str],
) -> str:
    """The verdict of every outcome and design against the bar, with the refit
    intervals and the changes since an earlier run when there are any. The
    answer comes from the design the config pre-specified (``answer_design``),
    each outcome's beside its plain-English ``descriptions`` and followed by
    its ``cautions`` (``selection_caution`` of the deciding split), if any."""
    answer = answer_design(feature_sets)
    text = "text" in feature_sets
    parts = [
        f'<p class="note">Each outcome is predicted under '
        f"{'four study designs' if text else 'two study designs, with structured data only'}. "
        "A design "
        f"<b>meets the bar</b> when the 95% bootstrap interval of its selected model's average "
        f"precision (AP) on held-out test cases (resampled by family: siblings are not "
        f"independent cases) lies at or above the pre-specified "
        f"{success_threshold:g}; it <b>does not meet the bar</b> when the interval lies "
        "below it, and otherwise we <b>cannot tell</b>. AP is the mean "
        "precision over all recall levels; a model that ranks at random scores about the "
        "base rate (a little more on a small test set: the answer gives both). The "
        "baseline ranks cases by their number of previous referrals; the best single "
        "feature ranks them by the one feature (and direction) that did best on the "
        "training rows.</p>",
        "<h2>The answer</h2>",
        '<p class="note">From the time-ordered designs: they train on earlier cases and test '
        "on the latest ones, so they estimate how a model would do on future cases. The "
        "random designs may learn from the future, and their results are optimistic. "
        + (
            "One pre-specified design, time-ordered with text, decides the answer; the one "
            "with structured data only is shown beside it, as a second chance at a yes would "
            "raise the risk of a false one, up to double.</p>"
            if text
            else "One pre-specified design, time-ordered with structured data only, decides "
            f"the answer. <b>{TEXT_SWITCHED_OFF}</b></p>"
        ),
        '<ul class="answer">',
        *(
            f"<li><b>{html.escape(outcome)}</b> "
            f"({html.escape(described(descriptions, outcome))}): "
            f"{html.escape(honest_answer(rows, success_threshold, answer, disclosure))}"
            f"{html.escape(' ' + cautions[outcome] if cautions.get(outcome) else '')}</li>"
            for outcome, rows in summary.groupby("outcome", sort=False)
        ),
        "</ul>",
        "<h2>Results against the bar</h2>",
    ]
    classes = [
        VERDICT_CLASSES.get(verdict, "") if time_ordered else "optimistic"
        for verdict, time_ordered in zip(
            summary["verdict"], is_time_ordered(summary["design"]), strict=True
        )
    ]
    parts.append(table_html(verdict_table(summary, disclosure), classes))
    parts.append(
        '<p class="note">Rows of the random designs are in italics and not coloured: their '
        "test cases are spread over the same years as the training cases, so the model may "
        f"learn from the future and the result is optimistic. {INTERVAL_NOTE} {GAP_NOTE}</p>"
    )
    if refits is not None:
        parts.append(refit_bootstrap_section(refits, summary))
    if deltas is not None:
        parts.append(deltas_section(deltas, compared_with))
    return "\n".join(parts)


# The report's technical terms, in plain English, for readers who are not
# statisticians (a head of service deciding whether to use a model).
TERMS = {
    "base rate": (
        "the share of cases with the outcome; ranking at random scores about it as AP (a "
        "little more on a small test set)"
    ),
    "precision": "of the cases a rule flags, the share that had the outcome",
    "recall": "of the cases that had the outcome, the share a rule flags",
    "average precision (AP)": (
        "precision averaged over every recall level as the score threshold falls: how well "
        "the scores put the cases with the outcome first (1 is perfect)"
    ),
    "ROC AUC": (
        "the chance that a random case with the outcome scores above a random case "
        "without it (0.5 is chance, 1 perfect); it flatters rare outcomes, so AP decides"
    ),
    "F0.1": "a mix of precision and recall that weighs precision far more",
    "cross-validation (CV)": (
        "scoring a candidate model on parts of the training cases held out in turn, to "
        "choose among candidates without touching the test cases"
    ),
    "log-odds": "the scale on which the models add up their evidence before a score",
    "topic, coherence": (
        "a topic is a group of words that appear together in case notes; coherence "
        "measures how well a topic's words go together, and chooses the number of topics"
    ),
}


def terms_section() -> str:
    """The report's technical terms in plain English (``TERMS``)."""
    items = "".join(
        f"<li><b>{html.escape(term)}</b>: {html.escape(meaning)}.</li>"
        for term, meaning in TERMS.items()
    )
    return f"<h2>Terms used</h2><ul>{items}</ul>"


def outcome_definitions(outcomes: dict, text: bool) -> str:
    """Each outcome in plain English, with its prediction point and, if the
    designs with text run, its text window."""
    items = [
        f"<li><b>{html.escape(name)}</b>: {html.escape(outcome['description'])} "
        f"Prediction point: {outcome['prediction_offset_days']} day(s) after the "
        f"{POINT_LABELS[outcome['prediction_point']]}; the outcome is looked for in the "
        f"{outcome['horizon_months']} months after it"
        f"{f'; {text_window_wording(outcome)}' if text else ''}.</li>"
        for name, outcome in outcomes.items()
    ]
    return "\n".join(["<h2>Outcomes</h2><ul>", *items, "</ul>"])


def cohorts_and_splits_section(
    artefacts: RunArtefacts,
    outcomes: dict,
    max_age_years: float,
    figure_dir: Path,
    disclosure: Disclosure,
    min_inner_positives: int,
) -> str:
    """The cohorts (with the rules that made each, from its config), the
    held-out splits, and every fold of every split, with a caution under a
    split whose inner sets hold fewer than ``min_inner_positives`` cases with
    the outcome (``selection_caution``)."""
    rules = "".join(
        f"<li><b>{html.escape(name)}</b>: {html.escape(cohort_rules(outcome, max_age_years))}</li>"
        for name, outcome in outcomes.items()
    )
    parts = [
        "<h2>Cohorts</h2>",
        f'<p class="note">One row per referral.</p><ul class="note">{rules}</ul>',
        table_html(cohort_table(artefacts.cohorts, disclosure)),
        "<h2>Designs and splits</h2>",
        '<p class="note">Siblings never fall on both sides of a split ("families in both" '
        "must be 0). In the time-ordered design the test set is the latest referrals; "
        "training uses only earlier cases whose outcome was known before the test period "
        "began and whose family has no test case (the rest are excluded).</p>",
        table_html(split_table(artefacts.splits, artefacts.cohorts, disclosure)),
    ]
    for (outcome, timing), folds in sorted(artefacts.diagnostics.items()):
        title = f"{outcome}, {timing} split"
        uri = figure_data_uri(
            split_picture(folds, title), figure_dir / f"splits_{outcome}_{timing}.png"
        )
        parts.append(
            f"<h3>Folds: {html.escape(title)}</h3>"
            f'<figure><img src="{uri}" width="560" alt="Months of the prediction times of '
            f"each role's cases in every fold, {html.escape(title)}, one line per fold; the "
            'fold table beneath the figure gives the same months.">'
            "<figcaption>When each fold's cases reach their prediction point. The outer fold "
            "holds the held-out test set; inner folds tune the models on training cases only."
            "</figcaption></figure>"
        )
        parts.append(table_html(fold_table(folds, disclosure)))
        caution = selection_caution(folds, min_inner_positives, disclosure)
        if caution:
            parts.append(f'<p class="note">{html.escape(caution)}</p>')
    return "\n".join(parts)


def outcome_audits(paths: list[str]) -> dict[str, pd.DataFrame]:
    """Each outcome's leakage audit: its structured and text features' audit
    tables (in the order given), joined."""
    parts: dict[str, list[pd.DataFrame]] = {}
    for path in paths:
        parts.setdefault(Path(path).parent.name, []).append(read_parquet(path, "leakage_audit"))
    return {outcome: pd.concat(tables, ignore_index=True) for outcome, tables in parts.items()}


def leakage_section(audits: dict[str, pd.DataFrame], disclosure: Disclosure) -> str:
    """The leakage audit of each outcome's features."""
    parts = [
        "<h2>Leakage audit</h2>",
        '<p class="note">Every run checks that each feature uses only records dated before '
        "its case's prediction point (the run stops otherwise), and flags any single feature "
        "that predicts the outcome implausibly well on its own: it may be recorded because of "
        "the outcome. Three measures: its ROC AUC alone; its extreme-group precision, the "
        "share of cases with the outcome among its cases with the highest (or lowest) values, "
        "ties included and at least <code>leakage_audit.min_cases_for_precision</code> of "
        "them, which sees a rare marker set only on cases with the outcome that the AUC "
        "misses; and its outcome-free group, the cases at its highest or lowest value (or "
        "all the others) when none has the outcome and chance at the base rate would almost "
        "never leave so many without it (<code>leakage_audit.max_outcome_free_chance</code>): "
        "a field filled in only because the outcome did not happen, or cases to which the "
        "outcome cannot happen at all, which the cohort should leave out. Each feature is "
        "scored on each split's training rows only, and named with "
        "its split: scored on the test cases, a finding would let their outcomes steer what "
        "is done next. Shown: the checks, any flagged feature, and the strongest features by "
        "each measure.</p>",
    ]
    for outcome, audit in sorted(audits.items()):
        parts.append(f"<h3>{html.escape(outcome)}</h3>")
        parts.append(table_html(audit_table(audit, disclosure)))
    return "\n".join(parts)


def models_table(rows: pd.DataFrame, disclosure: Disclosure) -> pd.DataFrame:
    """Every model of every design of one outcome on the test set; precision and
    recall at the decision threshold are suppressed when they reveal a count
    below ``disclosure.min_count`` (``decision_rule_hidden``)."""
    hidden = decision_rule_hidden(rows, disclosure)
    return pd.DataFrame(
        {
            "design": rows["design"].map(DESIGN_LABELS),
            "model": rows["model"].map(MODEL_LABELS),
            "selected": rows["selected"].astype(bool),
            "test AP": rows["average_precision"],
            "ROC AUC": rows["roc_auc"],
            "precision": shown_values(rows["precision"], hidden),
            "recall": shown_values(rows["recall"], hidden),
            "CV AP mean": rows["cv_ap_mean"],
            "CV AP sd": rows["cv_ap_sd"],
        }
    )


def decision_threshold_of(thresholds: pd.DataFrame) -> float:
    """The score at or above which the thresholds table's decision rule flags
    a case (``evaluation.decision_threshold``)."""
    return float(thresholds.loc[thresholds["is_decision_threshold"], "threshold"].iloc[0])


def models_section(
    outcome: str,
    designs: list[str],
    artefacts: RunArtefacts,
    figure_dir: Path,
    disclosure: Disclosure,
) -> str:
    """Every model of every design run on the test set, and their precision-recall curves."""
    shown = models_table(
        artefacts.all_models.loc[artefacts.all_models["outcome"] == outcome], disclosure
    )
    figures, tables = [], []
    for design in designs:
        label = DESIGN_LABELS[design]
        predictions = artefacts.predictions[(outcome, design)]
        points = shown_pr_points(
            predictions, rows_of(artefacts.thresholds, outcome, design), disclosure
        )
        base_rate = shown_test_base_rate(predictions, disclosure)
        uri = figure_data_uri(
            pr_curve_figure(points, base_rate, label),
            figure_dir / f"pr_{outcome}_{design}.png",
        )
        alt = pr_alt(
            f"{outcome}, {label}",
            rows_of(artefacts.all_models, outcome, design),
            points,
            base_rate,
        )
        figures.append(
            f'<figure><img src="{uri}" width="440" alt="{html.escape(alt)}">'
            f"<figcaption>{html.escape(label)}: one point per score threshold that flags, "
            f"misses and separates from the others none or at least {disclosure.min_count} "
            "cases with and without the outcome; the curve between the points is not "
            "shown</figcaption></figure>"
        )
        tables.append(
            numbers_behind(
                f"precision and recall, {outcome}, {label}",
                pr_points_table(points),
                "Each point of the figure, by model from the fewest cases flagged: flagging "
                "the cases scored at or above a threshold, how many it flags, its recall and "
                "its precision, and which rules of the thresholds table it is, if any. The "
                "dotted line is the test set's base rate, "
                + (
                    "hidden: too few cases with (or without) the outcome."
                    if base_rate == SUPPRESSED
                    else f"{base_rate:.3f}."
                ),
            )
        )
    threshold = decision_threshold_of(
        artefacts.thresholds.loc[artefacts.thresholds["outcome"] == outcome]
    )
    return "\n".join(
        [
            f"<h2>{html.escape(outcome)}: every model on the test set</h2>",
            table_html(shown),
            f'<p class="note">Precision and recall are those of flagging the cases scored '
            f"{threshold:g} or more (<code>evaluation.decision_threshold</code>); the "
            "thresholds table below gives other rules.</p>",
            "".join(figures),
            "".join(tables),
        ]
    )


def selected_model_section(
    outcome: str,
    artefacts: RunArtefacts,
    figure_dir: Path,
    comparison: FairnessComparison,
    disclosure: Disclosure,
    answer: str,
    inflation: str,
) -> str:
    """The selected model of the design that answers (``answer``): thresholds,
    calibration (``inflation``: ``score_inflation``), what drives its scores,
    whether more data would help, and fairness by group (with the cells that
    could identify a child suppressed)."""
    summary = artefacts.summary
    chosen = summary.loc[
        (summary["outcome"] == outcome) & (summary["design"] == answer), "model"
    ].iloc[0]
    label = f"{MODEL_LABELS.get(chosen, chosen)}, {DESIGN_LABELS[answer].lower()}"
    name = f"{outcome}_{answer}"
    parts = [
        f"<h3>Thresholds: {html.escape(label)}</h3>"
        '<p class="note">What flagging cases at each score threshold, or the top k% of '
        "scores, would mean on the test cases. A rule's row, its flagged cases too, is "
        "suppressed where it, or its difference from another rule shown, would reveal from "
        f"1 to {disclosure.min_count - 1} cases.</p>",
        table_html(
            threshold_table(rows_of(artefacts.thresholds, outcome, answer, chosen), disclosure)
        ),
    ]
    merged = shown_calibration(
        rows_of(artefacts.calibration, outcome, answer),
        rows_of(artefacts.thresholds, outcome, answer),
        disclosure,
    )
    uri = figure_data_uri(
        calibration_figure(merged, DESIGN_LABELS[answer]),
        figure_dir / f"calibration_{name}.png",
    )
    what = f"{outcome}, {DESIGN_LABELS[answer]}"
    parts.append(
        f'<figure><img src="{uri}" width="440" alt="{html.escape(calibration_alt(what, merged))}">'
        "<figcaption>Calibration on the test cases: a well-calibrated model's points lie "
        f"on the diagonal ({inflation}). Bins are merged between the score thresholds "
        "whose precision and recall the threshold table may show, so that none holds from "
        f"1 to {disclosure.min_count - 1} cases with (or without) the outcome."
        "</figcaption></figure>"
    )
    parts.append(
        numbers_behind(
            f"calibration, {what}",
            calibration_points_table(merged),
            "Each point of the figure, by model: a merged bin of scores (from its lower "
            "edge up to, not including, its upper one; 1.0 included), its test cases, their "
            "mean predicted score and the share of them that had the outcome.",
        )
    )
    explained = artefacts.importance[(outcome, answer)]
    parts.append(
        f"<h3>What drives the scores: {html.escape(label)}</h3>"
        '<p class="note">How much the test AP falls when one feature is shuffled '
        "(permutation importance, 5 repeats), and the feature's mean absolute "
        "contribution to individual scores (log-odds). A feature named topic_NN is the share "
        "of a case's notes in that topic of the time split, whose top words are in the "
        "topics table below. Importances describe the model, not causes.</p>"
    )
    parts.append(table_html(importance_table(explained.loc[explained["model"] == chosen])))
    parts.append(
        ale_section(rows_of(artefacts.effects, outcome, answer, chosen), label, name, figure_dir)
    )
    curves = artefacts.learning_curves
    parts.append(
        learning_curve_section(outcome, curves.loc[curves["outcome"] == outcome], figure_dir)
    )
    groups = rows_of(artefacts.fairness, outcome, answer, chosen)
    parts.append(
        f"<h3>Fairness by group: {html.escape(label)}</h3>"
        '<p class="note">Error rates when cases scored '
        f"{decision_threshold_of(rows_of(artefacts.thresholds, outcome, answer)):g} or more "
        "are flagged (the decision threshold), for each group, and whether "
        f"each differs from {html.escape(comparison.description())}, "
        "judged with bootstrap intervals. Small groups are flagged: their rates are "
        "uncertain. FPR: false positive rate; FNR: false negative rate; FDR: false "
        "discovery rate; FOR: false omission rate; flagged: share of cases flagged. A "
        "group's AP rises with its base rate, so a higher AP for one group does not mean "
        "the model works better for it; the intervals hold the model fixed. Rates "
        'and verdicts that could identify a child are suppressed (see "What this report '
        'hides").</p>'
    )
    parts.append(
        f'<p class="note">{html.escape(disparity_summary(shown_disparities(groups, disclosure)))}'
        "</p>"
    )
    parts.append(table_html(fairness_table(groups, disclosure)))
    parts.append(group_calibration_section(groups, label, name, figure_dir, disclosure, inflation))
    return "\n".join(parts)


def topics_section(outcome: str, topics: dict[tuple[str, str], tuple]) -> str:
    """The topics chosen for each split of the outcome, with their coherence and words."""
    parts = []
    for timing in ("random", "time"):
        coherence, words = topics[(outcome, timing)]
        chosen = int(coherence.loc[coherence["chosen"], "num_topics"].iloc[0])
        parts.append(
            f"<h3>Topics in the notes ({timing} split, fitted on training cases only)</h3>"
            f'<p class="note">{chosen} topics, chosen by coherence among '
            f"{', '.join(str(k) for k in coherence['num_topics'])}.</p>"
        )
        parts.append(table_html(coherence))
        parts.append(table_html(topic_word_table(words)))
    return "\n".join(parts)


LIMITS = (
    "<h2>Limits</h2><ul>"
    "<li>Average precision depends on the base rate: compare each model with the base "
    "rate and the two baselines, not only with the bar.</li>"
    "<li>The time-ordered design is the honest estimate of how a model would do on "
    "future cases; the random design may learn from the future.</li>"
    "<li>The verdict's interval covers which cases fell in the test set, with the fitted "
    "model held fixed; it does not cover changes in practice or recording after the "
    "extract, nor a different choice of model on other training cases.</li>"
    "<li>A model that meets the bar is not thereby fair or safe to use: fairness by "
    "group and calibration must be checked before any use in practice.</li></ul>"
)


def render(
    la: str,
    outcomes: dict,
    feature_sets: list[str],
    success_threshold: float,
    compared_with: str | None,
    artefacts: RunArtefacts,
    figure_dir: Path,
    max_age_years: float,
    comparison: FairnessComparison,
    disclosure: Disclosure,
    inflation: str,
    min_inner_positives: int,
) -> str:
    """The whole report as one HTML document, of the designs of ``feature_sets``
    (common.smk's FEATURE_SETS; no topics without text); ``inflation``
    (``score_inflation``) explains the calibration; inner sets with fewer than
    ``min_inner_positives`` cases with the outcome get a caution."""
    figure_dir.mkdir(parents=True, exist_ok=True)
    text = "text" in feature_sets
    cautions = {
        outcome: selection_caution(
            folds, min_inner_positives, disclosure, "the time-ordered split", brief=True
        )
        for (outcome, timing), folds in artefacts.diagnostics.items()
        if timing == DECIDING_TIMING
    }
    parts = [
        f"<h1>Can machine learning predict escalation in {html.escape(la)}?</h1>",
        headline_section(
            artefacts.summary,
            feature_sets,
            success_threshold,
            artefacts.refits,
            artefacts.deltas,
            compared_with,
            disclosure,
            {name: outcome["description"] for name, outcome in outcomes.items()},
            cautions,
        ),
        outcome_definitions(outcomes, text),
        f'<h2>What this report hides</h2><p class="note">{disclosure.note()}</p>',
        terms_section(),
        data_qa_section(artefacts.ingest_qa, disclosure),
        cohorts_and_splits_section(
            artefacts, outcomes, max_age_years, figure_dir, disclosure, min_inner_positives
        ),
        leakage_section(artefacts.audits, disclosure),
    ]
    for outcome in outcomes:
        parts.append(
            models_section(outcome, study_designs(feature_sets), artefacts, figure_dir, disclosure)
        )
        parts.append(
            selected_model_section(
                outcome,
                artefacts,
                figure_dir,
                comparison,
                disclosure,
                answer_design(feature_sets),
                inflation,
            )
        )
        if text:
            parts.append(topics_section(outcome, artefacts.topics))
    parts.append(LIMITS)
    body = "\n".join(parts)
    return (
        "<!DOCTYPE html><html lang='en'><head><meta charset='utf-8'>"
        f"<title>Escalation prediction: {html.escape(la)}</title><style>{STYLE}</style>"
        f"</head><body>{body}</body></html>\n"
    )


def concatenated(paths: list[str], schema: str) -> pd.DataFrame:
    """The Parquet artefacts at ``paths``, all of ``schema``, as one table."""
    return pd.concat([read_parquet(p, schema) for p in paths], ignore_index=True)


def by_outcome_and_part(paths: list[str], schema: str) -> dict[tuple[str, str], pd.DataFrame]:
    """Artefacts at ``results/.../{outcome}/{part}/name.parquet``, keyed by
    (outcome, part), where the part is a design."""
    return {(Path(p).parents[1].name, Path(p).parent.name): read_parquet(p, schema) for p in paths}


def read_artefacts(inputs) -> RunArtefacts:
    """The report's artefacts, from the rule's named inputs."""
    topics = {
        (Path(c).parents[1].name, Path(c).parent.name): (
            read_parquet(c, "topic_coherence"),
            read_parquet(w, "topic_words"),
        )
        for c, w in zip(inputs.topic_coherence, inputs.topic_words, strict=True)
    }
    return RunArtefacts(
        summary=read_parquet(inputs.summary, "summary"),
        all_models=read_parquet(inputs.all_models, "metrics"),
        # Redaction profiles the notes' document types, redacted (if text is on).
        ingest_qa=pd.concat(
            [
                read_parquet(inputs.ingest_qa, "ingest_qa"),
                *([read_parquet(inputs.notes_qa, "ingest_qa")] if inputs.notes_qa else []),
                *([read_parquet(inputs.text_qa, "ingest_qa")] if inputs.text_qa else []),
            ],
            ignore_index=True,
        ),
        cohorts={Path(p).stem: read_parquet(p, "cohort") for p in inputs.cohorts},
        splits={
            (Path(p).parent.name, Path(p).stem): read_parquet(p, "splits") for p in inputs.splits
        },
        diagnostics={
            (Path(p).parent.name, Path(p).stem.removesuffix("_diagnostics")): read_parquet(
                p, "split_diagnostics"
            )
            for p in inputs.split_diagnostics
        },
        audits=outcome_audits(inputs.audits),
        predictions=by_outcome_and_part(inputs.predictions, "predictions"),
        importance=by_outcome_and_part(inputs.importance, "importance"),
        topics=topics,
        thresholds=concatenated(inputs.thresholds, "thresholds"),
        calibration=concatenated(inputs.calibration, "calibration"),
        fairness=concatenated(inputs.fairness, "fairness_groups"),
        learning_curves=concatenated(inputs.learning_curves, "learning_curve"),
        effects=concatenated(inputs.effects, "accumulated_local_effects"),
        deltas=read_parquet(inputs.deltas, "run_deltas") if inputs.deltas else None,
        refits=(
            concatenated(inputs.refit_bootstraps, "refit_bootstrap")
            if inputs.refit_bootstraps
            else None
        ),
    )


def main(snakemake) -> None:
    """Read the results and write the report."""
    outcomes = snakemake.params.outcomes
    document = render(
        snakemake.params.la,
        outcomes,
        list(snakemake.params.feature_sets),
        snakemake.params.success_threshold,
        snakemake.params.compared_with,
        read_artefacts(snakemake.input),
        Path(snakemake.output.figures),
        float(snakemake.params.max_age_years),
        FairnessComparison(
            snakemake.params.fairness_reference,
            tuple(float(b) for b in snakemake.params.disparity_band),
        ),
        Disclosure(int(snakemake.params.disclosure_min_count)),
        score_inflation(dict(snakemake.params.balance)),
        int(snakemake.params.min_inner_positives),
    )
    Path(snakemake.output.html).write_text(document, encoding="utf-8")
    logger.info("wrote the report for %d outcome(s)", len(outcomes))


if __name__ == "__main__":
    from common import run

    run(lambda: main(snakemake), snakemake.log[0])  # noqa: F821
