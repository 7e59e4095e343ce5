"""``stage=loadtest``: the real server in a subprocess, driven open-loop at the configured rate.

Writes ``reports/loadtest.json`` (p50/p95/p99, achieved rate, error rate) and judges p95 against the
brief's ``latency_p95_ms``; the readiness checklist and the report read that file.
"""

from __future__ import annotations

import logging
import os

from specweave_ml import docs, state
from specweave_ml.context import Context
from specweave_ml.errors import GateFailed
from specweave_ml.results import LoadTested, Trained
from specweave_ml.packaging import signature_columns
from specweave_ml.serving import loadtest
from specweave_ml.serving.server import free_port, running_server
from specweave_ml.serving.settings import server_config
from specweave_ml.steps.common import load_split, planned, require, split_info
from specweave_ml.tracking import Tracker
from specweave_ml.units import seconds

log = logging.getLogger(__name__)
PAYLOAD_ROWS = 1000


def run(ctx: Context) -> LoadTested:
    plan, paths, lt, family = planned(ctx), ctx.paths, ctx.cfg.serving.loadtest, ctx.trainable_family()
    require(paths.model, "train")
    config = server_config(ctx.cfg.serving, paths, port=free_port())
    endpoint, bodies = family.requests(load_split(ctx, "test"), signature_columns(paths.model), split_info(ctx), PAYLOAD_ROWS,
                                       ctx.seed)
    budget = float(ctx.problem.constraints.latency_p95_ms)
    log.info("load test of %s: %g requests/s for %s (open loop) against a server on 127.0.0.1", plan.increment, lt.rate,
             seconds(lt.duration_s))
    with running_server(config, lt.startup_timeout_s) as url:
        result = loadtest.run(f"{url}{endpoint}", bodies, lt.rate, lt.duration_s, lt.timeout_s)
    meta = state.load(paths)
    passed = result.p95_ms <= budget and result.error_rate == 0
    note = (f"p95 {result.p95_ms:.1f} ms (budget {budget:g}), p99 {result.p99_ms:.1f} ms, {result.achieved_rate:.1f} of "
            f"{lt.rate:g} requests/s, errors {result.error_rate:.2%}")
    out = LoadTested(**result.to_dict(), endpoint=endpoint, budget_p95_ms=budget, passed=passed,
                     model_sha256=meta.get("model", {}).get("sha256"),
                     load_average=" ".join(f"{x:.2f}" for x in os.getloadavg()),
                     tasks={"T-010": {"status": state.DONE if passed else state.FAILED, "note": note}})
    state.record(paths, meta, out)
    state.save(paths, meta)
    docs.write_all(paths, plan, ctx.problem)
    trained = Trained.load(paths.root, strict=False)
    Tracker(ctx.cfg.tracking, ctx.cfg.paths.root).log(
        trained.tracking.get("parent_run_id") if trained else None,
        metrics={"loadtest_p50_ms": result.p50_ms, "loadtest_p95_ms": result.p95_ms, "loadtest_p99_ms": result.p99_ms,
                 "loadtest_achieved_rps": result.achieved_rate, "loadtest_error_rate": result.error_rate})
    (log.info if passed else log.warning)("load test %s: %s", "passed" if passed else "FAILED", note)
    if not passed and ctx.cfg.strict:
        raise GateFailed("problem.constraints.latency_p95_ms", note, "see reports/loadtest.json; strict=false records the failure")
    return out
