"""The bootstrap interval of the primary metric: scikit-learn on resampled rows, by class, reproducible by seed."""

import json

import numpy as np
import pandas as pd
import pytest
from sklearn.metrics import average_precision_score

from specweave_ml.evaluation.bootstrap import interval, predictions_interval, resampled_rows


def imbalanced(n=20_000, share=0.002, seed=0):
    rng = np.random.default_rng(seed)
    y = (rng.random(n) < share).astype(int)
    return y, rng.normal(size=n) + 2.5 * y  # scores that separate the classes well but not perfectly


def test_draws_within_each_class_keep_the_class_counts():
    y, _ = imbalanced()
    for rows in resampled_rows(len(y), y, 20, seed=0):
        assert len(rows) == len(y) and y[rows].sum() == y.sum()  # the rare positives are in every draw
    plain = [y[r].sum() for r in resampled_rows(len(y), None, 20, seed=0)]
    assert len(set(plain)) > 1  # without strata the count of positives varies


def test_the_interval_holds_the_point_estimate_and_is_reproducible():
    y, s = imbalanced()
    out = interval("pr_auc", y, y_score=s, stratified=True, seed=3, resamples=200)
    assert out["low"] < average_precision_score(y, s) < out["high"]
    assert out == interval("pr_auc", y, y_score=s, stratified=True, seed=3, resamples=200)
    assert out != interval("pr_auc", y, y_score=s, stratified=True, seed=4, resamples=200)
    assert (out["level"], out["resamples"], out["stratified"], out["seed"]) == (0.95, 200, True, 3)


def test_more_rows_give_a_narrower_interval():
    widths = []
    for n in (2_000, 50_000):
        y, s = imbalanced(n, share=0.05)
        out = interval("roc_auc", y, y_score=s, stratified=True, seed=0, resamples=200)
        widths.append(out["high"] - out["low"])
    assert widths[1] < widths[0] / 3


def test_regression_draws_rows_without_strata():
    rng = np.random.default_rng(0)
    y = rng.normal(size=500)
    preds = pd.DataFrame({"__row__": range(500), "y_true": y, "y_pred": y + rng.normal(scale=0.5, size=500)})
    out = predictions_interval(preds, "regression", "rmse", None, seed=0, resamples=200)
    rmse = float(np.sqrt(np.mean((preds["y_true"] - preds["y_pred"]) ** 2)))
    assert out["stratified"] is False and 0.4 < out["low"] < rmse < out["high"] < 0.6


@pytest.mark.slow
@pytest.mark.parametrize("brief", ["breast_cancer", "wine", "diabetes"])
def test_evaluate_records_intervals_recomputable_from_the_saved_predictions(evaluated, brief):
    inc = evaluated(brief)
    metrics = json.loads((inc / "reports" / "metrics.json").read_text())
    training = json.loads((inc / "reports" / "training.json").read_text())
    model, base = metrics["intervals"]["model"], metrics["intervals"]["baseline"]
    assert base["name"] == metrics["best_baseline"]["name"]
    assert model["level"] == 0.95 and model["resamples"] >= 200
    assert model["low"] - 1e-9 <= metrics["holdout"][metrics["primary_metric"]] <= model["high"] + 1e-9
    assert base["low"] - 1e-9 <= metrics["best_baseline"]["score"] <= base["high"] + 1e-9
    preds = pd.read_parquet(inc / "reports" / "predictions.parquet")
    task = json.loads((inc / "reports" / "prepare.json").read_text())["plan"]["task"]
    again = predictions_interval(preds, task, metrics["primary_metric"], training["classes"], model["seed"], model["resamples"])
    assert again == model
