"""``stage=report``: the readiness checklist from evidence, report.html, and the living-docs index."""

from __future__ import annotations

import logging

from omegaconf import OmegaConf

from specweave_ml import docs, state
from specweave_ml.context import Context
from specweave_ml.fileio import read_json, write_json, write_text
from specweave_ml.report.html import render
from specweave_ml.report.living import write_index
from specweave_ml.report.readiness import FAIL, PASS, checklist
from specweave_ml.steps.common import planned

log = logging.getLogger(__name__)


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


def run(ctx: Context) -> list[dict]:
    plan, paths = planned(ctx), ctx.paths
    meta = state.load(paths)
    index = write_index(paths.root.parent)  # first, so the checklist can see this increment listed
    items = [i.to_dict() for i in checklist(paths, meta, plan.gates.latency_p95_ms, index, _run_exists(ctx))]
    counts = {s: sum(i["status"] == s for i in items) for s in (PASS, FAIL, "NOT YET")}
    summary = f"{counts[PASS]}/{len(items)} pass, {counts[FAIL]} fail, {counts['NOT YET']} not yet"
    write_json(paths.readiness, {"summary": summary, "items": items})
    meta["readiness"] = {"summary": summary, "counts": counts}
    status = {PASS: state.DONE, FAIL: state.FAILED}
    state.set_task(meta, "T-010", status.get(items[5]["status"], state.NOT_YET), items[5]["detail"])
    operations = items[6:9]  # monitoring, A/B, rollback
    verdict = FAIL if any(i["status"] == FAIL for i in operations) else PASS if all(i["status"] == PASS for i in operations) else "NOT YET"
    state.set_task(meta, "T-011", status.get(verdict, state.NOT_YET), "; ".join(f"{i['item'].split(' ')[0]}: {i['detail']}" for i in operations))

    def load(path):
        return read_json(path) if path.exists() else None

    ev = {"meta": meta, "profile": load(paths.profile), "cv": load(paths.cv), "baselines": load(paths.baselines),
          "metrics": load(paths.metrics), "shap": load(paths.shap_summary), "antipatterns": load(paths.antipatterns),
          "loadtest": load(paths.loadtest), "readiness": items}
    images = {
        "holdout": [(p, p.stem.replace("_", " ")) for p in sorted(paths.plots.glob("*.png"))],
        "shap": [(p, p.stem.replace("_", " ")) for p in sorted(paths.shap.glob("*.png"))],
        "tuning": [(p, p.stem.replace("_", " ")) for p in sorted(paths.tuning_reports.glob("*.png"))],
    }
    brief_yaml = OmegaConf.to_yaml(ctx.cfg.problem)
    write_text(paths.report, render(plan, brief_yaml, ev, images))
    state.save(paths, meta)
    docs.write_all(paths, plan, ctx.problem, meta)
    log.info("report %s: readiness %s -> %s", plan.increment, summary, paths.report)
    return items
