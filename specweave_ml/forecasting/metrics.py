"""Forecast accuracy: MAE, RMSE, MAPE, sMAPE, MASE, and the coverage of prediction intervals.

MAPE and sMAPE are fractions (0.0221 is 2.21%); MAPE leaves out zero actuals (NaN if all are zero). MASE divides
the MAE by the in-sample MAE of the seasonal-naive forecast (``y[t] - y[t - m]`` over the training part), so 1.0
means "as good as repeating last season, one step ahead, in sample".
"""

from __future__ import annotations

import numpy as np

NAMES = ("mae", "rmse", "mape", "smape", "mase")


def mae(y, f) -> float:
    return float(np.mean(np.abs(np.asarray(y, float) - np.asarray(f, float))))


def rmse(y, f) -> float:
    return float(np.sqrt(np.mean((np.asarray(y, float) - np.asarray(f, float)) ** 2)))


def mape(y, f) -> float:
    y, f = np.asarray(y, float), np.asarray(f, float)
    mask = y != 0
    return float(np.mean(np.abs((y[mask] - f[mask]) / y[mask]))) if mask.any() else float("nan")


def smape(y, f) -> float:
    y, f = np.asarray(y, float), np.asarray(f, float)
    denom = np.abs(y) + np.abs(f)
    ratio = np.where(denom == 0, 0.0, 2 * np.abs(y - f) / np.where(denom == 0, 1, denom))
    return float(np.mean(ratio))


def mase_scale(history, season_length: int) -> float:
    """The in-sample MAE of the seasonal-naive forecast (naive when the history is shorter than two seasons)."""
    h = np.asarray(history, float)
    m = season_length if len(h) > season_length else 1
    diffs = np.abs(h[m:] - h[:-m])
    return float(np.mean(diffs)) if len(diffs) else float("nan")


def mase(y, f, history, season_length: int) -> float:
    scale = mase_scale(history, season_length)
    return mae(y, f) / scale if scale and np.isfinite(scale) else float("nan")


def coverage(y, lower, upper) -> float:
    y = np.asarray(y, float)
    return float(np.mean((y >= np.asarray(lower, float)) & (y <= np.asarray(upper, float))))


def all_metrics(y, f, history, season_length: int) -> dict[str, float]:
    return {"mae": mae(y, f), "rmse": rmse(y, f), "mape": mape(y, f), "smape": smape(y, f),
            "mase": mase(y, f, history, season_length)}
