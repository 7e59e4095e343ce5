"""``stage=package``: register the saved champion in MLflow under the increment's name."""

from __future__ import annotations

import logging

from specweave_ml import docs, state
from specweave_ml.context import Context
from specweave_ml.packaging import load_model
from specweave_ml.steps.common import load_split, planned, split_info
from specweave_ml.tracking import Tracker

log = logging.getLogger(__name__)


def run(ctx: Context) -> None:
    plan, paths = planned(ctx), ctx.paths
    meta = state.load(paths)
    model_meta = meta.get("model", {})
    model = load_model(paths.model, model_meta.get("sha256"))
    example = load_split(ctx, "train")[split_info(ctx)["features"]]
    tracker = Tracker(ctx.cfg.tracking, ctx.cfg.paths.root)
    parent = meta.get("tracking", {}).get("parent_run_id")
    ready = bool((meta.get("results") or {}).get("ready"))
    version = tracker.register_model(parent, model, example, plan.increment, champion=ready)
    tracker.log(parent, end=True)
    alias = "champion" if ready else None
    model_meta["registered"] = {"name": plan.increment, "version": version, "alias": alias} if version else None
    if not version:
        where = "tracking off: not registered"
    elif ready:
        where = f"registered as {plan.increment} v{version} (alias champion)"
    else:
        where = f"registered as {plan.increment} v{version}, NOT made champion: the increment is not ready"
    state.set_task(meta, "T-009", state.DONE, f"MLflow model at {model_meta['path']} (sha256 {model_meta['sha256'][:12]}); {where}")
    if meta.get("status") == "evaluated":
        meta["status"] = "packaged"
    _for_serving(ctx, model, example, meta)
    state.save(paths, meta)
    docs.write_all(paths, plan, ctx.problem, meta)
    log.info("packaged %s: %s", plan.increment, where)


def _for_serving(ctx: Context, model, features, meta: dict) -> None:
    """The drift reference profile and the Dockerfile; the model's entry keeps its family and evaluation for rollback."""
    from specweave_ml.serving.docker import write_dockerfile
    from specweave_ml.serving.reference import write_reference
    from specweave_ml.serving.settings import server_config

    model_meta, serving = meta["model"], ctx.cfg.serving
    spec = ctx.models.get(model_meta["name"])
    model_meta["family"] = spec.family if spec else "other"
    model_meta["results"] = meta.get("results")
    write_reference(ctx.paths, model, features, model_meta, model_meta["family"], serving.drift.bins,
                    ctx.cfg.explain.background_rows, ctx.seed)
    write_dockerfile(ctx.paths, ctx.cfg.paths.root, server_config(serving, ctx.paths, with_challenger=False), model_meta)
