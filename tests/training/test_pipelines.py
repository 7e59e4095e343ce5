"""Leakage-safe pipelines: preprocessing lives inside each candidate's Pipeline and sees training rows only."""

import json

import numpy as np
import pandas as pd
import pytest
from omegaconf import OmegaConf
from sklearn.impute import SimpleImputer
from sklearn.preprocessing import OneHotEncoder, OrdinalEncoder, StandardScaler

from specweave_ml.models.decision import DecisionModel
from specweave_ml.models.registry import REGISTRY, build, trainable
from specweave_ml.packaging import load_model
from specweave_ml.training.cv import cross_validate
from specweave_ml.training.folds import fold_indices
from specweave_ml.training.pipelines import NativeCategories, build_pipeline, class_weights, column_kinds

# The models these tests build are tabular (pipelines, classifiers and regressors); forecasters are tested in
# tests/forecasting.
TABULAR = sorted(n for n in trainable() if REGISTRY[n].serves("binary_classification", "tabular"))


@pytest.fixture(scope="module")
def specs(composed):
    cfg = composed()
    return {name: OmegaConf.to_object(cfg.models[name]) for name in trainable()}


def mixed_frame(n=80, seed=0):
    rng = np.random.default_rng(seed)
    frame = pd.DataFrame({
        "num": rng.normal(size=n),
        "count": rng.integers(0, 5, size=n),
        "colour": rng.choice(["red", "green", "blue"], size=n),
        "flag": rng.random(n) < 0.5,
    })
    frame.loc[::7, "num"] = np.nan
    frame.loc[::11, "colour"] = None
    y = (frame["num"].fillna(0) + (frame["colour"] == "red") > 0.3).astype(int).to_numpy()
    return frame, y


def numeric_steps(model):
    """The fitted imputer and scaler of a linear candidate's numeric branch."""
    numeric = model.pipeline_.named_steps["preprocess"].named_transformers_["numeric"]
    return numeric.named_steps["simpleimputer"], numeric.named_steps["standardscaler"]


def train_only_statistics(X):
    """What an imputer and a scaler fitted on exactly these rows learn."""
    medians = X.median()
    filled = X.fillna(medians)
    return medians.to_numpy(), filled.mean().to_numpy(), filled.std(ddof=0).to_numpy()


# --- what each family's preprocessing is ------------------------------------------------------------

def test_column_kinds_treats_text_and_booleans_as_categories():
    frame, _ = mixed_frame()
    numeric, categorical = column_kinds(frame, ["num", "count", "colour", "flag"])
    assert numeric == ["num", "count"]
    assert categorical == ["colour", "flag"]


def test_linear_candidates_impute_scale_and_one_hot_encode(specs):
    frame, _ = mixed_frame()
    pre = build_pipeline(specs["linear"], "binary_classification", frame, list(frame.columns), 0).named_steps["preprocess"]
    kinds = {name: (step, cols) for name, step, cols in pre.transformers}
    numeric, num_cols = kinds["numeric"]
    categorical, cat_cols = kinds["categorical"]
    boolean, bool_cols = kinds["boolean"]  # encoded alone: True/False has nothing to impute
    assert num_cols == ["num", "count"] and cat_cols == ["colour"] and bool_cols == ["flag"]
    assert isinstance(boolean, OneHotEncoder)
    assert [type(s) for _, s in numeric.steps] == [SimpleImputer, StandardScaler]
    assert numeric.steps[0][1].strategy == "median"
    encoder = categorical.steps[-1][1]
    assert isinstance(encoder, OneHotEncoder) and encoder.handle_unknown == "ignore"


@pytest.mark.parametrize(("name", "numeric_kind"), [("decision_tree", SimpleImputer), ("random_forest", SimpleImputer)])
def test_trees_get_ordinal_codes_and_no_scaling(specs, name, numeric_kind):
    frame, _ = mixed_frame()
    pre = build_pipeline(specs[name], "binary_classification", frame, list(frame.columns), 0).named_steps["preprocess"]
    kinds = {n: step for n, step, _ in pre.transformers}
    assert isinstance(kinds["numeric"], numeric_kind)  # boosting handles missing numbers itself: "passthrough"
    assert isinstance(kinds["categorical"].steps[-1][1], OrdinalEncoder)
    assert not any(isinstance(s, StandardScaler) for _, s in getattr(kinds["numeric"], "steps", []))


@pytest.mark.parametrize("name", ["xgboost", "lightgbm"])
def test_boosted_trees_get_raw_numbers_and_native_categories(specs, name):
    frame, _ = mixed_frame()
    pipeline = build_pipeline(specs[name], "binary_classification", frame, list(frame.columns), 0)
    kinds = {n: step for n, step, _ in pipeline.named_steps["preprocess"].transformers}
    assert kinds["numeric"] == "passthrough" and isinstance(kinds["categorical"], NativeCategories)
    assert [s for s, _ in pipeline.steps] == ["preprocess", "names", "model"]


@pytest.mark.slow
@pytest.mark.parametrize("name", TABULAR)
def test_every_registered_model_fits_mixed_data_and_scores_unseen_categories(specs, name):
    frame, y = mixed_frame()
    model = DecisionModel(build_pipeline(specs[name], "binary_classification", frame, list(frame.columns), 0))
    model.fit(frame, y)
    new = frame.head(3).copy()
    new["colour"] = ["purple", None, "red"]  # a category never seen in training, and a missing one
    scores = model.scores(new)
    assert scores.shape == (3,) and np.all((scores >= 0) & (scores <= 1))


@pytest.mark.parametrize("name", ["linear", "decision_tree"])
def test_a_true_false_column_as_the_only_category_trains(specs, name):
    """SimpleImputer refuses the bool dtype: a CSV whose one non-numeric column was True/False crashed (test_fuzz.py)."""
    frame, y = mixed_frame()
    frame = frame[["num", "flag"]]
    model = DecisionModel(build_pipeline(specs[name], "binary_classification", frame, ["num", "flag"], 0)).fit(frame, y)
    assert model.scores(frame.head(3)).shape == (3,)


@pytest.mark.parametrize("name", TABULAR)
def test_registry_builds_the_configured_estimator_with_the_seed(specs, name):
    spec = specs[name]
    for task in ("binary_classification", "regression"):
        est = build(spec, task, seed=123)
        params = est.get_params()
        for key, value in {**spec.params, **(spec.classifier_params if task != "regression" else spec.regressor_params)}.items():
            assert params[key] == value, (name, task, key)
        if "random_state" in params and not (name == "linear" and task == "regression"):
            assert params["random_state"] == 123
        kind = getattr(est, "_estimator_type", None) or est.__sklearn_tags__().estimator_type
        assert kind == ("regressor" if task == "regression" else "classifier")


# --- no preprocessing is fitted on validation or test rows -----------------------------------------

@pytest.mark.slow
def test_final_model_preprocessing_is_fitted_on_the_training_split_only(stages, csv_brief, tmp_path, timed_frame):
    overrides = csv_brief(tmp_path / "timed.csv", timed_frame, "y", "0101-leakage", "binary_classification",
                          "problem.data.time_column=t", "model=linear", "tracking=off", "selection.refit_on_all=false")
    inc = stages(overrides, "prepare", "train")
    train, test = pd.read_parquet(inc / "data/train.parquet"), pd.read_parquet(inc / "data/test.parquet")
    features = json.loads((inc / "data/split.json").read_text())["features"]
    assert features == ["x", "z"]
    assert (test["x"] > 1e5).all(), "the holdout is the latest quarter, where x is huge"

    meta = json.loads((inc / "metadata.json").read_text())
    model = load_model(inc / "models/champion", meta["model"]["sha256"])
    imputer, scaler = numeric_steps(model)
    medians, means, stds = train_only_statistics(train[features])
    np.testing.assert_allclose(imputer.statistics_, medians, rtol=1e-12)
    np.testing.assert_allclose(scaler.mean_, means, rtol=1e-12)
    np.testing.assert_allclose(scaler.scale_, stds, rtol=1e-12)
    # Had the test rows shaped it, the mean of x would be in the hundreds of thousands.
    assert scaler.mean_[0] < 100
    _, all_rows_means, _ = train_only_statistics(pd.concat([train, test])[features])
    assert all_rows_means[0] > 1e5


def test_cv_preprocessing_is_refitted_on_each_folds_training_rows(specs):
    rng = np.random.default_rng(5)
    n = 150
    X = pd.DataFrame({"a": rng.normal(size=n), "b": rng.normal(5, 1, size=n)})
    fold = np.arange(n) % 5
    X.loc[fold == 0, "a"] = 1e6  # fold 0's validation rows are extreme
    X.loc[fold == 3, "b"] = np.nan
    y = (X["b"].fillna(5) + rng.normal(size=n) > 5).astype(int).to_numpy()
    fitted = []

    def make():
        fitted.append(DecisionModel(build_pipeline(specs["linear"], "binary_classification", X, ["a", "b"], 0)))
        return fitted[-1]

    cross_validate("linear", "candidate", make, X, y, fold, "stratified_kfold", "binary_classification", "roc_auc")
    folds = list(fold_indices(fold, "stratified_kfold"))
    assert len(fitted) == len(folds) == 5
    for model, (train_idx, val_idx) in zip(fitted, folds):
        imputer, scaler = numeric_steps(model)
        medians, means, stds = train_only_statistics(X.iloc[train_idx])
        np.testing.assert_allclose(imputer.statistics_, medians, rtol=1e-12)
        np.testing.assert_allclose(scaler.mean_, means, rtol=1e-12)
        np.testing.assert_allclose(scaler.scale_, stds, rtol=1e-12)
    # The fold validated on the extreme rows never saw them while fitting.
    assert numeric_steps(fitted[0])[1].mean_[0] < 10


# --- class weights ----------------------------------------------------------------------------------

def test_class_weights_balanced_sqrt_and_none():
    y = pd.Series([0] * 90 + [1] * 10)
    balanced = class_weights(y, "balanced")
    assert balanced[0] == 1.0 and balanced[-1] == pytest.approx(9.0)
    sqrt = class_weights(y, "sqrt")
    assert sqrt[0] == 1.0 and sqrt[-1] == pytest.approx(3.0)
    assert class_weights(y, "none") is None
    # Balanced weights give both classes the same total weight.
    assert balanced[y == 1].sum() == pytest.approx(balanced[y == 0].sum())
