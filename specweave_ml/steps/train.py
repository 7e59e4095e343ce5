"""``stage=train``: baselines and candidates cross-validated, the best one refitted and saved."""

from __future__ import annotations

import logging
import shutil

from specweave_ml import docs, state
from specweave_ml.context import Context
from specweave_ml.fileio import write_json
from specweave_ml.gates import cv_spread_gate, overfit_gate
from specweave_ml.packaging import directory_hash, save_model
from specweave_ml.steps.common import load_split, planned, progress, split_info
from specweave_ml.tracking import Tracker, git_commit
from specweave_ml.models.registry import params_for
from specweave_ml.training.train import TuningSettings, train

log = logging.getLogger(__name__)


def tuning_settings(ctx: Context) -> TuningSettings | None:
    t = ctx.tuning
    if not t.phases:
        return None
    storage = t.storage or f"sqlite:///{(ctx.paths.tuning / 'optuna.db').resolve()}"
    return TuningSettings(
        # Leave a quarter of the budget for the baselines, the untuned CV and the final fits.
        phases=list(t.phases), budget_seconds=ctx.problem.constraints.budget_minutes * 60 * 0.75,
        budget_shares=dict(t.budget_shares), max_trials=dict(t.max_trials), early_stopping_rounds=t.early_stopping_rounds,
        train_score_rows=t.train_score_rows, storage_url=storage, study_prefix=state.study_key(ctx.cfg), pruner=t.pruner,
    )


def write_tuning(paths, result, metric: str) -> list:
    """Each phase's trial table (CSV) and best-so-far curve (PNG) under reports/tuning/."""
    if not result.tuning:
        return []
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    paths.tuning_reports.mkdir(parents=True, exist_ok=True)
    written = []
    for model_name, report in result.tuning.items():
        for phase in report["phases"]:
            stem = paths.tuning_reports / f"{model_name}_{phase['phase']}"
            table = result.tuning_tables.get(model_name, {}).get(phase["phase"])
            if table is not None:
                table.to_csv(stem.with_suffix(".csv"), index=False)
                written.append(stem.with_suffix(".csv"))
            if phase["curve"]:
                fig, ax = plt.subplots(figsize=(5, 3.2))
                ax.plot(range(1, len(phase["curve"]) + 1), phase["curve"], marker="o")
                ax.axhline(report["untuned_cv"], color="grey", linestyle="--", label="untuned")
                ax.set_xlabel("finished trial")
                ax.set_ylabel(f"best CV {metric} so far")
                ax.set_title(f"{model_name}: {phase['phase']}" + (" (regularising)" if phase["regularised"] else ""))
                ax.legend()
                fig.tight_layout()
                fig.savefig(stem.with_suffix(".png"), dpi=80)
                plt.close(fig)
                written.append(stem.with_suffix(".png"))
    return written


def run(ctx: Context) -> None:
    plan, paths = planned(ctx), ctx.paths
    info = split_info(ctx)
    frame = load_split(ctx, "train")
    features, target = info["features"], info["target"]
    n_fits = (len(plan.baselines) + len(plan.candidates)) * plan.split.cv_folds
    with progress(ctx, n_fits, f"{plan.increment} CV") as bar:
        result = train(plan, ctx.models, frame, features, target, ctx.seed, ctx.selection.class_weighting,
                       ctx.problem.metrics.cost_ratio, on_fold=lambda: bar.update(1), tuning=tuning_settings(ctx),
                       positive_class=ctx.problem.data.positive_class)

    metric, g = plan.primary_metric, plan.gates
    cv_report = {"metric": metric, "cv_strategy": plan.split.cv_strategy, "cv_folds": plan.split.cv_folds,
                 "chosen": result.chosen, "baselines": [], "candidates": []}
    for r in result.baselines:
        cv_report["baselines"].append(r.summary())
    for r in result.candidates:
        flags = [cv_spread_gate(metric, r.val_scores, g.cv_std), overfit_gate(metric, r.train_mean, r.mean, g.train_val_gap)]
        cv_report["candidates"].append({**r.summary(), "checks": [f.to_dict() for f in flags]})
        for f in flags:
            if not f.passed:
                log.warning("%s: %s: %s", r.name, f.detail, f.advice)

    meta = state.load(paths)
    tracker = Tracker(ctx.cfg.tracking, ctx.cfg.paths.root)
    parent = tracker.start_parent(plan.increment, {
        "git_commit": git_commit(ctx.cfg.paths.root), "data_fingerprint": info["source_fingerprint"],
        "config_hash": meta.get("config_hash", ""), "stage": ctx.cfg.stage})
    children = {}
    for r in result.baselines + result.candidates:
        params = ({"strategy": r.name} if r.kind == "baseline"
                  else params_for(ctx.models[r.name], plan.task) | {"class_weighting": result.weighting})
        metrics = {f"cv_{metric}_mean": r.mean, f"cv_{metric}_std": r.std, f"cv_{metric}_train_mean": r.train_mean,
                   **{f"cv_{metric}_fold_{i}": s for i, s in enumerate(r.val_scores)}}
        children[r.name] = tracker.log_child(parent, r.name, r.kind, dict(params), metrics,
                                             {"increment": plan.increment, "data_fingerprint": info["source_fingerprint"]})
    tracker.log(parent, params={"chosen": result.chosen, "primary_metric": metric, "threshold": result.threshold,
                                "class_weighting": result.weighting, "cv_strategy": plan.split.cv_strategy})

    if paths.model.exists():  # keep the previous champion for rollback
        shutil.rmtree(paths.previous_model, ignore_errors=True)
        shutil.copytree(paths.model, paths.previous_model)
        meta["previous_model"] = {**meta.get("model", {}), "sha256": directory_hash(paths.previous_model)}
    digest = save_model(result.model, paths.model, frame[features])
    tuning_files = write_tuning(paths, result, metric)
    for model_name, report in result.tuning.items():
        for phase in report["phases"]:
            run = tracker.log_child(parent, f"{model_name}:{phase['phase']}", "tuning",
                                    {f"best.{k}": v for k, v in phase["best_params"].items()},
                                    {f"best_cv_{metric}": phase["best_value"], "trials": phase["trials_finished"],
                                     "pruned": phase["trials_pruned"], "seconds": phase["seconds"]},
                                    {"increment": plan.increment, "phase": phase["phase"], "model": model_name})
            tracker.log(run, artifacts=[f for f in tuning_files if f.stem == f"{model_name}_{phase['phase']}"], artifact_dir="tuning")
    write_json(paths.cv, cv_report)
    write_json(paths.training, {
        "chosen": result.chosen, "threshold": result.threshold, "threshold_rule": result.threshold_rule,
        "class_weighting": result.weighting, "classes": result.classes, "tuning": result.tuning,
        "params": {k: v for k, v in result.params.items() if isinstance(v, (int, float, str, bool, type(None)))},
    })
    meta["model"] = {"name": result.chosen, "path": str(paths.model.relative_to(paths.root)), "sha256": digest,
                     "threshold": result.threshold}
    meta["tracking"] = {"uri": tracker.uri if tracker.enabled else None, "parent_run_id": parent, "child_runs": children}
    meta["tuning"] = {m: {"untuned_cv": r["untuned_cv"], "tuned_cv": r.get("tuned_cv"), "kept": r["kept"], "best_params": r["best_params"],
                          "phases": [{k: p[k] for k in ("phase", "trials_finished", "trials_pruned", "best_value", "best_params",
                                                          "seconds", "regularised")} for p in r["phases"]]}
                      for m, r in result.tuning.items()}
    meta.pop("results", None)  # the previous evaluation described another model
    chosen = next(r for r in result.candidates if r.name == result.chosen)
    state.set_task(meta, "T-003", state.DONE, "imputation, scaling and encoding fitted inside each pipeline")
    state.set_task(meta, "T-004", state.DONE, ", ".join(f"{r.name} {r.mean:.4f}" for r in result.baselines) + f" (CV {metric})")
    state.set_task(meta, "T-005", state.DONE, f"chosen {result.chosen}: CV {metric} {chosen.mean:.4f} ± {chosen.std:.4f}; "
                   + ", ".join(f"{r.name} {r.mean:.4f}" for r in result.candidates))
    if result.tuning:
        state.set_task(meta, "T-006", state.DONE, "; ".join(
            f"{m}: " + ", ".join(f"{p['phase']} {p['best_value']:.4f}" if p["best_value"] is not None else f"{p['phase']} -" for p in r["phases"])
            + f" (untuned {r['untuned_cv']:.4f}, kept {r['kept'].split(':')[0]})" for m, r in result.tuning.items()))
    else:
        state.set_task(meta, "T-006", state.SKIPPED, f"tuning={ctx.tuning.name}: default hyperparameters")
    state.set_task(meta, "T-007", state.TODO, "")
    state.set_task(meta, "T-009", state.TODO, f"saved to {meta['model']['path']} (sha256 {digest[:12]}); not registered yet")
    meta["status"] = "trained"
    state.save(paths, meta)
    docs.write_all(paths, plan, ctx.problem, meta)
    log.info("trained %s: chosen %s (CV %s %.4f)", plan.increment, result.chosen, metric, chosen.mean)
