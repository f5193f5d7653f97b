"""Normalise one shard of redacted case notes into lists of lemmas.

Each note is lowercased and tokenised by spaCy's English tokenizer. The
configured stop phrases ("social worker") are removed, the configured phrases
("domestic abuse") become one token each ("domestic_abuse"), and every other
token is kept as its lemma, from spaCy's lookup lemmatizer (tables shipped in
spacy-lookups-data: no download, no trained pipeline), when it is alphabetic,
neither it nor its lemma is a stop word (spaCy's English list, the configured
words, or a redaction placeholder such as "name"), and the lemma has at least
``min_token_length`` letters.

Checking the lemma as well as the word means that "referrals" goes with the
stop word "referral", and that no stop word ever reaches the topic model as a
lemma ("took" -> "take"). Stop phrases are removed as phrases, not word by
word, because their words carry meaning elsewhere ("care proceedings").

Stop phrases and phrases are matched on the tokens, as whole words: their words
may be separated by any whitespace or hyphens ("social-worker",
"social\\nworker"), apostrophes may be straight or curly, and a plural "s" may
follow ("social workers"). They are matched together, leftmost first and at
one place the longest first, so that a phrase may contain a stop phrase ("child
protection plan" is kept whole although "child protection" is dropped); a
phrase is never a stop word, and naming one in both lists is an error. A
phrase's word must be a token of its own, hyphens aside: where spaCy keeps
other characters on it ("social care.Mum", one token "care.mum"), the phrase is
not matched, as a word stuck to punctuation is not kept either.

Speed: the lookup lemmatizer ignores context, so a word's normalised form
depends on the word alone. Each distinct word (spaCy orth id) is therefore
processed once, with the lemmatizer pipe's own lookup table, and cached; the
rest, phrase matching included, is array operations over many notes at once,
and the token lists are built as one Arrow column from arrays of word ids.
Running the pipe over every note (``nlp.pipe``) would give the same lemmas at a
third to a half of the speed, as it looks up every token in Python. Matching
phrases with a regular expression over each note's text and building Python
lists of tokens, as this stage did before, took a third of its time with the
four default stop phrases and three fifths with eleven phrases
(docs/benchmarks.md). Notes are
tokenised a batch at a time, joined by a separator word, because spaCy's fixed
cost per ``Doc`` is larger than the work on a short note.
"""

import logging
import re
import time
from collections.abc import Iterable, Iterator
from dataclasses import dataclass

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq
import spacy
from spacy.attrs import ORTH, SPACY
from spacy.language import Language

from common import SCHEMAS, InputError, batches, write_parquet
from redact_notes import PLACEHOLDERS

logger = logging.getLogger(__name__)

ID_COLUMNS = ["note_id", "child_id", "note_datetime", "document_type"]
BATCH_ROWS = 10_000
# Characters tokenised at once: spaCy's cost per Doc dominates below about
# this size, and its cost per token rises above it.
BATCH_CHARS = 20_000
# Tokens whose forms and phrases are worked out together, so that the cost of
# each step (looking up each distinct word, each array operation) falls on many
# tokens.
GROUP_TOKENS = 500_000
# Ends every note of a batch. Uppercase, so it cannot occur in the lowercased
# notes; between spaces, so it cannot change how the words beside it are split.
SEPARATOR = "NOTEBREAK"
# What may separate the words of a phrase; what counts as a word character at
# its edges (as in Python's regular expressions).
GAP = re.compile(r"[\s-]+")
WORD_CHAR = re.compile(r"\w")
# A word type's properties, packed into one integer: flags in the low bits,
# then its phrase word id, then its form id.
IS_GAP, STARTS_WORD, ENDS_WORD, LEADING_HYPHEN, TRAILING_HYPHEN = (1 << k for k in range(5))
FLAG_BITS = 5
WORD_BITS = 16


@dataclass(frozen=True)
class Phrase:
    """A stop phrase or phrase as the phrase word ids of its tokens.

    ``words[i]`` holds the ids that token ``i`` may have (the last one's
    plural too); ``gaps[i]`` says whether whitespace or hyphens must come
    between tokens ``i`` and ``i + 1`` (two words) or must not (one word split
    by spaCy, as "children" and "'s"); ``form`` is the id of the token it
    becomes, 0 for a stop phrase.
    """

    words: tuple[tuple[int, ...], ...]
    gaps: tuple[bool, ...]
    form: int


def build_nlp() -> Language:
    """A blank English pipeline with the lookup lemmatizer, built offline."""
    nlp = spacy.blank("en")
    nlp.add_pipe("lemmatizer", config={"mode": "lookup"})
    nlp.initialize()
    return nlp


def phrase_key(phrase: str) -> str:
    """A configured (stop) phrase as it is compared: lowercase, straight
    apostrophes, words split at whitespace and hyphens, joined by a space."""
    return " ".join(word for word in GAP.split(phrase.lower().replace("’", "'")) if word)


def word_key(token: str) -> str:
    """A token's text as it is compared with a phrase's words: without the
    hyphens at its ends, straight apostrophes."""
    return token.strip("-").replace("’", "'")


class Normaliser:
    """Forms and phrases of one configuration, with the properties of each
    word type seen so far (see the module docstring)."""

    def __init__(
        self,
        nlp: Language,
        stop_words: Iterable[str],
        min_token_length: int,
        phrases: Iterable[str] = (),
    ) -> None:
        """Raises ``InputError`` naming a phrase that is also a stop phrase."""
        keys = {phrase_key(word) for word in stop_words}
        stop_phrases = {key for key in keys if " " in key}
        kept = list(dict.fromkeys(phrase_key(phrase) for phrase in phrases))
        clash = sorted(stop_phrases & set(kept))
        if clash:
            raise InputError(
                f"config text.phrases and text.stop_words both name {clash}; "
                "remove each from one of the lists."
            )
        self.nlp = nlp
        self.min_token_length = min_token_length
        self.drop = (
            (keys - stop_phrases) | set(nlp.Defaults.stop_words) | {p.lower() for p in PLACEHOLDERS}
        )
        self.lemmas = nlp.get_pipe("lemmatizer").lookups.get_table("lemma_lookup", {})
        # Form 0 is "dropped"; a form's id is its index in ``forms``.
        self.forms = [""]
        self.form_ids: dict[str, int] = {}
        self.word_ids: dict[str, int] = {}
        # Longest first, then alphabetically: the order in which phrases
        # starting at the same token are tried.
        entries = [(key, 0) for key in stop_phrases]
        entries += [(key, self.form_id(key.replace(" ", "_"))) for key in kept]
        self.phrases = [
            self.phrase(key, form)
            for key, form in sorted(entries, key=lambda e: (-len(e[0]), e[0]))
        ]
        self.first_words = np.array(sorted({i for p in self.phrases for i in p.words[0]}))
        self.separator = nlp.vocab.strings.add(SEPARATOR)
        # Packed properties by orth id; the separator has no word characters,
        # so that a note's edges are a phrase's edges.
        self.types: dict[int, int] = {self.separator: 0}

    def form_id(self, form: str) -> int:
        """The id of ``form``, added if new."""
        if form not in self.form_ids:
            self.form_ids[form] = len(self.forms)
            self.forms.append(form)
        return self.form_ids[form]

    def phrase(self, key: str, form: int) -> Phrase:
        """The ``Phrase`` of ``key`` (a ``phrase_key``) becoming form ``form``."""
        texts: list[str] = []
        gaps: list[bool] = []
        for word in key.split(" "):
            tokens = [word_key(token.text) for token in self.nlp.tokenizer(word)]
            gaps += [True] + [False] * (len(tokens) - 1)
            texts += tokens
        variants = [[text] for text in texts]
        variants[-1].append(texts[-1] + "s")
        words = tuple(
            tuple(self.word_ids.setdefault(text, len(self.word_ids) + 1) for text in group)
            for group in variants
        )
        return Phrase(words, tuple(gaps[1:]), form)

    def form(self, text: str) -> int:
        """The form id of a token with text ``text``, 0 if it is dropped."""
        if not text.isalpha() or text in self.drop:
            return 0
        lemma = self.lemmas.get(text, text)
        if lemma in self.drop or len(lemma) < self.min_token_length or not lemma.isalpha():
            return 0
        return self.form_id(lemma)

    def properties(self, orth: int) -> int:
        """The packed properties of word type ``orth``."""
        text = self.nlp.vocab.strings[orth]
        flags = (
            IS_GAP * bool(GAP.fullmatch(text))
            | STARTS_WORD * bool(WORD_CHAR.match(text))
            | ENDS_WORD * bool(WORD_CHAR.match(text[-1:]))
            | LEADING_HYPHEN * text.startswith("-")
            | TRAILING_HYPHEN * text.endswith("-")
        )
        word = self.word_ids.get(word_key(text), 0)
        return (self.form(text) << WORD_BITS | word) << FLAG_BITS | flags

    def type_properties(self, types: np.ndarray) -> np.ndarray:
        """Packed properties of each orth id in ``types``."""
        orths = types.tolist()
        for orth in set(orths).difference(self.types):
            self.types[orth] = self.properties(orth)
        return np.array([self.types[orth] for orth in orths], dtype=np.int64)

    def matches(
        self, codes: np.ndarray, props: np.ndarray, spaces: np.ndarray
    ) -> list[tuple[int, int, int]]:
        """First token, last token and form of each phrase matched among the
        tokens (type ``codes`` into packed ``props``, trailing ``spaces``):
        leftmost first, at one token the first in ``self.phrases``."""
        if not self.phrases:
            return []
        flags = props & ((1 << FLAG_BITS) - 1)
        type_words = (props >> FLAG_BITS) & ((1 << WORD_BITS) - 1)
        # Phrases are matched on the tokens other than whitespace and hyphens.
        solid = np.flatnonzero((flags & IS_GAP)[codes] == 0)
        solid_codes = codes[solid]
        candidates = np.flatnonzero(np.isin(type_words, self.first_words)[solid_codes])

        def words(at: np.ndarray) -> np.ndarray:
            return type_words[solid_codes[at]]

        def has(at: np.ndarray, flag: int) -> np.ndarray:
            return (flags[solid_codes[at]] & flag) > 0

        def gap_after(at: np.ndarray) -> np.ndarray:
            return (
                spaces[solid[at]]
                | (solid[at + 1] - solid[at] > 1)
                | has(at, TRAILING_HYPHEN)
                | has(at + 1, LEADING_HYPHEN)
            )

        found = []
        last_token = len(codes) - 1
        for rank, phrase in enumerate(self.phrases):
            at = candidates[np.isin(words(candidates), phrase.words[0])]
            for i, (allowed, gap) in enumerate(zip(phrase.words[1:], phrase.gaps, strict=True)):
                at = at[at + i + 1 < len(solid)]
                at = at[np.isin(words(at + i + 1), allowed) & (gap_after(at + i) == gap)]
            end = at + len(phrase.words) - 1
            first, last = solid[at], solid[end]
            before, after = np.maximum(first - 1, 0), np.minimum(last + 1, last_token)
            # Whole words: no word character just before or after.
            left = (first == 0) | has(at, LEADING_HYPHEN) | spaces[before]
            left |= (flags[codes[before]] & ENDS_WORD) == 0
            right = (last == last_token) | has(end, TRAILING_HYPHEN) | spaces[last]
            right |= (flags[codes[after]] & STARTS_WORD) == 0
            whole = left & right
            found += zip(
                first[whole].tolist(),
                [rank] * int(whole.sum()),
                last[whole].tolist(),
                strict=True,
            )
        chosen, end = [], -1
        for first, rank, last in sorted(found):
            if first > end:
                chosen.append((first, last, self.phrases[rank].form))
                end = last
        return chosen

    def group(self, orths: np.ndarray, spaces: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Form ids of the tokens kept from a group of notes, each note ended
        by the separator, and the number kept from each note."""
        codes, types = pd.factorize(orths)
        props = self.type_properties(types)
        forms = (props >> (FLAG_BITS + WORD_BITS))[codes]
        for first, last, form in self.matches(codes, props, spaces):
            forms[first : last + 1] = 0
            forms[first] = form
        kept = np.flatnonzero(forms)
        ends = np.searchsorted(kept, np.flatnonzero(orths == self.separator))
        return forms[kept].astype(np.int32), np.diff(ends, prepend=0)

    def column(self, forms: list[np.ndarray], counts: list[np.ndarray]) -> pa.ListArray:
        """The token lists of all notes, from the groups' form ids and counts."""
        values = pa.array(self.forms, pa.string()).take(
            np.concatenate([np.zeros(0, np.int32), *forms])
        )
        offsets = np.cumsum(np.concatenate([[0], *counts]), dtype=np.int32)
        return pa.ListArray.from_arrays(pa.array(offsets), values)


def token_groups(texts: Iterable[str], nlp: Language) -> Iterator[tuple[np.ndarray, np.ndarray]]:
    """Orth ids and trailing-space flags of the lowercased ``texts``' tokens,
    each text followed by the separator, a group of at least ``GROUP_TOKENS``
    tokens (the last may be smaller) at a time."""
    arrays: list[np.ndarray] = []
    size = 0
    # The lookup tables are lowercase and case-sensitive.
    for batch in batches(map(str.lower, texts), BATCH_CHARS):
        doc = nlp.tokenizer(f" {SEPARATOR} ".join(batch) + f" {SEPARATOR}")
        arrays.append(doc.to_array([ORTH, SPACY]))
        size += len(doc)
        if size >= GROUP_TOKENS:
            yield split(arrays)
            arrays, size = [], 0
    if arrays:
        yield split(arrays)


def split(arrays: list[np.ndarray]) -> tuple[np.ndarray, np.ndarray]:
    """Orth ids and trailing-space flags of tokens given as rows [orth, space]."""
    both = np.concatenate(arrays)
    return both[:, 0], both[:, 1].astype(bool)


def normalise(
    texts: Iterable[str],
    nlp: Language,
    stop_words: set[str],
    min_token_length: int,
    phrases: Iterable[str] = (),
) -> pa.ListArray:
    """The lemmas kept from each text, in order (see the module docstring).

    ``stop_words`` entries of several words are removed as phrases; single
    words are dropped as words or lemmas, like spaCy's own stop words.
    ``phrases`` become single tokens, their words joined by "_".
    """
    normaliser = Normaliser(nlp, stop_words, min_token_length, phrases)
    forms, counts = [], []
    for orths, spaces in token_groups(texts, nlp):
        group_forms, group_counts = normaliser.group(orths, spaces)
        forms.append(group_forms)
        counts.append(group_counts)
    return normaliser.column(forms, counts)


def main(snakemake) -> None:
    """Normalise the rule's shard of notes and write its tokens."""
    path = snakemake.input.notes
    notes = pq.ParquetFile(path)
    if not notes.schema_arrow.remove_metadata().equals(SCHEMAS["notes"]):
        raise ValueError(f"{path} does not carry schema 'notes': got {notes.schema_arrow}")
    ids = notes.read(columns=ID_COLUMNS)
    # Texts are streamed in batches so that a large shard's raw text is never
    # all in memory at once; only the (much smaller) token ids are.
    texts = (
        text
        for batch in notes.iter_batches(batch_size=BATCH_ROWS, columns=["text"])
        for text in batch.column("text").to_pylist()
    )
    start = time.perf_counter()
    params = snakemake.params
    column = normalise(
        texts, build_nlp(), set(params.stop_words), params.min_token_length, params.phrases
    )
    seconds = time.perf_counter() - start
    flat = column.flatten()
    logger.info(
        "normalised %d notes into %d tokens (%d distinct) in %.1f s",
        len(column),
        len(flat),
        pc.count_distinct(flat).as_py(),
        seconds,
    )
    write_parquet(ids.append_column("tokens", column), snakemake.output.tokens, "tokens")


if __name__ == "__main__":
    from common import run

    run(lambda: main(snakemake), snakemake.log[0])  # noqa: F821
