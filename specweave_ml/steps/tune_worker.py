"""``stage=tune_worker``: run trials of an increment's shared tuning from another process or machine.

``python -m specweave_ml stage=tune_worker problem=<brief> tuning=phased tuning.storage=postgresql://...`` (composed
like the coordinating run, so the study names match) loads the split and folds ``stage=prepare`` wrote, rebuilds the
candidates' trial evaluation and joins the open phases (``training/tune_worker.py``). It writes nothing under the
increment and takes no lock: every result goes to the shared storage, which the coordinator reads.
"""

from __future__ import annotations

import logging
import time

from specweave_ml import state
from specweave_ml.context import Context
from specweave_ml.errors import ConfigError
from specweave_ml.metrics import CLASSIFICATION
from specweave_ml.steps.common import load_split, planned, split_info
from specweave_ml.steps.train import tuning_settings
from specweave_ml.training.shared_study import is_server, storage_for
from specweave_ml.training.train import model_maker, sampled_view, targets, trial_evaluator
from specweave_ml.training.tune_worker import WorkerReport, work

log = logging.getLogger(__name__)

SERVER_FIX = ("start a PostgreSQL server every machine reaches, create a database, and pass the same "
              "tuning.storage=postgresql://USER:PASSWORD@HOST:PORT/DATABASE to the coordinating run and to every worker")


def check(ctx: Context) -> None:
    """What a worker needs before it reads any data: a shared server storage, tuning phases, a tabular brief."""
    t = ctx.tuning
    if not is_server(t.storage):
        raise ConfigError("tuning.storage", f"stage=tune_worker needs a database server several processes share, got "
                          f"{t.storage or 'null (a SQLite file under the increment)'}", SERVER_FIX)
    if not t.phases:
        raise ConfigError("tuning", f"tuning={t.name} has no phases: a worker has nothing to join",
                          "compose the worker like the coordinating run, e.g. tuning=phased")
    family = ctx.trainable_family()
    if not getattr(family, "shares_tuning", False):
        raise ConfigError("stage", f"stage=tune_worker joins the tuning of tabular briefs; this brief is {family.name}",
                          "tune this brief in its own run (stage=train)")


def run(ctx: Context) -> WorkerReport:
    check(ctx)
    plan = planned(ctx)  # a brief that was never prepared ends here, with the stage to run first
    info, frame = split_info(ctx), load_split(ctx, "train")
    settings = tuning_settings(ctx, time.perf_counter())
    features, task = info["features"], plan.task
    X = frame[features]
    _, y, weights, fold = targets(plan, frame, info["target"], ctx.selection.class_weighting.value, ctx.problem.data.positive_class)
    built: dict = {}

    def evaluator_for(model: str, cv_rows, until):
        if model not in ctx.models:
            raise ConfigError("model", f"the coordinator tunes {model}, which this worker's config does not have",
                              "compose the worker with the coordinating run's problem=, model= and tuning= overrides")
        key = (model, cv_rows)
        if key not in built:
            view = sampled_view(X, y, fold, weights, cv_rows, ctx.seed, task in CLASSIFICATION)
            built[key] = (model_maker(ctx.models[model], task, X, features, ctx.seed), view)
        make, view = built[key]
        return trial_evaluator(model, make, plan, view, ctx.seed, settings, until)

    storage = storage_for(settings.storage_url, settings.heartbeat_seconds)
    prefix = state.study_key(ctx.cfg)
    log.info("tune_worker: joining %s's tuning (studies %s.*) in %s; coarse halving stays with the coordinating run",
             plan.increment, prefix, settings.storage_url.split("@")[-1])
    report = work(storage, prefix, evaluator_for, settings, plan.primary_metric, float(ctx.tuning.worker_idle_seconds))
    log.info("tune_worker: %d trials finished (%s), %d failed; left because %s", report.trials,
             ", ".join(f"{k.rsplit('.', 2)[-2]} {k.rsplit('.', 1)[-1]}: {v}" for k, v in report.phases.items()) or "none",
             report.failed, report.reason)
    return report
