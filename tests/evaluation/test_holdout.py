"""Holdout evaluation: every reported number can be recomputed by scikit-learn from the saved predictions."""

import json

import numpy as np
import pandas as pd
import pytest
from sklearn import metrics as skm

from specweave_ml.evaluation.holdout import holdout_metrics, predictions_frame
from specweave_ml.evaluation.plots import draw

BRIEFS = ["breast_cancer", "wine", "diabetes"]
PLOTS = {
    "binary_classification": {"roc.png", "precision_recall.png", "calibration.png", "confusion_matrix.png"},
    "multiclass_classification": {"confusion_matrix.png"},
    "regression": {"residuals.png", "predicted_vs_actual.png"},
}


def read(path):
    return json.loads(path.read_text())


def recomputed(preds: pd.DataFrame, task: str) -> dict:
    """Every metric the framework can report, computed here straight from the predictions file."""
    y, p = preds["y_true"], preds["y_pred"]
    if task == "regression":
        nonzero = y != 0
        return {
            "rmse": skm.root_mean_squared_error(y, p),
            "mae": skm.mean_absolute_error(y, p),
            "mape": skm.mean_absolute_percentage_error(y[nonzero], p[nonzero]),
            "r2": skm.r2_score(y, p),
        }
    labels = sorted(y.unique())
    common = {
        "accuracy": skm.accuracy_score(y, p),
        "balanced_accuracy": skm.balanced_accuracy_score(y, p),
    }
    if task == "binary_classification":
        positive = labels[1]
        truth = (y == positive).astype(int)
        return {
            **common,
            "precision": skm.precision_score(y, p, pos_label=positive, zero_division=0),
            "recall": skm.recall_score(y, p, pos_label=positive, zero_division=0),
            "f1": skm.f1_score(y, p, pos_label=positive, zero_division=0),
            "roc_auc": skm.roc_auc_score(truth, preds["score"]),
            "pr_auc": skm.average_precision_score(truth, preds["score"]),
            "log_loss": skm.log_loss(truth, preds["score"]),
        }
    proba = preds[[f"proba_{c}" for c in labels]].to_numpy()
    return {
        **common,
        "precision_macro": skm.precision_score(y, p, average="macro", zero_division=0),
        "recall_macro": skm.recall_score(y, p, average="macro", zero_division=0),
        "f1_macro": skm.f1_score(y, p, average="macro", zero_division=0),
        "f1_weighted": skm.f1_score(y, p, average="weighted", zero_division=0),
        "roc_auc_ovr": skm.roc_auc_score(y, proba, multi_class="ovr", average="macro", labels=labels),
        "log_loss": skm.log_loss(y, proba, labels=labels),
    }


@pytest.mark.slow
@pytest.mark.parametrize("brief", BRIEFS)
def test_every_holdout_metric_recomputes_from_the_saved_predictions(evaluated, brief):
    inc = evaluated(brief)
    metrics = read(inc / "reports/metrics.json")
    plan = read(inc / "reports/prepare.json")["plan"]
    preds = pd.read_parquet(inc / metrics["predictions"])
    reported = metrics["holdout"]
    assert set(reported) == {plan["primary_metric"], *plan["secondary_metrics"]}
    expected = recomputed(preds, plan["task"])
    for name, value in reported.items():
        assert value == pytest.approx(expected[name], abs=1e-12), name


@pytest.mark.slow
@pytest.mark.parametrize("brief", BRIEFS)
def test_predictions_are_the_whole_test_split_scored_once(evaluated, brief):
    inc = evaluated(brief)
    test = pd.read_parquet(inc / "data/test.parquet")
    preds = pd.read_parquet(inc / "reports/predictions.parquet")
    target = read(inc / "data/split.json")["target"]
    assert len(preds) == read(inc / "reports/metrics.json")["rows_test"] == len(test)
    assert (preds["__row__"].to_numpy() == test["__row__"].to_numpy()).all()
    assert (preds["y_true"].to_numpy() == test[target].to_numpy()).all()


@pytest.mark.slow
def test_binary_decisions_are_the_scores_at_the_tuned_threshold(evaluated):
    inc = evaluated("breast_cancer")
    metrics = read(inc / "reports/metrics.json")
    preds = pd.read_parquet(inc / "reports/predictions.parquet")
    threshold = metrics["threshold"]
    assert threshold == read(inc / "reports/training.json")["threshold"]
    assert (preds["y_pred"].to_numpy() == (preds["score"] >= threshold).astype(int).to_numpy()).all()


@pytest.mark.slow
@pytest.mark.parametrize("brief", ["breast_cancer", "wine"])
def test_confusion_matrix_recomputes_from_the_predictions(evaluated, brief):
    inc = evaluated(brief)
    metrics = read(inc / "reports/metrics.json")
    preds = pd.read_parquet(inc / "reports/predictions.parquet")
    labels = sorted(preds["y_true"].unique())
    details = metrics["details"]
    assert details["confusion_matrix"]["labels"] == [str(c) for c in labels]
    assert details["confusion_matrix"]["matrix"] == skm.confusion_matrix(preds["y_true"], preds["y_pred"], labels=labels).tolist()
    report = skm.classification_report(preds["y_true"], preds["y_pred"], output_dict=True, zero_division=0)
    assert details["per_class"]["macro avg"]["f1-score"] == pytest.approx(report["macro avg"]["f1-score"], abs=1e-12)
    assert details["per_class"]["weighted avg"]["recall"] == pytest.approx(report["weighted avg"]["recall"], abs=1e-12)


@pytest.mark.slow
def test_regression_residual_analysis_recomputes_from_the_predictions(evaluated):
    inc = evaluated("diabetes")
    residuals = read(inc / "reports/metrics.json")["details"]["residuals"]
    preds = pd.read_parquet(inc / "reports/predictions.parquet")
    r = preds["y_true"] - preds["y_pred"]
    assert residuals["mean"] == pytest.approx(r.mean(), abs=1e-9)
    assert residuals["std"] == pytest.approx(r.std(ddof=0), abs=1e-9)
    assert residuals["quantiles"]["p50"] == pytest.approx(r.median(), abs=1e-9)
    assert residuals["abs_residual_vs_prediction_corr"] == pytest.approx(np.corrcoef(r.abs(), preds["y_pred"])[0, 1], abs=1e-9)


@pytest.mark.slow
@pytest.mark.parametrize("brief", BRIEFS)
def test_holdout_plots_are_written_as_png(evaluated, brief):
    inc = evaluated(brief)
    task = read(inc / "reports/prepare.json")["plan"]["task"]
    written = {p.name for p in (inc / "reports/plots").iterdir()}
    assert written == PLOTS[task]
    for name in written:
        assert (inc / "reports/plots" / name).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


@pytest.mark.slow
def test_the_best_baseline_is_scored_on_the_same_holdout(evaluated):
    inc = evaluated("breast_cancer")
    baselines = read(inc / "reports/baselines.json")
    preds = pd.read_parquet(inc / "reports/predictions.parquet")
    train = pd.read_parquet(inc / "data/train.parquet")
    majority = train["target"].mode()[0]
    most_frequent = baselines["baselines"]["most_frequent"]["holdout"]
    assert most_frequent["roc_auc"] == 0.5
    assert most_frequent["accuracy"] == pytest.approx((preds["y_true"] == majority).mean(), abs=1e-12)
    assert read(inc / "reports/metrics.json")["majority_accuracy"] == most_frequent["accuracy"]


# --- the pure functions, on predictions made up here ------------------------------------------------

def test_string_labels_take_the_second_sorted_class_as_positive():
    preds = predictions_frame(
        rows=[0, 1, 2, 3, 4], y_true=["no", "yes", "yes", "no", "yes"], y_pred=["no", "yes", "no", "yes", "yes"],
        scores=[0.1, 0.9, 0.4, 0.6, 0.8], task="binary_classification", classes=["no", "yes"],
    )
    assert list(preds.columns) == ["__row__", "y_true", "y_pred", "score"]
    out = holdout_metrics(preds, "binary_classification", ["precision", "recall", "roc_auc"], ["no", "yes"])
    assert out["metrics"]["precision"] == pytest.approx(2 / 3)
    assert out["metrics"]["recall"] == pytest.approx(2 / 3)
    assert out["metrics"]["roc_auc"] == pytest.approx(skm.roc_auc_score([0, 1, 1, 0, 1], [0.1, 0.9, 0.4, 0.6, 0.8]))
    assert out["confusion_matrix"] == {"labels": ["no", "yes"], "matrix": [[1, 1], [1, 2]]}


def test_mape_leaves_out_zero_targets():
    preds = predictions_frame([0, 1, 2], [0.0, 10.0, 20.0], [5.0, 11.0, 18.0], None, "regression", None)
    out = holdout_metrics(preds, "regression", ["mape", "mae"], None)
    assert out["metrics"]["mape"] == pytest.approx((0.1 + 0.1) / 2)
    assert out["metrics"]["mae"] == pytest.approx((5 + 1 + 2) / 3)


def test_mape_is_nan_when_every_target_is_zero():
    preds = predictions_frame([0, 1], [0.0, 0.0], [1.0, 2.0], None, "regression", None)
    assert np.isnan(holdout_metrics(preds, "regression", ["mape"], None)["metrics"]["mape"])


def test_multiclass_predictions_keep_one_probability_column_per_class(tmp_path):
    proba = np.array([[0.7, 0.2, 0.1], [0.1, 0.8, 0.1], [0.2, 0.2, 0.6], [0.5, 0.4, 0.1]])
    preds = predictions_frame([0, 1, 2, 3], ["a", "b", "c", "b"], ["a", "b", "c", "a"], proba, "multiclass_classification",
                              ["a", "b", "c"])
    assert [c for c in preds.columns if c.startswith("proba_")] == ["proba_a", "proba_b", "proba_c"]
    out = holdout_metrics(preds, "multiclass_classification", ["accuracy", "roc_auc_ovr"], ["a", "b", "c"])
    assert out["metrics"]["accuracy"] == 0.75
    assert out["metrics"]["roc_auc_ovr"] == pytest.approx(
        skm.roc_auc_score([0, 1, 2, 1], proba, multi_class="ovr", average="macro"))
    assert {p.name for p in draw(preds, "multiclass_classification", ["a", "b", "c"], tmp_path)} == {"confusion_matrix.png"}
