"""Redaction of case notes: names, identifier patterns, pseudonyms and shards."""

from __future__ import annotations

import logging
import re
import types
import unicodedata
from pathlib import Path

import pandas as pd
import pyarrow.parquet as pq
import pytest
import spacy

import redact_notes as rn
from common import (
    MIN_CHILDREN_SHOWN_VALUE,
    InputError,
    key_fingerprint,
    pseudonymise,
    read_parquet,
    resolve_key,
)

KEY_ENV = "TEST_REDACT_NOTES_KEY"
KEY = "test-key-of-16-characters"
NOTES_COLUMNS = {
    "note_id": "NoteID",
    "child_id": "LAchildID",
    "note_datetime": "NoteDateTime",
    "document_type": "DocumentType",
    "text": "NoteText",
}
PEOPLE_COLUMNS = {
    "child_id": "LAchildID",
    "first_name": "ChildFirstName",
    "last_name": "ChildLastName",
    "carer_names": "CarerNames",
}


def redact_one(text: str, names: list[str] = ()) -> str:
    return rn.redact(pd.Series([text]), list(names)).iloc[0]


# --- names -----------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("Sarah said", "NAME said"),
        ("SARAH and sarah and sArAh", "NAME and NAME and NAME"),
        ("Sarah's room", "NAME's room"),
        ("Sarah’s room", "NAME’s room"),
        ("saw Sarah.", "saw NAME."),
        ("(Sarah)", "(NAME)"),
        ("Sarah Smith-Jones", "NAME NAME-NAME"),
        ("Ann will announce it", "NAME will announce it"),
        ("Anna and Annabel and Joanne", "Anna and Annabel and Joanne"),
        ("Smithson smithsy", "Smithson smithsy"),
    ],
)
def test_names_are_whole_words_in_any_case(text, expected):
    assert redact_one(text, ["sarah", "ann", "smith", "jones"]) == expected


@pytest.mark.parametrize(
    ("note", "redacted"),
    [
        ("Jaydens bag", "NAME bag"),
        ("the Smiths came", "the NAME came"),
        ("the Murphys' house", "the NAME' house"),
        ("Jayden’s room", "NAME’s room"),
        ("Nowak_referral.docx", "NAME_referral.docx"),
        ("jayden2 and 2nowak", "NAME2 and 2NAME"),
        # Other words still need a break after the name.
        ("Smithson, Jaydenson, Nowakowski, Jaydenss", "Smithson, Jaydenson, Nowakowski, Jaydenss"),
    ],
)
def test_names_with_a_plural_s_or_glued_to_digits_or_underscores(note, redacted):
    assert redact_one(note, ["jayden", "smith", "murphy", "nowak"]) == redacted


def test_plural_s_is_not_taken_where_name_and_s_make_an_ordinary_word():
    note = "Seen 3 days ago; marks on his arm. She hopes Mark Day and Hope came to the Smiths."
    assert redact_one(note, ["mark", "day", "hope", "smith"]) == (
        "Seen 3 days ago; marks on his arm. She hopes NAME NAME and NAME came to the NAME."
    )
    # A possessive without an apostrophe goes; one that makes an ordinary word
    # goes only when capitalised inside a sentence.
    assert redact_one("Jaydens and Marks bags", ["jayden", "mark"]) == "NAME and NAME bags"
    assert redact_one("Marks on arm, saw Marks bag; Days, Hopes", ["mark", "day", "hope"]) == (
        "Marks on arm, saw NAME bag; NAME, NAME"
    )
    assert redact_one("New marks. Marks fade", ["mark"]) == "New marks. Marks fade"


def test_longest_name_wins_over_a_prefix_that_may_take_a_plural_s():
    assert redact_one("Mary-Jane, Marys bag", ["mary", "mary-jane"]) == "NAME, NAME bag"


def test_longest_name_wins_over_its_prefix():
    assert redact_one("Mary-Jane and Mary", ["mary", "mary-jane"]) == "NAME and NAME"
    assert redact_one("Annabel", ["ann", "annabel"]) == "NAME"


def test_lowercase_that_lengthens_text_still_redacts():
    # "İ" lowercases to two characters: the note is redacted in lowercase.
    assert redact_one("İzmir trip with Sarah", ["sarah"]) == "i̇zmir trip with NAME"


@pytest.mark.parametrize(
    ("person", "note"),
    [
        ("Zoe", "Zoë came"),
        ("Zoë", "ZOE came"),
        ("Zoë", "ZOË came"),
        ("Zoe", unicodedata.normalize("NFD", "Zoë came")),
        ("José Pérez", "Perez came"),
        ("Lukasz", "Łukasz came"),
        ("Søren", "SOREN came"),
    ],
)
def test_names_match_with_or_without_accents_on_either_side(person, note):
    people = pd.DataFrame(
        {"child_id": ["C1"], "first_name": [person], "last_name": [pd.NA], "carer_names": [pd.NA]}
    )
    names = rn.people_names(people, ";", rn.english_words())
    assert redact_one(note, names) == "NAME came"


def test_name_variants_cover_spellings_and_skip_titles_and_initials():
    assert rn.name_variants("Mary-Jane O'Connor") == {
        "mary-jane",
        "mary",
        "jane",
        "o'connor",
        "o’connor",
        "oconnor",
        "connor",
    }
    assert rn.name_variants("Zoë") == {"zoë"}
    assert rn.name_variants("Mrs J Smith") == {"smith"}


def test_people_names_takes_children_every_carer_and_typos():
    people = pd.DataFrame(
        {
            "child_id": ["C1", "C2"],
            "first_name": ["Brian", pd.NA],
            "last_name": ["Smith", "Okafor"],
            "carer_names": ["Tom Smith;Lisa Brown", pd.NA],
        }
    )
    names = rn.people_names(people, ";", rn.english_words())
    assert names == sorted(names)
    assert {"brian", "smith", "okafor", "tom", "lisa", "brown"} <= set(names)
    # Misspellings are names too, unless they are words.
    assert {"biran", "smtih", "okafro"} <= set(names)
    assert "brain" not in names
    assert redact_one("Biran and Smtih use their brain", names) == "NAME and NAME use their brain"


def test_typo_variants_swap_adjacent_letters_of_longer_names():
    assert rn.typo_variants("keith") == {"ekith", "kieth", "ketih", "keiht"}
    assert rn.typo_variants("anna") == set()
    assert rn.typo_variants("mary-jane") == set()
    assert "llama" not in rn.typo_variants("llama")


def test_trie_regex_matches_exactly_the_words():
    words = ["ann", "anna", "annabel", "bob", "o'neil", "jo.ann"]
    pattern = re.compile(rn.trie_regex(words))
    assert all(pattern.fullmatch(w) for w in words)
    for other in ["an", "annab", "annabell", "bo", "oneil", "joxann", ""]:
        assert not pattern.fullmatch(other)


# --- patterns --------------------------------------------------------------


@pytest.mark.parametrize(
    ("kind", "examples"),
    [
        ("EMAIL", ["j.smith@example.org", "SARAH.JONES+cp@mail.co.uk", "x_y-z@la.gov.uk"]),
        ("UPN", ["A123456789012", "h80120601502b", "Z80120601502K"]),
        (
            "PHONE",
            [
                "07700 900123",
                "07700900123",
                "07700-900-123",
                "+44 7700 900123",
                "+447700900123",
                "+44 (0)7700 900123",
                "0044 7700 900123",
                "0113 496 0000",
                "020 7946 0000",
                "01632 960000",
                "(0113) 496 0000",
                "+44-7700-900123",
                "07700.900.123",
                "0113.496.0000",
            ],
        ),
        ("NHS_NUMBER", ["943 476 5919", "9434765919", "943-476-5919", "943 4765 919"]),
        (
            "POSTCODE",
            [
                "LS12 4AB",
                "M1 1AA",
                "m1 1aa",
                "SW1A 1AA",
                "sw1a1aa",
                "B33 8TH",
                "B15  2TT",
                "B15-2TT",
            ],
        ),
        (
            "DATE",
            [
                "03/04/2012",
                "3/4/12",
                "03-04-2012",
                "3.4.2012",
                "2012-04-03",
                "3 April 2012",
                "3rd April 2012",
                "3rd of April",
                "21 Dec. 2019",
                "April 3, 2012",
                "April 3rd 2012",
                "April 2012",
            ],
        ),
    ],
)
def test_each_pattern_kind_is_replaced_by_its_placeholder(kind, examples):
    for example in examples:
        assert redact_one(f"Details: {example}, seen.") == f"Details: {kind}, seen."


@pytest.mark.parametrize(
    "text",
    [
        "She will march to the shops in March.",
        "Section 47 enquiries; 12 visits at 10.30; 45 working days; aged 2.",
        "The year 2015 was hard; score 3-2; 72% attendance; Year 7.",
        "Ref 12345 and case 123456789 (nine digits) and 01234 (five).",
        "Dose 0.5 ml at 10.30; version 1.2.3; 12.5 of 20; costs 1,250.00; 0.25.",
        "Years 2015-2016; rooms 12-3 and B15-2; a 3-4-3 line-up; covid-19; A1-B2.",
    ],
)
def test_ordinary_text_is_left_alone(text):
    assert redact_one(text, ["sarah"]) == text


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("Visit on 01.02.2015 10:30", "Visit on DATE 10:30"),
        ("Met 03.04.2016 11.45.", "Met DATE 11.45."),
        ("Met 3.4.16 09.15 and 01/02/2015 10 30", "Met DATE 09.15 and DATE 10 30"),
        ("Call 07700.900.123 on 01.02.2015", "Call PHONE on DATE"),
    ],
)
def test_dotted_dates_followed_by_a_time_are_dates_not_phone_numbers(text, expected):
    assert redact_one(text) == expected


def test_identifiers_inside_other_identifiers_go_as_a_whole():
    assert redact_one("mail sarah.smith@x.org", ["sarah", "smith"]) == "mail EMAIL"
    # "May" is a name here, yet the date goes whole rather than as "3 NAME 2015".
    assert redact_one("born 3 May 2015", ["may"]) == "born DATE"


PLANTED = [
    (
        "Visited Sarah Smith (DOB 03/04/2012) at 12 Hill Road, LS12 4AB; mum Lisa "
        "Brown can be reached on 07700 900123 or lisa.brown@example.com.",
        [
            "Sarah",
            "Smith",
            "03/04/2012",
            "LS12 4AB",
            "Lisa",
            "Brown",
            "07700 900123",
            "lisa.brown@example.com",
        ],
    ),
    (
        "TOM SMITH's NHS number is 943 476 5919 and his UPN is A123456789012; "
        "school called from 0113 496 0000 on 2 March 2016.",
        ["TOM", "SMITH", "943 476 5919", "A123456789012", "0113 496 0000", "2 March 2016"],
    ),
    (
        "Tom told me that sarah's dad, tom brown, moved to m1 1aa on 2016-03-02.\n"
        "New mobile +44 7700 900456; text him, not Lisa.",
        ["Tom", "sarah", "brown", "m1 1aa", "2016-03-02", "+44 7700 900456", "Lisa"],
    ),
]


@pytest.mark.parametrize(("text", "identifiers"), PLANTED)
def test_every_planted_identifier_is_redacted(text, identifiers):
    out = redact_one(text, ["sarah", "smith", "lisa", "brown", "tom"])
    for identifier in identifiers:
        assert identifier.lower() not in out.lower(), identifier
    for digit_run in re.findall(r"\d+", out):
        assert len(digit_run) <= 2, out


def test_redactor_counts_replacements_by_kind():
    texts = pd.Series(
        ["Sarah: 07700 900123", "no identifiers", "sarah@x.org Sarah"], index=[5, 6, 7]
    )
    out, counts = rn.Redactor(["sarah"])(texts)
    assert out.tolist() == ["NAME: PHONE", "no identifiers", "EMAIL NAME"]
    assert out.index.tolist() == [5, 6, 7]
    assert counts == {
        "EMAIL": 1,
        "UPN": 0,
        "PHONE": 1,
        "NHS_NUMBER": 0,
        "DATE": 0,
        "POSTCODE": 0,
        "SCHOOL_NAME": 0,
        "PLACE_NAME": 0,
        "TEAM_NAME": 0,
        "STAFF_NAME": 0,
        "NAME": 2,
    }
    assert set(rn.PLACEHOLDERS) == set(counts)


def test_no_names_still_redacts_patterns():
    assert redact_one("Sarah on 07700 900123", []) == "Sarah on PHONE"


# --- the script end to end -------------------------------------------------

NOTES_CSV = (
    "NoteID,LAchildID,NoteDateTime,DocumentType,NoteText\n"
    "NOTE-0001,CHILD-A1,2016-01-10T09:30:00,Contact,"
    '"Sarah Smith (DOB 03/04/2012) was seen at home,\n'
    'mum Lisa said ""she is fine"". Call 07700 900123."\n'
    "NOTE-0002,CHILD-B2,11/01/2016,Visit to Tom Brown,"
    "\"Tom's carer, Lisa Brown (lisa.brown@example.com), "
    'lives at LS12 4AB; NHS 943 476 5919."\n'
    "NOTE-0003,CHILD-A1,2016-01-09,Contact,Sarah's brother Tom visited.\n"
    "NOTE-0004,CHILD-Z9,2016-02-01,Contact,Unknown child called from 0113 496 0000.\n"
)
PEOPLE_CSV = (
    "LAchildID,ChildFirstName,ChildLastName,CarerNames\n"
    "CHILD-A1,Sarah,Smith,Lisa Brown;Mark Smith\n"
    "CHILD-B2,Tom,Brown,Lisa Brown\n"
)
RAW_IDENTIFIERS = [
    "Sarah",
    "Smith",
    "Lisa",
    "Brown",
    "Tom",
    "03/04/2012",
    "07700 900123",
    "lisa.brown@example.com",
    "LS12 4AB",
    "943 476 5919",
    "0113 496 0000",
    "NOTE-0001",
    "NOTE-0002",
    "NOTE-0003",
    "NOTE-0004",
    "CHILD-A1",
    "CHILD-B2",
    "CHILD-Z9",
]


def planned_key(params: dict) -> dict:
    """The key fingerprint Snakemake would plan the job with, as its params
    give it; none when no key is set (the job then stops on the missing key)."""
    try:
        key = resolve_key(params["key_env"], params["key_file"], params["demo_key"])
    except InputError:
        return {"key_fingerprint": ""}
    return {"key_fingerprint": key_fingerprint(key)}


def fake_snakemake(
    tmp_path: Path, shards: int = 3, name_lists=(), first_names=(), **params
) -> types.SimpleNamespace:
    notes = tmp_path / "case_notes.csv"
    people = tmp_path / "people.csv"
    notes.write_text(NOTES_CSV, encoding="utf-8")
    people.write_text(PEOPLE_CSV, encoding="utf-8")
    defaults = {
        "notes_columns": NOTES_COLUMNS,
        "people_columns": PEOPLE_COLUMNS,
        "list_separator": ";",
        "key_env": KEY_ENV,
        "key_file": None,
        "demo_key": None,
        "shards": shards,
        "name_list_kinds": [],
        "first_name_exceptions": [],
        "ner_model": None,
    }
    return types.SimpleNamespace(
        input=types.SimpleNamespace(
            notes=str(notes),
            people=str(people),
            name_lists=list(name_lists),
            first_names=first_names,
        ),
        params=types.SimpleNamespace(**{**defaults, **planned_key(defaults | params), **params}),
        output=types.SimpleNamespace(
            shards=[str(tmp_path / "text" / "notes" / f"shard_{k}.parquet") for k in range(shards)],
            qa=str(tmp_path / "text" / "qa.parquet"),
        ),
        log=[str(tmp_path / "redact_notes.log")],
    )


def test_main_writes_redacted_pseudonymised_shards(tmp_path, monkeypatch, caplog):
    monkeypatch.setenv(KEY_ENV, KEY)
    snakemake = fake_snakemake(tmp_path, shards=3)
    with caplog.at_level(logging.INFO):
        rn.main(snakemake)

    frames = [read_parquet(path, "notes") for path in snakemake.output.shards]
    notes = pd.concat(frames, ignore_index=True)
    assert len(notes) == 4
    key = KEY.encode()
    children = pseudonymise(pd.Series(["CHILD-A1", "CHILD-B2", "CHILD-Z9"]), key).tolist()
    assert set(notes["child_id"]) == set(children)
    assert set(notes["note_id"]) == set(
        pseudonymise(pd.Series([f"NOTE-000{i}" for i in range(1, 5)]), key)
    )
    for k, frame in enumerate(frames):
        assert (frame["child_id"].map(lambda c: int(c, 16) % 3) == k).all()
        ordered = frame.sort_values(["child_id", "note_datetime", "note_id"])
        assert frame.index.tolist() == ordered.index.tolist()

    c1 = notes[notes["child_id"] == children[0]]
    assert c1["text"].tolist() == [
        "NAME's brother NAME visited.",
        'NAME NAME (DOB DATE) was seen at home,\nmum NAME said "she is fine". Call PHONE.',
    ]
    assert c1["note_datetime"].dt.strftime("%Y-%m-%d %H:%M").tolist() == [
        "2016-01-09 00:00",
        "2016-01-10 09:30",
    ]

    # Data pages are compressed, so the byte check guards what is not: the
    # footer, column statistics and metadata; the decoded check guards values.
    decoded = "\n".join(notes.astype(str).to_numpy().ravel())
    raw_bytes = b"".join(Path(path).read_bytes() for path in snakemake.output.shards)
    for identifier in RAW_IDENTIFIERS:
        assert not re.search(rf"\b{re.escape(identifier)}\b", decoded, re.IGNORECASE), identifier
        assert identifier.encode() not in raw_bytes, identifier
        assert identifier not in caplog.text, identifier
    assert "1 note(s) belong to children missing from the people export" in caplog.text
    assert "redacted 1 EMAIL, 0 UPN, 1 DATE, 2 PHONE" in caplog.text
    assert sorted(notes["document_type"]) == ["Contact", "Contact", "Contact", "Visit to NAME NAME"]
    assert "2 identifier(s) redacted in the distinct document types" in caplog.text
    qa = read_parquet(snakemake.output.qa, "ingest_qa")
    # Each type is of fewer than MIN_CHILDREN_SHOWN_VALUE children: none is named.
    assert qa[["table", "measure", "column", "value", "count", "share"]].values.tolist() == [
        ["notes", "code", "document_type", "2 other values", 4, 1.0],
    ]
    assert b"Tom" not in Path(snakemake.output.qa).read_bytes()


def test_document_types_are_redacted_once_each_and_missing_stay_missing():
    redactor = rn.Redactor(["jayden", "smith"])
    labels = pd.Series(["Visit to Jayden Smith", pd.NA, "Case note", "Visit to Jayden Smith"])
    redacted, counts = rn.redact_labels(redactor, labels.astype("str"))
    assert redacted.isna().tolist() == [False, True, False, False]
    assert redacted.dropna().tolist() == ["Visit to NAME NAME", "Case note", "Visit to NAME NAME"]
    assert counts["NAME"] == 2


def test_document_type_qa_counts_present_types_over_all_notes():
    document_types = pd.Series(
        ["Contact "] * 6 + [None] + ["Contact"] * 6 + ["Visit to NAME"], dtype="str"
    )
    children = pd.Series([f"c{k}" for k in range(12)] + ["c0", "c11"], dtype="str")
    qa = rn.document_type_qa(document_types, children)
    assert qa[["value", "count", "share"]].values.tolist() == [
        ["Contact", 12, 12 / 14],
        ["1 other value", 1, 1 / 14],
    ]
    assert rn.document_type_qa(pd.Series([], dtype="str"), pd.Series([], dtype="str")).empty


def test_document_type_qa_names_no_type_of_fewer_children_than_the_minimum():
    """A free-text subject redaction missed, on the many notes of one family,
    must not reach the QA table (and so the shared report)."""
    family = "Strategy meeting re Kowalczyk family"
    common = [f"c{k}" for k in range(MIN_CHILDREN_SHOWN_VALUE)]
    document_types = pd.Series(
        ["Contact"] * len(common) + [family] * 40 + ["Phone call"], dtype="str"
    )
    children = pd.Series(common + [f"k{k % 4}" for k in range(40)] + ["c0"], dtype="str")
    qa = rn.document_type_qa(document_types, children)
    assert qa[["value", "count"]].values.tolist() == [
        ["Contact", MIN_CHILDREN_SHOWN_VALUE],
        ["2 other values", 41],
    ]
    assert "Kowalczyk" not in qa.to_string()


def test_main_writes_every_shard_even_empty_ones(tmp_path, monkeypatch):
    monkeypatch.setenv(KEY_ENV, KEY)
    snakemake = fake_snakemake(tmp_path, shards=8)
    rn.main(snakemake)
    sizes = [pq.read_metadata(path).num_rows for path in snakemake.output.shards]
    assert sum(sizes) == 4 and 0 in sizes
    for path in snakemake.output.shards:
        read_parquet(path, "notes")


def test_missing_key_without_demo_key_is_a_helpful_error(tmp_path, monkeypatch):
    monkeypatch.delenv(KEY_ENV, raising=False)
    snakemake = fake_snakemake(tmp_path)
    with pytest.raises(
        InputError, match=rf"no pseudonymisation key: set the environment variable {KEY_ENV}"
    ):
        rn.main(snakemake)
    assert not any(Path(p).exists() for p in [*snakemake.output.shards, snakemake.output.qa])


def test_demo_key_is_used_with_a_warning(tmp_path, monkeypatch, caplog):
    monkeypatch.delenv(KEY_ENV, raising=False)
    snakemake = fake_snakemake(tmp_path, demo_key="DEMO-KEY")
    rn.main(snakemake)
    assert "DEMO pseudonymisation key" in caplog.text
    notes = pd.concat(read_parquet(p, "notes") for p in snakemake.output.shards)
    assert pseudonymise(pd.Series(["CHILD-A1"]), b"DEMO-KEY").iloc[0] in set(notes["child_id"])


@pytest.mark.parametrize(
    ("old", "new", "reason"),
    [
        ("NOTE-0003,CHILD-A1,", "NOTE-0003,,", "have no child id"),
        ("Sarah's brother Tom visited.", "  ", "have no text (e.g. an attachment only)"),
        ("CHILD-A1,2016-01-09", "CHILD-A1,", "have no note time"),
    ],
)
def test_notes_without_child_time_or_text_are_left_out_with_a_warning(
    tmp_path, monkeypatch, caplog, old, new, reason
):
    monkeypatch.setenv(KEY_ENV, KEY)
    snakemake = fake_snakemake(tmp_path)
    path = Path(snakemake.input.notes)
    path.write_text(NOTES_CSV.replace(old, new), encoding="utf-8")
    rn.main(snakemake)
    notes = pd.concat(read_parquet(p, "notes") for p in snakemake.output.shards)
    assert pseudonymise(pd.Series(["NOTE-0003"]), KEY.encode()).iloc[0] not in set(notes["note_id"])
    assert len(notes) == NOTES_CSV.count("NOTE-") - 1
    assert f"1 note(s) {reason} (first at line 5); they are left out" in caplog.text


@pytest.mark.parametrize(
    ("old", "new", "message"),
    [
        ("CHILD-A1,2016-01-09", "CHILD-A1,yesterday", r"'NoteDateTime' \(.*line 5.*'AAAAAAAAA'"),
    ],
)
def test_bad_notes_name_file_column_and_line(tmp_path, monkeypatch, old, new, message):
    monkeypatch.setenv(KEY_ENV, KEY)
    snakemake = fake_snakemake(tmp_path)
    path = Path(snakemake.input.notes)
    path.write_text(NOTES_CSV.replace(old, new), encoding="utf-8")
    with pytest.raises(InputError, match=message) as error:
        rn.main(snakemake)
    assert str(path) in str(error.value)


# --- configured lists, first names, named entities -------------------------


def test_listed_phrases_go_whole_in_any_case_and_spacing():
    lists = {
        "SCHOOL_NAME": rn.listed_names("schools", ["Oakfield Primary School", "St Mary's"]),
        "TEAM_NAME": rn.listed_names("teams", ["Northgate Hub"]),
    }
    texts = pd.Series(
        [
            "At OAKFIELD  primary\nSchool's gate; St Mary’s rang the northgate hub.",
            "Oakfield Primary and the oakfields school stay.",
        ]
    )
    out, counts = rn.Redactor([], lists=lists)(texts)
    assert out.tolist() == [
        "At SCHOOL_NAME's gate; SCHOOL_NAME rang the TEAM_NAME.",
        "Oakfield Primary and the oakfields school stay.",
    ]
    assert counts["SCHOOL_NAME"] == 2 and counts["TEAM_NAME"] == 1


def test_staff_names_go_whole_and_word_by_word():
    assert rn.listed_names("staff", ["Jane O'Neil"]) == sorted(
        {"jane o'neil", "jane o’neil", "jane", "o'neil", "o’neil", "oneil", "neil"}
    )
    lists = {"STAFF_NAME": rn.listed_names("staff", ["Jane O'Neil"])}
    out = rn.Redactor(["jane"], lists=lists)(pd.Series(["Jane O'Neil and Jane; Neil."]))[0]
    # Lists go before the names of people, so a shared name takes the list's placeholder.
    assert out.iloc[0] == "STAFF_NAME and STAFF_NAME; STAFF_NAME."


def test_read_name_list_reads_text_and_csv_and_refuses_empty(tmp_path):
    text = tmp_path / "schools.txt"
    text.write_text("# maintained schools\nOakfield  Primary\n\n  St Mary's \n", encoding="utf-8")
    assert rn.read_name_list(text) == ["Oakfield Primary", "St Mary's"]
    table = tmp_path / "teams.csv"
    table.write_text("team,code\nNorthgate Hub,N1\nEarly Help,E2\n", encoding="utf-8")
    assert rn.read_name_list(table) == ["Northgate Hub", "Early Help"]
    empty = tmp_path / "places.txt"
    empty.write_text("# none yet\n\n", encoding="utf-8")
    with pytest.raises(InputError, match=r"places\.txt: the name list is empty"):
        rn.read_name_list(empty)


def test_configured_lists_follow_the_placeholder_order(tmp_path):
    (tmp_path / "staff.txt").write_text("Jane Doe\n", encoding="utf-8")
    (tmp_path / "schools.txt").write_text("Oakfield\n", encoding="utf-8")
    lists = rn.configured_lists(
        [str(tmp_path / "staff.txt"), str(tmp_path / "schools.txt")], ["staff", "schools"]
    )
    assert list(lists) == ["SCHOOL_NAME", "STAFF_NAME"]
    assert lists["SCHOOL_NAME"] == ["oakfield"]


@pytest.fixture(scope="module")
def census_first_names() -> set[str]:
    return rn.first_name_pass(Path("resources/first_names/us_census_1990.txt"), ["Peter"])


def test_first_names_pass_keeps_ordinary_words_and_exceptions(census_first_names):
    assert {"john", "grace", "mark", "ella", "sarah"} <= census_first_names
    assert not {"will", "may", "hope", "an", "peter"} & census_first_names


def test_first_names_go_only_when_capitalised(census_first_names):
    texts = pd.Series(["Will John's mum Grace see grace and john? May. Peter. JOHN, Smithson"])
    out, counts = rn.Redactor([], first_names=census_first_names)(texts)
    assert out.iloc[0] == "Will NAME's mum NAME see grace and john? May. Peter. JOHN, Smithson"
    # Only the names replaced count, not every capitalised word.
    assert counts["NAME"] == 2
    assert rn.first_name_pass(None, []) == set()


def test_first_names_go_with_accents_plurals_and_possessives():
    redactor = rn.Redactor([], first_names={"zoe", "jayden", "mark", "chloé"})
    texts = pd.Series(
        ["Zoë and Chloe saw Jaydens mum, Zoes bag and Chloés coat. Marks fade; saw Marks cat"]
    )
    out, counts = redactor(texts)
    assert out.iloc[0] == (
        "NAME and NAME saw NAME mum, NAME bag and NAME coat. Marks fade; saw NAME cat"
    )
    assert counts["NAME"] == 6


def test_shipped_first_names_are_lowercase_unique_and_documented():
    path = Path("resources/first_names/us_census_1990.txt")
    names = path.read_text(encoding="utf-8").splitlines()
    assert len(names) == 5163 and names == sorted(set(names))
    assert all(re.fullmatch("[a-z]+", n) for n in names)
    readme = (path.parent / "README.md").read_text(encoding="utf-8")
    assert "public domain" in readme and "names==0.3.0" in readme


def test_missing_entity_pipeline_is_a_helpful_error():
    with pytest.raises(InputError, match="text.ner_model: spaCy pipeline 'no_such_pipeline'"):
        rn.load_entity_pipeline("no_such_pipeline")
    assert rn.load_entity_pipeline(None) is None


def fake_entity_pipeline(tmp_path: Path, with_ner: bool = True) -> str:
    """A saved pipeline whose "ner" is a rule-based entity ruler."""
    nlp = spacy.blank("en")
    if with_ner:
        ruler = nlp.add_pipe("entity_ruler", name="ner")
        ruler.add_patterns(
            [
                {"label": "PERSON", "pattern": "Zebedee Quill"},
                {"label": "GPE", "pattern": "Little Snoring"},
                {"label": "ORG", "pattern": "Acme"},
            ]
        )
    path = tmp_path / ("fake_pipeline" if with_ner else "fake_pipeline_without_ner")
    nlp.to_disk(path)
    return str(path)


def test_entity_pass_redacts_people_and_places_through_main(tmp_path, monkeypatch):
    with pytest.raises(InputError, match="has no named-entity recogniser"):
        rn.load_entity_pipeline(fake_entity_pipeline(tmp_path, with_ner=False))
    monkeypatch.setenv(KEY_ENV, KEY)
    snakemake = fake_snakemake(tmp_path, shards=1, ner_model=fake_entity_pipeline(tmp_path))
    (tmp_path / "case_notes.csv").write_text(
        NOTES_CSV + "NOTE-0005,CHILD-A1,2016-03-01,Contact,"
        "Zebedee Quill of Little Snoring rang Acme.\n",
        encoding="utf-8",
    )
    rn.main(snakemake)
    texts = read_parquet(snakemake.output.shards[0], "notes")["text"].tolist()
    assert "NAME of PLACE_NAME rang Acme." in texts


def test_main_redacts_configured_lists_and_first_names(tmp_path, monkeypatch):
    monkeypatch.setenv(KEY_ENV, KEY)
    schools = tmp_path / "schools.txt"
    schools.write_text("Oakfield Primary\n", encoding="utf-8")
    first_names = tmp_path / "first_names.txt"
    first_names.write_text("zara\nwill\n", encoding="utf-8")
    snakemake = fake_snakemake(
        tmp_path,
        shards=1,
        name_lists=[str(schools)],
        first_names=str(first_names),
        name_list_kinds=["schools"],
    )
    (tmp_path / "case_notes.csv").write_text(
        NOTES_CSV + "NOTE-0005,CHILD-A1,2016-03-01,Contact,Zara from Oakfield Primary will call.\n",
        encoding="utf-8",
    )
    rn.main(snakemake)
    texts = read_parquet(snakemake.output.shards[0], "notes")["text"].tolist()
    assert "NAME from SCHOOL_NAME will call." in texts


def test_two_letter_names_are_redacted():
    people = pd.DataFrame(
        {"child_id": ["C1"], "first_name": ["Jo"], "last_name": ["Ng"], "carer_names": ["Ed"]}
    )
    names = rn.people_names(people, ";", rn.english_words())
    assert redact_one("Jo Ng and Ed came", names) == "NAME NAME and NAME came"
