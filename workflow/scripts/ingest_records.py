"""Ingest an LA's structured exports into canonical, pseudonymised tables.

Reads the children, referrals, assessments, section 47, child protection plan
and looked-after episode exports as the LA's config maps them, checks required
fields, dates and links, replaces every identifier by a keyed hash, and writes
one Parquet table each (schemas in ``common.SCHEMAS``). Dates of birth are
coarsened to the month: ages are all the analysis needs.
"""

import logging
from pathlib import Path

import pandas as pd

from common import (
    InputError,
    parse_dates,
    pseudonymise,
    read_mapped_csv,
    resolve_key,
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
TRUE_VALUES = {"1", "true", "yes", "y", "t"}
FALSE_VALUES = {"0", "false", "no", "n", "f"}
NO_DISABILITY = {"NONE", "NO", "0", ""}


def parse_flag(values: pd.Series, path: Path, column: str) -> pd.Series:
    """Parse booleans written as 0/1, true/false or yes/no; missing is False."""
    text = values.astype("string").str.strip().str.lower()
    bad = text.notna() & ~text.isin(TRUE_VALUES | FALSE_VALUES)
    if bad.any():
        row = int(bad.to_numpy().nonzero()[0][0])
        raise InputError(
            f"{path}: column {column!r}, line {row + 2}: cannot read flag "
            f"{values.iloc[row]!r}; use 0/1 or true/false."
        )
    return text.isin(TRUE_VALUES).astype(bool)


def split_codes(values: pd.Series, separator: str) -> pd.Series:
    """Split cells holding several codes (e.g. "3A;4B") into sorted unique lists."""
    return values.fillna("").map(
        lambda cell: sorted({c.strip().upper() for c in cell.split(separator) if c.strip()})
    )


def check_required(frame: pd.DataFrame, columns: list[str], path: Path, table: str) -> None:
    """Raise ``InputError`` at the first missing value of a required column."""
    for column in columns:
        missing = frame[column].isna()
        if missing.any():
            row = int(missing.to_numpy().nonzero()[0][0])
            raise InputError(
                f"{path}: column mapped to {table}.{column}, line {row + 2}: value is "
                "missing but required; fill it in or remove the row from the export."
            )


def check_unique(frame: pd.DataFrame, column: str, path: Path) -> None:
    """Raise ``InputError`` naming the first duplicated identifier's line."""
    duplicated = frame[column].duplicated(keep="first")
    if duplicated.any():
        row = int(duplicated.to_numpy().nonzero()[0][0])
        raise InputError(
            f"{path}: column mapped to {column}, line {row + 2}: identifier appears more "
            "than once; each row must have its own identifier. Remove the duplicate."
        )


def check_links(
    frame: pd.DataFrame, column: str, known: pd.Series, path: Path, parent: str
) -> pd.DataFrame:
    """Drop rows whose ``column`` is not in ``known``, with a warning counting them."""
    unknown = ~frame[column].isin(set(known))
    if unknown.any():
        logger.warning(
            "%s: %d row(s) refer to a %s not found in the %s table (first at line %d); "
            "they are left out",
            path,
            int(unknown.sum()),
            column,
            parent,
            int(unknown.to_numpy().nonzero()[0][0]) + 2,
        )
    return frame.loc[~unknown].reset_index(drop=True)


def prepare_table(raw: pd.DataFrame, table: str, path: Path, key: bytes) -> pd.DataFrame:
    """Parse dates, flags and code lists, and pseudonymise identifiers of one table."""
    frame = raw.copy()
    id_columns = [c for c in ID_COLUMNS if c in frame.columns]
    check_required(frame, id_columns, path, table)
    for column, required in DATE_COLUMNS[table].items():
        frame[column] = parse_dates(frame[column], path, column, required)
    for column in id_columns:
        frame[column] = pseudonymise(frame[column], key)
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


def check_date_order(
    frame: pd.DataFrame, start: str, end: str, path: Path, table: str
) -> pd.DataFrame:
    """Drop rows that end before they start, with a warning giving the first line."""
    reversed_dates = frame[end].notna() & (frame[end] < frame[start])
    if reversed_dates.any():
        logger.warning(
            "%s: %d %s row(s) end before they start (first at line %d); they are left out",
            path,
            int(reversed_dates.sum()),
            table,
            int(reversed_dates.to_numpy().nonzero()[0][0]) + 2,
        )
    return frame.loc[~reversed_dates].reset_index(drop=True)


def ingest(
    paths: dict[str, Path],
    mappings: dict[str, dict[str, str]],
    key: bytes,
    separator: str,
) -> dict[str, pd.DataFrame]:
    """Read, check, link and pseudonymise every structured table."""
    tables = {}
    for table, path in paths.items():
        raw = read_mapped_csv(path, mappings[table], table)
        tables[table] = prepare_table(raw, table, path, key)
        logger.info("%s: read %d rows from %s", table, len(raw), path)

    children = tables["children"]
    check_unique(children, "child_id", paths["children"])
    children = build_children(children, separator)
    referrals = tables["referrals"]
    check_unique(referrals, "referral_id", paths["referrals"])
    referrals = check_links(
        referrals, "child_id", children["child_id"], paths["referrals"], "children"
    )
    referrals["nfa"] = parse_flag(referrals["nfa"], paths["referrals"], "nfa")
    referrals = check_date_order(
        referrals, "referral_date", "closure_date", paths["referrals"], "referral"
    )

    out = {"children": children, "referrals": referrals}
    for table in ("assessments", "section47", "cp_plans"):
        frame = check_links(
            tables[table], "referral_id", referrals["referral_id"], paths[table], "referrals"
        )
        out[table] = frame
    out["assessments"]["factors"] = split_codes(out["assessments"]["factors"], separator)
    out["cp_plans"] = check_date_order(
        out["cp_plans"], "start_date", "end_date", paths["cp_plans"], "plan"
    )
    episodes = check_links(
        tables["care_episodes"],
        "child_id",
        children["child_id"],
        paths["care_episodes"],
        "children",
    )
    out["care_episodes"] = check_date_order(
        episodes, "start_date", "end_date", paths["care_episodes"], "episode"
    )
    for name, frame in out.items():
        sort_keys = [
            c
            for c in ("child_id", "referral_id", "start_date", "referral_date")
            if c in frame.columns
        ]
        out[name] = frame.sort_values(sort_keys, kind="stable").reset_index(drop=True)
    return out


def main(snakemake) -> None:
    """Run ingestion with the rule's inputs, params and outputs."""
    key = resolve_key(
        snakemake.params.key_env, snakemake.params.key_file, snakemake.params.demo_key
    )
    paths = {table: Path(snakemake.input[table]) for table in DATE_COLUMNS}
    tables = ingest(paths, snakemake.params.mappings, key, snakemake.params.list_separator)
    for name, frame in tables.items():
        write_parquet(frame, snakemake.output[name], name)
        logger.info("%s: wrote %d rows", name, len(frame))


if __name__ == "__main__":
    from common import run

    run(lambda: main(snakemake), snakemake.log[0])  # noqa: F821
