"""Thin wiring: each stage reads the config through ``Context``, calls pure steps, writes files.

The same functions run in one process (``stage=all``), one at a time under ``dvc repro``, and in tests.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Callable

from omegaconf import DictConfig

from specweave_ml.context import Context
from specweave_ml.errors import ConfigError, NotTrainableYet
from specweave_ml.plan import Plan

log = logging.getLogger("specweave_ml")


def plan_stage(ctx: Context) -> Plan:
    """Print what the framework decided and why; write nothing."""
    plan = ctx.plan(ctx.facts())
    print(plan.describe())
    return plan


def require_trainable(plan: Plan) -> None:
    if not plan.trainable:
        blocked = ", ".join(c.name for c in plan.candidates if not c.trainable)
        raise NotTrainableYet(
            "problem.modality",
            f"{plan.modality} models ({blocked}) cannot be trained yet; only the plan resolves",
            "run with stage=plan to see it, or use a tabular brief",
        )


def params_stage(ctx: Context) -> Path:
    """Write params.yaml: the composed config, exactly as DVC's Hydra composition writes it."""
    from omegaconf import OmegaConf

    from specweave_ml.fileio import write_text

    cfg = OmegaConf.create(OmegaConf.to_container(ctx.cfg, resolve=True))
    cfg.stage = "all"  # each dvc.yaml stage names its own
    path = Path(ctx.cfg.paths.root) / "params.yaml"
    write_text(path, OmegaConf.to_yaml(cfg))
    log.info("wrote %s for problem=%s", path, ctx.problem.increment)
    return path


def prepare_stage(ctx: Context) -> Plan:
    from specweave_ml.steps.prepare import prepare

    plan = ctx.plan(ctx.facts())
    require_trainable(plan)
    return prepare(ctx)


def _step(module: str) -> Callable[[Context], object]:
    def run(ctx: Context):
        from importlib import import_module

        return import_module(f"specweave_ml.steps.{module}").run(ctx)

    return run


PIPELINE = ("fetch", "prepare", "train", "evaluate", "explain", "package", "report")


def all_stage(ctx: Context) -> None:
    """The whole increment in one process; a failed gate is recorded and, with strict=true, fails the run."""
    import time

    for name in PIPELINE:
        start = time.perf_counter()
        STAGES[name](ctx)
        log.info("stage %s: %.1f s", name, time.perf_counter() - start)


STAGES: dict[str, Callable[[Context], object]] = {
    "plan": plan_stage,
    "params": params_stage,
    "fetch": _step("fetch"),
    "prepare": prepare_stage,
    "train": _step("train"),
    "evaluate": _step("evaluate"),
    "explain": _step("explain"),
    "package": _step("package"),
    "report": _step("report"),
    "predict": _step("predict"),
    "serve": _step("serve"),
    "loadtest": _step("loadtest"),
    "monitor": _step("monitor"),
    "abplan": _step("abplan"),
    "rollback": _step("rollback"),
    "all": all_stage,
}


def run_stage(cfg: DictConfig) -> None:
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(message)s", force=True)
    stage = cfg.stage
    if stage not in STAGES:
        raise ConfigError("stage", f"unknown stage '{stage}'", f"use one of {', '.join(STAGES)}")
    STAGES[stage](Context.from_cfg(cfg))
