"""Fit LDA topic models on training rows only and score every row's topic shares.

For one outcome and split timing: the number of topics is chosen from the
configured grid by topic coherence on the outer training rows (the protocol
of the 2020 study); then one gensim ``LdaModel`` is fitted on the outer
training rows (fold -1, scoring train and test rows), and one on each inner
fold's fit rows (scoring that fold's fit and validate rows), so that no topic
model ever sees the text of the rows it is evaluated on.

Optionally (``bigrams``), pairs of words that occur together more often than
chance ("front_door") are joined into one token first, by a gensim
``Phrases`` model learned, like the dictionary, on each model's fit rows only
and then applied to the rows it scores.
"""

import logging

import numpy as np
import pandas as pd
from gensim.corpora import Dictionary
from gensim.models import CoherenceModel, LdaModel
from gensim.models.phrases import Phrases

from common import read_parquet, topic_column, topic_schema, write_parquet

logger = logging.getLogger(__name__)
# gensim logs every pass and every thousand documents; keep the job log readable.
logging.getLogger("gensim").setLevel(logging.WARNING)

OUTER_FOLD = -1


def join_bigrams(
    fit_docs: list[list[str]], score_docs: list[list[str]], settings: dict
) -> tuple[list[list[str]], list[list[str]]]:
    """``fit_docs`` and ``score_docs`` with the bigrams learned on
    ``fit_docs`` alone joined by "_", or both unchanged if bigrams are off."""
    if not settings["bigrams"]:
        return fit_docs, score_docs
    bigrams = Phrases(
        fit_docs,
        min_count=settings["bigram_min_count"],
        threshold=settings["bigram_threshold"],
        delimiter="_",
    ).freeze()
    return [bigrams[doc] for doc in fit_docs], [bigrams[doc] for doc in score_docs]


def build_dictionary(documents: list[list[str]], no_below: int, no_above: float) -> Dictionary:
    """A vocabulary from the given (training) documents, without rare or
    ubiquitous words."""
    dictionary = Dictionary(documents)
    dictionary.filter_extremes(no_below=no_below, no_above=no_above, keep_n=None)
    dictionary.compactify()
    return dictionary


def fit_lda(
    documents: list[list[str]], dictionary: Dictionary, num_topics: int, settings: dict, seed: int
) -> LdaModel:
    """Fit a reproducible single-process LDA model (``LdaMulticore`` is not
    reproducible)."""
    corpus = [dictionary.doc2bow(doc) for doc in documents]
    return LdaModel(
        corpus=corpus,
        id2word=dictionary,
        num_topics=num_topics,
        passes=settings["passes"],
        iterations=settings["iterations"],
        alpha="symmetric",
        eta="symmetric",
        random_state=seed,
        eval_every=None,
        dtype=np.float64,
    )


def topic_shares(model: LdaModel, dictionary: Dictionary, documents: list[list[str]]) -> np.ndarray:
    """Topic proportions per document (documents without known words get NaN),
    inferred for all documents in one batch."""
    bows = [dictionary.doc2bow(doc) for doc in documents]
    shares = np.full((len(documents), model.num_topics), np.nan)
    known = [row for row, bow in enumerate(bows) if bow]
    if known:
        gamma, _ = model.inference([bows[row] for row in known])
        shares[known] = gamma / gamma.sum(axis=1, keepdims=True)
    return shares


def choose_num_topics(
    documents: list[list[str]], dictionary: Dictionary, settings: dict, seed: int
) -> tuple[int, pd.DataFrame, LdaModel]:
    """The grid value with the highest mean topic coherence (ties: fewer
    topics), the coherence of each candidate, and the chosen candidate's model
    (the outer model, which need not be fitted again).

    All candidates' topics are scored in one ``CoherenceModel``, so the word
    co-occurrence statistics are counted once, not once per candidate, on at
    most ``coherence_documents`` of the training documents (in id order).
    """
    grid = sorted(settings["num_topics"])
    topics, owner, models = [], [], {}
    for num_topics in grid:
        model = models[num_topics] = fit_lda(documents, dictionary, num_topics, settings, seed)
        for topic in range(num_topics):
            topics.append([word for word, _ in model.show_topic(topic, topn=10)])
            owner.append(num_topics)
    scorer = CoherenceModel(
        topics=topics,
        texts=documents[: settings["coherence_documents"]],
        dictionary=dictionary,
        coherence=settings["coherence"],
        processes=1,
    )
    per_topic = pd.Series(scorer.get_coherence_per_topic(), index=owner)
    table = pd.DataFrame(
        {"num_topics": grid, "coherence": [float(per_topic.loc[[k]].mean()) for k in grid]}
    )
    for row in table.itertuples():
        logger.info(
            "%d topics: %s coherence %.4f", row.num_topics, settings["coherence"], row.coherence
        )
    ranked = table.sort_values(["coherence", "num_topics"], ascending=[False, True])
    best = int(ranked["num_topics"].iloc[0])
    return best, table, models[best]


def fold_rows(splits: pd.DataFrame) -> dict[int, tuple[list[str], list[str]]]:
    """Per fold, the referral ids to fit on and the ids to score."""
    out = {}
    for fold, rows in splits.groupby("fold", sort=True):
        fit_role = "train" if fold == OUTER_FOLD else "fit"
        fit_ids = rows.loc[rows["role"] == fit_role, "referral_id"].tolist()
        score_ids = rows.loc[rows["role"] != "excluded", "referral_id"].tolist()
        out[int(fold)] = (fit_ids, score_ids)
    return out


def fit_topics(
    documents: pd.DataFrame, splits: pd.DataFrame, settings: dict, seed: int
) -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame]:
    """Topic shares for every fold, the coherence grid and the outer model's
    top words."""
    tokens = documents.set_index("referral_id")["tokens"].map(list)
    folds = fold_rows(splits)
    outer_fit, outer_score = folds[OUTER_FOLD]
    outer_docs, outer_score_docs = join_bigrams(
        tokens.loc[outer_fit].tolist(), tokens.loc[outer_score].tolist(), settings
    )
    outer_dictionary = build_dictionary(outer_docs, settings["no_below"], settings["no_above"])
    num_topics, grid, outer_model = choose_num_topics(outer_docs, outer_dictionary, settings, seed)

    parts, words = [], None
    for fold, (fit_ids, score_ids) in folds.items():
        if fold == OUTER_FOLD:
            dictionary, model, score_docs = outer_dictionary, outer_model, outer_score_docs
        else:
            fit_docs, score_docs = join_bigrams(
                tokens.loc[fit_ids].tolist(), tokens.loc[score_ids].tolist(), settings
            )
            dictionary = build_dictionary(fit_docs, settings["no_below"], settings["no_above"])
            model = fit_lda(fit_docs, dictionary, num_topics, settings, seed)
        shares = topic_shares(model, dictionary, score_docs)
        part = pd.DataFrame(shares, columns=[topic_column(k) for k in range(num_topics)])
        part.insert(0, "referral_id", score_ids)
        part.insert(0, "fold", fold)
        parts.append(part)
        if fold == OUTER_FOLD:
            words = pd.DataFrame(
                [
                    {"topic": topic, "rank": rank, "word": word, "weight": float(weight)}
                    for topic in range(num_topics)
                    for rank, (word, weight) in enumerate(model.show_topic(topic, topn=15))
                ]
            )
    shares = pd.concat(parts, ignore_index=True).astype({"fold": "int16"})
    return shares.sort_values(["fold", "referral_id"], kind="stable"), grid, words


def main(snakemake) -> None:
    """Fit the topic models of the rule's outcome and timing."""
    documents = read_parquet(snakemake.input.text_documents, "text_documents")
    splits = read_parquet(snakemake.input.splits, "splits")
    shares, grid, words = fit_topics(
        documents, splits, snakemake.params.topics, snakemake.params.seed
    )
    num_topics = shares.shape[1] - 2
    write_parquet(shares, snakemake.output.shares, topic_schema(num_topics))
    grid["chosen"] = grid["num_topics"] == num_topics
    write_parquet(grid, snakemake.output.coherence, "topic_coherence")
    write_parquet(words, snakemake.output.words, "topic_words")
    logger.info("chose %d topics by coherence", num_topics)


if __name__ == "__main__":
    from common import run

    run(lambda: main(snakemake), snakemake.log[0])  # noqa: F821
