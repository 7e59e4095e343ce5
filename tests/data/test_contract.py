"""The data contract: every column typed with evidence; stray words, infinities, repeated names and other
separators end in a finding naming the column and rows, or in one error naming the column or key."""

import json
import re

import numpy as np
import pandas as pd
import pytest

from specweave_ml import antipatterns
from specweave_ml.data import contract, delimited, sources
from specweave_ml.data.checks import check_frame, check_target, check_time
from specweave_ml.data.profile import profile
from specweave_ml.errors import ConfigError, DataError
from specweave_ml.schema import DataSchema, ProblemSchema, Task

ON_DIRTY_FIX = r"problem\.data\.on_dirty=warn"


def brief(source="data.csv", task="binary_classification", **data):
    return ProblemSchema(increment="0099-contract", task=Task(task), data=DataSchema(source=str(source), **{"target": "y", **data}))


def measurements(n=569, seed=0):
    """Numbers with a signal, as a careful export would write them."""
    rng = np.random.default_rng(seed)
    radius = rng.normal(14.0, 3.0, n).round(3)
    return pd.DataFrame({"radius": radius, "texture": rng.normal(19.0, 4.0, n).round(3),
                         "y": (radius + rng.normal(0, 2.0, n) > 14.0).astype(int)})


def with_values(frame, column, values_at):
    out = frame.copy()
    out[column] = out[column].astype(object)
    for row, value in values_at.items():
        out.loc[row, column] = value
    return out


def write_csv(tmp_path, frame, name="data.csv", sep=","):
    path = tmp_path / name
    frame.to_csv(path, index=False, sep=sep)
    return path


def loaded(path, **data):
    """The CSV as the framework reads it, and the brief that points at it."""
    problem = brief(path, **data)
    return sources.load(problem.data), problem


def kinds(checked):
    return [(f.kind, f.column) for f in checked.findings]


# --- every column gets a type with its evidence ------------------------------------------------------

@pytest.mark.parametrize("values, kind, evidence", [
    ([1.5, 2.0, np.nan, 4.0], "numeric", "3 of 4 values are numbers"),
    (["1.5", "2", "3", "4"], "categorical", "4 of 4 values parse as numbers but are stored as text: kept as text"),
    (["red", "green", "red", "blue"], "categorical", "4 of 4 values are not numbers (3 distinct values)"),
    ([True, False, True, True], "boolean", "4 of 4 values are true or false"),
    (["yes", "no", "yes", "no"], "categorical", "4 of 4 values are not numbers (2 distinct values)"),
    (["2024-01-01", "2024-02-01", "2024-03-05", "2024-04-01"], "datetime", "all 4 values parse as dates"),
    (pd.to_datetime(["2024-01-01", "2024-02-01", None, "2024-04-01"]), "datetime", "3 of 4 values are dates"),
    (pd.Series([1, 2, 1, 3], dtype="category"), "categorical", "4 of 4 values are category values"),
    (["EUR"] * 4, "constant", "all 4 values are 'EUR'"),
    ([np.nan] * 4, "empty", "all 4 values are missing"),
])
def test_every_column_gets_a_type_with_evidence(values, kind, evidence):
    reading = contract.read_column(pd.Series(values, name="c"))
    assert (reading.kind, reading.evidence) == (kind, evidence)


def test_the_profile_keeps_each_columns_type_and_evidence(tmp_path):
    frame, problem = loaded(write_csv(tmp_path, measurements().assign(colour=["red", "blue", "green"] * 189 + ["red, blue"] * 2)))
    checked = check_frame(frame, problem, 5)
    prof = profile(checked.frame, "y", "binary_classification", checked, "fp")
    assert prof["column_types"]["radius"] == {"type": "numeric", "evidence": "569 of 569 values are numbers"}
    assert prof["column_types"]["colour"]["type"] == "categorical"
    assert set(prof["column_types"]) == {"radius", "texture", "y", "colour"}
    assert prof["columns"] == 4, "the column count keeps its key"
    json.dumps(prof, allow_nan=False)


# --- a few words among numbers: read as missing, counted and named -----------------------------------

def test_a_stray_word_among_numbers_is_read_as_missing_and_named(tmp_path):
    path = write_csv(tmp_path, with_values(measurements(), "radius", {12: "twelve"}))
    frame, problem = loaded(path)
    assert not pd.api.types.is_numeric_dtype(frame["radius"]), "pandas reads the column as text"
    checked = check_frame(frame, problem, 5)
    assert kinds(checked) == [("coerced_to_missing", "radius")]
    finding = checked.findings[0]
    assert finding.message == ("column 'radius': 1 of 569 values is not a number ('twelve' at row 13): "
                               "read as missing, the column stays numeric")
    assert finding.evidence == {"rows": 1, "examples": [{"row": 13, "value": "twelve"}], "action": "read as missing"}
    assert "radius" in checked.features
    assert checked.frame["radius"].dtype == "float64"
    assert checked.frame["radius"].isna().sum() == 1 and np.isnan(checked.frame["radius"].iloc[12])
    assert checked.columns["radius"] == {"type": "numeric", "evidence": "568 of 569 values parse as numbers; 1 does not"}
    assert frame["radius"].iloc[12] == "twelve", "the loaded frame is left as it was"


def test_several_stray_values_are_counted_with_a_few_examples():
    frame = with_values(measurements(), "radius", {3: "n/a", 40: "?", 41: "twelve", 300: "?"})
    checked = check_frame(frame, brief(), 5)
    assert checked.findings[0].message.startswith(
        "column 'radius': 4 of 569 values are not numbers ('n/a' at row 4, '?' at row 41, 'twelve' at row 42, ...)")
    assert checked.findings[0].evidence["rows"] == 4


def test_a_stray_word_is_an_error_when_the_brief_is_strict(tmp_path):
    frame, problem = loaded(write_csv(tmp_path, with_values(measurements(), "radius", {12: "twelve"})), on_dirty="error")
    with pytest.raises(DataError, match=r"^column 'radius': 1 of 569 values is not a number \('twelve' at row 13\)\. "
                                        rf"Fix: fix or remove those values, or set {ON_DIRTY_FIX} to read them as missing$"):
        check_frame(frame, problem, 5)


@pytest.mark.parametrize("share", [0.06, 0.5])
def test_a_genuinely_textual_column_is_not_coerced(share):
    """Words with some numbers among them stay text: more than FEW_SHARE of the values are not numbers."""
    rng = np.random.default_rng(1)
    n = 400
    words = rng.choice(["north", "south", "east", "west", "centre", "harbour", "old town"], n).astype(object)
    numbers = rng.random(n) > share  # most values numbers, but too many words to be strays
    district = np.where(numbers, rng.integers(1, 30, n).astype(str), words)
    frame = measurements(n).assign(district=district)
    checked = check_frame(frame, brief(), 5)
    assert checked.findings == []
    assert checked.columns["district"]["type"] == "categorical"
    pd.testing.assert_series_equal(checked.frame["district"], frame["district"])


def test_more_than_fifty_words_are_not_strays_even_among_many_numbers():
    n = 2_000
    frame = with_values(measurements(n), "radius", {row: "pending" for row in range(0, 2_000, 39)})  # 52 rows: 2.6%
    checked = check_frame(frame, brief(), 5)
    assert (frame["radius"] == "pending").sum() == contract.FEW_MAX + 2
    assert checked.columns["radius"]["type"] == "categorical"
    assert "coerced_to_missing" not in {f.kind for f in checked.findings}


def test_an_id_column_with_a_stray_word_is_still_an_id():
    ids = [str(v) for v in np.random.default_rng(3).permutation(np.arange(10_000, 10_569))]
    frame = measurements().assign(account_id=ids)
    frame.loc[7, "account_id"] = "unknown"
    checked = check_frame(frame, brief(), 5)
    assert kinds(checked) == [("id_like", "account_id")]


# --- infinite numbers: read as missing, counted ------------------------------------------------------

def test_infinite_values_in_a_csv_are_read_as_missing_and_counted(tmp_path):
    path = write_csv(tmp_path, with_values(measurements(), "texture", {2: "inf", 16: "-inf", 41: "Infinity", 99: "-Infinity"}))
    frame, problem = loaded(path)
    assert np.isinf(frame["texture"]).sum() == 4, "pandas reads the words as infinities"
    checked = check_frame(frame, problem, 5)
    assert kinds(checked) == [("non_finite", "texture")]
    assert checked.findings[0].message == ("column 'texture': 4 of 569 values are infinite or beyond ±1e+150 "
                                           "(inf at row 3, -inf at row 17, inf at row 42, ...): read as missing")
    assert checked.findings[0].evidence["rows"] == 4
    values = checked.frame["texture"]
    assert not np.isinf(values).any() and values.isna().sum() == 4
    assert "texture" in checked.features
    assert checked.columns["texture"]["evidence"] == "569 of 569 values are numbers; 4 infinite"


def test_infinities_among_text_numbers_are_counted_once_each():
    frame = with_values(measurements(), "radius", {5: "inf", 6: "twelve"})
    checked = check_frame(frame, brief(), 5)
    assert kinds(checked) == [("coerced_to_missing", "radius"), ("non_finite", "radius")]
    assert "'inf' at row 6" in checked.findings[1].message
    assert checked.frame["radius"].isna().sum() == 2


def test_infinite_values_are_an_error_when_the_brief_is_strict():
    frame = measurements()
    frame.loc[[2, 16], "texture"] = [np.inf, -np.inf]
    with pytest.raises(DataError, match=r"^column 'texture': 2 of 569 values are infinite or beyond ±1e\+150 \(inf at row 3, -inf at row 17\)\. "
                                        rf"Fix: replace them with numbers or empty cells, or set {ON_DIRTY_FIX}"):
        check_frame(frame, brief(on_dirty="error"), 5)


def test_a_column_of_infinities_ends_empty_and_left_out():
    frame = measurements().assign(broken=np.inf)
    frame.loc[0, "broken"] = -np.inf
    checked = check_frame(frame, brief(), 5)
    assert kinds(checked) == [("non_finite", "broken"), ("empty_column", "broken")]
    assert "broken" not in checked.features


# --- the target is never made up ---------------------------------------------------------------------

@pytest.mark.parametrize("task", ["binary_classification", "regression"])
def test_infinite_targets_are_refused(task):
    y = pd.Series(np.arange(100.0) % 2 if task != "regression" else np.arange(100.0), name="label")
    y.iloc[[4, 9]] = np.inf
    with pytest.raises(DataError, match=r"^column 'label': the target has 2 values that are infinite or beyond ±1e\+150 \(inf at row 5, inf at row 10\)\. "
                                        r"Fix: fix or drop those rows: a target cannot be made up$"):
        check_target(y, task, 5)


def test_a_stray_word_in_a_regression_target_is_refused():
    frame = with_values(measurements(), "y", {12: "twelve"})
    frame["y"] = frame["y"].astype(str)
    with pytest.raises(DataError, match=r"^column 'y': the target has 1 value that is not a number \('twelve' at row 13\)\. "
                                        r"Fix: fix or drop those rows"):
        check_frame(frame, brief(task="regression"), 5)


def test_class_labels_may_be_words_and_numbers():
    y = pd.Series(["1", "2", "other"] * 40, name="grade")
    check_target(y, "multiclass_classification", 5)


def test_infinite_times_are_refused():
    with pytest.raises(DataError, match=r"^column 't': the time column has 1 infinite values"):
        check_time(pd.Series([1.0, 2.0, np.inf, 4.0], name="t"))


# --- repeated column names ---------------------------------------------------------------------------

@pytest.mark.parametrize("on_dirty", ["warn", "error"])
def test_a_repeated_header_name_is_an_error_naming_it(tmp_path, on_dirty):
    path = tmp_path / "dup.csv"
    path.write_text("radius,texture,radius,y\n" + "".join(f"{i},{i * 2},{i * 3},{i % 2}\n" for i in range(40)))
    problem = brief(path, on_dirty=on_dirty)
    message = (rf"^problem\.data\.source: the header of '{path}' repeats the column name 'radius' \(columns 1, 3\)\. "
               r"Fix: give each column its own name in the file \(pandas would read the second as 'radius\.1' without a word\)$")
    with pytest.raises(DataError, match=message):
        sources.load(problem.data)
    with pytest.raises(DataError, match=message):
        sources.header(problem.data)


def test_several_repeated_names_are_all_named():
    with pytest.raises(DataError, match=r"repeats the column names 'a' \(columns 1, 3, 5\), 'b' \(columns 2, 4\)\."):
        delimited.require_unique(["a", "b", "a", "b", "a", "", ""], "f.csv")


def test_a_frame_with_a_repeated_column_name_is_refused():
    frame = pd.concat([measurements(), measurements()[["radius"]]], axis=1)
    with pytest.raises(DataError, match=r"^problem\.data\.source: the data has more than one column named 'radius'\. "):
        check_frame(frame, brief(), 5)


# --- another separator -------------------------------------------------------------------------------

@pytest.mark.parametrize("sep, name", [(";", "semicolon"), ("\t", "tab"), ("|", "pipe")])
def test_a_file_separated_otherwise_is_read_with_its_separator_and_says_so(tmp_path, sep, name):
    path = write_csv(tmp_path, measurements(), sep=sep)
    frame, problem = loaded(path)
    assert list(frame.columns) == ["radius", "texture", "y"]
    assert sources.header(problem.data) == ["radius", "texture", "y"]
    checked = check_frame(frame, problem, 5)
    assert kinds(checked) == [("separator_detected", None)]
    assert checked.findings[0].message == (f"'{path}' is separated by {sep!r} ({name}), not commas: read with it; "
                                           f"set problem.data.separator={name} to say so")


def test_a_file_separated_otherwise_is_an_error_when_the_brief_is_strict(tmp_path):
    path = write_csv(tmp_path, measurements(), sep=";")
    problem = brief(path, on_dirty="error")
    with pytest.raises(DataError, match=rf"^problem\.data\.separator: '{path}' looks separated by ';' \(semicolon\): read with "
                                        r"commas, its header is one column 'radius;texture;y'\. Fix: set problem\.data\.separator=semicolon"):
        sources.load(problem.data)
    with pytest.raises(DataError, match=r"^problem\.data\.separator: .* looks separated by ';' \(semicolon\), not commas\. "
                                        r"Fix: set problem\.data\.separator=semicolon"):
        check_frame(pd.read_csv(path, sep=";"), problem, 5)


@pytest.mark.parametrize("separator", ["semicolon", ";"])
def test_a_declared_separator_is_used_without_a_finding(tmp_path, separator):
    frame, problem = loaded(write_csv(tmp_path, measurements(), sep=";"), separator=separator)
    assert list(frame.columns) == ["radius", "texture", "y"]
    assert check_frame(frame, problem, 5).findings == []


def test_a_declared_separator_the_file_does_not_use_is_an_error(tmp_path):
    problem = brief(write_csv(tmp_path, measurements()), separator="semicolon")
    with pytest.raises(DataError, match=r"^problem\.data\.separator: .* looks separated by ',' \(comma\): read with "
                                        r"problem\.data\.separator=semicolon, .* Fix: set problem\.data\.separator=comma$"):
        sources.load(problem.data)


def test_separators_are_named_or_single_characters():
    assert [delimited.separator_of(v) for v in (None, "tab", "Semicolon", "|", "\\t")] == [",", "\t", ";", "|", "\t"]
    with pytest.raises(ConfigError, match=r"^problem\.data\.separator: must be one character or one of comma, semicolon, tab, pipe, got 'ab'"):
        delimited.separator_of("ab")


def test_commas_inside_quotes_are_not_another_separator(tmp_path):
    path = tmp_path / "quoted.csv"
    path.write_text("note,value,y\n" + "".join(f'"a; b | c{i % 3}",{i % 7},{i % 2}\n' for i in range(30)))
    frame, problem = loaded(path)
    assert list(frame.columns) == ["note", "value", "y"]
    assert "separator_detected" not in {f.kind for f in check_frame(frame, problem, 5).findings}


# --- silence on clean data ---------------------------------------------------------------------------

def test_a_clean_file_raises_no_finding(tmp_path):
    frame, problem = loaded(write_csv(tmp_path, measurements().assign(colour=["red", "blue", "green"] * 189 + ["red"] * 2)))
    checked = check_frame(frame, problem, 5)
    assert checked.findings == []
    pd.testing.assert_frame_equal(checked.frame, frame)


# --- findings reach the report -----------------------------------------------------------------------

def test_contract_findings_render_as_anti_pattern_findings_with_their_severity(tmp_path):
    frame = with_values(measurements(), "radius", {12: "twelve"})
    frame.loc[3, "texture"] = np.inf
    path = write_csv(tmp_path, frame, sep=";")
    data, problem = loaded(path)
    checked = check_frame(data, problem, 5)
    prof = json.loads(json.dumps(profile(checked.frame, "y", "binary_classification", checked, "fp")))
    found = {f.kind: f for f in antipatterns.from_profile(prof)}
    assert {k: f.severity for k, f in found.items()} == {
        "separator_detected": "info", "coerced_to_missing": "warning", "non_finite": "warning"}
    assert found["coerced_to_missing"].evidence["column"] == "radius"
    assert found["non_finite"].evidence["rows"] == 1
    assert all("evidence" not in f for f in prof["findings"] if f["kind"] not in found)


# --- through the stages ------------------------------------------------------------------------------

def csv_brief(path, increment="0042-messy-csv", *extra):
    return ["problem=breast_cancer", f"problem.data.source={path}", "problem.data.target=y",
            f"problem.increment={increment}", "problem.metrics.others=[]", *extra]


def test_prepare_splits_and_profiles_the_cleaned_data(compose, tmp_path, tmp_path_factory):
    from specweave_ml.stages import run_stage

    messy = with_values(measurements(), "radius", {12: "twelve"})
    messy.loc[[2, 16], "texture"] = [np.inf, -np.inf]
    path = write_csv(tmp_path_factory.mktemp("messy"), messy, sep=";")
    cfg = compose([*csv_brief(path), "stage=prepare"])
    run_stage(cfg)
    root = tmp_path / "increments" / cfg.problem.increment
    train = pd.read_parquet(root / "data/train.parquet")
    test = pd.read_parquet(root / "data/test.parquet")
    both = pd.concat([train, test])
    assert both["radius"].dtype == "float64" and both["radius"].isna().sum() == 1
    assert not np.isinf(both["texture"]).any() and both["texture"].isna().sum() == 2
    prof = json.loads((root / "reports/profile.json").read_text())
    assert [f["kind"] for f in prof["findings"]] == ["separator_detected", "coerced_to_missing", "non_finite"]
    assert prof["column_types"]["radius"]["type"] == "numeric"
    assert prof["missing_values"] == {"radius": 1, "texture": 2}
    prepared = json.loads((root / "reports/prepare.json").read_text())
    assert [f["kind"] for f in prepared["findings"]] == ["separator_detected", "coerced_to_missing", "non_finite"]
    assert "'twelve' at row 13" in (root / "spec.md").read_text()


def test_a_strict_brief_on_dirty_data_writes_nothing(compose, tmp_path, tmp_path_factory):
    from specweave_ml.stages import run_stage

    path = write_csv(tmp_path_factory.mktemp("messy"), with_values(measurements(), "radius", {12: "twelve"}))
    cfg = compose([*csv_brief(path, "0042-messy-csv", "problem.data.on_dirty=error"), "stage=prepare"])
    with pytest.raises(DataError, match=r"^column 'radius': 1 of 569 values is not a number"):
        run_stage(cfg)
    assert list(tmp_path.iterdir()) == []


@pytest.mark.slow
def test_infinite_values_train_without_a_traceback_and_are_reported(cli, tmp_path, tmp_path_factory):
    messy = measurements()
    messy.loc[[2, 16, 41], "texture"] = [np.inf, -np.inf, np.inf]
    path = write_csv(tmp_path_factory.mktemp("inf"), messy)
    args = [*csv_brief(path), "model=linear", "tracking=off", "progress=false"]
    for stage in ("fetch", "prepare", "train", "evaluate"):
        run = cli(*args, f"stage={stage}", timeout=300)
        assert run.returncode == 0, run.stderr[-2000:]
        assert "Traceback" not in run.stderr
    root = tmp_path / "increments" / "0042-messy-csv"
    found = [f for f in json.loads((root / "reports/antipatterns.json").read_text())["findings"] if f["kind"] == "non_finite"]
    assert len(found) == 1 and found[0]["severity"] == "warning"
    assert found[0]["evidence"]["rows"] == 3 and found[0]["evidence"]["column"] == "texture"
    assert "3 of 569 values are infinite" in found[0]["message"]


@pytest.mark.slow
@pytest.mark.parametrize("case, extra, message", [
    ("repeated header", [], r"problem\.data\.source: the header of '.*' repeats the column name 'radius' \(columns 1, 3\)"),
    ("semicolons", ["problem.data.on_dirty=error"], r"problem\.data\.separator: '.*' looks separated by ';' \(semicolon\).*"
                                                     r"Fix: set problem\.data\.separator=semicolon"),
    ("a stray word", ["problem.data.on_dirty=error"], r"column 'radius': 1 of 569 values is not a number \('twelve' at row 13\)"),
    ("infinities", ["problem.data.on_dirty=error"], r"column 'texture': 1 of 569 values is infinite or beyond ±1e\+150 \(inf at row 3\)"),
])
def test_dirty_data_ends_in_one_line_exit_2_and_nothing_written(cli, tmp_path, tmp_path_factory, case, extra, message):
    folder = tmp_path_factory.mktemp("dirty")
    path = folder / "dirty.csv"
    if case == "repeated header":
        path.write_text("radius,texture,radius,y\n" + "".join(f"{i},{i * 2},{i * 3},{i % 2}\n" for i in range(100)))
    elif case == "semicolons":
        write_csv(folder, measurements(), "dirty.csv", sep=";")
    elif case == "a stray word":
        write_csv(folder, with_values(measurements(), "radius", {12: "twelve"}), "dirty.csv")
    else:
        write_csv(folder, with_values(measurements(), "texture", {2: "inf"}), "dirty.csv")
    run = cli(*csv_brief(path), *extra, "stage=prepare")
    assert run.returncode == 2, run.stderr[-2000:]
    assert "Traceback" not in run.stderr
    lines = [line for line in run.stderr.splitlines() if line.strip()]
    assert len(lines) == 1 and lines[0].startswith("error: ") and re.search(message, lines[0]), run.stderr
    assert not (tmp_path / "increments").exists() or not any((tmp_path / "increments").rglob("*.json"))
