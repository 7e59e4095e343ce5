"""``stage=abplan``: the A/B test plan for a challenger against this champion, from its holdout predictions.

The family names the metric the test watches (for tabular models: recall of the positive decisions for
binary classification, accuracy for multiclass, mean absolute error for regression); its champion value and
spread come from ``reports/predictions.parquet``.
"""

from __future__ import annotations

import logging

import pandas as pd

from specweave_ml import state
from specweave_ml.context import Context
from specweave_ml.fileio import write_json, write_text
from specweave_ml.results import Trained
from specweave_ml.serving import abtest
from specweave_ml.steps.common import require
from specweave_ml.units import duration

log = logging.getLogger(__name__)


def run(ctx: Context) -> dict:
    paths, ab, family = ctx.paths, ctx.cfg.serving.ab, ctx.trainable_family()
    require(paths.predictions, "evaluate")
    trained = Trained.require(paths.root)
    metric = family.online_metric(pd.read_parquet(paths.predictions), ctx.problem.task.value, trained.classes)
    p = abtest.plan(metric, ab.mde, ab.alpha, ab.power, ab.split, ab.expected_rps, ab.max_days,
                    ctx.problem.constraints.latency_p95_ms, ctx.cfg.serving.drift.psi_threshold)
    out = {"schema_version": 1, "stage": "abplan", **p.to_dict(), "challenger": ab.challenger,
           "key_header": ab.key_header, "created": state.now()}
    write_json(paths.abplan, out)
    write_text(paths.abplan_doc, abtest.render(p, ctx.problem.increment, ab.challenger, ab.key_header))
    log.info("A/B plan for %s: %s %ss (champion/challenger), %s at %g requests/s -> %s", ctx.problem.increment,
             f"{p.n_champion:,}/{p.n_challenger:,}", metric.unit, duration(p.days), ab.expected_rps,
             paths.final / paths.relative(paths.abplan_doc))
    if not p.feasible:
        log.warning("the test needs %s, over serving.ab.max_days=%g", duration(p.days), ab.max_days)
    return out
