"""Meaning checks on the serving, tracking, tuning and explain settings, before any data is read.

``brief.validate`` checks the brief and the selection; this checks the rest of the config the same way,
so a bad port or tracking URI stops the run at once rather than after training. Every message names the
full key. It runs on every command, so it imports nothing heavy.
"""

from __future__ import annotations

import re

from specweave_ml.errors import ConfigError
from specweave_ml.schema import TuningPhase
from specweave_ml.serving.settings import validate as validate_serving

URL = re.compile(r"^[A-Za-z][A-Za-z0-9+.-]*://.+")  # scheme://rest: sqlite:///x.db, http://host:5000, postgresql://...
PHASES = [p.value for p in TuningPhase]
SEED_MAX = 2**32 - 1


def _require(key: str, ok: bool, expected: str, value, fix: str | None = None) -> None:
    if not ok:
        raise ConfigError(key, f"must be {expected}, got {value!r} instead", fix or f"set {key} to {expected}")


def _tracking(tracking) -> None:
    if not tracking.enabled:
        return  # conf/tracking/off.yaml: the URI is never used
    _require("tracking.uri", bool(URL.match(tracking.uri)), "a tracking URI", tracking.uri,
             "use sqlite:///path/mlflow.db or http://host:port, or tracking=off")
    _require("tracking.experiment", bool(tracking.experiment.strip()), "an experiment name", tracking.experiment)


def _tuning(tuning) -> None:
    shares, trials = tuning.budget_shares, tuning.max_trials
    for key, table in (("tuning.budget_shares", shares), ("tuning.max_trials", trials)):
        for phase in table:
            _require(key, phase in PHASES, f"keyed by phase names ({', '.join(PHASES)})", phase, f"rename or remove {key}.{phase}")
        for phase in (p.value for p in tuning.phases):
            if phase not in table:
                raise ConfigError(key, f"has no entry for '{phase}', a phase in tuning.phases", f"set {key}.{phase}")
    for phase, share in shares.items():
        _require(f"tuning.budget_shares.{phase}", share > 0, "a positive share of the budget", share)
    for phase, n in trials.items():
        _require(f"tuning.max_trials.{phase}", n >= 1, "at least 1", n)
    _require("tuning.patience", isinstance(tuning.patience, int) and tuning.patience >= 0,
             "an integer >= 0 (0: phases never stop for lack of progress)", tuning.patience)
    _require("tuning.early_stopping_rounds", tuning.early_stopping_rounds >= 1, "at least 1", tuning.early_stopping_rounds)
    from specweave_ml.training.halving import halving_settings

    halving_settings(dict(tuning.halving or {}))  # a ConfigError naming tuning.halving.<key>
    _require("tuning.train_score_rows", tuning.train_score_rows >= 1, "at least 1", tuning.train_score_rows)
    _require("tuning.storage", tuning.storage is None or bool(URL.match(tuning.storage)),
             "null or a database URL", tuning.storage, "use null (a SQLite file under the increment) or postgresql://...")
    _require("tuning.heartbeat_seconds", tuning.heartbeat_seconds >= 1, "at least 1 (seconds)", tuning.heartbeat_seconds)
    _require("tuning.worker_idle_seconds", tuning.worker_idle_seconds >= 0, "0 or more (seconds)", tuning.worker_idle_seconds)


SCHEDULER = re.compile(r"^(tcp|tls|ucx)://[^\s:/]+:\d+$")  # a Dask scheduler address: tcp://host:port


def _compute(compute) -> None:
    """``conf/compute/``: where the boosters train (training/dask_compute.py); whether a scheduler answers is found at stage=train."""
    _require("compute.name", compute.name in ("local", "dask"), "local or dask", compute.name, "use compute=local or compute=dask")
    _require("compute.scheduler", compute.scheduler is None or bool(SCHEDULER.match(str(compute.scheduler))),
             "null (a LocalCluster for the run) or a scheduler address such as tcp://127.0.0.1:8786", compute.scheduler)
    for key in ("workers", "threads_per_worker", "partition_rows"):
        _require(f"compute.{key}", compute[key] >= 1, "at least 1", compute[key])


def _explain(explain) -> None:
    for key in ("background_rows", "explain_rows"):
        _require(f"explain.{key}", explain[key] >= 1, "at least 1", explain[key])
    for key in ("top_features", "local_top", "local_random"):  # plot counts: 0 skips those plots
        _require(f"explain.{key}", explain[key] >= 0, "0 or more", explain[key])


def _forecast(problem) -> None:
    """A forecasting brief's ``problem.forecast`` block and the columns it needs."""
    if str(problem.task) not in ("forecasting", "Task.forecasting"):
        return
    f, d = problem.forecast, problem.data
    _require("problem.data.time_column", bool(d.time_column), "the date or time column of the series", d.time_column,
             "set problem.data.time_column=<column>: a forecast orders its points by it")
    _require("problem.forecast.horizon", f.horizon >= 1, "at least 1 (the steps ahead to forecast)", f.horizon,
             "set problem.forecast.horizon to the number of steps ahead, e.g. 12 for a year of months")
    _require("problem.forecast.backtest_windows", f.backtest_windows >= 1, "at least 1", f.backtest_windows,
             "set problem.forecast.backtest_windows to 3 (the default) or more")
    _require("problem.forecast.season_length", f.season_length is None or f.season_length >= 1, "null or at least 1",
             f.season_length, "set it to the steps in one season (12 for monthly data), or null to infer it")
    if f.frequency is not None:
        from pandas.tseries.frequencies import to_offset  # only for a declared frequency

        try:
            to_offset(f.frequency)
        except ValueError:
            raise ConfigError("problem.forecast.frequency", f"'{f.frequency}' is not a pandas frequency",
                              "use e.g. MS (month start), W-SAT, QS-OCT, D or h, or null to infer it") from None
    for column in f.exogenous:
        if column in (d.target, d.time_column):
            raise ConfigError("problem.forecast.exogenous", f"'{column}' is the target or the time column",
                              "list only other columns whose future values are known")


def _ranking(problem) -> None:
    """A ranking brief's ``problem.ranking`` block (k larger than the catalogue is found when the data is read)."""
    if str(problem.task) not in ("ranking", "Task.ranking"):
        return
    r, d = problem.ranking, problem.data
    _require("problem.ranking.k", len(r.k) > 0 and all(int(k) >= 1 for k in r.k), "a list of cut-offs of at least 1",
             list(r.k), "set problem.ranking.k to e.g. [5, 10, 20]")
    _require("problem.ranking.test_size", 0 < r.test_size < 1, "between 0 and 1", r.test_size,
             "set problem.ranking.test_size to e.g. 0.25")
    _require("problem.ranking.recent_share", 0 < r.recent_share <= 1, "above 0 and at most 1", r.recent_share,
             "set problem.ranking.recent_share to e.g. 0.1")
    if r.positive_threshold is not None and not d.rating_column:
        raise ConfigError("problem.ranking.positive_threshold", "a threshold needs ratings, and no rating column is declared",
                          "set problem.data.rating_column=<column>, or positive_threshold=null")
    if str(r.feedback) in ("explicit", "Feedback.explicit") and not d.rating_column:
        raise ConfigError("problem.ranking.feedback", "explicit feedback predicts the rating, and no rating column is declared",
                          "set problem.data.rating_column=<column>, or feedback=implicit")
    if str(r.split) in ("leave_last_out", "global_time", "RankingSplit.leave_last_out", "RankingSplit.global_time") \
            and not d.time_column:
        raise ConfigError("problem.ranking.split", f"{str(r.split).split('.')[-1]} orders interactions by time, and no "
                          "time column is declared", "set problem.data.time_column=<column>, or split=per_user_random")


def _text(problem) -> None:
    """A text brief's ``problem.text`` limits: each a positive whole number (0 would refuse every text)."""
    if str(problem.get("modality", "")) not in ("text", "Modality.text"):
        return
    t = problem.text
    for key, fix in (("max_chars", "the longest text the model takes, e.g. 5000"),
                     ("explain_samples", "the holdout texts explained token by token, e.g. 3"),
                     ("explain_max_evals", "SHAP evaluations per explained text, e.g. 200")):
        _require(f"problem.text.{key}", t[key] is not None and t[key] >= 1, "at least 1", t[key],
                 f"set problem.text.{key} to {fix}")


def validate_settings(cfg) -> None:
    """Raise ``ConfigError`` naming the first serving, tracking, tuning or explain key (or the seed) that makes no sense."""
    _require("seed", 0 <= cfg.seed <= SEED_MAX, f"a whole number from 0 to {SEED_MAX}", cfg.seed)  # numpy's range
    validate_serving(cfg.serving)
    _tracking(cfg.tracking)
    _tuning(cfg.tuning)
    _explain(cfg.explain)
    if cfg.get("compute") is not None:
        _compute(cfg.compute)
    if cfg.get("problem") is not None:
        _forecast(cfg.problem)
        _ranking(cfg.problem)
        _text(cfg.problem)
