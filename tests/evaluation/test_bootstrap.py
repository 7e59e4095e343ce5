"""The bootstrap interval of the primary metric: scikit-learn on resampled rows, by class, reproducible by seed."""

import json

import numpy as np
import pandas as pd
import pytest
from sklearn.metrics import average_precision_score, roc_auc_score

from specweave_ml.evaluation.bootstrap import draw_values, interval, predictions_interval, ranking_scorer, resampled_rows


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


@pytest.mark.parametrize("metric, sklearn_metric", [("pr_auc", average_precision_score), ("roc_auc", roc_auc_score)])
@pytest.mark.parametrize("ties", [False, True])
def test_each_draw_of_a_ranking_metric_is_scikit_learns_value_on_the_drawn_rows(metric, sklearn_metric, ties):
    y, s = imbalanced(3_000, share=0.03, seed=1)
    if ties:
        s = np.round(s, 1)  # many rows share a score, positives and negatives alike
    draws = draw_values(metric, y, [(None, s)], stratified=True, seed=5, resamples=40)[:, 0]
    expected = [sklearn_metric(y[rows], s[rows]) for rows in resampled_rows(len(y), y, 40, seed=5)]
    np.testing.assert_allclose(draws, expected, rtol=0, atol=1e-12)
    order = np.argsort(s, kind="stable")  # the same value straight from weights, and NaN when a class has none
    score = ranking_scorer(metric, y[order], s[order])
    assert score(np.ones(len(y))) == pytest.approx(sklearn_metric(y, s), abs=1e-12)
    assert np.isnan(score(np.where(y[order] == 1, 0, 1)))


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
