"""``stage=abplan``: the A/B test plan for a challenger against this champion, from its holdout predictions.

The family names the metric the test watches (for tabular models: recall of the positive decisions for
binary classification, accuracy for multiclass, mean absolute error for regression); its champion value and
spread come from ``reports/predictions.parquet``.

When the previous champion's record is kept (``models/previous.record/``, from ``stage=train``), the two are
first compared offline on the holdout rows both scored, by a paired bootstrap of the primary metric
(``family.compare``): whether the champion's lead (or deficit) is larger than the noise. That is evidence for
the plan, not a substitute for the online test.
"""

from __future__ import annotations

import logging

import pandas as pd

from specweave_ml import state
from specweave_ml.context import Context
from specweave_ml.fileio import write_json, write_text
from specweave_ml.results import Trained
from specweave_ml.serving import abtest
from specweave_ml.steps.common import planned, require
from specweave_ml.units import duration

log = logging.getLogger(__name__)


def offline_comparison(ctx: Context, family, champion: pd.DataFrame, classes) -> dict | None:
    """The champion minus the previous champion on the primary metric, on the holdout rows both scored; None when
    no previous champion's predictions are kept."""
    paths = ctx.paths
    kept = paths.previous_record / paths.relative(paths.predictions)
    if not kept.exists():
        return None
    metric = planned(ctx).primary_metric
    out = family.compare(champion, pd.read_parquet(kept), ctx.problem.task.value, metric, classes, ctx.seed)
    return {"a_name": "champion", "b_name": "previous", "metric": metric, "predictions_b": paths.relative(kept), **out}


def run(ctx: Context) -> dict:
    paths, ab, family = ctx.paths, ctx.cfg.serving.ab, ctx.trainable_family()
    require(paths.predictions, "evaluate")
    trained = Trained.require(paths.root)
    champion = pd.read_parquet(paths.predictions)
    metric = family.online_metric(champion, ctx.problem.task.value, trained.classes)
    p = abtest.plan(metric, ab.mde, ab.alpha, ab.power, ab.split, ab.expected_rps, ab.max_days,
                    ctx.problem.constraints.latency_p95_ms, ctx.cfg.serving.drift.psi_threshold)
    offline = offline_comparison(ctx, family, champion, trained.classes)
    out = {"schema_version": 1, "stage": "abplan", **p.to_dict(), "challenger": ab.challenger,
           "key_header": ab.key_header, "offline_comparison": offline, "created": state.now()}
    write_json(paths.abplan, out)
    write_text(paths.abplan_doc, abtest.render(p, ctx.problem.increment, ab.challenger, ab.key_header, offline))
    log.info("A/B plan for %s: %s %ss (champion/challenger), %s at %g requests/s -> %s", ctx.problem.increment,
             f"{p.n_champion:,}/{p.n_challenger:,}", metric.unit, duration(p.days), ab.expected_rps,
             paths.final / paths.relative(paths.abplan_doc))
    if not p.feasible:
        log.warning("the test needs %s, over serving.ab.max_days=%g", duration(p.days), ab.max_days)
    if offline and offline.get("compared"):
        log.info("offline, champion - previous %s: %+.4f [%+.4f, %+.4f] (%s)", offline["metric"], offline["difference"],
                 offline["low"], offline["high"], offline["verdict"])
    return out
