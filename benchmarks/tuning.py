"""Tuning strategies compared at the same number of trials, and the fraud brief after a 2-minute budget.

1. On shipped briefs (breast_cancer: random forest, ROC-AUC; diabetes: random forest, RMSE), phased
   tuning (coarse grid -> fine grid -> Optuna TPE) versus plain Optuna TPE versus random search, the same
   number of trials each, over several seeds: median CV score and median wall time per strategy.
2. The fraud brief with `tuning=phased` and a 2-minute budget: holdout PR-AUC of the chosen model
   (target >= 0.80 on the time-ordered 75/25 split; untuned LightGBM is often quoted near 0.23).

    python benchmarks/tuning.py               # both parts (about 10 minutes on 2 cores)
    python benchmarks/tuning.py --skip-fraud
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

REPO = Path(__file__).resolve().parent.parent


def compose(overrides: list[str], root: str):
    from hydra import compose as hydra_compose
    from hydra import initialize_config_dir

    from specweave_ml.schema import register

    register()
    with initialize_config_dir(config_dir=str(REPO / "conf"), version_base="1.3"):
        return hydra_compose("config", overrides=[*overrides, f"paths.root={root}", "tracking=off", "progress=false"])


def strategy_scores(brief: str, model: str, trials: int, seeds: list[int]) -> dict[str, list[tuple[float, float]]]:
    import numpy as np
    import pandas as pd

    from specweave_ml.context import Context
    from specweave_ml.data.split import FOLD
    from specweave_ml.fileio import read_json
    from specweave_ml.gates import gap
    from specweave_ml.models.decision import DecisionModel
    from specweave_ml.stages import run_stage
    from specweave_ml.steps.common import planned
    from specweave_ml.training.cv import cross_validate
    from specweave_ml.training.pipelines import build_pipeline
    from specweave_ml.training.tuning import TuningSettings, tune

    out: dict[str, list[tuple[float, float]]] = {"phased": [], "tpe": [], "random": []}
    with tempfile.TemporaryDirectory() as root:
        cfg = compose([f"problem={brief}", "stage=prepare"], root)
        run_stage(cfg)
        ctx = Context.from_cfg(cfg)
        plan = planned(ctx)
        info = read_json(ctx.paths.split)
        frame = pd.read_parquet(ctx.paths.train)
        X, features, target = frame[info["features"]], info["features"], info["target"]
        task = plan.task
        y = frame[target].to_numpy()
        if task != "regression":
            y = np.searchsorted(np.unique(y), y)
        spec = ctx.models[model]
        metric = plan.primary_metric

        def evaluate(params, report):
            r = cross_validate(model, "trial", lambda: DecisionModel(build_pipeline(spec, task, X, features, 0, params), task=task),
                               X, y, frame[FOLD].to_numpy(), plan.split.cv_strategy, task, metric, on_score=report)
            return r.mean, r.std, gap(metric, r.train_mean, r.mean)

        accepted = set(DecisionModel(build_pipeline(spec, task, X, features, 0)).pipeline.named_steps["model"].get_params())
        third = max(1, trials // 3)
        setups = {
            "phased": (["coarse", "fine", "optuna"], {"coarse": third, "fine": third, "optuna": trials - 2 * third}, "tpe"),
            "tpe": (["optuna"], {"optuna": trials}, "tpe"),
            "random": (["optuna"], {"optuna": trials}, "random"),
        }
        for seed in seeds:
            for name, (phases, caps, sampler) in setups.items():
                start = time.perf_counter()
                settings = TuningSettings(phases=phases, budget_seconds=3600, budget_shares={p: 1.0 for p in phases},
                                          max_trials=caps, early_stopping_rounds=50, train_score_rows=20000,
                                          storage_url=f"sqlite:///{root}/bench-{name}-{seed}.db", study_prefix=f"{name}{seed}",
                                          pruner="none", sampler=sampler)
                result = tune(settings, name=model, search=dict(spec.search), accepted_params=accepted, evaluate=evaluate,
                              metric=metric, deadline=time.perf_counter() + 3600, gap_limit=plan.gates.train_val_gap, seed=seed)
                out[name].append((result.best_value, time.perf_counter() - start))
        return out, metric


def fraud_after_budget(minutes: float) -> dict:
    with tempfile.TemporaryDirectory() as root:
        env = {**os.environ, "SPECWEAVE_ROOT": root}
        start = time.perf_counter()
        done = subprocess.run([sys.executable, "-m", "specweave_ml", "problem=fraud", "tuning=phased", "tracking=off",
                               "progress=false", f"problem.constraints.budget_minutes={minutes}"], env=env, cwd=root,
                              capture_output=True, text=True)
        wall = time.perf_counter() - start
        if done.returncode != 0:
            sys.exit(done.stderr[-3000:])
        inc = Path(root) / "increments" / "0001-fraud-detection" / "reports"
        metrics = json.loads((inc / "metrics.json").read_text())
        training = json.loads((inc / "training.json").read_text())
        return {"holdout_pr_auc": metrics["holdout"]["pr_auc"], "chosen": metrics["chosen"], "cv": metrics["cv_mean"],
                "wall_seconds": wall, "tuning": {m: (r["untuned_cv"], r.get("tuned_cv"), r["kept"]) for m, r in training["tuning"].items()}}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--trials", type=int, default=15)
    parser.add_argument("--seeds", type=int, default=3)
    parser.add_argument("--skip-fraud", action="store_true")
    parser.add_argument("--fraud-minutes", type=float, default=2.0)
    args = parser.parse_args()
    seeds = list(range(args.seeds))
    for brief, model in (("breast_cancer", "random_forest"), ("diabetes", "random_forest")):
        scores, metric = strategy_scores(brief, model, args.trials, seeds)
        print(f"\n{brief} / {model}: {args.trials} trials, seeds {seeds}, CV {metric}")
        for name, runs in scores.items():
            values = [v for v, _ in runs]
            print(f"  {name:7s} median {statistics.median(values):.4f} (min {min(values):.4f}, max {max(values):.4f})  "
                  f"median wall {statistics.median(t for _, t in runs):6.1f} s")
    if not args.skip_fraud:
        r = fraud_after_budget(args.fraud_minutes)
        print(f"\nfraud, tuning=phased, budget {args.fraud_minutes:g} min: holdout PR-AUC {r['holdout_pr_auc']:.4f} "
              f"(target >= 0.80) with {r['chosen']} (CV {r['cv']:.4f}); whole run {r['wall_seconds']:.0f} s")
        for m, (untuned, tuned, kept) in r["tuning"].items():
            print(f"  {m}: untuned CV {untuned:.4f}, tuned CV {tuned if tuned is None else round(tuned, 4)}, kept {kept}")


if __name__ == "__main__":
    main()
