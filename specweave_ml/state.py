"""An increment's living state, kept in ``metadata.json``: its status and hashes, no metrics.

It holds the increment's identity, its status and its tasks' statuses, the hash of the config, of the data
and of each stage's result file (``reports/*.json``, see ``results.py``), and the identity and hash of the
champion and of the previous champion kept for rollback. Numbers live in the stage results.
"""

from __future__ import annotations

import hashlib
from datetime import datetime, timezone
from typing import Optional

from omegaconf import DictConfig, OmegaConf

from specweave_ml.fileio import read_json, write_json
from specweave_ml.paths import IncrementPaths
from specweave_ml.plan import Plan

SCHEMA_VERSION = 1
# What a rerun keeps from the metadata of earlier runs (the models on disk and the history of rollbacks).
KEPT = ("data_fingerprint", "model", "previous_model", "rollbacks", "stages")

TODO, DONE, FAILED, SKIPPED, NOT_YET = "todo", "done", "failed", "skipped", "not yet"

# The methodology's workflow as tasks; ids are stable so notes and links keep pointing at them.
TASKS: list[tuple[str, str]] = [
    ("T-001", "Data exploration and quality assessment"),
    ("T-002", "Leakage-safe split and cross-validation folds"),
    ("T-003", "Feature engineering inside the model pipelines"),
    ("T-004", "Baseline models (mandatory)"),
    ("T-005", "Candidate models with cross-validation"),
    ("T-006", "Hyperparameter tuning"),
    ("T-007", "Holdout evaluation and methodology gates"),
    ("T-008", "Model explainability (SHAP)"),
    ("T-009", "Package and register the model"),
    ("T-010", "Load test against the latency budget"),
    ("T-011", "Monitoring, A/B test plan and rollback"),
]
# What the framework cannot do yet says so, rather than leaving a task that looks merely pending.
NOT_BUILT: dict[str, str] = {}


def now() -> str:
    return datetime.now(timezone.utc).replace(microsecond=0).isoformat()


def config_hash(cfg: DictConfig) -> str:
    """A hash of everything that decides the increment's results (not the stage or file arguments)."""
    parts = {k: cfg[k] for k in ("problem", "selection", "models", "model", "tuning", "seed")}
    text = OmegaConf.to_yaml(OmegaConf.create(parts), sort_keys=True)
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def study_key(cfg: DictConfig) -> str:
    """Names the Optuna studies: the same brief, data rules, search spaces and seed resume the same studies,
    whatever the budget or the number of trials asked for."""
    parts = {k: cfg[k] for k in ("problem", "selection", "models", "model", "seed")}
    parts["phases"] = OmegaConf.to_container(cfg.tuning.phases, enum_to_str=True)  # plain names: the key outlives the schema's types
    return hashlib.sha256(OmegaConf.to_yaml(OmegaConf.create(parts), sort_keys=True).encode()).hexdigest()[:12]


def load(paths: IncrementPaths) -> dict:
    return read_json(paths.metadata) if paths.metadata.exists() else {}


def fresh(plan: Plan, family: str, cfg: DictConfig, previous: dict) -> dict:
    """The metadata for this plan, keeping what earlier runs recorded (creation time, task statuses, models)."""
    digest = config_hash(cfg)
    if previous and previous.get("schema_version") != SCHEMA_VERSION:  # written by an older version: keep its models
        previous = {"created": previous.get("created"), **{key: {k: v for k, v in previous[key].items()
                    if k in ("name", "sha256", "registered")} for key in ("model", "previous_model") if previous.get(key)}}
        previous = {k: v for k, v in previous.items() if v is not None}
    if previous.get("config_hash") not in (None, digest):
        # The brief or the rules changed: earlier task statuses describe another increment; its models stay.
        previous = {k: previous[k] for k in ("created", "model", "previous_model", "rollbacks") if k in previous}
    tasks = previous.get("tasks", {})
    for tid, _ in TASKS:
        tasks.setdefault(tid, {"status": TODO, "note": ""})
        if tid in NOT_BUILT:
            tasks[tid] = {"status": NOT_YET, "note": NOT_BUILT[tid]}
    meta = {
        "schema_version": SCHEMA_VERSION,
        "id": plan.increment,
        "title": plan.title,
        "task": plan.task,
        "modality": plan.modality,
        "family": family,
        "status": previous.get("status", "planned"),
        "created": previous.get("created", now()),
        "last_activity": now(),
        "config_hash": digest,
        "tasks": {tid: tasks[tid] for tid, _ in TASKS},
    }
    for key in KEPT:
        if key in previous:
            meta[key] = previous[key]
    return meta


def set_task(meta: dict, tid: str, status: str, note: str = "") -> None:
    meta["tasks"][tid] = {"status": status, "note": note}


def record(paths: IncrementPaths, meta: dict, result, status: Optional[str] = None) -> None:
    """Save a stage's typed result and note it in the metadata: its file's hash, its tasks, the new status."""
    from specweave_ml.fileio import file_hash

    path = result.save(paths.root)
    digest, before = file_hash(path), meta.get("stages", {}).get(result.STAGE, {})
    at = before["at"] if before.get("sha256") == digest and before.get("at") else now()  # unchanged: as it was
    meta.setdefault("stages", {})[result.STAGE] = {"at": at, "result": paths.relative(path), "sha256": digest}
    for tid, task in result.tasks.items():
        meta["tasks"][tid] = dict(task)
    if status is not None:
        meta["status"] = status


def save(paths: IncrementPaths, meta: dict) -> None:
    """Write the metadata (the living-docs index is regenerated by the stage runner once the stage is in place)."""
    meta["last_activity"] = now()
    write_json(paths.metadata, meta)
