"""The forecasting family: one time series, forecast ``horizon`` steps ahead.

The series is checked and made regular (``forecasting.series``: dates, duplicates, frequency and season length
declared or inferred, gaps filled from the past); the last ``horizon`` points are the holdout; baselines (naive,
seasonal naive, drift, mean) and the plan's candidates are scored by an expanding-window backtest of
``backtest_windows`` origins on the points before it (``forecasting.backtest``), never a random split; the best
candidate is fitted once without the holdout (what ``evaluate`` scores) and once on every point (what ``predict``
and the server forecast from), inside a ``ForecastModel``; intervals come from the backtest errors. The lag model
is explained with SHAP, the statistical ones by their fitted components. The server answers ``POST /forecast``.
"""

from __future__ import annotations

import copy
import json
import logging
from dataclasses import asdict
from pathlib import Path
from typing import Optional

import numpy as np
import pandas as pd

from specweave_ml.families.base import Checked, Evaluation, FitRequest, Prepared
from specweave_ml.plan import Plan, SplitPlan
from specweave_ml.schema import ProblemSchema

LEVEL = 0.95
log = logging.getLogger(__name__)


class ForecastingFamily:
    name = "forecasting"
    code = "specweave_ml/forecasting"
    tasks = ("forecasting",)
    notes = {"features": "lags, rolling means and calendar features computed from the past of each backtest origin only",
             "explanations": "explanation (SHAP for the lag model, fitted components for the statistical ones)",
             "endpoints": "POST /forecast {\"steps\": n, \"exogenous\": {column: [values]}}"}

    def __init__(self):
        self._drawing: dict = {}  # what evaluate leaves for plots in the same step: the history and the backtest

    def serves(self, task: str, modality: str) -> bool:
        return modality == "time_series" and task in self.tasks

    # -- data ---------------------------------------------------------------------------------------------
    @staticmethod
    def _series(frame: pd.DataFrame, problem: ProblemSchema):
        from specweave_ml.forecasting.series import regularise, require_length

        d, f = problem.data, problem.forecast
        series = regularise(frame, d.time_column, d.target, list(f.exogenous), f.frequency, f.season_length, d.series_id,
                            f.series)
        require_length(series, f.horizon, f.backtest_windows)
        return series

    def check(self, frame: pd.DataFrame, problem: ProblemSchema, cv_folds: int) -> Checked:
        series = self._series(frame, problem)
        columns = {series.time_column: {"type": "datetime", "evidence": series.evidence["frequency"]},
                   series.target: {"type": "numeric", "evidence": "the series forecast"},
                   **{c: {"type": "numeric", "evidence": "exogenous: future values known"} for c in series.exogenous}}
        return Checked(features=[series.time_column, *series.exogenous], findings=series.findings, columns=columns,
                       frame=series.frame)

    def fact_columns(self, problem: ProblemSchema) -> Optional[list[str]]:
        d = problem.data
        return list(dict.fromkeys([d.time_column, d.target, *problem.forecast.exogenous, *([d.series_id] if d.series_id else [])]))

    def _facts_of(self, series, problem: ProblemSchema):
        from specweave_ml.forecasting.series import describe_frequency
        from specweave_ml.resolver import DataFacts

        f, n = problem.forecast, len(series.frame)
        h, k = f.horizon, f.backtest_windows
        split = SplitPlan("time", "expanding_window", k, h / n, series.time_column, None,
                          f"a forecast is judged on the future only: the last {h} points are the holdout; {k} expanding-window "
                          f"backtest origins, {h} apart, before it")
        notes = (f"frequency {series.frequency} ({describe_frequency(series.frequency)}): {series.evidence['frequency']}",
                 f"season length {series.season_length}: {series.evidence['season_length']}",
                 f"horizon {h}, {k} backtest windows; exogenous: {', '.join(series.exogenous) or 'none'}")
        notes += tuple(x.message for x in series.findings)
        return DataFacts(n_rows=n, split=split, notes=notes)

    def facts(self, frame: pd.DataFrame, problem: ProblemSchema, cv_folds: int):
        return self._facts_of(self._series(frame, problem), problem)

    def recorded_facts(self, prepared, split_info: dict):
        from specweave_ml.resolver import DataFacts

        recorded = split_info.get("forecast") or {}
        split = SplitPlan(**recorded["split"]) if "split" in recorded else None
        return DataFacts(prepared.rows, split=split, notes=tuple(recorded.get("notes", ())))

    def prepare(self, frame: pd.DataFrame, checked: Checked, plan: Plan, problem: ProblemSchema, seed: int) -> Prepared:
        from specweave_ml.data.profile import profile
        from specweave_ml.data.split import fingerprint
        from specweave_ml.forecasting.backtest import origins

        series = self._series(frame, problem)  # with the evidence of the data as loaded (gaps, inferred frequency)
        facts = self._facts_of(series, problem)
        data, f = series.frame, problem.forecast
        n, h = len(data), f.horizon
        cut = n - h
        starts = origins(cut, h, f.backtest_windows)
        times = data[series.time_column]
        info = {
            "strategy": "time", "cv_strategy": "expanding_window", "source_fingerprint": fingerprint(frame),
            "features": [series.time_column, *series.exogenous], "target": series.target,
            "time_column": series.time_column, "exogenous": series.exogenous, "frequency": series.frequency,
            "season_length": series.season_length, "horizon": h, "backtest_windows": f.backtest_windows,
            "holdout_start": cut, "rows_train": cut, "rows_test": h,
            "origins": [{"position": o, "time": str(times.iloc[o])} for o in starts],
            "holdout_from": str(times.iloc[cut]), "series_end": str(times.iloc[-1]),
            "train_part": "data/train.parquet holds the whole series: backtests, selection and the scored fit use only the "
                          f"first {cut} points; the packaged model is refitted on all {n} once chosen",
            "forecast": {"split": asdict(facts.split), "notes": list(facts.notes)},
        }
        prof = profile(data, series.target, plan.task, checked, info["source_fingerprint"])
        prof["series"] = {"start": str(times.iloc[0]), "end": str(times.iloc[-1]), "points": n, "frequency": series.frequency,
                          "season_length": series.season_length, "filled": series.filled, "evidence": series.evidence}
        return Prepared(train=data.copy(), test=data.iloc[cut:].reset_index(drop=True), split_info=info, profile=prof)

    def example_input(self, frame: pd.DataFrame, split_info: dict) -> pd.DataFrame:
        """The next ``horizon`` timestamps after ``frame`` (with its last exogenous values standing in for theirs)."""
        from specweave_ml.forecasting.series import future_times

        time_column, h = split_info["time_column"], split_info["horizon"]
        out = pd.DataFrame({time_column: future_times(pd.Timestamp(frame[time_column].iloc[-1]), split_info["frequency"], h)})
        for c in split_info["exogenous"]:
            out[c] = frame[c].tail(h).to_numpy(float)
        return out

    # -- training and evaluation ----------------------------------------------------------------------------
    @staticmethod
    def _arrays(frame: pd.DataFrame, info: dict):
        y = frame[info["target"]].to_numpy(float)
        X = frame[info["exogenous"]].to_numpy(float) if info["exogenous"] else None
        return y, X, pd.DatetimeIndex(pd.to_datetime(frame[info["time_column"]]))

    @staticmethod
    def _factory(spec, task: str, seed: int, info: dict, exogenous: list[str]):
        from specweave_ml.models.registry import build

        extra = {"season_length": info["season_length"], "horizon": info["horizon"]}

        def make():
            model = build(spec, task, seed, extra)
            model.exog_names = list(exogenous)
            return model

        return make

    def fit(self, request: FitRequest):
        from specweave_ml.forecasting.backtest import backtest, interval_scale
        from specweave_ml.forecasting.estimator import ForecastModel
        from specweave_ml.forecasting.models import baseline
        from specweave_ml.training.cv import CVResult
        from specweave_ml.training.train import TrainingResult, best_of

        r, info = request, request.split_info
        plan, metric, m, h, k = r.plan, r.plan.primary_metric, info["season_length"], info["horizon"], info["backtest_windows"]
        if r.tuning is not None:
            log.warning("tuning=%s: forecasters are not tuned yet; each runs with conf/model/<name>.yaml", plan.tuning)
        past = r.train.iloc[:info["holdout_start"]]
        y, X, times = self._arrays(past, info)

        def scored(name: str, kind: str, make) -> tuple:
            bt = backtest(name, make, y, X, times, h, k, m, r.on_fold)
            return CVResult(name, kind, metric, bt.scores(metric), bt.train_scores(metric), bt.seconds), bt

        baselines = [scored(b, "baseline", lambda b=b: baseline(b, m))[0] for b in plan.baselines]
        candidates, runs = [], {}
        for cand in plan.candidates:
            result, runs[cand.name] = scored(cand.name, "candidate", self._factory(r.specs[cand.name], plan.task, r.seed, info,
                                                                                   info["exogenous"]))
            candidates.append(result)
        best = best_of(candidates, metric)
        relative = bool((r.train[info["target"]] > 0).all())
        model = ForecastModel(self._factory(r.specs[best.name], plan.task, r.seed, info, info["exogenous"])(),
                              info["time_column"], info["target"], tuple(info["exogenous"]), info["frequency"], m,
                              holdout=h, horizon=h, interval_scale=interval_scale(runs[best.name], relative),
                              relative=relative, level=LEVEL, name=best.name)
        model.fit(r.train)
        fitted = model.forecaster_
        params = {"model": fitted.describe(), "interval_scale": model.interval_scale, "interval_relative": relative}
        params.update({k2: v for k2, v in fitted.components().items() if isinstance(v, (int, float, str, bool))})
        return TrainingResult(baselines=baselines, candidates=candidates, chosen=best.name, model=model, params=params)

    def evaluate(self, model, train, test, split_info, plan: Plan, trained, cv: dict, seed: int, read_back) -> Evaluation:
        from specweave_ml.forecasting import metrics as fm
        from specweave_ml.forecasting.backtest import backtest, bounds
        from specweave_ml.forecasting.models import baseline

        info, metric = split_info, plan.primary_metric
        time_column, target, m, h = info["time_column"], info["target"], info["season_length"], info["horizon"]
        past = train.iloc[:info["holdout_start"]]
        y, X, times = self._arrays(past, info)
        hold = model.holdout_frame(test[[time_column, *info["exogenous"]]])
        actual = test[target].to_numpy(float)
        preds = read_back(pd.DataFrame({time_column: test[time_column].to_numpy(), "step": hold["step"].to_numpy(),
                                        "y_true": actual, "y_pred": hold["forecast"].to_numpy(),
                                        "lower": hold["lower"].to_numpy(), "upper": hold["upper"].to_numpy()}))
        metrics = fm.all_metrics(preds["y_true"], preds["y_pred"], y, m)
        metrics["interval_coverage"] = fm.coverage(preds["y_true"], preds["lower"], preds["upper"])
        baselines = {}
        for b in cv["baselines"]:
            forecast = baseline(b["name"], m).fit(y, X, times).forecast(h, None, None)
            baselines[b["name"]] = {"cv": b, "holdout": fm.all_metrics(actual, forecast, y, m)}

        def make():
            fresh = copy.deepcopy(model.forecaster)
            fresh.exog_names = list(info["exogenous"])
            return fresh

        chosen_bt = backtest(trained.chosen, make, y, X, times, h, info["backtest_windows"], m)
        per_origin = []
        for w in chosen_bt.windows:
            lower, upper = bounds(w.forecast, np.arange(1, h + 1), model.interval_scale, model.relative)
            per_origin.append({"origin": str(times[w.origin]), "metrics": w.metrics, "train_metrics": w.train_metrics,
                               "times": [str(t) for t in times[w.origin:w.origin + h]], "actual": w.actual.tolist(),
                               "forecast": w.forecast.tolist(), "lower": lower.tolist(), "upper": upper.tolist()})
        details = {
            "interval": {"level": LEVEL, "coverage": metrics["interval_coverage"], "method": (
                "normal errors with a spread of scale x sqrt(step), the scale from the chosen model's backtest errors"
                + (" relative to the forecast" if model.relative else ""))},
            "mase_scale": fm.mase_scale(y, m), "season_length": m, "horizon": h,
            "backtest": {"overall": chosen_bt.overall(m, y), "per_origin": per_origin},
            "model": model.forecaster_.describe(),
        }
        self._drawing = {"history": pd.DataFrame({"time": times, "actual": y}), "per_origin": per_origin,
                         "time_column": time_column}
        return Evaluation(preds, metrics, details, baselines, None, {})

    def findings(self, plan: Plan, train, test, split_info, profile: dict, cv: dict, trained, model, seed: int) -> list:
        from specweave_ml.antipatterns import Finding

        origins = ", ".join(o["time"][:10] for o in split_info["origins"])
        return [Finding("look_ahead", "info", f"backtest origins {origins} and the holdout from {split_info['holdout_from'][:10]}: "
                        "each forecast is fitted on the points before its origin only (expanding windows, no random split)",
                        {"origins": split_info["origins"], "holdout_start": split_info["holdout_start"]})]

    def compare(self, preds_a: pd.DataFrame, preds_b: pd.DataFrame, task: str, metric: str, classes, seed: int) -> dict:
        """Two models' holdout forecasts compared on the timestamps both scored (paired bootstrap of ``a - b``)."""
        from specweave_ml.evaluation.bootstrap import predictions_difference

        key = next((c for c in preds_a.columns if c in preds_b.columns and c not in ("step", "y_true", "y_pred", "lower", "upper")), None)
        both = preds_a.merge(preds_b, on=key, suffixes=("", "_b")) if key else pd.DataFrame()
        if both.empty:
            return {"compared": False, "why": "the two holdouts share no timestamp (the series was split again)"}
        if not np.allclose(both["y_true"], both["y_true_b"]):
            return {"compared": False, "why": "the shared timestamps have different actual values (the data changed)"}
        a = both[["y_true", "y_pred"]]
        b = both[["y_true", "y_pred_b"]].rename(columns={"y_pred_b": "y_pred"})
        return {"compared": True, "rows_a": len(preds_a), "rows_b": len(preds_b),
                **predictions_difference(a, b, "regression", metric, None, seed)}

    def plots(self, predictions: pd.DataFrame, plan: Plan, classes, plots_dir: Path, curves_dir: Path) -> list[Path]:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt

        plots_dir.mkdir(parents=True, exist_ok=True)
        curves_dir.mkdir(parents=True, exist_ok=True)
        drawing, self._drawing = self._drawing, {}
        time_column = drawing.get("time_column") or predictions.columns[0]
        when = pd.to_datetime(predictions[time_column])
        curve = pd.DataFrame({"time": when.dt.strftime("%Y-%m-%d"), "actual": predictions["y_true"], "forecast": predictions["y_pred"],
                              "lower": predictions["lower"], "upper": predictions["upper"]})
        curve.to_csv(curves_dir / "forecast.csv", index=False)
        pd.DataFrame({"step": predictions["step"], "residual": predictions["y_true"] - predictions["y_pred"]}).to_csv(
            curves_dir / "residuals.csv", index=False)
        drawn = []
        fig, ax = plt.subplots(figsize=(8, 3.6))
        history = drawing.get("history")
        if history is not None:
            ax.plot(history["time"], history["actual"], color="black", lw=1, label="history")
        for i, o in enumerate(drawing.get("per_origin", [])):
            t = pd.to_datetime(o["times"])
            ax.plot(t, o["forecast"], color="tab:orange", lw=1, label="backtest forecasts" if i == 0 else None)
            ax.fill_between(t, o["lower"], o["upper"], color="tab:orange", alpha=0.15)
        ax.plot(when, predictions["y_true"], color="black", lw=1.5, label="holdout actual")
        ax.plot(when, predictions["y_pred"], color="tab:blue", lw=1.5, label="holdout forecast")
        ax.fill_between(when, predictions["lower"], predictions["upper"], color="tab:blue", alpha=0.2, label=f"{LEVEL:.0%} interval")
        ax.set_title("Forecast against actual: backtest origins and holdout")
        ax.legend(fontsize=7)
        fig.tight_layout()
        fig.savefig(plots_dir / "forecast.png", dpi=80)
        plt.close(fig)
        drawn.append(plots_dir / "forecast.png")
        fig, ax = plt.subplots(figsize=(5, 3.2))
        ax.bar(predictions["step"], predictions["y_true"] - predictions["y_pred"], color="tab:gray")
        ax.axhline(0, color="black", lw=0.8)
        ax.set_xlabel("steps ahead")
        ax.set_ylabel("actual - forecast")
        ax.set_title("Holdout residuals by step ahead")
        fig.tight_layout()
        fig.savefig(plots_dir / "residuals.png", dpi=80)
        plt.close(fig)
        drawn.append(plots_dir / "residuals.png")
        return drawn

    def dvc_plots(self, task: str) -> dict[str, dict]:
        return {"forecast.csv": {"x": "time", "y": ["actual", "forecast", "lower", "upper"],
                                 "title": "Forecast against actual, with its interval (holdout)"},
                "residuals.csv": {"template": "scatter", "x": "step", "y": "residual",
                                  "title": "Holdout residuals by step ahead"}}

    def explain(self, model, model_name: str, train, test, split_info, plan: Plan, settings, seed: int, out_dir: Path) -> dict:
        from specweave_ml.forecasting.explain import explain_forecaster

        return explain_forecaster(model.forecaster_, model.history_, settings, out_dir)

    # -- predictions, A/B tests, serving ------------------------------------------------------------------
    def read_input(self, path: Path, model) -> pd.DataFrame:
        from specweave_ml.data.inputs import read_input

        return read_input(path)

    def check_monitoring(self) -> None:
        """``stage=monitor`` is built for this family (see ``Family.check_monitoring``)."""

    def conform(self, frame: pd.DataFrame, model_dir: Path) -> pd.DataFrame:
        """A user's future rows: the time column must be there and hold dates (the model checks the rest)."""
        from specweave_ml.errors import DataError
        from specweave_ml.packaging import signature_columns

        time_column = next(iter(signature_columns(model_dir)))
        if time_column not in frame.columns:
            raise DataError("input", f"has no '{time_column}' column: the timestamps to forecast",
                            f"give the future timestamps in a '{time_column}' column")
        parsed = pd.to_datetime(frame[time_column].astype(str), errors="coerce", format="mixed")
        if parsed.isna().any():
            bad = frame[time_column][parsed.isna()].iloc[0]
            raise DataError(time_column, f"{int(parsed.isna().sum())} values of the input are not dates (e.g. {bad!r})",
                            "give dates on the series' grid")
        return frame.assign(**{time_column: parsed})

    def reference(self, paths, model, example: pd.DataFrame, model_meta: dict, cfg, seed: int) -> str:
        """The drift reference of a forecaster: its exogenous columns over the series it was fitted on, and its
        one-step fitted values as the reference of its forecasts (``stage=monitor`` compares a batch of future rows
        and their forecasts against them)."""
        from specweave_ml.fileio import write_json
        from specweave_ml.models.registry import REGISTRY
        from specweave_ml.serving.drift import build_profile

        history = model.history_
        values, fitted = history["value"].to_numpy(float), model.forecaster_.fitted()
        explainer = REGISTRY[model_meta["name"]].explainer if model_meta.get("name") in REGISTRY else "none"
        profile = build_profile(history[list(model.exogenous)], {"prediction": fitted[np.isfinite(fitted)]}, cfg.serving.drift.bins)
        profile.update({"schema_version": 1, "task": "forecasting", "classes": [], "training_rows": len(values),
                   "series": {"mean": float(values.mean()), "std": float(values.std()),
                              "last_time": str(model.last_time_), "frequency": model.frequency},
                   "model": {"name": model_meta.get("name"), "sha256": model_meta["sha256"], "explainer": explainer},
                   "background": {"columns": list(example.columns),
                                  "data": example.astype(str).to_numpy(object).tolist()}})
        write_json(paths.reference_profile, profile)
        return explainer

    def default_input(self, model) -> Optional[pd.DataFrame]:
        from specweave_ml.errors import DataError

        times = model.next_times()
        if model.uses_exogenous_:
            raise DataError("input", f"the model needs the future values of {', '.join(model.exogenous)} for "
                            f"{times[0]:%Y-%m-%d} to {times[-1]:%Y-%m-%d}",
                            f"give input=<file> with the columns {model.time_column}, {', '.join(model.exogenous)} for those dates")
        return pd.DataFrame({model.time_column: times})

    def score(self, model, frame: pd.DataFrame) -> pd.DataFrame:
        from specweave_ml.errors import DataError
        from specweave_ml.forecasting.estimator import MissingFuture

        try:
            out = model.forecast_frame(frame)
        except MissingFuture as err:
            raise DataError(err.column, err.message, err.fix) from None
        return pd.DataFrame({"step": out["step"].to_numpy(), "forecast": out["forecast"].to_numpy(),
                             "lower": out["lower"].to_numpy(), "upper": out["upper"].to_numpy()}, index=frame.index)

    def online_metric(self, predictions: pd.DataFrame, task: str, classes):
        from specweave_ml.serving.abtest import Metric

        errors = np.abs(predictions["y_true"].to_numpy(float) - predictions["y_pred"].to_numpy(float))
        return Metric("mean absolute error", "mean |actual - forecast| per forecast point, once the actuals arrive",
                      "forecast point", 1.0, float(errors.mean()), "mean", sigma=float(errors.std(ddof=1)), lower_is_better=True)

    def requests(self, holdout: pd.DataFrame, columns: dict, split_info: dict, n: int, seed: int) -> tuple[str, list[bytes]]:
        """Load-test requests to ``/forecast``: 1 to ``horizon`` steps ahead (with the holdout's exogenous values
        standing in for the future ones)."""
        rng = np.random.default_rng(seed)
        time_column, exogenous = next(iter(columns)), [c for c in columns][1:]
        h = len(holdout)
        bodies = []
        for _ in range(min(n, 200)):
            steps = int(rng.integers(1, h + 1))
            body: dict = {"steps": steps}
            if exogenous:
                body["exogenous"] = {c: holdout[c].to_numpy(float)[:steps].tolist() for c in exogenous}
            bodies.append(json.dumps(body).encode())
        return "/forecast", bodies

    def app(self, champion, config, challenger=None):
        from specweave_ml.serving.forecast_app import create_forecast_app

        return create_forecast_app(champion, config)


FAMILY = ForecastingFamily()
