"""Forecasters: the four baselines, Holt-Winters and (S)ARIMA from statsmodels, and LightGBM on lag, rolling and
calendar features with a target transform chosen by an inner backtest.

A forecaster is fitted on a history (``y``, the exogenous columns ``X`` or None, the timestamps) and forecasts the
next ``steps`` points (given the future exogenous values and timestamps). It only ever sees what it is given, so
a backtest that hands it the past of an origin cannot leak the future into it.
"""

from __future__ import annotations

import warnings
from contextlib import contextmanager
from typing import Optional

import numpy as np
import pandas as pd


@contextmanager
def _quiet():
    """No warnings from the fits (statsmodels re-enables its ConvergenceWarning inside, hence showwarning too): a
    backtest fits dozens of models, and what matters of each is its forecast error."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        warnings.showwarning = lambda *args, **kwargs: None
        with np.errstate(all="ignore"):
            yield


class Forecaster:
    """The common contract: ``fit(y, X, times)``, ``forecast(steps, X_future, future)``, ``fitted()``, ``components()``."""

    uses_exogenous = False
    season_length = 1

    def fit(self, y: np.ndarray, X: Optional[np.ndarray], times: pd.DatetimeIndex) -> "Forecaster":
        raise NotImplementedError

    def forecast(self, steps: int, X_future: Optional[np.ndarray], future: pd.DatetimeIndex) -> np.ndarray:
        raise NotImplementedError

    def fitted(self) -> np.ndarray:
        """In-sample one-step predictions over the history (NaN where there are none)."""
        return np.full(len(self.y_), np.nan)

    def components(self) -> dict:
        return {}

    def describe(self) -> str:
        return type(self).__name__


# -- baselines ----------------------------------------------------------------------------------------------
class Naive(Forecaster):
    """The last value, repeated."""

    def __init__(self, season_length: int = 1, **_):
        self.season_length = season_length

    def fit(self, y, X, times):
        self.y_ = np.asarray(y, float)
        return self

    def forecast(self, steps, X_future=None, future=None):
        return np.repeat(self.y_[-1], steps)

    def fitted(self):
        return np.r_[np.nan, self.y_[:-1]]


class SeasonalNaive(Naive):
    """The value one season before, repeated season after season."""

    def forecast(self, steps, X_future=None, future=None):
        m = self.season_length if len(self.y_) >= self.season_length > 1 else 1
        last = self.y_[-m:]
        return np.array([last[i % m] for i in range(steps)])

    def fitted(self):
        m = self.season_length if len(self.y_) > self.season_length > 1 else 1
        return np.r_[np.full(m, np.nan), self.y_[:-m]]


class Drift(Naive):
    """The line from the first to the last value, extended."""

    def forecast(self, steps, X_future=None, future=None):
        slope = (self.y_[-1] - self.y_[0]) / max(len(self.y_) - 1, 1)
        return self.y_[-1] + slope * np.arange(1, steps + 1)

    def fitted(self):
        slope = (self.y_[-1] - self.y_[0]) / max(len(self.y_) - 1, 1)
        return np.r_[np.nan, self.y_[:-1] + slope]


class Mean(Naive):
    """The mean of the history."""

    def forecast(self, steps, X_future=None, future=None):
        return np.repeat(self.y_.mean(), steps)

    def fitted(self):
        return np.repeat(self.y_.mean(), len(self.y_))


BASELINES = {"naive": Naive, "seasonal_naive": SeasonalNaive, "drift": Drift, "mean": Mean}


def baseline(name: str, season_length: int) -> Forecaster:
    if name not in BASELINES:
        from specweave_ml.errors import ConfigError

        raise ConfigError("selection.baselines.forecasting", f"unknown forecasting baseline '{name}'",
                          f"use some of {', '.join(BASELINES)}")
    return BASELINES[name](season_length=season_length)


# -- statistical models ---------------------------------------------------------------------------------------
class HoltWinters(Forecaster):
    """Exponential smoothing (statsmodels): level, trend and season; ``seasonal: auto`` keeps the lower-AICc of
    additive and multiplicative seasons (multiplicative only for a positive series)."""

    def __init__(self, trend: Optional[str] = "add", seasonal: Optional[str] = "auto", damped_trend: bool = False,
                 season_length: int = 1, **_):
        self.trend, self.seasonal, self.damped_trend, self.season_length = trend, seasonal, damped_trend, season_length

    def _fit_one(self, y, seasonal):
        from statsmodels.tsa.holtwinters import ExponentialSmoothing

        m = self.season_length
        model = ExponentialSmoothing(y, trend=self.trend, seasonal=seasonal, seasonal_periods=m if seasonal else None,
                                     damped_trend=bool(self.damped_trend and self.trend), initialization_method="estimated")
        return model.fit()

    def fit(self, y, X, times):
        self.y_ = y = np.asarray(y, float)
        m = self.season_length
        options = [None]
        if m > 1 and len(y) >= 2 * m + 2:
            wanted = self.seasonal
            if wanted == "auto":
                options = ["mul", "add"] if (y > 0).all() else ["add"]
            elif wanted:
                options = [wanted if wanted != "mul" or (y > 0).all() else "add"]
        with _quiet():
            fits = [(self._fit_one(y, s), s) for s in options]
        self.result_, self.seasonal_ = min(fits, key=lambda f: f[0].aicc if np.isfinite(f[0].aicc) else np.inf)
        return self

    def forecast(self, steps, X_future=None, future=None):
        with _quiet():
            return np.asarray(self.result_.forecast(steps), float)

    def fitted(self):
        return np.asarray(self.result_.fittedvalues, float)

    def components(self) -> dict:
        r = self.result_
        out = {"kind": "exponential smoothing", "trend": self.trend, "seasonal": self.seasonal_,
               "damped_trend": bool(self.damped_trend and self.trend),
               "params": {k: float(v) for k, v in r.params.items() if np.isscalar(v) and np.isfinite(v)},
               "series": {"level": np.asarray(r.level, float)}}
        if self.trend:
            out["series"]["trend"] = np.asarray(r.trend, float)
        if self.seasonal_:
            out["series"]["season"] = np.asarray(r.season, float)
        return out

    def describe(self) -> str:
        return f"Holt-Winters (trend {self.trend}, season {self.seasonal_})"


def fourier(times_index: np.ndarray, period: int, terms: int) -> np.ndarray:
    t = np.asarray(times_index, float)
    cols = []
    for k in range(1, terms + 1):
        cols += [np.sin(2 * np.pi * k * t / period), np.cos(2 * np.pi * k * t / period)]
    return np.column_stack(cols)


class Arima(Forecaster):
    """(S)ARIMA with exogenous regressors (statsmodels SARIMAX), on the log of a positive series when
    ``transform`` is log (or auto, without regressors); a season longer than ``max_seasonal_period`` becomes
    Fourier terms instead."""

    uses_exogenous = True

    def __init__(self, order=(0, 1, 1), seasonal_order=(0, 1, 1), transform: str = "auto", max_seasonal_period: int = 24,
                 fourier_terms: int = 3, season_length: int = 1, **_):
        self.order, self.seasonal_order, self.transform = tuple(order), tuple(seasonal_order), transform
        self.max_seasonal_period, self.fourier_terms, self.season_length = max_seasonal_period, fourier_terms, season_length

    def _exog(self, X, start: int, n: int):
        parts = [] if X is None else [np.asarray(X, float)]
        if self.fourier_:
            parts.append(fourier(np.arange(start, start + n), self.season_length, self.fourier_terms))
        return np.column_stack(parts) if parts else None

    def fit(self, y, X, times):
        from statsmodels.tsa.statespace.sarimax import SARIMAX

        self.y_ = y = np.asarray(y, float)
        # auto: the log of a positive series, unless regressors are given (a log target on raw regressors mixes scales)
        self.log_ = self.transform == "log" or (self.transform == "auto" and (y > 0).all() and X is None)
        m = self.season_length
        self.fourier_ = m > self.max_seasonal_period
        seasonal = (*self.seasonal_order, m) if 1 < m <= self.max_seasonal_period and len(y) > 2 * m + 2 else (0, 0, 0, 0)
        self.seasonal_used_ = seasonal
        z = np.log(y) if self.log_ else y
        with _quiet():
            self.result_ = SARIMAX(z, exog=self._exog(X, 0, len(y)), order=self.order, seasonal_order=seasonal,
                                   trend="c" if self.order[1] == 0 and seasonal[1] == 0 else "n").fit(disp=False)
        return self

    def forecast(self, steps, X_future=None, future=None):
        with _quiet():
            z = np.asarray(self.result_.forecast(steps, exog=self._exog(X_future, len(self.y_), steps)), float)
        return np.exp(z) if self.log_ else z

    def fitted(self):
        z = np.asarray(self.result_.fittedvalues, float)
        out = np.exp(z) if self.log_ else z
        burn = self.order[1] + self.seasonal_used_[1] * max(self.seasonal_used_[3], 1)
        out[:burn] = np.nan  # the first points have no past to predict from
        return out

    def components(self) -> dict:
        return {"kind": "SARIMAX", "order": list(self.order), "seasonal_order": list(self.seasonal_used_),
                "log": bool(self.log_), "fourier_terms": self.fourier_terms if self.fourier_ else 0,
                "params": {str(k): float(v) for k, v in zip(self.result_.param_names, self.result_.params)}}

    def describe(self) -> str:
        return f"SARIMA{self.order}x{self.seasonal_used_}" + (" on log" if self.log_ else "")


# -- lag features + LightGBM ---------------------------------------------------------------------------------------
TRANSFORMS = ("none", "log", "diff", "log_diff")


def calendar(times: pd.DatetimeIndex, season_length: int) -> dict[str, np.ndarray]:
    """The calendar position of each timestamp that matches the season (month of year, week of year, ...)."""
    times = pd.DatetimeIndex(times)
    if season_length == 12:
        return {"month": times.month.to_numpy(float)}
    if season_length == 4:
        return {"quarter": times.quarter.to_numpy(float)}
    if season_length == 52:
        return {"week_of_year": times.isocalendar().week.to_numpy(float)}
    if season_length in (7, 5):
        return {"day_of_week": times.dayofweek.to_numpy(float)}
    if season_length == 24:
        return {"hour": times.hour.to_numpy(float)}
    return {}


def lag_features(z: np.ndarray, t: int, lags: list[int], windows: list[int]) -> list[float]:
    """The features of step ``t`` from ``z[:t]`` only: the lags and the rolling means before ``t``."""
    row = [z[t - lag] if t - lag >= 0 else np.nan for lag in lags]
    row += [float(np.mean(z[max(t - w, 0):t])) if t > 0 else np.nan for w in windows]
    return row


class LagGBM(Forecaster):
    """LightGBM on lags (1 to a season and one), rolling means, calendar and exogenous columns, forecasting
    recursively. ``transform``: none | log | diff | log_diff, or auto: the one with the lowest MAE over an inner
    backtest of ``inner_windows`` windows of ``horizon`` on the training history only."""

    uses_exogenous = True

    def __init__(self, transform: str = "auto", transforms=TRANSFORMS, lags: Optional[list] = None, rolling=(3,),
                 horizon: int = 1, inner_windows: int = 2, season_length: int = 1, random_state: int = 0,
                 n_estimators: int = 300, learning_rate: float = 0.05, num_leaves: int = 15, min_child_samples: int = 5,
                 n_jobs: int = 1, **_):
        self.transform, self.transforms, self.lags, self.rolling = transform, tuple(transforms), lags, tuple(rolling)
        self.horizon, self.inner_windows, self.season_length, self.random_state = horizon, inner_windows, season_length, random_state
        self.gbm_params = {"n_estimators": n_estimators, "learning_rate": learning_rate, "num_leaves": num_leaves,
                           "min_child_samples": min_child_samples, "n_jobs": n_jobs, "verbose": -1}

    # the pieces
    def _lags(self) -> list[int]:
        return list(self.lags) if self.lags else list(range(1, max(self.season_length, 1) + 2))

    def _windows(self) -> list[int]:
        return sorted({*self.rolling, *([self.season_length] if self.season_length > 1 else [])})

    def feature_names(self) -> list[str]:
        names = [f"lag_{lag}" for lag in self._lags()] + [f"rolling_mean_{w}" for w in self._windows()]
        return names + list(calendar(pd.DatetimeIndex([pd.Timestamp("2000-01-01")]), self.season_length)) + self.exog_names_

    @staticmethod
    def _to(y: np.ndarray, transform: str) -> np.ndarray:
        z = np.log(y) if "log" in transform else y.copy()
        return np.r_[np.nan, np.diff(z)] if "diff" in transform else z

    def _rows(self, z, X, times, steps):
        lags, windows = self._lags(), self._windows()
        cal = calendar(times, self.season_length)
        rows = [lag_features(z, t, lags, windows) + [c[t] for c in cal.values()]
                + (list(X[t]) if X is not None else []) for t in steps]
        return np.asarray(rows, float)

    def _fit_transform(self, y, X, times, transform):
        import lightgbm

        z = self._to(y, transform)
        start = max(max(self._lags()), max(self._windows())) + (1 if "diff" in transform else 0)
        steps = range(start, len(y))
        model = lightgbm.LGBMRegressor(random_state=self.random_state, **self.gbm_params)
        with _quiet():
            model.fit(self._rows(z, X, times, steps), z[start:])
        return model, z, start

    def _recursive(self, model, y, z, X_all, times_all, steps, transform):
        z = list(z)
        n = len(y)
        out_z = []
        for i in range(steps):
            t = n + i
            row = self._rows(np.asarray(z + [np.nan]), X_all, times_all, [t])
            with _quiet():
                value = float(model.predict(row)[0])
            z.append(value)
            out_z.append(value)
        out_z = np.asarray(out_z)
        if "diff" in transform:
            base = np.log(y[-1]) if "log" in transform else y[-1]
            out_z = base + np.cumsum(out_z)
        return np.exp(out_z) if "log" in transform else out_z

    def _forecast_with(self, fit, y, X, times, steps, X_future, future, transform):
        model, z, _ = fit
        X_all = None if X is None else np.vstack([X, np.asarray(X_future, float)])
        times_all = pd.DatetimeIndex(list(times) + list(future))
        return self._recursive(model, y, z, X_all, times_all, steps, transform)

    def _choose(self, y, X, times) -> tuple[str, dict]:
        options = [t for t in self.transforms if "log" not in t or (y > 0).all()]
        if self.transform != "auto":
            return self.transform, {}
        h, k = self.horizon, self.inner_windows
        scores = {}
        for transform in options:
            errors = []
            for j in range(k, 0, -1):
                o = len(y) - j * h
                if o < 2 * (max(self._lags()) + 2):
                    continue
                fit = self._fit_transform(y[:o], None if X is None else X[:o], times[:o], transform)
                f = self._forecast_with(fit, y[:o], None if X is None else X[:o], times[:o], h,
                                        None if X is None else X[o:o + h], times[o:o + h], transform)
                errors.append(np.mean(np.abs(y[o:o + h] - f)))
            if errors:
                scores[transform] = float(np.mean(errors))
        if not scores:
            return ("log_diff" if "log_diff" in options else "diff"), {}
        return min(scores, key=scores.get), scores

    def fit(self, y, X, times):
        self.y_ = y = np.asarray(y, float)
        self.X_ = None if X is None else np.asarray(X, float)
        self.times_ = pd.DatetimeIndex(times)
        self.exog_names_ = list(getattr(self, "exog_names", []) or [f"x{i}" for i in range(0 if X is None else self.X_.shape[1])])
        self.transform_, self.transform_scores_ = self._choose(y, self.X_, self.times_)
        self.fit_ = self._fit_transform(y, self.X_, self.times_, self.transform_)
        return self

    def forecast(self, steps, X_future=None, future=None):
        return self._forecast_with(self.fit_, self.y_, self.X_, self.times_, steps, X_future, future, self.transform_)

    def fitted(self):
        model, z, start = self.fit_
        with _quiet():
            zf = model.predict(self._rows(z, self.X_, self.times_, range(start, len(self.y_))))
        out = np.full(len(self.y_), np.nan)
        if "diff" in self.transform_:
            prev = np.log(self.y_[start - 1:-1]) if "log" in self.transform_ else self.y_[start - 1:-1]
            zf = prev + zf
        out[start:] = np.exp(zf) if "log" in self.transform_ else zf
        return out

    def design(self, y=None, X=None, times=None):
        """The training feature matrix (as the booster saw it) and the booster, for SHAP."""
        model, z, start = self.fit_
        return pd.DataFrame(self._rows(z, self.X_, self.times_, range(start, len(self.y_))), columns=self.feature_names()), model

    def components(self) -> dict:
        return {"kind": "lag features + LightGBM", "transform": self.transform_,
                "transform_backtest_mae": self.transform_scores_, "features": self.feature_names()}

    def describe(self) -> str:
        return f"LightGBM on lags ({self.transform_} target)"
