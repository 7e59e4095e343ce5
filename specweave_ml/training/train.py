"""The training step: baselines, then every candidate, cross-validated on the saved folds.

Pure in the sense that matters: given the training split, the plan and the model specs it returns the
scores, the chosen model (refitted on the whole training split) and its decision threshold. Writing
files and tracking are the caller's job.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from typing import Callable, Mapping, Optional

import numpy as np
import pandas as pd

from specweave_ml.data.split import FOLD
from specweave_ml.metrics import METRICS
from specweave_ml.models.decision import DecisionModel
from specweave_ml.plan import Plan
from specweave_ml.schema import ModelSchema
from specweave_ml.training.baselines import baseline_model
from specweave_ml.training.cv import CVResult, cross_validate
from specweave_ml.training.pipelines import build_pipeline, class_weights
from specweave_ml.training.threshold import choose_threshold

log = logging.getLogger(__name__)


@dataclass
class TrainingResult:
    baselines: list[CVResult]
    candidates: list[CVResult]
    chosen: str
    model: DecisionModel
    classes: Optional[list] = None
    threshold: Optional[float] = None
    threshold_rule: str = ""
    weighting: str = "none"
    params: dict = field(default_factory=dict)


def best_of(results: list[CVResult], metric: str) -> CVResult:
    sign = 1 if METRICS[metric].greater_is_better else -1
    return max(results, key=lambda r: sign * r.mean)


def train(
    plan: Plan,
    specs: Mapping[str, ModelSchema],
    frame: pd.DataFrame,
    features: list[str],
    target: str,
    seed: int,
    weighting: str,
    cost_ratio: Optional[float] = None,
    on_fold: Callable[[], None] = lambda: None,
) -> TrainingResult:
    task, metric = plan.task, plan.primary_metric
    X = frame[features]
    classification = task != "regression"
    classes = np.unique(frame[target]) if classification else None
    y = np.searchsorted(classes, frame[target].to_numpy()) if classification else frame[target].to_numpy(dtype=float)
    weights = class_weights(pd.Series(y), weighting) if classification and plan.imbalanced else None
    fold, cv = frame[FOLD].to_numpy(), plan.split.cv_strategy

    baselines = [
        cross_validate(name, "baseline", lambda name=name: baseline_model(name, task, seed), X, y, fold, cv, task, metric, on_fold=on_fold)
        for name in plan.baselines
    ]
    candidates = []
    for cand in plan.candidates:
        spec = specs[cand.name]

        def make(spec=spec):
            return DecisionModel(build_pipeline(spec, task, X, features, seed), task=task)

        result = cross_validate(cand.name, "candidate", make, X, y, fold, cv, task, metric, weights, on_fold)
        log.info("%s: CV %s %.4f ± %.4f (train %.4f) in %.1fs", cand.name, metric, result.mean, result.std,
                 result.train_mean, result.fit_seconds)
        candidates.append(result)

    best = best_of(candidates, metric)
    model = DecisionModel(build_pipeline(specs[best.name], task, X, features, seed), task=task)
    threshold, rule = None, ""
    if task == "binary_classification":
        threshold, rule = choose_threshold(y[best.oof_index], best.oof_scores, cost_ratio)
        model.set_params(threshold=threshold)
    model.fit(X, frame[target].to_numpy(), sample_weight=weights)
    return TrainingResult(
        baselines=baselines,
        candidates=candidates,
        chosen=best.name,
        model=model,
        classes=None if classes is None else classes.tolist(),
        threshold=threshold,
        threshold_rule=rule,
        weighting=weighting if weights is not None else "none",
        params=model.pipeline.named_steps["model"].get_params(),
    )
