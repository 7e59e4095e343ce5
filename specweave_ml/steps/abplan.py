"""``stage=abplan``: the A/B test plan for a challenger against this champion, from its holdout predictions.

The metric follows the task: recall of the positive decisions for binary classification (observed once
labels arrive), accuracy for multiclass, mean absolute error for regression; its champion value and
spread come from ``reports/predictions.parquet``.
"""

from __future__ import annotations

import logging

import numpy as np
import pandas as pd

from specweave_ml import state
from specweave_ml.context import Context
from specweave_ml.errors import DataError
from specweave_ml.fileio import read_json, write_json, write_text
from specweave_ml.serving import abtest
from specweave_ml.serving.settings import validate
from specweave_ml.steps.common import require

log = logging.getLogger(__name__)


def online_metric(preds: pd.DataFrame, task: str, classes: list) -> abtest.Metric:
    if task == "binary_classification":
        positive = classes[1]
        actual, flagged = preds["y_true"] == positive, preds["y_pred"] == positive
        if not actual.any():
            raise DataError("reports/predictions.parquet", "the holdout has no positive rows", "re-split with more data")
        return abtest.Metric("recall", f"share of actual '{positive}' rows the decision flags, once their labels arrive",
                             "actual positive", float(actual.mean()), float((actual & flagged).sum() / actual.sum()), "proportion")
    if task == "multiclass_classification":
        return abtest.Metric("accuracy", "share of requests whose decided class is confirmed, once labels arrive",
                             "request", 1.0, float((preds["y_true"] == preds["y_pred"]).mean()), "proportion")
    errors = np.abs(preds["y_true"].to_numpy(float) - preds["y_pred"].to_numpy(float))
    return abtest.Metric("mean absolute error", "mean |actual - predicted| per request, once actuals arrive", "request", 1.0,
                         float(errors.mean()), "mean", sigma=float(errors.std(ddof=1)), lower_is_better=True)


def run(ctx: Context) -> dict:
    paths, ab = ctx.paths, ctx.cfg.serving.ab
    validate(ctx.cfg.serving)
    require(paths.predictions, "evaluate")
    meta = state.load(paths)
    classes = read_json(paths.training)["classes"]
    metric = online_metric(pd.read_parquet(paths.predictions), meta["task"], classes)
    p = abtest.plan(metric, ab.mde, ab.alpha, ab.power, ab.split, ab.expected_rps, ab.max_days,
                    ctx.problem.constraints.latency_p95_ms, ctx.cfg.serving.drift.psi_threshold)
    out = {**p.to_dict(), "challenger": ab.challenger, "key_header": ab.key_header, "created": state.now()}
    write_json(paths.abplan, out)
    write_text(paths.abplan_doc, abtest.render(p, ctx.problem.increment, ab.challenger, ab.key_header))
    log.info("A/B plan for %s: %s %ss (champion/challenger), %s at %g requests/s -> %s", ctx.problem.increment,
             f"{p.n_champion:,}/{p.n_challenger:,}", metric.unit, abtest.duration(p.days), ab.expected_rps, paths.abplan_doc)
    if not p.feasible:
        log.warning("the test needs %.1f days, over serving.ab.max_days=%g", p.days, ab.max_days)
    return out
