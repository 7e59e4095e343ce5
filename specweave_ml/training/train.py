"""The training step: baselines, then every candidate, cross-validated on the saved folds.

Pure in the sense that matters: given the training split, the plan and the model specs it returns the
scores, the chosen model (refitted on the whole training split) and its decision threshold. Writing
files and tracking are the caller's job.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass, field
from typing import Callable, Mapping, Optional

import pandas as pd

from specweave_ml.data.split import FOLD
from specweave_ml.metrics import METRICS
from specweave_ml.models.decision import DecisionModel
from specweave_ml.models.registry import REGISTRY
from specweave_ml.plan import Plan
from specweave_ml.schema import ModelSchema
from specweave_ml.training.baselines import baseline_model
from specweave_ml.training.cv import CVResult, cross_validate
from specweave_ml.data.labels import class_order, encode
from specweave_ml.training.pipelines import build_pipeline, class_weights
from specweave_ml.training.threshold import choose_threshold
from specweave_ml.training.halving import Fidelity, at_fidelity, sample_rows, tuning_rows
from specweave_ml.training.tuning import TuningSettings, tune  # TuningSettings: re-exported for steps.train

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
    tuning: dict = field(default_factory=dict)  # model -> {"untuned": cv mean, "tuned": cv mean, "phases": [...], ...}
    tuning_tables: dict = field(default_factory=dict)  # model -> phase -> trials DataFrame


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
    tuning: Optional[TuningSettings] = None,
    positive_class=None,
) -> TrainingResult:
    task, metric = plan.task, plan.primary_metric
    X = frame[features]
    classification = task != "regression"
    classes = class_order(frame[target], task, positive_class) if classification else None
    y = encode(frame[target], classes) if classification else frame[target].to_numpy(dtype=float)
    weights = class_weights(pd.Series(y), weighting) if classification and plan.imbalanced else None
    fold, cv = frame[FOLD].to_numpy(), plan.split.cv_strategy

    baselines = [
        cross_validate(name, "baseline", lambda name=name: baseline_model(name, task, seed), X, y, fold, cv, task, metric, on_fold=on_fold)
        for name in plan.baselines
    ]
    candidates, chosen_params, tuning_report, tables = [], {}, {}, {}
    deadline = time.perf_counter() + (tuning.budget_seconds if tuning else 0)
    for i, cand in enumerate(plan.candidates):
        spec = specs[cand.name]

        def make(spec=spec, params=None, stop=None):
            return DecisionModel(build_pipeline(spec, task, X, features, seed, params), task=task, early_stopping_rounds=stop)

        result = cross_validate(cand.name, "candidate", make, X, y, fold, cv, task, metric, weights, on_fold)
        log.info("%s: CV %s %.4f ± %.4f (train %.4f) in %.1fs", cand.name, metric, result.mean, result.std,
                 result.train_mean, result.fit_seconds)
        chosen_params[cand.name] = ({}, None)
        if tuning and tuning.phases:
            share = (deadline - time.perf_counter()) / (len(plan.candidates) - i)
            tuned, report, tables[cand.name] = _tune_candidate(cand.name, spec, make, plan, X, y, fold, weights, seed, tuning, share, result)
            tuning_report[cand.name] = report
            if tuned is not None:
                result, chosen_params[cand.name] = tuned
        candidates.append(result)

    best = best_of(candidates, metric)
    model, threshold, rule = _refit(best, specs[best.name], chosen_params[best.name], task, X, y, frame[target].to_numpy(),
                                    features, seed, classes, weights, cost_ratio)
    return TrainingResult(
        baselines=baselines,
        candidates=candidates,
        chosen=best.name,
        model=model,
        classes=classes,
        threshold=threshold,
        threshold_rule=rule,
        weighting=weighting if weights is not None else "none",
        params=model.pipeline.named_steps["model"].get_params(),
        tuning=tuning_report,
        tuning_tables=tables,
    )


def _refit(best: CVResult, spec, chosen: tuple, task: str, X, y_encoded, y, features, seed, classes, weights, cost_ratio):
    """The chosen candidate refitted on the whole training part, with its threshold from out-of-fold scores."""
    params, stop = chosen
    model = DecisionModel(build_pipeline(spec, task, X, features, seed, params), task=task,
                          early_stopping_rounds=stop, classes=classes)
    threshold, rule = None, ""
    if task == "binary_classification":
        threshold, rule = choose_threshold(y_encoded[best.oof_index], best.oof_scores, cost_ratio)
        model.set_params(threshold=threshold)
    model.fit(X, y, sample_weight=weights)
    return model, threshold, rule


def _tune_candidate(name, spec, make, plan, X, y, fold, weights, seed, tuning: TuningSettings, seconds: float, untuned: CVResult):
    """Tune one candidate within ``seconds``; return its tuned CV result (or None if tuning did not win)."""
    from specweave_ml.gates import gap

    task, metric, cv = plan.task, plan.primary_metric, plan.split.cv_strategy
    estimator = make().pipeline.named_steps["model"]
    defaults = estimator.get_params()
    stop = tuning.early_stopping_rounds if REGISTRY[name].early_stopping else None
    stop_at = time.perf_counter() + seconds
    # The fine grid and Optuna run on as many rows as let a few full trials fit in their share; the coarse grid halves up to it.
    later = sum(tuning.budget_shares.get(p, 0.0) for p in tuning.phases if p in ("fine", "optuna"))
    later_seconds = seconds * later / (sum(tuning.budget_shares.get(p, 0.0) for p in tuning.phases) or 1.0)
    rows = tuning_rows(len(y), untuned.fit_seconds, later_seconds or seconds, tuning.halving)

    def evaluate(params, report, fidelity: Fidelity = Fidelity(None)):
        def checked(step, value):
            if time.perf_counter() > stop_at:  # the candidate's budget is spent: stop this trial after its fold
                import optuna

                raise optuna.TrialPruned()
            report(step, value)

        at = sample_rows(y, fidelity.rows, seed, task != "regression")
        Xs, ys, fs = (X, y, fold) if at is None else (X.iloc[at], y[at], fold[at])
        ws = weights if weights is None or at is None else weights[at]
        p = at_fidelity(params, defaults, fidelity, tuning.halving.min_rounds)
        r = cross_validate(name, "trial", lambda: make(params=p, stop=stop), Xs, ys, fs, cv, task, metric, ws,
                           on_score=checked, train_score_rows=tuning.train_score_rows)
        return r.mean, r.std, gap(metric, r.train_mean, r.mean)

    result = tune(tuning, name=name, search=dict(spec.search), accepted_params=set(defaults),
                  evaluate=evaluate, metric=metric, deadline=stop_at, gap_limit=plan.gates.train_val_gap, seed=seed,
                  n_rows=len(y), trial_rows=rows)
    report = {"untuned_cv": untuned.mean, "phases": [p.summary() for p in result.phases], "best_params": result.best_params,
              "best_trial_cv": result.best_value, "early_stopping_rounds": stop, "trial_rows": rows, "rows": len(y)}
    if result.best_value is None:
        report.update(tuned_cv=None, kept="untuned: no trial finished")
        return None, report, result.trial_tables
    tuned = cross_validate(name, "candidate", lambda: make(params=result.best_params, stop=stop), X, y, fold, cv, task, metric, weights)
    report["tuned_cv"] = tuned.mean
    sign = 1 if METRICS[metric].greater_is_better else -1
    if sign * tuned.mean < sign * untuned.mean:
        report["kept"] = "untuned: the tuned configuration scored lower on the same folds"
        return None, report, result.trial_tables
    report["kept"] = "tuned"
    log.info("%s tuned: CV %s %.4f (untuned %.4f)", name, metric, tuned.mean, untuned.mean)
    return (tuned, (result.best_params, stop)), report, result.trial_tables
