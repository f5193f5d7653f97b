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

A model's vocabulary is the ``keep_n`` words its fit rows use most widely (by
number of documents). On synthetic LAs of 1,000 children, cutting their
vocabularies of about 250-300 words to 100 raised the time-ordered text
designs' test AP under a rule written before the result; why is not
established (docs/benchmarks.md).

A word (or joined bigram) enters a model's vocabulary only if the fit rows
of at least ``min_families`` families use it, whatever ``no_below`` (which
counts documents, one per referral) allows: one family can have a dozen
referrals, and a surname redaction missed, repeated across its notes, would
otherwise be a topic word printed in the report.

An LA whose notes system began years after its CIN records (or whose notes
cover few children) may leave an inner fold's fit rows without a word to
learn: that fold's scored rows get missing topic shares (which the models
handle as missing values) and the log says so. If the outer training rows
give no words, the text designs cannot be run: an ``InputError`` says when the
notes start and what to do.

Nothing depends on the order of the referral ids, which are keyed hashes: a
model's fit documents are ordered by a hash of their words (``by_content``),
which sets its dictionary's word numbers, its random start and the sample its
coherence is scored on; its scored documents follow in the same way, after
them (``scoring_order``), and each distinct document is inferred once
(``topic_shares``). Ordered by id, a new pseudonymisation key gave the same LA
another topic model, and another answer.
"""

import hashlib
import logging
from collections import Counter, defaultdict

import numpy as np
import pandas as pd
from gensim.corpora import Dictionary
from gensim.models import CoherenceModel, LdaModel
from gensim.models.phrases import Phrases

from common import (
    OUTER_FOLD,
    InputError,
    families_by_referral,
    read_parquet,
    topic_column,
    topic_schema,
    write_parquet,
)

logger = logging.getLogger(__name__)
# gensim logs every pass and every thousand documents; keep the job log readable.
logging.getLogger("gensim").setLevel(logging.WARNING)


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


def family_tokens(documents: list[list[str]], families: list[str], min_families: int) -> set[str]:
    """The tokens of ``documents`` used by those of at least ``min_families``
    distinct ``families`` (one per document)."""
    family_vocabularies = defaultdict(set)
    for family, document in zip(families, documents, strict=True):
        family_vocabularies[family].update(document)
    users = Counter(token for vocabulary in family_vocabularies.values() for token in vocabulary)
    return {token for token, count in users.items() if count >= min_families}


def most_frequent(dictionary: Dictionary, keep_n: int | None) -> set[str]:
    """The ``keep_n`` words of ``dictionary`` in the most documents (ties:
    alphabetical order, so that the order of the documents cannot matter);
    every word when ``keep_n`` is None."""
    ranked = sorted(
        dictionary.token2id, key=lambda token: (-dictionary.dfs[dictionary.token2id[token]], token)
    )
    return set(ranked if keep_n is None else ranked[:keep_n])


def build_dictionary(documents: list[list[str]], families: list[str], settings: dict) -> Dictionary:
    """A vocabulary from the given (training) documents of the given
    ``families``, without rare or ubiquitous words (``no_below``,
    ``no_above``) nor words of fewer than ``min_families`` families; of
    those, the ``keep_n`` in the most documents."""
    dictionary = Dictionary(documents)
    dictionary.filter_extremes(
        no_below=settings["no_below"], no_above=settings["no_above"], keep_n=None
    )
    common = family_tokens(documents, families, settings["min_families"])
    dictionary.filter_tokens(
        bad_ids=[i for token, i in dictionary.token2id.items() if token not in common]
    )
    kept = most_frequent(dictionary, settings["keep_n"])
    dictionary.filter_tokens(
        bad_ids=[i for token, i in dictionary.token2id.items() if token not in kept]
    )
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


def by_content(ids: list[str], tokens: pd.Series) -> list[str]:
    """``ids`` ordered by a hash of their documents' words (``tokens``, by
    referral id): a pseudo-random order that, unlike the ids' own, no
    pseudonymisation key changes. Identical documents tie, and their order
    changes nothing."""
    digests = {
        rid: hashlib.sha256("\x1f".join(tokens.loc[rid]).encode("utf-8")).hexdigest() for rid in ids
    }
    return sorted(ids, key=digests.__getitem__)


def scoring_order(fit_ids: list[str], score_ids: list[str], tokens: pd.Series) -> list[str]:
    """The order a model scores its rows in: its fit rows (``fit_ids``, already
    ``by_content``), then its other scored rows ``by_content``. Inference
    starts each document from the model's next random draw, so this order sets
    each row's shares: a fit row's never depend on the text of the rows scored
    with it, nor on the ids."""
    fit, scored = set(fit_ids), set(score_ids)
    return [rid for rid in fit_ids if rid in scored] + by_content(
        [rid for rid in score_ids if rid not in fit], tokens
    )


def topic_shares(model: LdaModel, dictionary: Dictionary, documents: list[list[str]]) -> np.ndarray:
    """Topic proportions per document (documents without known words get NaN),
    inferred in one batch, each distinct document once, in the order given:
    identical documents get identical shares, whichever ids they have."""
    bows = [tuple(dictionary.doc2bow(doc)) for doc in documents]
    distinct = list(dict.fromkeys(bow for bow in bows if bow))
    shares = np.full((len(documents), model.num_topics), np.nan)
    if distinct:
        gamma, _ = model.inference([list(bow) for bow in distinct])
        inferred = dict(zip(distinct, gamma / gamma.sum(axis=1, keepdims=True), strict=True))
        for row, bow in enumerate(bows):
            if bow:
                shares[row] = inferred[bow]
    return shares


def choose_num_topics(
    documents: list[list[str]], dictionary: Dictionary, settings: dict, seed: int
) -> tuple[int, pd.DataFrame, LdaModel]:
    """The grid value with the highest mean topic coherence (ties: fewer
    topics), the coherence of each candidate, and the chosen candidate's model
    (the outer model, which need not be fitted again).

    All candidates' topics are scored in one ``CoherenceModel``, so the word
    co-occurrence statistics are counted once, not once per candidate, on at
    most ``coherence_documents`` of the training documents (the first in the
    order given: ``by_content``'s).
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


def notes_start(documents: pd.DataFrame) -> str:
    """When the notes in the outcome's text windows begin: the month of the
    earliest of the referrals' latest notes (a day could point at one case)."""
    dates = documents.loc[documents["n_notes"] > 0, "latest_note_time"].dropna()
    return f"about {dates.min():%Y-%m}" if len(dates) else "nowhere (no notes at all)"


def no_outer_words_error(
    documents: pd.DataFrame, fit_ids: list[str], settings: dict, job: str
) -> InputError:
    """Why the outer training rows give no vocabulary, and what to do."""
    noted = int((documents.set_index("referral_id").loc[fit_ids, "n_notes"] > 0).sum())
    found = (
        "none of them has a case note in its text window"
        if noted == 0
        else f"only {noted} of them have case notes in their text windows, and no word "
        f"appears in at least topics.no_below = {settings['no_below']} of them and the "
        f"notes of topics.min_families = {settings['min_families']} families"
    )
    return InputError(
        f"{job}: the text designs fit topic models on the "
        f"{len(fit_ids)} outer training referrals, but {found}; the notes in this outcome's "
        f"windows start {notes_start(documents)}. Supply case notes that cover the earliest "
        "referrals, or trim the referrals export to start when the notes do, or set "
        "designs.text: false to run the structured designs only."
    )


def fit_topics(
    documents: pd.DataFrame,
    splits: pd.DataFrame,
    families: pd.Series,
    settings: dict,
    seed: int,
    job: str,
) -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame]:
    """Topic shares for every fold, the coherence grid and the outer model's
    top words; ``families`` gives each referral's family
    (``common.families_by_referral``), ``job`` names the outcome and timing in
    messages.

    An inner fold whose fit rows give an empty vocabulary gets missing shares
    for the rows it scores (logged); empty outer training rows raise
    ``InputError``, since no text design could then be fitted.
    """
    tokens = documents.set_index("referral_id")["tokens"].map(list)
    n_notes = documents.set_index("referral_id")["n_notes"]
    folds = {}
    for fold, (fit_ids, score_ids) in fold_rows(splits).items():
        fit_ids = by_content(fit_ids, tokens)
        folds[fold] = (fit_ids, scoring_order(fit_ids, score_ids, tokens))
    outer_fit, outer_score = folds[OUTER_FOLD]
    outer_docs, outer_score_docs = join_bigrams(
        tokens.loc[outer_fit].tolist(), tokens.loc[outer_score].tolist(), settings
    )
    outer_dictionary = build_dictionary(outer_docs, families.loc[outer_fit].tolist(), settings)
    if len(outer_dictionary) == 0:
        raise no_outer_words_error(documents, outer_fit, settings, job)
    num_topics, grid, outer_model = choose_num_topics(outer_docs, outer_dictionary, settings, seed)

    parts, words = [], None
    for fold, (fit_ids, score_ids) in folds.items():
        if fold == OUTER_FOLD:
            dictionary, model, score_docs = outer_dictionary, outer_model, outer_score_docs
        else:
            fit_docs, score_docs = join_bigrams(
                tokens.loc[fit_ids].tolist(), tokens.loc[score_ids].tolist(), settings
            )
            dictionary = build_dictionary(fit_docs, families.loc[fit_ids].tolist(), settings)
            model = None
            if len(dictionary) == 0:
                logger.warning(
                    "%s, inner fold %d: no word appears in the text of at least "
                    "topics.no_below = %d of its %d fit referrals and of topics.min_families "
                    "= %d families (%d have case notes; the "
                    "notes start %s), so no topic model is fitted and its %d scored referrals get "
                    "missing topic shares, which the models treat as missing values.",
                    job,
                    fold,
                    settings["no_below"],
                    len(fit_ids),
                    settings["min_families"],
                    int((n_notes.loc[fit_ids] > 0).sum()),
                    notes_start(documents),
                    len(score_ids),
                )
            else:
                model = fit_lda(fit_docs, dictionary, num_topics, settings, seed)
        shares = (
            topic_shares(model, dictionary, score_docs)
            if model is not None
            else np.full((len(score_ids), num_topics), np.nan)
        )
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
        documents,
        splits,
        families_by_referral(read_parquet(snakemake.input.cohort, "cohort")),
        snakemake.params.topics,
        snakemake.params.seed,
        f"outcome {snakemake.wildcards.outcome!r}, timing {snakemake.wildcards.timing!r}",
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
