"""``stage=train``: the family fits baselines and candidates on the saved folds; the best one is saved and tracked."""

from __future__ import annotations

import logging
import os
import shutil
import time
from typing import Callable, Optional

import pandas as pd

from specweave_ml import docs, state
from specweave_ml.context import Context
from specweave_ml.families.base import FitRequest
from specweave_ml.fileio import directory_hash, write_json
from specweave_ml.gates import cv_spread_gate, overfit_gate
from specweave_ml.models.registry import entry, params_for
from specweave_ml.packaging import save_model
from specweave_ml.results import Packaged, Trained
from specweave_ml.steps.common import load_split, planned, progress, regularise_of, split_info
from specweave_ml.tracking import Tracker, git_commit
from specweave_ml.training import budget, dask_compute
from specweave_ml.training.halving import halving_settings
from specweave_ml.training.refit import fitting_deadline
from specweave_ml.training.train import TuningSettings

log = logging.getLogger(__name__)


def training_deadline(ctx: Context) -> float:
    """When training must be done for the run (from its start: imports, fetch and prepare count) to end within
    ``budget_minutes``, the stages after training reserved (training/budget.py)."""
    info = split_info(ctx)
    n_rows = int(info.get("rows_train") or 0) + int(info.get("rows_test") or 0)
    return budget.training_deadline(ctx.started, ctx.problem.constraints.budget_minutes * 60, n_rows)


def tuning_settings(ctx: Context, deadline: float) -> TuningSettings | None:
    t = ctx.tuning
    if not t.phases:
        return None
    storage = t.storage or f"sqlite:///{(ctx.paths.tuning / 'optuna.db').resolve()}"
    return TuningSettings(
        # Families that tune without a deadline of their own: a quarter is left for the baselines, the untuned CV and the refits.
        phases=[p.value for p in t.phases], budget_seconds=max(0.0, deadline - time.perf_counter()) * 0.75, patience=t.patience,
        budget_shares=dict(t.budget_shares), max_trials=dict(t.max_trials), early_stopping_rounds=t.early_stopping_rounds,
        train_score_rows=t.train_score_rows, storage_url=storage, study_prefix=state.study_key(ctx.cfg), pruner=t.pruner.value,
        halving=halving_settings(dict(t.halving)), heartbeat_seconds=float(t.heartbeat_seconds),
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


def cv_report(plan, result, regularise: Callable[[str], Optional[dict]] = lambda name: None) -> dict:
    """``reports/cv.json``: every baseline's and candidate's fold scores, with the spread and overfitting checks
    (``regularise(name)``: the settings that regularise the model, which the overfitting advice names)."""
    metric, g = plan.primary_metric, plan.gates
    report = {"metric": metric, "cv_strategy": plan.split.cv_strategy, "cv_folds": plan.split.cv_folds,
              "chosen": result.chosen, "baselines": [r.summary() for r in result.baselines], "candidates": []}
    for r in result.candidates:
        flags = [cv_spread_gate(metric, r.val_scores, g.cv_std), overfit_gate(metric, r.train_mean, r.mean, g.train_val_gap, regularise(r.name))]
        report["candidates"].append({**r.summary(), "checks": [f.to_dict() for f in flags]})
        for f in flags:
            if not f.passed:
                log.warning("%s: %s: %s", r.name, f.detail, f.advice)
    return report


def track(ctx: Context, plan, result, info: dict, meta: dict, tuning_files: list) -> dict:
    """One parent run, a child run per baseline, candidate and tuning phase; returns what the result records."""
    metric = plan.primary_metric
    tracker = Tracker(ctx.cfg.tracking, ctx.cfg.paths.root)
    parent = tracker.start_parent(plan.increment, {
        "git_commit": git_commit(ctx.cfg.paths.root), "data_fingerprint": info["source_fingerprint"],
        "config_hash": meta.get("config_hash", ""), "stage": ctx.cfg.stage})
    tags = {"increment": plan.increment, "data_fingerprint": info["source_fingerprint"]}
    children = {}
    for r in result.baselines + result.candidates:
        params = ({"strategy": r.name} if r.kind == "baseline"
                  else {f"weight.{n}": w for n, w in result.ensemble.get("weights", {}).items()} if r.name not in ctx.models
                  else params_for(ctx.models[r.name], plan.task) | {"class_weighting": result.weighting})
        metrics = {f"cv_{metric}_mean": r.mean, f"cv_{metric}_std": r.std, f"cv_{metric}_train_mean": r.train_mean,
                   **{f"cv_{metric}_fold_{i}": s for i, s in enumerate(r.val_scores)}}
        children[r.name] = tracker.log_child(parent, r.name, r.kind, dict(params), metrics, tags)
    tracker.log(parent, params={"chosen": result.chosen, "primary_metric": metric, "threshold": result.threshold,
                                "class_weighting": result.weighting, "cv_strategy": plan.split.cv_strategy})
    for model_name, report in result.tuning.items():
        for phase in report["phases"]:
            run = tracker.log_child(parent, f"{model_name}:{phase['phase']}", "tuning",
                                    {f"best.{k}": v for k, v in phase["best_params"].items()},
                                    {f"best_cv_{metric}": phase["best_value"], "trials": phase["trials_finished"],
                                     "pruned": phase["trials_pruned"], "seconds": phase["seconds"]},
                                    {"increment": plan.increment, "phase": phase["phase"], "model": model_name})
            stem = f"{model_name}_{phase['phase']}"
            tracker.log(run, artifacts=[f for f in tuning_files if f.stem == stem], artifact_dir="tuning")
    return {"uri": tracker.uri if tracker.enabled else None, "parent_run_id": parent, "child_runs": children}


def keep_previous(paths, meta: dict) -> None:
    """The champion about to be replaced, with its registration and its record (training, CV, evaluation), kept
    in models/previous for rollback."""
    if not paths.model.exists():
        return
    champion = meta.get("model", {})
    shutil.rmtree(paths.previous_model, ignore_errors=True)
    shutil.copytree(paths.model, paths.previous_model)
    packaged = Packaged.load(paths.root, strict=False)
    registered = champion.get("registered") or (packaged.registered if packaged and packaged.sha256 == champion.get("sha256") else None)
    # evaluated_sha256 stays: the kept record's evaluation (models/previous.record) names that model
    meta["previous_model"] = {**champion, "registered": registered, "sha256": directory_hash(paths.previous_model)}
    shutil.rmtree(paths.previous_record, ignore_errors=True)
    trained = Trained.load(paths.root, strict=False)
    if trained is None or trained.model.get("sha256") != champion.get("sha256"):
        return  # no record of this model to keep (trained by an older version, or the files were replaced)
    for path, kept in paths.record_pairs:
        if path.exists():
            kept.parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(path, kept)


def task_notes(ctx: Context, result, metric: str, digest: str, family) -> dict:
    chosen = next(r for r in result.candidates if r.name == result.chosen)
    done = state.DONE
    notes = {
        "T-003": (done, family.notes["features"]),
        "T-004": (done, ", ".join(f"{r.name} {r.mean:.4f}" for r in result.baselines) + f" (CV {metric})"),
        "T-005": (done, f"chosen {result.chosen}: CV {metric} {chosen.mean:.4f} ± {chosen.std:.4f}; "
                  + ", ".join(f"{r.name} {r.mean:.4f}" for r in result.candidates)),
        "T-006": (state.SKIPPED, f"tuning={ctx.tuning.name}: default hyperparameters"),
        "T-007": (state.TODO, ""),
        "T-009": (state.TODO, f"saved to models/champion (sha256 {digest[:12]}); not registered yet"),
    }
    if result.tuning:
        notes["T-006"] = (done, "; ".join(
            f"{m}: " + ", ".join(f"{p['phase']} {p['best_value']:.4f}" if p["best_value"] is not None else f"{p['phase']} -"
                                 for p in r["phases"])
            + f" (untuned {r['untuned_cv']:.4f}, kept {r['kept'].split(':')[0]})" for m, r in result.tuning.items()))
    return {tid: {"status": s, "note": n} for tid, (s, n) in notes.items()}


def _link_or_copy(src, dst):
    try:
        os.link(src, dst)
    except OSError:
        shutil.copy2(src, dst)


def ship(ctx: Context, family, result, frame, info: dict, deadline: float, plan):
    """The model that ships (``training.refit``): the chosen one refitted on the training and holdout rows when
    ``selection.refit_on_all`` is on, the family refits and the budget affords it; else the one evaluated, with the
    sentence that says why (``reports/training.json``'s ``refit``, plan.md's *The model that ships*)."""
    from specweave_ml.training.refit import Refit, affordable, estimated_seconds

    rows_test = int(info.get("rows_test") or 0)
    if not ctx.selection.refit_on_all:
        return Refit(None, len(frame), "selection.refit_on_all=false: the model evaluated on the holdout ships")
    if not getattr(family, "refits", False):
        return Refit(None, len(frame), f"the {family.name} family ships the model evaluated on the holdout (it does not refit)")
    if rows_test == 0:
        return Refit(None, len(frame), "no holdout rows to add: the model evaluated ships")
    final_fit = float((getattr(result, "budget", None) or {}).get("final_fit_seconds") or 0.0)
    estimate = estimated_seconds(final_fit, len(frame), len(frame) + rows_test)
    left = None if not ctx.problem.constraints.budget_minutes else max(0.0, deadline - time.perf_counter())
    if not affordable(estimate, left):
        return Refit(None, len(frame), f"not refitted on every row: it would take about {estimate:.0f} s and training had "
                                       f"{left:.0f} s left; the model evaluated on the holdout ships")
    rows = pd.concat([frame, load_split(ctx, "test")], ignore_index=True)  # in the split's order: the holdout last
    started = time.perf_counter()
    model = family.refit(result.model, rows, info, plan, result.classes, result.weighting)
    took = time.perf_counter() - started
    return Refit(model, len(rows), f"{result.chosen} refitted on all {len(rows):,} rows (the {len(frame):,} training rows and "
                 f"the {rows_test:,} of the holdout) in {took:.1f} s, as it was chosen; the holdout metrics are those of the "
                 f"same configuration fitted on the training rows alone (models/evaluated)", round(took, 2))


def run(ctx: Context) -> Trained:
    plan, paths, family = planned(ctx), ctx.paths, ctx.trainable_family()
    info, frame = split_info(ctx), load_split(ctx, "train")
    refits = ctx.selection.refit_on_all and getattr(family, "refits", False)
    n_fits = (len(plan.baselines) + len(plan.candidates)) * plan.split.cv_folds
    deadline = training_deadline(ctx)
    # compute=dask: one cluster for the whole fit, closed when it ends, even on failure
    with dask_compute.session(ctx.cfg.compute, paths.data, frame, info["train_fingerprint"]) as compute, \
            progress(ctx, n_fits, f"{plan.increment} CV") as bar:
        result = family.fit(FitRequest(plan, ctx.models, frame, info, ctx.problem, ctx.seed, ctx.selection.class_weighting.value,
                                       tuning_settings(ctx, deadline), on_fold=lambda: bar.update(1), cache_dir=paths.final / "cache",
                                       deadline=fitting_deadline(deadline, time.perf_counter()) if refits else deadline, compute=compute,
                                       refit_rows=int(info.get("rows_test") or 0) if refits else 0))
    shipped = ship(ctx, family, result, frame, info, deadline, plan)
    log.info("shipped model: %s", shipped.why)
    metric = plan.primary_metric
    meta = state.load(paths)
    keep_previous(paths, meta)
    members = getattr(result.model, "names_", [result.chosen])  # a shipped ensemble needs what each member needs
    requirements = sorted({r for name in members for r in entry(name).pip_requirements})
    example = family.example_input(frame, info)
    evaluated_digest = save_model(result.model, paths.evaluated_model, example, requirements)
    if shipped.model is None:  # the evaluated model ships: the same files, hard-linked (an encoder's weights are not copied)
        shutil.rmtree(paths.model, ignore_errors=True)
        shutil.copytree(paths.evaluated_model, paths.model, copy_function=_link_or_copy)
        digest = evaluated_digest
    else:
        digest = save_model(shipped.model, paths.model, example, requirements)
    tuning_files = write_tuning(paths, result, metric)
    write_json(paths.cv, cv_report(plan, result, lambda name: regularise_of(ctx, name)))
    chosen = next(r for r in result.candidates if r.name == result.chosen)
    trained = Trained(
        chosen=result.chosen, metric=metric, cv_mean=chosen.mean, cv_std=chosen.std,
        candidates={r.name: {"mean": r.mean, "std": r.std} for r in result.candidates}, threshold=result.threshold,
        threshold_rule=result.threshold_rule, class_weighting=result.weighting, classes=result.classes,
        params={k: v for k, v in result.params.items() if isinstance(v, (int, float, str, bool, type(None)))},
        tuning=result.tuning, budget=getattr(result, "budget", {}), ensemble=getattr(result, "ensemble", {}), tracking=track(ctx, plan, result, info, meta, tuning_files),
        model={"name": result.chosen, "path": paths.relative(paths.model), "sha256": digest, "requirements": requirements,
               "evaluated_path": paths.relative(paths.evaluated_model), "evaluated_sha256": evaluated_digest},
        refit=shipped.summary(len(frame)),
        tasks=task_notes(ctx, result, metric, digest, family))
    meta["model"] = {"name": result.chosen, "sha256": digest, "evaluated_sha256": evaluated_digest, "registered": None}
    state.record(paths, meta, trained, status="trained")
    state.save(paths, meta)
    docs.write_all(paths, plan, ctx.problem)
    log.info("trained %s: chosen %s (CV %s %.4f)", plan.increment, result.chosen, metric, chosen.mean)
    return trained
