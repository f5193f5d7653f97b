"""Normalise one shard of redacted case notes into lists of lemmas.

Each note is lowercased, the configured stop phrases ("social worker") are
removed, the configured phrases ("domestic abuse") become one token each
("domestic_abuse"), and the rest is tokenised by spaCy's English tokenizer. A token is
kept as its lemma, from spaCy's lookup lemmatizer (tables shipped in
spacy-lookups-data: no download, no trained pipeline), when it is alphabetic,
neither it nor its lemma is a stop word (spaCy's English list, the configured
words, or a redaction placeholder such as "name"), and the lemma has at least
``min_token_length`` letters.

Checking the lemma as well as the word means that "referrals" goes with the
stop word "referral", and that no stop word ever reaches the topic model as a
lemma ("took" -> "take"). Stop phrases are removed as phrases, not word by
word, because their words carry meaning elsewhere ("care proceedings").
Stop phrases and phrases are matched together, the longest first, so that a
phrase may contain a stop phrase ("child protection plan" is kept whole
although "child protection" is dropped); a phrase is never a stop word, and
naming one in both lists is an error.

Speed: the lookup lemmatizer ignores context, so a word's normalised form
depends on the word alone. Each distinct word (spaCy orth id) is therefore
processed once, by the lemmatizer pipe's own ``lookup_lemmatize``, and cached;
the rest is array operations. Running the pipe over every note (``nlp.pipe``)
would give the same lemmas at a third to a half of the speed, as it looks up
every token in Python. Notes are tokenised a batch at a time, joined by a
separator word, because spaCy's fixed cost per ``Doc`` is larger than the work
on a short note.
"""

import logging
import re
import time
from collections.abc import Iterable
from itertools import pairwise

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq
import spacy
from spacy.attrs import ORTH
from spacy.language import Language
from spacy.tokens import Token

from common import SCHEMAS, InputError, batches, write_parquet
from redact_notes import PLACEHOLDERS

logger = logging.getLogger(__name__)

ID_COLUMNS = ["note_id", "child_id", "note_datetime", "document_type"]
BATCH_ROWS = 10_000
# Characters tokenised at once: spaCy's cost per Doc dominates below about
# this size, and its cost per token rises above it.
BATCH_CHARS = 20_000
# Joins the notes of a batch. Uppercase, so it cannot occur in the lowercased
# notes; between spaces, so it cannot change how the words beside it are split.
SEPARATOR = "NOTEBREAK"
# Configured phrase k stands in the text as this prefix and k in the letters
# A-J (uppercase, so no lowercased word can be one), until its token is
# replaced by the joined phrase.
PHRASE_PREFIX = "PHRASE"


def build_nlp() -> Language:
    """A blank English pipeline with the lookup lemmatizer, built offline."""
    nlp = spacy.blank("en")
    nlp.add_pipe("lemmatizer", config={"mode": "lookup"})
    nlp.initialize()
    return nlp


def phrase_pattern(phrases: Iterable[str]) -> re.Pattern[str] | None:
    """A regex matching any of the lowercased ``phrases`` as whole words.

    Words may be separated by any whitespace or hyphens, apostrophes may be
    straight or curly, and a plural "s" may follow ("social workers"); longer
    phrases are tried first, so "children's social care" goes whole before
    "social care" is looked for.
    """
    alternatives = []
    for phrase in sorted(set(phrases), key=len, reverse=True):
        words = [re.escape(word).replace("'", "['’]") for word in phrase.split()]
        first = re.escape(phrase[0])
        body = r"[\s-]+".join(words)[len(first) :] + "s?"
        # The left-boundary test follows the first character, not precedes
        # it: a pattern that starts with literal characters lets the regex
        # engine skip to the next candidate instead of trying every position.
        alternatives.append(rf"{first}(?<!\w.){body}")
    if not alternatives:
        return None
    return re.compile(rf"(?:{'|'.join(alternatives)})(?!\w)")


def phrase_key(match: str) -> str:
    """The configured phrase that ``match`` (lowercase text) spells: single
    spaces, straight apostrophes; a plural "s" is removed by the caller."""
    return " ".join(re.split(r"[\s-]+", match.replace("’", "'")))


def phrase_marker(k: int) -> str:
    """The word that stands for configured phrase ``k`` during tokenisation."""
    return PHRASE_PREFIX + "".join(chr(ord("A") + int(digit)) for digit in str(k))


def phrase_replacements(stop_phrases: set[str], phrases: list[str]) -> dict[str, str]:
    """What each stop phrase (a space) and each phrase (its marker, between
    spaces) is replaced by in the lowercased text.

    Raises ``InputError`` naming a phrase that is also a stop phrase.
    """
    clash = sorted(stop_phrases & set(phrases))
    if clash:
        raise InputError(
            f"config text.phrases and text.stop_words both name {clash}; "
            "remove each from one of the lists."
        )
    replacements = dict.fromkeys(stop_phrases, " ")
    replacements |= {phrase: f" {phrase_marker(k)} " for k, phrase in enumerate(phrases)}
    return replacements


def normalise(
    texts: Iterable[str],
    nlp: Language,
    stop_words: set[str],
    min_token_length: int,
    phrases: Iterable[str] = (),
) -> list[list[str]]:
    """The lemmas kept from each text, in order (see the module docstring).

    ``stop_words`` entries of several words are removed as phrases; single
    words are dropped as words or lemmas, like spaCy's own stop words.
    ``phrases`` become single tokens, their words joined by "_".
    """
    lowered = {phrase_key(" ".join(w.lower().split())) for w in stop_words}
    kept = list(dict.fromkeys(phrase_key(" ".join(p.lower().split())) for p in phrases))
    replacements = phrase_replacements({w for w in lowered if " " in w}, kept)
    pattern = phrase_pattern(replacements)
    drop = (
        {w for w in lowered if len(w.split()) == 1}
        | set(nlp.Defaults.stop_words)
        | {p.lower() for p in PLACEHOLDERS}
    )
    lemmatizer = nlp.get_pipe("lemmatizer")

    def form(token: Token) -> str:
        """The token's lemma, or "" if the token is dropped."""
        if not token.is_alpha or token.text in drop:
            return ""
        lemma = lemmatizer.lookup_lemmatize(token)[0]
        if lemma in drop or len(lemma) < min_token_length or not lemma.isalpha():
            return ""
        return lemma

    def replace(match: re.Match[str]) -> str:
        key = phrase_key(match.group())
        return replacements[key if key in replacements else key[:-1]]

    def prepare(text: str) -> str:
        # The lookup tables are lowercase and case-sensitive.
        text = text.lower()
        return pattern.sub(replace, text) if pattern else text

    separator = nlp.vocab.strings.add(SEPARATOR)
    forms: dict[int, str] = {separator: ""}
    for k, phrase in enumerate(kept):
        forms[nlp.vocab.strings.add(phrase_marker(k))] = phrase.replace(" ", "_")
    out: list[list[str]] = []
    for batch in batches(map(prepare, texts), BATCH_CHARS):
        doc = nlp.tokenizer(f" {SEPARATOR} ".join(batch))
        orths = doc.to_array(ORTH)
        codes, types = pd.factorize(orths)
        # One occurrence of each word type, any one: its form is context-free.
        where = np.empty(len(types), dtype=np.int64)
        where[codes] = np.arange(len(codes))
        for orth, position in zip(types.tolist(), where.tolist(), strict=True):
            if orth not in forms:
                forms[orth] = form(doc[position])
        type_forms = np.array([forms[orth] for orth in types.tolist()], dtype=object)
        keep = type_forms.astype(bool)[codes]
        kept = type_forms[codes[keep]]
        # Kept tokens before each separator: where each note's tokens end.
        ends = np.cumsum(keep)[np.flatnonzero(orths == separator)].tolist()
        bounds = [0, *ends, len(kept)]
        out.extend(kept[a:b].tolist() for a, b in pairwise(bounds))
    return out


def main(snakemake) -> None:
    """Normalise the rule's shard of notes and write its tokens."""
    path = snakemake.input.notes
    notes = pq.ParquetFile(path)
    if not notes.schema_arrow.remove_metadata().equals(SCHEMAS["notes"]):
        raise ValueError(f"{path} does not carry schema 'notes': got {notes.schema_arrow}")
    ids = notes.read(columns=ID_COLUMNS)
    # Texts are streamed in batches so that a large shard's raw text is never
    # all in memory at once; only the (much smaller) token lists are.
    texts = (
        text
        for batch in notes.iter_batches(batch_size=BATCH_ROWS, columns=["text"])
        for text in batch.column("text").to_pylist()
    )
    start = time.perf_counter()
    params = snakemake.params
    tokens = normalise(
        texts, build_nlp(), set(params.stop_words), params.min_token_length, params.phrases
    )
    seconds = time.perf_counter() - start
    column = pa.array(tokens, type=pa.list_(pa.string()))
    # Counted by Arrow: a Python set over every token took a twentieth of the stage.
    flat = pc.list_flatten(column)
    logger.info(
        "normalised %d notes into %d tokens (%d distinct) in %.1f s",
        len(tokens),
        len(flat),
        pc.count_distinct(flat).as_py(),
        seconds,
    )
    write_parquet(ids.append_column("tokens", column), snakemake.output.tokens, "tokens")


if __name__ == "__main__":
    from common import run

    run(lambda: main(snakemake), snakemake.log[0])  # noqa: F821
