"""Framework overhead on the fraud data: `python -m specweave_ml problem=fraud` (tuning off) against a
plain script doing the same fits (same time-ordered split, same expanding-window folds, same models and
hyperparameters, same train/validation scoring, final refit on the training part and refit on every row to ship).

Prints both wall times, their ratio (target <= 1.25) and each run's peak memory (target <= 3 GB).

    python benchmarks/overhead.py            # full data (about 3 minutes on 2 cores)
    python benchmarks/overhead.py --rows 50000
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent

PLAIN = r'''
import os, sys, time
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
import numpy as np, pandas as pd
from sklearn.dummy import DummyClassifier
from sklearn.metrics import average_precision_score
from sklearn.model_selection import TimeSeriesSplit
import lightgbm as lgb, xgboost as xgb
from specweave_ml.data.sources import _fraud_csv

rows = int(sys.argv[1]) if len(sys.argv) > 1 else None
df = pd.read_csv(_fraud_csv(), engine="pyarrow")
if rows: df = df.head(rows)
df = df.sort_values("Time", kind="stable").reset_index(drop=True)
cut = int(round(len(df) * 0.75))
features = [c for c in df.columns if c not in ("Time", "Class")]
train, test = df.iloc[:cut], df.iloc[cut:]
X, y = train[features], train["Class"].to_numpy()
w = np.where(y == 1, np.sqrt((y == 0).sum() / (y == 1).sum()), 1.0)
models = {
    "xgboost": lambda: xgb.XGBClassifier(n_estimators=400, max_depth=6, learning_rate=0.05, subsample=0.8,
                                         colsample_bytree=0.8, min_child_weight=1, tree_method="hist", n_jobs=1, random_state=42),
    "lightgbm": lambda: lgb.LGBMClassifier(n_estimators=400, learning_rate=0.05, num_leaves=31, min_child_samples=20,
                                           subsample=0.8, subsample_freq=1, colsample_bytree=0.8, n_jobs=1, verbose=-1, random_state=42),
}
for s in ("most_frequent", "stratified", "uniform"):
    models[s] = lambda s=s: DummyClassifier(strategy=s, random_state=42)
cv = {}
for name, make in models.items():
    scores = []
    for tr, va in TimeSeriesSplit(n_splits=5).split(X):
        m = make()
        m.fit(X.iloc[tr], y[tr], **({} if name in ("most_frequent", "stratified", "uniform") else {"sample_weight": w[tr]}))
        scores.append(average_precision_score(y[va], m.predict_proba(X.iloc[va])[:, 1]))
        average_precision_score(y[tr], m.predict_proba(X.iloc[tr])[:, 1])
    cv[name] = np.mean(scores)
best = max(("xgboost", "lightgbm"), key=cv.get)
m = models[best]().fit(X, y, sample_weight=w)
print(f"plain: {best} CV {cv[best]:.4f} holdout {average_precision_score(test['Class'], m.predict_proba(test[features])[:, 1]):.4f}")
# the model that ships: the same configuration refitted on every row (the framework's selection.refit_on_all)
y_all = df["Class"].to_numpy()
models[best]().fit(df[features], y_all, sample_weight=np.where(y_all == 1, np.sqrt((y_all == 0).sum() / (y_all == 1).sum()), 1.0))
'''


def timed(cmd: list[str], env: dict, cwd: Path) -> tuple[float, float, str]:
    """Wall seconds, peak RSS in GB (of that child alone, via wait4) and its output."""
    start = time.perf_counter()
    proc = subprocess.Popen(cmd, env=env, cwd=cwd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    out = proc.stdout.read()
    _, status, usage = os.wait4(proc.pid, 0)
    proc.returncode = os.waitstatus_to_exitcode(status)
    wall = time.perf_counter() - start
    if proc.returncode != 0:
        sys.exit(f"{' '.join(cmd)} failed ({proc.returncode}):\n{out}")
    return wall, usage.ru_maxrss / 1024 / 1024, out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=None, help="use only the first N rows (default: all 284,807)")
    args = parser.parse_args()
    env = {**os.environ, "OMP_WAIT_POLICY": "PASSIVE"}
    with tempfile.TemporaryDirectory() as tmp:
        env["SPECWEAVE_ROOT"] = tmp
        cmd = [sys.executable, "-m", "specweave_ml", "problem=fraud", "tuning=none", "progress=false"]
        if args.rows:
            cmd.append(f"problem.data.sample_rows={args.rows}")
        fw_wall, fw_mem, fw_out = timed(cmd, env, Path(tmp))
        script = Path(tmp) / "plain.py"
        script.write_text(PLAIN)
        pl_wall, pl_mem, pl_out = timed([sys.executable, str(script)] + ([str(args.rows)] if args.rows else []), env, Path(tmp))
    summary = [line for line in fw_out.splitlines() if "evaluated" in line]
    print(f"rows: {args.rows or 'all (284,807)'}")
    print(f"framework (prepare+train+evaluate+package, MLflow on): {fw_wall:7.1f} s  peak {fw_mem:.2f} GB  {summary[-1] if summary else ''}")
    print(f"plain script (same fits):                               {pl_wall:7.1f} s  peak {pl_mem:.2f} GB  {pl_out.strip().splitlines()[-1]}")
    print(f"ratio framework / plain: {fw_wall / pl_wall:.2f} (target <= 1.25); peak memory target <= 3 GB")


if __name__ == "__main__":
    main()
