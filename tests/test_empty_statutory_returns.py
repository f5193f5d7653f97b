"""A CIN census return without children stops the conversion with a clear error."""

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
