"""Recall and precision of case-note redaction on planted identifiers.

Notes are generated from the synthetic LA generator's own sentence templates,
filled with the names and identifiers of the bundled LA's children
(``resources/synthetic``), as the generator fills them, except that every
planted value is wrapped in invisible markers that say its kind. The generator
plants no names of schools, places, teams or staff, so this benchmark adds one
sentence naming one of each kind from small made-up lists to a fifth of the
notes (in the list's form, in capitals or lower case, or possessive), and
misspells one name in ten by two swapped letters, as people do.

After redaction (with the markers still in place: they are not word
characters, so they act as the spaces or punctuation around the value):

- recall of a kind: the share of its planted values of which nothing but
  placeholders and separators is left;
- wrongly redacted words: placeholders outside every planted value that the
  raw text did not hold there (template words such as "may" redacted because a
  child is called May), per 1,000 ordinary words; precision is the share of
  redacted words that were planted.

The template words are few, so each configuration is also run on ordinary
prose that names nobody: the project's own documentation (README.md and
docs/*.md, less code blocks and tables; ``--prose`` for others), where every
redacted word is wrong.

Each configuration is run on the same notes: the names from the people export
and the patterns (the default), plus the configured lists, plus the optional
first-names pass, with and without its exceptions for ordinary words.

    python bench/redaction_quality.py --notes 20000
"""

import argparse
import re
import sys
import time
from collections import Counter
from difflib import SequenceMatcher
from pathlib import Path

import numpy as np
import pandas as pd

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "workflow" / "scripts"))

from text_scale import note_texts  # noqa: E402

import generate_synthetic_la as generator  # noqa: E402
import redact_notes as rn  # noqa: E402

CLOSE = "\ue0ff"
# The kind of each template field; "partner" is a name only when it is not
# "her ex-partner" or "his ex-partner".
FIELD_KINDS = {
    "child": "NAME",
    "child_full": "NAME",
    "carer1": "NAME",
    "carer1_full": "NAME",
    "partner": "NAME",
    "dob": "DATE",
    "dob_long": "DATE",
    "nhs": "NHS_NUMBER",
    "nhs_spaced": "NHS_NUMBER",
    "phone": "PHONE",
    "email": "EMAIL",
    "postcode": "POSTCODE",
    "upn": "UPN",
}
KINDS = [
    "NAME",
    "NAME (misspelt)",
    "DATE",
    "NHS_NUMBER",
    "PHONE",
    "EMAIL",
    "POSTCODE",
    "UPN",
    "SCHOOL_NAME",
    "PLACE_NAME",
    "TEAM_NAME",
    "STAFF_NAME",
]
OPEN = {kind: chr(0xE000 + i) for i, kind in enumerate(KINDS)}
SPAN = re.compile(rf"([{''.join(OPEN.values())}])(.*?){CLOSE}", re.DOTALL)
MARKERS = re.compile(rf"[{''.join(OPEN.values())}{CLOSE}]")
PLACEHOLDER = re.compile("|".join(sorted(rn.PLACEHOLDERS, key=len, reverse=True)))
# Made-up names for the configured lists (none is a real school or team).
LISTS = {
    "schools": ["Oakfield Primary School", "St Bede's Catholic Academy", "Northfield High"],
    "places": ["Kirkby Moorside", "Hollin Bridge", "Thornleigh"],
    "teams": ["Northgate Family Hub", "Westside Duty Team", "Brackenfield Children's Centre"],
    "staff": ["Priya Lockwood", "Gareth Ainsworth", "Tomasz Wilk"],
}
LIST_SENTENCES = {
    "schools": "{child} attends {value}.",
    "places": "The family moved from {value} last year.",
    "teams": "The case was discussed with {value}.",
    "staff": "Home visit by {value} today.",
}


def wrap(kind: str, value: str) -> str:
    """``value`` between the markers of ``kind``."""
    return f"{OPEN[kind]}{value}{CLOSE}"


def misspell(name: str, u: float) -> str:
    """``name`` with two adjacent letters swapped, if it has five or more."""
    if len(name) < 5 or not name.isalpha():
        return name
    i = 1 + int(u * (len(name) - 2))
    return name[:i] + name[i + 1] + name[i] + name[i + 2 :]


def marked_fields(children: pd.DataFrame, people: pd.DataFrame, rng) -> list[dict[str, str]]:
    """The template fields of each child, as the generator fills them, wrapped
    in markers; one name in ten misspelt."""
    merged = children.merge(people, on="LAchildID", how="inner")
    fields = []
    for row in merged.itertuples(index=False):
        carers = row.CarerNames.split(";")
        firsts = [c.split()[0] for c in carers]

        def name(value: str) -> str:
            if rng.random() < 0.1:
                parts = value.split()
                u = rng.random()
                return wrap("NAME (misspelt)", " ".join(misspell(p, u) for p in parts))
            return wrap("NAME", value)

        dob = row.PersonBirthDate
        day = generator.day_number(dob)
        values = {
            "child": row.ChildFirstName,
            "child_full": f"{row.ChildFirstName} {row.ChildLastName}",
            "carer1": firsts[0],
            "carer1_full": carers[0],
            "partner": firsts[1] if len(firsts) > 1 else None,
            "dob": f"{dob[8:10]}/{dob[5:7]}/{dob[:4]}",
            "dob_long": generator.long_date(day),
            "nhs": row.NHSNumber,
            "nhs_spaced": f"{row.NHSNumber[:3]} {row.NHSNumber[3:6]} {row.NHSNumber[6:]}",
            "phone": row.CarerPhone,
            "email": row.CarerEmail,
            "postcode": row.Postcode,
            "upn": row.UPN,
        }
        out = {
            field: (
                name(value) if FIELD_KINDS[field] == "NAME" else wrap(FIELD_KINDS[field], value)
            )
            for field, value in values.items()
            if value is not None
        }
        out.setdefault("partner", "her ex-partner")
        out["carers"] = " and ".join(name(c) for c in carers)
        fields.append(out)
    return fields


def list_sentence(kind: str, child: str, rng) -> str:
    """A sentence naming one entry of the made-up list of ``kind``."""
    value = LISTS[kind][int(rng.integers(len(LISTS[kind])))]
    form = rng.random()
    if form < 0.2:
        value = value.upper()
    elif form < 0.4:
        value = value.lower()
    marked = wrap(rn.LIST_PLACEHOLDERS[kind], value)
    if form > 0.85:
        marked += "'s office"
    return LIST_SENTENCES[kind].format(child=child, value=marked)


def marked_notes(n_notes: int, seed: int) -> list[str]:
    """``n_notes`` notes with marked planted values."""
    rng = np.random.default_rng(seed)
    data = ROOT / "resources" / "synthetic"
    children = pd.read_csv(data / "children.csv", dtype=str, keep_default_na=False)
    people = pd.read_csv(data / "people.csv", dtype=str, keep_default_na=False)
    fields = marked_fields(children, people, rng)
    child = rng.integers(len(fields), size=n_notes)
    texts = note_texts(rng, fields, child)
    kinds = list(LISTS)
    for i in np.flatnonzero(rng.random(n_notes) < 0.2):
        kind = kinds[int(rng.integers(len(kinds)))]
        texts[i] += " " + list_sentence(kind, fields[child[i]]["child"], rng)
    return texts


def redactor_configurations(people: pd.DataFrame) -> dict[str, rn.Redactor]:
    """The redactors compared: default, with the lists, with first names too."""
    names = rn.people_names(people, ";", rn.english_words())
    lists = {rn.LIST_PLACEHOLDERS[k]: rn.listed_names(k, v) for k, v in LISTS.items()}
    path = ROOT / "resources/first_names/us_census_1990.txt"
    first_names = rn.first_name_pass(path, [])
    every_first_name = rn.read_first_names(path)
    return {
        "people names + patterns": rn.Redactor(names),
        "+ configured lists": rn.Redactor(names, lists=lists),
        "+ lists + first names": rn.Redactor(names, lists=lists, first_names=first_names),
        "+ lists + first names, no exceptions": rn.Redactor(
            names, lists=lists, first_names=every_first_name
        ),
    }


def prose(paths: list[Path]) -> list[str]:
    """Paragraphs of Markdown files, without code or tables."""
    paragraphs = []
    for path in paths:
        text = re.sub(r"```.*?```", "", path.read_text(encoding="utf-8"), flags=re.DOTALL)
        lines = [line for line in text.splitlines() if not line.lstrip().startswith("|")]
        paragraphs += [p for p in "\n".join(lines).split("\n\n") if p.strip()]
    return paragraphs


def outside(text: str) -> list[str]:
    """The words of ``text`` outside planted values (markers cut words)."""
    return SPAN.sub(" | ", text).split()


def score(raw: list[str], redacted: list[str]) -> tuple[dict[str, list[int]], Counter, int, int]:
    """Recall counts by kind ([found, planted]), wrongly redacted words, the
    number of ordinary words and the number of planted words redacted."""
    recall = {kind: [0, 0] for kind in KINDS}
    wrong: Counter[str] = Counter()
    ordinary = planted_words = 0
    for before, after in zip(raw, redacted, strict=True):
        for opener, inner in SPAN.findall(after):
            kind = KINDS[ord(opener) - 0xE000]
            recall[kind][1] += 1
            residue = PLACEHOLDER.sub("", inner)
            recall[kind][0] += not re.search(r"[^\W_]", residue)
            planted_words += len(PLACEHOLDER.findall(inner))
        words_before, words_after = outside(before), outside(after)
        ordinary += len(words_before)
        if words_before == words_after:
            continue
        matcher = SequenceMatcher(a=words_before, b=words_after, autojunk=False)
        for tag, a0, a1, _, _ in matcher.get_opcodes():
            if tag != "equal":
                wrong.update(w.lower().strip(".,;:()\"'") for w in words_before[a0:a1])
    return recall, wrong, ordinary, planted_words


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--notes", type=int, default=20_000)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument(
        "--prose",
        type=Path,
        nargs="*",
        default=[ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))],
        help="Markdown files of ordinary prose that names nobody",
    )
    args = parser.parse_args()
    raw = marked_notes(args.notes, args.seed)
    people = pd.read_csv(ROOT / "resources/synthetic/people.csv", dtype=str)
    people = people.rename(
        columns={
            "ChildFirstName": "first_name",
            "ChildLastName": "last_name",
            "CarerNames": "carer_names",
        }
    )
    print(f"{len(raw):,} notes, {sum(len(MARKERS.sub(' ', t).split()) for t in raw):,} words")
    documentation = prose(args.prose)
    print(f"prose: {sum(len(t.split()) for t in documentation):,} words")
    rows = []
    for label, redactor in redactor_configurations(people).items():
        start = time.perf_counter()
        redacted = redactor(pd.Series(raw))[0].tolist()
        seconds = time.perf_counter() - start
        recall, wrong, ordinary, planted = score(raw, redacted)
        n_wrong = sum(wrong.values())
        row = {"configuration": label, "seconds": round(seconds, 1)}
        for kind in KINDS:
            found, total = recall[kind]
            row[kind] = f"{found / total:.1%} of {total}" if total else "-"
        row["wrong per 1,000 words"] = round(1000 * n_wrong / ordinary, 2)
        row["precision"] = f"{planted / (planted + n_wrong):.2%}"
        row["words wrongly redacted"] = ", ".join(f"{w} ({n})" for w, n in wrong.most_common(8))
        _, wrong, ordinary, _ = score(documentation, redactor(pd.Series(documentation))[0].tolist())
        row["prose: wrong per 1,000 words"] = round(1000 * sum(wrong.values()) / ordinary, 2)
        row["prose: words wrongly redacted"] = ", ".join(
            f"{w} ({n})" for w, n in wrong.most_common(8)
        )
        rows.append(row)
    table = pd.DataFrame(rows).set_index("configuration").T
    print(table.to_markdown())


if __name__ == "__main__":
    main()
