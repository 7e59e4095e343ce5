"""What the server needs, resolved from the ``serving`` config group into plain values.

``ServerConfig`` travels as JSON to a server subprocess (``stage=loadtest``) and into a container's
command line, so the server itself never composes a Hydra config. Meaning is checked here, before
anything starts: every message names the full key.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Optional

from specweave_ml.errors import ConfigError
from specweave_ml.paths import IncrementPaths


@dataclass
class ServerConfig:
    increment: str  # the increment's folder
    host: str
    port: int
    max_body_bytes: int
    max_batch_rows: int
    drift_window: int
    drift_min_rows: int
    psi_threshold: float
    challenger: Optional[str]  # another increment's folder (or this one's, with challenger_model=previous)
    challenger_model: str  # champion | previous
    split: float
    key_header: str
    salt: str

    def to_json(self) -> str:
        return json.dumps(asdict(self))

    @classmethod
    def from_json(cls, text: str) -> "ServerConfig":
        return cls(**json.loads(text))


def _check(key: str, ok: bool, expected: str, value, fix: str | None = None) -> None:
    if not ok:
        raise ConfigError(key, f"must be {expected}, got {value!r} instead", fix or f"set {key} to {expected}")


def validate(serving) -> None:
    """Meaning of the ``serving`` group (its types were checked at compose time); run with the other settings
    checks by ``settings_check.validate_settings`` when the config is read, and again before a server starts."""
    lt, drift, ab = serving.loadtest, serving.drift, serving.ab
    _check("serving.host", bool(serving.host.strip()), "a host name or address", serving.host, "use 127.0.0.1 or 0.0.0.0")
    _check("serving.port", 0 < serving.port < 65536, "a TCP port (1-65535)", serving.port)
    _check("serving.max_body_bytes", serving.max_body_bytes >= 1024, "at least 1024", serving.max_body_bytes)
    _check("serving.max_batch_rows", serving.max_batch_rows >= 1, "at least 1", serving.max_batch_rows)
    _check("serving.loadtest.rate", lt.rate > 0, "a positive rate in requests/s", lt.rate)
    _check("serving.loadtest.duration_s", lt.duration_s > 0, "a positive number of seconds", lt.duration_s)
    _check("serving.loadtest.timeout_s", lt.timeout_s > 0, "a positive number of seconds", lt.timeout_s)
    _check("serving.loadtest.startup_timeout_s", lt.startup_timeout_s > 0, "a positive number of seconds", lt.startup_timeout_s)
    _check("serving.drift.psi_threshold", drift.psi_threshold > 0, "positive (0.2 is the usual alert level)", drift.psi_threshold)
    _check("serving.drift.ks_alpha", 0 < drift.ks_alpha < 1, "between 0 and 1", drift.ks_alpha)
    _check("serving.drift.bins", drift.bins >= 2, "at least 2", drift.bins)
    _check("serving.drift.min_rows", drift.min_rows >= 1, "at least 1", drift.min_rows)
    _check("serving.drift.window", drift.window >= drift.min_rows, f"at least serving.drift.min_rows ({drift.min_rows})", drift.window)
    _check("serving.ab.split", 0 < ab.split < 1, "a share strictly between 0 and 1", ab.split)
    _check("serving.ab.mde", ab.mde > 0, "a positive relative effect (0.05 is 5%)", ab.mde)
    _check("serving.ab.alpha", 0 < ab.alpha < 1, "between 0 and 1", ab.alpha)
    _check("serving.ab.power", 0 < ab.power < 1, "between 0 and 1", ab.power)
    _check("serving.ab.expected_rps", ab.expected_rps > 0, "a positive rate in requests/s", ab.expected_rps)
    _check("serving.ab.max_days", ab.max_days > 0, "a positive number of days", ab.max_days)
    _check("serving.ab.key_header", bool(ab.key_header.strip()), "an HTTP header name", ab.key_header)


def resolve_challenger(challenger: Optional[str], paths: IncrementPaths) -> tuple[Optional[str], str]:
    """``serving.ab.challenger`` as (increment folder, which model): previous, or another increment's champion."""
    if challenger is None:
        return None, "champion"
    if challenger == "previous":
        if not paths.previous_model.exists():
            raise ConfigError("serving.ab.challenger", f"'previous' but {paths.previous_model} does not exist",
                              "train again (stage=train keeps the replaced champion), or name another increment")
        return str(paths.root), "previous"
    other = IncrementPaths(paths.increments_dir / challenger)
    if challenger == paths.name or not other.metadata.exists():
        known = sorted(p.parent.name for p in paths.increments_dir.glob("*/metadata.json") if p.parent.name != paths.name)
        raise ConfigError("serving.ab.challenger", f"'{challenger}' is not another increment under {paths.increments_dir}",
                          f"use previous, null, or one of: {', '.join(known) or '(no other increment yet)'}")
    return str(other.root), "champion"


def server_config(serving, paths: IncrementPaths, port: Optional[int] = None, host: Optional[str] = None,
                  with_challenger: bool = True) -> ServerConfig:
    """The server's settings from the composed ``serving`` group, checked."""
    validate(serving)
    challenger, which = resolve_challenger(serving.ab.challenger, paths) if with_challenger else (None, "champion")
    return ServerConfig(
        increment=str(Path(paths.root).resolve()), host=host or serving.host, port=port or serving.port,
        max_body_bytes=serving.max_body_bytes, max_batch_rows=serving.max_batch_rows,
        drift_window=serving.drift.window, drift_min_rows=serving.drift.min_rows, psi_threshold=serving.drift.psi_threshold,
        challenger=challenger, challenger_model=which, split=serving.ab.split, key_header=serving.ab.key_header,
        salt=serving.ab.salt if serving.ab.salt is not None else paths.name,
    )
