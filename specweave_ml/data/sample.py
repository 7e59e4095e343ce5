"""A data file as ``stage=init`` reads it: the first rows to infer from, the whole file's row count and target."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from specweave_ml.errors import DataError

SAMPLE_ROWS = 100_000  # rows read to infer the brief; the row count and the target come from the whole file
FORMATS = {".csv": "csv", ".parquet": "parquet", ".pq": "parquet"}


@dataclass(frozen=True)
class Sample:
    frame: pd.DataFrame  # the first rows
    n_rows: int  # rows in the whole file
    target: pd.Series  # the whole file's target column


def _first_line(err: BaseException) -> str:
    text = str(err).strip()
    return text.splitlines()[0] if text else type(err).__name__


def _shown(columns) -> str:
    cols = list(columns)
    return ", ".join(cols[:12]) + (", ..." if len(cols) > 12 else "")


def _head(path: Path, fmt: str, rows: int) -> tuple[pd.DataFrame, bool]:
    """The first ``rows`` rows, and whether they are the whole file."""
    if fmt == "csv":
        frame = pd.read_csv(path, nrows=rows + 1)
        return frame.head(rows), len(frame) <= rows
    import pyarrow.parquet as pq

    file = pq.ParquetFile(path)
    batch = next(file.iter_batches(batch_size=rows), None)
    frame = batch.to_pandas() if batch is not None else file.schema_arrow.empty_table().to_pandas()
    return frame, file.metadata.num_rows <= rows


def _column(path: Path, fmt: str, column: str) -> pd.Series:
    if fmt == "csv":
        return pd.read_csv(path, engine="pyarrow", usecols=[column])[column]
    return pd.read_parquet(path, columns=[column])[column]


def read_sample(source: str, target: str, rows: int = SAMPLE_ROWS) -> Sample:
    """The file at ``source`` (a .csv or .parquet path); each way it can fail names ``data`` or ``target``."""
    path = Path(source)
    if not path.is_file():
        raise DataError("data", f"file '{source}' does not exist", "check the path (relative paths start at the directory you run from)")
    fmt = FORMATS.get(path.suffix.lower())
    if fmt is None:
        raise DataError("data", f"cannot tell the format of '{source}'", "use a .csv or .parquet file")
    try:
        frame, whole = _head(path, fmt, rows)
        if target not in frame.columns:
            raise DataError("target", f"column '{target}' is not in '{source}' ({len(frame.columns)} columns: "
                            f"{_shown(frame.columns)})", "set target=<one of the file's columns>")
        values = frame[target] if whole else _column(path, fmt, target)
    except (ValueError, OSError) as err:  # parser errors, bad encodings and bad Parquet are all ValueErrors
        raise DataError("data", f"could not read '{source}' as {fmt}: {_first_line(err)}",
                        f"check that it is a {fmt} file with a header row") from None
    if frame.empty:
        raise DataError("data", f"'{source}' has no rows", "use a file with data in it")
    return Sample(frame=frame, n_rows=len(values), target=values.reset_index(drop=True))
