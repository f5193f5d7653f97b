"""Add TF-IDF term weights, fitted on training rows only, to the topic shares.

For one outcome and split timing, a scikit-learn ``TfidfVectorizer`` is fitted
on the outer training rows (fold -1, scoring train and test rows) and one on
each inner fold's fit rows (scoring that fold's fit and validate rows), like
the topic models, so that neither the vocabulary nor the inverse document
frequencies ever see the rows they are evaluated on. Each keeps the
``max_terms`` most frequent terms of its fit rows (that occur in at least
``min_df`` of them) as columns ``tfidf_000``...: like topic numbers, a column
means a different term in each fold, and ``terms.parquet`` says which. A fold
with fewer terms has zeros in the remaining columns. As for the topic
vocabulary, a term must also be used by the fit rows of at least
``topics.min_families`` families: a surname redaction missed, repeated across
one family's notes, must not become a term (``terms.parquet`` is reported).

The output is the topic shares with the TF-IDF columns appended: training
reads it in place of the shares when TF-IDF is switched on.
"""

import logging

import numpy as np
import pandas as pd
from sklearn.feature_extraction.text import TfidfVectorizer

from common import (
    OUTER_FOLD,
    families_by_referral,
    read_parquet,
    tfidf_column,
    tfidf_schema,
    write_parquet,
)
from fit_topics import family_tokens, fold_rows

logger = logging.getLogger(__name__)


def fold_tfidf(
    fit_docs: list[list[str]], score_docs: list[list[str]], max_terms: int, min_df: int
) -> tuple[np.ndarray, list[str]]:
    """TF-IDF weights of ``score_docs`` (one row each, ``max_terms`` columns)
    from a vectorizer fitted on ``fit_docs`` alone, and its terms in column order.

    Documents are already token lists, so the vectorizer's analyzer is ``list``.
    """
    weights = np.zeros((len(score_docs), max_terms))
    vectorizer = TfidfVectorizer(
        analyzer=list, max_features=max_terms, min_df=min_df, dtype=np.float64
    )
    try:
        vectorizer.fit(fit_docs)
    except ValueError:
        # No term occurs in min_df fit documents: nothing to weigh.
        return weights, []
    terms = vectorizer.get_feature_names_out().tolist()
    weights[:, : len(terms)] = vectorizer.transform(score_docs).toarray()
    return weights, terms


def fit_tfidf(
    documents: pd.DataFrame,
    splits: pd.DataFrame,
    shares: pd.DataFrame,
    families: pd.Series,
    settings: dict,
    min_families: int,
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The topic ``shares`` with each fold's TF-IDF weights appended, and the
    term of each TF-IDF column per fold. Only terms the fit rows of at least
    ``min_families`` ``families`` (each referral's, by referral id) use are kept."""
    tokens = documents.set_index("referral_id")["tokens"].map(list)
    max_terms = settings["max_terms"]
    columns = [tfidf_column(k) for k in range(max_terms)]
    parts, terms = [], []
    for fold, (fit_ids, score_ids) in fold_rows(splits).items():
        fit_docs = tokens.loc[fit_ids].tolist()
        # Dropping the other words from the fit documents leaves the
        # frequencies and document counts of the kept ones as they were.
        common = family_tokens(fit_docs, families.loc[fit_ids].tolist(), min_families)
        weights, fold_terms = fold_tfidf(
            [[token for token in doc if token in common] for doc in fit_docs],
            tokens.loc[score_ids].tolist(),
            max_terms,
            settings["min_df"],
        )
        part = pd.DataFrame(weights, columns=columns)
        part.insert(0, "referral_id", score_ids)
        part.insert(0, "fold", fold)
        parts.append(part)
        terms += [(fold, tfidf_column(k), term) for k, term in enumerate(fold_terms)]
        logger.info(
            "fold %d: %d terms from %d fit rows%s",
            fold,
            len(fold_terms),
            len(fit_ids),
            " (outer split)" if fold == OUTER_FOLD else "",
        )
    weights = pd.concat(parts, ignore_index=True).astype({"fold": "int16"})
    joined = shares.merge(weights, on=["fold", "referral_id"], how="left", validate="one_to_one")
    if joined[columns].isna().any(axis=None):
        raise ValueError("TF-IDF weights do not cover every row of the topic shares.")
    terms_table = pd.DataFrame(terms, columns=["fold", "column", "term"]).astype({"fold": "int16"})
    return joined, terms_table


def main(snakemake) -> None:
    """Append the TF-IDF weights of the rule's outcome and timing to its topic shares."""
    documents = read_parquet(snakemake.input.text_documents, "text_documents")
    splits = read_parquet(snakemake.input.splits, "splits")
    shares = pd.read_parquet(snakemake.input.shares)
    num_topics = shares.shape[1] - 2
    settings = snakemake.params.tfidf
    families = families_by_referral(read_parquet(snakemake.input.cohort, "cohort"))
    features, terms = fit_tfidf(
        documents, splits, shares, families, settings, snakemake.params.min_families
    )
    write_parquet(
        features, snakemake.output.features, tfidf_schema(num_topics, settings["max_terms"])
    )
    write_parquet(terms, snakemake.output.terms, "tfidf_terms")


if __name__ == "__main__":
    from common import run

    run(lambda: main(snakemake), snakemake.log[0])  # noqa: F821
