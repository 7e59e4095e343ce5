"""Phased hyperparameter tuning: a coarse grid, a fine grid around its best point, then Optuna.

Every phase is an Optuna study in one storage (SQLite under the increment by default), so a run that is
interrupted (Ctrl-C, a kill) resumes where it stopped and keeps every finished trial. With a database server
(``tuning.storage=postgresql://...``) ``stage=tune_worker`` processes join the grid and Optuna phases while this
run coordinates them (``training/shared_study.py``: ownership, heartbeats, one retry of a killed trial); the coarse
phase's successive halving stays with this run, since each rung waits on the whole rung before. Every trial is
scored by cross-validation on the training split only; boosted trees stop early on the last rows of each
fold's training part; hopeless trials are pruned after a fold (median pruner).

The coarse grid runs as successive halving (``training/halving.py``): the model's ``search.portfolio``
(configurations known to work across data sets) and every grid point on a row sample with few rounds,
the best third promoted to three times the rows, up to the rows the fine grid and Optuna use (chosen
so that several full trials fit in their share of the budget). When the coarse grid is not among the
phases, the portfolio alone is evaluated first (a ``portfolio`` phase).

The fine grid takes each coarse parameter's best value and its neighbours at ±20% (±1 at least for
integers), the methodology's own example (500 -> 400, 500, 600; 6 -> 5, 6, 7; 0.1 -> 0.08, 0.1, 0.12).
When the best point so far overfits (train/validation gap above the gate), the next phase moves towards
regularisation: the fine grid steps only the regularising way, and Optuna's bounds are cut at the best
value on the overfitting side (shallower trees, larger minimum leaf size, stronger L2, more subsampling).
"""

from __future__ import annotations

import logging
import math
import time
from dataclasses import dataclass, field
from typing import Any, Callable, Optional

import numpy as np

from specweave_ml.metrics import METRICS
from specweave_ml.training import shared_study
from specweave_ml.training.halving import Fidelity, HalvingSettings, tuning_floor
from specweave_ml.training.shared_study import stale_trials  # noqa: F401  (re-exported: the patience rule's count)

log = logging.getLogger(__name__)

# evaluate(params, report[, fidelity]) -> (cv mean, cv std, train/validation gap); report(fold, score) may prune the
# trial. The fidelity (a Fidelity: rows, share of rounds) is passed only when tune() is given ``n_rows``.
Evaluate = Callable[..., tuple[float, float, float]]


@dataclass
class TuningSettings:
    """How to tune, the same for every candidate (see ``conf/tuning/``)."""

    phases: list[str]  # in order, from coarse, fine, optuna
    budget_seconds: float  # for all candidates together
    budget_shares: dict  # phase -> its share of a candidate's time
    max_trials: dict  # phase -> most trials
    early_stopping_rounds: int  # boosted trees stop when this many rounds do not improve
    train_score_rows: int  # rows scored to measure a trial's train/validation gap
    storage_url: str  # the Optuna storage every phase's study lives in (resumable)
    study_prefix: str
    pruner: str = "median"  # median | none
    patience: int = 0  # a grid or Optuna phase stops after this many finished trials without a better one (0: never)
    sampler: str = "tpe"  # the Optuna phase's sampler: tpe | random
    halving: HalvingSettings = field(default_factory=HalvingSettings)
    heartbeat_seconds: float = 10.0  # a running trial records it is alive this often; 3 missed: failed and retried once


@dataclass
class PhaseResult:
    phase: str
    study: str
    trials_finished: int
    trials_pruned: int
    best_value: Optional[float]
    best_params: dict
    best_gap: Optional[float]
    seconds: float
    regularised: bool
    curve: list[float] = field(default_factory=list)  # best value so far, trial by trial
    fidelity: str = "all rows"  # what one trial cost: rows and share of boosting rounds (rung by rung for halving)
    rungs: list[dict] = field(default_factory=list)  # successive halving: each rung's rows, points, promoted
    comparable: bool = True  # best_value measured at the fidelity the later phases use
    stopped_early: bool = False  # the patience rule ended it
    workers: dict = field(default_factory=dict)  # finished trials per process (host:pid): tune_worker processes included

    def summary(self) -> dict:
        return {k: v for k, v in self.__dict__.items()}


@dataclass
class TuningResult:
    model: str
    phases: list[PhaseResult]
    best_params: dict
    best_value: Optional[float]
    trial_tables: dict  # phase -> DataFrame of its trials
    trial_rows: Optional[int] = None  # the rows of a full-fidelity trial (None: all)
    seconds_per_row: Optional[float] = None  # what a full-rounds trial cost per row, measured (None: none finished)


def _searchable(space: dict, accepted: set[str]) -> dict:
    return {k: v for k, v in (space or {}).items() if k in accepted}


def neighbours(value, regularise: Optional[str]) -> list:
    """The fine-grid values around ``value``: ±20% (±1 for integers), or two steps the regularising way."""
    is_int = isinstance(value, (int, np.integer)) and not isinstance(value, bool)

    def step(k: int):
        if is_int:
            return max(1, int(value) + k * max(1, round(abs(value) * 0.2)))
        return float(value) * (1 + 0.2 * k)

    if regularise == "down":
        vals = [step(-2), step(-1), value]
    elif regularise == "up":
        vals = [value, step(1), step(2)]
    else:
        vals = [step(-1), value, step(1)]
    out = []
    for v in vals:
        v = int(v) if is_int else round(float(v), 10)
        if v not in out and (not isinstance(v, float) or v > 0):
            out.append(v)
    return out


def fine_grid(coarse: dict, best: dict, regularise: dict, overfitting: bool) -> dict:
    grid = {}
    for name in coarse:
        direction = regularise.get(name) if overfitting else None
        value = best.get(name, coarse[name][len(coarse[name]) // 2])
        if name in ("subsample", "colsample_bytree", "max_features") and isinstance(value, float):
            grid[name] = [min(v, 1.0) for v in neighbours(value, direction)]
        else:
            grid[name] = neighbours(value, direction)
    return grid


def optuna_space(space: dict, best: dict, regularise: dict, overfitting: bool) -> dict:
    """The Optuna space, its bounds cut at the best value on the overfitting side when it overfits."""
    out = {}
    for name, spec in space.items():
        spec = dict(spec)
        if overfitting and name in best and name in regularise and spec.get("type") in ("int", "float"):
            if regularise[name] == "down":
                spec["high"] = max(spec["low"], min(spec["high"], best[name]))
            else:
                spec["low"] = min(spec["high"], max(spec["low"], best[name]))
        out[name] = spec
    return out


def _suggest(trial, name: str, spec: dict):
    kind = spec.get("type", "float")
    if kind == "int":
        return trial.suggest_int(name, int(spec["low"]), int(spec["high"]), log=bool(spec.get("log", False)))
    if kind == "float":
        return trial.suggest_float(name, float(spec["low"]), float(spec["high"]), log=bool(spec.get("log", False)))
    return trial.suggest_categorical(name, list(spec["choices"]))


def _clipped(params: dict, space: dict) -> dict:
    """The best point so far as a first Optuna trial, moved inside the space's bounds."""
    out = {}
    for name, spec in space.items():
        if name not in params:
            continue
        value = params[name]
        if spec.get("type", "float") in ("int", "float"):
            value = min(max(value, spec["low"]), spec["high"])
            value = int(round(value)) if spec.get("type") == "int" else float(value)
        elif value not in spec.get("choices", []):
            continue
        out[name] = value
    return out


def storage_for(url: str, heartbeat_seconds: float = 10.0):
    """The storage every phase's study lives in (see ``shared_study.storage_for``)."""
    return shared_study.storage_for(url, heartbeat_seconds)


@dataclass
class PhaseSearch:
    """What one phase searches: a grid (coarse, fine) or an Optuna space, with its sampler and trial target."""

    grid: Optional[dict]
    space: Optional[dict]
    sampler: Any
    trials: int

    def suggest(self, trial) -> dict:
        if self.grid is not None:
            return {k: trial.suggest_categorical(k, list(v)) for k, v in self.grid.items()}
        return {k: _suggest(trial, k, s) for k, s in self.space.items()}


def _phase_seconds(settings: TuningSettings, index: int, deadline: float) -> float:
    """This phase's share of the time left, out of the shares of the phases still to run."""
    phase, later = settings.phases[index], settings.phases[index:]
    left_shares = sum(settings.budget_shares.get(p, 0.0) for p in later) or 1.0
    return max(0.0, deadline - time.perf_counter()) * settings.budget_shares.get(phase, 0.0) / left_shares


def _phase_search(phase: str, settings: TuningSettings, coarse: dict, space: dict, current: dict, regularise: dict,
                  overfitting: bool, seed: int) -> Optional[PhaseSearch]:
    """The coarse grid, the fine grid around ``current``, or the Optuna space; None when there is nothing to search."""
    if phase in ("coarse", "fine"):
        grid = coarse if phase == "coarse" else fine_grid(coarse, current, regularise, overfitting)
        if not grid:
            return None
        return PhaseSearch(grid, None, phase_sampler("grid", seed, 0),
                            min(settings.max_trials[phase], math.prod(len(v) for v in grid.values())))
    if not space:
        return None
    cap = settings.max_trials[phase]
    return PhaseSearch(None, optuna_space(space, current, regularise, overfitting), phase_sampler(settings.sampler, seed, cap), cap)


def phase_sampler(kind: str, seed: int, cap: int):
    """The sampler of a phase: grid points are queued up front (``_queue_grid``), so a grid phase's sampler never
    picks; the Optuna phase samples with TPE (random search with ``tuning.sampler=random``)."""
    import optuna

    if kind in ("grid", "random"):
        return optuna.samplers.RandomSampler(seed=seed)
    return optuna.samplers.TPESampler(seed=seed, n_startup_trials=min(8, max(2, cap // 4)))


def _queue_grid(study, grid: dict, trials: int, seed: int, up_front: bool = True) -> list[dict]:
    """Queue the grid points the phase runs (the first ``trials`` in an order shuffled by the seed), except those a
    resumed study finished, runs or has queued: every process then only claims queued points, so none runs twice.
    Queued points of another grid (a resumed study whose best point moved) are dropped (failed, never run). Without
    ``up_front`` (a SQLite file: no worker can join) nothing is queued and the points still to run are returned, to be
    queued one at a time (a commit per point up front would eat a short phase's time)."""
    import itertools

    from optuna.trial import TrialState

    points = [dict(zip(grid, values)) for values in itertools.product(*grid.values())]
    chosen = [shared_study.plain(points[i]) for i in np.random.default_rng(seed).permutation(len(points))[:trials]]
    taken = []
    for t in study.get_trials(deepcopy=False, states=(TrialState.COMPLETE, TrialState.PRUNED, TrialState.RUNNING, TrialState.WAITING)):
        params = shared_study.plain({**t.system_attrs.get("fixed_params", {}), **t.params})
        if t.state == TrialState.WAITING and params not in chosen:
            study._storage.set_trial_state_values(t._trial_id, state=TrialState.FAIL)
            continue
        taken.append(params)
    missing = [point for point in chosen if point not in taken]
    if not up_front:
        return missing
    for point in missing:
        study.enqueue_trial(point)
    return []


def phase_pruner(kind: str):
    """Hopeless trials stop after a fold (median pruner), the same in every process."""
    import optuna

    return optuna.pruners.MedianPruner(n_startup_trials=3, n_warmup_steps=1) if kind == "median" else optuna.pruners.NopPruner()


def _open_study(settings: TuningSettings, name: str, phase: str, sampler, storage, direction: str):
    """The phase's study, created or resumed from the storage; the trials of processes that are gone are failed
    (and, for shared phases, queued again once), live trials of other processes are left running."""
    import optuna

    study = optuna.create_study(study_name=f"{settings.study_prefix}.{name}.{phase}", storage=storage, sampler=sampler,
                                pruner=phase_pruner(settings.pruner), direction=direction, load_if_exists=True)
    shared_study.fail_stale(study, legacy=True)
    return study


def objective_for(search: PhaseSearch, current: dict, evaluate: Evaluate):
    """One trial: the phase's suggestion on top of the best point so far, cross-validated by ``evaluate``."""
    import optuna

    def objective(trial):
        params = search.suggest(trial)

        def report(step: int, value: float) -> None:
            trial.report(value, step)
            if trial.should_prune():
                raise optuna.TrialPruned()

        mean, std, gap = evaluate({**current, **params}, report)
        trial.set_user_attr("cv_std", std)
        trial.set_user_attr("gap", gap)
        return mean

    return objective


def _run_phase(study, search: PhaseSearch, objective, seconds: float, deadline: float, patience: int,
               better: Callable[[float, float], bool], spec: dict, shared: bool) -> tuple[float, bool]:
    """Run a grid or Optuna phase as its coordinator; return the seconds spent and whether the patience rule ended it.

    The phase is published to ``stage=tune_worker`` processes (``spec``: what they need to run its trials) and
    trials are counted across every process; it ends when its trials are taken, its time is up or patience ends
    it, then it is closed and the trials still running elsewhere may finish (until ``deadline``) before it is read.
    A resumed study keeps its finished trials and owes only the rest. Without ``shared`` (a SQLite file) nothing is
    published and grid points are queued one at a time."""
    start = time.perf_counter()
    stop_at = min(start + max(0.0, seconds), deadline)
    if stop_at <= start:  # no time left for this phase: nothing to queue or publish
        return 0.0, False
    pending = [] if search.grid is None else _queue_grid(study, search.grid, search.trials, spec.get("seed", 0), shared)

    def refill() -> bool:  # the next grid point queued; False when none is left
        if not pending:
            return False
        study.enqueue_trial(pending.pop(0))
        return True

    if shared:
        shared_study.publish(study, seconds_left=stop_at - start, deadline_left=deadline - start, shared=True,
                             grid=search.grid, space=search.space, target=search.trials, **spec)
    try:
        stopped = shared_study.run_trials(study, objective, target=search.trials, grid=search.grid is not None, stop_at=stop_at,
                                          patience=patience, better=better, wait=True, refill=refill)
    finally:
        if shared:
            shared_study.close(study)
    shared_study.wait_for_running(study, deadline)
    return time.perf_counter() - start, stopped


def _phase_result(phase: str, study, seconds: float, regularised: bool, better: Callable[[float, float], bool]) -> PhaseResult:
    complete = [t for t in study.trials if t.state.name == "COMPLETE"]
    pruned = [t for t in study.trials if t.state.name == "PRUNED"]
    curve, running = [], None
    for t in complete:
        running = t.value if running is None or better(t.value, running) else running
        curve.append(running)
    best = study.best_trial if complete else None
    return PhaseResult(
        phase=phase, study=study.study_name, trials_finished=len(complete), trials_pruned=len(pruned),
        best_value=None if best is None else best.value,
        best_params={} if best is None else dict(best.params),
        best_gap=None if best is None else best.user_attrs.get("gap"),
        seconds=round(seconds, 1), regularised=regularised, curve=curve, workers=shared_study.workers_of(study),
    )


def tune(
    settings: TuningSettings,
    *,
    name: str,
    search: dict,
    accepted_params: set[str],
    evaluate: Evaluate,
    metric: str,
    deadline: float,
    gap_limit: float,
    seed: int,
    n_rows: Optional[int] = None,
    trial_rows: Optional[int] = None,
    start: Optional[dict] = None,
    shared: Optional[dict] = None,
) -> TuningResult:
    """Run ``settings.phases`` for the model ``name``. ``evaluate(params, report)`` returns (cv mean, cv std, gap).

    ``search`` is the model's search space (``portfolio``, ``coarse``, ``optuna``, ``regularise``), restricted to
    the ``accepted_params`` of its estimator. Each phase gets its share of the time left until ``deadline``
    (``time.perf_counter()`` clock); a trial started within its phase may finish, and no trial starts after
    ``deadline``. A best point whose train/validation gap is above ``gap_limit`` moves the next phase towards
    regularisation. With ``n_rows`` (the training rows) the evaluation is multi-fidelity: ``evaluate(params,
    report, fidelity)``; the coarse grid halves over row samples up to ``trial_rows``, the rows every fine-grid
    and Optuna trial uses (None or ``n_rows``: all). ``shared`` is published with each phase for ``stage=tune_worker``
    (what it needs to rebuild ``evaluate``, e.g. the rows the candidates are cross-validated on).
    """
    import optuna

    from specweave_ml.training.coarse import halving_phase, points_of

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    direction = "maximize" if METRICS[metric].greater_is_better else "minimize"
    better = (lambda a, b: a > b) if direction == "maximize" else (lambda a, b: a < b)
    storage = storage_for(settings.storage_url, settings.heartbeat_seconds)
    coarse = _searchable(search.get("coarse"), accepted_params)
    space = _searchable(search.get("optuna"), accepted_params)
    regularise = search.get("regularise") or {}
    fidelity_aware = n_rows is not None
    top_rows = None if not fidelity_aware or trial_rows is None or trial_rows >= n_rows else int(trial_rows)
    full = Fidelity(top_rows)
    costs: list[tuple[float, int, float]] = []  # (seconds, rows, rounds share) of every evaluation that finished

    def timed(params, report, *fidelity):
        start = time.perf_counter()
        out = evaluate(params, report, *fidelity)
        at = fidelity[0] if fidelity else Fidelity(None)
        costs.append((time.perf_counter() - start, at.rows or n_rows or 1, at.rounds_share))
        return out

    def call(params, report):
        return timed(params, report, full) if fidelity_aware else timed(params, report)
    best_params, best_value, best_gap = dict(start or {}), None, None  # ``start``: the best point of an earlier pass
    results, tables = [], {}
    phases = list(settings.phases)
    if "coarse" not in phases and search.get("portfolio"):
        phases.insert(0, "portfolio")

    for index, phase in enumerate(phases):
        seconds = _phase_seconds(settings, max(0, index - (len(phases) - len(settings.phases))), deadline) \
            if phase != "portfolio" else 0.3 * max(0.0, deadline - time.perf_counter())
        overfitting = best_gap is not None and best_gap > gap_limit
        if phase in ("coarse", "portfolio"):
            points = points_of(coarse if phase == "coarse" else {}, search.get("portfolio") or [], accepted_params,
                             settings.max_trials.get("coarse", 27))
            if not points:
                continue
            study = _open_study(settings, name, phase, None, storage, direction)
            study.set_user_attr(shared_study.ATTR, {"shared": False, "state": "closed", "model": name, "phase": phase})
            result, seed_params = halving_phase(phase, points, settings, study, timed, fidelity_aware, top_rows,
                                                 time.perf_counter() + seconds, deadline, better)
            if seed_params is not None and not best_params:
                best_params = dict(seed_params)
            if result.comparable and result.best_value is not None and (best_value is None or better(result.best_value, best_value)):
                best_value, best_params, best_gap = result.best_value, dict(seed_params), result.best_gap
            tables[phase] = study.trials_dataframe(attrs=("number", "value", "user_attrs", "state", "duration"))
            resized = _resized(top_rows, n_rows, costs, deadline, settings) if fidelity_aware else top_rows
            if resized != top_rows:  # the trials cost other than the estimate: later phases get the rows that fit
                top_rows, full = resized, Fidelity(resized)
                best_value, best_gap = None, None  # not comparable at the new fidelity; its point is re-evaluated there
        else:
            phase_search = _phase_search(phase, settings, coarse, space, best_params, regularise, overfitting, seed)
            if phase_search is None:
                continue
            study = _open_study(settings, name, phase, phase_search.sampler, storage, direction)
            if phase_search.grid is None and best_params and not study.trials:
                study.enqueue_trial(_clipped(best_params, phase_search.space), skip_if_exists=True)
            spec = {"model": name, "phase": phase, "current": best_params, "rows": full.rows, "seed": seed,
                    "sampler": settings.sampler, "direction": direction, **(shared or {})}
            spent, stale = _run_phase(study, phase_search, objective_for(phase_search, best_params, call), seconds, deadline,
                                      settings.patience, better, spec, shared_study.is_server(settings.storage_url))
            result = _phase_result(phase, study, spent, overfitting, better)
            result.stopped_early = stale
            result.fidelity = full.describe()
            if result.best_value is not None and (best_value is None or better(result.best_value, best_value)):
                best_value, best_params, best_gap = result.best_value, {**best_params, **result.best_params}, result.best_gap
            table = study.trials_dataframe(attrs=("number", "value", "params", "user_attrs", "state", "duration"))
            tables[phase] = table[table["state"] != "WAITING"] if "state" in table else table
        results.append(result)
        log.info("%s %s: %d trials (%d pruned) at %s, best %s %.4f%s%s", name, phase, result.trials_finished, result.trials_pruned,
                 result.fidelity, metric, result.best_value if result.best_value is not None else float("nan"),
                 " (moved towards regularisation)" if overfitting else "",
                 f"; trials per process: {', '.join(f'{w} {n}' for w, n in result.workers.items())}" if len(result.workers) > 1 else "")
    measured = _per_row(costs)
    per_row = float(np.median(measured)) if measured else None
    return TuningResult(model=name, phases=results, best_params=best_params, best_value=best_value, trial_tables=tables,
                        trial_rows=top_rows, seconds_per_row=per_row)


def _per_row(costs: list) -> list[float]:
    """Seconds per row of the full-rounds evaluations on the most rows: smaller samples overstate it (fixed costs), and
    so does scaling a capped-rounds evaluation up (early stopping and fixed costs do not grow with the rounds)."""
    usable = [(sec, rows) for sec, rows, share in costs if share >= 1 and rows]
    most = max((rows for _, rows in usable), default=0)
    return [sec / rows for sec, rows in usable if rows == most]


def _resized(top_rows: Optional[int], n_rows: int, costs: list, deadline: float, settings: TuningSettings) -> Optional[int]:
    """The rows of the fine grid and Optuna once the coarse phase has measured what a trial costs: as many as let
    ``target_trials`` trials fit in the time left (a trial at a share of the rounds counted at full rounds). Kept
    when within 25% of ``top_rows``; None means every row."""
    measured = _per_row(costs)
    left = deadline - time.perf_counter()
    if not measured or left <= 0:
        return top_rows
    rows = int(left / (settings.halving.target_trials * float(np.median(measured))))
    rows = max(tuning_floor(n_rows, settings.halving), min(n_rows, rows))
    current = top_rows or n_rows
    if abs(rows - current) <= 0.25 * current:
        return top_rows
    return None if rows >= n_rows else rows
