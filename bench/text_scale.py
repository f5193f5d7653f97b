"""Throughput and peak memory of the text stages on the same notes, at scale.

Synthetic notes are generated with the generator's own sentence templates for
a made-up population (``--children`` children in families, names drawn by the
generator), until they hold at least ``--tokens`` spaCy tokens once redacted
(the tokens per note are measured first on a sample of notes, redacted as the
redaction step does), and written as a notes export with its people export.
Then, each step in its own process on one core, on the same notes:

1. redaction: the ``redact_notes`` script's ``main`` (read the export, redact,
   pseudonymise, write ``--shards`` shards), as the workflow runs it;
2. normalisation: the ``normalise_notes`` script's ``main`` on each shard;
3. spaCy's bare tokenizer (``nlp.tokenizer.pipe`` of a blank English pipeline)
   over the same redacted shards, counting tokens and nothing else.

Throughput is the tokens of the redacted notes (as the bare tokenizer counts
them) per second of CPU time (user + system) of the step's work, without the
process's start-up (imports), so that other jobs on the machine count less;
wall time is reported too. Peak memory is each
process's peak resident set size (``wait4``). Results are printed and written
to ``bench/out/text_scale.csv``.

    nice .venv/bin/python bench/text_scale.py --tokens 100_000_000 --shards 8
"""

import argparse
import json
import math
import os
import subprocess
import sys
import time
import types
from pathlib import Path

import numpy as np
import pandas as pd

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "workflow" / "scripts"))

import generate_synthetic_la as generator  # noqa: E402

OUT = ROOT / "bench" / "out"
KEY_ENV = "TEXT_SCALE_BENCH_KEY"
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
CHUNK_NOTES = 100_000
# Notes on which the redacted tokens per note are measured, and the margin
# added to the notes generated so that sampling error cannot leave the run short.
SAMPLE_NOTES = 20_000
TOKEN_MARGIN = 1.01


def population(rng: np.random.Generator, n_children: int) -> tuple[list[dict], pd.DataFrame]:
    """Template fields per child and the people export of ``n_children``
    children in families of one to four, named by the generator."""
    sizes = rng.integers(1, generator.MAX_SIBLINGS + 1, size=n_children)
    sizes = sizes[: int(np.searchsorted(np.cumsum(sizes), n_children)) + 1]
    ethnicity = rng.integers(len(generator.ETHNICITIES), size=len(sizes))
    sexes = [rng.choice(np.array(["M", "F"]), size=k) for k in sizes]
    families, first_names = generator.draw_people(rng, ethnicity, sexes)
    nhs = generator.make_nhs_numbers(rng, int(sizes.sum()))
    upn = generator.make_upns(rng, int(sizes.sum()))
    birth = rng.integers(
        generator.day_number("2000-01-01"), generator.day_number("2020-01-01"), size=len(nhs)
    )
    fields, people = [], []
    for family, names in zip(families, first_names, strict=True):
        for name in names:
            i = len(fields)
            dob = str(np.datetime64(int(birth[i]), "D"))
            fields.append(
                {
                    **family,
                    "child": name,
                    "child_full": f"{name} {family['surname']}",
                    "dob": f"{dob[8:10]}/{dob[5:7]}/{dob[:4]}",
                    "dob_long": generator.long_date(int(birth[i])),
                    "nhs": nhs[i],
                    "nhs_spaced": f"{nhs[i][:3]} {nhs[i][3:6]} {nhs[i][6:]}",
                    "upn": upn[i],
                }
            )
            people.append((f"C{i:08d}", name, family["surname"], family["carer_names"]))
    columns = list(PEOPLE_COLUMNS.values())
    return fields, pd.DataFrame(people, columns=columns)


def note_texts(rng: np.random.Generator, fields: list[dict], child: np.ndarray) -> list[str]:
    """Texts of notes about the children at indices ``child`` of ``fields``."""
    n = len(child)
    return generator.note_texts(
        rng,
        rng.integers(len(generator.STAGE_NAMES), size=n),
        rng.integers(10, size=n),
        rng.random(n),
        rng.integers(-1, len(generator.THEMES), size=n),
        fields,
        child,
    )


def redacted_tokens_per_note(texts: list[str], people: pd.DataFrame) -> float:
    """Mean spaCy tokens of ``texts`` once redacted as the redaction step
    redacts them (the people export's names and the patterns)."""
    import spacy

    import redact_notes

    canonical = people.rename(columns={v: k for k, v in PEOPLE_COLUMNS.items()})
    names = redact_notes.people_names(canonical, ";", redact_notes.english_words())
    redacted = redact_notes.redact(pd.Series(texts), names).tolist()
    nlp = spacy.blank("en")
    return sum(len(doc) for doc in nlp.tokenizer.pipe(redacted)) / len(texts)


def write_exports(directory: Path, n_tokens: int, n_children: int, seed: int) -> int:
    """Write ``case_notes.csv`` (at least ``n_tokens`` tokens once redacted)
    and ``people.csv``; return the number of notes."""
    rng = np.random.default_rng(seed)
    fields, people = population(rng, n_children)
    people.to_csv(directory / "people.csv", index=False)
    sample = note_texts(rng, fields, rng.integers(len(fields), size=SAMPLE_NOTES))
    per_note = redacted_tokens_per_note(sample, people)
    n_notes = math.ceil(n_tokens * TOKEN_MARGIN / per_note)
    print(f"{per_note:.2f} tokens per redacted note: {n_notes:,} notes", flush=True)
    path = directory / "case_notes.csv"
    path.unlink(missing_ok=True)
    for start in range(0, n_notes, CHUNK_NOTES):
        n = min(CHUNK_NOTES, n_notes - start)
        child = rng.integers(len(fields), size=n)
        texts = note_texts(rng, fields, child)
        chunk = pd.DataFrame(
            {
                "NoteID": [f"N{start + k:09d}" for k in range(n)],
                "LAchildID": people["LAchildID"].to_numpy()[child],
                "NoteDateTime": "2020-01-01T09:00:00",
                "DocumentType": "Case note",
                "NoteText": texts,
            }
        )
        chunk.to_csv(path, mode="a", header=start == 0, index=False)
    return n_notes


def timed(work) -> dict:
    """CPU and wall seconds of ``work()``, without the process's start-up."""
    cpu, wall = time.process_time(), time.perf_counter()
    work()
    return {"cpu_s": time.process_time() - cpu, "wall_s": time.perf_counter() - wall}


def shard_paths(directory: Path, shards: int) -> list[str]:
    """Paths of the redacted shards."""
    return [str(directory / f"shard_{k}.parquet") for k in range(shards)]


def step_redact(directory: Path, shards: int) -> dict:
    """Run the redaction script on the exports."""
    import redact_notes

    snakemake = types.SimpleNamespace(
        input=types.SimpleNamespace(
            notes=str(directory / "case_notes.csv"),
            people=str(directory / "people.csv"),
            name_lists=[],
            first_names=[],
        ),
        params=types.SimpleNamespace(
            notes_columns=NOTES_COLUMNS,
            people_columns=PEOPLE_COLUMNS,
            list_separator=";",
            key_env=KEY_ENV,
            key_file=None,
            demo_key=None,
            shards=shards,
            name_list_kinds=[],
            first_name_exceptions=[],
            ner_model=None,
        ),
        output=types.SimpleNamespace(shards=shard_paths(directory, shards)),
    )
    return timed(lambda: redact_notes.main(snakemake))


def step_normalise(directory: Path, shard: int) -> dict:
    """Run the normalisation script on one shard, with the default config."""
    import yaml

    import normalise_notes

    text = yaml.safe_load((ROOT / "config" / "config.yaml").read_text())["text"]
    snakemake = types.SimpleNamespace(
        input=types.SimpleNamespace(notes=shard_paths(directory, shard + 1)[shard]),
        params=types.SimpleNamespace(
            stop_words=text["stop_words"],
            min_token_length=text["min_token_length"],
            phrases=text["phrases"],
        ),
        output=types.SimpleNamespace(tokens=str(directory / f"tokens_{shard}.parquet")),
    )
    return timed(lambda: normalise_notes.main(snakemake))


def step_tokenize(directory: Path, shards: int) -> dict:
    """Count the tokens of the redacted shards with spaCy's bare tokenizer."""
    import pyarrow.parquet as pq
    import spacy

    nlp = spacy.blank("en")
    tokens = 0

    def tokenize() -> None:
        nonlocal tokens
        for path in shard_paths(directory, shards):
            for batch in pq.ParquetFile(path).iter_batches(batch_size=10_000, columns=["text"]):
                texts = batch.column("text").to_pylist()
                tokens += sum(len(doc) for doc in nlp.tokenizer.pipe(texts))

    timing = timed(tokenize)
    return {**timing, "tokens": tokens}


def peak_resident_mb() -> float:
    """This process's peak resident memory since it started (``VmHWM``; unlike
    ``ru_maxrss``, not inherited from the parent across ``fork``)."""
    status = Path("/proc/self/status").read_text()
    return int(status.split("VmHWM:")[1].split()[0]) / 1024


def run_step(args: list[str]) -> dict:
    """Run one step in a child process; its result with CPU, wall time and peak memory."""
    start = time.perf_counter()
    process = subprocess.Popen(
        [sys.executable, __file__, *args],
        stdout=subprocess.PIPE,
        env={**os.environ, KEY_ENV: "text-scale-benchmark"},
    )
    output, _ = process.communicate()
    if process.returncode != 0:
        raise RuntimeError(f"step {args} failed with status {process.returncode}")
    result = json.loads(output.decode().strip().splitlines()[-1])
    peak = result.pop("vm_hwm_mb")
    return {**result, "process_wall_s": time.perf_counter() - start, "peak_mb": peak}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tokens", type=int, default=100_000_000)
    parser.add_argument("--children", type=int, default=50_000)
    parser.add_argument("--shards", type=int, default=8)
    parser.add_argument("--seed", type=int, default=11)
    parser.add_argument("--directory", type=Path, default=OUT / "text_scale")
    parser.add_argument("--step", choices=["redact", "normalise", "tokenize"])
    parser.add_argument("--shard", type=int, default=0)
    args = parser.parse_args()
    steps = {
        "redact": lambda: step_redact(args.directory, args.shards),
        "normalise": lambda: step_normalise(args.directory, args.shard),
        "tokenize": lambda: step_tokenize(args.directory, args.shards),
    }
    if args.step:
        print(json.dumps({**steps[args.step](), "vm_hwm_mb": peak_resident_mb()}))
        return

    args.directory.mkdir(parents=True, exist_ok=True)
    start = time.perf_counter()
    n_notes = write_exports(args.directory, args.tokens, args.children, args.seed)
    print(f"generated {n_notes:,} notes in {time.perf_counter() - start:.0f} s", flush=True)
    common = ["--directory", str(args.directory), "--shards", str(args.shards)]
    rows = [{"step": "redaction", **run_step(["--step", "redact", *common])}]
    print(rows[-1], flush=True)
    for shard in range(args.shards):
        result = run_step(["--step", "normalise", *common, "--shard", str(shard)])
        rows.append({"step": f"normalisation shard {shard}", **result})
        print(rows[-1], flush=True)
    rows.append({"step": "bare tokenizer", **run_step(["--step", "tokenize", *common])})
    print(rows[-1], flush=True)
    table = pd.DataFrame(rows)
    tokens = int(table["tokens"].dropna().iloc[0])
    shards = table["step"].str.startswith("normalisation")
    summary = pd.DataFrame(
        [
            ("redaction", table.loc[0, "cpu_s"], table.loc[0, "wall_s"], table.loc[0, "peak_mb"]),
            (
                "normalisation (all shards)",
                table.loc[shards, "cpu_s"].sum(),
                table.loc[shards, "wall_s"].sum(),
                table.loc[shards, "peak_mb"].max(),
            ),
            (
                "bare tokenizer",
                table.iloc[-1]["cpu_s"],
                table.iloc[-1]["wall_s"],
                table.iloc[-1]["peak_mb"],
            ),
        ],
        columns=["step", "cpu_s", "wall_s", "peak_mb"],
    )
    summary["tokens_per_cpu_s"] = (tokens / summary["cpu_s"]).round(0)
    ratio = summary.loc[1, "tokens_per_cpu_s"] / summary.loc[2, "tokens_per_cpu_s"]
    print(f"{n_notes:,} notes, {tokens:,} tokens; normalisation at {ratio:.0%} of bare tokenizer")
    print(summary.round(1).to_markdown(index=False))
    OUT.mkdir(exist_ok=True)
    table.to_csv(OUT / "text_scale.csv", index=False)


if __name__ == "__main__":
    main()
