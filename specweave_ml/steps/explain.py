"""``stage=explain``: SHAP explanations of the chosen model, global and local."""

from __future__ import annotations

import logging

import numpy as np

from specweave_ml import docs, state
from specweave_ml.context import Context
from specweave_ml.explain.outputs import choose_rows, sample_for_explanation, write
from specweave_ml.explain.shap_values import explain
from specweave_ml.fileio import write_json
from specweave_ml.packaging import load_model
from specweave_ml.steps.common import load_split, planned, split_info
from specweave_ml.tracking import Tracker

log = logging.getLogger(__name__)


def run(ctx: Context) -> dict:
    plan, paths, cfg = planned(ctx), ctx.paths, ctx.cfg.explain
    meta = state.load(paths)
    model = load_model(paths.model, meta.get("model", {}).get("sha256"))
    features = split_info(ctx)["features"]
    train, test = load_split(ctx, "train"), load_split(ctx, "test")
    rng = np.random.default_rng(ctx.seed)
    background = train[features].iloc[np.sort(rng.choice(len(train), size=min(cfg.background_rows, len(train)), replace=False))]
    scores = model.scores(test[features])
    positions = sample_for_explanation(test, scores, cfg.explain_rows, ctx.seed)
    rows = test[features].iloc[positions]
    family = ctx.models[meta["model"]["name"]].family
    explained = explain(model, background, rows, plan.task, family, ctx.seed)
    local = choose_rows(np.asarray(scores)[positions], cfg.local_top, cfg.local_random, ctx.seed)
    summary = write(explained, paths.shap, local, cfg.top_features)
    summary["model"] = meta["model"]["name"]
    summary["local_rows"] = {label: int(test["__row__"].iloc[positions[r]]) for label, r in local.items()}
    write_json(paths.shap_summary, summary)

    tracker = Tracker(ctx.cfg.tracking, ctx.cfg.paths.root)
    tracker.log(meta.get("tracking", {}).get("parent_run_id"), artifacts=sorted(paths.shap.iterdir()), artifact_dir="shap")
    top = ", ".join(t["feature"] for t in summary["top_features"][:3])
    state.set_task(meta, "T-008", state.DONE, f"{summary['explainer']} SHAP on {summary['rows_explained']} test rows; top: {top}")
    state.save(paths, meta)
    docs.write_all(paths, plan, ctx.problem, meta)
    log.info("explained %s with %s SHAP: top features %s", plan.increment, summary["explainer"], top)
    return summary
