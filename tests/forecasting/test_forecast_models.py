"""The forecasters on the airline series: the issue's reference numbers, the LSTM's seeding, what explains them."""

import numpy as np
import pandas as pd
import pytest

from specweave_ml.data.sources import BUNDLED
from specweave_ml.forecasting import metrics as fm
from specweave_ml.forecasting.models import Arima, HoltWinters, LagGBM, SeasonalNaive


@pytest.fixture(scope="module")
def airline():
    frame = BUNDLED["airline"]()
    y = frame["passengers"].to_numpy(float)
    return y[:-12], y[-12:], pd.date_range("1949-01-01", periods=144, freq="MS")


def holdout(model, airline):
    train, test, times = airline
    forecast = model.fit(train, None, times[:-12]).forecast(12, None, times[-12:])
    return fm.mape(test, forecast), fm.mase(test, forecast, train, 12)


def test_seasonal_naive_and_holt_winters_reproduce_the_reference_numbers(airline):
    assert holdout(SeasonalNaive(season_length=12), airline) == pytest.approx((0.0999, 1.571), abs=5e-4)
    mape, mase = holdout(HoltWinters(season_length=12), airline)
    assert mape == pytest.approx(0.0221, abs=5e-4) and mase == pytest.approx(0.338, abs=5e-3)


def test_sarima_on_log_and_the_lag_model_with_a_transform_beat_seasonal_naive(airline):
    assert holdout(Arima(season_length=12), airline)[0] == pytest.approx(0.0290, abs=5e-4)
    lag = LagGBM(season_length=12, horizon=12)
    mape, _ = holdout(lag, airline)
    assert lag.transform_ in ("diff", "log_diff") and mape < 0.0999 * 0.8  # the transform was chosen by backtest
    assert set(lag.transform_scores_) == {"none", "log", "diff", "log_diff"}


def test_the_lag_model_is_explained_with_shap_on_its_lag_and_calendar_features(airline, tmp_path):
    from types import SimpleNamespace

    from specweave_ml.forecasting.explain import explain_forecaster

    train, _, times = airline
    lag = LagGBM(season_length=12, horizon=12, transform="log_diff").fit(train, None, times[:-12])
    summary = explain_forecaster(lag, pd.DataFrame({"time": times[:-12], "value": train}),
                                 SimpleNamespace(explain_rows=200, top_features=3), tmp_path)
    assert summary["explainer"] == "tree" and (tmp_path / "shap_importance.png").exists()
    assert {t["feature"] for t in summary["all_features"]} == {*(f"lag_{i}" for i in range(1, 14)), "rolling_mean_3",
                                                               "rolling_mean_12", "month"}


def test_holt_winters_is_explained_by_its_fitted_components(airline, tmp_path):
    from specweave_ml.forecasting.explain import explain_forecaster

    train, _, times = airline
    hw = HoltWinters(season_length=12).fit(train, None, times[:-12])
    summary = explain_forecaster(hw, pd.DataFrame({"time": times[:-12], "value": train}), None, tmp_path)
    assert summary["explainer"] == "components" and {t["feature"] for t in summary["top_features"]} == {"level", "trend", "season"}
    assert summary["components"]["seasonal"] == "mul" and (tmp_path / "components.png").exists()


def test_the_lstm_is_seeded_early_stopped_and_beats_seasonal_naive(airline):
    pytest.importorskip("torch")
    from specweave_ml.forecasting.lstm import LSTMForecaster

    train, test, times = airline
    a = LSTMForecaster(horizon=12, season_length=12, random_state=3).fit(train, None, times[:-12])
    b = LSTMForecaster(horizon=12, season_length=12, random_state=3).fit(train, None, times[:-12])
    np.testing.assert_array_equal(a.forecast(12), b.forecast(12))
    import cloudpickle  # the same seed, the same model bytes (the packaged model's hash)

    assert cloudpickle.dumps(a) == cloudpickle.dumps(b)
    np.testing.assert_array_equal(cloudpickle.loads(cloudpickle.dumps(a)).forecast(12), a.forecast(12))
    assert a.epochs_ < a.max_epochs  # stopped early on the last window of its history
    assert fm.mape(test, a.forecast(12)) < 0.0999
    assert len(a.forecast(30)) == 30 and np.isfinite(a.fitted()).sum() > 90


def test_the_lstm_is_explained_by_occluding_each_lag(airline, tmp_path):
    pytest.importorskip("torch")
    from specweave_ml.forecasting.explain import explain_forecaster
    from specweave_ml.forecasting.lstm import LSTMForecaster

    train, _, times = airline
    lstm = LSTMForecaster(horizon=12, season_length=12, max_epochs=50).fit(train, None, times[:-12])
    summary = explain_forecaster(lstm, pd.DataFrame({"time": times[:-12], "value": train}), None, tmp_path)
    assert summary["explainer"] == "occlusion" and (tmp_path / "lag_occlusion.png").exists()
    assert len(summary["top_features"]) == 10 and all(t["magnitude"] >= 0 for t in summary["top_features"])


def test_the_lstm_never_looks_past_an_origin():
    pytest.importorskip("torch")
    from specweave_ml.forecasting.backtest import backtest, run_window
    from specweave_ml.forecasting.lstm import LSTMForecaster

    rng = np.random.default_rng(0)
    t = np.arange(96)
    y = 100 + t + 10 * np.sin(2 * np.pi * t / 12) + rng.normal(0, 1, 96)
    times = pd.date_range("2000-01-01", periods=96, freq="MS")

    def make():
        return LSTMForecaster(horizon=12, season_length=12, max_epochs=40, random_state=0)

    clean = backtest("lstm", make, y, None, times, 12, 2, 12)
    for w in clean.windows:
        corrupted = y.copy()
        corrupted[w.origin:] = corrupted[w.origin:][::-1] * 5
        np.testing.assert_allclose(run_window(make, corrupted, None, times, w.origin, 12, 12).forecast, w.forecast)
