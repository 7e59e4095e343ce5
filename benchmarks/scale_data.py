"""Fraud-like data of any size for the scale benchmark (``benchmarks/scale.py``), drawn from the real ULB
credit-card transactions (284,807 rows, 492 frauds) so that a model finds about the same signal at 10M rows.

    python benchmarks/scale_data.py 1000000          # writes benchmarks/.scale-data/fraud_1000000_seed42.parquet

How a row is drawn, and why:

* ``Class`` is Bernoulli with the real fraud rate (492 / 284,807 = 0.173%), independently per row.
* ``V1..V28`` and ``Amount`` come from a **Gaussian copula per class**: the real rows of that class are turned
  into normal scores (their ranks through the normal quantile function), the correlation of those scores is the
  copula's; a draw from it goes back through each column's empirical quantile function (linear interpolation
  between the sorted real values). Independent marginals would be simpler, but the V columns are principal
  components of the whole set, hence uncorrelated overall and strongly correlated *within* the fraud class
  (V14, V12, V10, V17 move together there): that structure is what makes fraud detectable, and a benchmark whose
  models find nothing would time nothing realistic. Every marginal stays the real one, per class.
* ``Time`` increases like the real one: sorted draws from the real ``Time`` quantile function (same two-day span,
  same day/night density), so the framework's time-ordered split cuts the data as it cuts the real set. It is
  drawn independently of the other columns (no drift between the train and test parts).
* ``Amount`` is rounded to cents as in the real file; everything else is float64 and ``Class`` int64, the dtypes
  the real CSV is read with, so memory per row is the real one.

Rows are generated and written in chunks (one Parquet row group each), so 10M rows x 31 columns (2.5 GB in
memory) never exist in memory at once; the file is written under a temporary name and renamed when complete,
and reused on the next run (the cache folder is gitignored).
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parent.parent
CACHE = REPO / "benchmarks" / ".scale-data"
CHUNK_ROWS = 500_000
TARGET, TIME = "Class", "Time"


def _real_frame():
    """The real data set, read from the package that ships it (see STACK.md)."""
    import pandas as pd

    sys.path.insert(0, str(REPO))
    from specweave_ml.data.sources import _fraud_csv

    return pd.read_csv(_fraud_csv(), engine="pyarrow")


def fit(real) -> dict:
    """What the generator needs from the real data: column order, fraud rate, the sorted ``Time`` values and, per
    class, each column's sorted values and the Cholesky factor of the normal-score correlation."""
    from scipy.stats import norm, rankdata

    columns = [c for c in real.columns if c not in (TARGET, TIME)]
    y = real[TARGET].to_numpy()
    model = {"all_columns": list(real.columns), "columns": columns, "rate": float(y.mean()),
             "time": np.sort(real[TIME].to_numpy(dtype="float64")), "classes": {}}
    for label in (0, 1):
        values = real.loc[y == label, columns].to_numpy(dtype="float64")
        scores = norm.ppf((rankdata(values, axis=0) - 0.5) / len(values))
        corr = np.corrcoef(scores, rowvar=False)
        corr += 1e-6 * np.eye(len(columns))  # 492 fraud rows for 29 columns: keep the factorisation well posed
        model["classes"][label] = {"sorted": np.sort(values, axis=0), "chol": np.linalg.cholesky(corr)}
    return model


def _quantiles(sorted_values: np.ndarray, u: np.ndarray) -> np.ndarray:
    """Each column of ``u`` (probabilities) through its column's empirical quantile function."""
    grid = np.linspace(0.0, 1.0, len(sorted_values))
    return np.column_stack([np.interp(u[:, j], grid, sorted_values[:, j]) for j in range(u.shape[1])])


def chunk(model: dict, rows: int, start: float, stop: float, rng: np.random.Generator):
    """``rows`` rows whose ``Time`` lies in the real quantile range [start, stop) (so chunks in order increase)."""
    import pandas as pd
    from scipy.stats import norm

    y = (rng.random(rows) < model["rate"]).astype("int64")
    features = np.empty((rows, len(model["columns"])), dtype="float64")
    for label, params in model["classes"].items():
        mask = y == label
        z = rng.standard_normal((int(mask.sum()), len(model["columns"]))) @ params["chol"].T
        features[mask] = _quantiles(params["sorted"], norm.cdf(z))
    frame = pd.DataFrame(features, columns=model["columns"])
    frame["Amount"] = frame["Amount"].round(2)
    u = np.sort(rng.uniform(start, stop, rows))
    frame[TIME] = np.interp(u, np.linspace(0.0, 1.0, len(model["time"])), model["time"])
    frame[TARGET] = y
    return frame[model["all_columns"]]


def path_for(rows: int, seed: int = 42) -> Path:
    return CACHE / f"fraud_{rows}_seed{seed}.parquet"


def generate(rows: int, seed: int = 42, chunk_rows: int = CHUNK_ROWS) -> Path:
    """Write (or reuse) ``rows`` fraud-like rows as Parquet and return the file."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    path = path_for(rows, seed)
    if path.exists():
        return path
    CACHE.mkdir(parents=True, exist_ok=True)
    model = fit(_real_frame())
    rng = np.random.default_rng(seed)
    sizes = [min(chunk_rows, rows - s) for s in range(0, rows, chunk_rows)]
    tmp = path.with_suffix(f".tmp{os.getpid()}")
    writer, done = None, 0
    try:
        for size in sizes:
            table = pa.Table.from_pandas(chunk(model, size, done / rows, (done + size) / rows, rng), preserve_index=False)
            writer = writer or pq.ParquetWriter(tmp, table.schema)
            writer.write_table(table)
            done += size
        writer.close()
        tmp.replace(path)
    finally:
        tmp.unlink(missing_ok=True)
    return path


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("rows", type=int)
    parser.add_argument("--seed", type=int, default=42)
    args = parser.parse_args()
    print(generate(args.rows, args.seed))


if __name__ == "__main__":
    main()
