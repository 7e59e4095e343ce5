"""``stage=fetch``: snapshot the brief's raw data as ``data/raw.parquet``, the input DVC versions.

The data is checked first, so a bad source leaves nothing behind.
"""

from __future__ import annotations

import logging

from specweave_ml.context import Context
from specweave_ml.fileio import write_json, write_parquet
from specweave_ml.steps.common import require_trainable

log = logging.getLogger(__name__)


def run(ctx: Context) -> None:
    family = ctx.trainable_family()
    frame = ctx.load_source()
    family.check(frame, ctx.problem, ctx.selection.cv_folds)
    require_trainable(ctx.plan(ctx.facts(frame)))
    write_parquet(ctx.paths.raw, frame)
    write_json(ctx.paths.raw_spec, ctx.source_spec())
    ctx.remember_fetched(frame)
    log.info("fetched %s: %s rows x %s columns -> %s", ctx.problem.data.source, f"{len(frame):,}", frame.shape[1],
             ctx.paths.final / ctx.paths.relative(ctx.paths.raw))
