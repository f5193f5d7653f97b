"""TF-IDF features: fitted per fold on training rows only, appended to the topic shares."""

import types

import fit_tfidf as tf
import numpy as np
import pandas as pd
import pytest
from test_fit_topics import documents, families, splits

from common import read_parquet, tfidf_schema, write_parquet

SETTINGS = {"enabled": True, "max_terms": 4, "min_df": 1}


def shares(n: int = 40) -> pd.DataFrame:
    """Topic shares of every scored row of the test splits (two topics)."""
    scored = splits(n).query("role != 'excluded'")[["fold", "referral_id"]]
    return scored.assign(topic_00=0.25, topic_01=0.75).astype({"fold": "int16"})


def test_weights_cover_every_scored_row_with_the_fold_terms():
    features, terms = tf.fit_tfidf(documents(), splits(), shares(), families(), SETTINGS, 1)
    assert features[["fold", "referral_id"]].equals(shares()[["fold", "referral_id"]])
    assert list(features.columns[-4:]) == ["tfidf_000", "tfidf_001", "tfidf_002", "tfidf_003"]
    assert set(terms["fold"]) == {-1, 0}
    assert (terms.groupby("fold").size() == 4).all()
    assert (features.filter(like="tfidf_").to_numpy() >= 0).all()
    assert features["topic_01"].eq(0.75).all()


def test_test_rows_do_not_influence_the_weights_of_training_rows():
    docs = documents()
    changed = docs.copy()
    # Test rows full of one new word: seen in fitting, it would enter every
    # fold's vocabulary and change the inverse document frequencies.
    changed["tokens"] = [
        ["zebra"] * 50 if i >= 30 else tokens for i, tokens in enumerate(docs["tokens"])
    ]
    leaky, _ = tf.fold_tfidf(changed["tokens"].map(list).tolist(), [["zebra"]], 4, 1)
    assert leaky.any()
    original, terms = tf.fit_tfidf(docs, splits(), shares(), families(), SETTINGS, 1)
    altered, altered_terms = tf.fit_tfidf(changed, splits(), shares(), families(), SETTINGS, 1)
    train = original["referral_id"].isin([f"r{i:02d}" for i in range(30)])
    pd.testing.assert_frame_equal(original.loc[train], altered.loc[train])
    pd.testing.assert_frame_equal(terms, altered_terms)
    assert "zebra" not in set(altered_terms["term"])
    # The inner fold's validate rows do not influence its fit rows either.
    fold0 = splits().query("fold == 0 and role == 'validate'")["referral_id"]
    changed_inner = docs.copy()
    changed_inner.loc[docs["referral_id"].isin(fold0), "tokens"] = pd.Series(
        [["zebra"] * 50] * len(fold0), index=docs.index[docs["referral_id"].isin(fold0)]
    )
    inner, _ = tf.fit_tfidf(changed_inner, splits(), shares(), families(), SETTINGS, 1)
    fit = splits().query("fold == 0 and role == 'fit'")["referral_id"]
    rows = (original["fold"] == 0) & original["referral_id"].isin(fit)
    pd.testing.assert_frame_equal(original.loc[rows], inner.loc[rows])


def test_folds_with_fewer_terms_are_padded_with_zeros():
    weights, terms = tf.fold_tfidf([["a", "b"], ["a"]], [["a"], ["c"]], 5, 1)
    assert terms == ["a", "b"]
    assert weights.shape == (2, 5) and not weights[:, 2:].any()
    np.testing.assert_allclose(weights[0, 0], 1.0)
    empty, none = tf.fold_tfidf([["a"], ["b"]], [["a"]], 3, min_df=2)
    assert none == [] and not empty.any()


def test_main_writes_features_and_terms_with_their_schemas(tmp_path):
    shares().to_parquet(tmp_path / "shares.parquet")
    write_parquet(documents(), tmp_path / "documents.parquet", "text_documents")
    write_parquet(splits().astype({"fold": "int16"}), tmp_path / "splits.parquet", "splits")
    family = families()
    day = pd.Timestamp("2020-01-01")
    cohort = pd.DataFrame(
        {
            "outcome": "esc",
            "referral_id": family.index,
            "child_id": family.index,
            "family_id": family.to_numpy(),
            "referral_date": day,
            "prediction_time": day,
            "label_known_time": day,
            "label": 0,
        }
    )
    write_parquet(cohort, tmp_path / "cohort.parquet", "cohort")
    snakemake = types.SimpleNamespace(
        input=types.SimpleNamespace(
            text_documents=str(tmp_path / "documents.parquet"),
            splits=str(tmp_path / "splits.parquet"),
            shares=str(tmp_path / "shares.parquet"),
            cohort=str(tmp_path / "cohort.parquet"),
        ),
        params=types.SimpleNamespace(tfidf=SETTINGS, min_families=1),
        output=types.SimpleNamespace(
            features=str(tmp_path / "features.parquet"), terms=str(tmp_path / "terms.parquet")
        ),
    )
    tf.main(snakemake)
    features = pd.read_parquet(snakemake.output.features)
    assert list(features.columns) == tfidf_schema(2, 4).names
    assert len(read_parquet(snakemake.output.terms, "tfidf_terms")) == 8


@pytest.mark.parametrize("fold", [-1, 0])
def test_every_term_of_a_fold_comes_from_its_fit_rows(fold):
    docs = documents()
    _, terms = tf.fit_tfidf(docs, splits(), shares(), families(), SETTINGS, 1)
    rows = splits()
    role = "train" if fold == -1 else "fit"
    fit = rows.loc[(rows["fold"] == fold) & (rows["role"] == role), "referral_id"]
    vocabulary = {t for tokens in docs.loc[docs["referral_id"].isin(fit), "tokens"] for t in tokens}
    assert set(terms.loc[terms["fold"] == fold, "term"]) <= vocabulary


def test_a_term_of_one_family_is_left_out_however_many_its_documents():
    docs, family = documents(), families()
    family.iloc[:6] = "f-kowalczyk"
    docs["tokens"] = [
        [*tokens, "kowalczyk"] * 3 if i < 6 else list(tokens)
        for i, tokens in enumerate(docs["tokens"])
    ]
    settings = {**SETTINGS, "max_terms": 20, "min_df": 5}
    _, terms = tf.fit_tfidf(docs, splits(), shares(), family, settings, 3)
    assert "kowalczyk" not in set(terms["term"]) and "bruise" in set(terms["term"])
    _, by_documents = tf.fit_tfidf(docs, splits(), shares(), family, settings, 1)
    assert "kowalczyk" in set(by_documents["term"])


def test_dropping_rare_family_terms_leaves_the_other_weights_unchanged():
    """Common terms are weighed as if the vocabulary alone were restricted."""
    docs, family = documents(), families()
    docs["tokens"] = [[*tokens, f"name{i // 2}"] for i, tokens in enumerate(docs["tokens"])]
    settings = {**SETTINGS, "max_terms": 12}
    features, terms = tf.fit_tfidf(docs, splits(), shares(), family, settings, 2)
    assert not terms["term"].str.startswith("name").any()
    weights, _ = tf.fold_tfidf(
        documents()["tokens"].map(list).tolist()[:30], docs["tokens"].tolist(), 12, 1
    )
    outer = features.loc[features["fold"] == -1].filter(like="tfidf_").to_numpy()
    np.testing.assert_allclose(outer, weights)


def test_the_family_filter_counts_the_fit_rows_families_only():
    # "kestrel" fills the notes of one training family (f00) and of test
    # families: counted on the scored rows it would reach two families.
    docs = documents()
    docs["tokens"] = [
        ["kestrel"] * 30 if i in (0, 1) or i >= 30 else tokens
        for i, tokens in enumerate(docs["tokens"])
    ]
    _, terms = tf.fit_tfidf(docs, splits(), shares(), families(), SETTINGS, 2)
    assert "kestrel" not in set(terms["term"])
    _, terms = tf.fit_tfidf(docs, splits(), shares(), families(), SETTINGS, 1)
    assert "kestrel" in set(terms.loc[terms["fold"] == -1, "term"])
