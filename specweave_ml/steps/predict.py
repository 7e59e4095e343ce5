"""``stage=predict input=<csv|parquet> output=<path>``: score a file with the packaged model.

The input's columns are checked against the model's signature first: a missing or mistyped column is
named in one message, and nothing is written.
"""

from __future__ import annotations

import logging
from pathlib import Path

import pandas as pd

from specweave_ml import state
from specweave_ml.context import Context
from specweave_ml.errors import ConfigError, DataError
from specweave_ml.fileio import write_parquet, write_text
from specweave_ml.packaging import load_model, signature_columns

log = logging.getLogger(__name__)
NUMERIC = {"double": "float64", "float": "float32", "long": "int64", "integer": "int32"}


def _read(path: Path) -> pd.DataFrame:
    if not path.exists():
        raise ConfigError("input", f"file '{path}' does not exist", "give a CSV or Parquet file to score")
    suffix = path.suffix.lower()
    if suffix not in (".csv", ".parquet", ".pq"):
        raise ConfigError("input", f"cannot read '{path}': unknown format", "use a .csv or .parquet file")
    try:
        return pd.read_csv(path) if suffix == ".csv" else pd.read_parquet(path)
    except (ValueError, OSError) as err:
        raise DataError("input", f"could not read '{path}': {err}", "check the file") from None


def conform(frame: pd.DataFrame, columns: dict[str, str]) -> pd.DataFrame:
    """The input reduced to the signature's columns, numeric ones cast; names every problem found."""
    missing = [c for c in columns if c not in frame.columns]
    if missing:
        raise DataError("input", f"missing column(s) {', '.join(missing)} that the model needs", "add them to the file")
    out = frame[list(columns)].copy()
    for col, kind in columns.items():
        if kind in NUMERIC:
            converted = pd.to_numeric(out[col], errors="coerce")
            bad = converted.isna() & out[col].notna()
            if bad.any():
                raise DataError(f"column '{col}'", f"expected numbers ({kind}), found {out[col][bad].iloc[0]!r} "
                                f"in {int(bad.sum())} row(s)", "fix those values")
            out[col] = converted.astype("float64")
    return out


def run(ctx: Context) -> Path:
    paths = ctx.paths
    if not ctx.cfg.input or not ctx.cfg.output:
        raise ConfigError("input" if not ctx.cfg.input else "output", "stage=predict needs input=<file> and output=<file>",
                          "e.g. input=new.csv output=scores.csv")
    source, target = Path(ctx.cfg.input), Path(ctx.cfg.output)
    if target.suffix.lower() not in (".csv", ".parquet"):
        raise ConfigError("output", f"'{target}' is neither .csv nor .parquet", "name the output file .csv or .parquet")
    meta = state.load(paths)
    model = load_model(paths.model, meta.get("model", {}).get("sha256"))
    frame = _read(source)
    X = conform(frame, signature_columns(paths.model))
    scores = model.scores(X)
    out = frame.copy()
    if ctx.problem.task.value == "multiclass_classification":
        for i, c in enumerate(model.classes_):
            out[f"proba_{c}"] = scores[:, i]
    elif ctx.problem.task.value == "binary_classification":
        out["score"] = scores
    out["prediction"] = model.decide(scores)
    if target.suffix.lower() == ".csv":
        write_text(target, out.to_csv(index=False))
    else:
        write_parquet(target, out)
    log.info("scored %d rows with %s -> %s", len(out), meta["model"]["name"], target)
    return target
