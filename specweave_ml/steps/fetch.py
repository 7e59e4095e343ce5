"""``stage=fetch``: snapshot the brief's raw data as ``data/raw.parquet``, the input DVC versions.

The data is checked first, so a bad source leaves nothing behind.
"""

from __future__ import annotations

import logging

from specweave_ml.context import Context
from specweave_ml.data.checks import check_frame
from specweave_ml.fileio import write_json, write_parquet

log = logging.getLogger(__name__)


def run(ctx: Context) -> None:
    frame = ctx.load_source()
    check_frame(frame, ctx.problem, ctx.selection.cv_folds)
    plan = ctx.plan(ctx.facts(frame))
    if not plan.trainable:
        from specweave_ml.stages import require_trainable

        require_trainable(plan)
    write_parquet(ctx.paths.raw, frame)
    write_json(ctx.paths.raw_spec, ctx.source_spec())
    ctx.remember_fetched(frame)
    log.info("fetched %s: %s rows x %s columns -> %s", ctx.problem.data.source, f"{len(frame):,}", frame.shape[1], ctx.paths.raw)
