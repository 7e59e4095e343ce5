"""The plan of a forecasting brief: the inferred frequency and season length with their evidence, the backtest
split, and the same plan again in the stages after prepare (from what prepare recorded)."""

from _compose import compose_at
from specweave_ml.context import Context
from specweave_ml.stages import run_stage
from specweave_ml.steps.common import planned


def test_the_plan_shows_the_inferred_frequency_season_and_backtest(tmp_path, capsys):
    run_stage(compose_at(tmp_path, ["problem=airline", "stage=plan"]))
    out = capsys.readouterr().out
    assert "frequency MS (monthly): inferred: every step between the 144 timestamps is one monthly period" in out
    assert "season length 12: inferred from the frequency" in out
    assert "CV: 3-fold expanding_window: a forecast is judged on the future only: the last 12 points are the holdout" in out
    assert "baselines first: naive, seasonal_naive, drift, mean" in out
    assert not (tmp_path / "increments").exists()


def test_declared_frequency_and_season_are_said_to_be_declared(tmp_path, capsys):
    run_stage(compose_at(tmp_path, ["problem=airline", "stage=plan", "problem.forecast.frequency=MS",
                                    "problem.forecast.season_length=6"]))
    out = capsys.readouterr().out
    assert "declared in problem.forecast.frequency" in out and "season length 6: declared" in out


def test_the_stages_after_prepare_resolve_the_same_plan(tmp_path):
    cfg = compose_at(tmp_path, ["problem=airline", "tracking=off", "stage=prepare"])
    run_stage(cfg)
    ctx = Context.from_cfg(cfg)
    plan = planned(ctx)
    assert (plan.split.cv_folds, plan.split.strategy, plan.split.time_column) == (3, "time", "month")
    assert any(n.startswith("frequency MS") for n in plan.notes)
    split = (tmp_path / "increments" / "0005-airline-passengers" / "data")
    assert {p.name for p in split.glob("*.parquet")} >= {"train.parquet", "test.parquet"}


def test_without_torch_the_plan_leaves_the_lstm_out_and_says_so(tmp_path, monkeypatch):
    import importlib.util

    find = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec", lambda name, *a: None if name == "torch" else find(name, *a))
    ctx = Context.from_cfg(compose_at(tmp_path, ["problem=airline", "stage=plan"]))
    plan = ctx.plan(ctx.facts())
    assert [c.name for c in plan.candidates] == ["holt_winters", "arima", "lag_gbm"] and plan.trainable
    assert any(n.startswith("lstm left out: torch is not installed") for n in plan.notes)
