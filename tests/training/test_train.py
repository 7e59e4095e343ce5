"""The training step: the best CV candidate chosen, class imbalance handled, and ``DecisionModel`` as an estimator."""

import json

import numpy as np
import pandas as pd
import pytest
from sklearn.base import clone, is_classifier, is_regressor
from sklearn.exceptions import NotFittedError
from sklearn.linear_model import LogisticRegression, Ridge
from sklearn.pipeline import Pipeline
from sklearn.utils import get_tags

from specweave_ml.context import Context
from specweave_ml.data.split import FOLD
from specweave_ml.models.decision import DecisionModel
from specweave_ml.steps.common import planned
from specweave_ml.training.cv import CVResult
from specweave_ml.training.pipelines import build_pipeline, class_weights
from specweave_ml.training.threshold import choose_threshold
from specweave_ml.training.train import best_of, train


def read(path):
    return json.loads(path.read_text())


# --- choosing the model ---------------------------------------------------------------------------

def test_best_of_follows_the_metric_direction():
    a = CVResult("a", "candidate", "rmse", val_scores=[10.0, 12.0])
    b = CVResult("b", "candidate", "rmse", val_scores=[20.0, 22.0])
    assert best_of([b, a], "rmse").name == "a"
    c = CVResult("c", "candidate", "roc_auc", val_scores=[0.7, 0.8])
    d = CVResult("d", "candidate", "roc_auc", val_scores=[0.9, 0.8])
    assert best_of([c, d], "roc_auc").name == "d"


@pytest.mark.slow
def test_train_refits_the_best_candidate_with_its_out_of_fold_threshold(stages, config, csv_brief, tmp_path, imbalanced_frame):
    overrides = csv_brief(tmp_path / "imbalanced.csv", imbalanced_frame, "label", "0103-train-step", "binary_classification",
                          "tracking=off", "models.random_forest.params.n_estimators=20")
    inc = stages(overrides, "prepare")
    ctx = Context.from_cfg(config(overrides))
    plan = planned(ctx)
    frame = pd.read_parquet(inc / "data/train.parquet")
    features = ["a", "b", "noise"]
    result = train(plan, ctx.models, frame, features, "label", ctx.seed, "sqrt")

    assert [r.name for r in result.baselines] == ["most_frequent", "stratified", "uniform"]
    # No deadline: the rule's next step (LightGBM after linear + random forest) always runs, and the record says why.
    assert [r.name for r in result.candidates] == ["linear", "random_forest", "lightgbm"]
    assert result.budget["decisions"] == ["lightgbm (the rule's next step) trained: no time budget bounds this run"]
    best = max(result.candidates, key=lambda r: r.mean)  # pr_auc: higher is better
    assert result.chosen == best.name
    assert result.classes == ["no", "yes"] and result.weighting == "sqrt"

    # The threshold comes from the chosen candidate's out-of-fold scores, each row validated once.
    validated = np.flatnonzero(frame[FOLD].to_numpy() >= 0)
    assert sorted(best.oof_index) == list(validated)
    y = (frame["label"] == "yes").astype(int).to_numpy()
    expected, rule = choose_threshold(y[best.oof_index], best.oof_scores)
    assert (result.threshold, result.threshold_rule) == (expected, rule)
    assert result.model.threshold == result.threshold

    # The model is the chosen pipeline refitted on the whole training split, with the class weights.
    weights = class_weights(pd.Series(y), "sqrt")
    ref = DecisionModel(build_pipeline(ctx.models[best.name], plan.task, frame[features], features, ctx.seed), task=plan.task)
    ref.fit(frame[features], frame["label"].to_numpy(), sample_weight=weights)
    test = pd.read_parquet(inc / "data/test.parquet")
    np.testing.assert_allclose(result.model.scores(test[features]), ref.scores(test[features]), rtol=1e-12)
    assert set(result.model.predict(test[features])) <= {"no", "yes"}


# --- class imbalance, end to end through the stages ----------------------------------------------

@pytest.mark.slow
def test_imbalanced_brief_gets_pr_auc_class_weights_a_tuned_threshold_and_the_majority_accuracy(
        stages, csv_brief, tmp_path, imbalanced_frame):
    overrides = csv_brief(tmp_path / "imbalanced.csv", imbalanced_frame, "label", "0104-imbalanced", "binary_classification",
                          "model=linear", "tracking=off")
    inc = stages(overrides, "prepare", "train", "evaluate")

    plan = read(inc / "reports/prepare.json")["plan"]
    assert plan["imbalanced"] and plan["primary_metric"] == "pr_auc"
    assert "minority class is" in plan["primary_why"]
    assert "accuracy" not in plan["primary_metric"]

    training = read(inc / "reports/training.json")
    assert training["class_weighting"] == "sqrt"
    assert "out-of-fold" in training["threshold_rule"]
    assert 0 < training["threshold"] < 1 and training["threshold"] != 0.5

    metrics = read(inc / "reports/metrics.json")
    assert metrics["primary_metric"] == "pr_auc" and "pr_auc" in metrics["holdout"]
    assert metrics["threshold"] == training["threshold"] and "out-of-fold" in metrics["threshold_rule"]
    preds = pd.read_parquet(inc / "reports/predictions.parquet")
    assert metrics["majority_accuracy"] == pytest.approx((preds["y_true"] == "no").mean(), abs=1e-12)
    assert metrics["majority_accuracy"] > 0.9
    # Decisions are the original labels, taken at the tuned threshold.
    expected = np.where(preds["score"] >= training["threshold"], "yes", "no")
    assert (preds["y_pred"].to_numpy() == expected).all()
    assert "A majority-class model would score accuracy" in (inc / "plan.md").read_text()
    assert "Imbalanced classes" in (inc / "plan.md").read_text()


@pytest.mark.slow
def test_a_cost_ratio_in_the_brief_picks_the_least_cost_threshold(stages, csv_brief, tmp_path, imbalanced_frame):
    overrides = csv_brief(tmp_path / "imbalanced.csv", imbalanced_frame, "label", "0105-cost", "binary_classification",
                          "model=linear", "tracking=off", "problem.metrics.cost_ratio=20")
    inc = stages(overrides, "prepare", "train")
    training = read(inc / "reports/training.json")
    assert training["threshold_rule"] == "least cost with a miss costing 20 false alarms, on out-of-fold scores"


@pytest.mark.slow
def test_balanced_data_gets_no_class_weights(stages, csv_brief, tmp_path):
    rng = np.random.default_rng(1)
    frame = pd.DataFrame({"a": rng.normal(size=300)})
    frame["y"] = (frame["a"] + rng.normal(size=300) > 0).astype(int)
    overrides = csv_brief(tmp_path / "balanced.csv", frame, "y", "0106-balanced", "binary_classification",
                          "model=linear", "tracking=off")
    inc = stages(overrides, "prepare", "train")
    assert read(inc / "reports/training.json")["class_weighting"] == "none"
    assert read(inc / "reports/prepare.json")["plan"]["primary_metric"] == "roc_auc"


# --- DecisionModel follows the scikit-learn contract ------------------------------------------------

def logistic_model(**kwargs):
    return DecisionModel(Pipeline([("model", LogisticRegression(C=0.5))]), **kwargs)


def strings_data(n=120, classes=("cat", "dog")):
    rng = np.random.default_rng(0)
    X = pd.DataFrame({"a": rng.normal(size=n), "b": rng.normal(size=n)})
    codes = (X["a"] > 0).astype(int) + ((X["b"] > 1).astype(int) if len(classes) > 2 else 0)
    return X, np.asarray(classes, dtype=object)[codes]


def test_clone_and_get_params_round_trip():
    model = logistic_model(task="binary_classification", threshold=0.3)
    params = model.get_params(deep=False)
    assert {"pipeline", "task", "threshold"} <= set(params)
    copy = clone(model)
    assert copy.get_params(deep=False)["task"] == "binary_classification"
    assert copy.get_params(deep=False)["threshold"] == 0.3
    assert copy.pipeline is not model.pipeline
    assert copy.get_params()["pipeline__model__C"] == 0.5
    assert model.set_params(threshold=0.7, pipeline__model__C=2.0) is model
    assert model.threshold == 0.7 and model.pipeline.named_steps["model"].C == 2.0


def test_fit_returns_self_and_leaves_the_given_pipeline_unfitted():
    X, y = strings_data()
    model = logistic_model()
    assert model.fit(X, y) is model
    assert not hasattr(model.pipeline.named_steps["model"], "coef_")  # learned state lives in pipeline_
    assert hasattr(model.pipeline_.named_steps["model"], "coef_")


def test_predict_returns_the_original_string_labels_at_the_threshold():
    X, y = strings_data()
    model = logistic_model(threshold=0.8).fit(X, y)
    assert list(model.classes_) == ["cat", "dog"]
    scores = model.scores(X)
    np.testing.assert_allclose(scores, model.predict_proba(X)[:, 1])
    assert (model.predict(X) == np.where(scores >= 0.8, "dog", "cat")).all()
    assert (clone(model).set_params(threshold=0.2).fit(X, y).predict(X) == "dog").sum() > (model.predict(X) == "dog").sum()


def test_multiclass_predict_returns_string_labels_by_highest_probability():
    X, y = strings_data(classes=("ant", "bee", "cow"))
    model = logistic_model(task="multiclass_classification").fit(X, y)
    proba = model.scores(X)
    assert proba.shape == (len(X), 3)
    assert (model.predict(X) == np.array(["ant", "bee", "cow"])[proba.argmax(axis=1)]).all()


def test_regression_predicts_values():
    X, _ = strings_data()
    y = 3 * X["a"].to_numpy() + 1
    model = DecisionModel(Pipeline([("model", Ridge(alpha=1e-6))]), task="regression").fit(X, y)
    np.testing.assert_allclose(model.predict(X), y, atol=1e-4)


def test_sklearn_recognises_classifiers_and_regressors():
    assert is_classifier(logistic_model(task="binary_classification"))
    assert is_classifier(logistic_model(task="multiclass_classification"))
    assert is_regressor(DecisionModel(Pipeline([("model", Ridge())]), task="regression"))
    # sklearn's own estimator checks need the task's tags, not just the estimator type.
    assert get_tags(logistic_model(task="binary_classification")).classifier_tags is not None
    assert get_tags(DecisionModel(Pipeline([("model", Ridge())]), task="regression")).regressor_tags is not None


def test_predicting_before_fit_raises_not_fitted_error():
    X, _ = strings_data()
    with pytest.raises(NotFittedError):
        logistic_model().predict(X)
