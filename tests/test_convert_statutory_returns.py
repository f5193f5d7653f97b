"""Tests of the statutory-return converter (CIN census XML, SSDA903 CSV)."""

import logging
import re
import shutil
from pathlib import Path

import pandas as pd
import pytest
import yaml

import convert_statutory_returns as csr
from common import InputError, read_mapped_csv

ROOT = Path(__file__).resolve().parents[1]
SAMPLES = ROOT / "tests" / "data" / "external_samples"
CIN_SAMPLE = SAMPLES / "liia-tools" / "cin-2022.xml"
SSDA903_DIR = SAMPLES / "csc-validator-be-903"
CONFIG = ROOT / "config" / "config.yaml"


def cin_xml(year: int, children: str) -> str:
    """A minimal CIN census message of ``year`` holding ``children``."""
    return (
        "<Message><Header><CollectionDetails><Collection>CIN</Collection>"
        f"<Year>{year}</Year><ReferenceDate>{year}-03-31</ReferenceDate>"
        f"</CollectionDetails></Header><Children>{children}</Children></Message>"
    )


def child_xml(
    child_id: str = "C1",
    sex: str = "<GenderCurrent>2</GenderCurrent>",
    referral: str = "2020-05-01",
    closure: str = "",
    nfa: str = "0",
    upn: str = "",
    extra: str = "",
) -> str:
    """One ``<Child>`` with one referral, one assessment and one s47."""
    ident = f"<LAchildID>{child_id}</LAchildID>" if child_id else ""
    upn_el = f"<UPN>{upn}</UPN>" if upn else ""
    closure_el = (
        f"<CINclosureDate>{closure}</CINclosureDate><ReasonForClosure>RC8</ReasonForClosure>"
        if closure
        else ""
    )
    referral_el = f"<CINreferralDate>{referral}</CINreferralDate>" if referral else ""
    return (
        f"<Child><ChildIdentifiers>{ident}{upn_el}<PersonBirthDate>2012-01-15</PersonBirthDate>"
        f"{sex}</ChildIdentifiers><ChildCharacteristics><Ethnicity>WBRI</Ethnicity>"
        "</ChildCharacteristics>"
        f"<CINdetails>{referral_el}<ReferralSource>6</ReferralSource>"
        f"<PrimaryNeedCode>N1</PrimaryNeedCode>{closure_el}"
        "<Assessments><AssessmentActualStartDate>2020-05-02</AssessmentActualStartDate>"
        "<FactorsIdentifiedAtAssessment><AssessmentFactors>3A</AssessmentFactors>"
        "</FactorsIdentifiedAtAssessment></Assessments>"
        f"<ReferralNFA>{nfa}</ReferralNFA>{extra}</CINdetails></Child>"
    )


def write(path: Path, text: str) -> Path:
    """Write ``text`` to ``path`` and return the path."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    return path


def write_903(directory: Path, header: str, episodes: str) -> Path:
    """A minimal SSDA903 return (header.csv, episodes.csv) in ``directory``."""
    write(directory / "header.csv", header)
    write(directory / "episodes.csv", episodes)
    return directory


HEADER_CSV = "CHILD,SEX,DOB,ETHNIC,UPN,MOTHER,MC_DOB\n903A,1,15/01/2012,WBRI,U1,,\n"


def test_families_in_windows_1252_are_read(tmp_path):
    path = tmp_path / "families.csv"
    path.write_bytes("LAchildID,FamilyID\nC1,Brontë\nC2,Brontë\n".encode("cp1252"))
    families = csr.read_families(path)
    assert families["FamilyID"].tolist() == ["Brontë", "Brontë"]


def test_malformed_families_csv_is_a_clear_error(tmp_path):
    path = write(tmp_path / "fam.csv", "LAchildID,FamilyID\nC1,F1\nC2,F2,extra,x\n")
    with pytest.raises(InputError, match=r"families file .*fam\.csv is not a readable CSV"):
        csr.read_families(path)


EPISODES_CSV = (
    "CHILD,DECOM,RNE,LS,CIN,PLACE,PLACE_PROVIDER,DEC,REC,REASON_PLACE_CHANGE,HOME_POST,"
    "PL_POST,URN\n903A,01/06/2020,S,C2,N1,U1,PR1,,X1,,,,\n"
)


def test_liia_tools_cin_sample_converts():
    tables = csr.read_cin_census([CIN_SAMPLE])
    child = tables["children"].iloc[0]
    assert len(tables["children"]) == 1
    assert (child["LAchildID"], child["Sex"], child["PersonBirthDate"]) == (
        "DfEX0000001",
        "M",
        "1966-03-24",
    )
    assert child["Disabilities"] == "HAND;HEAR" and child["UPN"] == "A123456789123"
    referral = tables["referrals"].iloc[0]
    assert referral["CINdetailsID"] == "DfEX0000001_19701006"
    assert referral[["CINreferralDate", "ReferralSource", "PrimaryNeedCode"]].tolist() == [
        "1970-10-06",
        "1A",
        "N4",
    ]
    assert referral[["ReferralNFA", "CINclosureDate", "ReasonForClosure"]].tolist() == [
        "0",
        "1971-02-27",
        "RC1",
    ]
    assessment = tables["assessments"].iloc[0]
    assert assessment["AssessmentActualStartDate"] == "1970-06-03"
    assert assessment["AssessmentAuthorisationDate"] == "1971-07-18"
    assert assessment["AssessmentFactors"] == "2A;2B"
    s47 = tables["section47"].iloc[0]
    assert s47[["S47ActualStartDate", "DateOfInitialCPC"]].tolist() == ["1970-06-02", "1970-06-17"]
    plan = tables["cp_plans"].iloc[0]
    assert plan[["CPPstartDate", "CPPendDate", "InitialCategoryOfAbuse"]].tolist() == [
        "1970-02-17",
        "1971-03-14",
        "PHY",
    ]
    for name in ("assessments", "section47", "cp_plans"):
        assert tables[name]["CINdetailsID"].tolist() == ["DfEX0000001_19701006"]


def test_vendored_903_converts():
    tables = csr.read_ssda903([SSDA903_DIR])
    assert len(tables["episodes"]) == 5050
    assert list(tables["episodes"].columns) == csr.EXPORT_COLUMNS["episodes"]
    assert list(tables["header"].columns) == csr.HEADER_OUT
    assert set(tables["header"]["SEX"]) <= {"M", "F", "U"}
    assert tables["episodes"]["DECOM"].str.match(r"^\d{2}/\d{2}/\d{4}$").all()


def test_903_tables_recognised_by_header_set(tmp_path):
    directory = tmp_path / "return"
    directory.mkdir()
    header = (SSDA903_DIR / "header.csv").read_text(encoding="utf-8")
    first, rest = header.split("\n", 1)
    mixed = first.lower().replace("child", "Child")
    (directory / "a.csv").write_bytes(b"\xef\xbb\xbf" + f"{mixed}\n{rest}".encode())
    shutil.copy(SSDA903_DIR / "episodes.csv", directory / "b.csv")
    shutil.copy(SSDA903_DIR / "reviews.csv", directory / "c.csv")
    tables = csr.read_ssda903([directory])
    assert len(tables["header"]) == 2675
    assert len(tables["episodes"]) == 5050
    assert csr.identify_903_table(["\ufeffchild", "sex", "dob", "ethnic", "upn"]) == "Header"
    assert csr.identify_903_table(["CHILD", "DOB", "REVIEW", "REVIEW_CODE"]) == "Reviews"
    assert csr.identify_903_table(["CHILD", "FOO"]) is None


def test_903_years_deduplicated_keep_latest(tmp_path):
    old = write_903(tmp_path / "2021", HEADER_CSV, EPISODES_CSV)
    new = write_903(
        tmp_path / "2022",
        HEADER_CSV,
        EPISODES_CSV.replace(",,X1,", ",01/09/2021,E4A,")
        + "903A,01/09/2021,S,V2,N1,U4,PR1,,,,,,\n",
    )
    tables = csr.read_ssda903([new, old])  # order fixed by the year in the path
    episodes = tables["episodes"]
    assert len(episodes) == 2
    first = episodes.loc[episodes["DECOM"] == "01/06/2020"].iloc[0]
    assert (first["DEC"], first["REC"]) == ("01/09/2021", "E4A")


def test_two_cin_years_merge_referral(tmp_path, caplog):
    old = write(tmp_path / "cin2017.xml", cin_xml(2017, child_xml(nfa="0")))
    unknown = "<PreProceedingsandFGDM><PPStartDate>2020-06-01</PPStartDate></PreProceedingsandFGDM>"
    new = write(
        tmp_path / "cin2025.xml",
        cin_xml(
            2025,
            child_xml(sex="<Sex>F</Sex>", closure="2021-02-01", nfa="true", extra=unknown)
            + child_xml(child_id="C2", sex="<Sex>M</Sex>", nfa="false", extra=unknown),
        ),
    )
    with caplog.at_level(logging.WARNING):
        tables = csr.read_cin_census([new, old])  # ordered by collection year
    referrals = tables["referrals"]
    assert len(referrals) == 2
    merged = referrals.loc[referrals["LAchildID"] == "C1"].iloc[0]
    assert (merged["CINclosureDate"], merged["ReasonForClosure"]) == ("2021-02-01", "RC8")
    assert merged["ReferralNFA"] == "1"
    assert referrals.loc[referrals["LAchildID"] == "C2", "ReferralNFA"].item() == "0"
    assert len(tables["assessments"]) == 2
    assert dict(zip(tables["children"]["LAchildID"], tables["children"]["Sex"], strict=True)) == {
        "C1": "F",
        "C2": "M",
    }
    assert sum("PreProceedingsandFGDM" in r.message for r in caplog.records) == 1


def test_linking_by_upn_and_903_only_children(tmp_path):
    cin_file = write(tmp_path / "cin.xml", cin_xml(2022, child_xml(child_id="C1", upn="u1")))
    header = HEADER_CSV + "903B,2,01/02/2010,WIRT,U9,,\n"
    episodes = EPISODES_CSV + "903B,01/07/2020,S,C2,N1,U1,PR1,,X1,,,,\n"
    episodes += "903Z,01/07/2020,S,C2,N1,U1,PR1,,X1,,,,\n"
    ssda = write_903(tmp_path / "903", header, episodes)
    tables = csr.link_records(csr.read_cin_census([cin_file]), csr.read_ssda903([ssda]))
    assert sorted(tables["episodes"]["CHILD"]) == ["903B", "C1"]
    children = tables["children"].set_index("LAchildID")
    assert sorted(children.index) == ["903B", "C1"]
    assert children.loc["903B", ["Sex", "PersonBirthDate", "Ethnicity"]].tolist() == [
        "F",
        "2010-02-01",
        "WIRT",
    ]
    unlinked = tables["unlinked"]
    assert sorted(unlinked["CHILD"]) == ["903B", "903Z"]
    assert unlinked.loc[unlinked["CHILD"] == "903Z", "action"].item() == "episode dropped"


def test_families_file_and_default(tmp_path, caplog):
    children = pd.DataFrame({"LAchildID": ["a", "b", "c"]}, dtype="string")
    out = csr.assign_families(
        children, write(tmp_path / "f.csv", "LAchildID,FamilyID\na,F1\nb,F1\n")
    )
    assert out["FamilyID"].tolist() == ["F1", "F1", "c"]
    with caplog.at_level(logging.WARNING):
        out = csr.assign_families(children, None)
    assert out["FamilyID"].tolist() == ["a", "b", "c"]
    assert "siblings" in caplog.text


def test_missing_families_warning_names_the_config_key(caplog):
    # The workflow's users set the families file in their config, not as a flag.
    children = pd.DataFrame({"LAchildID": ["a"]}, dtype="string")
    with caplog.at_level(logging.WARNING):
        csr.assign_families(children, None)
    assert "statutory.families" in caplog.text


def test_written_exports_read_by_workflow(tmp_path):
    out = tmp_path / "exports"
    tables = csr.convert([CIN_SAMPLE], [SSDA903_DIR], None, out)
    first = {p.name: p.read_bytes() for p in out.glob("*.csv")}
    csr.write_exports(tables, out)
    assert {p.name: p.read_bytes() for p in out.glob("*.csv")} == first
    assert not list(out.glob(".*.tmp"))
    assert b"\r\n" not in first["episodes.csv"]
    config = yaml.safe_load(CONFIG.read_text(encoding="utf-8"))["data"]["tables"]
    names = {
        "children": "children",
        "referrals": "referrals",
        "assessments": "assessments",
        "section47": "section47",
        "cp_plans": "cp_plans",
        "care_episodes": "episodes",
    }
    for table, name in names.items():
        spec = config[table]
        frame = read_mapped_csv(out / spec["path"], spec["columns"], table)
        assert list(frame.columns) == list(spec["columns"])
        assert len(frame) == len(tables[name])
    assert len(tables["children"]) == 2676


def test_cli_runs(tmp_path):
    csr.cli(["--cin", str(CIN_SAMPLE), "--ssda903", str(SSDA903_DIR), "--out", str(tmp_path)])
    assert (tmp_path / "referrals.csv").is_file()


# ----------------------------------------------------------------- malformed inputs

GOOD_CHILD = child_xml()


def malformed_cin(tmp_path: Path, case: str) -> list[Path]:
    """CIN census files for one malformed case."""
    texts = {
        "not_xml": cin_xml(2022, GOOD_CHILD).replace("</Children>", "</Childre>"),
        "empty": "",
        "wrong_root": "<EXPSSDA903><CHILD/></EXPSSDA903>",
        "missing_child_id": cin_xml(2022, child_xml(child_id="")),
        "missing_referral_date": cin_xml(2022, child_xml(referral="")),
        "bad_referral_date": cin_xml(2022, child_xml(referral="01/05/2020")),
        "impossible_date": cin_xml(2022, child_xml(closure="2020-02-30")),
        "bad_flag": cin_xml(2022, child_xml(nfa="Jayden Smith")),
        "bad_sex": cin_xml(2022, child_xml(sex="<Sex>Jayden</Sex>")),
    }
    return [write(tmp_path / f"{case}.xml", texts[case])]


@pytest.mark.parametrize(
    ("case", "expected"),
    [
        ("not_xml", "line 1"),
        ("empty", "empty"),
        ("wrong_root", "EXPSSDA903"),
        ("missing_child_id", "LAchildID"),
        ("missing_referral_date", "of <Child> number 1 has no <CINreferralDate>"),
        (
            "bad_referral_date",
            "<CINreferralDate> of <Child> number 1: cannot read the date written '99/99/9999'",
        ),
        ("impossible_date", "CINclosureDate"),
        (
            "bad_flag",
            "cannot read the value written 'AAAAAA AAAAA'",
        ),
        ("bad_sex", "<Sex> of <Child> number 1: unknown code written 'AAAAAA'"),
    ],
)
def test_malformed_cin_raises(tmp_path, case, expected):
    paths = malformed_cin(tmp_path, case)
    with pytest.raises(InputError) as error:
        csr.read_cin_census(paths)
    assert paths[0].name in str(error.value)
    assert expected in str(error.value)
    # Messages say where by position, never by child id or the value itself.
    assert "C1" not in str(error.value) and "01/05/2020" not in str(error.value)
    assert "Jayden" not in str(error.value)


def test_malformed_xml_names_line(tmp_path):
    path = write(tmp_path / "broken.xml", "<Message>\n<Children>\n<Child>\n</Message>\n")
    with pytest.raises(InputError, match=r"broken\.xml.*line 4"):
        csr.read_cin_census([path])


@pytest.mark.parametrize(
    ("case", "expected"),
    [
        ("no_episodes", "no Episodes table"),
        ("no_header", "no Header table"),
        ("bad_decom", "DECOM, line 2: cannot read the date written"),
        ("missing_decom", "DECOM, line 2"),
        ("empty_file", "empty"),
        ("utf16", "UTF-16"),
        ("bad_byte", "line 2: byte b'\\x81' is neither UTF-8 nor Windows-1252"),
        ("xml", "root element is <Message>; an SSDA903 XML return"),
        ("missing_child", "CHILD, line 2"),
        ("two_headers", "second Header"),
    ],
)
def test_malformed_903_raises(tmp_path, case, expected):
    directory = write_903(tmp_path / "r", HEADER_CSV, EPISODES_CSV)
    target = directory / "episodes.csv"
    inputs = [directory]
    if case == "no_episodes":
        target.unlink()
    elif case == "no_header":
        target = directory / "header.csv"
        target.unlink()
    elif case == "bad_decom":
        write(target, EPISODES_CSV.replace("01/06/2020", "2020/06/01"))
    elif case == "missing_decom":
        write(target, EPISODES_CSV.replace("01/06/2020", ""))
    elif case == "empty_file":
        write(target, "")
    elif case == "utf16":
        target.write_bytes(EPISODES_CSV.encode("utf-16"))
    elif case == "bad_byte":
        target.write_bytes(EPISODES_CSV.replace("903A", "903\x81").encode("latin-1"))
    elif case == "xml":
        target = write(tmp_path / "return.xml", "<Message/>")
        inputs = [target]
    elif case == "missing_child":
        write(target, EPISODES_CSV.replace("903A,", ","))
    elif case == "two_headers":
        target = write(directory / "header2.csv", HEADER_CSV)
    with pytest.raises(InputError) as error:
        csr.read_ssda903(inputs)
    message = str(error.value)
    assert target.name in message or str(directory) in message
    assert expected in message


def test_missing_table_lists_found(tmp_path):
    directory = write_903(tmp_path / "r", HEADER_CSV, EPISODES_CSV)
    (directory / "episodes.csv").unlink()
    with pytest.raises(InputError, match=r"header\.csv"):
        csr.read_ssda903([directory])


def test_families_errors(tmp_path):
    bad_columns = write(tmp_path / "fam.csv", "child,household\na,F1\n")
    with pytest.raises(InputError, match="fam.csv"):
        csr.read_families(bad_columns)
    conflict = write(tmp_path / "fam2.csv", "LAchildID,FamilyID\nC7,F1\nC7,F1\nC7,F2\n")
    with pytest.raises(InputError, match=r"fam2\.csv: line 2 and line 4 give one child") as error:
        csr.read_families(conflict)
    assert "C7" not in str(error.value)
    headerless = write(tmp_path / "fam3.csv", "C7,F1\nC8,F2\n")
    with pytest.raises(InputError, match=r"header row of 2 field\(s\) lacks") as error:
        csr.read_families(headerless)
    assert "C7" not in str(error.value) and "F1" not in str(error.value)


def test_exports_pass_workflow_ingestion(tmp_path):
    import ingest_records

    csr.convert([CIN_SAMPLE], [SSDA903_DIR], None, tmp_path)
    config = yaml.safe_load(CONFIG.read_text(encoding="utf-8"))["data"]["tables"]
    tables = ["children", "referrals", "assessments", "section47", "cp_plans", "care_episodes"]
    paths = {t: tmp_path / config[t]["path"] for t in tables}
    mappings = {t: config[t]["columns"] for t in tables}
    result, _ = ingest_records.ingest(
        paths,
        mappings,
        b"test-key",
        ";",
        ingest_records.load_code_lists(ROOT / "resources" / "code_lists.yaml"),
        pd.Timestamp("2026-11-23"),
    )
    assert len(result["referrals"]) == 1 and len(result["care_episodes"]) == 5050


def episodes_as_xml(directory: Path, iso_dates: bool = True) -> str:
    """The vendored SSDA903 CSV return written as an EXPSSDA903 XML return."""
    header = pd.read_csv(directory / "header.csv", dtype=str, keep_default_na=False)
    episodes = pd.read_csv(directory / "episodes.csv", dtype=str, keep_default_na=False)

    def element(name: str, value: str) -> str:
        if value and iso_dates and name in {"DOB", "MC_DOB", "DECOM", "DEC"}:
            value = f"{value[6:10]}-{value[3:5]}-{value[:2]}"
        return f"<{name}>{value}</{name}>" if value else ""

    by_child: dict[str, list[str]] = {}
    for ep in episodes.itertuples(index=False):
        fields = "".join(
            element("PL" if c == "PLACE" else c, v)
            for c, v in zip(episodes.columns, ep, strict=True)
            if c != "CHILD"
        )
        by_child.setdefault(ep.CHILD, []).append(
            f"<EPISODE>{fields}<AREVIEW><REVIEW>01/01/2020</REVIEW></AREVIEW></EPISODE>"
        )
    children = []
    for row in header.itertuples(index=False):
        fields = "".join(
            element("CHILDID" if c == "CHILD" else c, v)
            for c, v in zip(header.columns, row, strict=True)
        )
        eps = "".join(by_child.get(row.CHILD, []))
        children.append(f"<CHILD><HEADER>{fields}</HEADER>{eps}</CHILD>")
    return f"<EXPSSDA903>{''.join(children)}</EXPSSDA903>"


def test_903_xml_reads_like_its_csv_tables(tmp_path):
    xml = write(tmp_path / "ssda903_2021.xml", episodes_as_xml(SSDA903_DIR))
    from_csv = csr.read_ssda903([SSDA903_DIR])
    from_xml = csr.read_ssda903([xml])
    for name in ("header", "episodes"):
        pd.testing.assert_frame_equal(from_xml[name], from_csv[name])
    assert len(from_xml["episodes"]) == 5050


@pytest.mark.parametrize("layout", ["same_folder", "same_year"])
def test_903_given_as_csv_and_xml_is_an_error_naming_both(tmp_path, layout):
    csv_dir = write_903(tmp_path / "903_2020", HEADER_CSV, EPISODES_CSV)
    xml_dir = csv_dir if layout == "same_folder" else tmp_path / "xml"
    xml = write(xml_dir / "return_2020.xml", "<EXPSSDA903></EXPSSDA903>")
    inputs = [csv_dir] if layout == "same_folder" else [csv_dir, xml]
    with pytest.raises(InputError, match="given twice") as error:
        csr.read_ssda903(inputs)
    assert str(xml) in str(error.value) and "903_2020" in str(error.value)


@pytest.mark.parametrize(
    ("xml", "expected"),
    [
        ("<EXPSSDA903><CHILD><HEADER>\n</EXPSSDA903>", "not well-formed XML at line 2"),
        (
            "<EXPSSDA903><CHILD><HEADER><SEX>1</SEX></HEADER></CHILD></EXPSSDA903>",
            "<CHILD> number 1 has no <HEADER><CHILDID>",
        ),
        (
            "<EXPSSDA903><CHILD><HEADER><CHILDID>X1</CHILDID><DOB>2012-13-45</DOB></HEADER>"
            "</CHILD></EXPSSDA903>",
            "element <DOB> of <CHILD> number 1: cannot read the date written '9999-99-99'",
        ),
        (
            "<EXPSSDA903><CHILD><HEADER><CHILDID>X1</CHILDID></HEADER><EPISODE><LS>C2</LS>"
            "</EPISODE></CHILD></EXPSSDA903>",
            "an <EPISODE> of <CHILD> number 1 has no <DECOM>",
        ),
    ],
)
def test_malformed_903_xml_names_file_and_element(tmp_path, xml, expected):
    path = write(tmp_path / "return.xml", xml)
    with pytest.raises(InputError, match=re.escape(expected)) as error:
        csr.read_ssda903([path])
    assert str(path) in str(error.value)


def test_synthetic_la_written_as_cin_census_reads_back(tmp_path):
    import generate_synthetic_la as gen

    names = ["children", "referrals", "assessments", "section47", "cp_plans"]
    exports = {
        n: pd.read_csv(ROOT / "resources" / "synthetic" / f"{n}.csv", dtype=str) for n in names
    }
    keep = set(exports["children"]["LAchildID"].head(150))
    exports = {n: frame.loc[frame["LAchildID"].isin(keep)] for n, frame in exports.items()}
    paths = gen.write_cin_census(exports, tmp_path)
    assert [p.name for p in paths] == [f"cin_census_{year}.xml" for year in range(2015, 2021)]
    tables = csr.read_cin_census(paths)
    columns = ["LAchildID", "CINreferralDate", "ReferralNFA", "CINclosureDate", "ReasonForClosure"]
    order = ["LAchildID", "CINreferralDate"]
    read = tables["referrals"].sort_values(order)[columns].reset_index(drop=True)
    written = exports["referrals"].sort_values(order)[columns].reset_index(drop=True)
    pd.testing.assert_frame_equal(read.fillna(""), written.astype("string").fillna(""))
    for name in ["assessments", "section47", "cp_plans"]:
        assert len(tables[name]) == len(exports[name]), name


@pytest.mark.parametrize("case", ["bad_date", "missing_header", "csv_and_xml"])
def test_failed_conversion_leaves_no_output(tmp_path, case):
    cin = write(tmp_path / "cin.xml", cin_xml(2021, child_xml()))
    ssda = write_903(tmp_path / "903_2021", HEADER_CSV, EPISODES_CSV)
    if case == "bad_date":
        cin = write(cin, cin_xml(2021, child_xml(referral="2020-02-30")))
    elif case == "missing_header":
        (ssda / "header.csv").unlink()
    else:
        write(ssda / "return.xml", "<EXPSSDA903/>")
    out = tmp_path / "out"
    with pytest.raises(InputError):
        csr.convert([cin], [ssda], None, out)
    assert not out.exists() or not any(out.iterdir())


def test_903_csv_without_header_row_keeps_its_first_record_out_of_the_log(tmp_path, caplog):
    directory = write_903(tmp_path / "r", HEADER_CSV, EPISODES_CSV)
    record = ["C0000073", "1", "16/02/2015", "WBRI", "C183620253380"]
    write(directory / "extra.csv", ",".join(record) + "\nC0000074,2,01/03/2016,WBRI,X1\n")
    with caplog.at_level(logging.INFO):
        csr.read_ssda903([directory])
    assert "extra.csv" in caplog.text and "no header row" in caplog.text
    assert not [value for value in record if len(value) > 1 and value in caplog.text]


def test_903_csv_with_a_header_row_lists_its_columns(tmp_path, caplog):
    directory = write_903(tmp_path / "r", HEADER_CSV, EPISODES_CSV)
    write(directory / "extra.csv", "CHILD,NOTE\n903A,x\n")
    with caplog.at_level(logging.WARNING):
        csr.read_ssda903([directory])
    assert "columns ['CHILD', 'NOTE'] match no SSDA903 table" in caplog.text


def test_rewriting_a_file_in_a_903_folder_reruns_the_conversion(tmp_path):
    # Snakemake sees a folder's mtime only, which a file rewritten in place
    # leaves alone: the rule must list the folder's files.
    from conftest import scratch_copy, snakemake

    # the returns outside the workflow's folder, as an LA's must be
    workflow, returns = tmp_path / "workflow", tmp_path / "returns"
    scratch_copy(ROOT, workflow)
    shutil.copytree(SSDA903_DIR, returns / "903_2021")
    shutil.copy(CIN_SAMPLE, returns / "cin_2022.xml")
    config = {
        "la": "test_statutory",
        # the scratch copy holds no notes: the conversion needs none
        "designs": {"text": False},
        "statutory": {
            "cin": [str(returns / "cin_2022.xml")],
            "ssda903": [str(returns / "903_2021")],
            "directory": str(returns / "converted"),
        },
    }
    (workflow / "config" / "statutory.yaml").write_text(yaml.safe_dump(config))
    args = ("convert_statutory_returns", "--cores", "1", "--configfile", "config/statutory.yaml")
    # returns outside the demo data take a real key
    key = {"LA_PSEUDONYMISATION_KEY": "a-test-key-of-more-than-sixteen-characters"}
    done = snakemake(*args, cwd=workflow, extra_env=key)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "Nothing to be done" in snakemake("-n", *args, cwd=workflow, extra_env=key).stdout
    folder_mtime = (returns / "903_2021").stat().st_mtime_ns
    episodes = returns / "903_2021" / "episodes.csv"
    # Rewritten in place, as by an editor saving over it (Snakemake also
    # compares small inputs' checksums, so the bytes must change).
    episodes.write_bytes(episodes.read_bytes().replace(b"\n", b"\r\n"))
    assert (returns / "903_2021").stat().st_mtime_ns == folder_mtime
    planned = snakemake("-n", *args, cwd=workflow, extra_env=key).stdout
    assert "Job stats:" in planned, planned
    assert "convert_statutory_returns" in planned.split("Job stats:")[1]


def test_families_file_matching_few_children_stops_the_run(tmp_path):
    # Every id mangled, e.g. leading zeros stripped by Excel: no sibling would
    # be kept on one side of a split.
    children = pd.DataFrame({"LAchildID": [f"0{n:04d}" for n in range(400)]}, dtype="string")
    rows = "".join(f"{n},F{n // 2}\n" for n in range(400)) + "00001,F0\n"
    path = write(tmp_path / "families.csv", "LAchildID,FamilyID\n" + rows)
    with pytest.raises(InputError) as error:
        csr.assign_families(children, path)
    message = str(error.value)
    assert "families.csv" in message and "only 1 of 400 child(ren)" in message
    assert "400 of its 401 row(s) match no child" in message
    assert "leading zeros" in message and "LAchildID" in message
    assert "00001" not in message


def test_families_file_matching_most_children_warns_with_counts(tmp_path, caplog):
    children = pd.DataFrame({"LAchildID": ["a", "b", "c", "d"]}, dtype="string")
    path = write(tmp_path / "families.csv", "LAchildID,FamilyID\na,F1\nb,F1\nc,F2\nz,F3\n")
    with caplog.at_level(logging.WARNING):
        out = csr.assign_families(children, path)
    assert out["FamilyID"].tolist() == ["F1", "F1", "F2", "d"]
    assert "1 of 4 child(ren) not listed" in caplog.text
    assert "1 of its 4 row(s) match no child" in caplog.text


@pytest.mark.parametrize(
    ("change", "what"),
    [
        (("2012-01-15", "2013-01-15"), "birth date"),
        (("<GenderCurrent>2</GenderCurrent>", "<GenderCurrent>1</GenderCurrent>"), "sex"),
    ],
)
def test_child_repeated_in_one_cin_return_with_other_facts_is_an_error(tmp_path, change, what):
    repeated = child_xml(referral="2021-01-01").replace(*change)
    path = write(
        tmp_path / "cin.xml",
        cin_xml(2022, child_xml() + child_xml(child_id="C2") + repeated),
    )
    with pytest.raises(InputError) as error:
        csr.read_cin_census([path])
    message = str(error.value)
    assert "cin.xml" in message and what in message
    assert "<Child> number 1 and <Child> number 3" in message
    assert "C1" not in message and "2013" not in message and "2012" not in message


def test_child_repeated_in_one_cin_return_with_the_same_facts_is_merged(tmp_path):
    path = write(
        tmp_path / "cin.xml", cin_xml(2022, child_xml() + child_xml(referral="2021-01-01"))
    )
    tables = csr.read_cin_census([path])
    assert len(tables["children"]) == 1 and len(tables["referrals"]) == 2


def test_facts_changed_between_cin_returns_are_counted(tmp_path, caplog):
    old = write(tmp_path / "cin2021.xml", cin_xml(2021, child_xml() + child_xml(child_id="C2")))
    new = write(
        tmp_path / "cin2022.xml",
        cin_xml(
            2022,
            child_xml().replace("2012-01-15", "2012-02-15")
            + child_xml(child_id="C2", sex="<Sex>M</Sex>"),
        ),
    )
    with caplog.at_level(logging.WARNING):
        tables = csr.read_cin_census([old, new])
    assert "1 child(ren) have a different birth date" in caplog.text
    assert "1 a different sex" in caplog.text
    assert "C1" not in caplog.text and "C2" not in caplog.text
    assert tables["children"]["PersonBirthDate"].tolist() == ["2012-02-15", "2012-01-15"]


def test_903_header_children_without_episodes_are_counted(tmp_path, caplog):
    # An episodes file holding only its header row: no looked-after episode at all.
    header = HEADER_CSV + "903B,2,01/02/2010,WIRT,U9,,\n"
    directory = write_903(tmp_path / "r", header, EPISODES_CSV.split("\n")[0] + "\n")
    with caplog.at_level(logging.WARNING):
        tables = csr.read_ssda903([directory])
    assert tables["episodes"].empty
    assert "2 of 2 looked-after child(ren) in the header have no episode" in caplog.text
    assert "episodes.csv" in caplog.text and "903A" not in caplog.text


def test_903_rows_of_separators_only_are_skipped_and_counted(tmp_path, caplog):
    # Excel leaves rows of separators below a table it saved as CSV.
    directory = write_903(
        tmp_path / "r", HEADER_CSV + ",,,,,,\n", EPISODES_CSV + ",,,,,,,,,,,,\n" * 2
    )
    with caplog.at_level(logging.INFO):
        tables = csr.read_ssda903([directory])
    assert len(tables["episodes"]) == 1 and len(tables["header"]) == 1
    assert "episodes.csv: 2 empty row(s)" in caplog.text
    assert "header.csv: 1 empty row(s)" in caplog.text


def test_903_bad_row_after_an_empty_row_names_its_line(tmp_path):
    episodes = EPISODES_CSV + " , ,,,,,,,,,,,\n" + "903A,2020/07/01,S,C2,N1,U1,PR1,,X1,,,,\n"
    directory = write_903(tmp_path / "r", HEADER_CSV, episodes)
    with pytest.raises(InputError, match=r"episodes.csv: column DECOM, line 4: "):
        csr.read_ssda903([directory])


def test_903_table_with_a_renamed_column_is_named_with_what_it_lacks(tmp_path):
    episodes = EPISODES_CSV.replace("CHILD,DECOM,", "CHILD,START_DATE,", 1)
    directory = write_903(tmp_path / "r", HEADER_CSV, episodes)
    with pytest.raises(InputError) as error:
        csr.read_ssda903([directory])
    message = str(error.value)
    assert "no Episodes table" in message
    assert "episodes.csv comes closest but lacks column(s) ['DECOM']" in message
    assert "add the missing table's CSV" not in message


@pytest.mark.parametrize("separator", [";", "\t"])
def test_903_table_separated_by_semicolons_says_so(tmp_path, separator):
    directory = write_903(tmp_path / "r", HEADER_CSV.replace(",", separator), EPISODES_CSV)
    with pytest.raises(InputError) as error:
        csr.read_ssda903([directory])
    message = str(error.value)
    assert "header.csv" in message and f"separated by {separator!r}, not by commas" in message
    assert "903A" not in message and "add the missing table's CSV" not in message


def test_903_table_separated_by_semicolons_with_commas_in_values_says_so(tmp_path):
    """A comma inside a value makes such a file unreadable as CSV; the
    separator is still named, rather than a parser error."""
    rows = EPISODES_CSV.replace(",", ";")
    later = rows.splitlines()[1].replace(";X1;", ";X1, placed by court order, then moved;")
    episodes = rows + later.replace("01/06/2020", "01/09/2020") + "\n"
    directory = write_903(tmp_path / "r", HEADER_CSV, "\ufeff" + episodes)
    with pytest.raises(InputError) as error:
        csr.read_ssda903([directory])
    message = str(error.value)
    assert "episodes.csv" in message and "separated by ';', not by commas" in message
    assert "not a readable CSV" not in message


def test_cin_census_saved_as_windows_1252_but_declared_utf8_says_so(tmp_path):
    text = '<?xml version="1.0" encoding="UTF-8"?>\n' + cin_xml(2022, child_xml()).replace(
        "<Collection>CIN</Collection>", "<Collection>CIN</Collection>\n<Source>Café</Source>"
    )
    path = tmp_path / "cin.xml"
    path.write_bytes(text.encode("cp1252"))
    with pytest.raises(InputError) as error:
        csr.read_cin_census([path])
    message = str(error.value)
    assert "cin.xml" in message and "line 3" in message
    assert "not UTF-8" in message and "Windows-1252" in message
