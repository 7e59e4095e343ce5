"""``stage=prepare``: load and check the data, split it, profile it, and write the increment's documents."""

from __future__ import annotations

import logging

import pandas as pd

from specweave_ml import docs, state
from specweave_ml.context import Context
from specweave_ml.data.split import fingerprint
from specweave_ml.dvc_index import write_params
from specweave_ml.fileio import write_json, write_parquet
from specweave_ml.plan import Plan
from specweave_ml.results import Prepared
from specweave_ml.steps.common import require_trainable
from specweave_ml.training import dask_compute

log = logging.getLogger(__name__)


def run(ctx: Context) -> Plan:
    problem, paths, family = ctx.problem, ctx.paths, ctx.trainable_family()
    frame = ctx.load_frame()
    checked = family.check(frame, problem, ctx.selection.cv_folds)
    facts = ctx.facts(frame if checked.frame is None else checked.frame)
    plan = ctx.plan(facts)
    require_trainable(plan)
    prepared = family.prepare(frame, checked, plan, problem, ctx.seed)
    info, prof = prepared.split_info, prepared.profile
    for finding in checked.findings:
        log.warning("data: %s", finding.message)

    share = facts.minority_share
    result = Prepared(
        plan=plan.to_dict(), rows=prof["rows"], features=checked.features, fingerprint=info["source_fingerprint"],
        findings=prof["findings"], minority_share=share, n_classes=facts.n_classes,
        rows_train=info["rows_train"], rows_test=info["rows_test"],
        tasks={
            "T-001": {"status": state.DONE, "note": f"{prof['rows']:,} rows, {len(checked.features)} features, "
                      f"{len(checked.findings)} findings" + (f", minority class {share:.2%}" if share is not None else "")},
            "T-002": {"status": state.DONE, "note": f"{plan.split.strategy} split, {info['rows_train']:,} train / "
                      f"{info['rows_test']:,} test rows, {plan.split.cv_folds}-fold {plan.split.cv_strategy}"},
        },
    )
    meta = state.fresh(plan, family.name, ctx.cfg, state.load(paths))
    meta["data_fingerprint"] = info["source_fingerprint"]
    for part, frame in (("train", prepared.train), ("test", prepared.test)):
        path = paths.train if part == "train" else paths.test
        write_parquet(path, frame)
        # Fingerprinted as written: Parquet may store a column another way (a True/False column with a gap
        # reads back as another dtype), and the later stages compare against what they read.
        info[f"{part}_fingerprint"] = fingerprint(pd.read_parquet(path))
    if ctx.cfg.compute.name == "dask":  # the training part again, as partitioned Parquet for the Dask estimators
        info["partitions"] = dask_compute.write_partitions(prepared.train, paths.data, ctx.cfg.compute.partition_rows,
                                                           info["train_fingerprint"])
    else:
        dask_compute.remove_partitions(paths.data)
    write_json(paths.split, info)
    write_json(paths.profile, prof)
    write_params(paths.params, ctx.cfg, plan.increment)
    state.record(paths, meta, result, status="prepared" if meta["status"] == "planned" else None)
    state.save(paths, meta)
    docs.write_all(paths, plan, problem)
    log.info("prepared %s: %s train / %s test rows -> %s", plan.increment, f"{info['rows_train']:,}",
             f"{info['rows_test']:,}", paths.final)
    return plan
