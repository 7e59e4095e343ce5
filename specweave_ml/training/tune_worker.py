"""A tuning worker: joins the open grid and Optuna phases of one increment's shared studies and runs their trials.

The coordinating run (``stage=train`` or ``all`` with a server ``tuning.storage``) publishes each phase it opens
(``shared_study.publish``): the model, the grid or the Optuna space, the base point the suggestion sits on, the rows
a trial uses, the trial target and wall-clock ends. The worker rebuilds the same ``evaluate`` (``evaluator_for``,
from the increment's prepared split and folds), so a trial scores the same in any process, and runs trials through
the same loop as the coordinator (``shared_study.run_trials``): claims queued grid points or retries, asks for new
Optuna trials while fewer than the target are taken across every process, stops once the phase is closed. It leaves
when the coordinator marks the tuning run finished, or after ``idle_seconds`` without an open phase.
"""

from __future__ import annotations

import logging
import time
import zlib
from dataclasses import dataclass, field
from typing import Callable, Optional

from specweave_ml.training import shared_study
from specweave_ml.training.halving import Fidelity
from specweave_ml.training.tuning import TuningSettings, objective_for, PhaseSearch, phase_pruner, phase_sampler

log = logging.getLogger(__name__)

# evaluator_for(model, cv_rows, until) -> evaluate(params, report, fidelity), as training.train.trial_evaluator builds it
EvaluatorFor = Callable[[str, Optional[int], Callable[[], float]], Callable]


@dataclass
class WorkerReport:
    trials: int = 0  # finished (complete or pruned) by this process
    failed: int = 0
    phases: dict = field(default_factory=dict)  # study name -> trials this process finished in it
    reason: str = ""  # why it left


def _perf_at(epoch: float) -> float:
    """A wall-clock time (what processes share) on this process's ``time.perf_counter()`` clock."""
    return time.perf_counter() + (epoch - time.time())


def join_phase(storage, name: str, spec: dict, evaluator_for: EvaluatorFor, settings: TuningSettings, metric: str,
               report: WorkerReport) -> int:
    """Run trials of the open phase study ``name`` until it has none left for this process; the trials it finished."""
    import optuna

    me = shared_study.me()["worker"]
    grid = spec.get("grid")
    # Each process samples with its own seed: the same seed everywhere would propose the same points at once.
    sampler = phase_sampler("grid" if grid is not None else spec.get("sampler", "tpe"),
                            int(spec.get("seed", 0)) + zlib.crc32(me.encode()) % 100_000, int(spec["target"]))
    study = optuna.load_study(study_name=name, storage=storage, sampler=sampler, pruner=phase_pruner(settings.pruner))
    until = _perf_at(float(spec["deadline_at"]))
    evaluate = evaluator_for(spec["model"], spec.get("cv_rows"), lambda: until)
    fidelity = Fidelity(spec.get("rows"))
    search = PhaseSearch(grid, spec.get("space"), sampler, int(spec["target"]))
    objective = objective_for(search, dict(spec.get("current") or {}), lambda params, rep: evaluate(params, rep, fidelity))
    before = report.trials

    def still_open() -> bool:
        return (study.user_attrs.get(shared_study.ATTR) or {}).get("state") == "open"

    def finished(trial) -> None:
        if trial.state.name == "FAIL":
            report.failed += 1
            return
        report.trials += 1
        report.phases[name] = report.phases.get(name, 0) + 1
        value = "-" if trial.value is None else f"{trial.value:.4f}"
        log.info("tune_worker %s: %s %s trial %d %s, %s %s %s", me, spec["model"], spec["phase"], trial.number,
                 trial.state.name.lower(), metric, value, trial.params)

    shared_study.run_trials(study, objective, target=int(spec["target"]), grid=grid is not None,
                            stop_at=min(_perf_at(float(spec["ends_at"])), until), still_open=still_open, on_trial=finished)
    return report.trials - before


def work(storage, prefix: str, evaluator_for: EvaluatorFor, settings: TuningSettings, metric: str,
         idle_seconds: float, poll_seconds: float = 1.0) -> WorkerReport:
    """Join open phases until the coordinator's tuning run is finished or ``idle_seconds`` pass with none open."""
    import optuna

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    report = WorkerReport()
    first = shared_study.run_state(storage, prefix)
    seen: Optional[str] = first.get("id") if first.get("state") == "running" else None
    idle_since = time.monotonic()
    while True:
        phases = shared_study.open_phases(storage, prefix)
        for name, spec in phases:
            join_phase(storage, name, spec, evaluator_for, settings, metric, report)
        if phases:
            idle_since = time.monotonic()
        run = shared_study.run_state(storage, prefix)
        if run.get("state") == "running":
            seen = run.get("id")
        elif run.get("state") == "finished" and (run.get("id") == seen or run.get("id") != first.get("id")):
            report.reason = "the coordinating run finished tuning"
            return report
        if time.monotonic() - idle_since > idle_seconds:
            report.reason = f"no phase was open for {idle_seconds:g} s (tuning.worker_idle_seconds)"
            return report
        time.sleep(poll_seconds)
