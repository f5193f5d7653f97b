"""Gather several LAs' summaries into one table, like the 2020 study's headline table.

Each LA is run on its own with its own config; its ``results/{la}/summary.parquet``
holds one row per outcome x design. This step stacks the summaries listed in
``cross_la_results`` (results folders, one per LA; the LA is the folder's name)
into one row per LA x outcome x design, ordered by outcome, design and LA, so
that the answer to "does it work?" can be read across LAs at a glance. Its
``decides`` column says which design answers each LA's outcome (an LA run
without text is answered by its structured design); a summary written before
summaries recorded it gets it from the designs it holds.
"""

import logging
from pathlib import Path

import pandas as pd
import pyarrow.parquet as pq

from common import SCHEMAS, InputError, read_parquet, write_parquet
from compare_runs import deciding_rows
from report_wording import Disclosure, shareable_summary

logger = logging.getLogger(__name__)


def la_name(summary_path: str) -> str:
    """The LA of a summary: the name of its results folder."""
    return Path(summary_path).parent.name


def read_summary(path: str) -> pd.DataFrame:
    """An LA's summary, with ``decides`` derived from its designs if it was
    written before summaries recorded it."""
    if "decides" in pq.read_schema(path).names:
        return read_parquet(path, "summary")
    summary = pq.read_table(path).to_pandas()
    return summary.assign(decides=deciding_rows(summary["design"]))


def stack_summaries(summaries: dict[str, pd.DataFrame]) -> pd.DataFrame:
    """One row per LA x outcome x design from each LA's summary."""
    frames = [summary.assign(la=la) for la, summary in summaries.items()]
    table = pd.concat(frames, ignore_index=True)[SCHEMAS["cross_la_summary"].names]
    return table.sort_values(["outcome", "design", "la"], kind="stable").reset_index(drop=True)


def main(snakemake) -> None:
    """Read each listed LA's summary and write the cross-LA table."""
    summaries = {}
    for path in snakemake.input.summaries:
        la = la_name(path)
        if la in summaries:
            raise InputError(
                f"cross_la_results: two results folders are named {la!r}; list each LA once."
            )
        summaries[la] = read_summary(path)
    table = stack_summaries(summaries)
    write_parquet(table, snakemake.output.summary, "cross_la_summary")
    # The CSV copy goes beyond any one LA: it hides what each LA's report hides.
    shareable_summary(table, Disclosure(int(snakemake.params.disclosure_min_count))).to_csv(
        snakemake.output.summary_csv, index=False, lineterminator="\n", float_format="%.4f"
    )
    logger.info("stacked %d LA summaries into %d rows", len(summaries), len(table))


if __name__ == "__main__":
    from common import run

    run(lambda: main(snakemake), snakemake.log[0])  # noqa: F821
