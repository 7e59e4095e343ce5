"""The training step: baselines, then every candidate, cross-validated on the saved folds.

Pure in the sense that matters: given the training split, the plan and the model specs it returns the
scores, the chosen model (refitted on the whole training split) and its decision threshold. Writing
files and tracking are the caller's job.
"""

from __future__ import annotations

import logging
import math
import time
from dataclasses import dataclass, field, replace
from typing import Callable, Mapping, Optional

import numpy as np
import pandas as pd

from specweave_ml.data.split import FOLD
from specweave_ml.metrics import METRICS
from specweave_ml.models.decision import DecisionModel
from specweave_ml.models.registry import REGISTRY
from specweave_ml.plan import Plan
from specweave_ml.schema import ModelSchema
from specweave_ml.training.baselines import baseline_model
from specweave_ml.training.cv import CVResult, cross_validate
from specweave_ml.training.dask_compute import localise
from specweave_ml.data.labels import class_order, encode
from specweave_ml.training.pipelines import build_pipeline, class_weights
from specweave_ml.training.threshold import choose_class_scale, choose_threshold
from specweave_ml.training.budget import PROBE_ROWS, Budget, affordable_rows, cv_fit_rows
from specweave_ml.training.halving import Fidelity, at_fidelity, sample_rows, tuning_rows
from specweave_ml.training.tuning import TuningSettings, storage_for, tune  # TuningSettings: re-exported for steps.train

log = logging.getLogger(__name__)

TUNING_SHARE = 0.75  # without a deadline: tuning_settings gives tuning this share of the budget (the rest: CV and refits)
CV_SHARE_TUNED = 0.35  # of training's time, for the candidates' untuned CV when tuning follows
CV_SHARE_UNTUNED = 0.8  # and when it does not (the rest: the next step and the refit)


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
    budget: dict = field(default_factory=dict)  # seconds given and spent, CV rows, and what the budget decided, in words
    ensemble: dict = field(default_factory=dict)  # the greedy ensemble's selection, its verdict, and its size and latency cost


@dataclass
class CVView:
    """The rows candidates are cross-validated on: every training row, or a sample the budget affords."""

    X: pd.DataFrame
    y: np.ndarray
    fold: np.ndarray
    weights: Optional[np.ndarray]
    rows: Optional[int] = None  # None: every row
    sample: Optional[int] = None  # the rows asked of sample_rows (its stratification may keep a few more): rebuilds the view

    def describe(self, n_rows: int) -> str:
        return "all rows" if self.rows is None else f"{self.rows:,} of {n_rows:,} rows"


def targets(plan: Plan, frame: pd.DataFrame, target: str, weighting: str, positive_class=None):
    """The classes, the encoded target, the class weights (None unless imbalanced) and the saved folds of the training
    part: what every process that cross-validates on it (``train``, ``stage=tune_worker``) must share."""
    classification = plan.task != "regression"
    classes = class_order(frame[target], plan.task, positive_class) if classification else None
    y = encode(frame[target], classes) if classification else frame[target].to_numpy(dtype=float)
    weights = class_weights(pd.Series(y), weighting) if classification and plan.imbalanced else None
    return classes, y, weights, frame[FOLD].to_numpy()


def model_maker(spec, task: str, X: pd.DataFrame, features: list[str], seed: int):
    """``make(params, stop)``: a fresh model of ``spec`` with ``params`` over its defaults, early stopping after ``stop``."""
    def make(params=None, stop=None):
        return DecisionModel(build_pipeline(spec, task, X, features, seed, params), task=task, early_stopping_rounds=stop)
    return make


def sampled_view(X: pd.DataFrame, y: np.ndarray, fold: np.ndarray, weights, rows: Optional[int], seed: int,
                 classification: bool) -> CVView:
    """The CV view of ``rows`` sampled training rows (None: every row), the same sample in every process."""
    at = sample_rows(y, rows, seed, classification) if rows else None
    if at is None:
        return CVView(X, y, fold, weights)
    return CVView(X.iloc[at], y[at], fold[at], None if weights is None else weights[at], len(at), rows)


ENSEMBLE = "ensemble"  # the chosen name when the greedy ensemble ships (not a registry entry: its members are)
NEXT_STEP_COST = 3.0  # the next step is taken when the time left affords this many times its estimated CV


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
    deadline: Optional[float] = None,
    ensemble: bool = False,
    compute=None,
    refit_rows: int = 0,
) -> TrainingResult:
    """Baselines, the plan's candidates (its next step when time is left), tuning, and the refit of the best.

    ``deadline`` (``time.perf_counter()``; None: none) is when training must be done, final refit included;
    without it a tuning run gets ``tuning.budget_seconds`` for tuning alone. With ``ensemble``, a greedy ensemble of
    the candidates' out-of-fold predictions ships instead of the best one when it beats it in CV (``_ensemble``).
    ``compute`` (``training.dask_compute.DaskSession``; None: this process) fits the models that have a Dask estimator
    on its cluster; the model returned is a plain local one either way. ``refit_rows`` (0: none): the rows of a later
    refit of the chosen model on every row (``training.refit``), whose time tuning leaves free as it does the final refit's.
    """
    started = time.perf_counter()
    task, metric = plan.task, plan.primary_metric
    X = frame[features]
    classification = task != "regression"
    classes, y, weights, fold = targets(plan, frame, target, weighting, positive_class)
    cv = plan.split.cv_strategy
    if deadline is None and tuning is not None:
        deadline = started + tuning.budget_seconds / TUNING_SHARE
    budget = Budget(deadline)

    def make_for(spec):
        make = model_maker(spec, task, X, features, seed)
        return lambda params=None, stop=None: placed(spec.name, make(params, stop))

    def placed(name, model):  # where a model trains: this process, or compute=dask's cluster
        return model if compute is None else compute.wrap(name, model)

    baselines = [
        cross_validate(name, "baseline", lambda name=name: baseline_model(name, task, seed), X, y, fold, cv, task, metric, on_fold=on_fold)
        for name in plan.baselines
    ]
    first = [c for c in plan.candidates if not c.next_step]
    view = _cv_view(first, specs, make_for, X, y, fold, weights, cv, seed, classification, budget, tuning is not None and bool(tuning.phases))
    candidates, chosen_params = {}, {}

    def cross_validated(name):
        result = cross_validate(name, "candidate", make_for(specs[name]), view.X, view.y, view.fold, cv, task, metric, view.weights, on_fold)
        log.info("%s: CV %s %.4f ± %.4f (train %.4f) in %.1fs on %s", name, metric, result.mean, result.std, result.train_mean,
                 result.fit_seconds, view.describe(len(y)))
        candidates[name], chosen_params[name] = result, ({}, None)

    for cand in first:
        cross_validated(cand.name)
    for cand in (c for c in plan.candidates if c.next_step):
        if _next_step_affordable(cand.name, candidates, budget, tuning, len(view.y)):
            cross_validated(cand.name)

    tuning_report, tables = {}, {}
    if tuning and tuning.phases:  # the most promising first: what a candidate leaves unspent goes to the next ones
        from specweave_ml.training.shared_study import tuning_run

        sign = 1 if METRICS[metric].greater_is_better else -1
        names = sorted(candidates, key=lambda n: -sign * candidates[n].mean)

        def training_left() -> float:  # what tuning may still spend: training's time less the final fits' reserve
            return budget.left() - _refit_seconds(candidates.values(), len(y) + refit_rows, view, cv)

        with tuning_run(storage_for(tuning.storage_url, tuning.heartbeat_seconds), tuning.study_prefix):  # workers leave after it
            for i, name in enumerate(names):
                share = max(0.0, training_left()) / (len(names) - i)
                tuned, report, tables[name] = _tune_candidate(name, specs[name], make_for(specs[name]), plan, view, seed, tuning,
                                                              share, candidates[name], ceiling=training_left)
                tuning_report[name] = report
                if tuned is not None:
                    candidates[name], chosen_params[name] = tuned
            _continue_best(candidates, chosen_params, tuning_report, tables, specs, make_for, plan, view, seed, tuning, budget,
                           len(y) + refit_rows, cv)

    results = list(candidates.values())
    best = best_of(results, metric)
    final_started = time.perf_counter()
    model, threshold, rule = _refit(best, specs[best.name], chosen_params[best.name], task, X, y, frame[target].to_numpy(),
                                    features, seed, classes, weights, cost_ratio, view.y, placed)
    chosen, ensemble_report = best.name, {}
    if ensemble and len(results) >= 2:
        ensembled = _ensemble(results, specs, chosen_params, best, model, plan, X, y, frame[target].to_numpy(), view, features,
                              seed, classes, weights, cost_ratio, budget, placed, refit_rows)
        ensemble_report = ensembled.report
        if ensembled.model is not None:
            model, threshold, rule, chosen = ensembled.model, ensembled.threshold, ensembled.rule, ENSEMBLE
            results.append(ensembled.cv)
    spent = time.perf_counter() - started
    final_fit = time.perf_counter() - final_started  # the shipped model's fit (an ensemble's: its members'), on len(y) rows
    if compute is not None:
        for note in compute.notes():
            log.info("%s", note)
            budget.note(note)
    return TrainingResult(
        baselines=baselines,
        candidates=results,
        chosen=chosen,
        model=model,
        classes=classes,
        threshold=threshold,
        threshold_rule=rule,
        weighting=weighting if weights is not None else "none",
        params=model.member_params() if chosen == ENSEMBLE else model.pipeline.named_steps["model"].get_params(),
        ensemble=ensemble_report,
        tuning=tuning_report,
        tuning_tables=tables,
        budget={"seconds": None if deadline is None else round(deadline - started, 1), "spent": round(spent, 1),
                "cv_rows": view.rows or len(y), "rows": len(y), "final_fit_seconds": round(final_fit, 2), "decisions": budget.decisions,
                "compute": {"mode": "local"} if compute is None else compute.summary()},
    )


# A tuned point's proof CV may overrun its candidate's share by this much of it: the proof is reserved at the untuned
# CV's cost, and a tuned point often fits more rounds. Never into the final fits' reserve: at 300 s on diamonds,
# training overran its time by 25 s (the last candidate's proof could take 11 s past its share) and the ensemble and
# the refit on every row were skipped for want of the 4 s they needed.
PROOF_SLACK = 0.1
MORE_TUNING = 0.15  # time left after every candidate's tuning, as a share of training's, that goes on tuning the best one


def _continue_best(candidates, chosen_params, tuning_report, tables, specs, make_for, plan, view, seed, tuning, budget, refit_rows, cv):
    """Time the candidates left unspent (a trial that could not start, a proof CV it could not afford) goes on tuning
    the best one: Optuna from its best point, at the rows its trials used, in a study of its own (``<model>.more``)."""
    sign = 1 if METRICS[plan.primary_metric].greater_is_better else -1
    name = max(candidates, key=lambda n: sign * candidates[n].mean)
    def training_left() -> float:  # what tuning may still spend: training's time less the final fits' reserve
        return budget.left() - _refit_seconds(candidates.values(), refit_rows, view, cv)

    left = training_left()
    given = tuning.budget_seconds / TUNING_SHARE
    if name not in tuning_report or left < max(5.0, MORE_TUNING * given) or "optuna" not in tuning.phases:
        return
    more = replace(tuning, phases=["optuna"], budget_shares={"optuna": 1.0}, study_prefix=f"{tuning.study_prefix}.more")
    first = tuning_report[name]
    tuned, report, more_tables = _tune_candidate(name, specs[name], make_for(specs[name]), plan, view, seed, more, left,
                                                 candidates[name], rows=first["trial_rows"], start=chosen_params[name][0],
                                                 ceiling=training_left)
    first["phases"] += [{**p, "phase": "optuna-more"} for p in report["phases"]]
    tables[name].update({"optuna-more": t for t in more_tables.values()})
    outcome = "a better point was found" if tuned is not None else f"its earlier point stayed ({report['kept'].split(': ', 1)[-1]})"
    budget.note(f"the {left:.0f} s the candidates left unspent went on tuning {name}, the best so far, in more Optuna trials: {outcome}")
    if tuned is not None:
        candidates[name], chosen_params[name] = tuned
        first.update(tuned_cv=report["tuned_cv"], best_params=report["best_params"], kept=report["kept"] + " (after more Optuna trials)")


def _cv_view(first, specs, make_for, X, y, fold, weights, cv, seed, classification, budget: Budget, tuned: bool) -> CVView:
    """Every row, unless the budget cannot afford the candidates' cross-validation on all of them (estimated by two
    probe fits per candidate): then a sample (stratified for classes, in time order) that fits, said in ``budget``."""
    full = CVView(X, y, fold, weights)
    n = len(y)
    if not budget.bounded or n < 5 * PROBE_ROWS:
        return full
    fit_rows = cv_fit_rows(fold, cv)
    seconds = budget.left() * (CV_SHARE_TUNED if tuned else CV_SHARE_UNTUNED)
    folds, fixed, slope = int(fold.max()) + 1, 0.0, 0.0
    for cand in first:
        cost, per_row = _probe(make_for(specs[cand.name]), X, y, weights, seed, classification)
        fixed, slope = fixed + folds * cost, slope + per_row
    estimate = fixed + slope * fit_rows
    if estimate <= seconds:
        return full
    rows = affordable_rows(n, slope, fit_rows / n, seconds - fixed)
    if rows >= n:
        return full
    view = sampled_view(X, y, fold, weights, rows, seed, classification)
    at = view.y
    budget.note(f"the candidates are cross-validated on {len(at):,} of {n:,} training rows (a sample, "
                f"{'stratified, ' if classification else ''}in the rows' order): CV on every row would take about "
                f"{estimate:.0f} s of the {seconds:.0f} s the budget leaves it; the chosen model is refitted on every row")
    return view


def _probe(make, X, y, weights, seed, classification) -> tuple[float, float]:
    """A candidate's fixed and per-row fit cost, from fits on PROBE_ROWS and twice as many rows."""
    times = []
    for rows in (PROBE_ROWS, 2 * PROBE_ROWS):
        at = sample_rows(y, rows, seed, classification)
        start = time.perf_counter()
        make().fit(X.iloc[at], y[at], sample_weight=None if weights is None else weights[at])
        times.append((len(at), time.perf_counter() - start))
    (r1, t1), (r2, t2) = times
    per_row = max((t2 - t1) / max(1, r2 - r1), 0.5 * t2 / r2)
    return max(0.0, t1 - per_row * r1), per_row


def _refit_seconds(results, n_rows: int, view: CVView, cv: str) -> float:
    """The final refit's estimated cost: the costliest candidate's CV seconds per fitted row, times every row."""
    fit_rows = cv_fit_rows(view.fold, cv) or 1
    return 1.5 * max((r.fit_seconds / fit_rows * n_rows for r in results), default=0.0)


def _next_step_affordable(name: str, done: dict, budget: Budget, tuning, n_rows: int) -> bool:
    """The tree's next step runs when the time left affords NEXT_STEP_COST times its estimated CV (the slowest
    first-step candidate's); the decision is said either way."""
    if not budget.bounded:
        budget.note(f"{name} (the rule's next step) trained: no time budget bounds this run")
        return True
    estimate = max((r.fit_seconds for r in done.values()), default=0.0) * 2
    left = budget.left()
    if left >= NEXT_STEP_COST * max(estimate, 1.0):
        budget.note(f"{name} (the rule's next step) trained: {left:.0f} s were left, its CV was estimated at {max(estimate, 1.0):.0f} s")
        return True
    budget.note(f"{name} (the rule's next step) not trained: {left:.0f} s were left, under {NEXT_STEP_COST:g}x its estimated "
                f"CV of {max(estimate, 1.0):.0f} s; a larger budget_minutes lets it run")
    return False


@dataclass
class _Ensembled:
    report: dict
    model: object = None  # the fitted WeightedEnsemble when it ships
    cv: Optional[CVResult] = None
    threshold: Optional[float] = None
    rule: str = ""


def _ensemble(results, specs, chosen_params, best, single, plan, X, y_encoded, y, view: CVView, features, seed, classes, weights,
              cost_ratio, budget: Budget, placed=lambda name, model: model, refit_rows: int = 0) -> _Ensembled:
    """Greedy ensemble selection (Caruana) over the candidates' out-of-fold scores; the ensemble is refitted and
    shipped only when it beats the best single model in CV (also with weights chosen without the fold scored) and
    the budget affords refitting its members. The report keeps both, with the size and latency each costs."""
    from specweave_ml.models.ensemble import WeightedEnsemble
    from specweave_ml.training.ensemble import footprint, select_from_cv

    task, metric = plan.task, plan.primary_metric
    selection = select_from_cv(results, view.y, view.fold, metric, task, None if classes is None else list(range(len(classes))))
    report = selection.summary()
    if not selection.ships:
        log.info("ensemble not shipped: %s", selection.reason)
        return _Ensembled(report)
    members = [n for n in selection.weights if n != best.name]
    refit = sum(_refit_seconds([r for r in results if r.name == n], len(y) + refit_rows, view, plan.split.cv_strategy) for n in members)
    if refit > budget.left():
        report.update(ships=False, reason=f"{selection.reason}; but refitting its members would take about {refit:.0f} s, "
                                          f"{budget.left():.0f} s were left")
        budget.note(f"the ensemble ({', '.join(selection.weights)}) beat {best.name} in CV but was not refitted: no time was left")
        return _Ensembled(report)
    fitted = []
    for name in selection.weights:
        if name == best.name:
            fitted.append((name, single))
            continue
        params, stop = chosen_params[name]
        member = placed(name, DecisionModel(build_pipeline(specs[name], task, X, features, seed, params), task=task,
                                            early_stopping_rounds=stop, classes=classes))
        fitted.append((name, localise(member.fit(X, y, sample_weight=weights))))
    threshold, rule, scale = None, "", None
    if task == "binary_classification":
        threshold, rule = choose_threshold(view.y[selection.oof_index], selection.oof_scores, cost_ratio)
    elif task == "multiclass_classification":
        scale, rule = choose_class_scale(view.y[selection.oof_index], selection.oof_scores, metric)
    model = WeightedEnsemble.from_fitted(fitted, list(selection.weights.values()), task=task,
                                         threshold=0.5 if threshold is None else threshold, classes=classes, X=X, class_scale=scale)
    sample = X.head(200)
    report["cost"] = {"single": {"name": best.name, **footprint(single, sample)}, "ensemble": footprint(model, sample)}
    cv = CVResult(ENSEMBLE, "candidate", metric, val_scores=list(selection.fold_scores), oof_index=selection.oof_index,
                  oof_scores=selection.oof_scores,
                  train_scores=[], fit_seconds=sum(r.fit_seconds for r in results if r.name in selection.weights))
    log.info("ensemble shipped: %s (%s)", ", ".join(f"{n} {w:.2f}" for n, w in selection.weights.items()), selection.reason)
    return _Ensembled(report, model, cv, threshold, rule)


def _refit(best: CVResult, spec, chosen: tuple, task: str, X, y_encoded, y, features, seed, classes, weights, cost_ratio, y_cv,
           placed=lambda name, model: model):
    """The chosen candidate refitted on the whole training part, with its threshold from out-of-fold scores
    (``y_cv``: the encoded targets of the rows it was cross-validated on); ``placed`` says where it trains."""
    params, stop = chosen
    model = placed(spec.name, DecisionModel(build_pipeline(spec, task, X, features, seed, params), task=task,
                                            early_stopping_rounds=stop, classes=classes))
    threshold, rule = None, ""
    if task == "binary_classification":
        threshold, rule = choose_threshold(y_cv[best.oof_index], best.oof_scores, cost_ratio)
        model.set_params(threshold=threshold)
    elif task == "multiclass_classification":
        scale, rule = choose_class_scale(y_cv[best.oof_index], best.oof_scores, best.metric)
        model.set_params(class_scale=scale)
    model.fit(X, y, sample_weight=weights)
    return localise(model), threshold, rule


def _tune_candidate(name, spec, make, plan, view: CVView, seed, tuning: TuningSettings, seconds: float, untuned: CVResult,
                    rows: Optional[int] = None, start: Optional[dict] = None, ceiling: Callable[[], float] = lambda: math.inf):
    """Tune one candidate within ``seconds`` (its final full-row CV included); return its tuned CV result (or None
    if tuning did not win, or the budget could not afford the CV that proves it does).

    The proof may overrun the candidate's ``seconds`` by PROOF_SLACK of them (the next candidates' shares then
    shrink), never past ``ceiling()``: the seconds training can still give before the final fit, the ensemble and
    the refit on every row need theirs."""
    X, y, fold, weights = view.X, view.y, view.fold, view.weights
    task, metric, cv = plan.task, plan.primary_metric, plan.split.cv_strategy
    defaults = make().pipeline.named_steps["model"].get_params()
    stop = tuning.early_stopping_rounds if REGISTRY[name].early_stopping else None
    stop_at = time.perf_counter() + seconds
    # The proof (a CV of the tuned point on every row) is reserved up front, at the untuned CV's cost.
    proof = 1.2 * untuned.fit_seconds
    tune_until = stop_at - proof
    # The fine grid and Optuna run on as many rows as let a few full trials fit in their share; the coarse grid halves up to it.
    tuning_seconds = max(0.0, tune_until - time.perf_counter())
    later = sum(tuning.budget_shares.get(p, 0.0) for p in tuning.phases if p in ("fine", "optuna"))
    later_seconds = tuning_seconds * later / (sum(tuning.budget_shares.get(p, 0.0) for p in tuning.phases) or 1.0)
    rows = rows or tuning_rows(len(y), untuned.fit_seconds, later_seconds or tuning_seconds, tuning.halving)

    evaluate = trial_evaluator(name, make, plan, view, seed, tuning, lambda: tune_until)
    result = tune(tuning, name=name, search=dict(spec.search), accepted_params=set(defaults),
                  evaluate=evaluate, metric=metric, deadline=tune_until, gap_limit=plan.gates.train_val_gap, seed=seed,
                  n_rows=len(y), trial_rows=rows, start=start, shared={"cv_rows": view.sample})
    report = {"untuned_cv": untuned.mean, "phases": [p.summary() for p in result.phases], "best_params": result.best_params,
              "best_trial_cv": result.best_value, "early_stopping_rounds": stop, "trial_rows": result.trial_rows or len(y),
              "rows": len(y), "seconds": round(seconds, 1)}
    if result.best_value is None:
        report.update(tuned_cv=None, kept="untuned: no trial finished")
        return None, report, result.trial_tables
    estimate = untuned.fit_seconds if result.seconds_per_row is None else result.seconds_per_row * len(y)
    left = max(0.0, min(stop_at - time.perf_counter() + PROOF_SLACK * seconds, ceiling()))
    if estimate > left:
        report.update(tuned_cv=None, kept=f"untuned: the CV of the tuned point on every row would take about {estimate:.0f} s, "
                                          f"{left:.0f} s were left")
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


def trial_evaluator(name: str, make, plan: Plan, view: CVView, seed: int, tuning: TuningSettings, until: Callable[[], float]):
    """``evaluate(params, report, fidelity)``: one trial's CV on the view's folds at a fidelity (a row sample and a share
    of the rounds), pruned after a fold once ``until()`` (``time.perf_counter()``) has passed. The coordinator and
    ``stage=tune_worker`` build it alike, so a trial scores the same whichever process runs it."""
    from specweave_ml.gates import gap

    X, y, fold, weights = view.X, view.y, view.fold, view.weights
    task, metric, cv = plan.task, plan.primary_metric, plan.split.cv_strategy
    defaults = make().pipeline.named_steps["model"].get_params()
    stop = tuning.early_stopping_rounds if REGISTRY[name].early_stopping else None

    def evaluate(params, report, fidelity: Fidelity = Fidelity(None)):
        def checked(step, value):
            if time.perf_counter() > until():  # the candidate's budget is spent: stop this trial after its fold
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

    return evaluate
