"""Every forecasting candidate next to the baselines, per shipped series: backtest MASE and MAPE (expanding
windows before the holdout, as stage=train scores them), the holdout's, and the wall time of each.

    python benchmarks/forecasting.py                    # airline, co2, us_consumption (about 2 minutes on 2 cores)
    python benchmarks/forecasting.py airline            # one brief
    python benchmarks/forecasting.py airline model=lstm # extra Hydra overrides (e.g. one model's settings)

The numbers come from the same code the framework runs (``forecasting.backtest`` on the brief's regular series,
the registry's factories with the brief's season length and horizon), not from a separate script.
"""

from __future__ import annotations

import os
import sys
import time
from pathlib import Path

os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

REPO = Path(__file__).resolve().parent.parent
BRIEFS = ("airline", "co2", "us_consumption")


def compose(overrides):
    from hydra import compose as hydra_compose, initialize_config_dir

    from specweave_ml import schema

    schema.register()
    with initialize_config_dir(config_dir=str(REPO / "conf"), version_base="1.3"):
        return hydra_compose(config_name="config", overrides=list(overrides))


def bench(brief: str, extra: list[str]) -> list[dict]:
    from specweave_ml.context import Context
    from specweave_ml.families import named
    from specweave_ml.forecasting import metrics as fm
    from specweave_ml.forecasting.backtest import backtest
    from specweave_ml.forecasting.models import baseline
    from specweave_ml.models.registry import REGISTRY

    ctx = Context.from_cfg(compose([f"problem={brief}", "tracking=off", *extra]))
    family, problem = named("forecasting"), ctx.problem
    frame = ctx.load_source()
    checked = family.check(frame, problem, ctx.selection.cv_folds)
    plan = ctx.plan(family.facts(frame, problem, ctx.selection.cv_folds))
    prepared = family.prepare(frame, checked, plan, problem, ctx.seed)
    info = prepared.split_info
    cut, h, k, m = info["holdout_start"], info["horizon"], info["backtest_windows"], info["season_length"]
    y, X, times = family._arrays(prepared.train, info)
    names = [*[("baseline", b) for b in plan.baselines], *[("candidate", c.name) for c in plan.candidates]]
    if ctx.forced_model is None:  # the trainable forecasters the plan left out (the LSTM), reported too
        planned = {c.name for c in plan.candidates}
        names += [("extra", n) for n, e in REGISTRY.items() if e.trainable and e.serves("forecasting", "time_series")
                  and n not in planned and n in ctx.models]
    rows = []
    for kind, name in names:
        if kind == "baseline":
            make = lambda name=name: baseline(name, m)  # noqa: E731
        else:
            make = family._factory(ctx.models[name], plan.task, ctx.seed, info, info["exogenous"])
        start = time.perf_counter()
        bt = backtest(name, make, y[:cut], None if X is None else X[:cut], times[:cut], h, k, m)
        model = make().fit(y[:cut], None if X is None else X[:cut], times[:cut])
        holdout = model.forecast(h, None if X is None else X[cut:], times[cut:])
        seconds = time.perf_counter() - start
        overall = bt.overall(m, y[:cut])
        rows.append({"series": brief, "kind": kind, "model": name, "bt_mase": overall["mase"], "bt_mape": overall["mape"],
                     "ho_mase": fm.mase(y[cut:], holdout, y[:cut], m), "ho_mape": fm.mape(y[cut:], holdout), "seconds": seconds})
    return rows


def main(argv: list[str]) -> None:
    briefs = [a for a in argv if "=" not in a] or list(BRIEFS)
    extra = [a for a in argv if "=" in a]
    print(f"{'series':<15} {'kind':<9} {'model':<15} {'backtest MASE':>13} {'MAPE':>7} {'holdout MASE':>13} {'MAPE':>7} {'wall s':>7}")
    for brief in briefs:
        rows = bench(brief, extra)
        for r in rows:
            print(f"{r['series']:<15} {r['kind']:<9} {r['model']:<15} {r['bt_mase']:>13.3f} {r['bt_mape']:>7.2%} "
                  f"{r['ho_mase']:>13.3f} {r['ho_mape']:>7.2%} {r['seconds']:>7.2f}")
        best = min((r for r in rows if r["kind"] != "baseline"), key=lambda r: r["bt_mase"])
        print(f"{'':<15} chosen by backtest MASE: {best['model']}")


if __name__ == "__main__":
    main(sys.argv[1:])
