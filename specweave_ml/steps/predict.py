"""``stage=predict input=<csv|parquet|what the family reads> output=<path>``: score a file with the packaged model.

The input is checked against the model's signature first: a missing or mistyped column is named in one
message, and nothing is written. The family decides what the answers look like.
"""

from __future__ import annotations

import logging
from pathlib import Path

from specweave_ml import state
from specweave_ml.context import Context
from specweave_ml.errors import ConfigError
from specweave_ml.fileio import write_parquet, write_text
from specweave_ml.packaging import load_model

log = logging.getLogger(__name__)


def run(ctx: Context) -> Path:
    paths, family = ctx.paths, ctx.trainable_family()
    meta = state.load(paths)
    model = load_model(paths.model, meta.get("model", {}).get("sha256"))
    default = None if ctx.cfg.input else family.default_input(model)  # a forecast's next steps need no input
    if (not ctx.cfg.input and default is None) or not ctx.cfg.output:
        raise ConfigError("input" if not ctx.cfg.input and default is None else "output",
                          "stage=predict needs input=<file> and output=<file>", "e.g. input=new.csv output=scores.csv")
    target = Path(ctx.cfg.output)
    if target.suffix.lower() not in (".csv", ".parquet"):
        raise ConfigError("output", f"'{target}' is neither .csv nor .parquet", "name the output file .csv or .parquet")
    frame = family.read_input(Path(ctx.cfg.input), model) if ctx.cfg.input else default  # a file, or a folder of images
    answers = family.score(model, family.conform(frame, paths.model))
    out = frame.copy()
    for column in answers.columns:
        out[column] = answers[column].to_numpy()
    if target.suffix.lower() == ".csv":
        write_text(target, out.to_csv(index=False))
    else:
        write_parquet(target, out)
    log.info("scored %d rows with %s -> %s", len(out), meta["model"]["name"], target)
    return target
