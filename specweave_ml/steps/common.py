"""What several stages share: the plan as prepared, the saved split, the increment's state."""

from __future__ import annotations

from contextlib import contextmanager

import pandas as pd

from specweave_ml.context import Context
from specweave_ml.data.split import fingerprint
from specweave_ml.errors import DataError
from specweave_ml.fileio import read_json
from specweave_ml.plan import Plan
from specweave_ml.results import Prepared


def require(path, stage: str) -> None:
    if not path.exists():
        raise DataError(str(path), "does not exist yet", f"run stage={stage} (or stage=all) first")


def planned(ctx: Context) -> Plan:
    """The plan, resolved from what ``stage=prepare`` recorded of the data (no need to reload it)."""
    family = ctx.trainable_family()
    prepared = Prepared.require(ctx.paths.root)
    info = read_json(ctx.paths.split) if ctx.paths.split.exists() else {}
    plan = ctx.plan(family.recorded_facts(prepared, info))
    require_trainable(plan)
    return plan


def require_trainable(plan: Plan) -> None:
    if not plan.trainable:
        from specweave_ml.errors import NotTrainableYet

        blocked = ", ".join(c.name for c in plan.candidates if not c.trainable)
        raise NotTrainableYet("model", f"{blocked} cannot be trained for a {plan.modality} {plan.task} brief yet",
                              "pick a trainable model (model=<name>), or run stage=plan to see the plan")


def load_split(ctx: Context, part: str) -> pd.DataFrame:
    """The saved train or test part, refused if it changed since ``stage=prepare`` wrote it."""
    path = ctx.paths.train if part == "train" else ctx.paths.test
    require(path, "prepare")
    frame = pd.read_parquet(path)
    expected = read_json(ctx.paths.split)[f"{part}_fingerprint"]
    if fingerprint(frame) != expected:
        raise DataError(str(path), "changed since stage=prepare wrote it (fingerprint mismatch)",
                        "rerun stage=prepare, or restore it with dvc checkout")
    return frame


def split_info(ctx: Context) -> dict:
    require(ctx.paths.split, "prepare")
    return read_json(ctx.paths.split)


@contextmanager
def progress(ctx: Context, total: int, desc: str):
    """A progress bar on a terminal; silent when output is piped (or as ``progress=`` says)."""
    from tqdm.auto import tqdm

    setting = ctx.cfg.get("progress")
    bar = tqdm(total=total, desc=desc, unit="fit", disable=None if setting is None else not setting, leave=False)
    try:
        yield bar
    finally:
        bar.close()


def regularise_of(ctx: Context, name: str) -> dict | None:
    """The settings that regularise model ``name`` and their direction (``search.regularise`` of conf/model/<name>.yaml),
    or None for a model without them (a baseline, a forecaster)."""
    spec = ctx.models.get(name)
    found = (spec.search or {}).get("regularise") if spec is not None else None
    return dict(found) if found else None
