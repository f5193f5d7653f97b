"""Convert an LA's statutory returns into the workflow's raw export CSVs.

Inputs (see ``docs``/reference "statutory formats", sections 1, 2 and 5):

* CIN census XML files (2017-2026 layouts, no namespace). Each file is one
  collection year; ``GenderCurrent`` (1/2/0/9, up to 2024) and ``Sex`` (M/F/U,
  from 2025) are both read, booleans may be ``0``/``1`` or ``true``/``false``,
  and unknown elements (e.g. ``PreProceedingsandFGDM``) are ignored with one
  warning per element name.
* SSDA903 (children looked after) CSV tables, recognised by their set of
  column names (case-insensitive, UTF-8 BOM stripped), not by file name. Only
  Header and Episodes are used; the other tables are ignored with an info log.
* SSDA903 XML returns (``EXPSSDA903``: one ``CHILD`` per child holding a
  ``HEADER`` and its ``EPISODE``s), mapped to the same Header and Episodes
  tables (``CHILDID`` -> CHILD, ``PL`` -> PLACE). One return given both as CSV
  tables and as XML (the same folder, or the same year in the path) is an
  error naming both files.
* Optionally an LA-supplied CSV mapping child id -> family id: the CIN census
  carries no family identifier.

Several collection years are combined: a referral (same child, same referral
date) that appears in several CIN returns is one referral with the latest
year's values, and a looked-after episode (same CHILD and DECOM) in several
SSDA903 returns is one episode with the latest year's values.

The outputs are the workflow's raw exports (``config/config.yaml``
``data.tables``): children.csv, referrals.csv, assessments.csv, section47.csv,
cp_plans.csv and episodes.csv, plus unlinked_records.csv listing SSDA903
records that could not be linked to a CIN child.
"""

import argparse
import codecs
import datetime as dt
import logging
import os
import re
import xml.etree.ElementTree as ET
from collections.abc import Iterable
from pathlib import Path

import pandas as pd

from common import (
    InputError,
    first_row,
    header_line,
    row_location,
    text_encoding,
    undecodable_line,
    value_shape,
    without_separator_rows,
    wrong_separators,
)

logger = logging.getLogger(__name__)

# Output columns, exactly as named in config/config.yaml data.tables.
EXPORT_COLUMNS: dict[str, list[str]] = {
    "children": ["LAchildID", "FamilyID", "Sex", "PersonBirthDate", "Ethnicity", "Disabilities"],
    "referrals": [
        "CINdetailsID",
        "LAchildID",
        "CINreferralDate",
        "ReferralSource",
        "PrimaryNeedCode",
        "ReferralNFA",
        "CINclosureDate",
        "ReasonForClosure",
    ],
    "assessments": [
        "AssessmentID",
        "CINdetailsID",
        "LAchildID",
        "AssessmentActualStartDate",
        "AssessmentAuthorisationDate",
        "AssessmentFactors",
    ],
    "section47": ["CINdetailsID", "LAchildID", "S47ActualStartDate", "DateOfInitialCPC"],
    "cp_plans": [
        "CINdetailsID",
        "LAchildID",
        "CPPstartDate",
        "CPPendDate",
        "InitialCategoryOfAbuse",
    ],
    "episodes": ["CHILD", "DECOM", "RNE", "LS", "CIN", "PLACE", "DEC", "REC"],
}
EXPORT_FILES: dict[str, str] = {name: f"{name}.csv" for name in EXPORT_COLUMNS}
SORT_KEYS: dict[str, list[str]] = {
    "children": ["LAchildID"],
    "referrals": ["LAchildID", "CINreferralDate", "CINdetailsID"],
    "assessments": ["LAchildID", "CINdetailsID", "AssessmentActualStartDate", "AssessmentID"],
    "section47": ["LAchildID", "CINdetailsID", "S47ActualStartDate"],
    "cp_plans": ["LAchildID", "CINdetailsID", "CPPstartDate"],
    "episodes": ["CHILD", "DECOM"],
    "unlinked": ["source", "CHILD", "DECOM"],
}
UNLINKED_COLUMNS = ["source", "CHILD", "UPN", "DECOM", "reason", "action"]
HEADER_OUT = ["CHILD", "SEX", "DOB", "ETHNIC", "UPN"]

# Every CIN census element the reader knows (2017-2026 XSDs). Elements not in
# this set are skipped, with one warning per name.
KNOWN_CIN_ELEMENTS = frozenset(
    """Message Header CollectionDetails Collection Year ReferenceDate Source SourceLevel LEA
    SoftwareCode Release SerialNo DateTime Children Child ChildIdentifiers LAchildID UPN
    FormerUPN UPNunknown PersonBirthDate ExpectedPersonBirthDate GenderCurrent Sex
    PersonDeathDate ChildCharacteristics Ethnicity Disabilities Disability CINdetails
    CINreferralDate ReferralSource PrimaryNeedCode CINclosureDate ReasonForClosure
    DateOfInitialCPC Assessments AssessmentActualStartDate AssessmentInternalReviewDate
    AssessmentAuthorisationDate FactorsIdentifiedAtAssessment AssessmentFactors CINPlanDates
    CINPlanStartDate CINPlanEndDate Section47 S47ActualStartDate InitialCPCtarget
    ICPCnotRequired ReferralNFA ChildProtectionPlans CPPstartDate CPPendDate
    InitialCategoryOfAbuse LatestCategoryOfAbuse NumberOfPreviousCPP Reviews
    CPPreviewDate""".split()  # noqa: SIM905
)
GENDER_CURRENT = {"1": "M", "2": "F", "0": "U", "9": "U"}
SEX_CODES = {"M": "M", "F": "F", "U": "U", "1": "M", "2": "F", "0": "U", "9": "U"}
FLAGS = {"0": "0", "1": "1", "false": "0", "true": "1"}
ISO_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")
UK_DATE = re.compile(r"^\d{2}/\d{2}/\d{4}$")
# The encoding named in an XML declaration (<?xml ... encoding="..."?>).
XML_DECLARED_ENCODING = re.compile(
    rb"""(?:\xef\xbb\xbf)?<\?xml[^>]*?encoding\s*=\s*["']([A-Za-z0-9._-]+)["']"""
)

# SSDA903 CSV tables: full column sets (V903 config) and the core columns
# that identify a table even in older layouts.
SSDA903_TABLES: dict[str, set[str]] = {
    "Header": {"CHILD", "SEX", "DOB", "ETHNIC", "UPN", "MOTHER", "MC_DOB"},
    "Episodes": {
        "CHILD",
        "DECOM",
        "RNE",
        "LS",
        "CIN",
        "PLACE",
        "PLACE_PROVIDER",
        "DEC",
        "REC",
        "REASON_PLACE_CHANGE",
        "HOME_POST",
        "PL_POST",
        "URN",
    },
    "Reviews": {"CHILD", "DOB", "REVIEW", "REVIEW_CODE"},
    "UASC": {"CHILD", "SEX", "DOB", "DUC"},
    "OC2": {
        "CHILD",
        "DOB",
        "SDQ_SCORE",
        "SDQ_REASON",
        "CONVICTED",
        "HEALTH_CHECK",
        "IMMUNISATIONS",
        "TEETH_CHECK",
        "HEALTH_ASSESSMENT",
        "SUBSTANCE_MISUSE",
        "INTERVENTION_RECEIVED",
        "INTERVENTION_OFFERED",
    },
    "OC3": {"CHILD", "DOB", "IN_TOUCH", "ACTIV", "ACCOM"},
    "AD1": {
        "CHILD",
        "DOB",
        "DATE_INT",
        "DATE_MATCH",
        "FOSTER_CARE",
        "NB_ADOPTR",
        "SEX_ADOPTR",
        "LS_ADOPTR",
    },
    "PlacedAdoption": {
        "CHILD",
        "DOB",
        "DATE_PLACED",
        "DATE_PLACED_CEASED",
        "REASON_PLACED_CEASED",
    },
    "PrevPerm": {"CHILD", "DOB", "PREV_PERM", "LA_PERM", "DATE_PERM"},
    "Missing": {"CHILD", "DOB", "MISSING", "MIS_START", "MIS_END"},
    "SWEpisodes": {"CHILD", "DOB", "SW_ID", "SW_DECOM", "SW_DEC", "SW_REASON"},
    "DoLo": {"CHILD", "DOB", "DOLO_START", "DOLO_END"},
}
SSDA903_CORE: dict[str, set[str]] = {
    "Header": {"CHILD", "SEX", "DOB", "ETHNIC", "UPN"},
    "Episodes": {"CHILD", "DECOM", "RNE", "LS", "CIN", "PLACE", "DEC", "REC"},
}
SSDA903_COLUMNS = frozenset().union(*SSDA903_TABLES.values())
YEAR_IN_PATH = re.compile(r"(?<!\d)(20\d{2})(?!\d)")
# SSDA903 XML element -> CSV column (V903 read_xml_from_text); others keep their names.
XML_903_RENAMES = {"CHILDID": "CHILD", "PL": "PLACE"}
XML_903_DATES = {"DOB", "MC_DOB", "DECOM", "DEC"}


# --------------------------------------------------------------------------- CIN census


def element_text(parent: ET.Element | None, tag: str) -> str | None:
    """Stripped text of ``parent``'s first child ``tag``; None when absent or blank."""
    if parent is None:
        return None
    found = parent.find(tag)
    if found is None or found.text is None or not found.text.strip():
        return None
    return found.text.strip()


def iso_date(value: str | None, path: Path, element: str, where: str) -> str | None:
    """Check a CIN census date (yyyy-mm-dd, a time part is dropped) and return it.

    Raises ``InputError`` naming the file, element and child (by position) when unreadable.
    """
    if value is None:
        return None
    text = value[:10] if "T" in value else value
    try:
        if not ISO_DATE.match(text):
            raise ValueError(text)
        return dt.date.fromisoformat(text).isoformat()
    except ValueError:
        raise InputError(
            f"{path}: element <{element}> of {where}: cannot read the date written "
            f"{value_shape(value)!r} (9: a digit, A: a letter); CIN census dates must be "
            "yyyy-mm-dd. Correct the return and re-export it."
        ) from None


def cin_flag(value: str | None, path: Path, element: str, where: str) -> str | None:
    """Normalise a CIN census boolean (0/1 or true/false) to "0"/"1"."""
    if value is None:
        return None
    flag = FLAGS.get(value.lower())
    if flag is None:
        raise InputError(
            f"{path}: element <{element}> of {where}: cannot read the value written "
            f"{value_shape(value)!r} (9: a digit, A: a letter) as a yes/no value; use 0/1 "
            "or true/false."
        )
    return flag


def cin_sex(identifiers: ET.Element, path: Path, where: str) -> str:
    """Sex as M/F/U from ``Sex`` (2025+) or ``GenderCurrent`` (up to 2024)."""
    for element, codes in (("Sex", SEX_CODES), ("GenderCurrent", GENDER_CURRENT)):
        value = element_text(identifiers, element)
        if value is None:
            continue
        code = codes.get(value.upper())
        if code is None:
            raise InputError(
                f"{path}: element <{element}> of {where}: unknown code written "
                f"{value_shape(value)!r} (9: a digit, A: a letter); "
                f"use one of {sorted(set(codes))}."
            )
        return code
    return "U"


def referral_key(child_id: str, referral_date: str) -> str:
    """Stable referral id (CINdetailsID) from the child id and referral date."""
    return f"{child_id}_{referral_date.replace('-', '')}"


def warn_unknown_elements(root: ET.Element, path: Path, warned: set[str]) -> None:
    """Warn once per unknown element name (its subtree is not inspected)."""
    stack = [root]
    while stack:
        node = stack.pop()
        for child in node:
            if child.tag in KNOWN_CIN_ELEMENTS:
                stack.append(child)
            elif child.tag not in warned:
                warned.add(child.tag)
                logger.warning(
                    "%s: element <%s> (inside <%s>) is not used and is ignored",
                    path,
                    child.tag,
                    node.tag,
                )


def declared_encoding(path: Path) -> str | None:
    """The encoding an XML file declares in its first line, or None."""
    with path.open("rb") as handle:
        match = XML_DECLARED_ENCODING.match(handle.read(512))
    return match.group(1).decode("ascii") if match else None


def encoding_problem(path: Path) -> str | None:
    """What is wrong when an XML file is not UTF-8 though it declares UTF-8 (or,
    the same for XML, no encoding); None otherwise."""
    declared = declared_encoding(path)
    try:
        if declared and codecs.lookup(declared).name != "utf-8":
            return None
    except LookupError:
        return None
    failure = undecodable_line(path, "utf-8-sig")
    if failure is None:
        return None
    line, byte = failure
    claim = f'declares encoding="{declared}"' if declared else "declares no encoding (so UTF-8)"
    return (
        f"line {line}: byte {byte!r} is not UTF-8, though the file {claim}; it was most "
        "likely saved as Windows-1252 (ANSI). Re-save it as UTF-8, or declare "
        'encoding="windows-1252" in its first line'
    )


def parse_xml(path: Path, what: str) -> ET.Element:
    """Parse an XML return; raise ``InputError`` naming the file, line and column
    if it is not well formed, or the line of the first byte that is not UTF-8
    when the file is not in the encoding it declares (``what`` names the kind
    of file in the advice)."""
    try:
        return ET.parse(path).getroot()
    except ET.ParseError as error:
        problem = encoding_problem(path)
        if problem:
            raise InputError(f"{path}: {problem}.") from None
        line, column = error.position
        raise InputError(
            f"{path}: not well-formed XML at line {line}, column {column} ({error.msg}); "
            f"repair or re-export the {what}."
        ) from None


def parse_cin_root(path: Path) -> ET.Element:
    """Parse one CIN census file; raise ``InputError`` naming file and line."""
    if not path.is_file():
        raise InputError(f"CIN census file {path} does not exist; check the path given.")
    if path.stat().st_size == 0:
        raise InputError(f"CIN census file {path} is empty; re-export the return.")
    root = parse_xml(path, "CIN census file")
    if root.tag != "Message" or root.find("Children") is None:
        raise InputError(
            f"{path}: root element is <{root.tag}> with no <Children>; expected a CIN "
            "census <Message> holding <Children><Child>...; give the CIN census XML file."
        )
    return root


def collection_year(root: ET.Element) -> int | None:
    """The collection year from ``Header/CollectionDetails`` (Year or ReferenceDate)."""
    details = root.find("Header/CollectionDetails")
    year = element_text(details, "Year")
    if year and year.isdigit():
        return int(year)
    reference = element_text(details, "ReferenceDate")
    if reference and reference[:4].isdigit():
        return int(reference[:4])
    return None


def flatten_cin_child(child: ET.Element, path: Path, position: int) -> dict[str, list[dict]]:
    """Flatten one ``<Child>`` into rows of the children, referrals, assessments,
    section47 and cp_plans tables."""
    identifiers = child.find("ChildIdentifiers")
    child_id = element_text(identifiers, "LAchildID")
    if child_id is None:
        raise InputError(
            f"{path}: <Child> number {position} has no <LAchildID> in <ChildIdentifiers>; "
            "every child needs its LA child id. Add it and re-export the return."
        )
    where = f"<Child> number {position}"
    characteristics = child.find("ChildCharacteristics")
    disabilities = [
        d.text.strip().upper()
        for d in child.findall("ChildCharacteristics/Disabilities/Disability")
        if d.text and d.text.strip()
    ]
    birth = iso_date(element_text(identifiers, "PersonBirthDate"), path, "PersonBirthDate", where)
    if birth is None:
        birth = iso_date(
            element_text(identifiers, "ExpectedPersonBirthDate"),
            path,
            "ExpectedPersonBirthDate",
            where,
        )
    rows: dict[str, list[dict]] = {
        "children": [
            {
                "LAchildID": child_id,
                "UPN": element_text(identifiers, "UPN"),
                "Sex": cin_sex(identifiers, path, where),
                "PersonBirthDate": birth,
                "Ethnicity": (element_text(characteristics, "Ethnicity") or "").upper() or None,
                "Disabilities": ";".join(disabilities) or None,
            }
        ],
        "referrals": [],
        "assessments": [],
        "section47": [],
        "cp_plans": [],
    }
    for number, details in enumerate(child.findall("CINdetails"), start=1):
        raw_date = element_text(details, "CINreferralDate")
        if raw_date is None:
            raise InputError(
                f"{path}: <CINdetails> number {number} of {where} has no <CINreferralDate>; "
                "every referral needs its date. Add it and re-export the return."
            )
        referral_date = iso_date(raw_date, path, "CINreferralDate", where)
        rid = referral_key(child_id, referral_date)
        at = f"{where}, referral {referral_date}"
        keys = {"LAchildID": child_id, "CINdetailsID": rid}
        rows["referrals"].append(
            {
                **keys,
                "CINreferralDate": referral_date,
                "ReferralSource": element_text(details, "ReferralSource"),
                "PrimaryNeedCode": element_text(details, "PrimaryNeedCode"),
                "ReferralNFA": cin_flag(
                    element_text(details, "ReferralNFA"), path, "ReferralNFA", at
                ),
                "CINclosureDate": iso_date(
                    element_text(details, "CINclosureDate"), path, "CINclosureDate", at
                ),
                "ReasonForClosure": element_text(details, "ReasonForClosure"),
            }
        )
        seen: dict[str, int] = {}
        for assessment in details.findall("Assessments"):
            start = iso_date(
                element_text(assessment, "AssessmentActualStartDate"),
                path,
                "AssessmentActualStartDate",
                at,
            )
            stem = f"{rid}_A{(start or 'nodate').replace('-', '')}"
            seen[stem] = seen.get(stem, 0) + 1
            factors = [
                f.text.strip().upper()
                for f in assessment.findall("FactorsIdentifiedAtAssessment/AssessmentFactors")
                if f.text and f.text.strip()
            ]
            rows["assessments"].append(
                {
                    **keys,
                    "AssessmentID": stem if seen[stem] == 1 else f"{stem}-{seen[stem]}",
                    "AssessmentActualStartDate": start,
                    "AssessmentAuthorisationDate": iso_date(
                        element_text(assessment, "AssessmentAuthorisationDate"),
                        path,
                        "AssessmentAuthorisationDate",
                        at,
                    ),
                    "AssessmentFactors": ";".join(factors) or None,
                }
            )
        enquiries = details.findall("Section47")
        referral_icpc = element_text(details, "DateOfInitialCPC")
        for enquiry in enquiries:
            icpc = element_text(enquiry, "DateOfInitialCPC")
            if icpc is None and len(enquiries) == 1:
                icpc = referral_icpc
            rows["section47"].append(
                {
                    **keys,
                    "S47ActualStartDate": iso_date(
                        element_text(enquiry, "S47ActualStartDate"), path, "S47ActualStartDate", at
                    ),
                    "DateOfInitialCPC": iso_date(icpc, path, "DateOfInitialCPC", at),
                }
            )
        for plan in details.findall("ChildProtectionPlans"):
            rows["cp_plans"].append(
                {
                    **keys,
                    "CPPstartDate": iso_date(
                        element_text(plan, "CPPstartDate"), path, "CPPstartDate", at
                    ),
                    "CPPendDate": iso_date(
                        element_text(plan, "CPPendDate"), path, "CPPendDate", at
                    ),
                    "InitialCategoryOfAbuse": element_text(plan, "InitialCategoryOfAbuse"),
                }
            )
    return rows


CIN_COLUMNS: dict[str, list[str]] = {
    "children": ["LAchildID", "UPN", "Sex", "PersonBirthDate", "Ethnicity", "Disabilities"],
    "referrals": [c for c in EXPORT_COLUMNS["referrals"]],
    "assessments": EXPORT_COLUMNS["assessments"],
    "section47": EXPORT_COLUMNS["section47"],
    "cp_plans": EXPORT_COLUMNS["cp_plans"],
}
CIN_DEDUP_KEYS: dict[str, list[str]] = {
    "children": ["LAchildID"],
    "referrals": ["CINdetailsID"],
    "assessments": ["AssessmentID"],
    "section47": ["CINdetailsID", "S47ActualStartDate"],
    "cp_plans": ["CINdetailsID", "CPPstartDate"],
}


# What must not differ between two records of one child, and how messages name it.
CHILD_FACTS = {"PersonBirthDate": "birth date", "Sex": "sex"}


def stated_facts(children: pd.DataFrame, column: str) -> pd.DataFrame:
    """The rows of ``children`` that state ``column``: a birth date given, or a
    sex other than unknown ("U", also written for an absent sex)."""
    return children.loc[children[column].notna() & children[column].ne("U")]


def check_repeated_children(children: list[dict], path: Path) -> None:
    """Refuse a child listed twice in one CIN return with different facts.

    ``children`` holds the return's children rows, one per ``<Child>`` in
    order. Raises ``InputError`` naming the file and both ``<Child>``
    positions (not the id) when one LAchildID has two birth dates or sexes,
    as merging them would silently keep one.
    """
    frame = pd.DataFrame(children, columns=CIN_COLUMNS["children"])
    for column, label in CHILD_FACTS.items():
        stated = stated_facts(frame, column)
        first = stated.reset_index().drop_duplicates("LAchildID").set_index("LAchildID")
        differs = stated[column].ne(stated["LAchildID"].map(first[column]))
        if differs.any():
            repeat = differs.idxmax()
            original = first.loc[stated.loc[repeat, "LAchildID"], "index"]
            raise InputError(
                f"{path}: <Child> number {original + 1} and <Child> number {repeat + 1} "
                f"have the same <LAchildID> but a different {label}; a child is listed "
                "once per return. Correct the child's record (or the id of one of them) "
                "and re-export the return."
            )


def count_changed_facts(children: pd.DataFrame) -> None:
    """Warn with how many children have a different birth date or sex in
    different returns (counts only; the latest return's values are kept)."""
    changed = {
        label: int(
            stated_facts(children, column).groupby("LAchildID")[column].nunique().gt(1).sum()
        )
        for column, label in CHILD_FACTS.items()
    }
    if any(changed.values()):
        logger.warning(
            "CIN census: %d child(ren) have a different birth date and %d a different sex "
            "in different returns; the latest return's values are kept. Check these "
            "children's records in the case-management system.",
            changed["birth date"],
            changed["sex"],
        )


def read_cin_census(paths: list[Path]) -> dict[str, pd.DataFrame]:
    """Read and flatten CIN census XML files of one or more collection years.

    Returns the tables children (with UPN), referrals, assessments, section47
    and cp_plans, all values strings (dates yyyy-mm-dd, NFA "0"/"1", code lists
    ";"-joined). Files are ordered by their collection year (Header Year or
    ReferenceDate, else the order given); a record found in several years (the
    same child, referral, assessment, s47 start or plan start) keeps the latest
    year's values (children whose birth date or sex changed between returns
    are counted in a warning). Raises ``InputError`` for unreadable files,
    missing LAchildID or CINreferralDate, unreadable dates or flags, and a
    child listed twice in one return with different birth dates or sexes.
    """
    warned: set[str] = set()
    parsed = []
    for position, path in enumerate(paths):
        path = Path(path)
        root = parse_cin_root(path)
        warn_unknown_elements(root, path, warned)
        parsed.append((collection_year(root), position, path, root))
    parsed.sort(key=lambda item: (item[0] if item[0] is not None else -1, item[1]))
    rows: dict[str, list[dict]] = {name: [] for name in CIN_COLUMNS}
    for order, (year, _, path, root) in enumerate(parsed):
        children = root.findall("Children/Child")
        logger.info(
            "%s: CIN census %s, %d child(ren)", path, year or "(year unknown)", len(children)
        )
        flattened = [
            flatten_cin_child(child, path, position)
            for position, child in enumerate(children, start=1)
        ]
        check_repeated_children([row for child in flattened for row in child["children"]], path)
        for child_rows in flattened:
            for name, new in child_rows.items():
                rows[name].extend({**row, "_order": order} for row in new)
    count_changed_facts(pd.DataFrame(rows["children"], columns=CIN_COLUMNS["children"]))
    tables = {}
    for name, columns in CIN_COLUMNS.items():
        frame = pd.DataFrame(rows[name], columns=[*columns, "_order"])
        before = len(frame)
        frame = (
            frame.sort_values("_order", kind="stable")
            .drop_duplicates(CIN_DEDUP_KEYS[name], keep="last")
            .drop(columns="_order")
        )
        if before > len(frame):
            logger.info(
                "CIN census %s: %d row(s) repeated across returns merged (latest kept)",
                name,
                before - len(frame),
            )
        tables[name] = frame.astype("string").reset_index(drop=True)
    return tables


# ---------------------------------------------------------------------------- SSDA903


def identify_903_table(columns: Iterable[str]) -> str | None:
    """Name of the SSDA903 table with these column names, or None.

    Names are compared upper-cased with any BOM and spaces stripped. A table
    matches when it has all its columns (or, for Header and Episodes, at least
    their core columns, as older layouts lack some); the largest match wins.
    """
    found = {c.replace("\ufeff", "").strip().upper() for c in columns}
    best, best_size = None, 0
    for name, full in SSDA903_TABLES.items():
        needed = SSDA903_CORE.get(name, full)
        if needed <= found and len(needed) > best_size:
            best, best_size = name, len(needed)
    return best


def looks_like_903_header(columns: list[str]) -> bool:
    """Whether a CSV's first row (read as ``columns``) is a header row that may
    be shown in a message.

    As in ``common.missing_columns_message``, the row must hold a known column
    name; and none of its fields may hold a digit, as no SSDA903 column name
    does while every SSDA903 record holds a date. A file without a header row
    has a child's record there (id, date of birth, UPN), which must not reach
    a log.
    """
    return bool(set(columns) & SSDA903_COLUMNS) and not any(
        character.isdigit() for column in columns for character in column
    )


def read_csv_text(path: Path, kind: str, advice: str) -> pd.DataFrame:
    """Read a CSV file of ``kind`` (UTF-8 or Windows-1252, ``text_encoding``)
    as strings. Raises ``InputError`` naming the file, with ``advice``, if it
    is not a readable CSV."""
    encoding = text_encoding(path, kind)
    try:
        return pd.read_csv(path, dtype=str, keep_default_na=False, encoding=encoding)
    except pd.errors.ParserError as error:
        raise InputError(f"{kind} file {path} is not a readable CSV ({error}); {advice}.") from None


def read_903_csv(path: Path) -> pd.DataFrame:
    """Read one SSDA903 CSV as stripped strings with upper-cased column names.

    Rows holding only separators and spaces are skipped
    (``common.without_separator_rows``).
    """
    if path.stat().st_size == 0:
        raise InputError(f"SSDA903 file {path} is empty; re-export it or leave it out.")
    frame = read_csv_text(path, "SSDA903", "re-export it as CSV")
    frame.columns = [c.replace("\ufeff", "").strip().upper() for c in frame.columns]
    frame = frame.apply(lambda column: column.str.strip()).replace("", pd.NA)
    return without_separator_rows(frame, path)


def uk_dates(values: pd.Series, path: Path, column: str) -> pd.Series:
    """Check dd/mm/yyyy dates (yyyy-mm-dd accepted) and return them as dd/mm/yyyy.

    Raises ``InputError`` naming the file, column and line of the first
    unreadable value, and how it is written (``value_shape``).
    """
    text = values.astype("string")
    uk = pd.to_datetime(
        text.where(text.str.match(UK_DATE.pattern)), format="%d/%m/%Y", errors="coerce"
    )
    iso = pd.to_datetime(
        text.where(text.str.match(ISO_DATE.pattern)), format="%Y-%m-%d", errors="coerce"
    )
    parsed = uk.fillna(iso)
    bad = text.notna() & parsed.isna()
    if bad.any():
        raise InputError(
            f"{path}: column {column}, {first_row(path, bad)}: cannot read the date "
            f"written {value_shape(text.loc[bad.idxmax()])!r} (9: a digit, A: a letter); "
            "SSDA903 dates must be dd/mm/yyyy."
        )
    return parsed.dt.strftime("%d/%m/%Y").astype("string")


def ssda903_folder_files(directory: Path) -> list[Path]:
    """The files of an SSDA903 return folder that are read: its ``.csv`` and
    ``.xml`` files, sorted. The workflow lists them as the conversion's inputs."""
    return sorted(
        p for p in Path(directory).iterdir() if p.is_file() and p.suffix.lower() in (".csv", ".xml")
    )


def expand_903_paths(paths: list[Path]) -> list[tuple[Path, list[Path]]]:
    """Group SSDA903 inputs into returns: a directory is one return (its
    ``*.csv`` files, or its one ``*.xml`` file), loose CSV files are grouped by
    their parent directory, and a loose XML file is a return of its own.

    Groups are ordered oldest first: by a year (20xx) in their path when every
    group has one, else in the order given. Raises ``InputError`` naming both
    files when one return is given both as CSV and as XML.
    """
    groups: dict[Path, list[Path]] = {}
    for path in map(Path, paths):
        if path.is_dir():
            files = ssda903_folder_files(path)
            if not files:
                raise InputError(
                    f"SSDA903 directory {path} holds no .csv or .xml files; give the return."
                )
            xml = [p for p in files if p.suffix.lower() == ".xml"]
            csv = [p for p in files if p.suffix.lower() == ".csv"]
            if xml and csv:
                raise_csv_and_xml(csv[0], xml[0])
            if len(xml) > 1:
                raise InputError(
                    f"SSDA903 directory {path} holds several XML files ({xml[0].name}, "
                    f"{xml[1].name}); give one return per directory."
                )
            groups.setdefault(xml[0] if xml else path, []).extend(xml or csv)
        elif path.is_file():
            is_xml = path.suffix.lower() == ".xml"
            groups.setdefault(path if is_xml else path.parent, []).append(path)
        else:
            raise InputError(f"SSDA903 input {path} does not exist; check the path given.")
    check_one_form_per_return(groups)
    years = {group: YEAR_IN_PATH.findall(str(group)) for group in groups}
    ordered = list(groups.items())
    if len(ordered) > 1 and all(years.values()):
        ordered.sort(key=lambda item: int(years[item[0]][-1]))
    elif len(ordered) > 1:
        logger.info("SSDA903: no year in every input path; returns taken oldest first as given")
    return ordered


def raise_csv_and_xml(csv: Path, xml: Path) -> None:
    """Refuse a return given both as CSV tables and as XML (as V903 does)."""
    raise InputError(
        f"SSDA903 return given twice: as CSV ({csv}) and as XML ({xml}); give each "
        "year's return once, either as its CSV tables or as its XML file."
    )


def check_one_form_per_return(groups: dict[Path, list[Path]]) -> None:
    """Raise ``InputError`` when an XML return shares its folder or its year (in
    the path) with a CSV return."""
    csv_groups = {key: files for key, files in groups.items() if files[0].suffix.lower() == ".csv"}
    for key, files in groups.items():
        if files[0].suffix.lower() != ".xml":
            continue
        year = YEAR_IN_PATH.findall(str(key))
        for csv_key, csv_files in csv_groups.items():
            csv_year = YEAR_IN_PATH.findall(str(csv_key))
            same_year = bool(year) and bool(csv_year) and year[-1] == csv_year[-1]
            if key.parent == csv_key or same_year:
                raise_csv_and_xml(csv_files[0], files[0])


def xml_903_date(value: str | None, path: Path, element: str, where: str) -> str | None:
    """An SSDA903 XML date (yyyy-mm-dd or dd/mm/yyyy) as dd/mm/yyyy.

    Raises ``InputError`` naming the file, element and child (by position) when unreadable.
    """
    if value is None:
        return None
    for pattern, form in ((ISO_DATE, "%Y-%m-%d"), (UK_DATE, "%d/%m/%Y")):
        if pattern.match(value[:10]):
            try:
                return dt.datetime.strptime(value[:10], form).strftime("%d/%m/%Y")
            except ValueError:
                break
    raise InputError(
        f"{path}: element <{element}> of {where}: cannot read the date written "
        f"{value_shape(value)!r} (9: a digit, A: a letter); SSDA903 dates must be "
        "yyyy-mm-dd or dd/mm/yyyy. Correct the return and re-export it."
    )


def xml_903_fields(element: ET.Element, path: Path, where: str) -> dict[str, str | None]:
    """The leaf children of a HEADER or EPISODE as CSV columns, dates as dd/mm/yyyy."""
    row = {}
    for child in element:
        if len(child):
            continue  # repeating blocks (AREVIEW, AMISSING, OC2, ...) are not used
        name = XML_903_RENAMES.get(child.tag.upper(), child.tag.upper())
        text = child.text.strip() if child.text and child.text.strip() else None
        row[name] = xml_903_date(text, path, child.tag, where) if name in XML_903_DATES else text
    return row


def read_903_xml(path: Path) -> dict[str, tuple[Path, pd.DataFrame]]:
    """Read one SSDA903 XML return into Header and Episodes tables shaped like
    the CSV ones. Raises ``InputError`` naming the file, the line (for XML that
    is not well formed) or the child (by position) and element."""
    if path.stat().st_size == 0:
        raise InputError(f"SSDA903 file {path} is empty; re-export it or leave it out.")
    root = parse_xml(path, "SSDA903 XML file")
    if root.tag != "EXPSSDA903":
        raise InputError(
            f"{path}: root element is <{root.tag}>; an SSDA903 XML return has root "
            "<EXPSSDA903> holding <CHILD> elements. Give the SSDA903 XML or CSV return."
        )
    headers, episodes = [], []
    for number, child in enumerate(root.findall("CHILD"), start=1):
        header = child.find("HEADER")
        child_id = element_text(header, "CHILDID")
        if child_id is None:
            raise InputError(
                f"{path}: <CHILD> number {number} has no <HEADER><CHILDID>; every child "
                "needs its id. Add it and re-export the return."
            )
        where = f"<CHILD> number {number}"
        headers.append(xml_903_fields(header, path, where))
        for episode in child.findall("EPISODE"):
            row = xml_903_fields(episode, path, where)
            if row.get("DECOM") is None:
                raise InputError(
                    f"{path}: an <EPISODE> of {where} has no <DECOM>; every episode needs "
                    "its start date. Add it and re-export the return."
                )
            episodes.append({"CHILD": child_id, **row})
    logger.info("%s: SSDA903 XML, %d child(ren), %d episode(s)", path, len(headers), len(episodes))
    tables = {}
    for name, rows in (("Header", headers), ("Episodes", episodes)):
        frame = pd.DataFrame(rows, columns=sorted(SSDA903_TABLES[name]))
        tables[name] = (path, frame.astype("string"))
    return tables


def wrong_separator(header: str) -> str | None:
    """The separator (``common.wrong_separators``) of a CSV whose first line
    ``header``, split on it, holds a known SSDA903 column name; else None.
    Judged on the first line alone, because values holding commas make the
    rest of such a file unreadable as CSV."""
    return next(
        (
            separator
            for separator in wrong_separators(header)
            if {field.strip() for field in header.split(separator)} & SSDA903_COLUMNS
        ),
        None,
    )


def warn_unrecognised(path: Path, columns: list[str], separator: str | None) -> None:
    """Log that the CSV ``path`` is no SSDA903 table and is ignored, listing
    its first row only when it is a header row (``looks_like_903_header``)."""
    if separator is not None:
        logger.warning(
            "%s: columns separated by %r, not by commas, and no SSDA903 table that is "
            "used; file ignored",
            path,
            separator,
        )
    elif looks_like_903_header(columns):
        logger.warning("%s: columns %s match no SSDA903 table; file ignored", path, columns)
    else:
        logger.warning(
            "%s: matches no SSDA903 table and seems to have no header row (its first row "
            "of %d field(s) is not shown as it may be data); file ignored. If it is a "
            "table of the return, re-export it with column headings.",
            path,
            len(columns),
        )


def missing_tables_message(
    directory: Path,
    files: list[Path],
    found: dict[str, tuple[Path, pd.DataFrame]],
    unrecognised: dict[Path, set[str]],
    missing: list[str],
) -> str:
    """What to tell the user when the return in ``directory`` lacks the
    ``missing`` tables: for each, the unrecognised file holding most (over
    half) of its core columns and the columns that file lacks, else that its
    CSV is missing. Only SSDA903 column names are shown, never a file's own
    first row, which may be data."""
    problems = []
    for table in missing:
        core = SSDA903_CORE[table]
        closest = max(unrecognised, key=lambda path: len(core & unrecognised[path]), default=None)
        if closest is not None and 2 * len(core & unrecognised[closest]) > len(core):
            problems.append(
                f"no {table} table: {closest.name} comes closest but lacks column(s) "
                f"{sorted(core - unrecognised[closest])}; give its columns their SSDA903 "
                "names (or re-export it)"
            )
        else:
            problems.append(
                f"no {table} table (columns {', '.join(sorted(core))}) found; add the "
                "missing table's CSV"
            )
    recognised = {path.name: name for name, (path, _) in found.items()}
    return (
        f"SSDA903 return in {directory}: {'; '.join(problems)}. Its files: "
        f"{[path.name for path in files]} (recognised: {recognised or 'none'}; unrecognised: "
        f"{[path.name for path in unrecognised] or 'none'}); tables are recognised by their "
        "column names."
    )


def read_903_return(directory: Path, files: list[Path]) -> dict[str, tuple[Path, pd.DataFrame]]:
    """Read one SSDA903 return's CSVs and recognise Header and Episodes.

    Raises ``InputError`` when one of them is missing (naming the file that
    comes closest and the columns it lacks), is given twice, or is separated
    by something other than commas.
    """
    found: dict[str, tuple[Path, pd.DataFrame]] = {}
    unrecognised: dict[Path, set[str]] = {}
    for path in files:
        header = header_line(path).upper()
        separator = wrong_separator(header)
        if separator is not None:
            if identify_903_table(header.split(separator)) in SSDA903_CORE:
                raise InputError(
                    f"{path}: its columns are separated by {separator!r}, not by commas; "
                    "export it as comma-separated CSV (in Excel: CSV (Comma delimited))."
                )
            unrecognised[path] = {header}
            warn_unrecognised(path, [header], separator)
            continue
        frame = read_903_csv(path)
        columns = list(frame.columns)
        name = identify_903_table(columns)
        if name is None:
            unrecognised[path] = set(columns)
            warn_unrecognised(path, columns, None)
            continue
        if name in found:
            raise InputError(
                f"{path}: a second {name} table in {directory} (the first is "
                f"{found[name][0].name}); give each return's tables once, one directory per year."
            )
        if name not in SSDA903_CORE:
            logger.info("%s: SSDA903 %s table is not used; ignored", path, name)
            continue
        extra = set(columns) - SSDA903_TABLES[name]
        if extra:
            logger.warning("%s: extra column(s) %s ignored", path, sorted(extra))
        found[name] = (path, frame)
    missing = [name for name in SSDA903_CORE if name not in found]
    if missing:
        raise InputError(missing_tables_message(directory, files, found, unrecognised, missing))
    return found


def read_ssda903(paths: list[Path]) -> dict[str, pd.DataFrame]:
    """Read SSDA903 returns (directories or files, CSV or XML) of one or more years.

    CSV tables are recognised by their header set (case-insensitive, BOM
    stripped); Header and Episodes are required per return and other tables
    are ignored; an XML return gives the same two tables.
    Returns ``header`` (CHILD, SEX as M/F/U, DOB, ETHNIC, UPN; latest return
    per CHILD) and ``episodes`` (CHILD, DECOM, RNE, LS, CIN, PLACE, DEC, REC;
    dates dd/mm/yyyy), de-duplicated on CHILD + DECOM keeping the latest
    return's row.
    """
    headers, episodes = [], []
    for order, (directory, files) in enumerate(expand_903_paths(paths)):
        is_xml = files[0].suffix.lower() == ".xml"
        found = read_903_xml(files[0]) if is_xml else read_903_return(directory, files)
        header_path, header = found["Header"]
        episode_path, episode = found["Episodes"]
        for path, frame, dates in (
            (header_path, header, ["DOB"]),
            (episode_path, episode, ["DECOM", "DEC"]),
        ):
            missing_child = frame["CHILD"].isna()
            if missing_child.any():
                raise InputError(
                    f"{path}: column CHILD, {first_row(path, missing_child)}: child id is "
                    "missing; fill it in or remove the row."
                )
            for column in dates:
                frame[column] = uk_dates(frame[column], path, column)
        missing_start = episode["DECOM"].isna()
        if missing_start.any():
            raise InputError(
                f"{episode_path}: column DECOM, {first_row(episode_path, missing_start)}: "
                "episode start date is missing; fill it in."
            )
        without_episode = int((~header["CHILD"].isin(set(episode["CHILD"]))).sum())
        if without_episode:
            logger.warning(
                "SSDA903 return %s: %d of %d looked-after child(ren) in the header have no "
                "episode in %s; check that the Episodes table is complete",
                directory,
                without_episode,
                len(header),
                episode_path.name,
            )
        sex = header["SEX"].str.upper()
        header["SEX"] = sex.map(SEX_CODES).fillna("U")
        logger.info(
            "SSDA903 return %s: %d header row(s), %d episode(s)",
            directory,
            len(header),
            len(episode),
        )
        headers.append(header[HEADER_OUT].assign(_order=order))
        episodes.append(episode[EXPORT_COLUMNS["episodes"]].assign(_order=order))
    header = pd.concat(headers, ignore_index=True).drop_duplicates("CHILD", keep="last")
    episode = pd.concat(episodes, ignore_index=True)
    before = len(episode)
    episode = episode.drop_duplicates(["CHILD", "DECOM"], keep="last")
    logger.info(
        "SSDA903: %d episode(s) read, %d after de-duplication on CHILD + DECOM",
        before,
        len(episode),
    )
    return {
        "header": header.drop(columns="_order").astype("string").reset_index(drop=True),
        "episodes": episode.drop(columns="_order").astype("string").reset_index(drop=True),
    }


# ---------------------------------------------------------------------- linking


def uk_to_iso(values: pd.Series) -> pd.Series:
    """dd/mm/yyyy strings to yyyy-mm-dd strings (missing stays missing)."""
    parsed = pd.to_datetime(values, format="%d/%m/%Y", errors="coerce")
    return parsed.dt.strftime("%Y-%m-%d").astype("string")


def link_records(
    cin: dict[str, pd.DataFrame], ssda903: dict[str, pd.DataFrame]
) -> dict[str, pd.DataFrame]:
    """Link SSDA903 children to CIN children and build the combined tables.

    A 903 CHILD is the CIN child with the same LAchildID, else the CIN child
    with the same UPN (when exactly one has it); episodes are then relabelled
    with the CIN LAchildID. Children only in the 903 return are added to
    children with their header data; episodes whose CHILD is in no header are
    dropped. Returns the CIN tables with ``episodes`` and ``unlinked`` (one
    row per 903 child or episode not linked to a CIN child, with the action
    taken).
    """
    children = cin["children"].copy()
    header = ssda903["header"].copy()
    episodes = ssda903["episodes"].copy()
    cin_ids = set(children["LAchildID"].dropna())
    upns = children.dropna(subset=["UPN"])
    upn_counts = upns["UPN"].str.upper().value_counts()
    by_upn = {
        upn.upper(): child
        for upn, child in zip(upns["UPN"], upns["LAchildID"], strict=True)
        if upn_counts[upn.upper()] == 1
    }
    by_id = header["CHILD"].isin(cin_ids)
    upn_match = header["UPN"].str.upper().map(by_upn).astype("string")
    by_upn_mask = ~by_id & upn_match.notna()
    mapping = dict(zip(header["CHILD"], header["CHILD"], strict=True))
    mapping.update(zip(header.loc[by_upn_mask, "CHILD"], upn_match[by_upn_mask], strict=True))
    only_903 = header.loc[~by_id & ~by_upn_mask]

    # Fill missing CIN fields (birth date, ethnicity) from the linked header.
    linked = header.loc[by_id | by_upn_mask].assign(
        LAchildID=lambda f: f["CHILD"].map(mapping).astype("string")
    )
    fill = linked.drop_duplicates("LAchildID").set_index("LAchildID")
    indexed = children.set_index("LAchildID")
    for column, source in (("PersonBirthDate", "DOB"), ("Ethnicity", "ETHNIC")):
        values = uk_to_iso(fill[source]) if source == "DOB" else fill[source]
        indexed[column] = indexed[column].fillna(values.reindex(indexed.index))
    children = indexed.reset_index()

    added = pd.DataFrame(
        {
            "LAchildID": only_903["CHILD"],
            "UPN": only_903["UPN"],
            "Sex": only_903["SEX"],
            "PersonBirthDate": uk_to_iso(only_903["DOB"]),
            "Ethnicity": only_903["ETHNIC"],
            "Disabilities": pd.NA,
        }
    )
    children = pd.concat([children, added], ignore_index=True).astype("string")

    orphan = ~episodes["CHILD"].isin(set(mapping))
    episodes["CHILD"] = episodes["CHILD"].map(mapping).astype("string")
    unlinked = pd.concat(
        [
            pd.DataFrame(
                {
                    "source": "ssda903_header",
                    "CHILD": only_903["CHILD"],
                    "UPN": only_903["UPN"],
                    "DECOM": pd.NA,
                    "reason": "no CIN child with this LAchildID or UPN",
                    "action": "added to children from the SSDA903 header",
                }
            ),
            pd.DataFrame(
                {
                    "source": "ssda903_episodes",
                    "CHILD": ssda903["episodes"].loc[orphan, "CHILD"],
                    "UPN": pd.NA,
                    "DECOM": ssda903["episodes"].loc[orphan, "DECOM"],
                    "reason": "CHILD is in no SSDA903 header",
                    "action": "episode dropped",
                }
            ),
        ],
        ignore_index=True,
    ).astype("string")
    logger.info(
        "linking: %d SSDA903 child(ren) linked by id, %d by UPN, %d only in SSDA903 "
        "(added to children); %d CIN child(ren) never looked after; %d episode(s) "
        "without a header dropped",
        int(by_id.sum()),
        int(by_upn_mask.sum()),
        len(only_903),
        len(cin_ids - set(mapping.values())),
        int(orphan.sum()),
    )
    return {
        **cin,
        "children": children,
        "episodes": episodes.loc[~orphan].reset_index(drop=True),
        "unlinked": unlinked[UNLINKED_COLUMNS],
    }


def read_families(path: Path) -> pd.DataFrame:
    """Read the LA's child -> family CSV (columns LAchildID or CHILD, and FamilyID).

    Read as UTF-8 or Windows-1252 (``text_encoding``). Raises ``InputError``
    naming the file for an unreadable CSV, missing columns, missing values and
    children given two families.
    """
    if not path.is_file() or path.stat().st_size == 0:
        raise InputError(f"families file {path} is missing or empty; give a CSV of child ids.")
    frame = read_csv_text(path, "families", "save it as a CSV with columns LAchildID,FamilyID")
    by_folded = {c.strip().casefold(): c for c in frame.columns}
    child = next((by_folded[c] for c in ("lachildid", "child", "child_id") if c in by_folded), None)
    family = next((by_folded[c] for c in ("familyid", "family_id") if c in by_folded), None)
    if child is None or family is None:
        # The names are not listed: a file without a header row would show data.
        raise InputError(
            f"families file {path}: its header row of {len(frame.columns)} field(s) lacks "
            "LAchildID (or CHILD) and/or FamilyID; give a CSV with columns "
            "LAchildID,FamilyID and a header row."
        )
    out = pd.DataFrame(
        {"LAchildID": frame[child].str.strip(), "FamilyID": frame[family].str.strip()}
    ).replace("", pd.NA)
    blank = out.isna().any(axis=1)
    if blank.any():
        row = int(blank.to_numpy().nonzero()[0][0])
        raise InputError(
            f"families file {path}: {row_location(path, row)}: LAchildID or FamilyID is "
            "missing; fill it in."
        )
    conflict = out.drop_duplicates().duplicated("LAchildID", keep=False)
    if conflict.any():
        child_id = out.drop_duplicates().loc[conflict, "LAchildID"].iloc[0]
        rows = out.loc[out["LAchildID"] == child_id, "FamilyID"]
        other = int((rows != rows.iloc[0]).idxmax())
        raise InputError(
            f"families file {path}: {row_location(path, int(rows.index[0]))} and "
            f"{row_location(path, other)} give one child different FamilyIDs; keep one."
        )
    return out.drop_duplicates().astype("string").reset_index(drop=True)


def assign_families(children: pd.DataFrame, families_path: Path | None) -> pd.DataFrame:
    """Add FamilyID to children from the families file at ``families_path``; a
    child without one is its own family.

    Raises ``InputError`` when the file links fewer than half of the children
    (its ids are then most likely not the returns' ids, and siblings would
    straddle the data splits unnoticed); otherwise warns with counts of the
    children it does not list and of its rows that match no child.
    """
    out = children.copy()
    if families_path is None:
        logger.warning(
            "no families file: each child is its own family, so siblings cannot be kept "
            "together in data splits; if you can, set statutory.families in the LA's "
            "config (--families when running this script on its own) to a CSV of "
            "LAchildID,FamilyID"
        )
        out["FamilyID"] = out["LAchildID"]
        return out
    families = read_families(Path(families_path))
    mapped = out["LAchildID"].map(
        dict(zip(families["LAchildID"], families["FamilyID"], strict=True))
    )
    linked = int(mapped.notna().sum())
    missing = len(out) - linked
    unmatched = int((~families["LAchildID"].isin(set(out["LAchildID"]))).sum())
    counts = (
        f"{missing} of {len(out)} child(ren) not listed; {unmatched} of its "
        f"{len(families)} row(s) match no child"
    )
    if 2 * linked < len(out):
        raise InputError(
            f"families file {families_path}: only {linked} of {len(out)} child(ren) are "
            f"listed in it ({counts}), so siblings would not be kept together in the data "
            "splits. Check that its LAchildID (or CHILD) column holds the returns' child "
            "ids (LAchildID, not UPN or another id), that Excel has not stripped their "
            "leading zeros (format the column as text), and that the ids are not "
            "pseudonymised with another key."
        )
    if missing or unmatched:
        logger.warning(
            "families file %s: %s; a child not listed is its own family",
            families_path,
            counts,
        )
    out["FamilyID"] = mapped.fillna(out["LAchildID"]).astype("string")
    return out


# ---------------------------------------------------------------------- writing


def sort_key(column: pd.Series) -> pd.Series:
    """Sort dd/mm/yyyy columns chronologically, others as text."""
    if column.name in {"DECOM", "DEC"}:
        return pd.to_datetime(column, format="%d/%m/%Y", errors="coerce")
    return column


def write_csv_atomic(frame: pd.DataFrame, path: Path) -> None:
    """Write ``frame`` to ``path`` via a temporary file and a rename."""
    tmp = path.with_name(f".{path.name}.tmp")
    frame.to_csv(tmp, index=False, lineterminator="\n", encoding="utf-8")
    os.replace(tmp, path)


def write_exports(tables: dict[str, pd.DataFrame], out_dir: Path) -> None:
    """Write the raw export CSVs (and unlinked_records.csv if given) to ``out_dir``.

    Columns are exactly those of ``config/config.yaml`` data.tables, rows are
    sorted, line endings are ``\\n`` and each file appears only when complete.
    """
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    outputs = {name: (EXPORT_FILES[name], columns) for name, columns in EXPORT_COLUMNS.items()}
    if "unlinked" in tables:
        outputs["unlinked"] = ("unlinked_records.csv", UNLINKED_COLUMNS)
    for name, (filename, columns) in outputs.items():
        frame = tables[name].reindex(columns=columns)
        frame = frame.sort_values(SORT_KEYS[name], key=sort_key, kind="stable")
        write_csv_atomic(frame, out_dir / filename)
        logger.info("%s: wrote %d row(s)", out_dir / filename, len(frame))


def convert(
    cin_paths: list[Path],
    ssda903_paths: list[Path],
    families_path: Path | None,
    out_dir: Path,
) -> dict[str, pd.DataFrame]:
    """Convert the returns and write the exports; return the written tables."""
    if not cin_paths:
        raise InputError("no CIN census file given; pass at least one CIN census XML file.")
    cin = read_cin_census(cin_paths)
    if cin["children"].empty:
        raise InputError(
            f"CIN census file(s) {', '.join(map(str, cin_paths))} hold no <Child> under "
            "<Children>, so there is no child or referral to study; give the CIN census "
            "returns with their children (statutory.cin in your config)."
        )
    if ssda903_paths:
        ssda903 = read_ssda903(ssda903_paths)
    else:
        logger.warning("no SSDA903 return given: episodes.csv will be empty")
        ssda903 = {
            "header": pd.DataFrame(columns=HEADER_OUT, dtype="string"),
            "episodes": pd.DataFrame(columns=EXPORT_COLUMNS["episodes"], dtype="string"),
        }
    tables = link_records(cin, ssda903)
    tables["children"] = assign_families(tables["children"], families_path)
    missing_birth = int(tables["children"]["PersonBirthDate"].isna().sum())
    if missing_birth:
        logger.warning("%d child(ren) have no birth date in either return", missing_birth)
    write_exports(tables, Path(out_dir))
    return tables


def main(snakemake) -> None:
    """Convert the rule's returns into the raw exports."""
    families = getattr(snakemake.input, "families", None)
    convert(
        [Path(p) for p in snakemake.input.cin],
        [Path(p) for p in snakemake.params.ssda903],
        Path(families) if families else None,
        Path(snakemake.params.directory),
    )


def cli(argv: list[str] | None = None) -> None:
    """Command-line entry point."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--cin", nargs="+", type=Path, required=True, help="CIN census XML files")
    parser.add_argument(
        "--ssda903",
        nargs="*",
        type=Path,
        default=[],
        help="SSDA903 returns: directories, CSV or XML files",
    )
    parser.add_argument("--families", type=Path, help="CSV with columns LAchildID,FamilyID")
    parser.add_argument("--out", type=Path, required=True, help="output directory")
    parser.add_argument("--log", help="log file (also logs to stderr)")
    args = parser.parse_args(argv)
    from common import run

    run(lambda: convert(args.cin, args.ssda903, args.families, args.out), args.log)


if __name__ == "__main__":
    if "snakemake" in globals():  # run as a Snakemake rule
        from common import run

        run(lambda: main(snakemake), snakemake.log[0])  # noqa: F821
    else:
        cli()
