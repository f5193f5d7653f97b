"""Redact and pseudonymise case notes, and shard them by child.

Case notes are the most sensitive data the workflow touches, and this is the
only stage that reads their raw text. Before anything is written it replaces:

- identifiers and contact details found by pattern, by a placeholder each:
  e-mail addresses (``EMAIL``), UPNs (``UPN``), UK phone numbers (``PHONE``),
  NHS numbers (``NHS_NUMBER``), dates written as numbers or with a month name
  (``DATE``) and UK postcodes (``POSTCODE``);
- every first name, last name and carer name in the LA's people export, by
  ``NAME``, in every note rather than only the child's own, because notes
  mention siblings, partners and neighbours. Names match whole words in any
  case, with or without accents ("Zoë" and "Zoe" match each other), so
  "Sarah's" becomes "NAME's", "the Smiths" "the NAME" and "Nowak_2.docx"
  "NAME_2.docx", while the name "Ann" leaves "announce" alone, and the names
  "Day" and "Mark" leave "days" and "marks" (a plural "s" is part of a name
  unless name and "s" make an ordinary word; even then a capitalised "Marks"
  inside a sentence goes, "saw Marks bag", while "Marks on his arm." stays);
  misspellings by two swapped letters ("Kieth") match too, unless the
  misspelling is an English word ("brain" for "Brian");
- names from the LA's configured lists of schools, places, teams and staff
  (before the names of people), by ``SCHOOL_NAME``, ``PLACE_NAME``,
  ``TEAM_NAME`` and ``STAFF_NAME``: each
  entry as a whole phrase in any case and spacing ("Oakfield  primary
  SCHOOL's"), and each word of a staff member's name on its own, like the
  names of people (placeholders hold an underscore so that normalisation
  drops them while keeping the ordinary words "school", "place" and "team");
- optionally, any capitalised word in a list of first names shipped as data
  (``resources/first_names/``), by ``NAME``, with or without accents and with
  a plural or possessive "s" as above, except common words that are
  more often ordinary words than names, judged by spaCy's word probabilities
  ("Will", "May", "Hope" stay), and configured exceptions;
- optionally, the people, places and buildings found by a trained spaCy
  pipeline's named-entity recogniser, by ``NAME`` and ``PLACE_NAME``.

Document types are redacted in the same way, as some case-management systems
fill them with a free-text subject ("Visit to Jayden Smith"); their
frequencies, redacted, go into a small QA table (schema ``ingest_qa``) that
the report shows with ingestion's; a type of fewer than
``common.MIN_CHILDREN_SHOWN_VALUE`` children, which may hold a name redaction
missed, is counted with the others, unnamed. Note and child
identifiers become keyed hashes, the same as in the structured
tables, and notes are split into shards by child so that normalisation can run
one job per shard. The log holds counts only, never text or identifiers.

Precision is traded for recall, because a leaked name costs more than a lost
word: names that are also ordinary words ("May", "Grace", "Will") are redacted
wherever the word occurs; any ten digits not starting with 0 read as an NHS
number; "3 may" and "aged 12 since 2015" read as dates. Names of one letter
(initials) are not redacted, as they would hit every "a" and "I"; nor are other
misspellings, nor names missing from the people export, which is why notes of
children absent from it are counted in the log. Years alone ("in 2015") and
times are kept: they identify nobody and matter for the chronology.
"""

import functools
import logging
import math
import re
import unicodedata
from collections import Counter
from collections.abc import Callable
from pathlib import Path
from typing import NamedTuple

import pandas as pd
import pyarrow as pa
import spacy
from spacy.language import Language
from spacy.lookups import Table, load_lookups

from common import (
    InputError,
    check_key_fingerprint,
    column_label,
    counts_shown,
    first_row,
    nameable_values,
    parse_dates,
    pseudonymise,
    read_mapped_csv,
    resolve_key,
    unusable_notes,
    write_parquet,
)

logger = logging.getLogger(__name__)

NAME = "NAME"
# Configured lists of names (config data.name_lists) and their placeholders,
# redacted in this order, before the names of people.
LIST_PLACEHOLDERS = {
    "schools": "SCHOOL_NAME",
    "places": "PLACE_NAME",
    "teams": "TEAM_NAME",
    "staff": "STAFF_NAME",
}
# Entity labels of spaCy's English pipelines that identify someone, and their
# placeholders.
ENTITY_PLACEHOLDERS = {
    "PERSON": NAME,
    "GPE": LIST_PLACEHOLDERS["places"],
    "LOC": LIST_PLACEHOLDERS["places"],
    "FAC": LIST_PLACEHOLDERS["places"],
}
# A first name is taken for an ordinary word when it is written this many times
# as often in lower case as capitalised: 3 keeps "Grace", "Mark", "Ella" and
# "Hazel" as names (each under twice) and "Will", "May", "Hope" as words.
ORDINARY_ODDS = 3.0
# About one word in 160,000 of the web text behind the probabilities.
ORDINARY_MIN_LOG_PROB = -12.0
FIRST_NAME = re.compile(r"(?<!\w)[A-Z][a-z]+(?!\w)")
MIN_NAME_LENGTH = 2
# Marks, in ``trie_regex``'s tree, the end of a word that may take a plural "s".
PLURAL_END = "\0"
# Shorter names have too few letters for a swap to stay recognisable.
MIN_TYPO_LENGTH = 5
# Titles in a carer's name are not names: "Mrs" would otherwise be redacted in
# every note.
TITLES = frozenset({"mr", "mrs", "ms", "miss", "mx", "dr", "rev", "sir"})
NAME_WORD = re.compile(r"[^\W\d_]+(?:['’-][^\W\d_]+)*")
NOTE_COLUMNS = ["note_id", "child_id", "note_datetime", "document_type", "text"]
CHUNK_ROWS = 50_000


class Rule(NamedTuple):
    """One kind of identifier: its placeholder, its pattern, and a cheap test.

    ``needs`` must match somewhere in a text before ``pattern`` is tried: the
    full patterns scan slowly, and most notes hold no "@", UPN or year.
    """

    kind: str
    pattern: re.Pattern[str]
    needs: re.Pattern[str] | None = None


_MONTH = (
    r"(?:jan(?:uary)?|feb(?:ruary)?|mar(?:ch)?|apr(?:il)?|may|june?|july?|aug(?:ust)?"
    r"|sep(?:t(?:ember)?)?|oct(?:ober)?|nov(?:ember)?|dec(?:ember)?)\b"
)
_ORDINAL = r"(?:st|nd|rd|th)?"
_YEAR = r"(?:19|20)(?<!\d\d\d)\d{2}(?!\d)"
# Patterns that start with a digit begin "\d(?<!\d\d)" rather than "(?<!\d)\d":
# the same test, but a leading digit lets the regex engine skip straight to
# the next digit instead of trying every position.
#
# Rules run in this order, each on the output of the one before. E-mails go
# first, as their local part often holds a name. Dates go before phone
# numbers, which may be written with dots: "01.02.2015 10:30" is a date and a
# time, not a phone number. Phone numbers go before NHS numbers: a phone
# number starts with 0 or +44, which an NHS number never does, but the digits
# after "+44 " can look like one. Names go last (see
# ``Redactor``), so that a name such as "May" inside a date is redacted as part
# of the whole date, and one inside an e-mail address as part of the address.
RULES: tuple[Rule, ...] = (
    Rule("EMAIL", re.compile(r"[\w.%+-]++@[\w-]+(?:\.[\w-]+)+"), re.compile("@")),
    # Permanent UPNs are a letter and 12 digits; temporary ones end in a letter.
    Rule("UPN", re.compile(r"\b[a-z]\d{11}[a-z\d]\b", re.IGNORECASE), re.compile(r"\d{11}")),
    # dd/mm/yyyy, d.m.yy, yyyy-mm-dd, "3rd (of) March (2015)", and a day, any
    # word and a year, which catches misspelt months ("3 Macrh 2015").
    Rule(
        "DATE",
        re.compile(
            r"\d(?<!\d\d)(?:\d?[/.-]\d{1,2}[/.-](?:\d{4}|\d{2})(?!\d)"
            r"|\d{3}[/-]\d{1,2}[/-]\d{1,2}(?!\d)"
            rf"|\d?{_ORDINAL}(?:\s+of)?\s+(?:{_MONTH}(?:\.?,?\s+{_YEAR})?"
            rf"|[^\W\d_]{{3,9}}\.?,?\s+{_YEAR}))",
            re.IGNORECASE,
        ),
    ),
    # "March 3rd, 2015" and "March 2015": a month name then a year.
    Rule(
        "DATE",
        re.compile(rf"\b{_MONTH}\.?,?\s+(?:\d{{1,2}}{_ORDINAL},?\s+)?{_YEAR}", re.IGNORECASE),
        re.compile(_YEAR),
    ),
    # 0, +44 or 0044 (then perhaps "(0)"), then 9 or 10 more digits, with
    # single spaces, hyphens, dots or a closing bracket between them
    # ("+44-7700-900123", "07700.900.123").
    Rule(
        "PHONE",
        re.compile(
            r"(?:\+(?<![\d+]\+)44[ -]?(?:\(0\)[ -]?)?|\((?<![\d+]\()0|0(?<![\d+]0)"
            r"(?:044[ -]?(?:\(0\)[ -]?)?)?)(?:\d\)?[ .-]?){8,9}\d(?!\d)"
        ),
    ),
    # Ten digits, written "943 476 5919", "943-476-5919", "943 4765 919" or
    # run together.
    Rule(
        "NHS_NUMBER",
        re.compile(r"[1-9](?<!\d\d)\d{2}(?:[ -]?\d{3}[ -]?\d{4}|[ -]?\d{4}[ -]?\d{3})(?!\d)"),
    ),
    # "LS12 4AB", "m1 1aa", "SW1A1AA", "B15  2TT", "B15-2TT".
    Rule(
        "POSTCODE",
        re.compile(r"\b[a-z]{1,2}\d[a-z\d]?(?:\s{1,3}|-)?\d[a-z]{2}\b", re.IGNORECASE),
        re.compile(r"\d[a-z]{2}\b", re.IGNORECASE),
    ),
)


def accent_folds() -> dict[int, str]:
    """Each accented Latin letter (Latin-1 to Latin Extended-B, and Latin
    Extended Additional) and its base letter ("ë" -> "e"), plus the letters
    with a stroke that Unicode does not decompose ("ø", "ł", "đ")."""
    folds = {ord(a): b for a, b in zip("øØłŁđĐ", "oOlLdD", strict=True)}
    for code in [*range(0x00C0, 0x0250), *range(0x1E00, 0x1F00)]:
        decomposed = unicodedata.normalize("NFD", chr(code))
        if len(decomposed) > 1 and all(unicodedata.combining(c) for c in decomposed[1:]):
            folds[code] = decomposed[0]
    return folds


ACCENT_FOLDS = accent_folds()


def fold_accents(text: str) -> str:
    """``text`` with accented letters replaced by their base letters, one
    character for one, so that positions in it fit ``text``."""
    return text if text.isascii() else text.translate(ACCENT_FOLDS)


PLACEHOLDERS: tuple[str, ...] = (
    *dict.fromkeys(rule.kind for rule in RULES),
    *LIST_PLACEHOLDERS.values(),
    NAME,
)


def name_variants(cell: str) -> set[str]:
    """The lowercased name words in one cell of the people export.

    "Mary-Jane O'Connor" gives "mary-jane", "mary", "jane", "o'connor",
    "o’connor", "oconnor" and "connor", because notes use either apostrophe,
    drop it, or use one half of a double-barrelled name. Accents are ignored
    when matching (``words_regex``), so "Zoë" gives only "zoë".
    """
    variants: set[str] = set()
    for word in NAME_WORD.findall(cell.lower()):
        variants.add(word)
        variants.update(re.split(r"['’-]", word))
        if re.search(r"['’]", word):
            variants.update({word.replace("'", "’"), word.replace("’", "'")})
            variants.add(re.sub(r"['’]", "", word))
    return {v for v in variants if len(v) >= MIN_NAME_LENGTH and v not in TITLES}


def typo_variants(name: str) -> set[str]:
    """``name`` with two adjacent letters swapped ("kieth" for "keith"), the
    commonest typing error, for names of at least ``MIN_TYPO_LENGTH`` letters."""
    if len(name) < MIN_TYPO_LENGTH or not name.isalpha():
        return set()
    swaps = {name[:i] + name[i + 1] + name[i] + name[i + 2 :] for i in range(len(name) - 1)}
    return swaps - {name}


def english_words() -> Callable[[str], bool]:
    """A test for English words: base forms from spaCy's lemma index and
    inflected forms from its lemma lookup table (spacy-lookups-data, offline)."""
    lookups = load_lookups("en", ["lemma_index", "lemma_lookup"])
    base = {word for words in lookups.get_table("lemma_index").values() for word in words}
    inflected = lookups.get_table("lemma_lookup")
    return lambda word: word in base or word in inflected


def people_names(people: pd.DataFrame, separator: str, is_word: Callable[[str], bool]) -> list[str]:
    """Every distinct name word of every child and carer in ``people``, and its
    misspellings by swapped letters unless they are words (``is_word``), sorted.

    ``carer_names`` holds full names separated by ``separator``. A misspelt
    name is as identifying as the name, but "brain" must not go for "Brian".
    """
    cells = pd.concat([people["first_name"], people["last_name"]]).dropna().tolist()
    for cell in people["carer_names"].dropna():
        cells.extend(cell.split(separator))
    names: set[str] = set()
    for cell in cells:
        names |= name_variants(cell)
    typos = {typo for name in names for typo in typo_variants(name) if not is_word(typo)}
    return sorted(names | typos)


def read_name_list(path: str | Path) -> list[str]:
    """The names in one configured list: a text file of one name per line
    (blank lines and lines starting with "#" skipped), or the first column of
    a CSV file with a header row.

    Raises ``InputError`` naming the file if it holds no name.
    """
    path = Path(path)
    if path.suffix.lower() == ".csv":
        frame = pd.read_csv(
            path, dtype=str, keep_default_na=False, encoding="utf-8-sig", usecols=[0]
        )
        entries = frame.iloc[:, 0].tolist()
    else:
        lines = path.read_text(encoding="utf-8-sig").splitlines()
        entries = [line for line in lines if not line.lstrip().startswith("#")]
    names = [" ".join(entry.split()) for entry in entries if entry.strip()]
    if not names:
        raise InputError(
            f"{path}: the name list is empty; add one name per line (or per row of "
            "the first column of a CSV file), or remove it from data.name_lists."
        )
    return names


def listed_names(kind: str, entries: list[str]) -> list[str]:
    """The lowercased phrases to redact for one configured list.

    Every entry is a phrase, with either apostrophe; staff entries give, in
    addition, every name word (``name_variants``), because notes often name a
    worker by first or last name alone.
    """
    phrases: set[str] = set()
    for entry in entries:
        phrase = entry.lower()
        phrases |= {phrase, phrase.replace("'", "’"), phrase.replace("’", "'")}
        if kind == "staff":
            phrases |= name_variants(entry)
    return sorted(p for p in phrases if len(p) >= MIN_NAME_LENGTH)


def read_first_names(path: str | Path) -> set[str]:
    """The lowercased first names in a list of one name per line."""
    lines = Path(path).read_text(encoding="utf-8").splitlines()
    return {line.strip().lower() for line in lines if line.strip() and not line.startswith("#")}


@functools.cache
def word_probabilities() -> Table:
    """The log probabilities of English words in web text (spacy-lookups-data,
    offline), loaded once for the first-name pass and the plural names; about
    300 MB, released by ``word_probabilities.cache_clear()`` once both are built."""
    return load_lookups("en", ["lexeme_prob"]).get_table("lexeme_prob")


def ordinary_words(words: set[str]) -> set[str]:
    """Those ``words`` that are common in lower case (log probability at
    least ``ORDINARY_MIN_LOG_PROB``) and written at least ``ORDINARY_ODDS``
    times as often in lower case as capitalised, by the word probabilities of
    spacy-lookups-data: more often ordinary words than names ("will", "may",
    "hope", "faith"), even at the start of a sentence. Rare names are not
    judged, as their few lower-case uses (user names, other languages) say
    little. Words it lacks are not ordinary."""
    probability = word_probabilities()
    floor = -math.inf
    margin = math.log(ORDINARY_ODDS)
    ordinary = set()
    for word in words:
        lower = probability.get(word, floor)
        if (
            lower >= ORDINARY_MIN_LOG_PROB
            and lower - probability.get(word.capitalize(), floor) >= margin
        ):
            ordinary.add(word)
    return ordinary


def first_name_pass(path: str | Path | None, exceptions: list[str]) -> set[str]:
    """The first names the optional pass redacts: those in the list at
    ``path`` (none if ``path`` is None), less ordinary words and ``exceptions``."""
    if path is None:
        return set()
    names = read_first_names(path)
    return names - ordinary_words(names) - {word.lower() for word in exceptions}


def load_entity_pipeline(model: str | None) -> Language | None:
    """The installed spaCy pipeline ``model`` with only what its named-entity
    recogniser needs, or None if ``model`` is None. Nothing is downloaded.

    Raises ``InputError`` if the pipeline is not installed or has no "ner".
    """
    if model is None:
        return None
    try:
        nlp = spacy.load(model)
    except OSError as error:
        raise InputError(
            f"config text.ner_model: spaCy pipeline {model!r} is not installed ({error}); "
            "install it into the environment (e.g. pip install of its wheel, offline) "
            "or set text.ner_model to null."
        ) from None
    if "ner" not in nlp.pipe_names:
        raise InputError(
            f"config text.ner_model: spaCy pipeline {model!r} has no named-entity "
            "recogniser ('ner'); choose a pipeline that has one or set it to null."
        )
    # The recogniser may listen to a shared token-to-vector layer; the tagger,
    # parser and lemmatizer are not needed.
    needed = ("tok2vec", "transformer", "ner")
    nlp.select_pipes(enable=[name for name in nlp.pipe_names if name in needed])
    return nlp


def trie_regex(words: list[str], plural: set[str] = frozenset()) -> str:
    """A regex matching exactly ``words``, those in ``plural`` perhaps
    followed by "s", factored into a prefix tree.

    Python's ``re`` tries the branches of a flat alternation one by one at
    every position, which takes minutes per thousand notes with an LA's tens of
    thousands of names; a tree tries only the branches that share the text's
    next character. Longer words win, so "anna" is one match, not "ann" + "a".
    A space in a word (a phrase such as "oakfield primary") matches any run of
    whitespace.
    """
    trie: dict[str, dict] = {}
    for word in words:
        node = trie
        for char in word + PLURAL_END if word in plural else word:
            node = node.setdefault(char, {})
        node[""] = {}

    def piece(char: str) -> str:
        if char == PLURAL_END:
            return "s?"
        return r"\s+" if char == " " else re.escape(char)

    def pattern(node: dict[str, dict]) -> str:
        # The optional "s" is tried last, like the end of a shorter word, so
        # that longer words still win ("mary-jane" over "mary").
        ordered = sorted(node.items(), key=lambda item: item[0] == PLURAL_END)
        branches = [piece(char) + pattern(child) for char, child in ordered if char]
        if not branches:
            return ""
        body = branches[0] if len(branches) == 1 else "(?:" + "|".join(branches) + ")"
        if "" not in node:
            return body
        return f"(?:{body})?" if len(branches) == 1 else body + "?"

    return pattern(trie)


def plural_names(words: set[str]) -> set[str]:
    """Those lowercased ``words`` that take a plural or possessive "s" as
    names ("jaydens", "smiths"): all but those that make an ordinary word with
    it (``ordinary_words``), so that the names Day, Mark and Hope leave "days",
    "marks" and "hopes" alone."""
    ordinary = ordinary_words({word + "s" for word in words})
    return {word for word in words if word + "s" not in ordinary}


def words_regex(words: list[str]) -> re.Pattern[str] | None:
    """A regex matching ``words`` as whole words in text lowercased and
    without accents (``fold_accents``), or None if there are none.

    A plural or possessive "s" ("Jaydens bag", "the Smiths") belongs to the
    word where ``plural_names`` allows it.
    """
    words = sorted({fold_accents(w.lower()) for w in words if len(w) >= MIN_NAME_LENGTH})
    if not words:
        return None
    # Matched case-sensitively in the lowercased text, twice as fast as a
    # case-insensitive match; look-arounds rather than \b, so that a name
    # ending in "." still needs a non-letter after it, while digits and "_"
    # end it ("Nowak_referral.docx", "zoe2"), though \w holds them.
    return re.compile(
        rf"(?<![^\W\d_])(?:{trie_regex(words, plural_names(set(words)))})(?![^\W\d_])"
    )


def capitalised_plurals_regex(words: set[str]) -> re.Pattern[str] | None:
    """A regex matching, in text without accents, the capitalised plural or
    possessive of those lowercased name ``words`` whose plural is an ordinary
    word ("Marks"), or None if there are none. Only matches inside a sentence
    (``inside_sentence``) are names.

    Mid-sentence, "Marks" is a name; at the start of a sentence it is as likely
    the ordinary word ("Marks on his arm"), which stays.
    """
    words = {fold_accents(w) for w in words if len(w) >= MIN_NAME_LENGTH and w.isalpha()}
    names = sorted(word.capitalize() + "s" for word in words - plural_names(words))
    if not names:
        return None
    # The context is a group rather than a look-behind, which would stop
    # ``re`` from skipping quickly to the names' first letters.
    return re.compile(rf"(?:{trie_regex(names)})(?![^\W\d_])")


def inside_sentence(text: str, position: int) -> bool:
    """Whether ``position`` in ``text`` follows a lower-case letter, digit or
    clause punctuation and one space: not the start of a sentence."""
    return (
        position >= 2
        and text[position - 1].isspace()
        and (
            text[position - 2] in ",;:)"
            or text[position - 2].isdigit()
            or text[position - 2].islower()
        )
    )


def replace_spans(text: str, spans: list[tuple[int, int]], placeholder: str) -> str:
    """``text`` with each of the ordered, disjoint ``spans`` replaced by ``placeholder``."""
    pieces, end = [], 0
    for start, stop in spans:
        pieces += [text[end:start], placeholder]
        end = stop
    pieces.append(text[end:])
    return "".join(pieces)


def substitute_matches(
    pattern: re.Pattern[str], placeholder: str, text: str, searched: str
) -> tuple[str, int]:
    """``text`` with the spans where ``pattern`` matches in ``searched``, a
    copy of ``text`` of the same length (lowercased, say), replaced by
    ``placeholder``, keeping the rest as it was; and the number replaced."""
    spans = [match.span() for match in pattern.finditer(searched)]
    return replace_spans(text, spans, placeholder), len(spans)


def substitute_lowercase(pattern: re.Pattern[str], placeholder: str, text: str) -> tuple[str, int]:
    """``text`` with the matches of ``pattern`` in its lowercased form without
    accents replaced by ``placeholder``, keeping the rest as it was; and the
    number replaced. "Zoë" matches "zoe", and "Zoe" matches "zoë"."""
    lower = fold_accents(text.lower())
    if len(lower) != len(text):
        # A few characters ("İ") lengthen when lowercased, so positions in the
        # lowercased text would not fit the original: redact the lowercased
        # text instead, losing only this note's case.
        return pattern.subn(placeholder, lower)
    return substitute_matches(pattern, placeholder, text, lower)


class Redactor:
    """Replaces identifiers and names by placeholders; patterns compile once.

    ``lists`` maps a placeholder to its lowercased phrases (``listed_names``),
    ``first_names`` holds the lowercased first names redacted when capitalised
    (with a plural or possessive "s" where ``plural_names`` allows it), and
    ``entities`` is a spaCy pipeline whose named entities are redacted.
    """

    def __init__(
        self,
        names: list[str],
        lists: dict[str, list[str]] | None = None,
        first_names: set[str] | frozenset[str] = frozenset(),
        entities: Language | None = None,
    ) -> None:
        self.lists = {
            placeholder: pattern
            for placeholder, phrases in (lists or {}).items()
            if (pattern := words_regex(phrases)) is not None
        }
        self.names = words_regex(names)
        self.first_names = {fold_accents(name) for name in first_names}
        self.first_name_plurals = plural_names(self.first_names)
        self.capitalised_plurals = capitalised_plurals_regex(
            {name.lower() for name in names} | self.first_names
        )
        self.entities = entities

    def redact_names(self, text: str) -> tuple[str, int]:
        """``text`` with names of people replaced, and the number replaced."""
        if self.names is None:
            return text, 0
        return substitute_lowercase(self.names, NAME, text)

    def is_first_name(self, word: str) -> bool:
        """Whether the lowercased ``word``, without accents, is a first name or
        a first name's plural or possessive."""
        return word in self.first_names or (
            word.endswith("s") and word[:-1] in self.first_name_plurals
        )

    def redact_first_names(self, text: str) -> tuple[str, int]:
        """``text`` with capitalised first names replaced, accented or not
        ("Zoë"), and the number replaced."""
        if not self.first_names:
            return text, 0
        spans = [
            match.span()
            for match in FIRST_NAME.finditer(fold_accents(text))
            if self.is_first_name(match.group().lower())
        ]
        return replace_spans(text, spans, NAME), len(spans)

    def redact_capitalised_plurals(self, text: str) -> tuple[str, int]:
        """``text`` with names' capitalised plurals that are also ordinary
        words replaced inside sentences ("Marks bag"), and the number replaced."""
        if self.capitalised_plurals is None:
            return text, 0
        searched = fold_accents(text)
        spans = [
            match.span()
            for match in self.capitalised_plurals.finditer(searched)
            if inside_sentence(searched, match.start())
        ]
        return replace_spans(text, spans, NAME), len(spans)

    def redact_text(self, text: str, counts: Counter[str]) -> str:
        """``text`` redacted but for named entities; adds the replacements
        made to ``counts``."""
        # "ë" may be typed as "e" and a combining diaeresis; composed, it folds
        # to "e" as one character.
        text = unicodedata.normalize("NFC", text)
        for rule in RULES:
            if rule.needs is None or rule.needs.search(text):
                text, n = rule.pattern.subn(rule.kind, text)
                counts[rule.kind] += n
        for placeholder, pattern in self.lists.items():
            text, n = substitute_lowercase(pattern, placeholder, text)
            counts[placeholder] += n
        for redact_names in (
            self.redact_names,
            self.redact_first_names,
            self.redact_capitalised_plurals,
        ):
            text, n = redact_names(text)
            counts[NAME] += n
        return text

    def redact_entities(self, texts: list[str], counts: Counter[str]) -> list[str]:
        """``texts`` with the named entities that identify someone replaced."""
        if self.entities is None:
            return texts
        out = []
        for text, doc in zip(texts, self.entities.pipe(texts), strict=True):
            pieces, end = [], 0
            for entity in doc.ents:
                placeholder = ENTITY_PLACEHOLDERS.get(entity.label_)
                if placeholder is not None:
                    pieces += [text[end : entity.start_char], placeholder]
                    end = entity.end_char
                    counts[placeholder] += 1
            pieces.append(text[end:])
            out.append("".join(pieces))
        return out

    def __call__(self, texts: pd.Series) -> tuple[pd.Series, Counter[str]]:
        """Redacted ``texts`` (same index) and the number of replacements by kind."""
        counts: Counter[str] = Counter(dict.fromkeys(PLACEHOLDERS, 0))
        # Chunk by chunk into Arrow, because Python strings of two million
        # notes at once would take several times the memory of the text.
        chunks = [
            pa.array(
                self.redact_entities(
                    [self.redact_text(text, counts) for text in texts.iloc[i : i + CHUNK_ROWS]],
                    counts,
                ),
                pa.large_string(),
            )
            for i in range(0, len(texts), CHUNK_ROWS)
        ]
        out = pd.array(pa.chunked_array(chunks, pa.large_string()), dtype="str")
        return pd.Series(out, index=texts.index), counts


def redact_labels(redactor: Redactor, labels: pd.Series) -> tuple[pd.Series, Counter[str]]:
    """``labels`` (document types, which some systems fill with a free-text
    subject such as "Visit to Jayden Smith") redacted as note text is, each
    distinct label once; missing labels stay missing. Also the number of
    replacements by kind, counting each distinct label once."""
    distinct = pd.Series(labels.dropna().unique(), dtype="str")
    redacted, counts = redactor(distinct)
    lookup = dict(zip(distinct, redacted, strict=True))
    return labels.map(lookup).astype(labels.dtype), counts


def document_type_qa(document_types: pd.Series, child_ids: pd.Series) -> pd.DataFrame:
    """The QA rows (schema ``ingest_qa``) of the redacted ``document_types``:
    each distinct one with its number of notes and their share of all notes,
    sorted by value; missing ones are not listed but count in the share.

    Only types of at least ``common.MIN_CHILDREN_SHOWN_VALUE`` children
    (``child_ids``, aligned with ``document_types``) are named: a rarer one
    may be a free-text subject naming someone redaction missed ("Strategy
    meeting re Kowalczyk family"), so the rare ones are counted together.
    """
    types = document_types.astype("string").str.strip()
    counts = pd.DataFrame(
        counts_shown(types, nameable_values(types, child_ids, listed=())),
        columns=["value", "count"],
    ).astype({"value": "str", "count": "int64"})
    return pd.DataFrame(
        {
            "table": "notes",
            "measure": "code",
            "column": "document_type",
            "value": counts["value"],
            "count": counts["count"],
            "share": counts["count"].astype("float64") / max(len(types), 1),
        }
    )


def redact(texts: pd.Series, names: list[str]) -> pd.Series:
    """``texts`` with identifiers and the given ``names`` replaced by placeholders."""
    return Redactor(names)(texts)[0]


def read_notes(path: Path, columns: dict[str, str]) -> pd.DataFrame:
    """The raw notes export with canonical columns and parsed note times,
    without the notes that lack a child id, time or text
    (``common.UNUSABLE_NOTES``: ingestion counts them in its QA table).

    Raises ``InputError`` naming the file, column and row of the first
    unreadable note time.
    """
    notes = read_mapped_csv(path, columns, "notes")
    usable = pd.Series(True, index=notes.index)
    for reason, lacking in unusable_notes(notes).items():
        if (lacking & usable).any():
            logger.warning(
                "%s: %d note(s) %s (first at %s); they are left out",
                path,
                int((lacking & usable).sum()),
                reason,
                first_row(path, lacking & usable),
            )
        usable &= ~lacking
    notes = notes.loc[usable]
    notes["note_datetime"] = parse_dates(
        notes["note_datetime"],
        path,
        column_label(columns, "notes", "note_datetime"),
        required=True,
    )
    return notes[NOTE_COLUMNS]


def shard_of(child_ids: pd.Series, shards: int) -> pd.Series:
    """The shard of each pseudonymised child id: its hash modulo ``shards``.

    Hash-based, so a child's notes stay in one shard and shards are balanced
    without a lookup table.
    """
    return child_ids.map(lambda pseudonym: int(pseudonym, 16) % shards).astype("int64")


def redact_notes(
    notes: pd.DataFrame, people: pd.DataFrame, separator: str, key: bytes, **redactor
) -> tuple[pd.DataFrame, Counter[str]]:
    """Notes with redacted text and document types and pseudonymised ids, and
    replacement counts (in the document types, each distinct one counts once).

    ``redactor`` holds the optional arguments of ``Redactor`` (configured
    lists, first names, entity pipeline).
    """
    known = set(people["child_id"].dropna().str.strip())
    unknown = int((~notes["child_id"].str.strip().isin(known)).sum())
    if unknown:
        logger.warning(
            "%d note(s) belong to children missing from the people export: their "
            "identifiers are redacted by pattern and names only if another person in "
            "the export has them; add these children to the export.",
            unknown,
        )
    names = people_names(people, separator, english_words())
    redact_with = Redactor(names, **redactor)
    # The word probabilities are no longer needed, and are large.
    word_probabilities.cache_clear()
    text, counts = redact_with(notes["text"])
    document_type, type_counts = redact_labels(redact_with, notes["document_type"])
    if type_counts.total():
        logger.warning(
            "%d identifier(s) redacted in the distinct document types: some hold "
            "free text; outcomes.*.document_types must name them as redacted.",
            type_counts.total(),
        )
    out = notes.assign(
        text=text,
        document_type=document_type,
        note_id=pseudonymise(notes["note_id"], key),
        child_id=pseudonymise(notes["child_id"], key),
    )
    return out, counts


def configured_lists(paths: list[str], kinds: list[str]) -> dict[str, list[str]]:
    """The phrases of each configured list by placeholder; ``kinds[i]`` (a key
    of ``LIST_PLACEHOLDERS``) is the kind of the list at ``paths[i]``."""
    entries = dict(zip(kinds, paths, strict=True))
    return {
        placeholder: listed_names(kind, read_name_list(entries[kind]))
        for kind, placeholder in LIST_PLACEHOLDERS.items()
        if kind in entries
    }


def split_shards(notes: pd.DataFrame, shards: int) -> list[pd.DataFrame]:
    """``shards`` frames by child, each sorted by child, note time and note id."""
    ordered = notes.assign(_shard=shard_of(notes["child_id"], shards)).sort_values(
        ["_shard", "child_id", "note_datetime", "note_id"], kind="stable"
    )
    # Slices of the sorted frame rather than boolean masks: slices share the
    # sorted data instead of copying every note once more.
    bounds = ordered["_shard"].searchsorted(range(shards + 1))
    return [
        ordered.iloc[bounds[k] : bounds[k + 1]][NOTE_COLUMNS].reset_index(drop=True)
        for k in range(shards)
    ]


def main(snakemake) -> None:
    """Run redaction with the rule's inputs, params and outputs."""
    params = snakemake.params
    paths = list(snakemake.output.shards)
    if len(paths) != params.shards:
        raise ValueError(f"{len(paths)} shard outputs for {params.shards} shards")
    key = resolve_key(params.key_env, params.key_file, params.demo_key)
    check_key_fingerprint(key, params.key_fingerprint)
    people = read_mapped_csv(snakemake.input.people, params.people_columns, "people")
    first_names = first_name_pass(snakemake.input.first_names or None, params.first_name_exceptions)
    # The raw notes are not kept in a variable, so that their memory is freed
    # as soon as the redacted copy exists.
    redacted, counts = redact_notes(
        read_notes(Path(snakemake.input.notes), params.notes_columns),
        people,
        params.list_separator,
        key,
        lists=configured_lists(list(snakemake.input.name_lists), params.name_list_kinds),
        first_names=first_names,
        entities=load_entity_pipeline(params.ner_model),
    )
    logger.info(
        "redacted %s in %d notes",
        ", ".join(f"{n:,} {kind}" for kind, n in counts.items()),
        len(redacted),
    )
    for path, shard in zip(paths, split_shards(redacted, params.shards), strict=True):
        write_parquet(shard, path, "notes")
        logger.info("%s: wrote %d notes", path, len(shard))
    write_parquet(
        document_type_qa(redacted["document_type"], redacted["child_id"]),
        snakemake.output.qa,
        "ingest_qa",
    )


if __name__ == "__main__":
    from common import run

    run(lambda: main(snakemake), snakemake.log[0])  # noqa: F821
