"""``stage=explain``: the family explains the chosen model (SHAP for tabular models), globally and locally."""

from __future__ import annotations

import logging

from specweave_ml import docs, state
from specweave_ml.context import Context
from specweave_ml.packaging import load_model
from specweave_ml.results import Explanation, Trained
from specweave_ml.steps.common import load_split, planned, split_info
from specweave_ml.tracking import Tracker

log = logging.getLogger(__name__)


def run(ctx: Context) -> Explanation:
    plan, paths, family = planned(ctx), ctx.paths, ctx.trainable_family()
    meta, trained = state.load(paths), Trained.require(paths.root)
    model = load_model(paths.model, meta.get("model", {}).get("sha256"))
    train, test = load_split(ctx, "train"), load_split(ctx, "test")
    name = meta["model"]["name"]
    summary = family.explain(model, name, train, test, split_info(ctx), plan, ctx.cfg.explain, ctx.seed, paths.shap)
    top = ", ".join(t["feature"] for t in summary["top_features"][:3])
    known = {"explainer", "rows_explained", "top_features", "files", "local_rows"}
    result = Explanation(model=name, **{k: summary[k] for k in known if k in summary},
                         extra={k: v for k, v in summary.items() if k not in known},
                         model_sha256=meta["model"]["sha256"],
                         tasks={"T-008": {"status": state.DONE, "note": f"{summary['explainer']} "
                                          f"{family.notes['explanations']} on {summary['rows_explained']} test rows; top: {top}"}})
    state.record(paths, meta, result)
    Tracker(ctx.cfg.tracking, ctx.cfg.paths.root).log(trained.tracking.get("parent_run_id"),
                                                      artifacts=sorted(paths.shap.iterdir()), artifact_dir="shap")
    state.save(paths, meta)
    docs.write_all(paths, plan, ctx.problem)
    log.info("explained %s with %s: top features %s", plan.increment, summary["explainer"], top)
    return result
