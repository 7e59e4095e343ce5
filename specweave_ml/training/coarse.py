"""The coarse phase as successive halving over the portfolio and the grid, each evaluation a trial of the phase's
resumable Optuna study (its point, rung and fidelity in the trial's user attributes; finished ones are not rerun).

It runs in the coordinating process only, never in ``stage=tune_worker``: each rung needs the whole rung before it
ranked, so a worker could only wait; the study is marked not shared (its killed trials are failed, not retried)."""

from __future__ import annotations

import time
from typing import Optional

from specweave_ml.training import shared_study
from specweave_ml.training.halving import Fidelity, rung_fidelities, successive_halving
from specweave_ml.training.tuning import Evaluate, PhaseResult, TuningSettings


def points_of(coarse: dict, portfolio: list, accepted: set[str], cap: int) -> list[dict]:
    """The portfolio first (its settings the estimator accepts), then the grid (at most ``cap`` points), no repeats."""
    import itertools

    grid = [dict(zip(coarse, values)) for values in itertools.product(*coarse.values())][:cap] if coarse else []
    out = []
    for point in [{k: v for k, v in dict(p).items() if k in accepted} for p in portfolio or []] + grid:
        if point not in out:
            out.append(point)
    return out


def halving_phase(phase: str, points: list[dict], settings: TuningSettings, study, evaluate: Evaluate, fidelity_aware: bool,
                   top_rows: Optional[int], phase_end: float, deadline: float, better) -> tuple[PhaseResult, Optional[dict]]:
    """Successive halving over ``points``, every evaluation a trial of ``study`` (resumed ones are not rerun)."""
    import json

    import optuna
    from optuna.trial import TrialState

    start = time.perf_counter()
    keys = [json.dumps(p, sort_keys=True, default=str) for p in points]
    done = {(t.user_attrs.get("point"), t.user_attrs.get("rows"), t.user_attrs.get("rounds_share")): t.value
            for t in study.get_trials(deepcopy=False, states=(TrialState.COMPLETE,))}

    def run(point: int, rung: int, fidelity: Fidelity) -> Optional[float]:
        key = (keys[point], fidelity.rows, fidelity.rounds_share)
        if key in done:
            return done[key]
        trial = shared_study.ask(study)  # its process recorded: a rerun fails it only once that is gone
        for k, v in (("point", keys[point]), ("rung", rung), ("rows", fidelity.rows), ("rounds_share", fidelity.rounds_share),
                     *((f"param_{n}", v) for n, v in points[point].items())):
            trial.set_user_attr(k, v)
        args = (points[point], lambda step, value: None) + ((fidelity,) if fidelity_aware else ())
        try:
            mean, std, gap = evaluate(*args)
        except optuna.TrialPruned:
            study.tell(trial, state=TrialState.PRUNED)
            return None
        trial.set_user_attr("cv_std", std)
        trial.set_user_attr("gap", gap)
        study.tell(trial, mean)
        return mean

    fidelities = rung_fidelities(len(points), top_rows, settings.halving)
    h = settings.halving
    found = successive_halving(len(points), fidelities, run, lambda: time.perf_counter() >= min(phase_end, deadline),
                               h.eta, better(1.0, 0.0))
    trials = [t for t in study.trials if t.user_attrs.get("point") in keys]
    last = found.rungs[-1] if found.rungs else None
    curve, running = [], None
    for point in (last.points if last else []):
        value = last.scores.get(point)
        if value is not None:
            running = value if running is None or better(value, running) else running
            curve.append(running)
    best = found.best
    result = PhaseResult(
        phase=phase, study=study.study_name, trials_finished=sum(t.state.name == "COMPLETE" for t in trials),
        trials_pruned=sum(t.state.name == "PRUNED" for t in trials),
        best_value=None if best is None else last.scores[best], best_params={} if best is None else dict(points[best]),
        best_gap=None if best is None else _gap_of(study, keys[best], last.fidelity), seconds=round(time.perf_counter() - start, 1),
        regularised=False, curve=curve, fidelity=" -> ".join(f"{len(r.points)} x {r.fidelity.describe()}" for r in found.rungs),
        rungs=[r.summary() for r in found.rungs], comparable=best is not None and last.fidelity == fidelities[-1],
    )
    return result, None if best is None else dict(points[best])


def _gap_of(study, key: str, fidelity: Fidelity) -> Optional[float]:
    for t in study.trials:
        if t.state.name == "COMPLETE" and t.user_attrs.get("point") == key and t.user_attrs.get("rows") == fidelity.rows \
                and t.user_attrs.get("rounds_share") == fidelity.rounds_share:
            return t.user_attrs.get("gap")
    return None
