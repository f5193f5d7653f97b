"""Check the case-notes export and write its ingestion QA rows.

Run only when the designs with text run (designs.text), apart from the
structured tables' ingestion: switching the text designs on or off, or
changing the notes' column mapping, then reruns neither the structured
tables nor anything made from them. The checks are ingestion's
(``ingest_records.check_notes``): required fields, note times, children the
notes refer to (against the ingested children table, whose identifiers are
pseudonymised with the same key). The notes' text is read only by
``redact_notes``; nothing of it is written here.
"""

from pathlib import Path

import pandas as pd

from common import (
    check_key_fingerprint,
    enforce_schema,
    read_parquet,
    resolve_key,
    write_parquet,
)
from ingest_records import QualityLog, check_notes, extract_date


def notes_qa(
    path: Path,
    columns: dict[str, str],
    children: pd.Series,
    key: bytes,
    reference: pd.Timestamp,
) -> pd.DataFrame:
    """The QA rows (schema ``ingest_qa``) of the notes export at ``path``,
    checked against the pseudonymised ``children`` ids; raises ``InputError``
    on notes that cannot be used."""
    qa = QualityLog()
    check_notes(path, columns, children, key, reference, qa)
    return qa.frame()


def main(snakemake) -> None:
    """Check the notes with the rule's inputs and params; write their QA."""
    params = snakemake.params
    key = resolve_key(params.key_env, params.key_file, params.demo_key)
    check_key_fingerprint(key, params.key_fingerprint)
    children = read_parquet(snakemake.input.children, "children")["child_id"]
    qa = notes_qa(
        Path(snakemake.input.notes),
        params.notes_columns,
        children,
        key,
        extract_date(params.extract_date),
    )
    write_parquet(enforce_schema(qa, "ingest_qa"), snakemake.output.qa, "ingest_qa")


if __name__ == "__main__":
    from common import run

    run(lambda: main(snakemake), snakemake.log[0])  # noqa: F821
