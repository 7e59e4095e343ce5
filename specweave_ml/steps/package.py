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
    version = tracker.register_model(parent, model, example, plan.increment)
    tracker.log(parent, end=True)
    model_meta["registered"] = {"name": plan.increment, "version": version, "alias": "champion"} if version else None
    where = f"registered as {plan.increment} v{version} (alias champion)" if version else "tracking off: not registered"
    state.set_task(meta, "T-009", state.DONE, f"MLflow model at {model_meta['path']} (sha256 {model_meta['sha256'][:12]}); {where}")
    if meta.get("status") == "evaluated":
        meta["status"] = "packaged"
    state.save(paths, meta)
    docs.write_all(paths, plan, ctx.problem, meta)
    log.info("packaged %s: %s", plan.increment, where)
