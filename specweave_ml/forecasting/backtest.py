"""Expanding-window backtests: origins, per-origin forecasts and errors, and prediction intervals from them.

The training part of a series (the holdout already cut off) is split at ``windows`` origins, ``horizon`` apart,
the last one ``horizon`` before its end. At each origin a fresh forecaster is fitted on the points before it
(and the exogenous values up to the end of its window, which a forecast is given as known) and forecasts the
next ``horizon`` points. Nothing after an origin reaches what is computed for it: ``tests/forecasting`` proves it.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Callable, Optional

import numpy as np
import pandas as pd

from specweave_ml.forecasting import metrics as fm
from specweave_ml.forecasting.models import Forecaster

Z95 = 1.959964


def origins(n: int, horizon: int, windows: int) -> list[int]:
    """The positions where each backtest window starts (expanding windows, the last ending at ``n``)."""
    return [n - (windows - i) * horizon for i in range(windows)]


@dataclass
class Window:
    origin: int
    forecast: np.ndarray
    actual: np.ndarray
    metrics: dict  # out of sample, on this window
    train_metrics: dict  # in sample, one step ahead, on the points before the origin
    seconds: float


@dataclass
class Backtest:
    name: str
    windows: list[Window] = field(default_factory=list)

    def scores(self, metric: str) -> list[float]:
        return [w.metrics[metric] for w in self.windows]

    def train_scores(self, metric: str) -> list[float]:
        return [w.train_metrics.get(metric, float("nan")) for w in self.windows]

    def overall(self, season_length: int, history: np.ndarray) -> dict:
        """Every metric over all windows' points together (MASE scaled by the history before the first origin)."""
        y = np.concatenate([w.actual for w in self.windows])
        f = np.concatenate([w.forecast for w in self.windows])
        return fm.all_metrics(y, f, history[:self.windows[0].origin], season_length)

    @property
    def seconds(self) -> float:
        return float(sum(w.seconds for w in self.windows))


def in_sample(y: np.ndarray, fitted: np.ndarray, season_length: int) -> dict:
    ok = np.isfinite(fitted)
    if ok.sum() < 2:
        return {}
    return fm.all_metrics(y[ok], fitted[ok], y, season_length)


def run_window(make: Callable[[], Forecaster], y: np.ndarray, X: Optional[np.ndarray], times: pd.DatetimeIndex,
               origin: int, horizon: int, season_length: int) -> Window:
    """One origin: fit on ``y[:origin]`` (exogenous values up to the window's end), forecast ``horizon`` points."""
    start = time.perf_counter()
    past_y, past_X = y[:origin].copy(), None if X is None else X[:origin].copy()
    future_X = None if X is None else X[origin:origin + horizon].copy()
    model = make().fit(past_y, past_X, times[:origin])
    forecast = np.asarray(model.forecast(horizon, future_X, times[origin:origin + horizon]), float)
    actual = y[origin:origin + horizon]
    return Window(origin, forecast, actual, fm.all_metrics(actual, forecast, past_y, season_length),
                  in_sample(past_y, model.fitted(), season_length), time.perf_counter() - start)


def backtest(name: str, make: Callable[[], Forecaster], y: np.ndarray, X: Optional[np.ndarray], times: pd.DatetimeIndex,
             horizon: int, windows: int, season_length: int, on_window: Callable[[], None] = lambda: None) -> Backtest:
    out = Backtest(name)
    for o in origins(len(y), horizon, windows):
        out.windows.append(run_window(make, y, X, times, o, horizon, season_length))
        on_window()
    return out


def interval_scale(result: Backtest, relative: bool) -> float:
    """The spread of backtest errors per square root of the step ahead: an error at step ``h`` is taken as normal
    with standard deviation ``scale * sqrt(h)`` (relative to the forecast for a positive series)."""
    ratios = []
    for w in result.windows:
        err = w.actual - w.forecast
        if relative:
            err = err / np.where(w.forecast == 0, 1, np.abs(w.forecast))
        ratios.append(err ** 2 / np.arange(1, len(err) + 1))
    return float(np.sqrt(np.mean(np.concatenate(ratios)))) if ratios else 0.0


def bounds(forecast: np.ndarray, steps: np.ndarray, scale: float, relative: bool, z: float = Z95) -> tuple[np.ndarray, np.ndarray]:
    half = z * scale * np.sqrt(np.asarray(steps, float))
    if relative:
        half = half * np.abs(forecast)
    return forecast - half, forecast + half
