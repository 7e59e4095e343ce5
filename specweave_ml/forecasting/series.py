"""One series, checked and made regular: dates parsed, duplicates refused, the frequency and season length
declared or inferred (with their evidence), gaps filled from the past only, and enough points for the backtest.

Every refusal is one ``DataError`` naming the column or key and the fix.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Optional

import numpy as np
import pandas as pd

from specweave_ml.data.checks import Finding
from specweave_ml.errors import ConfigError, DataError

# A season per frequency (the pandas offset's base name): a year of months, quarters or weeks; a week of days.
SEASONS = {"MS": 12, "ME": 12, "M": 12, "SMS": 24, "SME": 24, "QS": 4, "QE": 4, "Q": 4, "BQS": 4, "BQE": 4,
           "W": 52, "D": 7, "B": 5, "h": 24, "H": 24, "min": 60, "YS": 1, "YE": 1, "Y": 1, "A": 1, "AS": 1}
WORDS = {"MS": "monthly", "ME": "monthly", "QS": "quarterly", "QE": "quarterly", "W": "weekly", "D": "daily",
         "B": "business-daily", "h": "hourly", "YS": "yearly", "YE": "yearly"}
MAX_GAP_SHARE = 0.2  # more missing steps than this share of the grid: not a regular series with gaps


@dataclass
class Series:
    """The regular series: ``frame`` holds the time column, the target and the exogenous columns, one row per step."""

    frame: pd.DataFrame
    time_column: str
    target: str
    exogenous: list[str]
    frequency: str
    season_length: int
    evidence: dict = field(default_factory=dict)  # "frequency" / "season_length" -> how it was decided
    findings: list = field(default_factory=list)
    filled: int = 0


def base_name(frequency: str) -> str:
    from pandas.tseries.frequencies import to_offset

    offset = to_offset(frequency)
    name = getattr(offset, "rule_code", None) or offset.name
    return name.split("-")[0]


def season_for(frequency: str) -> int:
    return SEASONS.get(base_name(frequency), 1)


def describe_frequency(frequency: str) -> str:
    return WORDS.get(base_name(frequency), f"'{frequency}'")


def _times(frame: pd.DataFrame, column: str) -> pd.Series:
    raw = frame[column]
    if pd.api.types.is_datetime64_any_dtype(raw):
        return raw.reset_index(drop=True)
    if pd.api.types.is_numeric_dtype(raw):
        raise DataError(column, "holds numbers, not dates: a forecast needs a date or time column",
                        "give dates (e.g. 2020-01 or 2020-01-31) in problem.data.time_column")
    parsed = pd.to_datetime(raw.astype(str), errors="coerce", format="mixed")
    bad = raw[parsed.isna()]
    if len(bad):
        raise DataError(column, f"{len(bad)} values are not dates (e.g. {bad.iloc[0]!r})",
                        "fix or remove those rows, or point problem.data.time_column at the date column")
    return parsed.reset_index(drop=True)


def _infer(times) -> Optional[str]:
    """``pd.infer_freq`` as a string (pandas 3 warns that it will return an offset)."""
    with pd.option_context("future.infer_freq_returns_offset", True):
        found = pd.infer_freq(times)
    return None if found is None else getattr(found, "freqstr", str(found))


def _grid_frequency(times: pd.DatetimeIndex, declared: Optional[str]) -> tuple[str, str]:
    """The frequency the timestamps lie on (declared, or inferred from the commonest step), and its evidence."""
    if declared:
        return declared, "declared in problem.forecast.frequency"
    found = _infer(times) if len(times) >= 3 else None
    if found:
        return found, f"inferred: every step between the {len(times)} timestamps is one {describe_frequency(found)} period"
    steps = pd.Series(times[1:] - times[:-1])
    common = steps.mode().iloc[0]
    for i in range(len(times) - 2):
        if times[i + 1] - times[i] == common and times[i + 2] - times[i + 1] == common:
            found = _infer(times[i:i + 3])
            if found:
                share = float((steps == common).mean())
                return found, (f"inferred: {share:.0%} of the steps are one {describe_frequency(found)} period; "
                               "the others are gaps")
    shown = ", ".join(str(s) for s in steps.value_counts().index[:3])
    raise DataError("problem.data.time_column", f"the time index is irregular (steps of {shown}, ...): no frequency fits it",
                    "resample the series to one frequency first (e.g. weekly means), or set problem.forecast.frequency")


def regularise(frame: pd.DataFrame, time_column: str, target: str, exogenous: list[str],
               frequency: Optional[str] = None, season_length: Optional[int] = None,
               series_id: Optional[str] = None, series: Optional[str] = None) -> Series:
    """The brief's series on a regular grid, or a ``DataError`` naming what is wrong and the fix."""
    for key, column in [("problem.data.time_column", time_column), ("problem.data.target", target),
                        *[("problem.forecast.exogenous", c) for c in exogenous],
                        *([("problem.data.series_id", series_id)] if series_id else [])]:
        if column not in frame.columns:
            raise DataError(key, f"column '{column}' is not in the data ({', '.join(map(str, frame.columns[:8]))}, ...)",
                            f"set {key} to one of the data's columns")
    if series_id:
        ids = frame[series_id].dropna().astype(str).unique()
        shown = ", ".join(ids[:3]) + (", ..." if len(ids) > 3 else "")
        if len(ids) == 0:
            raise DataError("problem.data.series_id", f"'{series_id}' is empty", "fill it, or remove problem.data.series_id")
        if series is not None:
            if series not in ids:
                raise DataError("problem.forecast.series", f"'{series}' is not a value of '{series_id}' ({shown})",
                                f"set problem.forecast.series to one of the series in '{series_id}'")
            frame = frame[frame[series_id].astype(str) == series]
        elif len(ids) > 1:
            raise DataError("problem.data.series_id", f"'{series_id}' holds {len(ids)} series ({shown}); this version "
                            "forecasts one series per brief", f"pick one with problem.forecast.series=<value of {series_id}> "
                            "(one brief per series)")
    elif series is not None:
        raise ConfigError("problem.forecast.series", "names a series but problem.data.series_id is not set",
                          "set problem.data.series_id to the column naming the series")
    times = _times(frame, time_column)
    dup = times[times.duplicated(keep=False)]
    if len(dup):
        raise DataError(time_column, f"{dup.nunique()} timestamps appear more than once (e.g. {dup.iloc[0]:%Y-%m-%d %H:%M})",
                        "keep one row per timestamp (aggregate the duplicates), or declare problem.data.series_id when the "
                        "file holds several series")
    data = frame[[c for c in [target, *exogenous]]].reset_index(drop=True).copy()
    data.insert(0, time_column, times)
    data = data.sort_values(time_column).reset_index(drop=True)
    if not pd.api.types.is_numeric_dtype(data[target]):
        raise DataError(target, "is not numeric: a forecast needs a numeric target", "point problem.data.target at a numeric column")
    index = pd.DatetimeIndex(data[time_column])
    freq, freq_why = _grid_frequency(index, frequency)
    try:
        grid = pd.date_range(index[0], index[-1], freq=freq)
    except ValueError as err:
        raise ConfigError("problem.forecast.frequency", f"'{freq}' is not a pandas frequency ({err})", "use e.g. MS, W-SAT, D, h") from None
    off_grid = index.difference(grid)
    if len(off_grid):
        key = "problem.forecast.frequency" if frequency else "problem.data.time_column"
        raise DataError(key, f"the time index is irregular: {len(off_grid)} timestamps (e.g. {off_grid[0]:%Y-%m-%d %H:%M}) are not "
                        f"on a {describe_frequency(freq)} grid", "resample the series to one frequency first, or set "
                        "problem.forecast.frequency to the frequency it follows")
    missing_steps = len(grid) - len(index)
    if missing_steps > MAX_GAP_SHARE * len(grid):
        raise DataError("problem.data.time_column", f"{missing_steps} of {len(grid)} {describe_frequency(freq)} steps are missing: "
                        "too irregular to fill", "resample the series to a coarser frequency first")
    data = data.set_index(time_column).reindex(grid)
    data.index.name = time_column
    findings, filled = [], 0
    for column in [target, *exogenous]:
        gaps = int(data[column].isna().sum())
        if gaps:
            leading = int(data[column].notna().to_numpy().argmax()) if data[column].notna().any() else len(data)
            data[column] = data[column].ffill()
            filled += gaps - leading if column == target else 0
            findings.append(Finding("filled_gaps", column, f"{gaps} missing {describe_frequency(freq)} values of '{column}' "
                                    f"(absent steps or empty cells) filled with the last observed value: only the past is used",
                                    {"filled": gaps}))
    if series_id:  # kept, so the regular series checks again as the same one
        data[series_id] = series if series is not None else str(ids[0])
    data = data.dropna()  # leading gaps: nothing in the past to fill them from
    m = season_length or season_for(freq)
    season_why = ("declared in problem.forecast.season_length" if season_length
                  else f"inferred from the frequency: {describe_frequency(freq)} data, a season of {m} steps")
    out = data.reset_index()
    return Series(out, time_column, target, list(exogenous), freq, int(m),
                  {"frequency": freq_why, "season_length": season_why}, findings, filled)


def min_length(horizon: int, windows: int, season_length: int) -> int:
    """The fewest points a series needs: the holdout and ``windows`` backtest windows of ``horizon`` each, after a first
    training window of two seasons (at least 8 points) for the seasonal models to start from."""
    first = max(2 * season_length + 2, 8) if season_length > 1 else 8
    return first + horizon * (windows + 1)


def require_length(series: Series, horizon: int, windows: int) -> None:
    n, need = len(series.frame), min_length(horizon, windows, series.season_length)
    if n < need:
        raise DataError("problem.forecast.horizon", f"the series has {n} points; a horizon of {horizon} with {windows} backtest "
                        f"windows, the holdout and two seasons of {series.season_length} to start from need at least {need}",
                        "lower problem.forecast.horizon or problem.forecast.backtest_windows, or give a longer series")


def future_times(last: pd.Timestamp, frequency: str, steps: int) -> pd.DatetimeIndex:
    return pd.date_range(last, periods=steps + 1, freq=frequency)[1:]


def steps_after(last: pd.Timestamp, frequency: str, times) -> np.ndarray:
    """How many steps after ``last`` each of ``times`` is (1 = the next step); raises ``ValueError`` off the grid."""
    times = pd.DatetimeIndex(pd.to_datetime(times))
    if len(times) == 0:
        return np.zeros(0, dtype=int)
    grid = pd.date_range(last, max(times.max(), last), freq=frequency)
    position = grid.get_indexer(times)
    if (position < 0).any():
        bad = times[position < 0][0]
        raise ValueError(f"{bad} is not on the series' {describe_frequency(frequency)} grid after {last}")
    return position
