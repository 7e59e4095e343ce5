"""``stage=evaluate``: the chosen model and the baselines scored once on the holdout, and the gates."""

from __future__ import annotations

import logging

import pandas as pd

from specweave_ml import antipatterns as ap
from specweave_ml import docs, state
from specweave_ml.context import Context
from specweave_ml.errors import GateFailed
from specweave_ml.evaluation.holdout import holdout_metrics, predictions_frame
from specweave_ml.evaluation.plots import curve_points, draw
from specweave_ml.fileio import read_json, write_json, write_parquet
from specweave_ml.gates import baseline_gate, cv_spread_gate, overfit_gate
from specweave_ml.metrics import METRICS
from specweave_ml.packaging import load_model
from specweave_ml.steps.common import load_split, planned, require, split_info
from specweave_ml.tracking import Tracker
from specweave_ml.training.baselines import baseline_model
from specweave_ml.data.split import ROW

log = logging.getLogger(__name__)


def collect_findings(ctx, plan, train, test, features, target, cv, training, model) -> list[ap.Finding]:
    """Every anti-pattern check, in the order a reviewer reads them."""
    profile = read_json(ctx.paths.profile)
    return [
        *ap.single_feature_leakage(train, features, target, plan.task, seed=ctx.seed),
        *ap.target_named(features, target),
        *ap.look_ahead(profile["dtypes"], plan.split.time_column, plan.split.strategy),
        *ap.duplicates_across(train, test, features),
        *ap.overfitting(cv),
        *ap.imbalance(plan.imbalanced, plan.minority_share, training["class_weighting"], training["threshold_rule"], plan.primary_metric),
        *ap.from_profile(profile),
        *ap.pipeline_guard(model),
    ]


def run(ctx: Context) -> dict:
    plan, paths = planned(ctx), ctx.paths
    require(paths.cv, "train")
    info, cv, training = split_info(ctx), read_json(paths.cv), read_json(paths.training)
    meta = state.load(paths)
    model = load_model(paths.model, meta.get("model", {}).get("sha256"))
    train, test = load_split(ctx, "train"), load_split(ctx, "test")
    features, target, task = info["features"], info["target"], plan.task
    classes = training["classes"]
    names = [plan.primary_metric, *plan.secondary_metrics]

    scores = model.scores(test[features])
    write_parquet(paths.predictions, predictions_frame(test[ROW], test[target], model.decide(scores), scores, task, classes))
    preds = pd.read_parquet(paths.predictions)  # every number below comes from the saved file
    holdout = holdout_metrics(preds, task, names, classes)

    baselines = {}
    for b in cv["baselines"]:
        dummy = baseline_model(b["name"], task, ctx.seed, classes).fit(train[features], train[target])
        b_scores = dummy.scores(test[features])
        b_preds = predictions_frame(test[ROW], test[target], dummy.decide(b_scores), b_scores, task, classes)
        baselines[b["name"]] = {"cv": b, "holdout": holdout_metrics(b_preds, task, names, classes)["metrics"]}
    metric = plan.primary_metric
    sign = 1 if METRICS[metric].greater_is_better else -1
    best_name = max(baselines, key=lambda n: sign * baselines[n]["holdout"][metric])
    best_score = baselines[best_name]["holdout"][metric]

    chosen_cv = next(c for c in cv["candidates"] if c["name"] == cv["chosen"])
    g = plan.gates
    gates = [
        baseline_gate(metric, holdout["metrics"][metric], best_name, best_score, g.baseline_margin),
        cv_spread_gate(metric, chosen_cv["folds"], g.cv_std),
        overfit_gate(metric, chosen_cv["train_mean"], chosen_cv["mean"], g.train_val_gap),
    ]
    findings = collect_findings(ctx, plan, train, test, features, target, cv, training, model)
    reasons = [f"{x.name} failed: {x.detail}" for x in gates if x.blocking and not x.passed]
    reasons += [f"{f.kind}: {f.message}" for f in findings if f.severity == "severe"]
    warnings = [f"{x.name}: {x.detail}; {x.advice}" for x in gates if not x.blocking and not x.passed]
    results = {
        "chosen": cv["chosen"], "primary_metric": metric,
        "cv_mean": chosen_cv["mean"], "cv_std": chosen_cv["std"],
        "holdout": holdout["metrics"],
        "best_baseline": {"name": best_name, "score": best_score},
        "threshold": training["threshold"], "threshold_rule": training["threshold_rule"],
        "majority_accuracy": baselines["most_frequent"]["holdout"].get("accuracy") if "most_frequent" in baselines else None,
        "gates": [x.to_dict() for x in gates],
        "ready": not reasons, "reasons": reasons, "warnings": warnings,
    }
    plots = draw(preds, task, classes, paths.plots)
    curve_points(preds, task, classes, paths.curves)
    write_json(paths.summary, {  # flat headline numbers for `dvc metrics show/diff` and `dvc exp show`
        f"holdout_{metric}": holdout["metrics"][metric], f"cv_{metric}_mean": chosen_cv["mean"], f"cv_{metric}_std": chosen_cv["std"],
        f"best_baseline_{metric}": best_score, "ready": int(results["ready"])})
    write_json(paths.antipatterns, {"findings": [f.to_dict() for f in findings]})
    write_json(paths.baselines, {"metric": metric, "best": best_name, "baselines": baselines})
    write_json(paths.metrics, {**results, **{k: v for k, v in holdout.items() if k != "metrics"},
                               "rows_test": len(preds), "predictions": str(paths.predictions.relative_to(paths.root))})

    tracker = Tracker(ctx.cfg.tracking, ctx.cfg.paths.root)
    parent = meta.get("tracking", {}).get("parent_run_id")
    tracker.log(parent, metrics={f"holdout_{k}": v for k, v in holdout["metrics"].items()}
                | {f"baseline_holdout_{metric}": best_score, "ready": float(results["ready"])},
                artifacts=plots + [paths.metrics, paths.baselines, paths.cv], artifact_dir="reports")
    child = meta.get("tracking", {}).get("child_runs", {}).get(cv["chosen"])
    tracker.log(child, metrics={f"holdout_{k}": v for k, v in holdout["metrics"].items()})

    meta["results"] = results
    note = f"holdout {metric} {holdout['metrics'][metric]:.4f} vs best baseline {best_score:.4f}"
    state.set_task(meta, "T-007", state.DONE if results["ready"] else state.FAILED,
                   note + ("" if results["ready"] else f"; NOT READY: {'; '.join(reasons)}"))
    meta["status"] = "evaluated" if results["ready"] else "not ready"
    state.save(paths, meta)
    docs.write_all(paths, plan, ctx.problem, meta)
    log.info("evaluated %s: %s", plan.increment, note)
    for w in warnings:
        log.warning("%s", w)
    if reasons:
        log.warning("NOT READY: %s", "; ".join(reasons))
        if ctx.cfg.strict:
            raise GateFailed("gates", "; ".join(reasons), "see reports/metrics.json; strict=false records the failure without failing the run")
    return results
