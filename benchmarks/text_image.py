"""Every text and image candidate next to the baselines, per brief: holdout accuracy and macro-F1, the train
stage's wall time and peak memory, and the p95 latency of a real server answering it.

    python benchmarks/text_image.py                         # the four briefs (~15 min on 2 cores)
    python benchmarks/text_image.py digits rotten_tomatoes  # some of them
    python benchmarks/text_image.py digits --duration 10    # a shorter load test per model (default 20 s)

Each candidate is trained alone, as a user would with ``model=<name>``, through the command line in a scratch
root (``SPECWEAVE_ROOT``), one stage a process: fetch, prepare, train (the figures shown: wall time of 5-fold CV
+ refit, and the peak resident memory of that process, from ``os.wait4``), evaluate, package, then ``loadtest``
against a uvicorn server on 127.0.0.1 at the serving config's rate (100 requests/s). Accuracy and macro-F1 are
scikit-learn's on the saved holdout predictions (``reports/predictions.parquet``); the baselines are the plan's
dummies fitted on the same saved training part and scored on the same holdout. The text encoder's embeddings
are cached per scratch root, so each encoder model's train time includes encoding every text once (about a
minute for Rotten Tomatoes).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

REPO = Path(__file__).resolve().parent.parent
BRIEFS = {"rotten_tomatoes": "0010-rotten-tomatoes", "presidential_debates": "0011-presidential-debates",
          "mnist": "0012-mnist-5k", "digits": "0013-digits"}


def cli(root: Path, brief: str, *args: str) -> tuple[float, float]:
    """Run one command of the framework; its wall seconds and peak resident MiB. Fails loudly on a non-zero exit."""
    env = {**os.environ, "SPECWEAVE_ROOT": str(root), "HF_HUB_OFFLINE": "1"}
    command = [sys.executable, "-m", "specweave_ml", f"problem={brief}", "tracking=off", "progress=false", *args]
    start = time.perf_counter()
    with open(root / "log.txt", "a") as log:
        proc = subprocess.Popen(command, cwd=REPO, env=env, stdout=log, stderr=subprocess.STDOUT)
        _, status, usage = os.wait4(proc.pid, 0)
    seconds = time.perf_counter() - start
    if os.waitstatus_to_exitcode(status) != 0:
        raise SystemExit(f"failed: {' '.join(command[2:])} (log: {root / 'log.txt'})")
    return seconds, usage.ru_maxrss / 1024  # ru_maxrss is in KiB on Linux


def candidates(brief: str) -> list[str]:
    """The models the brief's rule plans, simple before complex (conf/selection/default.yaml)."""
    import yaml

    modality = yaml.safe_load((REPO / "conf" / "problem" / f"{brief}.yaml").read_text())["modality"]
    rules = yaml.safe_load((REPO / "conf" / "selection" / "default.yaml").read_text())["rules"]
    return next(r["models"] for r in rules if r.get("modality") == modality)


def scores(y_true, y_pred) -> dict:
    from sklearn.metrics import accuracy_score, f1_score

    return {"accuracy": accuracy_score(y_true, y_pred), "f1_macro": f1_score(y_true, y_pred, average="macro")}


def baselines(inc: Path, seed: int = 42) -> list[dict]:
    """The plan's dummy baselines, fitted on the saved training part and scored on the saved holdout."""
    import pandas as pd

    from specweave_ml.training.baselines import baseline_model

    info = json.loads((inc / "data" / "split.json").read_text())
    train, test = pd.read_parquet(inc / "data" / "train.parquet"), pd.read_parquet(inc / "data" / "test.parquet")
    features, target = info["features"], info["target"]
    cv = json.loads((inc / "reports" / "cv.json").read_text())
    rows = []
    for b in cv["baselines"]:
        model = baseline_model(b["name"], json.loads((inc / "metadata.json").read_text())["task"], seed).fit(train[features], train[target])
        rows.append({"model": b["name"], "kind": "baseline", **scores(test[target], model.predict(test[features]))})
    return rows


def bench(brief: str, duration: float) -> list[dict]:
    import pandas as pd

    rows = []
    with tempfile.TemporaryDirectory(prefix=f"bench-{brief}-") as tmp:
        for name in candidates(brief):
            root = Path(tmp) / name
            root.mkdir()
            inc = root / "increments" / BRIEFS[brief]
            cli(root, brief, f"model={name}", "stage=fetch")
            cli(root, brief, f"model={name}", "stage=prepare")
            fit_s, peak = cli(root, brief, f"model={name}", "stage=train")
            cli(root, brief, f"model={name}", "stage=evaluate")
            cli(root, brief, f"model={name}", "stage=package")
            cli(root, brief, f"model={name}", "stage=loadtest", f"serving.loadtest.duration_s={duration}")
            preds = pd.read_parquet(inc / "reports" / "predictions.parquet")
            load = json.loads((inc / "reports" / "loadtest.json").read_text())
            rows.append({"model": name, "kind": "candidate", **scores(preds["y_true"], preds["y_pred"]),
                         "fit_s": fit_s, "peak_mib": peak, "p95_ms": load.get("p95_ms"), "errors": load.get("errors")})
            if name == candidates(brief)[0]:
                rows[:0] = baselines(inc)
    return rows


def main(argv: list[str]) -> None:
    duration = float(argv[argv.index("--duration") + 1]) if "--duration" in argv else 20.0
    chosen = [a for a in argv if a in BRIEFS] or list(BRIEFS)
    print(f"{'brief':21} {'kind':9} {'model':14} {'accuracy':>9} {'macro-F1':>9} {'train s':>8} {'peak MiB':>9} {'p95 ms':>7}")
    for brief in chosen:
        for r in bench(brief, duration):
            extra = (f" {r['fit_s']:8.1f} {r['peak_mib']:9.0f} {r['p95_ms']:7.1f}" if r["kind"] == "candidate"
                     else f" {'-':>8} {'-':>9} {'-':>7}")
            print(f"{brief:21} {r['kind']:9} {r['model']:14} {r['accuracy']:9.4f} {r['f1_macro']:9.4f}" + extra, flush=True)


if __name__ == "__main__":
    main(sys.argv[1:])
