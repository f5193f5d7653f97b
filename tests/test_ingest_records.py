"""Ingestion of structured exports: mapping, pseudonymisation and clear errors."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

import ingest_records as ir
from common import InputError, read_mapped_csv, resolve_key

KEY = b"test-key"
EXTERNAL = Path(__file__).resolve().parent / "data" / "external_samples"
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


def write_raw(directory: Path, overrides: dict[str, str] | None = None) -> dict[str, Path]:
    paths = {}
    for table, text in {**RAW, **(overrides or {})}.items():
        path = directory / f"{table}.csv"
        path.write_text(text, encoding="utf-8")
        paths[table] = path
    return paths


def test_ingest_pseudonymises_and_links(tmp_path):
    tables = ir.ingest(write_raw(tmp_path), MAPPINGS, KEY, ";")
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
    first = ir.ingest(paths, MAPPINGS, KEY, ";")["children"]["child_id"]
    again = ir.ingest(paths, MAPPINGS, KEY, ";")["children"]["child_id"]
    other = ir.ingest(paths, MAPPINGS, b"another", ";")["children"]["child_id"]
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
            r"CINreferralDate|referral_date.*line 3.*31/02/2016",
        ),
        ("referrals", RAW["referrals"].replace("2016-06-01", "June 2016"), "line 3"),
        ("referrals", RAW["referrals"].replace(",0,,", ",maybe,,"), "cannot read flag 'maybe'"),
        ("referrals", RAW["referrals"].replace("R2", "R1"), "line 3.*more than once"),
        ("children", RAW["children"].replace("C2,F1", "C1,F1"), "line 3.*more than once"),
        ("referrals", RAW["referrals"].replace("C1,R2,2016-06-01", "C1,R2,"), "line 3.*missing"),
        ("children", RAW["children"].replace("C2,F1", ",F1"), "line 3.*missing"),
    ],
)
def test_bad_input_names_file_column_and_line(tmp_path, table, text, message):
    paths = write_raw(tmp_path, {table: text})
    with pytest.raises(InputError, match=message) as error:
        ir.ingest(paths, MAPPINGS, KEY, ";")
    assert str(paths[table]) in str(error.value)


def test_missing_file_is_a_clear_error(tmp_path):
    paths = write_raw(tmp_path)
    paths["cp_plans"].unlink()
    with pytest.raises(InputError, match=r"cp_plans.*does not exist.*data.tables.cp_plans"):
        ir.ingest(paths, MAPPINGS, KEY, ";")


def test_unlinked_and_reversed_rows_are_dropped_with_a_warning(tmp_path, caplog):
    referrals = (
        RAW["referrals"] + "C9,R9,2016-02-01,6,N1,0,,\nC2,R4,2016-05-01,6,N1,0,2016-04-01,RC7\n"
    )
    tables = ir.ingest(write_raw(tmp_path, {"referrals": referrals}), MAPPINGS, KEY, ";")
    assert len(tables["referrals"]) == 3
    assert "not found in the children table" in caplog.text
    assert "end before they start" in caplog.text


def test_windows_1252_and_bom_are_read(tmp_path):
    path = tmp_path / "children.csv"
    path.write_bytes("\ufeff".encode() + RAW["children"].encode("utf-8"))
    assert len(read_mapped_csv(path, MAPPINGS["children"], "children")) == 2
    path.write_bytes(RAW["children"].replace("WBRI", "WBRI café").encode("cp1252"))
    assert read_mapped_csv(path, MAPPINGS["children"], "children")["ethnicity"][0] == "WBRI café"


def test_missing_key_says_how_to_set_one(monkeypatch):
    monkeypatch.delenv("NO_SUCH_KEY_VARIABLE", raising=False)
    with pytest.raises(InputError, match="set the environment variable NO_SUCH_KEY_VARIABLE"):
        resolve_key("NO_SUCH_KEY_VARIABLE", None, None)
    assert resolve_key("NO_SUCH_KEY_VARIABLE", None, "demo") == b"demo"


def test_external_ssda903_episodes_are_read():
    path = EXTERNAL / "csc-validator-be-903" / "episodes.csv"
    frame = read_mapped_csv(path, MAPPINGS["care_episodes"], "care_episodes")
    episodes = ir.prepare_table(frame, "care_episodes", path, KEY)
    assert len(episodes) == 5050
    assert episodes["start_date"].notna().all()
    assert pd.api.types.is_datetime64_any_dtype(episodes["end_date"])
