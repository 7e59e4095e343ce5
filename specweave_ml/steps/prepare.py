"""``stage=prepare``: load and check the data, profile it, split it, and write the increment's documents.

Everything that can fail is done before the first file is written, so a bad brief or bad data leaves
no half-written increment behind.
"""

from __future__ import annotations

import logging

from omegaconf import OmegaConf

from specweave_ml import docs, state
from specweave_ml.context import Context
from specweave_ml.data.checks import check_frame
from specweave_ml.data.profile import profile
from specweave_ml.data.split import fingerprint, make_split
from specweave_ml.fileio import write_json, write_parquet, write_text
from specweave_ml.plan import Plan

log = logging.getLogger(__name__)


def prepare(ctx: Context) -> Plan:
    problem, paths = ctx.problem, ctx.paths
    d = problem.data
    frame = ctx.load_frame()
    checked = check_frame(frame, problem, ctx.selection.cv_folds)
    plan = ctx.plan(ctx.facts(frame))
    keep = list(dict.fromkeys([*checked.features, d.target, d.time_column, d.group_column]))
    keep = [c for c in keep if c is not None]
    source_fp = fingerprint(frame)
    split = make_split(frame[keep], plan.split, d.target, ctx.seed)
    split.info.update(source_fingerprint=source_fp, features=checked.features, target=d.target)
    prof = profile(frame, d.target, plan.task, checked, source_fp)
    for finding in checked.findings:
        log.warning("data: %s", finding.message)

    # Nothing above writes; from here on, every file is written whole.
    meta = state.fresh(plan, ctx.cfg, state.load(paths))
    meta["data"] = {"rows": prof["rows"], "fingerprint": source_fp, "features": checked.features,
                    "findings": prof["findings"]}
    meta["plan"] = plan.to_dict()
    rows, share = prof["rows"], prof.get("minority_share")
    state.set_task(meta, "T-001", state.DONE, f"{rows:,} rows, {len(checked.features)} features, "
                   f"{len(checked.findings)} findings" + (f", minority class {share:.2%}" if share is not None else ""))
    state.set_task(meta, "T-002", state.DONE, f"{plan.split.strategy} split, {split.info['rows_train']:,} train / "
                   f"{split.info['rows_test']:,} test rows, {plan.split.cv_folds}-fold {plan.split.cv_strategy}")
    if meta["status"] == "planned":
        meta["status"] = "prepared"
    write_parquet(paths.train, split.train)
    write_parquet(paths.test, split.test)
    write_json(paths.split, split.info)
    write_json(paths.profile, prof)
    write_text(paths.config, OmegaConf.to_yaml(ctx.cfg, resolve=True))
    state.save(paths, meta)
    docs.write_all(paths, plan, problem, meta)
    log.info("prepared %s: %s train / %s test rows -> %s", plan.increment, f"{split.info['rows_train']:,}",
             f"{split.info['rows_test']:,}", paths.root)
    return plan
