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
    _require("tuning.early_stopping_rounds", tuning.early_stopping_rounds >= 1, "at least 1", tuning.early_stopping_rounds)
    _require("tuning.train_score_rows", tuning.train_score_rows >= 1, "at least 1", tuning.train_score_rows)
    _require("tuning.storage", tuning.storage is None or bool(URL.match(tuning.storage)),
             "null or a database URL", tuning.storage, "use null (a SQLite file under the increment) or postgresql://...")


def _explain(explain) -> None:
    for key in ("background_rows", "explain_rows"):
        _require(f"explain.{key}", explain[key] >= 1, "at least 1", explain[key])
    for key in ("top_features", "local_top", "local_random"):  # plot counts: 0 skips those plots
        _require(f"explain.{key}", explain[key] >= 0, "0 or more", explain[key])


def validate_settings(cfg) -> None:
    """Raise ``ConfigError`` naming the first serving, tracking, tuning or explain key (or the seed) that makes no sense."""
    _require("seed", 0 <= cfg.seed <= SEED_MAX, f"a whole number from 0 to {SEED_MAX}", cfg.seed)  # numpy's range
    validate_serving(cfg.serving)
    _tracking(cfg.tracking)
    _tuning(cfg.tuning)
    _explain(cfg.explain)
