"""The holdout split and CV folds: each strategy keeps its promise, and the fingerprint pins the rows."""

import numpy as np
import pandas as pd
import pytest

from specweave_ml.data.split import FOLD, ROW, fingerprint, make_split
from specweave_ml.plan import SplitPlan

CV = {"random": "kfold", "stratified": "stratified_kfold", "time": "expanding_window", "group": "group_kfold"}


def plan(strategy, folds=5, test_size=0.25, time_column=None, group_column=None):
    return SplitPlan(strategy, CV[strategy], folds, test_size, time_column, group_column, "test")


def data(n=400, seed=0):
    rng = np.random.default_rng(seed)
    return pd.DataFrame({
        "t": rng.permutation(n).astype(float),  # unique times, shuffled
        "store": rng.integers(0, 40, n),
        "x": rng.normal(size=n),
        "y": (rng.random(n) < 0.2).astype(int),
    })


def assert_partition(frame, split):
    rows = sorted([*split.train[ROW], *split.test[ROW]])
    assert rows == list(range(len(frame))), "every row lands in exactly one part"


def assert_folds_cover(split, folds, allow_unvalidated=False):
    values = set(split.train[FOLD])
    expected = set(range(folds)) | ({-1} if allow_unvalidated else set())
    assert values == expected
    assert split.info["rows_validated_per_fold"] == [int((split.train[FOLD] == k).sum()) for k in range(folds)]


@pytest.mark.parametrize("strategy", ["random", "stratified"])
def test_shuffled_splits_partition_the_rows_and_every_train_row_is_validated_once(strategy):
    frame = data()
    split = make_split(frame, plan(strategy), "y", seed=1)
    assert_partition(frame, split)
    assert len(split.test) == 100 and len(split.train) == 300
    assert_folds_cover(split, 5)
    assert sum(split.info["rows_validated_per_fold"]) == len(split.train)
    assert max(split.info["rows_validated_per_fold"]) - min(split.info["rows_validated_per_fold"]) <= 1
    assert FOLD not in split.test.columns


def test_stratified_split_keeps_class_shares_in_every_part():
    frame = data(1_000)
    share = frame["y"].mean()
    split = make_split(frame, plan("stratified"), "y", seed=3)
    assert split.train["y"].mean() == pytest.approx(share, abs=0.005)
    assert split.test["y"].mean() == pytest.approx(share, abs=0.01)
    for k in range(5):
        assert split.train.loc[split.train[FOLD] == k, "y"].mean() == pytest.approx(share, abs=0.01)


def test_the_seed_decides_the_rows():
    frame = data()
    a = make_split(frame, plan("random"), "y", seed=1)
    b = make_split(frame, plan("random"), "y", seed=1)
    c = make_split(frame, plan("random"), "y", seed=2)
    pd.testing.assert_frame_equal(a.train, b.train)
    assert a.info["train_fingerprint"] == b.info["train_fingerprint"]
    assert set(a.test[ROW]) != set(c.test[ROW])
    assert a.info["train_fingerprint"] != c.info["train_fingerprint"]


def test_time_split_tests_on_the_latest_rows():
    frame = data()
    split = make_split(frame, plan("time", time_column="t"), "y", seed=0)
    assert_partition(frame, split)
    assert split.train["t"].max() < split.test["t"].min()
    assert len(split.test) == 100
    assert split.info["train_time_range"] == ["0.0", "299.0"]
    assert split.info["test_time_range"] == ["300.0", "399.0"]


def test_time_split_with_tied_times_puts_no_train_row_after_a_test_row():
    frame = data()
    frame["t"] = pd.Timestamp("2024-01-01") + pd.to_timedelta(frame["t"].astype(int) // 10, unit="D")  # 10 rows a day
    split = make_split(frame, plan("time", time_column="t", test_size=0.25), "y", seed=0)
    assert split.train["t"].max() <= split.test["t"].min()


def test_expanding_window_validates_each_fold_on_rows_later_than_all_it_trained_on():
    frame = data()
    split = make_split(frame, plan("time", time_column="t"), "y", seed=0)
    train = split.train
    assert_folds_cover(split, 5, allow_unvalidated=True)
    assert (train[FOLD] == -1).sum() > 0, "the first block is only ever trained on"
    for k in range(5):
        validated = train.loc[train[FOLD] == k, "t"]
        trained_on = train.loc[train[FOLD] < k, "t"]
        assert len(validated) and len(trained_on)
        assert validated.min() > trained_on.max(), f"fold {k} looks back in time"
    # Folds are consecutive blocks of time.
    assert list(train.sort_values("t")[FOLD]) == sorted(train[FOLD])


def test_group_split_keeps_each_group_on_one_side():
    frame = data()
    split = make_split(frame, plan("group", group_column="store"), "y", seed=4)
    assert_partition(frame, split)
    assert not set(split.train["store"]) & set(split.test["store"])
    assert len(split.test) > 0
    assert_folds_cover(split, 5)
    # In CV too: a group is validated in one fold only.
    assert (split.train.groupby("store")[FOLD].nunique() == 1).all()


def test_rows_trace_back_to_the_input_and_the_input_is_untouched():
    frame = data()
    frame.index = frame.index * 3 + 7  # an index that is not 0..n-1
    before = frame.copy()
    split = make_split(frame, plan("stratified"), "y", seed=0)
    pd.testing.assert_frame_equal(frame, before)
    for part in (split.train, split.test):
        back = before.iloc[part[ROW]].reset_index(drop=True)
        pd.testing.assert_frame_equal(part[list(before.columns)], back)


@pytest.mark.parametrize("strategy", ["random", "stratified", "time", "group"])
def test_info_records_the_plan_and_fingerprints(strategy):
    p = plan(strategy, folds=4, time_column="t", group_column="store")
    split = make_split(data(), p, "y", seed=0)
    info = split.info
    assert (info["strategy"], info["cv_strategy"], info["cv_folds"], info["test_size"]) == (strategy, CV[strategy], 4, 0.25)
    assert (info["rows_train"], info["rows_test"]) == (len(split.train), len(split.test))
    assert info["train_fingerprint"] == fingerprint(split.train)
    assert info["test_fingerprint"] == fingerprint(split.test)


# --- fingerprint -------------------------------------------------------------------------------------

def test_fingerprint_is_stable_and_ignores_the_index():
    frame = data()
    assert fingerprint(frame) == fingerprint(frame.copy())
    assert fingerprint(frame) == fingerprint(frame.set_axis(frame.index + 100))
    assert len(fingerprint(frame)) == 64


def test_fingerprint_changes_with_any_value_name_or_order():
    frame = data()
    changed = frame.copy()
    changed.loc[17, "x"] += 1e-9
    assert fingerprint(changed) != fingerprint(frame)
    assert fingerprint(frame.rename(columns={"x": "z"})) != fingerprint(frame)
    assert fingerprint(frame[["y", "x", "t", "store"]]) != fingerprint(frame)
    assert fingerprint(frame.iloc[::-1]) != fingerprint(frame)
    assert fingerprint(frame.iloc[:-1]) != fingerprint(frame)


def test_fingerprint_survives_a_parquet_round_trip(tmp_path):
    """Later stages check the saved split against its fingerprint, after reading it back from Parquet."""
    frame = data()
    frame["when"] = pd.Timestamp("2024-01-01") + pd.to_timedelta(np.arange(len(frame)), unit="h")
    frame["when_s"] = frame["when"].astype("datetime64[s]")  # what pandas' pyarrow CSV reader returns
    frame["label"] = np.where(frame["y"] == 1, "fraud", "ok")
    path = tmp_path / "f.parquet"
    frame.to_parquet(path, index=False)
    assert fingerprint(pd.read_parquet(path)) == fingerprint(frame)
