"""Normalisation of redacted notes into lemmas: spaCy lookup lemmas, stop words
and phrases, placeholders, and the shard round trip."""

from __future__ import annotations

import types

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

import normalise_notes as nn
from common import read_parquet, write_parquet
from redact_notes import PLACEHOLDERS

STOP = {"social worker", "children's social care", "social care", "referral", "child", "mum"}


@pytest.fixture(scope="module")
def nlp():
    return nn.build_nlp()


def norm(text: str, nlp, stop_words: set[str] = frozenset(), min_length: int = 2) -> list[str]:
    return nn.normalise([text], nlp, set(stop_words), min_length).to_pylist()[0]


def test_build_nlp_is_blank_english_with_lookup_lemmatizer(nlp):
    assert nlp.lang == "en"
    assert nlp.pipe_names == ["lemmatizer"]
    assert nlp.get_pipe("lemmatizer").mode == "lookup"


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("Children were crying", ["child", "cry"]),
        ("CHILDREN WERE CRYING", ["child", "cry"]),
        ("The kids shouted at the mice", ["kid", "shout", "mouse"]),
        ("Mum's partner is drinking", ["mum", "partner", "drink"]),
    ],
)
def test_lowercases_and_lemmatises(nlp, text, expected):
    assert norm(text, nlp) == expected


def test_lemmas_are_those_of_the_spacy_pipeline(nlp):
    # The per-word cache must give exactly what running the pipe gives.
    text = "Bruises were noted; the twins' parents disagreed and cancelled visits twice"
    doc = nlp(text.lower())
    stop = nlp.Defaults.stop_words
    expected = [
        t.lemma_
        for t in doc
        if t.is_alpha and not t.is_stop and t.lemma_ not in stop and len(t.lemma_) >= 2
    ]
    assert expected == ["bruise", "note", "twin", "parent", "disagree", "cancel", "visit", "twice"]
    assert norm(text, nlp) == expected


def test_spacy_stop_words_go_as_words_and_as_lemmas(nlp):
    # "took" is not a stop word but its lemma "take" is.
    assert norm("She took the bus and then went home", nlp) == ["bus", "home"]


def test_configured_words_go_in_any_inflection(nlp):
    assert norm("Referrals from Mum about the child", nlp, STOP) == []
    assert norm("Referrals from Mum about the child", nlp) == ["referral", "mum", "child"]


def test_configured_phrases_go_as_phrases(nlp):
    text = (
        "The Social Workers and children’s social care met; care proceedings "
        "started, the worker said social\nworker"
    )
    assert norm(text, nlp, STOP) == ["meet", "care", "proceeding", "start", "worker"]


def test_non_alphabetic_and_short_tokens_go(nlp):
    assert norm("2am 10.30 £50 x-ray s47 safe 45%", nlp) == ["ray", "safe"]
    assert norm("ox ran 2 ox", nlp, min_length=3) == ["run"]


def test_placeholders_go_even_without_configured_stop_words(nlp):
    text = " ".join(PLACEHOLDERS) + " NAME's phone"
    assert norm(text, nlp) == []


def test_order_empty_texts_and_determinism(nlp):
    texts = ["Dog bit the baby", "", "Baby cried", "NAME"] * 3
    first = nn.normalise(texts, nlp, STOP, 2)
    again = nn.normalise(iter(texts), nn.build_nlp(), STOP, 2)
    assert first.type == pa.list_(pa.string())
    assert first.equals(again)
    assert first.to_pylist()[:4] == [["dog", "bite", "baby"], [], ["baby", "cry"], []]


def test_batches_keep_every_text_once_in_order():
    texts = ["ab", "", "cde", "f", "ghij"]
    assert list(nn.batches(texts, 3)) == [["ab", "", "cde"], ["f", "ghij"]]
    assert list(nn.batches(texts, 1)) == [["ab"], ["", "cde"], ["f"], ["ghij"]]
    assert list(nn.batches([], 3)) == []


@pytest.mark.parametrize(("batch_chars", "group_tokens"), [(1, 1), (30, 7), (20_000, 500_000)])
def test_batches_give_what_notes_one_by_one_give(nlp, monkeypatch, batch_chars, group_tokens):
    # Notes are tokenised joined by a separator and worked on in groups of
    # batches: nothing may cross either.
    texts = [
        "Visited Mr. Jones's house etc.",
        "",
        "  \n",
        "...said she'd go-",
        "-morrow (maybe) e.g. dogs",
        "u.k. can't won't",
        "notebreak NOTEBREAK cats",
        "social",
        "worker, social",
        "care",
    ]
    monkeypatch.setattr(nn, "BATCH_CHARS", batch_chars)
    monkeypatch.setattr(nn, "GROUP_TOKENS", group_tokens)
    joined = nn.normalise(texts, nlp, STOP, 2).to_pylist()
    assert joined == [norm(text, nlp, STOP) for text in texts]
    assert joined[-4:] == [
        ["notebreak", "notebreak", "cat"],
        ["social"],
        ["worker", "social"],
        ["care"],
    ]


def test_stop_phrases_match_whole_words_only(nlp):
    stop = {"social care", "children's social care"}
    text = "antisocial care, social careers, children’s  social care, social_care"
    assert norm(text, nlp, stop) == ["antisocial", "care", "social", "career"]


@pytest.mark.parametrize(
    "text",
    [
        "social-worker",
        "social - worker",
        "social--worker",
        "social -worker",
        "social-\nworker",
        "(social workers)",
        "social worker's",
        "social workers-",
        "x-social worker",
    ],
)
def test_stop_phrases_across_hyphens_and_punctuation(nlp, text):
    assert norm(text, nlp, STOP | {"x"}) == []


def test_phrase_words_must_be_tokens_of_their_own(nlp):
    # spaCy keeps "care.mum" and "social—worker" (an em dash is no hyphen)
    # as they are; "children 's" is not "children's".
    assert norm("social care.mum visited", nlp, STOP) == ["social", "visit"]
    assert norm("social—worker", nlp, STOP) == ["social", "worker"]
    stop = {"children's social care", "social care"}
    assert norm("children 's social care", nlp, stop) == ["child"]


def test_phrases_match_leftmost_first_then_longest(nlp):
    assert norm("social care worker", nlp, {"social care", "care worker"}) == ["worker"]
    assert norm("social care worker", nlp, {"care worker", "social care"}) == ["worker"]
    assert norm("the social care worker", nlp, {"care worker"}) == ["social"]


def shard(tmp_path) -> str:
    frame = pd.DataFrame(
        {
            "note_id": ["n3", "n1", "n2"],
            "child_id": ["c2", "c1", "c1"],
            "note_datetime": pd.to_datetime(["2016-01-03", "2016-01-01", "2016-01-02"]).astype(
                "datetime64[ms]"
            ),
            "document_type": ["Contact", None, "Assessment"],
            "text": ["NAME was crying", "Social worker visited", "Referral: 2 dogs"],
        }
    )
    path = tmp_path / "notes" / "shard_0.parquet"
    write_parquet(frame, path, "notes")
    return str(path)


def test_main_keeps_ids_and_row_order(tmp_path, monkeypatch):
    monkeypatch.setattr(nn, "BATCH_ROWS", 2)
    snakemake = types.SimpleNamespace(
        input=types.SimpleNamespace(notes=shard(tmp_path)),
        params=types.SimpleNamespace(stop_words=sorted(STOP), min_token_length=2, phrases=[]),
        output=types.SimpleNamespace(tokens=str(tmp_path / "tokens" / "shard_0.parquet")),
        log=[str(tmp_path / "normalise.log")],
    )
    nn.main(snakemake)
    tokens = read_parquet(snakemake.output.tokens, "tokens")
    notes = read_parquet(snakemake.input.notes, "notes")
    ids = ["note_id", "child_id", "note_datetime", "document_type"]
    pd.testing.assert_frame_equal(tokens[ids], notes[ids])
    assert tokens["tokens"].map(list).tolist() == [["cry"], ["visit"], ["dog"]]


def test_main_refuses_a_shard_without_the_notes_schema(tmp_path):
    path = tmp_path / "bad.parquet"
    pq.write_table(pa.table({"note_id": ["n1"], "text": ["x"]}), path)
    snakemake = types.SimpleNamespace(
        input=types.SimpleNamespace(notes=str(path)),
        params=types.SimpleNamespace(stop_words=[], min_token_length=2, phrases=[]),
        output=types.SimpleNamespace(tokens=str(tmp_path / "tokens.parquet")),
    )
    with pytest.raises(ValueError, match="schema 'notes'"):
        nn.main(snakemake)


def test_configured_phrases_become_single_tokens(nlp):
    phrases = ["domestic abuse", "child protection plan", "self harm"]
    text = (
        "Domestic  abuse and domestic\nabuses; a Child Protection Plans review, "
        "self-harm, no child protection, abuse at home"
    )
    out = nn.normalise([text], nlp, STOP | {"child protection"}, 2, phrases).to_pylist()[0]
    assert out == [
        "domestic_abuse",
        "domestic_abuse",
        "child_protection_plan",
        "review",
        "self_harm",
        "abuse",
        "home",
    ]
    # Without phrases the words are separate tokens and the stop phrase goes.
    assert nn.normalise([text], nlp, STOP, 2).to_pylist()[0][:4] == [
        "domestic",
        "abuse",
        "domestic",
        "abuse",
    ]


def test_phrases_agree_across_batches_and_may_not_be_stop_phrases(nlp, monkeypatch):
    texts = ["mental health of mum", "", "Mental Health team"] * 3
    monkeypatch.setattr(nn, "BATCH_CHARS", 5)
    out = nn.normalise(texts, nlp, set(), 2, ["mental health"]).to_pylist()
    assert out[:3] == [["mental_health", "mum"], [], ["mental_health", "team"]]
    with pytest.raises(nn.InputError, match="both name \\['social worker'\\]"):
        nn.normalise(texts, nlp, {"social worker"}, 2, ["Social  worker"])
