"""An increment's living state, kept in ``metadata.json``: its tasks' statuses and its results.

Stages read it, record what they did, and write it back; the Markdown documents are views of it.
"""

from __future__ import annotations

import hashlib
from datetime import datetime, timezone

from omegaconf import DictConfig, OmegaConf

from specweave_ml.fileio import read_json, write_json
from specweave_ml.paths import IncrementPaths
from specweave_ml.plan import Plan

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
    parts["phases"] = list(cfg.tuning.phases)
    return hashlib.sha256(OmegaConf.to_yaml(OmegaConf.create(parts), sort_keys=True).encode()).hexdigest()[:12]


def load(paths: IncrementPaths) -> dict:
    return read_json(paths.metadata) if paths.metadata.exists() else {}


def fresh(plan: Plan, cfg: DictConfig, previous: dict) -> dict:
    """The metadata for this plan, keeping what earlier runs recorded (creation time, task statuses)."""
    digest = config_hash(cfg)
    if previous.get("config_hash") not in (None, digest):
        # The brief or the rules changed: earlier results describe another increment.
        previous = {k: previous[k] for k in ("created",) if k in previous}
    tasks = previous.get("tasks", {})
    for tid, _ in TASKS:
        tasks.setdefault(tid, {"status": TODO, "note": ""})
        if tid in NOT_BUILT:
            tasks[tid] = {"status": NOT_YET, "note": NOT_BUILT[tid]}
    meta = {
        "id": plan.increment,
        "title": plan.title,
        "task": plan.task,
        "modality": plan.modality,
        "status": previous.get("status", "planned"),
        "created": previous.get("created", now()),
        "last_activity": now(),
        "config_hash": digest,
        "tasks": {tid: tasks[tid] for tid, _ in TASKS},
    }
    for key, value in previous.items():
        meta.setdefault(key, value)
    return meta


def set_task(meta: dict, tid: str, status: str, note: str = "") -> None:
    meta["tasks"][tid] = {"status": status, "note": note}


def save(paths: IncrementPaths, meta: dict) -> None:
    """Write the metadata and regenerate the living-docs index that lists every increment."""
    from specweave_ml.report.living import write_index

    meta["last_activity"] = now()
    write_json(paths.metadata, meta)
    write_index(paths.root.parent)
