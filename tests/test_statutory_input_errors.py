"""Statutory returns that cannot be converted stop with a clear error: a CIN
census without children, and bad SSDA903 rows named by their physical line."""

from pathlib import Path

import pytest

import convert_statutory_returns as csr
from common import InputError

CIN_SAMPLE = (
    Path(__file__).resolve().parent / "data" / "external_samples" / "liia-tools" / "cin-2022.xml"
)


def test_cin_census_without_children_is_a_clear_error(tmp_path):
    text = CIN_SAMPLE.read_text(encoding="utf-8")
    start, end = text.index("<Children>"), text.index("</Children>") + len("</Children>")
    empty = tmp_path / "cin-empty.xml"
    empty.write_text(text[:start] + "<Children></Children>" + text[end:], encoding="utf-8")
    out = tmp_path / "statutory"
    with pytest.raises(InputError, match=r"cin-empty.xml hold no <Child>.*statutory.cin"):
        csr.convert([empty], [], None, out)
    assert not out.exists()


# The first episode's home postcode cell spans two lines: the second episode
# starts on line 4.
HEADER_CSV = "CHILD,SEX,DOB,ETHNIC,UPN\n903A,1,15/01/2012,WBRI,U1\n903B,2,15/01/2013,WBRI,U2\n"
EPISODES_CSV = (
    "CHILD,DECOM,RNE,LS,CIN,PLACE,DEC,REC,HOME_POST\n"
    '903A,01/06/2020,S,C2,N1,U1,,X1,"LS1\n1AA"\n'
    "903B,2020/06/01,S,C2,N1,U1,,X1,LS2\n"
)


def test_903_bad_date_after_a_multiline_cell_names_the_physical_line(tmp_path):
    directory = tmp_path / "ssda903"
    directory.mkdir()
    (directory / "header.csv").write_text(HEADER_CSV, encoding="utf-8")
    (directory / "episodes.csv").write_text(EPISODES_CSV, encoding="utf-8")
    with pytest.raises(InputError, match=r"episodes.csv: column DECOM, line 4: .*'9999/99/99'"):
        csr.read_ssda903([directory])


def test_families_row_after_a_multiline_cell_names_the_physical_line(tmp_path):
    path = tmp_path / "families.csv"
    path.write_text('LAchildID,FamilyID,Note\nC1,F1,"two\nlines"\nC2,,\n', encoding="utf-8")
    with pytest.raises(InputError, match=r"families.csv: line 4: LAchildID or FamilyID"):
        csr.read_families(path)
