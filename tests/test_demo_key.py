"""The public demo pseudonymisation key is offered only when every input is demo
data, and no key file or LA data is accepted inside the repository."""

import pytest
import yaml
from conftest import ROOT, common_smk

EXAMPLE_STATUTORY = {
    "cin": ["tests/data/external_samples/liia-tools/cin-2022.xml"],
    "ssda903": ["tests/data/external_samples/csc-validator-be-903"],
    "families": None,
    "directory": "resources/synthetic/generated/example_statutory",
}


def demo_key(monkeypatch, overrides: dict) -> str | None:
    """What ``demo_key()`` of workflow/rules/common.smk returns (``common_smk``)."""
    return common_smk(monkeypatch, overrides)["demo_key"]()


def test_demo_key_for_bundled_and_example_statutory_data(monkeypatch):
    key = "DEMO-KEY-for-synthetic-data-only"
    assert demo_key(monkeypatch, {}) == key
    assert demo_key(monkeypatch, {"statutory": EXAMPLE_STATUTORY}) == key
    # a families table is one path (it was once unpacked character by character)
    with_families = {**EXAMPLE_STATUTORY, "families": "tests/data/families.csv"}
    assert demo_key(monkeypatch, {"statutory": with_families}) == key


@pytest.mark.parametrize(
    "statutory",
    [
        {**EXAMPLE_STATUTORY, "cin": [*EXAMPLE_STATUTORY["cin"], "/data/la/cin-2023.xml"]},
        {**EXAMPLE_STATUTORY, "ssda903": ["/data/la/903"]},
        {**EXAMPLE_STATUTORY, "families": "/data/la/families.csv"},
        {**EXAMPLE_STATUTORY, "directory": "/data/la/converted"},
        {**EXAMPLE_STATUTORY, "cin": ["resources/synthetic/../../../data/cin.xml"]},
    ],
)
def test_no_demo_key_when_any_statutory_input_is_elsewhere(monkeypatch, statutory):
    assert demo_key(monkeypatch, {"statutory": statutory}) is None


def test_no_demo_key_for_data_elsewhere(monkeypatch, tmp_path):
    data = yaml.safe_load((ROOT / "config" / "config.yaml").read_text())["data"]
    assert demo_key(monkeypatch, {"data": {**data, "directory": str(tmp_path)}}) is None


def test_the_bundled_las_name_is_refused_for_other_data(monkeypatch, tmp_path):
    data = yaml.safe_load((ROOT / "config" / "config.yaml").read_text())["data"]
    assert demo_key(monkeypatch, {"la": "synthetic"}) is not None
    with pytest.raises(Exception, match="set la: <a short name for your LA>"):
        demo_key(monkeypatch, {"la": "synthetic", "data": {**data, "directory": str(tmp_path)}})


def test_a_key_file_inside_the_repository_is_refused(monkeypatch):
    pseudonymisation = {"key_env": "LA_PSEUDONYMISATION_KEY", "demo_key": None}
    for key_file in ("config/mykey.txt", str(ROOT / "resources" / "key")):
        with pytest.raises(Exception, match=f"key_file {key_file} is inside the repository"):
            demo_key(monkeypatch, {"pseudonymisation": {**pseudonymisation, "key_file": key_file}})
    # a missing file with no folder written in it could be a pasted key: refused unnamed
    with pytest.raises(Exception, match="is not the path of a file") as error:
        demo_key(
            monkeypatch, {"pseudonymisation": {**pseudonymisation, "key_file": "./.la-secret"}}
        )
    assert "la-secret" not in str(error.value)
    assert (
        demo_key(monkeypatch, {"pseudonymisation": {**pseudonymisation, "key_file": "~/k"}}) is None
    )


def test_a_key_pasted_into_key_file_is_not_repeated_when_planning(monkeypatch):
    secret = "9f8e7d6c5b4a39281706f5e4d3c2b1a09f8e7d6c5b4a39281706f5e4d3c2b1a0"
    pseudonymisation = {"key_env": "LA_PSEUDONYMISATION_KEY", "demo_key": None}
    with pytest.raises(Exception, match="is not the path of a file") as error:
        demo_key(monkeypatch, {"pseudonymisation": {**pseudonymisation, "key_file": secret}})
    assert secret not in str(error.value)


@pytest.mark.parametrize(
    ("key", "overrides"),
    [
        ("data.directory", {"data": {"directory": "exports"}}),
        ("data.directory", {"data": {"directory": "results/la"}}),
        ("data.directory", {"data": {"directory": "resources/my_la"}}),
        ("statutory.cin", {"statutory": {**EXAMPLE_STATUTORY, "cin": ["config/cin-2023.xml"]}}),
        ("statutory.ssda903", {"statutory": {**EXAMPLE_STATUTORY, "ssda903": ["903"]}}),
        ("statutory.families", {"statutory": {**EXAMPLE_STATUTORY, "families": "fam.csv"}}),
        ("statutory.directory", {"statutory": {**EXAMPLE_STATUTORY, "directory": "converted"}}),
    ],
)
def test_la_data_inside_the_repository_is_refused(monkeypatch, key, overrides):
    # `git add -A` would commit it: .gitignore covers only results/ and the
    # generated synthetic exports
    data = yaml.safe_load((ROOT / "config" / "config.yaml").read_text())["data"]
    if "data" in overrides:
        overrides = {"data": {**data, **overrides["data"]}}
    with pytest.raises(Exception, match=f"config: {key} .* is inside the repository"):
        demo_key(monkeypatch, overrides)


def test_demo_data_and_test_samples_may_stay_inside_the_repository(monkeypatch, tmp_path):
    data = yaml.safe_load((ROOT / "config" / "config.yaml").read_text())["data"]
    # (a folder under resources/synthetic is accepted too: tests/test_workflow.py's
    # no-notes copy keeps its exports there)
    assert demo_key(monkeypatch, {"statutory": EXAMPLE_STATUTORY}) is not None
    assert demo_key(monkeypatch, {"data": {**data, "directory": str(tmp_path)}}) is None


def test_a_home_folder_in_data_paths_is_expanded_as_in_the_key_file(monkeypatch, tmp_path):
    # "~/walk_home_data" was taken as a folder named "~" inside the repository
    # and refused as such, while key_file: ~/... was expanded
    monkeypatch.setenv("HOME", str(tmp_path))
    (tmp_path / "walk_home_data").mkdir()
    data = yaml.safe_load((ROOT / "config" / "config.yaml").read_text())["data"]
    statutory = {
        "cin": ["~/returns/cin-2023.xml"],
        "ssda903": ["~/returns/903"],
        "families": "~/returns/families.csv",
        "directory": "~/converted",
    }
    overrides = {"data": {**data, "directory": "~/walk_home_data"}, "statutory": statutory}
    assert demo_key(monkeypatch, overrides) is None
    paths = common_smk(monkeypatch, overrides)["configured_data_paths"]()
    assert paths == {
        "data.directory": [str(tmp_path / "walk_home_data")],
        "statutory.cin": [str(tmp_path / "returns" / "cin-2023.xml")],
        "statutory.ssda903": [str(tmp_path / "returns" / "903")],
        "statutory.families": [str(tmp_path / "returns" / "families.csv")],
        "statutory.directory": [str(tmp_path / "converted")],
    }
