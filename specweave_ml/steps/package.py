"""``stage=package``: register the saved champion in MLflow, profile it for drift, write its Dockerfile."""

from __future__ import annotations

import logging

from specweave_ml import docs, state
from specweave_ml.context import Context
from specweave_ml.packaging import load_model
from specweave_ml.results import Evaluated, Packaged, Trained
from specweave_ml.serving.docker import write_dockerfile
from specweave_ml.serving.settings import server_config
from specweave_ml.steps.common import load_split, planned, split_info
from specweave_ml.tracking import Tracker

log = logging.getLogger(__name__)


def refitted(trained: Trained) -> str:
    refit = trained.refit or {}
    return f", refitted on all {refit['rows']:,} rows" if refit.get("shipped") == "refit" else ""


def run(ctx: Context) -> Packaged:
    plan, paths, family = planned(ctx), ctx.paths, ctx.trainable_family()
    meta, trained = state.load(paths), Trained.require(paths.root)
    model_meta = meta.get("model", {})
    model = load_model(paths.model, model_meta.get("sha256"))
    example = family.example_input(load_split(ctx, "train"), split_info(ctx))
    evaluated = Evaluated.load(paths.root)
    evaluated_sha = model_meta.get("evaluated_sha256") or model_meta["sha256"]  # the shipped model may be its refit on every row
    ready = bool(evaluated and evaluated.model_sha256 == evaluated_sha and evaluated.ready)
    explainer = family.reference(paths, model, example, model_meta, ctx.cfg, ctx.seed)
    write_dockerfile(paths, ctx.cfg.paths.root, server_config(ctx.cfg.serving, paths, with_challenger=False), model_meta)
    # Last of what can fail: the registry, which no rollback of this stage's files could undo.
    tracker = Tracker(ctx.cfg.tracking, ctx.cfg.paths.root)
    parent = trained.tracking.get("parent_run_id")
    version = tracker.register_model(parent, model, example, plan.increment, trained.model["requirements"], champion=ready,
                                     tags={"sha256": model_meta["sha256"]})
    tracker.log(parent, end=True)
    registered = {"name": plan.increment, "version": version, "alias": "champion" if ready else None} if version else None
    where = ("tracking off: not registered" if not version else f"registered as {plan.increment} v{version} (alias champion)"
             if ready else f"registered as {plan.increment} v{version}, NOT made champion: the increment is not ready")
    result = Packaged(model=model_meta["name"], sha256=model_meta["sha256"], registered=registered,
                      reference_profile=paths.relative(paths.reference_profile), dockerfile=paths.relative(paths.dockerfile),
                      tasks={"T-009": {"status": state.DONE, "note": f"MLflow model at {trained.model['path']} "
                                       f"(sha256 {model_meta['sha256'][:12]}{refitted(trained)}); {where}"}})
    model_meta["registered"] = registered
    state.record(paths, meta, result, status="packaged" if meta.get("status") == "evaluated" else None)
    state.save(paths, meta)
    docs.write_all(paths, plan, ctx.problem)
    log.info("packaged %s: %s (the server explains with: %s)", plan.increment, where, explainer)
    return result
