"""Ingest an LA's structured exports into canonical, pseudonymised tables.

Reads the children, referrals, assessments, section 47, child protection plan
and looked-after episode exports (CSV, XLSX, Parquet or JSON lines) as the
LA's config maps them, checks required fields, dates, links and codes,
replaces every identifier by a keyed hash, and writes one Parquet table each
(schemas in ``common.SCHEMAS``). Dates of birth are coarsened to the month:
ages are all the analysis needs.

The case-notes export, when the text designs run, is checked by
``ingest_notes`` with this module's ``check_notes`` (required fields, note
times, children it refers to), in a job of its own so that switching the text
designs reruns no structured table; its text is redacted by ``redact_notes``,
which also profiles the (redacted) document types. Everything found goes into
the ingestion QA table: rows read, kept and rejected (and
why) per table, code frequencies and codes not allowed in their collection
year (``resources/code_lists.yaml``; values neither listed nor common are
counted together, unnamed, as they may be free text), date ranges,
impossible dates and missing values. Unknown codes and impossible but harmless dates are kept and
reported, except that a value neither listed nor common is written as
``UNLISTED_VALUE`` in the canonical tables too; rows that cannot be used are
left out and counted.
"""

import logging
from collections.abc import Iterable
from pathlib import Path

import numpy as np
import pandas as pd

from common import (
    MIN_CHILDREN_SHOWN_VALUE,
    InputError,
    check_key_fingerprint,
    column_label,
    counts_shown,
    enforce_schema,
    first_row,
    listed_codes,
    load_code_lists,
    nameable_values,
    parse_dates,
    pseudonymise,
    read_mapped_csv,
    resolve_key,
    row_location,
    unusable_notes,
    value_shape,
    write_parquet,
)

logger = logging.getLogger(__name__)

ID_COLUMNS = ("child_id", "family_id", "referral_id", "assessment_id")
DATE_COLUMNS: dict[str, dict[str, bool]] = {
    "children": {"date_of_birth": True},
    "referrals": {"referral_date": True, "closure_date": False},
    "assessments": {"start_date": True, "authorisation_date": False},
    "section47": {"start_date": True, "icpc_date": False},
    "cp_plans": {"start_date": True, "end_date": False},
    "care_episodes": {"start_date": True, "end_date": False},
}
# The date that places a row in a collection year (children have none).
YEAR_DATE = {
    "referrals": "referral_date",
    "assessments": "start_date",
    "section47": "start_date",
    "cp_plans": "start_date",
    "care_episodes": "start_date",
}
# Columns holding several codes in one cell.
LIST_COLUMNS = {"disabilities", "factors"}
UNIQUE_IDS = {"children": "child_id", "referrals": "referral_id"}
# Tables without which no cohort exists; the others may legitimately be empty
# (e.g. no child looked after in a small extract).
NEEDS_ROWS = ("children", "referrals")
# What an export without rows stops, for the message.
NEEDED_FOR = {
    "children": "the study cannot run without children",
    "referrals": "the study cannot run without referrals",
    "notes": "the text designs need case notes (without usable notes, set designs.text: false)",
}
# What a coded column's value neither in its code list nor common enough to be
# shown (``common.nameable_values``) becomes in the canonical tables: typed
# into a coded field, free text ("Mrs Kowalczyk", "Smith family") would
# otherwise be kept as written in results/. Not a code of any list, it is an
# "other" code to the features and an unknown sex or unrecognised ethnicity to
# the fairness groups.
UNLISTED_VALUE = "UNLISTED"
# The outcome events (``build_cohort.EVENTS``) each of the other tables holds.
EVENTS_OF_TABLE = {
    "assessments": ("assessment",),
    "section47": ("section47", "initial_conference"),
    "cp_plans": ("cp_plan",),
    "care_episodes": ("care_episode",),
}
TRUE_VALUES = {"1", "true", "yes", "y", "t"}
FALSE_VALUES = {"0", "false", "no", "n", "f"}
NO_DISABILITY = {"NONE", "NO", "0", ""}
QA_COLUMNS = ["table", "measure", "column", "value", "count", "share"]


class QualityLog:
    """Collects the rows of the ingestion QA table (schema ``ingest_qa``)."""

    def __init__(self) -> None:
        self.rows: list[dict] = []

    def add(
        self,
        table: str,
        measure: str,
        count: int,
        column: str | None = None,
        value: str | None = None,
        total: int | None = None,
    ) -> None:
        """Record ``count`` rows (or codes) of ``table`` under ``measure``; the share
        is of ``total`` if given, else of the table's rows read."""
        share = count / total if total else np.nan
        self.rows.append(
            {
                "table": table,
                "measure": measure,
                "column": column,
                "value": value,
                "count": int(count),
                "share": share,
            }
        )

    def frame(self) -> pd.DataFrame:
        """The collected rows as a frame in the order they were recorded."""
        frame = pd.DataFrame(self.rows, columns=QA_COLUMNS)
        read = frame.loc[frame["measure"] == "rows_read"].set_index("table")["count"]
        of_rows = frame["share"].isna() & (frame["measure"] != "rows_read")
        of_rows &= ~frame["measure"].isin(["date_min", "date_max"])
        frame.loc[of_rows, "share"] = frame.loc[of_rows, "count"] / frame.loc[of_rows, "table"].map(
            read
        ).replace(0, np.nan)
        return frame.astype(
            {
                "table": "string",
                "measure": "string",
                "column": "string",
                "value": "string",
                "count": "int64",
                "share": "float64",
            }
        )


def parse_flag(values: pd.Series, path: Path, label: str) -> pd.Series:
    """Parse booleans written as 0/1, true/false or yes/no; missing is False.
    ``label`` names the column in messages (``common.column_label``)."""
    text = values.astype("string").str.strip().str.lower()
    bad = text.notna() & ~text.isin(TRUE_VALUES | FALSE_VALUES)
    if bad.any():
        raise InputError(
            f"{path}: {label}, {first_row(path, bad)}: cannot read the flag "
            f"written {value_shape(values[bad].iloc[0])!r} (9: a digit, A: a letter); use 0/1 "
            "or true/false."
        )
    return text.isin(TRUE_VALUES).astype(bool)


def split_codes(values: pd.Series, separator: str) -> pd.Series:
    """Split cells holding several codes (e.g. "3A;4B") into sorted unique lists.

    The result holds Python lists even when ``values`` is empty (a header-only
    export), so that it is written as a list column."""
    lists = [
        sorted({c.strip().upper() for c in cell.split(separator) if c.strip()})
        for cell in values.fillna("")
    ]
    return pd.Series(lists, index=values.index, dtype=object)


def check_required(
    frame: pd.DataFrame,
    required: Iterable[str],
    path: Path,
    table: str,
    columns: dict[str, str],
) -> None:
    """Raise ``InputError`` at the first missing value of a required column
    (``columns`` maps canonical -> file column names, for the message)."""
    for column in required:
        missing = frame[column].isna()
        if missing.any():
            raise InputError(
                f"{path}: {column_label(columns, table, column)}, {first_row(path, missing)}: "
                "value is missing but required; fill it in or remove the row from the export."
            )


def check_unique(
    frame: pd.DataFrame, column: str, path: Path, table: str, columns: dict[str, str]
) -> None:
    """Raise ``InputError`` naming the first duplicated identifier's row."""
    duplicated = frame[column].duplicated(keep="first")
    if duplicated.any():
        raise InputError(
            f"{path}: {column_label(columns, table, column)}, {first_row(path, duplicated)}: "
            "identifier appears more than once; each row must have its own identifier. "
            "Remove the duplicate."
        )


def check_has_rows(frame: pd.DataFrame, path: Path, table: str, read_only: bool) -> None:
    """Raise ``InputError`` if ``table``, one of ``NEEDS_ROWS`` or the notes,
    has no rows: as read (``read_only``: the export holds only a header) or
    after the checks that leave rows out. Without them no referral can enter
    the study, or no text design be fitted."""
    if not frame.empty:
        return
    if read_only:
        problem = "holds only a header row"
        fix = (
            f"re-export the {table} table with its rows, or point data.tables.{table}.path "
            "in your config at the right file"
        )
    else:
        problem = "has no row left after the checks above"
        fix = "fix the rows the warnings above name (or the children table they refer to)"
    raise InputError(f"{table}: file {path} {problem}, and {NEEDED_FOR[table]}; {fix}.")


def drop_rows(
    frame: pd.DataFrame,
    drop: pd.Series,
    path: Path,
    table: str,
    reason: str,
    qa: QualityLog,
) -> pd.DataFrame:
    """Leave out the rows where ``drop`` holds, warning with their count and first
    row and recording them as rejected for ``reason``."""
    if drop.any():
        logger.warning(
            "%s: %d %s row(s) %s (first at %s); they are left out",
            path,
            int(drop.sum()),
            table,
            reason,
            first_row(path, drop),
        )
        qa.add(table, "rows_rejected", int(drop.sum()), value=reason)
    return frame.loc[~drop.to_numpy()]


def check_links(
    frame: pd.DataFrame,
    column: str,
    known: pd.Series,
    path: Path,
    table: str,
    parent: str,
    qa: QualityLog,
) -> pd.DataFrame:
    """Leave out rows whose ``column`` is not in ``known`` (the ``parent`` table)."""
    unknown = ~frame[column].isin(set(known))
    return drop_rows(
        frame, unknown, path, table, f"refer to a {column} not in the {parent} table", qa
    )


def check_date_order(
    frame: pd.DataFrame, start: str, end: str, path: Path, table: str, qa: QualityLog
) -> pd.DataFrame:
    """Leave out rows that end before they start (e.g. closure before referral)."""
    reversed_dates = frame[end].notna() & (frame[end] < frame[start])
    return drop_rows(frame, reversed_dates, path, table, f"have {end} before {start}", qa)


def drop_future(
    frame: pd.DataFrame,
    table: str,
    path: Path,
    reference: pd.Timestamp,
    qa: QualityLog,
) -> pd.DataFrame:
    """Leave out rows that start after the day of the run: they cannot have
    happened yet, and they would stretch the period the labels are censored at.
    Later end dates are only reported (``report_future_dates``)."""
    start = YEAR_DATE.get(table)
    if start is None:
        return frame
    future = frame[start] > reference
    return drop_rows(
        frame, future, path, table, f"have {start} after {reference.date()} (future)", qa
    )


def report_future_dates(
    frame: pd.DataFrame,
    table: str,
    path: Path,
    columns: dict[str, str],
    reference: pd.Timestamp,
    qa: QualityLog,
) -> None:
    """Warn about and count dates after ``reference`` in columns that are not the
    row's start date (the row is kept)."""
    for column in DATE_COLUMNS[table]:
        if column == YEAR_DATE.get(table):
            continue
        future = frame[column] > reference
        if future.any():
            logger.warning(
                "%s: %s: %d value(s) after %s (first at %s); check the export",
                path,
                column_label(columns, table, column),
                int(future.sum()),
                reference.date(),
                first_row(path, future),
            )
            qa.add(
                table,
                "impossible_date",
                int(future.sum()),
                column=column,
                value=f"after {reference.date()} (future)",
            )


def collection_year(dates: pd.Series) -> pd.Series:
    """The collection year (1 April to 31 March, named by its March) of each date."""
    return dates.dt.year + (dates.dt.month >= 4).astype("int64")


def unknown_codes(periods: list[dict], codes: pd.Series, years: pd.Series) -> np.ndarray:
    """Whether each code is not allowed in its collection year.

    A missing year allows every listed code; a year before the first or after
    the last listed period uses that period.
    """
    lows = [-np.inf if p["from"] is None else p["from"] for p in periods]
    highs = [np.inf if p["to"] is None else p["to"] for p in periods]
    clipped = years.to_numpy(dtype=float).clip(min(lows), max(highs))
    allowed = np.zeros(len(codes), dtype=bool)
    for period, low, high in zip(periods, lows, highs, strict=True):
        listed = {str(code).upper() for code in period["codes"]}
        in_period = (clipped >= low) & (clipped <= high)
        allowed |= in_period & codes.isin(listed).to_numpy()
    allowed |= np.isnan(clipped) & codes.isin(listed_codes(periods)).to_numpy()
    return ~allowed


def code_values(frame: pd.DataFrame, column: str, separator: str) -> pd.DataFrame:
    """One row per code in ``column`` (cells of list columns are split), with the
    position of the row it came from."""
    text = frame[column].astype("string").str.strip().str.upper().reset_index(drop=True)
    if column in LIST_COLUMNS:
        text = text.str.split(separator).explode().str.strip()
    out = pd.DataFrame({"code": text.replace("", pd.NA).to_numpy(), "position": text.index})
    return out.dropna(subset=["code"]).reset_index(drop=True)


def check_codes(
    frame: pd.DataFrame,
    table: str,
    path: Path,
    columns: dict[str, str],
    code_lists: dict[str, dict[str, list[dict]]],
    separator: str,
    qa: QualityLog,
) -> dict[str, set[str]]:
    """Count each code of ``table``'s coded columns and flag codes not allowed in
    their row's collection year: a warning and a QA row each, never a drop.
    Returns, per coded column, the values that may be shown.

    A value neither in the column's code list nor of at least
    ``common.MIN_CHILDREN_SHOWN_VALUE`` children may be free text naming
    someone: the QA rows count such values together ("2 other values"), the
    warning gives how they are written (``common.value_shape``), not what they
    say, and ``withhold_rare_values`` replaces them.
    """
    years = (
        collection_year(frame[YEAR_DATE[table]])
        if table in YEAR_DATE
        else pd.Series(np.nan, index=frame.index)
    )
    shown_by_column = {}
    for column, periods in code_lists.get(table, {}).items():
        if column not in frame.columns:
            continue
        codes = code_values(frame, column, separator)
        children = frame["child_id"].iloc[codes["position"]]
        shown = nameable_values(codes["code"], children, listed_codes(periods))
        shown_by_column[column] = shown
        for code, count in counts_shown(codes["code"], shown):
            qa.add(table, "code", count, column=column, value=code, total=len(codes))
        unknown = unknown_codes(periods, codes["code"], years.iloc[codes["position"]])
        if not unknown.any():
            continue
        bad = codes.loc[unknown]
        written = sorted({code if code in shown else value_shape(code) for code in bad["code"]})
        logger.warning(
            "%s: %s: %d value(s) with codes not allowed in their collection year "
            "(%s; first at %s); kept, those neither listed nor of %d children or more "
            "as %s (they may be free text naming someone), but check the export or the "
            "code lists",
            path,
            column_label(columns, table, column),
            len(bad),
            ", ".join(written[:10]),
            row_location(path, int(frame.index[int(bad["position"].iloc[0])])),
            MIN_CHILDREN_SHOWN_VALUE,
            UNLISTED_VALUE,
        )
        for code, count in counts_shown(bad["code"], shown):
            qa.add(table, "unknown_code", count, column=column, value=code, total=len(codes))
    return shown_by_column


def withheld_codes(cell: str, shown: set[str], separator: str) -> str:
    """A list column's ``cell`` with each code not in ``shown`` (compared
    trimmed and upper-cased) written as ``UNLISTED_VALUE``."""
    return separator.join(
        UNLISTED_VALUE if code.strip() and code.strip().upper() not in shown else code
        for code in cell.split(separator)
    )


def withhold_rare_values(
    frame: pd.DataFrame, shown_by_column: dict[str, set[str]], separator: str
) -> pd.DataFrame:
    """``frame`` with each value of a coded column that is not in its
    ``shown_by_column`` set (``check_codes``) written as ``UNLISTED_VALUE``;
    in list columns, each such code of a cell. Values are compared trimmed and
    upper-cased, as ``check_codes`` counts them; shown values stay as written."""
    out = frame.copy()
    for column, shown in shown_by_column.items():
        values = frame[column]
        if column in LIST_COLUMNS:
            out[column] = values.map(
                lambda cell, shown=shown: (
                    withheld_codes(cell, shown, separator) if isinstance(cell, str) else cell
                )
            )
        else:
            text = values.astype("string").str.strip().str.upper()
            rare = (text.notna() & (text != "") & ~text.isin(list(shown))).to_numpy(dtype=bool)
            out.loc[rare, column] = UNLISTED_VALUE
    return out


def profile_table(
    frame: pd.DataFrame, table: str, date_columns: Iterable[str], qa: QualityLog
) -> None:
    """Record the date range (to the month) and missing values of each column of
    ``table``'s rows read. The first or last record's exact day, in a small LA,
    can point at one child; the QA table is shared (docs/contracts.md)."""
    for column in date_columns:
        values = frame[column].dropna()
        if values.empty:
            continue
        qa.add(table, "date_min", len(values), column=column, value=f"{values.min():%Y-%m}")
        qa.add(table, "date_max", len(values), column=column, value=f"{values.max():%Y-%m}")
    for column in frame.columns:
        qa.add(table, "missing", int(frame[column].isna().sum()), column=column)


def prepare_table(
    raw: pd.DataFrame, table: str, path: Path, columns: dict[str, str], key: bytes
) -> pd.DataFrame:
    """Parse dates, flags and code lists, and pseudonymise identifiers of one table.

    ``columns`` maps canonical -> file column names (for messages). The index
    of ``raw`` (each row's position in the export) is kept, so that later
    messages can say where a row is.
    """
    frame = raw.copy()
    id_columns = [c for c in ID_COLUMNS if c in frame.columns]
    check_required(frame, id_columns, path, table, columns)
    for column, required in DATE_COLUMNS[table].items():
        label = column_label(columns, table, column)
        frame[column] = parse_dates(frame[column], path, label, required)
    for column in id_columns:
        frame[column] = pseudonymise(frame[column], key)
    unique = UNIQUE_IDS.get(table)
    if unique:
        check_unique(frame, unique, path, table, columns)
    if table == "referrals":
        frame["nfa"] = parse_flag(frame["nfa"], path, column_label(columns, table, "nfa"))
    return frame


def build_children(frame: pd.DataFrame, separator: str) -> pd.DataFrame:
    """Canonical children: birth month only, disability as a flag."""
    disability_codes = split_codes(frame["disabilities"], separator)
    return pd.DataFrame(
        {
            "child_id": frame["child_id"],
            "family_id": frame["family_id"],
            "sex": frame["sex"].astype("string").str.upper().fillna("U"),
            "birth_month": frame["date_of_birth"].dt.to_period("M").dt.to_timestamp(),
            "ethnicity": frame["ethnicity"].astype("string").str.upper(),
            "disability": disability_codes.map(lambda codes: bool(set(codes) - NO_DISABILITY)),
        }
    ).astype({"birth_month": "datetime64[ms]"})


def report_births_after_referral(
    referrals: pd.DataFrame, children: pd.DataFrame, path: Path, qa: QualityLog
) -> None:
    """Warn about and count referrals dated before the child's birth. They are
    kept: pre-birth referrals (of an unborn child) are legitimate."""
    birth = referrals["child_id"].map(children.set_index("child_id")["date_of_birth"])
    before_birth = birth.notna() & (referrals["referral_date"] < birth)
    if before_birth.any():
        logger.warning(
            "%s: %d referral(s) dated before the child's birth (first at %s); kept "
            "as pre-birth referrals, but check the dates",
            path,
            int(before_birth.sum()),
            first_row(path, before_birth),
        )
        qa.add(
            "referrals",
            "impossible_date",
            int(before_birth.sum()),
            column="referral_date",
            value="before the child's date of birth",
        )


# A month or two without a new enquiry, plan or care episode happens in a small
# LA; a quarter without one, while referrals go on, more often means the export
# of that table stopped early.
MAX_DAYS_WITHOUT_EVENTS = 90


def report_tables_ending_early(tables: dict[str, pd.DataFrame], path: Path, qa: QualityLog) -> None:
    """Warn about and count, per event table, the referrals made after its last
    record, when that is more than ``MAX_DAYS_WITHOUT_EVENTS`` before the last
    referral (``path``: the referrals export). Outcomes are labelled up to the
    last referral (or ``data.data_end_date``), so events missing from a table
    that ends early would make those referrals' labels silently negative. The
    check compares the exports themselves, so a data_end_date set for it does
    not clear it. The warning and the QA row give months, not days."""
    last_referral = tables["referrals"]["referral_date"].max()
    for table in ("assessments", "section47", "cp_plans", "care_episodes"):
        start = YEAR_DATE[table]
        last = tables[table][start].max()
        if pd.isna(last) or (last_referral - last).days <= MAX_DAYS_WITHOUT_EVENTS:
            continue
        later = int((tables["referrals"]["referral_date"] > last).sum())
        # Months, not days (nor the days between the records, which with their
        # months would give the days): a last record's exact day can point at one
        # child. The end of the month before is a safe data end to suggest.
        logger.warning(
            "%s: its last %s (in %s) is more than %d days before the last referral in "
            "%s (in %s); %d referral(s) come after it. If the %s export stops early, "
            "outcomes built on it are silently missed: ask for the whole period, or set "
            "data.data_end_date no later than its last %s (%s, the end of the month "
            "before, is always early enough) so that outcomes are looked for only where "
            "it covers (this warning stays: it compares the exports)",
            table,
            start,
            f"{last:%Y-%m}",
            MAX_DAYS_WITHOUT_EVENTS,
            path,
            f"{last_referral:%Y-%m}",
            later,
            table,
            start,
            (last.to_period("M").start_time - pd.Timedelta(days=1)).date(),
        )
        qa.add(
            table,
            "warning",
            later,
            column=start,
            value=(
                f"ends before the referrals do ({last:%Y-%m} against {last_referral:%Y-%m}): "
                "check the export covers the whole period, or set data.data_end_date no "
                "later than its end (this row stays: it compares the exports)"
            ),
            total=len(tables["referrals"]),
        )


def report_header_only_tables(
    tables: Iterable[str], paths: dict[str, Path], referrals: int, qa: QualityLog
) -> None:
    """Warn about and count each of ``tables`` (of ``EVENTS_OF_TABLE``) whose
    export holds only a header row. Such a table may be legitimately empty (no
    child looked after in a small extract), but a wrong or broken export makes
    outcomes built on its events silently miss them for all ``referrals`` (as
    ``report_tables_ending_early`` warns of an export that stops early)."""
    for table in tables:
        events = " and ".join(EVENTS_OF_TABLE[table])
        logger.warning(
            "%s: file %s holds only a header row, so no %s event is on record: outcomes "
            "whose events (or rule) include %s find none for any of the %d referral(s), "
            "and are positive only through their other events. If the LA has these "
            "records, re-export the table with its "
            "rows or point data.tables.%s.path at the right file; if it has none, the "
            "header-only file is how to say so (docs/contracts.md) and this warning "
            "stays as a reminder",
            table,
            paths[table],
            events,
            events,
            referrals,
            table,
        )
        qa.add(
            table,
            "warning",
            referrals,
            value=(
                f"holds only a header row: no {events} event is on record, so outcomes "
                "built on them find none for any referral; re-export it with its rows "
                "unless the LA truly has none"
            ),
            total=referrals,
        )


def check_notes(
    path: Path,
    columns: dict[str, str],
    children: pd.Series,
    key: bytes,
    reference: pd.Timestamp,
    qa: QualityLog,
) -> None:
    """Check the case-notes export and record its QA rows.

    Missing note ids and unreadable times raise ``InputError`` (as
    ``redact_notes`` would); notes without a child id, time or text are left
    out with a warning and counted (``common.UNUSABLE_NOTES``, as
    ``redact_notes`` leaves them out); notes of children missing from
    the children table and notes dated after ``reference`` are kept, counted
    and logged. The text itself is neither kept nor logged, nor are the
    document types, which may be free-text subjects naming someone:
    ``redact_notes`` profiles them once redacted.
    """
    notes = read_mapped_csv(path, columns, "notes")
    logger.info("notes: read %d rows from %s", len(notes), path)
    qa.add("notes", "rows_read", len(notes))
    check_has_rows(notes, path, "notes", read_only=True)
    check_required(notes, ["note_id"], path, "notes", columns)
    for reason, lacking in unusable_notes(notes).items():
        notes = drop_rows(notes, lacking.loc[notes.index], path, "notes", reason, qa)
    check_has_rows(notes, path, "notes", read_only=False)
    check_unique(notes, "note_id", path, "notes", columns)
    notes["note_datetime"] = parse_dates(
        notes["note_datetime"],
        path,
        column_label(columns, "notes", "note_datetime"),
        required=True,
    )
    unknown = ~pseudonymise(notes["child_id"], key).isin(set(children))
    if unknown.any():
        logger.warning(
            "%s: %d note(s) are about children not in the children table (first at "
            "%s); they are kept but cannot be used for any referral",
            path,
            int(unknown.sum()),
            first_row(path, unknown),
        )
        qa.add(
            "notes",
            "warning",
            int(unknown.sum()),
            column="child_id",
            value="child not in the children table",
        )
    future = notes["note_datetime"] > reference + pd.Timedelta(days=1)
    if future.any():
        logger.warning(
            "%s: %d note(s) dated after %s (first at %s); check the export",
            path,
            int(future.sum()),
            reference.date(),
            first_row(path, future),
        )
        qa.add(
            "notes",
            "impossible_date",
            int(future.sum()),
            column="note_datetime",
            value=f"after {reference.date()} (future)",
        )
    profile_table(notes, "notes", ["note_datetime"], qa)
    qa.add("notes", "rows_kept", len(notes))


def ingest(
    paths: dict[str, Path],
    mappings: dict[str, dict[str, str]],
    key: bytes,
    separator: str,
    code_lists: dict[str, dict[str, list[dict]]],
    reference: pd.Timestamp,
) -> tuple[dict[str, pd.DataFrame], pd.DataFrame]:
    """Read, check, link and pseudonymise every structured table.

    ``reference`` is the date of the run: rows starting later cannot have
    happened and are left out, other later dates are reported. Returns the canonical tables and
    the QA table.
    """
    qa = QualityLog()
    tables = {}
    header_only = []
    for table in DATE_COLUMNS:
        path = paths[table]
        raw = read_mapped_csv(path, mappings[table], table)
        if table in NEEDS_ROWS:
            check_has_rows(raw, path, table, read_only=True)
        elif raw.empty:
            header_only.append(table)
        frame = prepare_table(raw, table, path, mappings[table], key)
        logger.info("%s: read %d rows from %s", table, len(raw), path)
        qa.add(table, "rows_read", len(frame))
        shown = check_codes(frame, table, path, mappings[table], code_lists, separator, qa)
        frame = withhold_rare_values(frame, shown, separator)
        profile_table(frame, table, DATE_COLUMNS[table], qa)
        report_future_dates(frame, table, path, mappings[table], reference, qa)
        tables[table] = drop_future(frame, table, path, reference, qa)

    raw_children = tables["children"]
    children = build_children(raw_children, separator)
    referrals = tables["referrals"]
    referrals = check_links(
        referrals,
        "child_id",
        children["child_id"],
        paths["referrals"],
        "referrals",
        "children",
        qa,
    )
    report_births_after_referral(referrals, raw_children, paths["referrals"], qa)
    referrals = check_date_order(
        referrals, "referral_date", "closure_date", paths["referrals"], "referrals", qa
    )
    check_has_rows(referrals, paths["referrals"], "referrals", read_only=False)

    out = {"children": children, "referrals": referrals}
    for table in ("assessments", "section47", "cp_plans"):
        out[table] = check_links(
            tables[table],
            "referral_id",
            referrals["referral_id"],
            paths[table],
            table,
            "referrals",
            qa,
        )
    out["assessments"]["factors"] = split_codes(out["assessments"]["factors"], separator)
    out["cp_plans"] = check_date_order(
        out["cp_plans"], "start_date", "end_date", paths["cp_plans"], "cp_plans", qa
    )
    episodes = check_links(
        tables["care_episodes"],
        "child_id",
        children["child_id"],
        paths["care_episodes"],
        "care_episodes",
        "children",
        qa,
    )
    out["care_episodes"] = check_date_order(
        episodes, "start_date", "end_date", paths["care_episodes"], "care_episodes", qa
    )
    report_header_only_tables(header_only, paths, len(referrals), qa)
    report_tables_ending_early(out, paths["referrals"], qa)
    for name, frame in out.items():
        sort_keys = [
            c
            for c in ("child_id", "referral_id", "start_date", "referral_date")
            if c in frame.columns
        ]
        out[name] = frame.sort_values(sort_keys, kind="stable").reset_index(drop=True)
        qa.add(name, "rows_kept", len(out[name]))
    return out, qa.frame()


def extract_date(configured: str | None) -> pd.Timestamp:
    """The day the extract was taken (configured, else today, UTC): no record
    can be dated later."""
    if configured:
        return pd.Timestamp(configured)
    return pd.Timestamp.now(tz="UTC").tz_localize(None).normalize()


def write_outputs(tables: dict[str, pd.DataFrame], qa: pd.DataFrame, outputs) -> None:
    """Write the canonical tables and the QA table (each file atomically), once
    every one of them has been checked against its schema, so that a table
    that cannot be written leaves no other behind."""
    checked = {name: enforce_schema(frame, name) for name, frame in tables.items()}
    checked_qa = enforce_schema(qa, "ingest_qa")
    for name, table in checked.items():
        write_parquet(table, outputs[name], name)
        logger.info("%s: wrote %d rows", name, table.num_rows)
    write_parquet(checked_qa, outputs["qa"], "ingest_qa")


def main(snakemake) -> None:
    """Run ingestion with the rule's inputs, params and outputs."""
    params = snakemake.params
    key = resolve_key(params.key_env, params.key_file, params.demo_key)
    check_key_fingerprint(key, params.key_fingerprint)
    paths = {table: Path(snakemake.input[table]) for table in DATE_COLUMNS}
    tables, qa = ingest(
        paths,
        params.mappings,
        key,
        params.list_separator,
        load_code_lists(snakemake.input.code_lists),
        extract_date(params.extract_date),
    )
    write_outputs(tables, qa, snakemake.output)


if __name__ == "__main__":
    from common import run

    run(lambda: main(snakemake), snakemake.log[0])  # noqa: F821
