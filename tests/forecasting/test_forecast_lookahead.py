"""The look-ahead proof: what is computed for a backtest origin depends on nothing after it."""

import numpy as np
import pandas as pd
import pytest

from specweave_ml.forecasting.backtest import backtest, origins, run_window
from specweave_ml.forecasting.models import Arima, HoltWinters, LagGBM, SeasonalNaive, lag_features


def monthly(n=96, seed=0):
    rng = np.random.default_rng(seed)
    t = np.arange(n)
    y = 100 + 0.8 * t + 15 * np.sin(2 * np.pi * t / 12) + rng.normal(0, 2, n)
    X = np.column_stack([rng.normal(size=n)])
    return y, X, pd.date_range("2000-01-01", periods=n, freq="MS")


def corrupt_after(values: np.ndarray, position: int, seed: int = 1) -> np.ndarray:
    """Shuffle and scale everything from ``position`` on."""
    out = values.copy()
    tail = out[position:].copy()
    np.random.default_rng(seed).shuffle(tail)
    out[position:] = tail * 3 + 1000
    return out


def test_origins_are_expanding_windows_a_horizon_apart_ending_at_the_end():
    assert origins(60, 12, 3) == [24, 36, 48]


def test_lag_features_of_a_step_read_only_the_steps_before_it():
    z = np.arange(40, dtype=float)
    before = [lag_features(z, t, [1, 2, 12], [3, 12]) for t in range(13, 30)]
    for t in range(13, 30):
        after = lag_features(corrupt_after(z, t), t, [1, 2, 12], [3, 12])
        assert after == before[t - 13]


@pytest.mark.parametrize("make", [
    lambda: SeasonalNaive(season_length=12),
    lambda: HoltWinters(season_length=12),
    lambda: Arima(season_length=12),
    lambda: LagGBM(season_length=12, horizon=12, random_state=0),
], ids=["seasonal_naive", "holt_winters", "arima", "lag_gbm"])
def test_corrupting_the_future_after_an_origin_changes_nothing_computed_for_it(make):
    y, X, times = monthly()
    h, k, m = 12, 3, 12
    clean = backtest("m", make, y, X, times, h, k, m)
    for w in clean.windows:
        target = corrupt_after(y, w.origin)
        # the exogenous values after the window (not given as known) are corrupted too
        exog = X.copy()
        exog[w.origin + h:] = corrupt_after(X[:, 0], w.origin + h)[w.origin + h:, None] if w.origin + h < len(X) else exog[w.origin + h:]
        again = run_window(make, target, exog, times, w.origin, h, m)
        np.testing.assert_allclose(again.forecast, w.forecast, rtol=1e-10, atol=1e-10)
        assert again.train_metrics == pytest.approx(w.train_metrics, nan_ok=True)


def test_the_actuals_of_an_origin_do_change_when_its_future_is_corrupted():
    """The proof above is not vacuous: the corrupted values do reach the window's actuals."""
    y, X, times = monthly()
    w = run_window(lambda: SeasonalNaive(season_length=12), corrupt_after(y, 60), None, times, 60, 12, 12)
    assert not np.allclose(w.actual, y[60:72])
