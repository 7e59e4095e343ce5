"""``POST /forecast``: the next steps with their intervals; a missing future exogenous value is a 422 naming it."""

from types import SimpleNamespace

import numpy as np
import pandas as pd
import pytest

from specweave_ml.forecasting.estimator import ForecastModel
from specweave_ml.forecasting.models import Arima, HoltWinters
from specweave_ml.serving.forecast_app import create_forecast_app


def client_for(model):
    from starlette.testclient import TestClient

    bundle = SimpleNamespace(increment="0099-test", model_name="m", sha256="ab" * 32, model=model,
                             describe=lambda: {"increment": "0099-test"})
    return TestClient(create_forecast_app(bundle, config=None))


@pytest.fixture(scope="module")
def airline():
    from specweave_ml.data.sources import BUNDLED

    frame = BUNDLED["airline"]().assign(month=lambda f: pd.to_datetime(f["month"]))
    return ForecastModel(HoltWinters(season_length=12), "month", "passengers", (), "MS", 12, holdout=12, horizon=12,
                         interval_scale=0.02, relative=True).fit(frame)


def test_forecast_answers_the_next_steps_with_intervals(airline):
    response = client_for(airline).post("/forecast", json={"steps": 3})
    assert response.status_code == 200
    rows = response.json()["predictions"]
    assert [r["time"][:10] for r in rows] == ["1961-01-01", "1961-02-01", "1961-03-01"]
    assert all(r["lower"] < r["forecast"] < r["upper"] for r in rows)
    assert rows[0]["forecast"] == pytest.approx(airline.forecast_frame()["forecast"].iloc[0])


def test_forecast_refuses_zero_steps_and_more_than_four_horizons(airline):
    client = client_for(airline)
    assert client.post("/forecast", json={"steps": 0}).status_code == 422
    assert client.post("/forecast", json={"steps": 49}).status_code == 422
    assert client.get("/health").json()["series_end"] == "1960-12-01"
    assert "forecast_requests_total" in client.get("/metrics").text


def test_a_missing_future_exogenous_column_is_a_422_naming_it():
    n = 60
    frame = pd.DataFrame({"month": pd.date_range("2000-01-01", periods=n, freq="MS"),
                          "y": 50 + np.arange(n) + np.random.default_rng(0).normal(0, 1, n), "price": np.linspace(1, 2, n)})
    model = ForecastModel(Arima(order=(1, 1, 0), season_length=1), "month", "y", ("price",), "MS", 1, holdout=6,
                          horizon=6).fit(frame)
    client = client_for(model)
    response = client.post("/forecast", json={"steps": 2})
    assert response.status_code == 422 and "price" in response.text
    response = client.post("/forecast", json={"steps": 2, "exogenous": {"price": [2.0]}})
    assert response.status_code == 422 and "'price' has 1 future values for 2 steps" in response.text
    assert client.post("/forecast", json={"steps": 2, "exogenous": {"price": [2.0, 2.1]}}).status_code == 200
