"""Meaning checks on a composed config, before any data is read.

The schema (``schema.py``) already guarantees types and shapes. This layer checks what only makes sense
together: a metric that fits the task, positive budgets, a well-formed increment id, sane CV settings.
"""

from __future__ import annotations

import re

from omegaconf import DictConfig, OmegaConf

from specweave_ml.errors import ConfigError
from specweave_ml.metrics import METRICS, metrics_for
from specweave_ml.schema import ProblemSchema, SelectionSchema

INCREMENT_ID = re.compile(r"^\d{4}-[a-z0-9]+(-[a-z0-9]+)*$")


def problem_of(cfg: DictConfig) -> ProblemSchema:
    return OmegaConf.to_object(cfg.problem)  # type: ignore[return-value]


def selection_of(cfg: DictConfig) -> SelectionSchema:
    return OmegaConf.to_object(cfg.selection)  # type: ignore[return-value]


def validate(problem: ProblemSchema, selection: SelectionSchema) -> None:
    """Raise ``ConfigError`` naming the first key whose value makes no sense for this brief."""
    task = problem.task.value
    if not INCREMENT_ID.match(problem.increment):
        raise ConfigError(
            "problem.increment",
            f"'{problem.increment}' is not an increment id of the form NNNN-kebab-name",
            "use four digits and a lower-case name, e.g. 0007-churn-model",
        )
    data = problem.data
    if problem.modality.value == "interactions":
        for key in ("user_column", "item_column"):
            if not getattr(data, key):
                raise ConfigError(f"problem.data.{key}", "interactions data needs it", f"set problem.data.{key}")
    elif not data.target:
        raise ConfigError("problem.data.target", "no target column is declared", "set problem.data.target=<column>")
    if data.sample_rows is not None and data.sample_rows < 10:
        raise ConfigError("problem.data.sample_rows", f"must be at least 10, got {data.sample_rows}", "raise it or set null")
    c = problem.constraints
    for key in ("budget_minutes", "latency_p95_ms", "max_memory_gb"):
        value = getattr(c, key)
        if value is not None and value <= 0:
            raise ConfigError(f"problem.constraints.{key}", f"must be positive, got {value:g}", "give a positive number")
    allowed = metrics_for(task)
    if problem.metrics.primary is not None and problem.metrics.primary not in allowed:
        raise ConfigError(
            "problem.metrics.primary",
            f"'{problem.metrics.primary}' does not fit a {task} task",
            f"use one of {', '.join(allowed)}",
        )
    for name in problem.metrics.others:
        if name not in allowed:
            where = "does not fit" if name in METRICS else "is not a known metric for"
            raise ConfigError("problem.metrics.others", f"'{name}' {where} a {task} task", f"use some of {', '.join(allowed)}")
    if problem.metrics.cost_ratio is not None:
        if task != "binary_classification":
            raise ConfigError("problem.metrics.cost_ratio", f"only applies to binary classification, not {task}", "remove it")
        if problem.metrics.cost_ratio <= 0:
            raise ConfigError("problem.metrics.cost_ratio", "must be positive", "give the cost of a miss over a false alarm, e.g. 10")
    if selection.cv_folds < 3:
        raise ConfigError("selection.cv_folds", f"must be at least 3, got {selection.cv_folds}", "use 3 or more folds (5 by default)")
    if not 0.05 <= selection.test_size <= 0.5:
        raise ConfigError("selection.test_size", f"must be between 0.05 and 0.5, got {selection.test_size}", "use e.g. 0.25")
    if task not in selection.baselines:
        raise ConfigError("selection.baselines", f"no baselines listed for {task}", f"add selection.baselines.{task}")
