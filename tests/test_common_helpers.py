"""Tests for common.run, the wrapper every script's main runs in, the
pseudonymisation key (where it is found and its fingerprint), and reading an
export that is not comma-separated."""

from pathlib import Path

import pandas as pd
import pytest

from common import (
    InputError,
    age_in_years,
    check_key_fingerprint,
    is_shown_key_file,
    key_fingerprint,
    read_mapped_csv,
    resolve_key,
    run,
    wrong_separators,
)


def test_bad_input_is_a_plain_message_in_the_log(tmp_path):
    log = tmp_path / "job.log"

    def main():
        raise InputError("children.csv, line 3: column Sex is empty; fill it in.")

    with pytest.raises(SystemExit) as stopped:
        run(main, str(log))
    assert stopped.value.code == 1
    text = log.read_text()
    assert "line 3: column Sex is empty" in text and "Traceback" not in text


def test_an_unexpected_error_is_logged_without_its_message(tmp_path):
    log = tmp_path / "job.log"

    def main():
        value = "Jayden Smith"  # as if read from a raw export
        int(value)

    with pytest.raises(ValueError, match="Jayden Smith"):
        run(main, str(log))
    text = log.read_text()
    assert "unexpected ValueError" in text
    assert "in main" in text and "int(value)" in text
    assert "Jayden" not in text and "invalid literal" not in text


def test_a_key_changed_after_planning_is_refused():
    key = b"the-key-snakemake-planned-with"
    check_key_fingerprint(key, key_fingerprint(key))
    assert key_fingerprint(key) != key_fingerprint(b"another-key-typed-later")
    assert key.decode() not in key_fingerprint(key)
    with pytest.raises(InputError, match="changed between planning and running"):
        check_key_fingerprint(b"another-key-typed-later", key_fingerprint(key))


@pytest.mark.parametrize("demo_key", [None, "DEMO-KEY-for-synthetic-data-only"])
def test_a_key_file_set_but_missing_is_named_not_called_unset(monkeypatch, tmp_path, demo_key):
    # "no pseudonymisation key: ... or set pseudonymisation.key_file" misled an
    # analyst who had set it; nor may a mistyped key file fall back to the demo key
    monkeypatch.delenv("TEST_COMMON_KEY", raising=False)
    missing = tmp_path / "la_key.txt"
    with pytest.raises(InputError, match=f"key file {missing} .* does not exist") as error:
        resolve_key("TEST_COMMON_KEY", str(missing), demo_key)
    assert "no pseudonymisation key" not in str(error.value)
    with pytest.raises(InputError, match=f"key file {tmp_path} .* is not a file"):
        resolve_key("TEST_COMMON_KEY", str(tmp_path), demo_key)
    # nor does a key in the environment variable hide the mistyped file
    monkeypatch.setenv("TEST_COMMON_KEY", "0123456789abcdef0123")
    with pytest.raises(InputError, match=f"key file {missing} .* does not exist"):
        resolve_key("TEST_COMMON_KEY", str(missing), demo_key)


def test_a_key_file_named_without_a_folder_is_named_once_it_exists(monkeypatch, tmp_path):
    # a name in the working directory is evidently a path when it exists: it is
    # not taken for a key pasted into key_file, when planning nor when running
    monkeypatch.delenv("TEST_COMMON_KEY", raising=False)
    monkeypatch.chdir(tmp_path)
    Path("la.key").write_text("0123456789abcdef0123\n", encoding="utf-8")
    assert is_shown_key_file(Path("la.key"))
    Path("keys").mkdir()
    assert is_shown_key_file(Path("keys"))
    with pytest.raises(InputError, match="key file keys .* is not a file"):
        resolve_key("TEST_COMMON_KEY", "keys", None)


def test_an_empty_key_file_says_it_is_empty(monkeypatch, tmp_path):
    monkeypatch.delenv("TEST_COMMON_KEY", raising=False)
    key_file = tmp_path / "la.key"
    key_file.write_text("\n", encoding="utf-8")
    with pytest.raises(InputError, match=f"key file {key_file} is empty: write a long random"):
        resolve_key("TEST_COMMON_KEY", str(key_file), None)


def test_a_key_file_and_a_different_variable_stop_the_run(monkeypatch, tmp_path):
    # The variable, exported once (maybe for another LA), silently beat the key
    # file an analyst set: this LA's records got that key's pseudonyms.
    exported, in_file = "key-exported-for-another-la", "this-las-own-key-in-its-file"
    key_file = tmp_path / "la.key"
    key_file.write_text(f"{in_file}\n", encoding="utf-8")
    monkeypatch.setenv("TEST_COMMON_KEY", exported)
    with pytest.raises(InputError, match="two different pseudonymisation keys") as error:
        resolve_key("TEST_COMMON_KEY", str(key_file), None)
    message = str(error.value)
    assert "TEST_COMMON_KEY" in message and str(key_file) in message
    assert "unset TEST_COMMON_KEY" in message and "remove key_file" in message
    assert exported not in message and in_file not in message
    # the same key in both is one key
    monkeypatch.setenv("TEST_COMMON_KEY", f" {in_file}")
    assert resolve_key("TEST_COMMON_KEY", str(key_file), None) == in_file.encode()
    # either alone is used
    monkeypatch.delenv("TEST_COMMON_KEY")
    assert resolve_key("TEST_COMMON_KEY", str(key_file), None) == in_file.encode()
    monkeypatch.setenv("TEST_COMMON_KEY", exported)
    assert resolve_key("TEST_COMMON_KEY", None, None) == exported.encode()


def test_ages_count_from_the_middle_of_the_birth_month():
    birth_month = pd.Series(pd.to_datetime(["2002-05-01", "2002-05-01", None]))
    on = pd.Series(pd.to_datetime(["2020-05-10", "2020-05-20", "2020-05-20"]))
    age = age_in_years(birth_month, on)
    # Born in May 2002: probably still 17 on 10 May 2020, probably 18 by the 20th.
    assert 17.9 < age[0] < 18 < age[1] < 18.1
    assert pd.isna(age[2])


def test_export_separated_by_semicolons_with_commas_in_a_note_names_the_separator(tmp_path):
    """A later row with more commas than the first makes such a file
    unreadable as CSV: the separator, not CSV quoting, is what to fix."""
    path = tmp_path / "notes.csv"
    path.write_text(
        "NoteID;LAchildID;NoteText\nN1;C1;Seen at home\nN2;C1;Seen, then, later, at school\n",
        encoding="utf-8-sig",
    )
    with pytest.raises(InputError) as error:
        read_mapped_csv(path, {"note_id": "NoteID", "child_id": "LAchildID"}, "notes")
    message = str(error.value)
    assert "notes.csv has its columns separated by ';', not by commas" in message
    assert "double quotes" not in message


def test_a_header_without_commas_names_its_separator_and_one_with_commas_none():
    assert wrong_separators("NoteID;LAchildID") == [";"]
    assert wrong_separators("NoteID\tLAchildID") == ["\t"]
    assert wrong_separators("NoteID|LAchildID") == ["|"]
    # comma-separated, a column name holding a semicolon
    assert wrong_separators("NoteID,Date;Time") == []
