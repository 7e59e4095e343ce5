"""Fixes found by benchmarks/scale.py at 10M rows: each keeps the result of the slower code it replaced."""

import numpy as np
import pandas as pd

from specweave_ml.data.checks import duplicate_rows


def test_counts_the_rows_that_repeat_an_earlier_one_as_pandas_does():
    rng = np.random.default_rng(0)
    frame = pd.DataFrame({"a": rng.normal(size=500), "b": rng.integers(0, 3, 500), "c": pd.Categorical(rng.choice(["x", "y"], 500))})
    frame = pd.concat([frame, frame.iloc[:7], frame.iloc[:2]], ignore_index=True)  # 9 repeats of earlier rows
    assert duplicate_rows(frame) == int(frame.duplicated().sum()) == 9


def test_signed_zeros_and_nans_are_equal_as_equality_sees_them():
    frame = pd.DataFrame({"a": [0.0, -0.0, np.nan, float("nan"), 1.0], "b": [1, 1, 2, 2, 3]})
    assert duplicate_rows(frame) == int(frame.duplicated().sum()) == 2


def test_stays_silent_on_distinct_rows_and_on_rows_equal_in_some_columns_only():
    frame = pd.DataFrame({"a": [1.0, 1.0, 2.0, 2.0], "b": [1, 2, 1, 2], "when": pd.date_range("2024-01-01", periods=4)})
    assert duplicate_rows(frame) == 0
    assert duplicate_rows(frame.iloc[:1]) == 0


def test_columns_of_python_objects_keep_pandas_count():
    frame = pd.DataFrame({"a": pd.Series([1, 1.0, "1"], dtype=object)})  # 1 == 1.0, their string forms differ
    assert duplicate_rows(frame) == int(frame.duplicated().sum()) == 1


# --- the constant-column test without a hash table (contract._single_value) ------------------------------------

def test_single_value_agrees_with_nunique_on_constant_columns():
    from specweave_ml.data.contract import _single_value

    for col in (pd.Series([2.5] * 5), pd.Series([np.nan] * 4), pd.Series(["a"] * 3, dtype="str"),
                pd.Series(pd.Categorical(["x"] * 3)), pd.Series([0.0, -0.0])):
        assert _single_value(col) == (col.nunique(dropna=False) == 1) == True  # noqa: E712


def test_single_value_stays_silent_on_columns_with_two_values_a_missing_one_included():
    from specweave_ml.data.contract import _single_value

    for col in (pd.Series([1.0, 1.0, 2.0]), pd.Series([1.0, np.nan]), pd.Series([np.nan, 1.0]), pd.Series(["a", None])):
        assert _single_value(col) == (col.nunique(dropna=False) == 1) == False  # noqa: E712


# --- the time-ordered split sorts only data that is out of order (data.split.make_split) --------------------------

def _time_split(frame):
    from specweave_ml.data.split import make_split
    from specweave_ml.plan import SplitPlan

    plan = SplitPlan("time", "expanding_window", 3, 0.25, "t", None, "time-ordered")
    return make_split(frame, plan, "y", seed=0)


def test_time_split_of_shuffled_rows_puts_the_latest_rows_in_the_test_part():
    rng = np.random.default_rng(0)
    frame = pd.DataFrame({"t": rng.permutation(40).astype(float), "x": rng.normal(size=40), "y": np.arange(40) % 2})
    split = _time_split(frame)
    assert split.test["t"].tolist() == [float(v) for v in range(30, 40)] and split.train["t"].is_monotonic_increasing


def test_time_split_of_ordered_rows_with_ties_keeps_their_order_as_a_stable_sort_would():
    frame = pd.DataFrame({"t": np.repeat(np.arange(10.0), 4), "x": np.arange(40.0), "y": np.arange(40) % 2})
    split = _time_split(frame)
    assert split.train["x"].tolist() == list(np.arange(30.0)) and split.test["x"].tolist() == list(np.arange(30.0, 40.0))


# --- labels are encoded once per distinct value (data.labels.encode) ------------------------------------------------

def test_encode_maps_every_row_to_its_class_position_by_value_or_by_its_text():
    from specweave_ml.data.labels import encode

    assert encode(pd.Series([1, 0, 1, 1]), [0, 1]).tolist() == [1, 0, 1, 1]
    assert encode(np.array(["b", "a", "b"], dtype=object), ["a", "b"]).tolist() == [1, 0, 1]
    assert encode(pd.Series(["1", "0"]), [0, 1]).tolist() == [1, 0]  # a label read back as text


def test_encode_refuses_a_label_the_model_never_saw():
    import pytest

    from specweave_ml.data.labels import encode
    from specweave_ml.errors import DataError

    with pytest.raises(DataError, match="label 2 is not one of the classes"):
        encode(pd.Series([0, 2, 1]), [0, 1])
