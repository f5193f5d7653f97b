"""Ingestion of structured exports: mapping, pseudonymisation and clear errors."""

import io
import json
import logging
from pathlib import Path
from types import SimpleNamespace

import pandas as pd
import pytest
from build_structured_features import listed_or_other

import ingest_notes
import ingest_records as ir
from assess_fairness import ethnicity_group, sex_group
from common import (
    MIN_CHILDREN_SHOWN_VALUE,
    InputError,
    key_fingerprint,
    parse_dates,
    pseudonymise,
    read_mapped_csv,
    read_parquet,
    resolve_key,
)

KEY = b"test-key"
ROOT = Path(__file__).resolve().parents[1]
EXTERNAL = ROOT / "tests" / "data" / "external_samples"
CODE_LISTS = ir.load_code_lists(ROOT / "resources" / "code_lists.yaml")
RUN_DATE = pd.Timestamp("2026-11-23")
MAPPINGS = {
    "children": {
        "child_id": "LAchildID",
        "family_id": "FamilyID",
        "sex": "Sex",
        "date_of_birth": "PersonBirthDate",
        "ethnicity": "Ethnicity",
        "disabilities": "Disabilities",
    },
    "referrals": {
        "referral_id": "CINdetailsID",
        "child_id": "LAchildID",
        "referral_date": "CINreferralDate",
        "referral_source": "ReferralSource",
        "primary_need": "PrimaryNeedCode",
        "nfa": "ReferralNFA",
        "closure_date": "CINclosureDate",
        "closure_reason": "ReasonForClosure",
    },
    "assessments": {
        "assessment_id": "AssessmentID",
        "referral_id": "CINdetailsID",
        "child_id": "LAchildID",
        "start_date": "AssessmentActualStartDate",
        "authorisation_date": "AssessmentAuthorisationDate",
        "factors": "AssessmentFactors",
    },
    "section47": {
        "referral_id": "CINdetailsID",
        "child_id": "LAchildID",
        "start_date": "S47ActualStartDate",
        "icpc_date": "DateOfInitialCPC",
    },
    "cp_plans": {
        "referral_id": "CINdetailsID",
        "child_id": "LAchildID",
        "start_date": "CPPstartDate",
        "end_date": "CPPendDate",
        "category": "InitialCategoryOfAbuse",
    },
    "care_episodes": {
        "child_id": "CHILD",
        "start_date": "DECOM",
        "end_date": "DEC",
        "legal_status": "LS",
        "placement": "PLACE",
    },
}
RAW = {
    "children": "LAchildID,FamilyID,Sex,PersonBirthDate,Ethnicity,Disabilities\n"
    "C1,F1,F,2010-05-14,WBRI,NONE\nC2,F1,M,2012-01-20,WBRI,LD;AUT\n",
    "referrals": "LAchildID,CINdetailsID,CINreferralDate,ReferralSource,PrimaryNeedCode,"
    "ReferralNFA,CINclosureDate,ReasonForClosure\n"
    "C1,R1,2016-01-10,6,N1,1,2016-01-20,RC8\nC1,R2,2016-06-01,2A,N1,0,,\n"
    "C2,R3,01/03/2016,6,N4,false,01/09/2016,RC7\n",
    "assessments": "LAchildID,CINdetailsID,AssessmentID,AssessmentActualStartDate,"
    "AssessmentAuthorisationDate,AssessmentFactors\nC1,R1,A1,2016-01-11,2016-01-15,3B;4b\n",
    "section47": "LAchildID,CINdetailsID,S47ActualStartDate,DateOfInitialCPC\nC1,R2,2016-06-05,\n",
    "cp_plans": "LAchildID,CINdetailsID,CPPstartDate,CPPendDate,InitialCategoryOfAbuse\n"
    "C1,R2,2016-07-01,,NEG\n",
    "care_episodes": "CHILD,DECOM,RNE,LS,CIN,PLACE,DEC,REC\nC2,05/05/2017,S,C2,N1,U1,,\n",
}


def ingest(paths: dict[str, Path], key: bytes = KEY) -> dict[str, pd.DataFrame]:
    """The canonical tables ingested from ``paths`` with the bundled code lists."""
    return ir.ingest(paths, MAPPINGS, key, ";", CODE_LISTS, RUN_DATE)[0]


def write_raw(directory: Path, overrides: dict[str, str] | None = None) -> dict[str, Path]:
    paths = {}
    for table, text in {**RAW, **(overrides or {})}.items():
        path = directory / f"{table}.csv"
        path.write_text(text, encoding="utf-8")
        paths[table] = path
    return paths


def test_ingest_pseudonymises_and_links(tmp_path):
    tables = ingest(write_raw(tmp_path))
    children = tables["children"]
    assert not set(children["child_id"]) & {"C1", "C2"}
    assert children["child_id"].str.fullmatch(r"[0-9a-f]{16}").all()
    assert children["family_id"].nunique() == 1
    assert set(tables["referrals"]["child_id"]) == set(children["child_id"])
    assert children.set_index("sex")["disability"].to_dict() == {"F": False, "M": True}
    assert str(children["birth_month"].min().date()) == "2010-05-01"
    referrals = tables["referrals"].set_index(tables["referrals"]["closure_reason"].fillna("open"))
    assert referrals["nfa"].to_dict() == {"RC8": True, "open": False, "RC7": False}
    assert tables["assessments"]["factors"].iloc[0] == ["3B", "4B"]
    assert str(tables["care_episodes"]["start_date"].iloc[0].date()) == "2017-05-05"


def test_same_key_same_pseudonyms_other_key_other_pseudonyms(tmp_path):
    paths = write_raw(tmp_path)
    first = ingest(paths)["children"]["child_id"]
    again = ingest(paths)["children"]["child_id"]
    other = ingest(paths, b"another")["children"]["child_id"]
    assert first.tolist() == again.tolist()
    assert not set(first) & set(other)


@pytest.mark.parametrize(
    ("table", "text", "message"),
    [
        ("children", "", "is empty"),
        ("children", "LAchildID,FamilyID\nC1,F1\n", r"lacks column\(s\) \['Sex'"),
        (
            "referrals",
            RAW["referrals"].replace("2016-06-01", "31/02/2016"),
            r"'CINreferralDate' \(referrals.referral_date\), line 3: .*written '99/99/9999'",
        ),
        ("referrals", RAW["referrals"].replace("2016-06-01", "June 2016"), "line 3"),
        (
            "referrals",
            RAW["referrals"].replace(",0,,", ",Jayden Smith 12/03/2009,,"),
            "cannot read the flag written 'AAAAAA AAAAA 99/99/9999'",
        ),
        ("referrals", RAW["referrals"].replace("R2", "R1"), "line 3.*more than once"),
        ("children", RAW["children"].replace("C2,F1", "C1,F1"), "line 3.*more than once"),
        ("referrals", RAW["referrals"].replace("C1,R2,2016-06-01", "C1,R2,"), "line 3.*missing"),
        ("children", RAW["children"].replace("C2,F1", ",F1"), "line 3.*missing"),
    ],
)
def test_bad_input_names_file_column_and_line(tmp_path, table, text, message):
    paths = write_raw(tmp_path, {table: text})
    assert_fails_cleanly(tmp_path, paths, message, paths[table])


def test_missing_file_is_a_clear_error(tmp_path):
    paths = write_raw(tmp_path)
    paths["cp_plans"].unlink()
    message = r"cp_plans.*does not exist.*data.tables.cp_plans"
    assert_fails_cleanly(tmp_path, paths, message, paths["cp_plans"])


def assert_fails_cleanly(tmp_path: Path, paths: dict[str, Path], message: str, named: Path):
    """Running the scripts stops with an ``InputError`` matching ``message`` that
    names the file ``named``, and the failing script leaves no output behind
    (the notes are checked after the structured tables are written)."""
    with pytest.raises(InputError, match=message) as error:
        run_main(tmp_path, paths)
    assert str(named) in str(error.value)
    if "notes" in paths and named == paths["notes"]:
        assert not (tmp_path / "results" / "notes_qa.parquet").exists()
    else:
        assert not (tmp_path / "results").exists()


def test_unlinked_and_reversed_rows_are_dropped_with_a_warning(tmp_path, caplog):
    referrals = (
        RAW["referrals"] + "C9,R9,2016-02-01,6,N1,0,,\nC2,R4,2016-05-01,6,N1,0,2016-04-01,RC7\n"
    )
    tables, qa = ir.ingest(
        write_raw(tmp_path, {"referrals": referrals}), MAPPINGS, KEY, ";", CODE_LISTS, RUN_DATE
    )
    assert len(tables["referrals"]) == 3
    assert "child_id not in the children table (first at line 5)" in caplog.text
    assert "closure_date before referral_date (first at line 6)" in caplog.text
    rejected = qa.loc[(qa["table"] == "referrals") & (qa["measure"] == "rows_rejected")]
    assert rejected["count"].tolist() == [1, 1]
    rows = qa.loc[qa["measure"].isin(["rows_read", "rows_kept"]) & (qa["table"] == "referrals")]
    assert rows["count"].tolist() == [5, 3]


def test_windows_1252_and_bom_are_read(tmp_path):
    path = tmp_path / "children.csv"
    path.write_bytes("\ufeff".encode() + RAW["children"].encode("utf-8"))
    assert len(read_mapped_csv(path, MAPPINGS["children"], "children")) == 2
    path.write_bytes(RAW["children"].replace("WBRI", "WBRI café").encode("cp1252"))
    assert read_mapped_csv(path, MAPPINGS["children"], "children")["ethnicity"][0] == "WBRI café"


@pytest.mark.parametrize("suffix", [".csv", ".xlsx"])
def test_export_without_header_row_keeps_its_first_record_out_of_the_message(tmp_path, suffix):
    record = ["N1", "C1", "2016-01-11", "Visit to Jayden Smith", "Jayden Smith, 07700 900123"]
    path = tmp_path / f"notes{suffix}"
    frame = pd.DataFrame([record, ["N2", "C2", "2016-01-12", "Visit", "Short"]])
    if suffix == ".csv":
        frame.to_csv(path, index=False, header=False)
    else:
        frame.to_excel(path, index=False, header=False)
    with pytest.raises(InputError) as error:
        read_mapped_csv(path, NOTES_MAPPING, "notes")
    message = str(error.value)
    assert "none of the expected columns" in message and "5 field(s)" in message
    assert "lack its header row" in message and "data.tables.notes.columns" in message
    assert not [value for value in record if value in message]
    assert "Jayden" not in message and "07700" not in message


def test_export_separated_by_semicolons_says_so(tmp_path):
    path = tmp_path / "children.csv"
    path.write_text(RAW["children"].replace(",", ";"), encoding="utf-8")
    with pytest.raises(InputError, match="columns separated by ';', not by commas"):
        read_mapped_csv(path, MAPPINGS["children"], "children")


def test_export_with_a_header_row_lists_its_columns(tmp_path):
    path = tmp_path / "children.csv"
    path.write_text("LAchildID,FamilyID,Gender\nC1,F1,F\n", encoding="utf-8")
    with pytest.raises(InputError, match=r"lacks column\(s\) \['Sex'.*found \['LAchildID'"):
        read_mapped_csv(path, MAPPINGS["children"], "children")


def test_utf8_file_with_one_windows_1252_byte_is_refused(tmp_path):
    # Read as Windows-1252 throughout, "Zoë" would become "ZoÃ«" and escape redaction.
    path = tmp_path / "notes.csv"
    text = NOTES_CSV.replace("Short note", "Zoë\u2019s note")
    path.write_bytes(text.encode("utf-8").replace(b"Caf\xc3\xa9", b"Caf\xe9"))
    message = (
        r"line 3: byte b'\\xe9' is not UTF-8, though the file holds UTF-8 text "
        r"\(first at line 4\).*re-save the file as UTF-8"
    )
    with pytest.raises(InputError, match=message):
        read_mapped_csv(path, NOTES_MAPPING, "notes")


def test_chosen_encoding_is_logged(tmp_path, caplog):
    caplog.set_level(logging.INFO)
    path = tmp_path / "notes.csv"
    path.write_bytes(NOTES_CSV.replace("Short note", "Zoë’s note").encode("cp1252"))
    assert read_mapped_csv(path, NOTES_MAPPING, "notes")["text"][1] == "Zoë’s note"
    assert "not UTF-8 (first at line 3); read as Windows-1252" in caplog.text
    path.write_bytes(NOTES_CSV.encode("utf-8"))
    read_mapped_csv(path, NOTES_MAPPING, "notes")
    assert f"{path}: read as UTF-8" in caplog.text


def test_zoned_times_are_read_in_uk_time_and_plain_times_as_written(tmp_path):
    values = pd.Series(
        [
            "2017-07-21T15:45:17Z",
            "2017-07-21T15:45:17+01:00",
            "2017-07-21 15:45:17.250 -0500",
            "2017-07-21T15:45 UTC",
            "2020-06-15T23:30Z",
            "2020-01-15T23:30Z",
            "2020-01-15T10:00+01",
            "2020-01-15T10:00:00-0130",
            "2017-07-21T15:45:17",
            "2017-07-21",
            "21/07/2017",
            "21/07/2017 15:45",
            "21/07/2017 15:45:17",
            "1/7/2017 09:05",
        ]
    )
    parsed = parse_dates(values, tmp_path / "notes.csv", "note time", required=True)
    # British Summer Time in July and June, Greenwich Mean Time in January
    assert parsed.dt.strftime("%Y-%m-%d %H:%M:%S.%f").str[:23].tolist() == [
        "2017-07-21 16:45:17.000",
        "2017-07-21 15:45:17.000",
        "2017-07-21 21:45:17.250",
        "2017-07-21 16:45:00.000",
        "2020-06-16 00:30:00.000",
        "2020-01-15 23:30:00.000",
        "2020-01-15 09:00:00.000",
        "2020-01-15 11:30:00.000",
        "2017-07-21 15:45:17.000",
        "2017-07-21 00:00:00.000",
        "2017-07-21 00:00:00.000",
        "2017-07-21 15:45:00.000",
        "2017-07-21 15:45:17.000",
        "2017-07-01 09:05:00.000",
    ]
    assert parsed.dtype == "datetime64[ms]"


def test_unreadable_date_of_birth_is_shown_by_its_shape_only(tmp_path):
    paths = write_raw(tmp_path, {"children": RAW["children"].replace("2012-01-20", "20.01.2012")})
    message = (
        r"'PersonBirthDate' \(children.date_of_birth\), line 3: cannot read the date written "
        r"'99\.99\.9999'.*use yyyy-mm-dd, dd/mm/yyyy or dd/mm/yyyy hh:mm\[:ss\]"
    )
    with pytest.raises(InputError, match=message) as error:
        ingest(paths)
    assert "20.01.2012" not in str(error.value)


@pytest.mark.parametrize(
    ("value", "shape"),
    [
        ("30/02/2017", "99/99/9999"),
        ("30/02/2017 15:45", "99/99/9999 99:99"),
        ("2017-02-30", "9999-99-99"),
        ("21/07/2017 25:00", "99/99/9999 99:99"),
    ],
)
def test_impossible_date_in_a_readable_form_is_not_a_valid_date(tmp_path, value, shape):
    """Not "use dd/mm/yyyy", which it already is; shown by its shape only."""
    with pytest.raises(InputError) as error:
        parse_dates(pd.Series(["2017-01-01", value]), tmp_path / "n.csv", "note time", True)
    message = str(error.value)
    assert f"the date written '{shape}' (9: a digit, A: a letter) is not a valid date" in message
    assert "use yyyy-mm-dd" not in message and value not in message


def test_missing_key_says_how_to_set_one(monkeypatch):
    monkeypatch.delenv("NO_SUCH_KEY_VARIABLE", raising=False)
    with pytest.raises(InputError, match="set the environment variable NO_SUCH_KEY_VARIABLE"):
        resolve_key("NO_SUCH_KEY_VARIABLE", None, None)
    assert resolve_key("NO_SUCH_KEY_VARIABLE", None, "demo") == b"demo"


def test_key_is_stripped_alike_from_variable_and_file(monkeypatch, tmp_path):
    secret = "0123456789abcdef0123"
    key_file = tmp_path / "key"
    key_file.write_text(f"{secret}\n", encoding="utf-8")
    monkeypatch.setenv("TEST_INGEST_KEY", f" {secret}\n")
    assert resolve_key("TEST_INGEST_KEY", None, None) == secret.encode()
    monkeypatch.delenv("TEST_INGEST_KEY")
    assert resolve_key("TEST_INGEST_KEY", str(key_file), None) == secret.encode()


@pytest.mark.parametrize("where", ["variable", "file"])
def test_short_key_is_refused_even_with_a_demo_key(monkeypatch, tmp_path, where):
    key_file = tmp_path / "key"
    key_file.write_text("short-secret\n", encoding="utf-8")
    monkeypatch.delenv("TEST_INGEST_KEY", raising=False)
    if where == "variable":
        monkeypatch.setenv("TEST_INGEST_KEY", "short-secret")
    message = (
        r"key in the (environment variable TEST_INGEST_KEY|key file .*) has 12 char.*at least 16"
    )
    with pytest.raises(InputError, match=message) as error:
        resolve_key("TEST_INGEST_KEY", str(key_file), "DEMO-KEY-for-synthetic-data-only")
    assert "short-secret" not in str(error.value)


@pytest.mark.parametrize(
    "secret",
    [
        "9f8e7d6c5b4a39281706f5e4d3c2b1a09f8e7d6c5b4a39281706f5e4d3c2b1a0",
        "q2Xv/8Kp+Zr1mT0yLw3sNb6eHc9aJd4fGu7iOk5lPx0=",
        "/q2Xv8Kp+Zr1mT0yLw3sNb6eHc9aJd4fGu7iOk5lPx0=",
        # Path.exists raised "File name too long" on it, the key in the traceback
        "k" * 300,
    ],
    ids=["hex", "base64", "base64 from a slash", "too long a name"],
)
@pytest.mark.parametrize("demo_key", [None, "DEMO-KEY-for-synthetic-data-only"])
def test_a_key_pasted_into_key_file_is_never_repeated(monkeypatch, secret, demo_key):
    # "pseudonymisation key file <the key> ... does not exist" put the secret
    # into the log and the terminal
    monkeypatch.delenv("TEST_INGEST_KEY", raising=False)
    with pytest.raises(InputError) as error:
        resolve_key("TEST_INGEST_KEY", secret, demo_key)
    message = str(error.value)
    assert secret not in message and secret[:8] not in message
    assert "key_file must be the path of a file outside the repository" in message
    assert "never write the key itself into the config" in message
    assert "TEST_INGEST_KEY" in message


def test_a_mistyped_key_file_path_is_still_named(monkeypatch, tmp_path):
    # a path with a folder that exists is evidently a path: naming it helps
    # find the typo
    monkeypatch.delenv("TEST_INGEST_KEY", raising=False)
    monkeypatch.setenv("HOME", str(tmp_path))
    missing = tmp_path / "keys" / "la.key"
    with pytest.raises(InputError, match=f"key file {missing} .* does not exist"):
        resolve_key("TEST_INGEST_KEY", str(missing), None)
    at_home = tmp_path / ".la_pseudonymisation_kye"
    with pytest.raises(InputError, match=f"key file {at_home} .* does not exist"):
        resolve_key("TEST_INGEST_KEY", "~/.la_pseudonymisation_kye", None)


def test_external_ssda903_episodes_are_read():
    path = EXTERNAL / "csc-validator-be-903" / "episodes.csv"
    frame = read_mapped_csv(path, MAPPINGS["care_episodes"], "care_episodes")
    episodes = ir.prepare_table(frame, "care_episodes", path, MAPPINGS["care_episodes"], KEY)
    assert len(episodes) == 5050
    assert episodes["start_date"].notna().all()
    assert pd.api.types.is_datetime64_any_dtype(episodes["end_date"])


NOTES_MAPPING = {
    "note_id": "NoteID",
    "child_id": "LAchildID",
    "note_datetime": "NoteDateTime",
    "document_type": "DocumentType",
    "text": "NoteText",
}
NOTES_CSV = (
    "NoteID,LAchildID,NoteDateTime,DocumentType,NoteText\n"
    'N1,C1,2016-01-11T10:00:00,Case note,"Visit: mum said ""fine"",\nthen left. Café"\n'
    "N2,C2,02/03/2016,Case note,Short note\n"
)


class NamedList(dict):
    """Item and attribute access, like Snakemake's named inputs and outputs."""

    __getattr__ = dict.__getitem__


def run_main(tmp_path: Path, paths: dict[str, Path]) -> Path:
    """Run the script's ``main`` as Snakemake would, then ``ingest_notes``'s if
    ``paths`` has notes (writing notes_qa.parquet); return the output folder."""
    out = tmp_path / "results"
    structured = {table: path for table, path in paths.items() if table != "notes"}
    snakemake = SimpleNamespace(
        input=NamedList(structured, code_lists=ROOT / "resources" / "code_lists.yaml"),
        output=NamedList({t: out / f"{t}.parquet" for t in [*ir.DATE_COLUMNS, "qa"]}),
        params=SimpleNamespace(
            key_env="NO_SUCH_KEY_VARIABLE",
            key_file=None,
            demo_key="demo",
            key_fingerprint=key_fingerprint(b"demo"),
            mappings=MAPPINGS,
            list_separator=";",
            extract_date=None,
        ),
    )
    ir.main(snakemake)
    if "notes" in paths:
        ingest_notes.main(
            SimpleNamespace(
                input=NamedList(notes=paths["notes"], children=out / "children.parquet"),
                output=NamedList(qa=out / "notes_qa.parquet"),
                params=SimpleNamespace(
                    key_env="NO_SUCH_KEY_VARIABLE",
                    key_file=None,
                    demo_key="demo",
                    key_fingerprint=key_fingerprint(b"demo"),
                    notes_columns=NOTES_MAPPING,
                    extract_date=None,
                ),
            )
        )
    return out


def notes_qa(tables: dict[str, pd.DataFrame], notes: Path) -> pd.DataFrame:
    """The notes' QA rows, checked against the ingested ``tables``."""
    return ingest_notes.notes_qa(
        notes, NOTES_MAPPING, tables["children"]["child_id"], KEY, RUN_DATE
    )


def write_notes(directory: Path, text: str = NOTES_CSV, name: str = "notes.csv") -> Path:
    path = directory / name
    path.write_text(text, encoding="utf-8")
    return path


def test_xlsx_and_parquet_exports_are_read(tmp_path):
    paths = write_raw(tmp_path)
    children = pd.read_csv(paths["children"], dtype=str)
    children["PersonBirthDate"] = pd.to_datetime(children["PersonBirthDate"])
    paths["children"] = tmp_path / "children.xlsx"
    children.to_excel(paths["children"], index=False)
    referrals = pd.read_csv(paths["referrals"], dtype=str)
    # Integer codes with a gap are stored as floats; they must read "6", not "6.0".
    referrals["ReferralSource"] = pd.to_numeric(referrals["ReferralSource"], errors="coerce")
    dates = referrals["CINreferralDate"]
    referrals["CINreferralDate"] = pd.to_datetime(dates, format="ISO8601", errors="coerce").fillna(
        pd.to_datetime(dates, format="%d/%m/%Y", errors="coerce")
    )
    paths["referrals"] = tmp_path / "referrals.parquet"
    referrals.to_parquet(paths["referrals"])
    tables = ingest(paths)
    assert len(tables["children"]) == 2 and len(tables["referrals"]) == 3
    assert str(tables["children"]["birth_month"].min().date()) == "2010-05-01"
    assert sorted(tables["referrals"]["referral_source"].dropna()) == ["6", "6"]
    assert sorted(tables["referrals"]["referral_date"].dt.strftime("%Y-%m-%d")) == [
        "2016-01-10",
        "2016-03-01",
        "2016-06-01",
    ]


@pytest.mark.parametrize("encoding", ["utf-8", "utf-8-sig", "cp1252"])
def test_notes_csv_with_newlines_quotes_and_encodings(tmp_path, encoding):
    path = tmp_path / "notes.csv"
    path.write_bytes(NOTES_CSV.encode(encoding))
    notes = read_mapped_csv(path, NOTES_MAPPING, "notes")
    assert notes["text"].tolist() == ['Visit: mum said "fine",\nthen left. Café', "Short note"]


def test_notes_jsonl_are_read(tmp_path):
    lines = [
        {
            "NoteID": "N1",
            "LAchildID": "C1",
            "NoteDateTime": "2016-01-11T10:00:00",
            "DocumentType": "Case note",
            "NoteText": 'Said "fine",\nthen left. Café',
        },
        {
            "NoteID": 2,
            "LAchildID": "C2",
            "NoteDateTime": "02/03/2016",
            "DocumentType": None,
            "NoteText": "Short",
        },
    ]
    path = tmp_path / "notes.jsonl"
    path.write_text("\n".join(json.dumps(line) for line in lines) + "\n", encoding="utf-8")
    notes = read_mapped_csv(path, NOTES_MAPPING, "notes")
    assert notes["text"].tolist() == ['Said "fine",\nthen left. Café', "Short"]
    assert notes["note_id"].tolist() == ["N1", "2"] and notes["document_type"].isna().tolist() == [
        False,
        True,
    ]


def test_notes_checked_and_profiled(tmp_path, caplog):
    paths = write_raw(tmp_path)
    notes_path = write_notes(tmp_path, NOTES_CSV + "N3,C9,2016-04-01,Visit,Other child\n")
    qa = notes_qa(ingest(paths), notes_path)
    notes = qa.loc[qa["table"] == "notes"].set_index("measure")
    assert notes.loc["rows_read", "count"] == 3
    assert notes.loc["warning", ["column", "count"]].tolist() == ["child_id", 1]
    assert "children not in the children table (first at line 5)" in caplog.text
    assert notes.loc["date_min", "value"] == "2016-01"
    assert "Other child" not in qa.to_string() and "C9" not in caplog.text


def test_unknown_codes_are_kept_counted_and_warned(tmp_path, caplog):
    referrals = RAW["referrals"].replace(",6,N1,1,", ",ZZ,N1,1,")
    episodes = RAW["care_episodes"] + "C1,05/05/2025,S,C2,N1,H5,,\n"
    paths = write_raw(tmp_path, {"referrals": referrals, "care_episodes": episodes})
    tables, qa = ir.ingest(paths, MAPPINGS, KEY, ";", CODE_LISTS, RUN_DATE)
    # ZZ, of one child and in no code list, may be free text: not kept as written
    assert "ZZ" not in set(tables["referrals"]["referral_source"])
    assert ir.UNLISTED_VALUE in set(tables["referrals"]["referral_source"])
    assert "H5" in set(tables["care_episodes"]["placement"])
    unknown = qa.loc[qa["measure"] == "unknown_code", ["column", "value", "count"]]
    # H5 is allowed in 2017 but not from collection year 2025 on, so it is a
    # code and is named; ZZ of one child is listed by how it is written only.
    assert unknown.values.tolist() == [
        ["referral_source", "1 other value", 1],
        ["placement", "H5", 1],
    ]
    assert "codes not allowed in their collection year (AA; first at line 2)" in caplog.text
    assert "(H5; first at line 3)" in caplog.text
    codes = qa.loc[(qa["measure"] == "code") & (qa["column"] == "factors")]
    assert codes.set_index("value")["count"].to_dict() == {"3B": 1, "4B": 1}


def test_free_text_in_a_coded_column_reaches_neither_qa_nor_log(tmp_path, caplog):
    source = "Neighbour - Mrs J Kowalczyk, 14 Acacia Ave"
    referrals = RAW["referrals"].replace(",6,N1,1,", f',"{source}",N1,1,')
    paths = write_raw(tmp_path, {"referrals": referrals})
    with caplog.at_level(logging.WARNING, logger="ingest_records"):
        tables, qa = ir.ingest(paths, MAPPINGS, KEY, ";", CODE_LISTS, RUN_DATE)
    assert source not in set(tables["referrals"]["referral_source"])
    # Codes are compared upper-cased: so would a leaked value be written.
    assert "KOWALCZYK" not in qa.to_string().upper() and "KOWALCZYK" not in caplog.text.upper()
    assert "(AAAAAAAAA - AAA A AAAAAAAAA, 99 AAAAAA AAA; first at line 2)" in caplog.text
    sources = qa.loc[(qa["measure"] == "code") & (qa["column"] == "referral_source")]
    assert sources[["value", "count"]].values.tolist() == [
        ["2A", 1],
        ["6", 1],
        ["1 other value", 1],
    ]


# A name typed into each coded column, as a reviewer found them in results/.
PLANTED = {
    "children": {"Sex": "Shannon", "Ethnicity": "Kowalczyk family", "Disabilities": "LD;Nan Jo"},
    "referrals": {"ReferralSource": "Jayden Smith", "ReasonForClosure": "Mrs Kowalczyk"},
    "assessments": {"AssessmentFactors": "3B;see Mr Okafor"},
    "cp_plans": {"InitialCategoryOfAbuse": "Okafor household"},
    "care_episodes": {"LS": "Aunt Brenda", "PLACE": "with Mr Okafor"},
}


def with_planted_names(directory: Path) -> dict[str, Path]:
    """The raw exports of ``RAW`` with ``PLANTED``'s names in the first row's
    coded cells (primary need too, in the second referral)."""
    paths = {}
    for table, text in RAW.items():
        frame = pd.read_csv(io.StringIO(text), dtype=str, keep_default_na=False)
        for column, name in PLANTED.get(table, {}).items():
            frame.loc[0, column] = name
        if table == "referrals":
            frame.loc[1, "PrimaryNeedCode"] = "Granny Okafor"
        paths[table] = directory / f"{table}.csv"
        frame.to_csv(paths[table], index=False)
    return paths


def test_names_typed_into_coded_columns_are_not_kept(tmp_path, caplog):
    # A referral source of a child's name, a closure reason of "Mrs <carer>"...
    # were kept as written in results/<la>/ingest, which holds redacted text only.
    with caplog.at_level(logging.WARNING, logger="ingest_records"):
        tables, qa = ir.ingest(
            with_planted_names(tmp_path), MAPPINGS, KEY, ";", CODE_LISTS, RUN_DATE
        )
    written = (
        " ".join(frame.astype(str).to_string() for frame in tables.values())
        + qa.to_string()
        + caplog.text
    ).upper()
    for name in ("SHANNON", "KOWALCZYK", "NAN JO", "JAYDEN", "OKAFOR", "BRENDA", "GRANNY"):
        assert name not in written, name
    children = tables["children"].set_index("sex")
    assert children.loc[ir.UNLISTED_VALUE, "ethnicity"] == ir.UNLISTED_VALUE
    assert children["disability"].all()
    referrals = tables["referrals"]
    assert sorted(referrals["referral_source"]) == sorted(["2A", "6", ir.UNLISTED_VALUE])
    assert sorted(referrals["primary_need"]) == sorted(["N1", "N4", ir.UNLISTED_VALUE])
    assert ir.UNLISTED_VALUE in set(referrals["closure_reason"])
    assert tables["assessments"]["factors"].iloc[0] == ["3B", ir.UNLISTED_VALUE]
    assert tables["cp_plans"]["category"].tolist() == [ir.UNLISTED_VALUE]
    episodes = tables["care_episodes"]
    assert episodes[["legal_status", "placement"]].values.tolist() == [[ir.UNLISTED_VALUE] * 2]
    # the warnings still give each value's shape
    assert "codes not allowed in their collection year (AAAAAAA; first at line 2)" in caplog.text
    assert f"as {ir.UNLISTED_VALUE} (they may be free text naming someone)" in caplog.text


def test_withheld_values_are_other_codes_to_features_and_fairness_groups():
    # build_structured_features and assess_fairness read the canonical tables
    values = pd.Series([ir.UNLISTED_VALUE, "F"], dtype="string")
    assert sex_group(values).tolist() == ["unknown", "female"]
    assert ethnicity_group(pd.Series([ir.UNLISTED_VALUE, "WBRI"])).tolist() == [
        "unrecognised",
        "White",
    ]
    assert listed_or_other(values, {"F"}).tolist() == ["other", "F"]


def test_an_unlisted_value_of_many_children_is_named():
    children = [f"C{k}" for k in range(MIN_CHILDREN_SHOWN_VALUE)]
    frame = pd.DataFrame(
        {"child_id": children + ["C0"], "sex": ["X"] * len(children) + ["Jayden"]},
        index=range(len(children) + 1),
    )
    qa = ir.QualityLog()
    shown = ir.check_codes(
        frame, "children", Path("children.csv"), MAPPINGS["children"], CODE_LISTS, ";", qa
    )
    unknown = pd.DataFrame(qa.rows).query("measure == 'unknown_code'")
    assert unknown[["value", "count"]].values.tolist() == [
        ["X", MIN_CHILDREN_SHOWN_VALUE],
        ["1 other value", 1],
    ]
    # and is kept as written, while the rare one is not
    kept = ir.withhold_rare_values(frame, shown, ";")["sex"]
    assert kept.tolist() == ["X"] * MIN_CHILDREN_SHOWN_VALUE + [ir.UNLISTED_VALUE]


def test_impossible_dates_are_reported(tmp_path, caplog):
    referrals = (
        RAW["referrals"]
        + "C1,R8,2030-01-01,6,N1,0,,\n"  # in the future: left out
        + "C2,R9,2011-01-01,6,N1,0,2031-01-01,RC7\n"  # before birth, closes in the future
    )
    tables, qa = ir.ingest(
        write_raw(tmp_path, {"referrals": referrals}), MAPPINGS, KEY, ";", CODE_LISTS, RUN_DATE
    )
    assert len(tables["referrals"]) == 4
    reported = qa.loc[qa["measure"].isin(["impossible_date", "rows_rejected"])]
    assert reported[["measure", "column", "value", "count"]].values.tolist() == [
        ["impossible_date", "closure_date", "after 2026-11-23 (future)", 1],
        ["rows_rejected", pd.NA, "have referral_date after 2026-11-23 (future)", 1],
        ["impossible_date", "referral_date", "before the child's date of birth", 1],
    ]
    assert "dated before the child's birth (first at line 6)" in caplog.text


@pytest.mark.parametrize(
    ("content", "name", "message"),
    [
        ("LAchildID\n".encode("utf-16"), "children.csv", "UTF-16 encoded; re-save it as UTF-8"),
        (b"LAchildID\nC1\nC\x81\x90\n", "children.csv", r"line 3: byte .* is neither UTF-8"),
        (b"LAchildID\x00,Sex\n", "children.csv", "line 1: holds NUL bytes"),
        (b'LAchildID,Sex\n"C1,F\n', "children.csv", "not well-formed CSV.*double quotes"),
        (b'{"LAchildID": "C1"}\n{"LAchildID": \n', "children.jsonl", r"line 2: not a JSON"),
        (b"LAchildID\nC1\n", "children.xls", r"suffix '\.xls'.*\.xlsx"),
        (b"not a workbook", "children.xlsx", "not a readable XLSX workbook"),
        (b"not parquet", "children.parquet", "not a readable Parquet file"),
    ],
)
def test_unreadable_files_name_file_and_fix(tmp_path, content, name, message):
    paths = write_raw(tmp_path)
    paths["children"] = tmp_path / name
    paths["children"].write_bytes(content)
    assert_fails_cleanly(tmp_path, paths, message, paths["children"])


@pytest.mark.parametrize(
    ("notes", "message"),
    [
        (
            NOTES_CSV.replace("N2,C2", ",C2"),
            r"'NoteID' \(notes.note_id\), line 4: value is missing",
        ),
        (
            NOTES_CSV.replace("Short note", "").replace("N1,C1,", "N1,,"),
            r"notes: file .* has no row left after the checks above, and the text designs",
        ),
        (
            NOTES_CSV.replace("02/03/2016", "2nd March"),
            r"'NoteDateTime' \(notes.note_datetime\), line 4: cannot read the date written "
            r"'9AA AAAAA'",
        ),
        (
            NOTES_CSV.replace("N2,", "N1,"),
            r"'NoteID' \(notes.note_id\), line 4: identifier appears more than once",
        ),
        (NOTES_CSV.replace("NoteText", "Body"), r"lacks column\(s\) \['NoteText'\]"),
    ],
)
def test_bad_notes_fail_without_partial_output(tmp_path, notes, message):
    paths = write_raw(tmp_path)
    paths["notes"] = write_notes(tmp_path, notes)
    assert_fails_cleanly(tmp_path, paths, message, paths["notes"])


def test_notes_without_child_time_or_text_are_left_out_and_counted(tmp_path, caplog):
    """Attachment-only notes are common: they must not stop the run."""
    notes = NOTES_CSV + "N3,C1,2016-03-01,Attachment,\nN4,C2,,Case note,x\nN5,,2016-03-01,,y\n"
    paths = write_raw(tmp_path)
    paths["notes"] = write_notes(tmp_path, notes)
    qa = read_parquet(run_main(tmp_path, paths) / "notes_qa.parquet", "ingest_qa")
    rows = qa.loc[qa["table"] == "notes"]
    rejected = rows.loc[rows["measure"] == "rows_rejected"].set_index("value")["count"]
    assert rejected.to_dict() == {
        "have no child id": 1,
        "have no note time": 1,
        "have no text (e.g. an attachment only)": 1,
    }
    assert rows.loc[rows["measure"] == "rows_kept", "count"].tolist() == [2]
    assert "1 notes row(s) have no text (e.g. an attachment only) (first at line 5)" in caplog.text


def test_qa_leaves_out_the_raw_document_types(tmp_path):
    # Free-text subjects may name someone; redact_notes profiles them redacted.
    paths = write_raw(tmp_path)
    paths["notes"] = write_notes(tmp_path, NOTES_CSV.replace("Case note", "Visit to Jayden Smith"))
    qa = read_parquet(run_main(tmp_path, paths) / "notes_qa.parquet", "ingest_qa")
    notes = qa.loc[qa["table"] == "notes"]
    assert notes.loc[notes["column"] == "document_type", "measure"].tolist() == ["missing"]
    assert "Jayden" not in qa.to_string()


def test_main_writes_tables_and_qa(tmp_path):
    paths = write_raw(tmp_path)
    paths["notes"] = write_notes(tmp_path)
    out = run_main(tmp_path, paths)
    qa = read_parquet(out / "qa.parquet", "ingest_qa")
    assert set(qa["table"]) == set(ir.DATE_COLUMNS)
    notes = read_parquet(out / "notes_qa.parquet", "ingest_qa")
    assert set(notes["table"]) == {"notes"}
    assert read_parquet(out / "referrals.parquet", "referrals")["child_id"].str.len().eq(16).all()


def test_the_qa_tables_give_date_ranges_to_the_month(tmp_path):
    # The QA tables are shared: in a small LA the exact day of the first or
    # last referral (or note) can point at one child.
    paths = write_raw(tmp_path)
    paths["notes"] = write_notes(tmp_path)
    out = run_main(tmp_path, paths)
    qa = pd.concat(
        [read_parquet(out / name, "ingest_qa") for name in ("qa.parquet", "notes_qa.parquet")]
    )
    dates = qa.loc[qa["measure"].isin(["date_min", "date_max"])].set_index(["table", "column"])
    assert dates["value"].str.fullmatch(r"\d{4}-\d{2}").all()
    referral_dates = dates.loc[("referrals", "referral_date")]
    assert referral_dates["value"].tolist() == ["2016-01", "2016-06"]
    # counted over the dates given: one of the three referrals is still open
    assert dates.loc[("referrals", "closure_date"), "count"].tolist() == [2, 2]
    assert dates.loc[("notes", "note_datetime"), "value"].tolist() == ["2016-01", "2016-03"]


def test_qa_section_of_the_report(tmp_path):
    from render_report import data_qa_section
    from report_wording import Disclosure

    referrals = RAW["referrals"] + "C9,R9,2016-02-01,ZZ,N1,0,,\n"
    paths = write_raw(tmp_path, {"referrals": referrals})
    _, qa = ir.ingest(paths, MAPPINGS, KEY, ";", CODE_LISTS, RUN_DATE)
    section = data_qa_section(qa, Disclosure(min_count=1))
    assert "<h2>Data and QA</h2>" in section
    # referrals: 4 read, 3 kept, 1 left out; the unknown code is counted.
    assert '<td class="text">referrals</td><td>4</td><td>3</td><td>1</td>' in section
    assert "refer to a child_id not in the children table" in section
    assert 'unknown code (kept)</td><td class="text">referral_source</td>' in section
    # an unlisted value seen once could be free text naming someone: it is
    # counted, never named, in a report meant to be shared
    assert "1 other value (1)" in section and "ZZ" not in section
    # and counts under the disclosure count could identify a child
    hidden = data_qa_section(qa, Disclosure(min_count=5))
    assert '<td class="text">referrals</td><td class="text">&lt;5</td>' in hidden
    assert "1 other value (&lt;5)" in hidden and "ZZ" not in hidden
    assert "C9" not in section and "then left" not in section


def test_qa_shares_are_of_rows_read(tmp_path):
    referrals = RAW["referrals"] + "C9,R9,2016-02-01,6,N1,0,,\n"
    _, qa = ir.ingest(
        write_raw(tmp_path, {"referrals": referrals}), MAPPINGS, KEY, ";", CODE_LISTS, RUN_DATE
    )
    rows = qa.loc[qa["table"] == "referrals"].set_index("measure")
    assert rows.loc["rows_kept", "share"] == 0.75 and rows.loc["rows_rejected", "share"] == 0.25
    missing = rows.loc["missing"].set_index("column")["share"]
    assert missing["closure_date"] == 0.5 and missing["referral_id"] == 0


def test_malformed_code_lists_are_a_clear_error(tmp_path):
    path = tmp_path / "codes.yaml"
    path.write_text("referrals:\n  referral_source:\n    - [1A, 1B]\n", encoding="utf-8")
    with pytest.raises(InputError, match=r"codes.yaml: referrals.referral_source .*from, to"):
        ir.load_code_lists(path)
    with pytest.raises(InputError, match="does not exist; set data.code_lists"):
        ir.load_code_lists(tmp_path / "none.yaml")


def test_extract_date_is_configured_or_today():
    assert ir.extract_date("2020-04-01") == pd.Timestamp("2020-04-01")
    today = pd.Timestamp.now(tz="UTC").tz_localize(None).normalize()
    assert ir.extract_date(None) in (today, today + pd.Timedelta(days=1))


def header_only(table: str) -> str:
    """The export of ``table`` with its header row and no data rows."""
    return RAW[table].split("\n", 1)[0] + "\n"


@pytest.mark.parametrize("table", ["assessments", "section47", "cp_plans", "care_episodes"])
def test_header_only_optional_table_gives_an_empty_table_and_a_warning(tmp_path, table, caplog):
    # A header-only cp_plans export once went through silently, taking most
    # escalation positives with it.
    paths = write_raw(tmp_path, {table: header_only(table)})
    with caplog.at_level(logging.WARNING, logger="ingest_records"):
        out = run_main(tmp_path, paths)
    assert read_parquet(out / f"{table}.parquet", table).empty
    assert len(read_parquet(out / "children.parquet", "children")) == 2
    events = " and ".join(ir.EVENTS_OF_TABLE[table])
    assert (
        f"{table}: file {paths[table]} holds only a header row, so no {events} event is "
        f"on record: outcomes whose events (or rule) include {events} find none for any "
        "of the 3 referral(s)"
    ) in caplog.text
    qa = read_parquet(out / "qa.parquet", "ingest_qa")
    warning = qa.loc[(qa["table"] == table) & (qa["measure"] == "warning")]
    assert warning["count"].tolist() == [3]
    assert warning["value"].iloc[0].startswith(f"holds only a header row: no {events} event")


def test_header_only_notes_are_a_clear_error_at_ingestion(tmp_path):
    """Not ~25 jobs later, when the first topic model has nothing to fit."""
    paths = write_raw(tmp_path)
    paths["notes"] = write_notes(tmp_path, NOTES_CSV.split("\n", 1)[0] + "\n")
    message = r"notes: file .* holds only a header row, and the text designs need case notes"
    assert_fails_cleanly(tmp_path, paths, message, paths["notes"])


@pytest.mark.parametrize("table", ["children", "referrals"])
def test_header_only_required_table_is_a_clear_error(tmp_path, table):
    paths = write_raw(tmp_path, {table: header_only(table)})
    message = rf"{table}: file .* holds only a header row.*re-export the {table} table"
    assert_fails_cleanly(tmp_path, paths, message, paths[table])


def test_no_referral_left_after_checks_is_a_clear_error(tmp_path):
    referrals = header_only("referrals") + "C9,R9,2016-02-01,6,N1,0,,\n"
    paths = write_raw(tmp_path, {"referrals": referrals})
    message = r"referrals: file .* has no row left after the checks above.*fix the rows"
    assert_fails_cleanly(tmp_path, paths, message, paths["referrals"])


# The second note's text spans 4 lines (one blank), then a blank line: the third
# note starts on line 8.
MULTILINE_NOTES = (
    "NoteID,LAchildID,NoteDateTime,DocumentType,NoteText\n"
    "N1,C1,2016-01-11,Case note,One line\n"
    'N2,C1,2016-01-12,Case note,"First,\nsecond\n\nfourth after a blank line"\n'
    '\n"N3",C2,2016-02-30,Case note,"Bad date,\non two lines"\n'
)


def test_bad_date_after_multiline_notes_names_the_physical_line(tmp_path):
    paths = write_raw(tmp_path)
    paths["notes"] = write_notes(tmp_path, MULTILINE_NOTES)
    lines = paths["notes"].read_text(encoding="utf-8").split("\n")
    assert lines[7].startswith('"N3"')
    message = (
        r"column 'NoteDateTime' \(notes.note_datetime\), line 8: the date written '9999-99-99' "
        r".*is not a valid date"
    )
    assert_fails_cleanly(tmp_path, paths, message, paths["notes"])


def test_bad_row_after_multiline_cells_of_a_table_names_the_physical_line(tmp_path):
    referrals = (
        RAW["referrals"]
        .replace(",RC8\n", ',"RC8\nclosed after\nreview"\n')
        .replace("2016-06-01", "2016-13-01")
    )
    paths = write_raw(tmp_path, {"referrals": referrals})
    message = r"column 'CINreferralDate' \(referrals.referral_date\), line 5: the date written"
    assert_fails_cleanly(tmp_path, paths, message, paths["referrals"])


def test_warnings_after_multiline_cells_name_the_physical_line(tmp_path, caplog):
    referrals = (
        RAW["referrals"].replace(",RC8\n", ',"RC8\nclosed"\n')
        + "C9,R9,2016-02-01,6,N1,0,,\n"
        + "C2,R4,2016-05-01,6,N1,0,2016-04-01,RC7\n"
    )
    ir.ingest(
        write_raw(tmp_path, {"referrals": referrals}), MAPPINGS, KEY, ";", CODE_LISTS, RUN_DATE
    )
    assert "child_id not in the children table (first at line 6)" in caplog.text
    assert "closure_date before referral_date (first at line 7)" in caplog.text


@pytest.mark.parametrize(
    ("name", "location"),
    [("children.xlsx", r"row 3"), ("children.parquet", r"data row 2")],
)
def test_binary_exports_name_the_row_as_their_format_numbers_it(tmp_path, name, location):
    paths = write_raw(tmp_path)
    children = pd.read_csv(paths["children"], dtype=str)
    children.loc[1, "PersonBirthDate"] = "2012-02-30"
    paths["children"] = tmp_path / name
    if name.endswith(".xlsx"):
        children.to_excel(paths["children"], index=False)
    else:
        children.to_parquet(paths["children"])
    message = rf"column 'PersonBirthDate' \(children.date_of_birth\), {location}: the date written"
    assert_fails_cleanly(tmp_path, paths, message, paths["children"])


def test_json_lines_name_the_physical_line_past_blank_lines(tmp_path):
    paths = write_raw(tmp_path)
    records = [
        {
            "NoteID": "N1",
            "LAchildID": "C1",
            "NoteDateTime": "2016-01-11",
            "DocumentType": "",
            "NoteText": "a",
        },
        {
            "NoteID": "N2",
            "LAchildID": "C2",
            "NoteDateTime": "yesterday",
            "DocumentType": "",
            "NoteText": "b",
        },
    ]
    text = json.dumps(records[0]) + "\n\n" + json.dumps(records[1]) + "\n"
    paths["notes"] = write_notes(tmp_path, text, "notes.jsonl")
    message = r"column 'NoteDateTime' \(notes.note_datetime\), line 3: cannot read the date written"
    assert_fails_cleanly(tmp_path, paths, message, paths["notes"])


@pytest.mark.parametrize(
    ("table", "text", "message"),
    [
        (
            "referrals",
            RAW["referrals"].replace(",0,,", ",maybe,,"),
            r"column 'ReferralNFA' \(referrals.nfa\), line 3: cannot read the flag written 'AAAAA'",
        ),
        (
            "referrals",
            RAW["referrals"].replace("C1,R2,2016-06-01", "C1,,2016-06-01"),
            r"column 'CINdetailsID' \(referrals.referral_id\), line 3: value is missing",
        ),
        (
            "children",
            RAW["children"].replace("C2,F1", "C1,F1"),
            r"column 'LAchildID' \(children.child_id\), line 3: identifier appears more",
        ),
        (
            "cp_plans",
            RAW["cp_plans"].replace("2016-07-01", "July"),
            r"column 'CPPstartDate' \(cp_plans.start_date\), line 2: cannot read the date "
            r"written 'AAAA'",
        ),
    ],
)
def test_messages_name_the_file_column_then_the_canonical_one(tmp_path, table, text, message):
    paths = write_raw(tmp_path, {table: text})
    assert_fails_cleanly(tmp_path, paths, message, paths[table])


def test_ids_with_stray_spaces_link_across_tables():
    """Exports pad ids inconsistently ("C1 " in one table, "C1" in another)."""
    pseudonyms = pseudonymise(pd.Series([" C1", "C1 ", "C1", "\tC1"]), KEY)
    assert pseudonyms.nunique() == 1


def test_ids_with_stray_spaces_link_children_and_referrals(tmp_path):
    referrals = RAW["referrals"].replace("C1,R1,", " C1 ,R1,")
    tables, _ = ir.ingest(
        write_raw(tmp_path, {"referrals": referrals}), MAPPINGS, KEY, ";", CODE_LISTS, RUN_DATE
    )
    assert len(tables["referrals"]) == RAW["referrals"].count("\n") - 1


def test_notes_dated_after_the_extract_are_kept_counted_and_logged(tmp_path, caplog):
    paths = write_raw(tmp_path)
    later = (RUN_DATE + pd.Timedelta(days=2)).strftime("%Y-%m-%d")
    notes_path = write_notes(tmp_path, NOTES_CSV.replace("02/03/2016", later))
    qa = notes_qa(ingest(paths), notes_path)
    notes = qa.loc[qa["table"] == "notes"].set_index("measure")
    assert notes.loc["impossible_date", "count"] == 1
    assert notes.loc["impossible_date", "value"] == "after 2026-11-23 (future)"
    assert notes.loc["rows_kept", "count"] == 2
    assert "1 note(s) dated after 2026-11-23 (first at line 4); check the export" in caplog.text


def test_an_event_table_ending_months_before_the_referrals_is_warned_about(caplog):
    referrals = pd.DataFrame(
        {"referral_date": pd.to_datetime(["2019-01-05", "2019-06-01", "2019-09-30"])}
    )
    starts = pd.DataFrame({"start_date": pd.to_datetime(["2019-01-10", "2019-09-01"])})
    stopped = pd.DataFrame({"start_date": pd.to_datetime(["2019-01-10", "2019-06-02"])})
    # 90 days before the last referral: not more than 90, so not warned about
    at_the_limit = pd.DataFrame({"start_date": pd.to_datetime(["2019-01-10", "2019-07-02"])})
    tables = {
        "referrals": referrals,
        "assessments": starts,
        "section47": at_the_limit,
        "cp_plans": stopped,
        "care_episodes": starts.iloc[:0],
    }
    qa = ir.QualityLog()
    with caplog.at_level(logging.WARNING):
        ir.report_tables_ending_early(tables, Path("referrals.csv"), qa)
    # only the plans stop early: 120 days before the last referral, which comes after them
    assert [(r["table"], r["measure"], r["count"]) for r in qa.rows] == [("cp_plans", "warning", 1)]
    assert "(2019-06 against 2019-09):" in qa.rows[0]["value"]
    # the log gives months too, and a safe data end: the end of the month before
    assert "last start_date (in 2019-06) is more than 90 days" in caplog.text
    assert "referral in referrals.csv (in 2019-09)" in caplog.text
    assert "data.data_end_date no later than its last start_date (2019-05-31" in caplog.text
    for exact in ("2019-06-02", "2019-09-30", "120 days"):
        assert exact not in caplog.text


def test_excel_rows_of_separators_only_are_skipped_and_lines_still_counted(tmp_path, caplog):
    # Excel saves rows it once formatted as ",,,,": invisible to the user, they
    # stopped the run with "child id is missing".
    referrals = RAW["referrals"].replace("C1,R2,", ",,,,,,,\n , ,,,,,,\nC1,R2,") + ",,,,,,,\n"
    with caplog.at_level(logging.INFO):
        tables = ingest(write_raw(tmp_path, {"referrals": referrals}))
    assert len(tables["referrals"]) == 3
    assert "3 empty row(s) (separators only) skipped" in caplog.text
    # a bad row after them is still named by its physical line
    bad = referrals.replace("01/03/2016", "2016-13-01")
    paths = write_raw(tmp_path, {"referrals": bad})
    assert bad.split("\n")[5].startswith("C2,R3")
    message = r"column 'CINreferralDate' \(referrals.referral_date\), line 6: the date written"
    assert_fails_cleanly(tmp_path, paths, message, paths["referrals"])
