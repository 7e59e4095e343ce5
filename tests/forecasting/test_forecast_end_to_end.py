"""The airline brief end to end from the command line: every stage, the numbers, predict, the load test."""

import json

import pandas as pd
import pytest


@pytest.fixture(scope="module")
def airline(tmp_path_factory):
    import os
    import subprocess
    import sys

    root = tmp_path_factory.mktemp("airline")

    def cli(*args):
        env = {**os.environ, "SPECWEAVE_ROOT": str(root), "OMP_WAIT_POLICY": "PASSIVE"}
        return subprocess.run([sys.executable, "-m", "specweave_ml", "problem=airline", *args], cwd=root, env=env,
                              capture_output=True, text=True, timeout=600)

    done = cli()
    assert done.returncode == 0, done.stderr[-3000:]
    return root, root / "increments" / "0005-airline-passengers", cli


def read(inc, name):
    return json.loads((inc / "reports" / name).read_text())


@pytest.mark.slow
def test_airline_chooses_a_model_within_the_target_and_passes_the_baseline_gate(airline):
    _, inc, _ = airline
    metrics = read(inc, "metrics.json")
    assert metrics["chosen"] == "holt_winters"
    assert metrics["holdout"]["mape"] <= 0.025
    assert metrics["best_baseline"]["name"] == "seasonal_naive"
    assert metrics["best_baseline"]["score"] == pytest.approx(0.0999, abs=5e-4)
    assert next(g for g in metrics["gates"] if g["name"] == "baseline_margin")["passed"]
    assert metrics["ready"]
    assert {"mae", "rmse", "mape", "smape", "mase", "interval_coverage"} <= set(metrics["holdout"])
    assert len(metrics["details"]["backtest"]["per_origin"]) == 3
    cv = read(inc, "cv.json")
    assert [b["name"] for b in cv["baselines"]] == ["naive", "seasonal_naive", "drift", "mean"]
    assert [c["name"] for c in cv["candidates"]] == ["holt_winters", "arima", "lag_gbm", "lstm"]
    assert all(len(c["folds"]) == 3 for c in cv["candidates"])
    summary = read(inc, "summary.json")
    assert summary["holdout_mape"] == metrics["holdout"]["mape"]


@pytest.mark.slow
def test_airline_writes_its_declared_plots_report_and_explanation(airline):
    from specweave_ml.families import named

    _, inc, _ = airline
    for name, props in named("forecasting").dvc_plots("forecasting").items():
        curve = pd.read_csv(inc / "reports" / "curves" / name)
        wanted = {props["x"], *(props["y"] if isinstance(props["y"], list) else [props["y"]])}
        assert wanted <= set(curve.columns), name
    assert len(pd.read_csv(inc / "reports" / "curves" / "forecast.csv")) == 12
    assert (inc / "reports" / "plots" / "forecast.png").exists()
    shap = read(inc, "shap/summary.json") if (inc / "reports" / "shap" / "summary.json").exists() else None
    assert shap is None or shap["explainer"] == "components"
    assert (inc / "reports" / "report.html").exists() and (inc / "reports" / "readiness.json").exists()


@pytest.mark.slow
def test_predict_writes_the_next_horizon_with_intervals(airline):
    root, inc, cli = airline
    out = root / "next.csv"
    done = cli("stage=predict", f"output={out}")
    assert done.returncode == 0, done.stderr[-2000:]
    forecast = pd.read_csv(out)
    assert list(forecast["month"])[:2] == ["1961-01-01", "1961-02-01"] and len(forecast) == 12
    assert (forecast["lower"] < forecast["forecast"]).all() and (forecast["forecast"] < forecast["upper"]).all()


@pytest.mark.slow
def test_the_load_test_drives_post_forecast(airline):
    _, inc, cli = airline
    done = cli("stage=loadtest", "serving.loadtest.duration_s=2", "serving.loadtest.rate=20")
    assert done.returncode == 0, done.stderr[-2000:]
    result = read(inc, "loadtest.json")
    assert result["endpoint"] == "/forecast" and result["error_rate"] == 0


@pytest.mark.slow
def test_a_bad_forecast_key_exits_2_and_writes_nothing(cli, tmp_path):
    done = cli("problem=airline", "problem.forecast.horizon=0")
    assert done.returncode == 2
    assert "problem.forecast.horizon" in done.stderr and "at least 1" in done.stderr
    assert not (tmp_path / "increments").exists()


@pytest.mark.slow
def test_missing_future_exogenous_values_exit_2_naming_the_column_and_write_nothing(cli, tmp_path):
    # lag_gbm alone: a model that reads the exogenous columns, trained without the others' cost
    done = cli("problem=us_consumption", "model=lag_gbm", "tracking=off", timeout=300)
    assert done.returncode == 0, done.stderr[-2000:]
    inc = tmp_path / "increments" / "0007-us-consumption"
    assert json.loads((inc / "reports" / "metrics.json").read_text())["chosen"] == "lag_gbm"
    times = pd.date_range("2009-10-01", periods=8, freq="QS-OCT").strftime("%Y-%m-%d")
    pd.DataFrame({"quarter": times, "realdpi": 10000.0, "unemp": 9.5}).to_csv(tmp_path / "future.csv", index=False)
    done = cli("problem=us_consumption", "model=lag_gbm", "tracking=off", "stage=predict", f"input={tmp_path / 'future.csv'}",
               f"output={tmp_path / 'next.csv'}")
    assert done.returncode == 2 and "infl" in done.stderr and "Fix:" in done.stderr
    assert not (tmp_path / "next.csv").exists()
    pd.DataFrame({"quarter": times, "realdpi": 10000.0, "unemp": 9.5, "infl": 1.5}).to_csv(tmp_path / "future.csv", index=False)
    done = cli("problem=us_consumption", "model=lag_gbm", "tracking=off", "stage=predict", f"input={tmp_path / 'future.csv'}",
               f"output={tmp_path / 'next.csv'}")
    assert done.returncode == 0, done.stderr[-2000:]
    assert len(pd.read_csv(tmp_path / "next.csv")) == 8


@pytest.mark.slow
def test_monitor_compares_future_forecasts_with_the_reference(airline):
    root, inc, cli = airline
    future = root / "future.csv"
    pd.DataFrame({"month": pd.date_range("1961-01-01", periods=12, freq="MS").strftime("%Y-%m-%d")}).to_csv(future, index=False)
    done = cli("stage=monitor", f"input={future}")
    assert done.returncode == 0, done.stderr[-2000:]
    report = json.loads((inc / "reports" / "drift" / "report.json").read_text())
    assert report["rows"] == 12 and [s["name"] for s in report["scores"]] == ["prediction"]
