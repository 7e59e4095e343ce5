"""``ForecastModel``: a chosen forecaster behind the scikit-learn contract, so it packages, loads and serves like
any model of the framework.

It is fitted on the whole series (a frame with the time column, the target and the exogenous columns) and keeps
two fits of the same configuration: ``evaluation_``, on the points before the holdout (what ``stage=evaluate``
scores, never having seen the holdout), and ``forecaster_``, on every point (what ``predict`` and the server use
for the next steps). ``predict(X)`` answers the forecast at each timestamp of ``X`` after the series' end (with
the future exogenous values of every step up to the last one asked).
"""

from __future__ import annotations

import copy
from typing import Optional

import numpy as np
import pandas as pd
from sklearn.base import BaseEstimator

from specweave_ml.forecasting.backtest import bounds
from specweave_ml.forecasting.series import describe_frequency, future_times, steps_after


class MissingFuture(ValueError):
    """The input lacks the future exogenous values (or the timestamps) a forecast needs."""

    def __init__(self, column: str, message: str, fix: str):
        super().__init__(message)
        self.column, self.message, self.fix = column, message, fix


class ForecastModel(BaseEstimator):
    task = "forecasting"

    def __init__(self, forecaster=None, time_column: str = "time", target: str = "y", exogenous: tuple = (),
                 frequency: str = "MS", season_length: int = 1, holdout: int = 0, horizon: int = 1,
                 interval_scale: float = 0.0, relative: bool = False, level: float = 0.95, name: str = ""):
        self.forecaster, self.time_column, self.target, self.exogenous = forecaster, time_column, target, tuple(exogenous)
        self.frequency, self.season_length, self.holdout, self.horizon = frequency, season_length, holdout, horizon
        self.interval_scale, self.relative, self.level, self.name = interval_scale, relative, level, name

    # -- fitting ------------------------------------------------------------------------------------------------
    def _parts(self, frame: pd.DataFrame):
        times = pd.DatetimeIndex(pd.to_datetime(frame[self.time_column]))
        y = frame[self.target].to_numpy(float)
        X = frame[list(self.exogenous)].to_numpy(float) if self.exogenous else None
        return y, X, times

    def _new(self):
        model = copy.deepcopy(self.forecaster)
        model.exog_names = list(self.exogenous)
        return model

    def fit(self, X: pd.DataFrame, y=None) -> "ForecastModel":
        values, exog, times = self._parts(X)
        cut = len(values) - self.holdout
        self.evaluation_ = self._new().fit(values[:cut], None if exog is None else exog[:cut], times[:cut]) if self.holdout else None
        self.forecaster_ = self._new().fit(values, exog, times)
        self.last_time_, self.train_end_ = times[-1], times[cut - 1]
        self.history_ = pd.DataFrame({"time": times, "value": values,
                                      **{c: X[c].to_numpy(float) for c in self.exogenous}})
        self.uses_exogenous_ = bool(self.exogenous) and self.forecaster_.uses_exogenous
        return self

    # -- forecasting --------------------------------------------------------------------------------------------
    def next_times(self, steps: Optional[int] = None) -> pd.DatetimeIndex:
        return future_times(self.last_time_, self.frequency, steps or self.horizon)

    def _future(self, X: pd.DataFrame, last: pd.Timestamp) -> tuple[np.ndarray, int, Optional[np.ndarray], pd.DatetimeIndex]:
        if self.time_column not in X.columns:
            raise MissingFuture(self.time_column, f"the input has no '{self.time_column}' column: the timestamps to forecast",
                                f"give the {describe_frequency(self.frequency)} timestamps after {last:%Y-%m-%d} in '{self.time_column}'")
        times = pd.DatetimeIndex(pd.to_datetime(X[self.time_column]))
        try:
            steps = steps_after(last, self.frequency, times)
        except ValueError as err:
            raise MissingFuture(self.time_column, str(err), f"give timestamps on the series' {describe_frequency(self.frequency)} grid") from None
        if len(steps) and steps.min() < 1:
            raise MissingFuture(self.time_column, f"{times[steps < 1][0]:%Y-%m-%d} is not after the series' end ({last:%Y-%m-%d})",
                                "ask only for timestamps after the end of the series")
        need = int(steps.max()) if len(steps) else 0
        grid = future_times(last, self.frequency, need)
        exog = None
        if self.uses_exogenous_:
            missing = [c for c in self.exogenous if c not in X.columns]
            if missing:
                raise MissingFuture(missing[0], f"the model needs the future values of {', '.join(missing)}",
                                    f"add the column(s) {', '.join(missing)} for every step up to {grid[-1]:%Y-%m-%d}")
            known = X.assign(_t=times).drop_duplicates("_t").set_index("_t")[list(self.exogenous)].reindex(grid)
            gaps = known.columns[known.isna().any()].tolist()
            if gaps:
                first = known.index[known[gaps[0]].isna()][0]
                raise MissingFuture(gaps[0], f"the future values of {', '.join(gaps)} are missing (e.g. at {first:%Y-%m-%d})",
                                    f"give {', '.join(gaps)} for every {describe_frequency(self.frequency)} step from "
                                    f"{grid[0]:%Y-%m-%d} to {grid[-1]:%Y-%m-%d}")
            exog = known.to_numpy(float)
        return steps, need, exog, grid

    def _frame(self, model, last: pd.Timestamp, X: pd.DataFrame) -> pd.DataFrame:
        steps, need, exog, grid = self._future(X, last)
        path = np.asarray(model.forecast(need, exog, grid), float) if need else np.zeros(0)
        forecast = path[steps - 1] if len(steps) else np.zeros(0)
        lower, upper = bounds(forecast, steps, self.interval_scale, self.relative)
        return pd.DataFrame({self.time_column: grid[steps - 1] if len(steps) else pd.DatetimeIndex([]), "step": steps,
                             "forecast": forecast, "lower": lower, "upper": upper})

    def forecast_frame(self, X: Optional[pd.DataFrame] = None) -> pd.DataFrame:
        """The forecast, with its interval, at each timestamp of ``X`` (default: the next ``horizon`` steps)."""
        X = pd.DataFrame({self.time_column: self.next_times()}) if X is None else X
        return self._frame(self.forecaster_, self.last_time_, X)

    def holdout_frame(self, X: pd.DataFrame) -> pd.DataFrame:
        """The forecast of the fit that never saw the holdout, at the holdout's timestamps."""
        return self._frame(self.evaluation_ or self.forecaster_, self.train_end_ if self.evaluation_ else self.last_time_, X)

    def predict(self, X: pd.DataFrame) -> np.ndarray:
        return self.forecast_frame(X)["forecast"].to_numpy()

    def scores(self, X: pd.DataFrame) -> np.ndarray:
        return self.predict(X)

    def decide(self, scores):
        return scores
