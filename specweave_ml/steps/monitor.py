"""``stage=monitor input=<batch>``: PSI and KS of a batch's features and scores against the reference profile.

Writes ``reports/drift/report.json``; a column with PSI above ``serving.drift.psi_threshold`` alerts (and,
with ``strict=true``, the run exits 1).
"""

from __future__ import annotations

import logging
from pathlib import Path

from specweave_ml import state
from specweave_ml.context import Context
from specweave_ml.data.inputs import read_input
from specweave_ml.errors import ConfigError, DataError, GateFailed
from specweave_ml.fileio import write_json
from specweave_ml.packaging import load_model
from specweave_ml.serving import drift
from specweave_ml.serving.bundle import read_profile

log = logging.getLogger(__name__)


def run(ctx: Context) -> dict:
    paths, cfg = ctx.paths, ctx.cfg.serving.drift
    if not ctx.cfg.input:
        raise ConfigError("input", "stage=monitor needs input=<batch file>", "e.g. input=today.csv (CSV or Parquet with the model's columns)")
    family = ctx.trainable_family()
    family.check_monitoring()  # before anything is read: a family without a drift report says so
    meta = state.load(paths)
    sha = meta.get("model", {}).get("sha256")
    model = load_model(paths.model, sha)
    profile = read_profile(paths, sha)
    batch = family.conform(read_input(Path(ctx.cfg.input)), paths.model)
    if batch.empty:
        raise DataError("input", f"'{ctx.cfg.input}' has no rows", "give a batch with at least one row")
    scores = drift.score_columns(model.scores(batch), model.task, profile["classes"])
    report = drift.report(profile, batch, scores, cfg.psi_threshold, cfg.ks_alpha)
    report.update(created=state.now(), input=str(ctx.cfg.input), model_sha256=sha)
    write_json(paths.drift_report, {"schema_version": 1, "stage": "monitor", **report})
    for warning in report["warnings"]:
        log.warning("drift: %s", warning)
    worst = max(report["features"] + report["scores"], key=lambda r: r["psi"])
    summary = f"{report['rows']} rows; highest PSI {worst['psi']:.3f} ({worst['name']}), threshold {cfg.psi_threshold:g}"
    if report["alert"]:
        log.warning("DRIFT ALERT on %s: %s", ", ".join(report["alerts"]), summary)
        if ctx.cfg.strict:
            raise GateFailed("serving.drift.psi_threshold", f"drift in {', '.join(report['alerts'])}", f"see {paths.drift_report}")
    else:
        log.info("no drift: %s", summary)
    return report
