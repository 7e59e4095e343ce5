"""Thin wiring: each stage reads the config through ``Context``, calls its step, and lands its files whole.

The same functions run in one process (``stage=all``), one at a time under ``dvc repro``, and in tests. A stage
that writes into its increment runs on a staging copy (``transaction.staged``): its files land when it
succeeds and not at all when it fails. A failed gate under ``strict=true`` is recorded first, then reported.
"""

from __future__ import annotations

import dataclasses
import logging
import time
from importlib import import_module
from pathlib import Path
from typing import Callable

from omegaconf import DictConfig

from specweave_ml.context import Context
from specweave_ml.errors import ConfigError, GateFailed, SpecweaveError
from specweave_ml.plan import Plan
from specweave_ml.tracking import require_server
from specweave_ml.units import seconds

log = logging.getLogger("specweave_ml")


def plan_stage(ctx: Context) -> Plan:
    """Print what the framework decided and why; write nothing."""
    plan = ctx.plan(ctx.facts())
    print(plan.describe())
    return plan


def init_stage(cfg: DictConfig) -> Path:
    """Write ``conf/problem/<name>.yaml`` under ``paths.root`` from a data file, then print its plan.

    ``stage=init data=<file> target=<column> [name=<brief>]``. It never reads the composed brief (whose data
    may be absent); the new brief is validated and resolved against its data before it lands, and an
    existing brief of that name, here or shipped, is never replaced.
    """
    import copy

    from omegaconf import OmegaConf

    from specweave_ml.brief_writer import brief_name, brief_text, increment_id, next_increment
    from specweave_ml.config_errors import CONF
    from specweave_ml.data.infer import infer
    from specweave_ml.data.sample import read_sample
    from specweave_ml.fileio import write_text
    from specweave_ml.schema import ProblemSchema

    for key, example in (("data", "data=path/to/file.csv"), ("target", "target=<column>")):
        if not cfg.get(key):
            raise ConfigError(key, "stage=init needs it", f"add {example}")
    name = brief_name(cfg.name, cfg.data)
    briefs = Path(cfg.paths.root) / "conf" / "problem"
    brief_dirs = list(dict.fromkeys(d.resolve() for d in (briefs, CONF / "problem")))
    taken = [d / f"{name}.yaml" for d in brief_dirs if (d / f"{name}.yaml").exists()]
    if taken:
        raise ConfigError("name", f"the brief {taken[0]} already exists and stage=init never replaces one",
                          "choose another name=<brief name>, or delete that file first")
    sample = read_sample(cfg.data, cfg.target)
    inference = infer(sample.frame, cfg.target, sample.n_rows, sample.target, cfg.selection.gates.imbalance_ratio)
    increment = increment_id(next_increment(brief_dirs, Path(cfg.paths.increments)), name)
    text = brief_text(inference, cfg.data, increment)
    checked = copy.deepcopy(cfg)
    checked.problem = OmegaConf.merge(OmegaConf.structured(ProblemSchema), OmegaConf.create(text))
    ctx = Context.from_cfg(checked)
    plan = ctx.plan(ctx.facts())  # the brief meets its data before it lands
    path = briefs / f"{name}.yaml"
    write_text(path, text)
    log.info("wrote %s: run it with python -m specweave_ml problem=%s (stage=params problem=%s adds it to dvc repro)",
             path, name, name)
    print(plan.describe())
    return path


def params_stage(ctx: Context) -> Path:
    """Add the brief's increment to what ``dvc repro`` builds: write ``increments/<id>/params.yaml`` (the
    composed config, overrides included), its plots for ``dvc plots`` (``increments/<id>/dvc.yaml``), and
    register it in ``increments/pipeline.yaml``. Run again to change it; it rewrites only what differs."""
    from specweave_ml import dvc_index
    from specweave_ml.fileio import write_text

    family = ctx.trainable_family()  # a brief nothing can train yet has no pipeline to join
    paths, increment = ctx.paths, ctx.problem.increment
    dvc_index.write_params(paths.params, ctx.cfg, increment)
    plots = dvc_index.plots_text(increment, family.dvc_plots(ctx.problem.task.value))
    if not (paths.final / "dvc.yaml").exists() or (paths.final / "dvc.yaml").read_text() != plots:
        write_text(paths.final / "dvc.yaml", plots)
    entry = {"brief": _brief_name(), "family": family.name, "task": ctx.problem.task.value, "code": family.code}
    dvc_index.register(paths.increments_dir, increment, entry)
    log.info("registered %s (%s) in %s: `dvc repro` builds it from %s", increment, entry["brief"],
             paths.increments_dir / dvc_index.INDEX, paths.params)
    return paths.params


def _brief_name() -> str | None:
    """The ``problem=<name>`` this run composed, as the index records it (None outside a Hydra app)."""
    from hydra.core.hydra_config import HydraConfig

    return HydraConfig.get().runtime.choices.get("problem") if HydraConfig.initialized() else None


def _step(module: str) -> Callable[[Context], object]:
    """A stage that writes only outside the increment (predict) or nothing at all (serve)."""
    def run(ctx: Context):
        return import_module(f"specweave_ml.steps.{module}").run(ctx)

    return run


def _staged_step(module: str) -> Callable[[Context], object]:
    """A stage that writes into its increment: all of its files or none of them."""
    def run(ctx: Context):
        from specweave_ml.report.living import write_index
        from specweave_ml.transaction import staged

        step, failed = import_module(f"specweave_ml.steps.{module}").run, None
        with staged(ctx.paths, module) as paths:
            try:
                result = step(dataclasses.replace(ctx, paths=paths))
            except GateFailed as err:  # the failure is part of the record: land it, then report it
                failed, result = err.moved(str(paths.root), str(ctx.paths.final)), None
            except SpecweaveError as err:  # name the increment's files, not the staging copy's
                raise err.moved(str(paths.root), str(ctx.paths.final)) from None
        if ctx.paths.metadata.exists():
            write_index(ctx.paths.increments_dir)
        if failed is not None:
            raise failed
        return result

    return run


PIPELINE = ("fetch", "prepare", "train", "evaluate", "explain", "package", "report")


def all_stage(ctx: Context) -> None:
    """The whole increment in one process; a failed gate is recorded and, with strict=true, fails the run."""
    for name in PIPELINE:
        start = time.perf_counter()
        STAGES[name](ctx)
        log.info("stage %s: %s", name, seconds(time.perf_counter() - start))


STAGES: dict[str, Callable[[Context], object]] = {
    "init": init_stage,  # takes the composed config, not a Context (see run_stage)
    "plan": plan_stage,
    "params": params_stage,
    **{name: _staged_step(name) for name in PIPELINE},
    "predict": _step("predict"),
    "tune_worker": _step("tune_worker"),  # joins a shared tuning: writes only to tuning.storage, takes no lock
    "serve": _step("serve"),
    **{name: _staged_step(name) for name in ("loadtest", "monitor", "abplan", "rollback")},
    "all": all_stage,
}


# The stages that report to MLflow: with a tracking server, it must answer before they write anything.
TRACKED = frozenset({"train", "evaluate", "explain", "package", "loadtest", "rollback", "all"})
TUNING_STAGES = ("train", "all", "tune_worker")  # the stages that open tuning.storage


def run_stage(cfg: DictConfig) -> object:
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(message)s", force=True)
    stage = cfg.stage
    if stage not in STAGES:
        raise ConfigError("stage", f"unknown stage '{stage}'", f"use one of {', '.join(STAGES)}")
    if stage == "init":  # writes a new brief: the composed default brief is never read (its data may be absent)
        return init_stage(cfg)
    if stage in TRACKED:
        require_server(cfg.tracking)
    ctx = Context.from_cfg(cfg)
    if stage in TUNING_STAGES and ctx.tuning.phases and ctx.tuning.storage:  # a database server: reached before anything is written
        from specweave_ml.training.shared_study import check_storage

        check_storage(ctx.tuning.storage, ctx.tuning.heartbeat_seconds)
    return STAGES[stage](ctx)
