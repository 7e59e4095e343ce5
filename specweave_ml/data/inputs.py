"""Files a user hands to a packaged model (``stage=predict``, ``stage=monitor``): read, and checked against its signature.

A missing or mistyped column is named in one message, and nothing is written.
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from specweave_ml.errors import ConfigError, DataError

NUMERIC = {"double": "float64", "float": "float32", "long": "int64", "integer": "int32"}


def read_input(path: Path, key: str = "input") -> pd.DataFrame:
    if not path.exists():
        raise ConfigError(key, f"file '{path}' does not exist", "give a CSV or Parquet file to score")
    suffix = path.suffix.lower()
    if suffix not in (".csv", ".parquet", ".pq"):
        raise ConfigError(key, f"cannot read '{path}': unknown format", "use a .csv or .parquet file")
    try:
        return pd.read_csv(path) if suffix == ".csv" else pd.read_parquet(path)
    except (ValueError, OSError) as err:
        raise DataError(key, f"could not read '{path}': {err}", "check the file") from None


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
