"""``stage=report``: the readiness checklist from evidence, report.html, and the living-docs index."""

from __future__ import annotations

import logging

from omegaconf import OmegaConf

from specweave_ml import docs, state
from specweave_ml.context import Context
from specweave_ml.fileio import read_json, write_text
from specweave_ml.report.html import render
from specweave_ml.report.living import render_index
from specweave_ml.report.readiness import FAIL, NOT_YET, PASS, checklist, guard_items
from specweave_ml.results import Readiness, Record
from specweave_ml.steps.common import planned

log = logging.getLogger(__name__)
AS_TASK = {PASS: state.DONE, FAIL: state.FAILED}


def _run_exists(ctx: Context):
    def check(run_id: str) -> bool:
        if not ctx.cfg.tracking.enabled:
            return False
        from mlflow.exceptions import MlflowException
        from mlflow.tracking import MlflowClient

        try:
            MlflowClient(str(ctx.cfg.tracking.uri)).get_run(run_id)
            return True
        except MlflowException:
            return False

    return check


def operations_task(items: dict) -> dict:
    """T-011 from the monitoring, A/B and rollback items: FAIL if one fails, done when all pass."""
    ops = [items[k] for k in ("monitored", "ab_ready", "rollback_ready")]
    verdict = FAIL if any(i.status == FAIL for i in ops) else PASS if all(i.status == PASS for i in ops) else NOT_YET
    return {"status": AS_TASK.get(verdict, state.NOT_YET), "note": "; ".join(f"{i.item.split(' ')[0]}: {i.detail}" for i in ops)}


def run(ctx: Context) -> Readiness:
    plan, paths = planned(ctx), ctx.paths
    meta = state.load(paths)
    # The index as it will read once this stage is in place (this increment listed with its latest record).
    index = render_index(paths.increments_dir, staged=paths.root)
    record = Record.load(paths.root)
    items = checklist(paths, record, plan.gates.latency_p95_ms, index, _run_exists(ctx))
    counts = {s: sum(i.status == s for i in items.values()) for s in (PASS, FAIL, NOT_YET)}
    summary = f"{counts[PASS]}/{len(items)} pass, {counts[FAIL]} fail, {counts[NOT_YET]} not yet"
    load = items["load_tested"]
    current = record.evaluated is not None  # the findings and intervals describe the current champion
    guards = guard_items(read_json(paths.antipatterns)["findings"] if current and paths.antipatterns.exists() else None,
                         read_json(paths.metrics) if current else None)
    result = Readiness(summary=summary, counts=counts, items=[i.to_dict() for i in items.values()], guards=guards, tasks={
        "T-010": {"status": AS_TASK.get(load.status, state.NOT_YET), "note": load.detail}, "T-011": operations_task(items)})
    state.record(paths, meta, result)
    state.save(paths, meta)

    def read(path):
        return read_json(path) if path.exists() else None

    record = Record.load(paths.root)
    evaluated = record.evaluated is not None  # every file below describes the current champion, or is left out
    ev = {"meta": meta, "profile": read(paths.profile), "cv": read(paths.cv) if record.trained else None,
          "baselines": read(paths.baselines) if evaluated else None, "metrics": read(paths.metrics) if evaluated else None,
          "shap": read(paths.shap_summary) if record.explanation else None,
          "antipatterns": read(paths.antipatterns) if evaluated else None,
          "loadtest": read(paths.loadtest) if record.loadtest else None, "readiness": result.items,
          "guards": result.guards}
    images = {
        "holdout": [(p, p.stem.replace("_", " ")) for p in sorted(paths.plots.glob("*.png"))],
        "shap": [(p, p.stem.replace("_", " ")) for p in sorted(paths.shap.glob("*.png"))],
        "tuning": [(p, p.stem.replace("_", " ")) for p in sorted(paths.tuning_reports.glob("*.png"))],
    }
    write_text(paths.report, render(plan, OmegaConf.to_yaml(ctx.cfg.problem), ev, images))
    docs.write_all(paths, plan, ctx.problem)
    log.info("report %s: readiness %s -> %s", plan.increment, summary, paths.final / paths.relative(paths.report))
    return result
