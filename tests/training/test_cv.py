"""Cross-validation on the saved folds: the right rows in each fold, scores recomputable, no look-ahead in time."""

import json

import numpy as np
import pandas as pd
import pytest
from omegaconf import OmegaConf
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import f1_score, roc_auc_score
from sklearn.pipeline import Pipeline

from specweave_ml.data.split import FOLD
from specweave_ml.models.decision import DecisionModel
from specweave_ml.training.cv import CVResult, cross_validate, metric_value
from specweave_ml.training.folds import fold_indices
from specweave_ml.training.pipelines import build_pipeline


def logistic(task="binary_classification"):
    return DecisionModel(Pipeline([("model", LogisticRegression(max_iter=1000))]), task=task)


# --- fold_indices ---------------------------------------------------------------------------------

def test_kfold_folds_validate_each_row_once_and_train_on_the_rest():
    fold = np.array([2, 0, 1, 0, 2, 1, 1, 0, 2, 0])
    seen = []
    for train, val in fold_indices(fold, "stratified_kfold"):
        assert set(train).isdisjoint(val)
        assert sorted([*train, *val]) == list(range(len(fold)))
        seen.extend(val)
    assert sorted(seen) == list(range(len(fold)))


def test_expanding_window_trains_only_on_rows_before_the_validation_block():
    # -1: the first block, only ever trained on (as TimeSeriesSplit leaves it).
    fold = np.array([-1, -1, -1, 0, 0, 1, 1, 2, 2])
    pairs = list(fold_indices(fold, "expanding_window"))
    assert [list(t) for t, _ in pairs] == [[0, 1, 2], [0, 1, 2, 3, 4], [0, 1, 2, 3, 4, 5, 6]]
    assert [list(v) for _, v in pairs] == [[3, 4], [5, 6], [7, 8]]


def test_with_a_time_column_no_training_row_is_later_than_any_test_or_validation_row(stages, csv_brief, tmp_path, timed_frame):
    assert not timed_frame["t"].is_monotonic_increasing  # the file is not in time order
    overrides = csv_brief(tmp_path / "timed.csv", timed_frame, "y", "0102-time-order", "binary_classification",
                          "problem.data.time_column=t")
    inc = stages(overrides, "prepare")
    train, test = pd.read_parquet(inc / "data/train.parquet"), pd.read_parquet(inc / "data/test.parquet")
    assert len(train) + len(test) == len(timed_frame)
    assert train["t"].max() < test["t"].min()

    split = json.loads((inc / "data/split.json").read_text())
    assert split["cv_strategy"] == "expanding_window"
    folds = list(fold_indices(train[FOLD].to_numpy(), split["cv_strategy"]))
    assert len(folds) == split["cv_folds"] == 5
    for train_idx, val_idx in folds:
        assert len(train_idx) > 0
        assert train["t"].iloc[train_idx].max() < train["t"].iloc[val_idx].min()
    validated = np.concatenate([v for _, v in folds])
    first_block = np.flatnonzero(train[FOLD].to_numpy() == -1)
    assert len(first_block) > 0 and np.intersect1d(first_block, validated).size == 0


# --- cross_validate ------------------------------------------------------------------------------

@pytest.fixture
def binary_data():
    rng = np.random.default_rng(11)
    n = 200
    X = pd.DataFrame({"a": rng.normal(size=n), "b": rng.normal(size=n)})
    y = ((X["a"] + rng.normal(scale=1.0, size=n)) > 0).astype(int).to_numpy()
    fold = rng.permutation(np.arange(n) % 4)
    return X, y, fold


def test_fold_scores_are_what_sklearn_computes_on_each_folds_rows(binary_data):
    X, y, fold = binary_data
    fitted = []

    def make():
        fitted.append(logistic())
        return fitted[-1]

    calls = []
    result = cross_validate("lr", "candidate", make, X, y, fold, "stratified_kfold", "binary_classification", "roc_auc",
                            on_fold=lambda: calls.append(1))
    assert len(result.val_scores) == len(result.train_scores) == len(calls) == 4
    for i, (model, (train_idx, val_idx)) in enumerate(zip(fitted, fold_indices(fold, "stratified_kfold"))):
        assert result.val_scores[i] == pytest.approx(roc_auc_score(y[val_idx], model.scores(X.iloc[val_idx])), abs=1e-12)
        assert result.train_scores[i] == pytest.approx(roc_auc_score(y[train_idx], model.scores(X.iloc[train_idx])), abs=1e-12)
        # The fold's model was fitted on its training rows: refitting them gives the same coefficients.
        ref = LogisticRegression(max_iter=1000).fit(X.iloc[train_idx], y[train_idx])
        np.testing.assert_allclose(model.pipeline_.named_steps["model"].coef_, ref.coef_, rtol=1e-6)
    assert result.mean == pytest.approx(np.mean(result.val_scores))
    assert result.train_mean == pytest.approx(np.mean(result.train_scores))


def test_out_of_fold_scores_come_from_the_model_that_never_saw_the_row(binary_data):
    X, y, fold = binary_data
    fitted = []

    def make():
        fitted.append(logistic())
        return fitted[-1]

    result = cross_validate("lr", "candidate", make, X, y, fold, "stratified_kfold", "binary_classification", "roc_auc")
    assert sorted(result.oof_index) == list(range(len(X)))
    position = {row: k for k, row in enumerate(result.oof_index)}
    for model, (_, val_idx) in zip(fitted, fold_indices(fold, "stratified_kfold")):
        got = result.oof_scores[[position[r] for r in val_idx]]
        np.testing.assert_allclose(got, model.scores(X.iloc[val_idx]), rtol=1e-12)


def test_sample_weights_reach_each_folds_fit(binary_data):
    X, y, fold = binary_data
    weights = np.where(y == 1, 5.0, 1.0)
    plain = cross_validate("lr", "candidate", logistic, X, y, fold, "stratified_kfold", "binary_classification", "f1")
    weighted = cross_validate("lr", "candidate", logistic, X, y, fold, "stratified_kfold", "binary_classification", "f1", weights)
    # Up-weighting positives flags more rows at 0.5, so the scores differ.
    assert plain.val_scores != weighted.val_scores
    assert (weighted.oof_scores >= 0.5).sum() > (plain.oof_scores >= 0.5).sum()


def test_multiclass_scores_keep_one_column_per_class_when_a_fold_misses_one(composed):
    rng = np.random.default_rng(2)
    n = 90
    y = np.repeat([0, 1, 2], n // 3)
    X = pd.DataFrame({"a": y + rng.normal(scale=0.3, size=n), "b": rng.normal(size=n)})
    fold = np.tile([0, 1, 2], n // 3)
    fold[y == 2] = 0  # every row of class 2 is validated in fold 0, so fold 0 trains without it
    spec = OmegaConf.to_object(composed().models.linear)

    def make():
        return DecisionModel(build_pipeline(spec, "multiclass_classification", X, ["a", "b"], 0), task="multiclass_classification")

    result = cross_validate("linear", "candidate", make, X, y, fold, "kfold", "multiclass_classification", "f1_macro")
    assert result.oof_scores.shape == (n, 3)
    fold0 = np.isin(result.oof_index, np.flatnonzero(fold == 0))
    assert np.all(result.oof_scores[fold0, 2] == 0)  # class 2 unknown to that fold's model
    np.testing.assert_allclose(result.oof_scores.sum(axis=1), 1.0)
    assert result.val_scores[1] > 0.9  # folds that know every class still score normally


def test_metric_value_decides_at_half_for_binary_and_by_argmax_for_multiclass():
    y = np.array([0, 1, 1, 0])
    scores = np.array([0.2, 0.5, 0.49, 0.9])
    assert metric_value("f1", "binary_classification", y, scores, [0, 1]) == f1_score(y, [0, 1, 0, 1])
    proba = np.array([[0.7, 0.2, 0.1], [0.1, 0.3, 0.6], [0.2, 0.5, 0.3]])
    assert metric_value("accuracy", "multiclass_classification", np.array([0, 2, 1]), proba, [0, 1, 2]) == 1.0
    assert metric_value("mae", "regression", np.array([1.0, 3.0]), np.array([2.0, 3.0]), None) == 0.5


def test_cv_result_summary_reports_folds_and_means():
    r = CVResult("rf", "candidate", "roc_auc", val_scores=[0.8, 0.9], train_scores=[1.0, 1.0], fit_seconds=1.234)
    s = r.summary()
    assert s["folds"] == [0.8, 0.9] and s["train_folds"] == [1.0, 1.0]
    assert s["mean"] == pytest.approx(0.85) and s["std"] == pytest.approx(0.05) and s["train_mean"] == 1.0
    assert s["kind"] == "candidate" and s["metric"] == "roc_auc" and s["fit_seconds"] == 1.23
