"""Topic models: fitted on training rows only, deterministic, chosen by coherence."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

import fit_topics as ft
from common import InputError

SETTINGS = {
    "num_topics": [2, 3],
    "coherence": "c_v",
    "coherence_documents": 1000,
    "passes": 5,
    "iterations": 50,
    "no_below": 1,
    "no_above": 1.0,
    "min_families": 1,
    "keep_n": None,
    "bigrams": False,
    "bigram_min_count": 2,
    "bigram_threshold": 0.1,
}
BIGRAMS = {**SETTINGS, "bigrams": True}
JOB = "outcome 'esc', timing 'time'"
CONCERN = ["bruise", "injury", "police", "drunk", "shout", "fear"]
CALM = ["school", "happy", "play", "tidy", "engage", "support"]


def documents(n: int = 40) -> pd.DataFrame:
    rng = np.random.default_rng(0)
    rows = []
    for i in range(n):
        words = CONCERN if i % 2 else CALM
        rows.append(list(rng.choice(words, size=12)))
    return pd.DataFrame(
        {
            "outcome": "esc",
            "referral_id": [f"r{i:02d}" for i in range(n)],
            "latest_note_time": pd.NaT,
            "n_notes": 1,
            "tokens": rows,
        }
    )


def families(n: int = 40) -> pd.Series:
    """Each referral's family: two referrals a family (siblings, or one child
    referred twice)."""
    return pd.Series(
        [f"f{i // 2:02d}" for i in range(n)], index=[f"r{i:02d}" for i in range(n)], dtype="str"
    )


def splits(n: int = 40) -> pd.DataFrame:
    ids = [f"r{i:02d}" for i in range(n)]
    outer = pd.DataFrame(
        {"referral_id": ids, "fold": -1, "role": ["test" if i >= 30 else "train" for i in range(n)]}
    )
    inner = pd.DataFrame(
        {
            "referral_id": ids[:30],
            "fold": 0,
            "role": ["validate" if i >= 20 else "fit" for i in range(30)],
        }
    )
    return pd.concat([outer, inner], ignore_index=True)


def test_shares_cover_scored_rows_of_each_fold_and_sum_to_one():
    shares, grid, words = ft.fit_topics(
        documents(), splits(), families(), SETTINGS, seed=1, job=JOB
    )
    assert shares.loc[shares["fold"] == -1, "referral_id"].nunique() == 40
    assert shares.loc[shares["fold"] == 0, "referral_id"].nunique() == 30
    topic_columns = [c for c in shares.columns if c.startswith("topic_")]
    np.testing.assert_allclose(shares[topic_columns].sum(axis=1), 1.0, atol=1e-6)
    assert grid["num_topics"].tolist() == [2, 3]
    assert set(words["topic"]) == set(range(len(topic_columns)))


def test_topics_are_deterministic():
    first = ft.fit_topics(documents(), splits(), families(), SETTINGS, seed=1, job=JOB)[0]
    second = ft.fit_topics(documents(), splits(), families(), SETTINGS, seed=1, job=JOB)[0]
    pd.testing.assert_frame_equal(first, second)


def test_test_rows_text_does_not_change_the_model():
    docs = documents()
    changed = docs.copy()
    changed["tokens"] = [
        ["zebra"] * 12 if i >= 30 else tokens for i, tokens in enumerate(docs["tokens"])
    ]
    original = ft.fit_topics(docs, splits(), families(), SETTINGS, seed=1, job=JOB)[0]
    altered = ft.fit_topics(changed, splits(), families(), SETTINGS, seed=1, job=JOB)[0]
    train = original["referral_id"].isin([f"r{i:02d}" for i in range(30)])
    pd.testing.assert_frame_equal(original.loc[train], altered.loc[train])


def test_an_inner_folds_validate_rows_do_not_change_its_model():
    # Fold 0 fits on r00-r19 and validates on r20-r29: their text must not
    # reach the fold's model, so its fit rows' shares stay the same. (The
    # topic count is chosen on the outer training rows, r20-r29 among them:
    # one count here.)
    settings = {**SETTINGS, "num_topics": [2]}
    docs = documents()
    changed = docs.copy()
    changed["tokens"] = [
        ["zebra", "police"] * 6 if 20 <= i < 30 else tokens
        for i, tokens in enumerate(docs["tokens"])
    ]
    original = ft.fit_topics(docs, splits(), families(), settings, seed=1, job=JOB)[0]
    altered = ft.fit_topics(changed, splits(), families(), settings, seed=1, job=JOB)[0]
    fit = (original["fold"] == 0) & original["referral_id"].isin([f"r{i:02d}" for i in range(20)])
    pd.testing.assert_frame_equal(original.loc[fit], altered.loc[fit])


def test_words_unseen_in_training_give_missing_shares():
    docs = documents()
    docs.at[35, "tokens"] = ["zebra", "giraffe"]
    shares = ft.fit_topics(docs, splits(), families(), SETTINGS, seed=1, job=JOB)[0]
    row = shares.loc[(shares["fold"] == -1) & (shares["referral_id"] == "r35")]
    assert row.filter(like="topic_").isna().all(axis=None)


def notes_from(docs: pd.DataFrame, first: int) -> pd.DataFrame:
    """``docs`` as if the notes system began at referral ``first``: earlier
    referrals have no notes in their windows."""
    late = docs.copy()
    late["tokens"] = [tokens if i >= first else [] for i, tokens in enumerate(docs["tokens"])]
    late["n_notes"] = [1 if i >= first else 0 for i in range(len(docs))]
    late["latest_note_time"] = [
        pd.Timestamp("2019-06-01") + pd.Timedelta(days=i) if i >= first else pd.NaT
        for i in range(len(docs))
    ]
    return late


def test_an_inner_fold_without_notes_gets_missing_shares_and_a_warning(caplog):
    """Notes adopted after the earliest referrals: inner fold 0 fits on
    r00-r19, none with notes, so its rows get missing shares, not a crash."""
    docs = notes_from(documents(), first=20)
    with caplog.at_level("WARNING", logger="fit_topics"):
        shares = ft.fit_topics(docs, splits(), families(), SETTINGS, seed=1, job=JOB)[0]
    inner = shares.loc[shares["fold"] == 0].filter(like="topic_")
    assert len(inner) == 30 and inner.isna().all(axis=None)
    outer = shares.loc[shares["fold"] == -1]
    noted = outer["referral_id"] >= "r20"
    assert outer.loc[noted].filter(like="topic_").notna().all(axis=None)
    assert "outcome 'esc', timing 'time', inner fold 0" in caplog.text
    assert "notes start about 2019-06)" in caplog.text


def test_outer_training_rows_without_notes_stop_with_what_to_do():
    docs = notes_from(documents(), first=30)
    with pytest.raises(InputError) as error:
        ft.fit_topics(docs, splits(), families(), SETTINGS, seed=1, job=JOB)
    message = str(error.value)
    assert "outcome 'esc', timing 'time'" in message
    assert "none of them has a case note" in message
    assert "start about 2019-07." in message
    assert "Supply case notes" in message


def test_num_topics_chosen_by_highest_coherence():
    docs = documents()["tokens"].tolist()
    dictionary = ft.build_dictionary(docs, families().tolist(), SETTINGS)
    chosen, grid, model = ft.choose_num_topics(docs, dictionary, SETTINGS, seed=1)
    assert chosen == int(grid.sort_values("coherence").iloc[-1]["num_topics"])
    assert model.num_topics == chosen


def test_outer_shares_are_those_of_a_fresh_fit_on_the_outer_training_rows():
    """The grid's chosen model is reused as the outer model: it must be the
    model a fresh fit on the outer training rows would give."""
    docs, folds = documents(), splits()
    shares, _, _ = ft.fit_topics(docs, folds, families(), SETTINGS, seed=1, job=JOB)
    outer = shares.loc[shares["fold"] == -1]
    tokens = docs.set_index("referral_id")["tokens"]
    train = folds.loc[(folds["fold"] == -1) & (folds["role"] == "train"), "referral_id"]
    train = ft.by_content(train.tolist(), tokens)
    fit_docs = tokens.loc[train].tolist()
    dictionary = ft.build_dictionary(fit_docs, families().loc[train].tolist(), SETTINGS)
    num_topics = outer.filter(like="topic_").shape[1]
    model = ft.fit_lda(fit_docs, dictionary, num_topics, SETTINGS, seed=1)
    scored = ft.scoring_order(train, docs["referral_id"].tolist(), tokens)
    expected = pd.DataFrame(
        ft.topic_shares(model, dictionary, tokens.loc[scored].tolist()), index=scored
    ).loc[outer["referral_id"]]
    np.testing.assert_array_equal(outer.filter(like="topic_").to_numpy(), expected.to_numpy())


def test_bigrams_are_learned_on_fit_rows_and_applied_to_scored_rows():
    fit = [["front", "door", "call"], ["front", "door", "visit"], ["door", "front"]] * 3
    score = [["front", "door"], ["call", "front"]]
    joined_fit, joined_score = ft.join_bigrams(fit, score, BIGRAMS)
    assert joined_fit[0] == ["front_door", "call"]
    assert joined_score == [["front_door"], ["call", "front"]]
    assert ft.join_bigrams(fit, score, SETTINGS) == (fit, score)


def test_test_rows_do_not_influence_learned_bigrams():
    docs = documents()
    changed = docs.copy()
    # Test rows full of a pair that would be learned as a bigram if they were seen.
    changed["tokens"] = [
        ["police", "bruise"] * 6 if i >= 30 else tokens for i, tokens in enumerate(docs["tokens"])
    ]
    # Seen with the test rows, the pair would be joined.
    everything, _ = ft.join_bigrams(changed["tokens"].map(list).tolist(), [], BIGRAMS)
    assert "police_bruise" in everything[35]
    original, _, words = ft.fit_topics(docs, splits(), families(), BIGRAMS, seed=1, job=JOB)
    altered, _, altered_words = ft.fit_topics(
        changed, splits(), families(), BIGRAMS, seed=1, job=JOB
    )
    train = original["referral_id"].isin([f"r{i:02d}" for i in range(30)])
    pd.testing.assert_frame_equal(original.loc[train], altered.loc[train])
    pd.testing.assert_frame_equal(words, altered_words)
    assert not altered_words["word"].str.contains("police_bruise").any()


def test_a_word_of_one_family_is_left_out_however_many_its_documents():
    """A surname redaction missed, on the notes of one family's six training
    referrals, passes no_below (documents) but must not become a topic word."""
    docs, family = documents(), families()
    family.iloc[:6] = "f-kowalczyk"
    docs["tokens"] = [
        [*tokens, "mr", "kowalczyk"] * 2 if i < 6 else list(tokens)
        for i, tokens in enumerate(docs["tokens"])
    ]
    strict = {**SETTINGS, "no_below": 5, "min_families": 3}
    _, _, words = ft.fit_topics(docs, splits(), family, strict, seed=1, job=JOB)
    assert not words["word"].str.contains("kowalczyk").any() and not words.empty
    # Counted by documents alone, as no_below counts, the name would be kept.
    _, _, by_documents = ft.fit_topics(
        docs, splits(), family, {**strict, "min_families": 1}, seed=1, job=JOB
    )
    assert by_documents["word"].str.contains("kowalczyk").any()


def test_a_bigram_of_one_family_is_left_out():
    fit = [["mr", "kowalczyk", "visit"]] * 6 + [["home", "visit"], ["school", "visit"]] * 6
    family = ["f-kowalczyk"] * 6 + [f"f{i}" for i in range(12)]
    joined, _ = ft.join_bigrams(fit, [], BIGRAMS)
    assert joined[0][0] == "mr_kowalczyk"
    settings = {**BIGRAMS, "no_below": 5, "min_families": 3}
    kept = set(ft.build_dictionary(joined, family, settings).token2id)
    assert kept == {"home_visit", "school_visit"}
    by_documents = ft.build_dictionary(joined, family, {**settings, "min_families": 1})
    assert "mr_kowalczyk" in by_documents.token2id


def test_the_vocabulary_keeps_the_keep_n_words_in_most_documents_after_the_filters():
    # "rare" is in one document (below no_below), "name" in one family's only;
    # then "c" and "d" tie on 3 documents and the alphabetical one stays.
    fit = [["a", "b", "c", "d"], ["a", "b", "c", "d"], ["a", "b", "c", "d", "rare"]]
    fit += [["a", "b", "name"]] * 3
    family = ["f1", "f2", "f3", "f4", "f4", "f4"]
    settings = {**SETTINGS, "no_below": 2, "min_families": 2}
    assert set(ft.build_dictionary(fit, family, {**settings, "keep_n": 3}).token2id) == {
        "a",
        "b",
        "c",
    }
    assert set(ft.build_dictionary(fit, family, {**settings, "keep_n": None}).token2id) == {
        "a",
        "b",
        "c",
        "d",
    }
    # The order of the documents does not decide a tie: here "d" comes first
    # (gensim numbers words by first appearance, and keeps ties in that order).
    d_first = [["a", "d"], ["a", "c"], ["a", "c", "d"]]
    tie = {**SETTINGS, "keep_n": 2}
    assert set(ft.build_dictionary(d_first, ["f1", "f2", "f3"], tie).token2id) == {"a", "c"}


def test_a_smaller_vocabulary_changes_the_topics_but_fits_on_training_rows_only():
    docs = documents()
    capped = {**SETTINGS, "keep_n": 4}
    shares, _, words = ft.fit_topics(docs, splits(), families(), capped, seed=1, job=JOB)
    assert words["word"].nunique() <= 4
    changed = docs.copy()
    # Were the test rows counted, "bruise" would be among the most frequent.
    changed["tokens"] = [
        ["bruise"] * 12 if i >= 30 else tokens for i, tokens in enumerate(docs["tokens"])
    ]
    again, _, _ = ft.fit_topics(changed, splits(), families(), capped, seed=1, job=JOB)
    training = shares["referral_id"].isin([f"r{i:02d}" for i in range(30)])
    pd.testing.assert_frame_equal(
        shares[training].reset_index(drop=True), again[training].reset_index(drop=True)
    )


def test_family_tokens_counts_distinct_families():
    docs = [["a", "b"], ["a", "a"], ["a", "c"], []]
    assert ft.family_tokens(docs, ["f1", "f1", "f2", "f3"], 2) == {"a"}
    assert ft.family_tokens(docs, ["f1", "f2", "f3", "f4"], 1) == {"a", "b", "c"}
    assert ft.family_tokens([], [], 1) == set()


def test_a_new_pseudonymisation_key_changes_no_topic_share():
    # Referral ids are keyed hashes: another key renames them, and so reorders
    # them. Each referral's shares, the grid and the words must stay the same.
    renamed = {f"r{i:02d}": f"r{(i * 17) % 40:02d}x" for i in range(40)}
    docs = documents().assign(referral_id=lambda d: d["referral_id"].map(renamed))
    fams = families().rename(index=renamed)
    splits_renamed = splits().assign(referral_id=lambda d: d["referral_id"].map(renamed))
    assert docs["referral_id"].tolist() != sorted(docs["referral_id"])
    before = ft.fit_topics(documents(), splits(), families(), SETTINGS, seed=1, job=JOB)
    after = ft.fit_topics(docs, splits_renamed, fams, SETTINGS, seed=1, job=JOB)
    back = {new: old for old, new in renamed.items()}
    shares = after[0].assign(referral_id=lambda d: d["referral_id"].map(back))
    expected = before[0].set_index(["fold", "referral_id"])
    pd.testing.assert_frame_equal(
        shares.set_index(["fold", "referral_id"]).loc[expected.index], expected
    )
    pd.testing.assert_frame_equal(after[1], before[1])
    pd.testing.assert_frame_equal(after[2], before[2])


def test_identical_documents_get_identical_shares():
    docs = documents()["tokens"].map(list).tolist()
    dictionary = ft.build_dictionary(docs, families().tolist(), SETTINGS)
    model = ft.fit_lda(docs, dictionary, 2, SETTINGS, seed=1)
    shares = ft.topic_shares(model, dictionary, [docs[0], docs[1], docs[0]])
    np.testing.assert_array_equal(shares[0], shares[2])
    assert not np.array_equal(shares[0], shares[1])
