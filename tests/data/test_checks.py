"""Data checks before anything is trained: fatal problems name their column, softer ones become findings."""

import numpy as np
import pandas as pd
import pytest

from specweave_ml.data.checks import check_frame, check_target, check_time, require_columns
from specweave_ml.errors import DataError
from specweave_ml.schema import DataSchema, ProblemSchema, Task


def problem(task="binary_classification", **data):
    data = {"source": "data.csv", "target": "y", **data}
    return ProblemSchema(increment="0099-checks", task=Task(task), data=DataSchema(**data))


def frame(n=100, seed=0, **extra):
    rng = np.random.default_rng(seed)
    out = pd.DataFrame({"x1": rng.normal(size=n), "x2": rng.normal(size=n), "y": np.arange(n) % 2})
    for name, values in extra.items():
        out[name] = values
    return out


# --- require_columns -------------------------------------------------------------------------------

@pytest.mark.parametrize(
    "key, value",
    [
        ("target", "label"),
        ("time_column", "when"),
        ("group_column", "store"),
        ("features", ["x1", "x3"]),
        ("exclude", ["notes"]),
        ("id_columns", ["customer"]),
    ],
)
def test_every_column_the_brief_names_must_exist(key, value):
    p = problem(**{key: value})
    missing = value[-1] if isinstance(value, list) else value
    with pytest.raises(DataError, match=rf"^problem\.data\.{key}: column '{missing}' is not in the data \(3 columns: x1, x2, y\)\. Fix: "):
        require_columns(["x1", "x2", "y"], p)


def test_columns_that_exist_pass():
    require_columns(["t", "g", "x1", "y"], problem(time_column="t", group_column="g", features=["x1"]))


def test_a_long_column_list_is_shortened_in_the_message():
    columns = [f"c{i}" for i in range(40)]
    with pytest.raises(DataError, match=r"40 columns: c0, c1, .*c11, \.\.\.\)") as info:
        require_columns(columns, problem())
    assert "c12" not in str(info.value)


# --- check_target ----------------------------------------------------------------------------------

def test_nan_targets_are_refused():
    y = pd.Series([0, 1, None, 1, 0, None] * 5, name="label", dtype="float")
    with pytest.raises(DataError, match=r"^column 'label': the target has 10 missing values\. Fix: "):
        check_target(y, "binary_classification", 5)


@pytest.mark.parametrize("values", [["a", "b", "c"] * 10, [True, False, True] * 10])
def test_a_regression_target_must_be_numeric(values):
    y = pd.Series(values, name="price")
    with pytest.raises(DataError, match=r"^column 'price': a regression target must be numeric"):
        check_target(y, "regression", 5)


def test_a_constant_regression_target_is_refused():
    with pytest.raises(DataError, match=r"^column 'price': the target is constant"):
        check_target(pd.Series([3.5] * 30, name="price"), "regression", 5)


def test_a_numeric_regression_target_passes():
    check_target(pd.Series(np.linspace(0, 1, 30), name="price"), "regression", 5)


@pytest.mark.parametrize("task", ["binary_classification", "multiclass_classification"])
def test_a_single_class_is_refused(task):
    with pytest.raises(DataError, match=r"^column 'y': the target has a single class"):
        check_target(pd.Series([1] * 30, name="y"), task, 5)


@pytest.mark.parametrize(
    "values, shown",
    [([1] * 30, "single class (1)"), ([0] * 40 + [1] * 3, "class 1 has 3 rows")],
)
def test_an_integer_class_is_shown_as_the_user_knows_it(values, shown):
    """The message shows the class value as it is in the data, not numpy's repr of it (``np.int64(1)``)."""
    with pytest.raises(DataError) as info:
        check_target(pd.Series(values, name="y"), "binary_classification", 5)
    assert shown in str(info.value), str(info.value)
    assert "np." not in str(info.value)


def test_binary_with_three_classes_points_to_multiclass():
    with pytest.raises(DataError, match=r"^column 'y': binary classification needs 2 classes, the target has 3\. Fix: set problem\.task=multiclass_classification"):
        check_target(pd.Series(np.arange(30) % 3, name="y"), "binary_classification", 5)


def test_multiclass_with_two_classes_points_to_binary():
    with pytest.raises(DataError, match=r"^column 'y': the target has only 2 classes\. Fix: set problem\.task=binary_classification"):
        check_target(pd.Series(np.arange(30) % 2, name="y"), "multiclass_classification", 5)


def test_a_class_smaller_than_the_folds_is_refused():
    y = pd.Series(["ok"] * 40 + ["rare"] * 4, name="y")
    with pytest.raises(DataError, match=r"^column 'y': class 'rare' has 4 rows, fewer than the 5 CV folds"):
        check_target(y, "binary_classification", 5)
    check_target(y, "binary_classification", 4)


def test_string_classes_pass():
    check_target(pd.Series(["spam", "ham"] * 15, name="y"), "binary_classification", 5)


# --- check_time ------------------------------------------------------------------------------------

@pytest.mark.parametrize(
    "values",
    [
        np.arange(50.0),
        pd.date_range("2024-01-01", periods=50, freq="D"),
        [f"2024-01-{d:02d}" for d in range(1, 29)],
        [f"2024-03-01 {h:02d}:15:00" for h in range(24)],
    ],
)
def test_parseable_time_columns_pass(values):
    check_time(pd.Series(values, name="when"))


def test_unparseable_times_name_the_column_and_an_example():
    values = pd.Series([f"2024-01-{d:02d}" for d in range(1, 29)] + ["next week", "soon"], name="when")
    with pytest.raises(DataError, match=r"^column 'when': 2 values of the time column are not dates or numbers \(e\.g\. 'next week'\)"):
        check_time(values)


@pytest.mark.parametrize("values", [[1.0, 2.0, np.nan, 4.0], pd.to_datetime(["2024-01-01", None, "2024-01-03"])])
def test_missing_times_are_refused(values):
    with pytest.raises(DataError, match=r"^column 't': the time column has 1 missing values"):
        check_time(pd.Series(values, name="t"))


# --- check_frame: features and findings ------------------------------------------------------------

def kinds(checked):
    return {(f.kind, f.column) for f in checked.findings}


def test_a_clean_frame_keeps_every_column_but_the_target():
    checked = check_frame(frame(), problem(), 5)
    assert checked.features == ["x1", "x2"]
    assert checked.findings == []


def test_too_few_rows_for_the_folds_are_refused():
    with pytest.raises(DataError, match=r"^problem\.data\.source: only 24 rows, too few for 5-fold CV"):
        check_frame(frame(24), problem(), 5)
    check_frame(frame(25), problem(), 5)


def test_empty_and_constant_columns_are_left_out_with_findings():
    checked = check_frame(frame(empty=np.nan, country="FR"), problem(), 5)
    assert checked.features == ["x1", "x2"]
    assert kinds(checked) == {("empty_column", "empty"), ("constant_column", "country")}
    assert any("column 'country' is constant" in f.message for f in checked.findings)


@pytest.mark.parametrize(
    "name, values",
    [
        ("customer_id", np.random.default_rng(1).permutation(100)),  # named like an ID
        ("uuid", [f"{i:08x}" for i in range(100)]),
        ("row_number", np.arange(100, 200)),  # unique and monotonic integers
        ("ref", [f"R{i}" for i in np.random.default_rng(2).permutation(100)]),  # unique strings
    ],
)
def test_id_like_columns_are_left_out_with_a_finding(name, values):
    checked = check_frame(frame(**{name: values}), problem(), 5)
    assert name not in checked.features
    assert ("id_like", name) in kinds(checked)
    message = next(f.message for f in checked.findings if f.column == name)
    assert "looks like an ID" in message and "problem.data.features" in message


def test_unique_measurements_are_not_ids():
    """Continuous features and shuffled counts are unique per row too: they must stay features."""
    rng = np.random.default_rng(5)
    checked = check_frame(frame(amount=rng.gamma(2.0, 10.0, 100), visits=rng.permutation(100)), problem(), 5)
    assert checked.features == ["x1", "x2", "amount", "visits"]
    assert checked.findings == []


def test_small_frames_have_no_id_like_columns():
    checked = check_frame(frame(19, order_id=np.arange(19)), problem(), 3)
    assert "order_id" in checked.features


def test_declared_features_are_kept_even_if_id_like():
    checked = check_frame(frame(row_number=np.arange(100)), problem(features=["row_number", "x1"]), 5)
    assert checked.features == ["row_number", "x1"]
    assert checked.findings == []


def test_declared_ids_excludes_and_group_columns_are_not_features():
    data = frame(account=np.arange(100), shop=np.arange(100) % 7, note=["n"] * 50 + ["m"] * 50)
    checked = check_frame(data, problem(id_columns=["account"], group_column="shop", exclude=["note"]), 5)
    assert checked.features == ["x1", "x2"]
    assert checked.findings == [], "declared columns are left out silently: the brief asked for it"


@pytest.mark.parametrize("as_feature", [False, True])
def test_the_time_column_is_a_feature_only_if_asked(as_feature):
    data = frame(t=np.random.default_rng(0).random(100))
    checked = check_frame(data, problem(time_column="t", time_as_feature=as_feature), 5)
    assert ("t" in checked.features) is as_feature


def test_duplicate_rows_are_counted():
    data = frame(40)
    data = pd.concat([data, data.iloc[:6], data.iloc[:1]], ignore_index=True)
    checked = check_frame(data, problem(), 5)
    dups = [f for f in checked.findings if f.kind == "duplicate_rows"]
    assert len(dups) == 1
    assert dups[0].column is None
    assert dups[0].message.startswith("7 rows are exact duplicates of earlier rows")


def test_no_usable_feature_left_is_refused():
    data = pd.DataFrame({"c": ["same"] * 50, "y": np.arange(50) % 2})
    with pytest.raises(DataError, match=r"^problem\.data\.features: no usable feature column is left"):
        check_frame(data, problem(), 5)


def test_check_frame_checks_the_target_and_the_time_column():
    with pytest.raises(DataError, match=r"^column 'y': the target has a single class"):
        check_frame(frame(y=1), problem(), 5)
    data = frame(t=["2024-01-01"] * 99 + ["never"])
    with pytest.raises(DataError, match=r"^column 't': 1 values of the time column"):
        check_frame(data, problem(time_column="t"), 5)
