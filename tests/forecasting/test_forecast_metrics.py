"""Forecast metrics against hand-computed cases."""

import math

import numpy as np
import pytest

from specweave_ml.forecasting import metrics as fm


def test_mae_rmse_mape_smape_by_hand():
    y, f = [100.0, 200.0, 300.0], [110.0, 190.0, 330.0]
    assert fm.mae(y, f) == pytest.approx((10 + 10 + 30) / 3)
    assert fm.rmse(y, f) == pytest.approx(math.sqrt((100 + 100 + 900) / 3))
    assert fm.mape(y, f) == pytest.approx((0.1 + 0.05 + 0.1) / 3)
    assert fm.smape(y, f) == pytest.approx((20 / 210 + 20 / 390 + 60 / 630) / 3)


def test_mape_leaves_zero_actuals_out_and_smape_counts_two_zeros_as_no_error():
    assert fm.mape([0.0, 50.0], [5.0, 40.0]) == pytest.approx(0.2)
    assert math.isnan(fm.mape([0.0, 0.0], [1.0, 2.0]))
    assert fm.smape([0.0, 10.0], [0.0, 10.0]) == 0.0


def test_mase_is_scaled_by_the_in_sample_seasonal_naive_error():
    history = [10.0, 20.0, 30.0, 14.0, 26.0, 33.0]  # season 3: |14-10|, |26-20|, |33-30| -> mean 13/3
    assert fm.mase_scale(history, 3) == pytest.approx(13 / 3)
    assert fm.mase([20.0, 30.0], [22.0, 27.0], history, 3) == pytest.approx(2.5 / (13 / 3))
    # shorter than a season: the naive one-step error scales it
    assert fm.mase_scale([1.0, 3.0, 6.0], 12) == pytest.approx(2.5)


def test_coverage_counts_actuals_inside_their_interval_bounds_included():
    assert fm.coverage([1, 2, 3, 4], [0, 2, 4, 0], [2, 2, 5, 3]) == pytest.approx(0.5)


def test_all_metrics_names_every_metric():
    out = fm.all_metrics(np.array([1.0, 2.0]), np.array([1.0, 2.0]), np.array([1.0, 2.0, 3.0]), 1)
    assert set(out) == set(fm.NAMES) and out["mae"] == 0.0
