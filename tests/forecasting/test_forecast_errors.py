"""Every refusal of a forecasting brief: one message naming the key or column and the fix, nothing written."""

import json

import numpy as np
import pandas as pd
import pytest

from _compose import compose_at
from specweave_ml.errors import ConfigError, DataError
from specweave_ml.stages import run_stage


def monthly_csv(path, n=144, exog=False):
    times = pd.date_range("2000-01-01", periods=n, freq="MS")
    t = np.arange(n)
    frame = pd.DataFrame({"month": times.strftime("%Y-%m-%d"), "passengers": 100 + t + 10 * np.sin(2 * np.pi * t / 12)})
    if exog:
        frame["price"] = np.linspace(1, 2, n)
    frame.to_csv(path, index=False)
    return frame


def run(tmp_path, *overrides, stage="prepare"):
    cfg = compose_at(tmp_path, ["problem=airline", "tracking=off", f"stage={stage}", *overrides])
    run_stage(cfg)


def assert_nothing_written(tmp_path):
    assert not (tmp_path / "increments" / "0005-airline-passengers").exists()


def test_a_horizon_of_zero_is_refused_naming_the_key(tmp_path):
    with pytest.raises(ConfigError, match=r"^problem\.forecast\.horizon: must be at least 1.*got 0"):
        run(tmp_path, "problem.forecast.horizon=0")
    assert_nothing_written(tmp_path)


def test_a_series_too_short_for_the_horizon_and_the_folds_is_refused(tmp_path):
    source = tmp_path / "short.csv"
    monthly_csv(source, n=60)
    with pytest.raises(DataError, match=r"^problem\.forecast\.horizon: the series has 60 points; .* need at least 74.*"
                                        r"lower problem\.forecast\.horizon"):
        run(tmp_path, f"problem.data.source={source}")
    assert_nothing_written(tmp_path)


def test_duplicate_timestamps_are_refused_naming_the_time_column(tmp_path):
    source = tmp_path / "dup.csv"
    frame = monthly_csv(source)
    pd.concat([frame, frame.iloc[[10]]]).to_csv(source, index=False)
    with pytest.raises(DataError, match=r"^month: 1 timestamps appear more than once \(e\.g\. 2000-11-01.*aggregate the duplicates"):
        run(tmp_path, f"problem.data.source={source}")
    assert_nothing_written(tmp_path)


def test_an_irregular_time_index_is_refused(tmp_path):
    source = tmp_path / "irregular.csv"
    days = pd.Timestamp("2000-01-01") + pd.to_timedelta(np.cumsum(np.random.default_rng(0).integers(1, 40, 150)), unit="D")
    pd.DataFrame({"month": days.strftime("%Y-%m-%d"), "passengers": np.arange(150.0)}).to_csv(source, index=False)
    with pytest.raises(DataError, match=r"^problem\.data\.time_column: the time index is irregular.*resample the series"):
        run(tmp_path, f"problem.data.source={source}")
    assert_nothing_written(tmp_path)


def test_a_declared_frequency_the_timestamps_do_not_follow_is_refused(tmp_path):
    source = tmp_path / "monthly.csv"
    monthly_csv(source)
    with pytest.raises(DataError, match=r"^problem\.forecast\.frequency: the time index is irregular: .* not on a quarterly grid"):
        run(tmp_path, f"problem.data.source={source}", "problem.forecast.frequency=QS")


def test_several_series_in_one_file_are_refused_naming_series_id(tmp_path):
    source = tmp_path / "two.csv"
    frame = monthly_csv(source)
    pd.concat([frame.assign(store="a"), frame.assign(store="b")]).to_csv(source, index=False)
    with pytest.raises(DataError, match=r"^problem\.data\.series_id: 'store' holds 2 series \(a, b\).*problem\.forecast\.series="):
        run(tmp_path, f"problem.data.source={source}", "problem.data.series_id=store")
    with pytest.raises(DataError, match=r"^problem\.forecast\.series: 'c' is not a value of 'store' \(a, b\)"):
        run(tmp_path, f"problem.data.source={source}", "problem.data.series_id=store", "problem.forecast.series=c")
    assert_nothing_written(tmp_path)
    run(tmp_path, f"problem.data.source={source}", "problem.data.series_id=store", "problem.forecast.series=b")
    split = json.loads((tmp_path / "increments" / "0005-airline-passengers" / "data" / "split.json").read_text())
    assert split["rows_train"] + split["rows_test"] == 144  # one series of the two


def test_an_exogenous_column_missing_from_the_data_is_refused(tmp_path):
    source = tmp_path / "plain.csv"
    monthly_csv(source)
    with pytest.raises(DataError, match=r"^problem\.forecast\.exogenous: column 'price' is not in the data"):
        run(tmp_path, f"problem.data.source={source}", "problem.forecast.exogenous=[price]")


def test_a_forecasting_brief_without_a_time_column_is_refused(tmp_path):
    with pytest.raises(ConfigError, match=r"^problem\.data\.time_column: must be the date or time column"):
        run(tmp_path, "problem.data.time_column=null", stage="plan")


def test_gaps_are_filled_from_the_past_and_said(tmp_path):
    from specweave_ml.forecasting.series import regularise

    times = pd.date_range("2000-01-01", periods=40, freq="W-SAT")
    frame = pd.DataFrame({"week": times, "co2": np.arange(40.0)})
    frame.loc[5, "co2"] = np.nan
    frame = frame.drop(index=[20, 21])
    series = regularise(frame, "week", "co2", [])
    assert len(series.frame) == 40 and series.frequency == "W-SAT" and series.season_length == 52
    assert series.frame["co2"].iloc[5] == 4.0 and series.frame["co2"].iloc[21] == 19.0  # the last value before
    assert "gaps" in series.evidence["frequency"] and "filled with the last observed value" in series.findings[0].message


def test_missing_future_exogenous_values_name_the_column():
    from specweave_ml.forecasting.estimator import ForecastModel, MissingFuture
    from specweave_ml.forecasting.models import Arima

    n = 60
    times = pd.date_range("2000-01-01", periods=n, freq="MS")
    frame = pd.DataFrame({"month": times, "y": 50 + np.arange(n) + np.random.default_rng(0).normal(0, 1, n),
                          "price": np.linspace(1, 2, n)})
    model = ForecastModel(Arima(order=(1, 1, 0), season_length=1), "month", "y", ("price",), "MS", 1, holdout=6, horizon=6).fit(frame)
    future = pd.DataFrame({"month": model.next_times(3)})
    with pytest.raises(MissingFuture, match="needs the future values of price") as err:
        model.forecast_frame(future)
    assert err.value.column == "price"
    with pytest.raises(MissingFuture, match=r"the future values of price are missing \(e\.g\. at 2005-02-01\)"):
        model.forecast_frame(future.assign(price=[1.0, np.nan, 1.2]))
    assert len(model.forecast_frame(future.assign(price=[1.0, 1.1, 1.2]))) == 3
