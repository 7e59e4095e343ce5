"""``stage=predict``: a file scored with the packaged model; its columns checked against the signature first.

Every test scores with an increment trained by ``stage=all`` (shared by the session), hence ``slow``.
"""

import json

import numpy as np
import pandas as pd
import pytest

from specweave_ml.errors import ConfigError, DataError
from specweave_ml.packaging import load_model


def read(path):
    return json.loads(path.read_text())


def new_rows(run, n=20):
    """Rows as a user would send them: the features in another order, with an id column alongside."""
    features = read(run.inc / "data/split.json")["features"]
    rows = pd.read_parquet(run.inc / "data/test.parquet")[features].head(n)
    rows = rows[features[::-1]]
    rows.insert(0, "request_id", [f"r{i}" for i in range(len(rows))])
    return rows


def packaged(run):
    return load_model(run.inc / "models/champion", read(run.inc / "metadata.json")["model"]["sha256"])


def one_error_line(stderr):
    assert "Traceback" not in stderr
    errors = [line for line in stderr.splitlines() if line.startswith("error:")]
    assert len(errors) == 1, stderr
    return errors[0]


@pytest.fixture
def predict(stages_at):
    """``predict(run, input, output)``: stage=predict in this process."""

    def _predict(run, source, target):
        stages_at(run.root, [*run.overrides, f"input={source}", f"output={target}"], "predict")
        return target

    return _predict


# --- good input ----------------------------------------------------------------------------------

@pytest.mark.slow
def test_a_good_csv_gets_scores_and_decisions(increment, specweave, tmp_path):
    run = increment("breast_cancer")
    rows = new_rows(run)
    source, out = tmp_path / "rows.csv", tmp_path / "scored.csv"
    rows.to_csv(source, index=False)
    done = specweave(run.root, *run.overrides, "stage=predict", f"input={source}", f"output={out}")
    assert done.returncode == 0, done.stderr
    scored = pd.read_csv(out)
    assert list(scored.columns) == [*rows.columns, "score", "prediction"]
    assert (scored["request_id"] == rows["request_id"]).all()
    model = packaged(run)
    features = read(run.inc / "data/split.json")["features"]
    np.testing.assert_allclose(scored["score"], model.scores(rows[features]), rtol=1e-9)
    assert (scored["prediction"] == (scored["score"] >= model.threshold).astype(int)).all()


@pytest.mark.slow
def test_multiclass_parquet_output_has_a_probability_per_class(increment, predict, tmp_path):
    run = increment("wine")
    rows = new_rows(run)
    source = tmp_path / "rows.parquet"
    rows.to_parquet(source)
    scored = pd.read_parquet(predict(run, source, tmp_path / "scored.parquet"))
    proba = scored[["proba_0", "proba_1", "proba_2"]].to_numpy()
    np.testing.assert_allclose(proba.sum(axis=1), 1.0)
    assert (scored["prediction"].to_numpy() == proba.argmax(axis=1)).all()
    assert "score" not in scored.columns


@pytest.mark.slow
def test_regression_output_has_the_predicted_value(increment, predict, tmp_path):
    run = increment("diabetes")
    rows = new_rows(run)
    source = tmp_path / "rows.csv"
    rows.to_csv(source, index=False)
    scored = pd.read_csv(predict(run, source, tmp_path / "scored.csv"))
    features = read(run.inc / "data/split.json")["features"]
    np.testing.assert_allclose(scored["prediction"], packaged(run).predict(rows[features]), rtol=1e-9)
    assert list(scored.columns) == [*rows.columns, "prediction"]


@pytest.mark.slow
def test_integer_columns_are_accepted_for_double_features(increment, predict, tmp_path):
    run = increment("breast_cancer")
    rows = new_rows(run).round(0)
    rows["mean radius"] = rows["mean radius"].astype(int)
    source = tmp_path / "rows.csv"
    rows.to_csv(source, index=False)
    assert len(pd.read_csv(predict(run, source, tmp_path / "scored.csv"))) == len(rows)


# --- bad input: one line naming the column, exit 2, nothing written --------------------------------------

@pytest.mark.slow
def test_a_missing_column_is_named_and_nothing_is_written(increment, specweave, tmp_path):
    run = increment("breast_cancer")
    source, out = tmp_path / "rows.csv", tmp_path / "scored.csv"
    new_rows(run).drop(columns=["worst radius"]).to_csv(source, index=False)
    done = specweave(run.root, *run.overrides, "stage=predict", f"input={source}", f"output={out}")
    assert done.returncode == 2
    line = one_error_line(done.stderr)
    assert line.startswith("error: input: missing column(s) worst radius that the model needs")
    assert not out.exists()


@pytest.mark.slow
def test_a_non_numeric_value_is_named_with_its_column_and_nothing_is_written(increment, specweave, tmp_path):
    run = increment("breast_cancer")
    rows = new_rows(run).astype({"mean texture": object})
    rows.loc[3, "mean texture"] = "abc"
    source, out = tmp_path / "rows.csv", tmp_path / "scored.csv"
    rows.to_csv(source, index=False)
    done = specweave(run.root, *run.overrides, "stage=predict", f"input={source}", f"output={out}")
    assert done.returncode == 2
    line = one_error_line(done.stderr)
    assert line.startswith("error: column 'mean texture': expected numbers (double), found 'abc' in 1 row(s)")
    assert not out.exists()


@pytest.mark.slow
def test_several_missing_columns_are_all_named(increment, predict, tmp_path):
    run = increment("breast_cancer")
    source, out = tmp_path / "rows.csv", tmp_path / "scored.csv"
    new_rows(run).drop(columns=["worst radius", "mean area"]).to_csv(source, index=False)
    with pytest.raises(DataError, match=r"^input: missing column\(s\) mean area, worst radius that the model needs"):
        predict(run, source, out)
    assert not out.exists()


@pytest.mark.slow
def test_an_input_that_does_not_exist_names_the_key(increment, predict, tmp_path):
    run = increment("breast_cancer")
    with pytest.raises(ConfigError, match=r"^input: file '.*missing\.csv' does not exist"):
        predict(run, tmp_path / "missing.csv", tmp_path / "scored.csv")


@pytest.mark.slow
def test_an_output_that_is_neither_csv_nor_parquet_is_refused_before_scoring(increment, predict, tmp_path):
    run = increment("breast_cancer")
    source = tmp_path / "rows.csv"
    new_rows(run).to_csv(source, index=False)
    with pytest.raises(ConfigError, match=r"^output: '.*scored\.txt' is neither \.csv nor \.parquet"):
        predict(run, source, tmp_path / "scored.txt")
    assert not (tmp_path / "scored.txt").exists()


@pytest.mark.slow
def test_predict_needs_both_input_and_output(increment, stages_at):
    run = increment("breast_cancer")
    with pytest.raises(ConfigError, match="^input: stage=predict needs input=<file> and output=<file>"):
        stages_at(run.root, list(run.overrides), "predict")
