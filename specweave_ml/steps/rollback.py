"""``stage=rollback``: restore the previous champion (files, hashes, registry alias) and re-profile it for drift."""

from __future__ import annotations

import logging

from specweave_ml import docs, state
from specweave_ml.context import Context
from specweave_ml.errors import ConfigError, DataError
from specweave_ml.packaging import load_model
from specweave_ml.serving.rollback import alias_target, rollback
from specweave_ml.steps.common import load_split, planned, split_info
from specweave_ml.tracking import Tracker

log = logging.getLogger(__name__)


def _registry(ctx: Context):
    """(check that a version exists, move the champion alias), or (None, None) with tracking off."""
    tracker = Tracker(ctx.cfg.tracking, ctx.cfg.paths.root)
    if not tracker.enabled:
        return None, None

    def check(name: str, version: str) -> None:
        from mlflow.exceptions import MlflowException

        try:
            tracker.client.get_model_version(name, version)
        except MlflowException:
            raise ConfigError("tracking.uri", f"registered model {name} v{version} is not in {tracker.uri}",
                              "point tracking.uri at the registry that holds it, or tracking=off to roll back the files only") from None

    def move(name: str, version: str) -> None:
        tracker.client.set_registered_model_alias(name, "champion", version)

    return check, move


def run(ctx: Context) -> dict:
    plan, paths, family = planned(ctx), ctx.paths, ctx.trainable_family()
    meta = state.load(paths)
    check, move_alias = _registry(ctx)
    record = rollback(paths, meta, check, when=state.now())
    restored = meta["model"]
    try:
        model = load_model(paths.model, restored["sha256"])
        family.reference(paths, model, family.example_input(load_split(ctx, "train"), split_info(ctx)), restored, ctx.cfg, ctx.seed)
    except DataError as err:
        log.warning("drift reference not rebuilt for the restored model (%s): the server runs without drift gauges", err.message)
    state.set_task(meta, "T-009", state.DONE, f"rolled back to {restored.get('name')} (sha256 {restored['sha256'][:12]}); "
                   f"alias {record['alias']}")
    state.save(paths, meta)
    docs.write_all(paths, plan, ctx.problem)
    target, _ = alias_target(restored.get("registered") or {})
    if target and move_alias is not None:  # last: nothing in this stage can fail after the registry has moved
        move_alias(*target)
    elif target:
        record["alias"] = "not moved (tracking is off)"
    log.info("rolled back %s: %s -> %s; alias %s. Restart the server to serve it.", plan.increment,
             (record["from"] or "?")[:12], record["to"][:12], record["alias"])
    return record
