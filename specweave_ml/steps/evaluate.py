"""``stage=evaluate``: the chosen model and the baselines scored once on the holdout, and the gates."""

from __future__ import annotations

import logging

import pandas as pd

from specweave_ml import docs, state
from specweave_ml.context import Context
from specweave_ml.errors import GateFailed
from specweave_ml.fileio import read_json, write_json, write_parquet
from specweave_ml.gates import baseline_gate, cv_spread_gate, holdout_resolution, overfit_gate
from specweave_ml.metrics import METRICS
from specweave_ml.packaging import load_model
from specweave_ml.results import Evaluated, Trained
from specweave_ml.steps.common import load_split, planned, regularise_of, split_info
from specweave_ml.tracking import Tracker

log = logging.getLogger(__name__)


def verdict(plan, holdout: dict, baselines: dict, chosen_cv: dict, findings: list, intervals: dict | None = None,
            rows_test: int | None = None, regularise: dict | None = None) -> dict:
    """The gates on the holdout and CV numbers, and whether the increment is ready (with every reason if not).

    With the bootstrap ``intervals`` of the primary metric, a holdout too small to tell the model from the best
    baseline (or too small to pin the score down) adds a warning, never a reason; their paired ``difference``
    goes into the baseline gate's detail and evidence (never its verdict). A severe finding is a reason; a
    warning is not.
    """
    metric, g = plan.primary_metric, plan.gates
    sign = 1 if METRICS[metric].greater_is_better else -1
    best_name = max(baselines, key=lambda n: sign * baselines[n]["holdout"][metric])
    best_score = baselines[best_name]["holdout"][metric]
    intervals = intervals or {}
    paired = intervals.get("difference") if (intervals.get("baseline") or {}).get("name") == best_name else None
    gates = [
        baseline_gate(metric, holdout[metric], best_name, best_score, g.baseline_margin, paired),
        cv_spread_gate(metric, chosen_cv["folds"], g.cv_std),
        overfit_gate(metric, chosen_cv["train_mean"], chosen_cv["mean"], g.train_val_gap, regularise),
    ]
    reasons = [f"{x.name} failed: {x.detail}" for x in gates if x.blocking and not x.passed]
    reasons += [f"{f.kind}: {f.message}" for f in findings if f.severity == "severe"]
    warnings = [f"{x.name}: {x.detail}; {x.advice}" for x in gates if not x.blocking and not x.passed]
    small = holdout_resolution(metric, holdout[metric], intervals.get("model") or {}, intervals.get("baseline") or {},
                               rows_test or 0, paired=paired)
    warnings += [small] if small else []
    return {"best_baseline": {"name": best_name, "score": best_score}, "gates": [x.to_dict() for x in gates],
            "ready": not reasons, "reasons": reasons, "warnings": warnings}


def evaluated_sha256(meta: dict):
    """The hash of the model the holdout scores: ``models/evaluated`` (an older increment's: the champion's)."""
    model = meta.get("model", {})
    return model.get("evaluated_sha256") or model.get("sha256")


def run(ctx: Context) -> Evaluated:
    plan, paths, family = planned(ctx), ctx.paths, ctx.trainable_family()
    trained, cv = Trained.require(paths.root), read_json(paths.cv)
    meta = state.load(paths)
    evaluated_sha = evaluated_sha256(meta)
    # the model fitted on the training rows alone: the one that ships may have been refitted on these holdout rows
    refitted = evaluated_sha != meta.get("model", {}).get("sha256")  # load_model refuses files that do not match the hash
    model = load_model(paths.evaluated_model if refitted else paths.model, evaluated_sha)
    info, train, test = split_info(ctx), load_split(ctx, "train"), load_split(ctx, "test")

    def read_back(predictions: pd.DataFrame) -> pd.DataFrame:  # every number comes from the saved file
        write_parquet(paths.predictions, predictions)
        return pd.read_parquet(paths.predictions)

    ev = family.evaluate(model, train, test, info, plan, trained, cv, ctx.seed, read_back)
    findings = family.findings(plan, train, test, info, read_json(paths.profile), cv, trained, model, ctx.seed)
    chosen_cv = next(c for c in cv["candidates"] if c["name"] == cv["chosen"])
    judged = verdict(plan, ev.metrics, ev.baselines, chosen_cv, findings, ev.intervals, len(ev.predictions),
                     regularise_of(ctx, cv["chosen"]))
    metric, best = plan.primary_metric, judged["best_baseline"]["score"]
    note = f"holdout {metric} {ev.metrics[metric]:.4f} vs best baseline {best:.4f}"
    result = Evaluated(
        chosen=cv["chosen"], primary_metric=metric, cv_mean=chosen_cv["mean"], cv_std=chosen_cv["std"], holdout=ev.metrics,
        threshold=trained.threshold, threshold_rule=trained.threshold_rule, majority_accuracy=ev.majority_accuracy,
        details=ev.details, intervals=ev.intervals, rows_test=len(ev.predictions), predictions=paths.relative(paths.predictions),
        model_sha256=evaluated_sha, **judged,
        tasks={"T-007": {"status": state.DONE if judged["ready"] else state.FAILED,
                         "note": note + ("" if judged["ready"] else f"; NOT READY: {'; '.join(judged['reasons'])}")}})
    plots = family.plots(ev.predictions, plan, trained.classes, paths.plots, paths.curves)
    write_json(paths.summary, {  # flat headline numbers for `dvc metrics show/diff` and `dvc exp show`
        f"holdout_{metric}": ev.metrics[metric], f"cv_{metric}_mean": chosen_cv["mean"], f"cv_{metric}_std": chosen_cv["std"],
        f"best_baseline_{metric}": best, "ready": int(judged["ready"])})
    write_json(paths.antipatterns, {"findings": [f.to_dict() for f in findings]})
    write_json(paths.baselines, {"metric": metric, "best": judged["best_baseline"]["name"], "baselines": ev.baselines})
    state.record(paths, meta, result, status="evaluated" if judged["ready"] else "not ready")

    tracker = Tracker(ctx.cfg.tracking, ctx.cfg.paths.root)
    holdout = {f"holdout_{k}": v for k, v in ev.metrics.items()}
    tracker.log(trained.tracking.get("parent_run_id"), metrics=holdout | {f"baseline_holdout_{metric}": best,
                "ready": float(judged["ready"])}, artifacts=plots + [paths.metrics, paths.baselines, paths.cv], artifact_dir="reports")
    tracker.log(trained.tracking.get("child_runs", {}).get(cv["chosen"]), metrics=holdout)
    state.save(paths, meta)
    docs.write_all(paths, plan, ctx.problem)
    log.info("evaluated %s: %s", plan.increment, note)
    for w in judged["warnings"]:
        log.warning("%s", w)
    if judged["reasons"]:
        log.warning("NOT READY: %s", "; ".join(judged["reasons"]))
        if ctx.cfg.strict:
            raise GateFailed("gates", "; ".join(judged["reasons"]),
                             "see reports/metrics.json; strict=false records the failure without failing the run")
    return result
