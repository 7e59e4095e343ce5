"""The splits never leak the future: per user (leave-last-out), globally (time cut); per-user random keeps every
user in training; CV folds follow the same rule; unseen users and items are counted."""

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings, strategies as st

from specweave_ml.recommendations import interactions as ri


def interactions(n_users=30, n_items=40, n=400, seed=0, ties=False):
    rng = np.random.default_rng(seed)
    times = rng.integers(0, 50 if ties else 10**6, n)
    frame = pd.DataFrame({"u": rng.integers(0, n_users, n), "i": rng.integers(0, n_items, n),
                          "r": rng.integers(1, 6, n), "t": times})
    return ri.check(frame, ri.Columns("u", "i", "r", "t"))


@settings(max_examples=30, deadline=None)
@given(seed=st.integers(0, 10_000), ties=st.booleans())
def test_leave_last_out_trains_only_on_each_users_earlier_interactions(seed, ties):
    data = interactions(seed=seed, ties=ties)
    train, test = ri.leave_last_out(data)
    assert ri.future_leaks(train, test, "leave_last_out") == 0
    assert len(train) + len(test) == len(data)
    assert test.groupby("user").size().max() == 1  # one held-out interaction per user
    assert set(test["user"]) <= set(train["user"])  # every held-out user has training interactions
    for nth in (2, 3):  # CV folds: the nth latest, trained on what came before it only
        fold_train, fold_val = ri.leave_last_out(train, nth)
        assert ri.future_leaks(fold_train, fold_val, "leave_last_out") == 0


@settings(max_examples=30, deadline=None)
@given(seed=st.integers(0, 10_000), share=st.sampled_from([0.1, 0.25, 0.5]))
def test_a_global_time_cut_holds_out_everything_after_it(seed, share):
    data = interactions(seed=seed)
    train, test, cut = ri.global_time(data, share)
    assert train["time"].max() < cut <= test["time"].min()
    assert ri.future_leaks(train, test, "global_time") == 0
    for fold_train, fold_val in ri.folds(train, "global_time", 3, share, seed):
        assert fold_train["time"].max() < fold_val["time"].min()


def test_per_user_random_holds_out_about_a_quarter_of_each_user_and_keeps_one_in_training():
    data = interactions(n=2000, seed=3)
    train, test = ri.per_user_random(data, 0.25, seed=1)
    assert len(train) + len(test) == len(data)
    sizes = data.groupby("user").size()
    held = test.groupby("user").size().reindex(sizes.index, fill_value=0)
    assert ((held - sizes * 0.25).abs() <= 1).all()
    assert (train.groupby("user").size().reindex(sizes.index, fill_value=0) >= 1).all()
    again, _ = ri.per_user_random(data, 0.25, seed=1)
    assert again.equals(train)  # seeded


def test_a_user_with_one_interaction_stays_in_training_and_is_counted():
    data = ri.check(pd.DataFrame({"u": [1, 1, 2], "i": [1, 2, 3], "t": [1, 2, 3]}), ri.Columns("u", "i", None, "t"))
    train, test = ri.leave_last_out(data)
    assert test[["user", "item"]].values.tolist() == [[1, 2]]
    assert 2 in set(train["user"])


def test_unseen_users_and_items_are_counted_not_dropped():
    train = pd.DataFrame({"user": [1, 1, 2], "item": [10, 11, 10]})
    test = pd.DataFrame({"user": [1, 3, 3], "item": [12, 10, 13]})
    counts = ri.describe(train, test)
    assert counts["unseen_users"] == 1 and counts["unseen_items"] == 2
    assert counts["test_interactions_of_unseen_users"] == 2 and counts["test_interactions_of_unseen_items"] == 2


def test_a_leaking_split_is_detected():
    train = pd.DataFrame({"user": [1, 1], "item": [1, 2], "time": [1.0, 9.0]})
    test = pd.DataFrame({"user": [1], "item": [3], "time": [5.0]})
    assert ri.future_leaks(train, test, "leave_last_out") == 1
    assert ri.future_leaks(train, test, "global_time") == 1


@pytest.mark.parametrize("rating", [["4", "five", "3"], ["a", "b", "c"]])
def test_a_non_numeric_rating_is_refused_naming_the_key(rating):
    from specweave_ml.errors import DataError

    frame = pd.DataFrame({"u": [1, 2, 3], "i": [1, 2, 3], "r": rating})
    with pytest.raises(DataError, match=r"^problem\.data\.rating_column: 'r' is not numeric"):
        ri.check(frame, ri.Columns("u", "i", "r", None))
