"""``stage=serve``: the packaged champion behind uvicorn on ``serving.host:serving.port`` until Ctrl-C."""

from __future__ import annotations

import logging

from specweave_ml.context import Context
from specweave_ml.serving.server import serve
from specweave_ml.serving.settings import server_config

log = logging.getLogger(__name__)


def run(ctx: Context) -> None:
    config = server_config(ctx.cfg.serving, ctx.paths)
    url = f"http://{config.host}:{config.port}"
    endpoints = ctx.trainable_family().notes.get("endpoints", "POST /predict, /predict/batch, /explain")
    log.info("serving %s on %s: %s; GET /health, /metrics, /docs (Ctrl-C stops)", ctx.problem.increment, url, endpoints)
    if config.challenger:
        log.info("A/B: %.0f%% of requests with a %s header go to the challenger (%s, %s)", config.split * 100,
                 config.key_header, config.challenger, config.challenger_model)
    serve(config)
