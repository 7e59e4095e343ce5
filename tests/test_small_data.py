"""Small data handled honestly: fewer CV folds when folds would be tiny, and a warning when the holdout cannot
tell models apart (``resolver._small_data``, ``gates.holdout_resolution``, ``steps.evaluate.verdict``)."""

import dataclasses
import json

import numpy as np
import pandas as pd
import pytest
from omegaconf import OmegaConf

from specweave_ml import brief
from specweave_ml.data.split import FOLD, make_split
from specweave_ml.gates import MAX_INTERVAL_WIDTH, holdout_resolution
from specweave_ml.resolver import MIN_CV_FOLDS, MIN_VALIDATION_ROWS, DataFacts, resolve
from specweave_ml.schema import DataSchema, MetricsSchema, ProblemSchema, Task
from specweave_ml.steps.evaluate import verdict


@pytest.fixture(scope="module")
def plan_for(default_config):
    selection = brief.selection_of(default_config)
    models = {name: OmegaConf.to_object(spec) for name, spec in default_config.models.items()}
    tuning = OmegaConf.to_object(default_config.tuning)

    def _plan(n_rows, time_column=None, folds=None):
        problem = ProblemSchema(increment="0060-small", task=Task("binary_classification"),
                                metrics=MetricsSchema(primary="roc_auc"),
                                data=DataSchema(source="data.csv", target="y", time_column=time_column))
        chosen = selection if folds is None else dataclasses.replace(selection, cv_folds=folds)
        return resolve(problem, chosen, models, tuning, DataFacts(n_rows=n_rows, minority_share=0.3, n_classes=2))

    return _plan


def small_notes(plan):
    return [n for n in plan.notes if n.startswith("small data")]


# --- the plan: fewer folds, said out loud --------------------------------------------------------------------

def test_60_rows_get_3_folds_and_a_note_that_the_estimate_is_noisy(plan_for):
    plan = plan_for(60)  # 45 training rows: 5 folds would validate on 9 rows each
    assert plan.split.cv_folds == MIN_CV_FOLDS
    reduced, noisy = small_notes(plan)
    assert "5-fold CV would validate on about 9 rows per fold" in reduced and "CV uses 3 folds" in reduced
    assert "even 3-fold CV validates on about 15 rows per fold" in noisy and "noisy" in noisy
    described = plan.describe()
    assert "CV: 3-fold stratified_kfold" in described and f"note: {reduced}" in described and f"note: {noisy}" in described


def test_100_rows_get_3_folds_of_25_rows_without_the_noise_note(plan_for):
    plan = plan_for(100)  # 75 training rows: 4 folds would validate on 18
    assert plan.split.cv_folds == 3
    [note] = small_notes(plan)
    assert f"fewer than {MIN_VALIDATION_ROWS}" in note and "noisy" not in note


def test_enough_rows_keep_the_configured_folds_silently(plan_for):
    for n_rows in (134, 5_000):  # 100 training rows: 5 folds of 20
        plan = plan_for(n_rows)
        assert plan.split.cv_folds == 5 and small_notes(plan) == []


def test_an_expanding_window_counts_the_block_that_is_only_trained_on(plan_for):
    plan = plan_for(150, time_column="ts")  # 112 rows: 6 blocks of 18 with 5 folds, 5 blocks of 22 with 4
    assert (plan.split.cv_strategy, plan.split.cv_folds) == ("expanding_window", 4)


def test_folds_never_go_below_3(plan_for):
    plan = plan_for(25)
    assert plan.split.cv_folds == 3 and any("noisy" in n for n in small_notes(plan))
    plan = plan_for(60, folds=3)  # nothing to reduce: only the noise is reported
    assert plan.split.cv_folds == 3 and len(small_notes(plan)) == 1 and "noisy" in small_notes(plan)[0]


def test_the_saved_folds_follow_the_plan(plan_for):
    rng = np.random.default_rng(0)
    frame = pd.DataFrame({"x": rng.normal(size=60), "y": [0] * 42 + [1] * 18})
    split = make_split(frame, plan_for(60).split, "y", seed=0)
    assert split.info["cv_folds"] == 3 and sorted(split.train[FOLD].unique()) == [0, 1, 2]
    assert split.info["rows_validated_per_fold"] == [15, 15, 15]


# --- the holdout: too small to tell models apart -------------------------------------------------------------

def test_a_wide_interval_warns_with_the_rows_and_the_interval():
    warning = holdout_resolution("roc_auc", 0.8, {"low": 0.65, "high": 0.92, "level": 0.95},
                                 {"name": "uniform", "low": 0.5, "high": 0.5}, 60)
    assert warning.startswith("holdout_size: the holdout has 60 rows: the 95% bootstrap interval of roc_auc is [0.6500, 0.9200]")
    assert f"0.270 wide, more than {MAX_INTERVAL_WIDTH}" in warning and "overlaps" not in warning


def test_an_interval_overlapping_the_baseline_warns():
    warning = holdout_resolution("accuracy", 0.72, {"low": 0.68, "high": 0.76},
                                 {"name": "most_frequent", "low": 0.66, "high": 0.74}, 2_000)
    assert "overlaps the best baseline most_frequent's [0.6600, 0.7400]" in warning and "wide" not in warning


def test_a_perfect_score_on_15_rows_still_warns():
    warning = holdout_resolution("roc_auc", 1.0, {"low": 1.0, "high": 1.0}, {"name": "stratified", "low": 0.3, "high": 0.8}, 15)
    assert "at least 3/15 = 0.200 by the rule of three" in warning


def test_a_large_holdout_apart_from_the_baseline_is_silent():
    apart = {"name": "uniform", "low": 0.49, "high": 0.51}
    assert holdout_resolution("roc_auc", 0.97, {"low": 0.95, "high": 0.99}, apart, 5_000) is None
    assert holdout_resolution("rmse", 50.0, {"low": 48.0, "high": 52.0}, {"name": "mean", "low": 70.0, "high": 75.0}, 5_000) is None
    assert holdout_resolution("roc_auc", 0.9, {"low": None, "high": None}, {}, 10) is None  # no interval: nothing to say


def test_an_error_metric_is_judged_relative_to_its_value():
    warning = holdout_resolution("rmse", 50.0, {"low": 44.0, "high": 58.0}, {"name": "mean", "low": 70.0, "high": 75.0}, 111)
    assert "0.280 wide relative to the score" in warning


def test_the_warning_is_recorded_but_does_not_block(plan_for):
    plan = plan_for(60)
    baselines = {"uniform": {"holdout": {"roc_auc": 0.5}}, "stratified": {"holdout": {"roc_auc": 0.55}}}
    chosen_cv = {"folds": [0.95, 0.97, 0.96], "train_mean": 0.99, "mean": 0.96}
    intervals = {"model": {"low": 0.80, "high": 1.0, "level": 0.95}, "baseline": {"name": "stratified", "low": 0.3, "high": 0.8}}
    judged = verdict(plan, {"roc_auc": 0.97}, baselines, chosen_cv, [], intervals, 15)
    assert judged["ready"] and judged["reasons"] == []
    assert [w for w in judged["warnings"] if w.startswith("holdout_size: the holdout has 15 rows")]
    assert not [w for w in verdict(plan, {"roc_auc": 0.97}, baselines, chosen_cv, [])["warnings"] if "holdout_size" in w]


# --- the case, through the stages ------------------------------------------------------------------------

@pytest.mark.slow
def test_60_rows_with_a_strong_feature_run_honestly(compose, tmp_path):
    """60 rows of breast cancer plus a feature that separates the classes on every row: 3 folds, a small-holdout
    warning, and the strong feature a leakage warning, not severe leakage that marks the increment not ready."""
    from sklearn.datasets import load_breast_cancer

    from specweave_ml.stages import run_stage

    frame = load_breast_cancer(as_frame=True).frame.head(60)
    frame["strong"] = frame["target"] * 2.0 + np.linspace(0, 1, 60)
    source = tmp_path / "small.csv"
    frame.to_csv(source, index=False)
    overrides = ["problem=breast_cancer", f"problem.data.source={source}", "problem.increment=0060-small",
                 "tracking=off", "progress=false"]
    for stage in ("prepare", "train", "evaluate"):
        run_stage(compose([*overrides, f"stage={stage}"]))
    inc = tmp_path / "increments" / "0060-small"
    split = json.loads((inc / "data" / "split.json").read_text())
    assert split["cv_folds"] == 3 and min(split["rows_validated_per_fold"]) >= 14
    assert any("CV uses 3 folds" in n for n in json.loads((inc / "reports" / "prepare.json").read_text())["plan"]["notes"])
    metrics = json.loads((inc / "reports" / "metrics.json").read_text())
    assert [w for w in metrics["warnings"] if w.startswith("holdout_size: the holdout has 15 rows")]
    assert not [r for r in metrics["reasons"] if r.startswith("leakage")]
    findings = json.loads((inc / "reports" / "antipatterns.json").read_text())["findings"]
    [strong] = [f for f in findings if f["kind"] == "leakage" and f["evidence"]["feature"] == "strong"]
    assert strong["severity"] == "warning" and strong["evidence"]["rows_checked"] == 45
    assert strong["evidence"]["value"] == 1.0 and strong["evidence"]["lower_bound"] < 0.99
    assert [f["severity"] for f in findings if f["kind"] == "preprocessing"] == ["info"]
