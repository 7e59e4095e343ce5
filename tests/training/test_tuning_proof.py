"""The CV that proves a tuned point on every row: run when the time left affords it, refused (and said) when it
would eat into what training keeps for the final fit, the ensemble and the refit on every row."""

import time
from dataclasses import replace

import pandas as pd
import pytest

from specweave_ml.context import Context
from specweave_ml.steps.common import planned
from specweave_ml.steps.train import tuning_settings
from specweave_ml.training.cv import cross_validate
from specweave_ml.training.train import CVView, _tune_candidate, model_maker, targets

FEATURES = ["a", "b", "noise"]


@pytest.mark.slow
def test_the_proof_runs_within_the_time_left_and_never_into_the_final_fits_reserve(stages, config, csv_brief, tmp_path,
                                                                                    imbalanced_frame):
    overrides = csv_brief(tmp_path / "imbalanced.csv", imbalanced_frame, "label", "0106-proof", "binary_classification",
                          "tracking=off", "tuning=phased", "models.random_forest.params.n_estimators=5",
                          "tuning.max_trials.coarse=2", "tuning.max_trials.fine=1", "tuning.max_trials.optuna=1")
    inc = stages(overrides, "prepare")
    ctx = Context.from_cfg(config(overrides))
    plan = planned(ctx)
    frame = pd.read_parquet(inc / "data/train.parquet")
    classes, y, weights, fold = targets(plan, frame, "label", "sqrt")
    X, spec = frame[FEATURES], ctx.models["random_forest"]
    make = model_maker(spec, plan.task, X, FEATURES, ctx.seed)
    view = CVView(X, y, fold, weights)
    untuned = cross_validate("random_forest", "candidate", make, X, y, fold, plan.split.cv_strategy, plan.task,
                             plan.primary_metric, weights)
    settings = tuning_settings(ctx, time.perf_counter() + 120)

    def tune(prefix, **kw):
        return _tune_candidate("random_forest", spec, make, plan, view, ctx.seed, replace(settings, study_prefix=prefix),
                               60.0, untuned, **kw)

    tuned, report, _ = tune("roomy")  # a minute for four trials of small forests: the proof runs
    assert report["tuned_cv"] is not None and report["kept"] in ("tuned", "untuned: the tuned configuration scored lower on the same folds")
    assert (tuned is not None) == (report["kept"] == "tuned")

    tuned, report, _ = tune("reserved", ceiling=lambda: 0.0)  # the share has time, training's reserve has none
    assert tuned is None and report["tuned_cv"] is None
    assert report["kept"].startswith("untuned: the CV of the tuned point on every row would take about")
    assert report["kept"].endswith(" 0 s were left")
