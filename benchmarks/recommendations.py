"""Every recommendation candidate next to the baselines on MovieLens-100k, under both splits: full-catalogue
NDCG@10, precision@10, recall@10, MAP@10, MRR, hit rate@10, coverage@10, with each fit's wall time and the peak
memory Python allocated during it.

    python benchmarks/recommendations.py                      # leave-last-out and per-user random 75/25 (~2 min, 2 cores)
    python benchmarks/recommendations.py per_user_random      # one split
    python benchmarks/recommendations.py leave_last_out problem.ranking.positive_threshold=4   # extra Hydra overrides

Positives: every interaction by default (the protocol of the published ML-100k tables: BPR 0.442, NCF 0.396, SAR
0.382 NDCG@10 under per-user random 75/25); pass problem.ranking.positive_threshold=4 for the implicit brief's.
The numbers come from the framework's own code (``recommendations.interactions`` splits, the registry's
factories with conf/model/ defaults, ``recommendations.evaluate``), fitted once on the training part.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")

REPO = Path(__file__).resolve().parent.parent
SPLITS = ("leave_last_out", "per_user_random")
SHOWN = ("ndcg_at_10", "precision_at_10", "recall_at_10", "map_at_10", "mrr", "hit_rate_at_10", "coverage_at_10")


def compose(overrides):
    from hydra import compose as hydra_compose, initialize_config_dir

    from specweave_ml import schema

    schema.register()
    with initialize_config_dir(config_dir=str(REPO / "conf"), version_base="1.3"):
        return hydra_compose(config_name="config", overrides=list(overrides))


def bench(split: str, extra: list[str]) -> list[dict]:
    from specweave_ml.context import Context
    from specweave_ml.families import named
    from specweave_ml.models.registry import REGISTRY, build
    from specweave_ml.recommendations.evaluate import score, timed_fit

    ctx = Context.from_cfg(compose(["problem=movielens", "tracking=off", f"problem.ranking.split={split}",
                                    "problem.ranking.positive_threshold=null", *extra]))
    family, problem = named("recommendations"), ctx.problem
    frame = ctx.load_source()
    checked = family.check(frame, problem, ctx.selection.cv_folds)
    plan = ctx.plan(family.facts(frame, problem, ctx.selection.cv_folds))
    prepared = family.prepare(frame, checked, plan, problem, ctx.seed)
    s = family._settings(prepared.split_info)
    names = [*[("baseline", b) for b in plan.baselines], *[("candidate", c.name) for c in plan.candidates]]
    planned = {c.name for c in plan.candidates}
    names += [("extra", n) for n, e in REGISTRY.items() if e.trainable and e.serves("ranking", "interactions")
              and n not in planned and n in ctx.models]
    rows = []
    for kind, name in names:
        make = ((lambda name=name: family._baseline(name, ctx.seed)) if kind == "baseline"
                else (lambda name=name: build(ctx.models[name], "ranking", ctx.seed)))
        model, seconds, peak = timed_fit(make, prepared.train, s, "user", "item", name, memory=True)
        _, metrics = score(model, prepared.train, prepared.test, s)
        rows.append({"split": split, "kind": kind, "model": name, **{m: metrics.get(m) for m in SHOWN},
                     "fit_s": seconds, "peak_mib": peak, "users": int(metrics["users_evaluated"])})
    return rows


def main(argv: list[str]) -> None:
    splits = [a for a in argv if a in SPLITS] or list(SPLITS)
    extra = [a for a in argv if a not in SPLITS]
    header = f"{'split':16} {'kind':9} {'model':21} " + " ".join(f"{m.replace('_at_10', '@10'):>13}" for m in SHOWN) + \
             f" {'fit s':>7} {'peak MiB':>9}"
    print(header)
    for split in splits:
        for r in bench(split, extra):
            print(f"{r['split']:16} {r['kind']:9} {r['model']:21} " + " ".join(f"{r[m]:13.4f}" for m in SHOWN)
                  + f" {r['fit_s']:7.2f} {r['peak_mib']:9.1f}", flush=True)


if __name__ == "__main__":
    main(sys.argv[1:])
