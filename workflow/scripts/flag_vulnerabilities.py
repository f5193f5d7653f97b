"""Flag the study's 27 vulnerability categories in one shard of redacted notes.

Each category of the configurable lexicon (resources/vulnerability_lexicon.yaml)
is a list of phrases. Notes are lowercased and tokenised by spaCy's blank
English tokenizer (no trained pipeline, no download), and the phrases are found
by a ``PhraseMatcher`` on the ``LOWER`` attribute: whole tokens, case-insensitive,
multi-word. A note gets ``flag_<category> = 1`` when at least one of the
category's phrases matches without being negated, else 0.

Negation is a simple window rule (in the spirit of NegEx): a match is ignored
when a negation cue (``NEGATION_CUES``) ends at most ``negation_window`` tokens
before it in the same clause. A clause ends at a token of
``CLAUSE_BOUNDARIES`` (".", ";", "but", "however", ...) or a line break, so
"no police involvement but cannabis found" still flags cannabis. Commas do not
end a clause, so a short negated list ("no drugs, alcohol or cannabis") is
negated throughout, at the price of missing a concern that follows a negated
one after a comma within the window; items of a long list beyond the window
are flagged. Runs of whitespace count as one space.

A cue word that lies inside a matched phrase is not a cue. Phrases that begin
with a cue word are therefore concerns in themselves: "no food in the house"
matches the food-poverty phrase "no food" (its "no" is part of the match, not
before it), and in "not attending school, excluded" the "not" belongs to the
phrase "not attending school", so "excluded" is flagged. Cues after a match
("drug use denied") are not handled: such a note is flagged.

Speed: notes are joined into batches of about ``BATCH_CHARS`` characters by a
separator word and tokenised with ``nlp.tokenizer.pipe``, because spaCy's
fixed cost per ``Doc`` is larger than the work on a short note; matches are
mapped back to notes, and negation is decided for all matches at once with
array operations.
"""

import logging
import re
import time
from collections.abc import Iterable
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import spacy
import yaml
from spacy.attrs import ORTH
from spacy.language import Language
from spacy.matcher import PhraseMatcher

from common import DATE, ID, InputError, batches, read_parquet, write_parquet

logger = logging.getLogger(__name__)

ID_COLUMNS = ["note_id", "child_id", "note_datetime"]
FLAG_PREFIX = "flag_"
# Upper case, so that no lexicon category (lower case, CATEGORY_NAME) can take it.
NEGATION_LABEL = "NEGATION_CUE"
NEGATION_CUES = (
    "no",
    "not",
    "n't",
    "denies",
    "denied",
    "without",
    "never",
    "nil",
    "none",
    "no evidence of",
    "no concerns about",
    "no concerns regarding",
)
# Tokens that end a clause: negation does not reach past them.
CLAUSE_BOUNDARIES = (".", ";", "!", "?", "but", "however", "although")
CATEGORY_NAME = re.compile(r"^[a-z][a-z0-9_]*$")
# Characters tokenised at once (see normalise_notes.py for the measurement).
BATCH_CHARS = 20_000
# Joins the notes of a batch. Uppercase, so it cannot occur in the lowercased
# notes; between spaces, so it cannot change how the words beside it are split.
SEPARATOR = "NOTEBREAK"
# Replaces line breaks, which end a clause (uppercase for the same reason).
CLAUSE_BREAK = "CLAUSEBREAK"
# Where build_matcher records the category order in ``nlp.meta``.
META_KEY = "vulnerability_categories"


def flag_column(category: str) -> str:
    """Name of a category's flag column."""
    return f"{FLAG_PREFIX}{category}"


def load_lexicon(path: str | Path) -> dict[str, list[str]]:
    """Read the lexicon: category -> lowercased phrases, in file order.

    Raises ``InputError`` naming the file (and the category) when the file is
    missing or not YAML, is not a mapping of snake_case categories to
    non-empty lists of non-empty strings.
    """
    path = Path(path)
    if not path.is_file():
        raise InputError(f"vulnerability lexicon {path} does not exist; check the config.")
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except yaml.YAMLError as error:
        raise InputError(f"vulnerability lexicon {path} is not valid YAML: {error}") from None
    if not isinstance(data, dict) or not data:
        raise InputError(
            f"vulnerability lexicon {path} must be a mapping of category names to "
            f"lists of phrases; got {type(data).__name__}."
        )
    lexicon: dict[str, list[str]] = {}
    for category, phrases in data.items():
        if not isinstance(category, str) or not CATEGORY_NAME.match(category):
            raise InputError(
                f"vulnerability lexicon {path}: category {category!r} is not a snake_case "
                "name (lowercase letters, digits, underscores, starting with a letter)."
            )
        if not isinstance(phrases, list) or not phrases:
            raise InputError(
                f"vulnerability lexicon {path}: category {category!r} must have a non-empty "
                f"list of phrases; got {phrases!r}."
            )
        cleaned = []
        for phrase in phrases:
            if not isinstance(phrase, str) or not phrase.strip():
                raise InputError(
                    f"vulnerability lexicon {path}: category {category!r} has phrase "
                    f"{phrase!r}; every phrase must be a non-empty string."
                )
            cleaned.append(" ".join(phrase.lower().split()))
        lexicon[category] = list(dict.fromkeys(cleaned))
    return lexicon


def build_matcher(lexicon: dict[str, list[str]]) -> tuple[Language, PhraseMatcher]:
    """A blank English pipeline and a PhraseMatcher (attr LOWER) holding each
    category's phrases under the category's name, and the negation cues under
    ``NEGATION_LABEL``. The category order is kept in ``nlp.meta[META_KEY]``."""
    nlp = spacy.blank("en")
    nlp.meta[META_KEY] = list(lexicon)
    matcher = PhraseMatcher(nlp.vocab, attr="LOWER")
    for category, phrases in lexicon.items():
        matcher.add(category, list(nlp.tokenizer.pipe(p.lower() for p in phrases)))
    matcher.add(NEGATION_LABEL, list(nlp.tokenizer.pipe(NEGATION_CUES)))
    return nlp, matcher


def flag_texts(
    texts: Iterable[str | None], nlp: Language, matcher: PhraseMatcher, negation_window: int
) -> pd.DataFrame:
    """One row per text (in order), one int8 0/1 column ``flag_<category>``
    per category of ``build_matcher``'s lexicon (in lexicon order); see the
    module docstring for matching and negation. Missing texts get all zeros."""
    categories = nlp.meta[META_KEY]
    strings = nlp.vocab.strings
    category_of = {strings.add(c): i for i, c in enumerate(categories)}
    negation = strings.add(NEGATION_LABEL)
    separator = strings.add(SEPARATOR)
    boundaries = np.array(
        [strings.add(t) for t in (*CLAUSE_BOUNDARIES, CLAUSE_BREAK)], dtype=np.uint64
    )

    def prepare(text: str | None) -> str:
        if not isinstance(text, str):
            return ""
        return " ".join(text.lower().replace("\n", f" {CLAUSE_BREAK} ").split())

    lowered = [prepare(text) for text in texts]
    flags = np.zeros((len(lowered), len(categories)), dtype=np.int8)
    runs = list(batches(lowered, BATCH_CHARS))
    joined = (f" {SEPARATOR} ".join(run) for run in runs)
    first_note = 0
    for run, doc in zip(runs, nlp.tokenizer.pipe(joined, batch_size=16), strict=True):
        # Match ids are 64-bit hashes: unsigned, they do not overflow.
        found = np.array(matcher(doc), dtype=np.uint64).reshape(-1, 3)
        if len(found):
            orths = doc.to_array(ORTH)
            is_separator = orths == separator
            note = np.cumsum(is_separator)
            clause = np.cumsum(is_separator | np.isin(orths, boundaries))
            labels = found[:, 0]
            starts, ends = found[:, 1].astype(np.int64), found[:, 2].astype(np.int64)
            is_cue = labels == np.uint64(negation)

            # Tokens inside a concern phrase: a cue word there is part of the phrase.
            depth = np.zeros(len(doc) + 1, dtype=np.int64)
            np.add.at(depth, starts[~is_cue], 1)
            np.add.at(depth, ends[~is_cue], -1)
            covered = np.concatenate([[0], np.cumsum(np.cumsum(depth[:-1]) > 0)])
            cue_ok = is_cue & (covered[ends] == covered[starts])

            # Last token of the nearest valid cue ending at or before each token.
            cue_last = np.full(len(doc), -1, dtype=np.int64)
            cue_last[ends[cue_ok] - 1] = ends[cue_ok] - 1
            nearest_cue = np.maximum.accumulate(cue_last)

            c_starts = starts[~is_cue]
            cue = np.where(c_starts > 0, nearest_cue[np.maximum(c_starts - 1, 0)], -1)
            negated = (
                (cue >= 0)
                & (c_starts - cue <= negation_window)
                & (clause[np.maximum(cue, 0)] == clause[c_starts])
            )
            keep = ~negated
            rows = first_note + note[c_starts[keep]]
            cols = np.array(
                [category_of[label] for label in labels[~is_cue][keep].tolist()], dtype=np.int64
            )
            flags[rows, cols] = 1
        first_note += len(run)
    return pd.DataFrame(flags, columns=[flag_column(c) for c in categories])


def flags_schema(lexicon: dict[str, list[str]]) -> pa.Schema:
    """Schema of the flags table: note ids, then one int8 flag per category."""
    fields = [("note_id", ID), ("child_id", ID), ("note_datetime", DATE)]
    return pa.schema(fields + [(flag_column(c), pa.int8()) for c in lexicon])


def main(snakemake) -> None:
    """Flag the vulnerability categories in the rule's shard of notes."""
    lexicon = load_lexicon(snakemake.input.lexicon)
    notes = read_parquet(snakemake.input.notes, "notes")
    nlp, matcher = build_matcher(lexicon)
    start = time.perf_counter()
    flags = flag_texts(notes["text"], nlp, matcher, int(snakemake.params.negation_window))
    seconds = time.perf_counter() - start
    logger.info(
        "flagged %d notes in %.1f s (%.0f notes/s); notes flagged per category: %s",
        len(notes),
        seconds,
        len(notes) / seconds if seconds else float("nan"),
        {c: int(flags[flag_column(c)].sum()) for c in lexicon},
    )
    out = pd.concat([notes[ID_COLUMNS].reset_index(drop=True), flags], axis=1)
    write_parquet(out, snakemake.output.flags, flags_schema(lexicon))


if __name__ == "__main__":
    from common import run

    run(lambda: main(snakemake), snakemake.log[0])  # noqa: F821
