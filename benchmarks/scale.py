"""How the framework scales with rows: the fraud brief on 1M and 10M fraud-like rows, every stage of ``stage=all``
run as its own process as a user (or ``dvc repro``) runs it, with its wall time and the peak memory of its whole
process tree, in local mode and on a Dask LocalCluster.

    python benchmarks/scale.py                              # 1M and 10M rows, local and dask (long: see README)
    python benchmarks/scale.py --sizes 1000000 --modes local
    python benchmarks/scale.py --sizes 200000 --budget 2    # a smoke run
    python benchmarks/scale.py --sizes 10000000 --modes local --stages fetch prepare   # the data stages only

What runs, per size and mode, in a scratch root of its own (``SPECWEAVE_ROOT``; nothing lands in the repo):

    python -m specweave_ml stage=<stage> problem=fraud problem.data.source=<rows>.parquet tuning=none
        problem.constraints.budget_minutes=<B> progress=false [compute=dask compute.workers=<W>]

for each stage of ``stage=all`` in order (fetch, prepare, train, evaluate, explain, package, report). The data
comes from ``benchmarks/scale_data.py`` (drawn from the real data's per-class marginals through a Gaussian
copula; generated once and cached, generation not timed). ``tuning=none``: every candidate trains with its
default hyperparameters, so the numbers are the framework's own costs, not a search's; the budget still decides
how much cross-validation the candidates get (``training/budget.py``), as it would for a user.

Measured per stage: wall seconds; **peak GiB**, the largest sum of resident memory over the stage's process and
all its descendants (Dask workers are children of the run when it starts a LocalCluster), polled every 0.1 s
with psutil (pages shared between processes count once per process, so a tree's sum errs high); **max process
GiB**, the largest single process's peak resident memory as the kernel counts it (``wait4``; exact, even for a
spike shorter than the polling interval). The holdout PR-AUC is read from the increment's
``reports/summary.json`` (computed there by scikit-learn from the saved predictions). The table is printed and
written as JSON and CSV under ``benchmarks/.scale-results/`` (gitignored). A mode whose config group is missing
(``conf/compute/dask.yaml``) is printed as "not available"; a stage that fails ends its size and mode (its log
tail is printed) and the run goes on.

Stages are run one after another, never in parallel, and with ``--nice`` (default 10) so that the benchmark
yields to interactive work on a shared machine.
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Optional

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO / "benchmarks"))

RESULTS = REPO / "benchmarks" / ".scale-results"
STAGES = ("fetch", "prepare", "train", "evaluate", "explain", "package", "report")
MODES = ("local", "dask")
POLL_SECONDS = 0.1
GIB = 1024 ** 3


class TreeMemory(threading.Thread):
    """Polls the resident memory of a process and all its descendants; ``peak`` is the largest sum seen."""

    def __init__(self, pid: int):
        super().__init__(daemon=True)
        self.pid, self.peak, self.done = pid, 0, threading.Event()

    def run(self) -> None:
        import psutil

        try:
            root = psutil.Process(self.pid)
        except psutil.NoSuchProcess:
            return
        while not self.done.is_set():
            total = 0
            try:
                procs = [root, *root.children(recursive=True)]
            except psutil.NoSuchProcess:
                break
            for proc in procs:
                try:
                    total += proc.memory_info().rss
                except (psutil.NoSuchProcess, psutil.AccessDenied):
                    pass
            self.peak = max(self.peak, total)
            self.done.wait(POLL_SECONDS)


def run_stage(cmd: list[str], env: dict, cwd: Path, log: Path) -> dict:
    """One stage in its own process: exit code, wall seconds, polled tree peak and the largest process's peak."""
    start = time.perf_counter()
    with open(log, "w") as out:
        proc = subprocess.Popen(cmd, env=env, cwd=cwd, stdout=out, stderr=subprocess.STDOUT, start_new_session=True)
        watcher = TreeMemory(proc.pid)
        watcher.start()
        try:
            _, status, usage = os.wait4(proc.pid, 0)
        except BaseException:  # Ctrl-C: end the stage and its workers, not just wait for them
            os.killpg(proc.pid, 9)
            raise
        finally:
            watcher.done.set()
            watcher.join()
    proc.returncode = os.waitstatus_to_exitcode(status)
    return {"rc": proc.returncode, "seconds": time.perf_counter() - start, "peak_gib": watcher.peak / GIB,
            "max_process_gib": usage.ru_maxrss * 1024 / GIB}


def mode_available(code: Path, mode: str) -> bool:
    return mode == "local" or (code / "conf" / "compute" / f"{mode}.yaml").exists()


def command(stage: str, source: Path, budget: float, mode: str, workers: int, threads: int = 1) -> list[str]:
    """The stage as a user runs it; ``threads`` > 1 gives the local boosters that many threads (the framework's
    default is one: see conf/model/lightgbm.yaml), the fair comparison with ``workers`` one-thread Dask workers."""
    cmd = [sys.executable, "-m", "specweave_ml", f"stage={stage}", "problem=fraud", f"problem.data.source={source}",
           "tuning=none", f"problem.constraints.budget_minutes={budget:g}", "progress=false"]
    if mode != "local":
        return cmd + [f"compute={mode}", f"compute.workers={workers}"]
    return cmd + ([f"models.{m}.params.n_jobs={threads}" for m in ("lightgbm", "xgboost")] if threads > 1 else [])


def holdout_score(root: Path) -> Optional[float]:
    found = sorted(root.glob("increments/*/reports/summary.json"))
    if not found:
        return None
    summary = json.loads(found[0].read_text())
    return summary.get("holdout_pr_auc")


def generated(rows: int, seed: int) -> Path:
    """The cached data file, generated in a child process: Linux carries a process's peak resident memory over
    fork and exec, so if this process had held the real data set, every stage would report its peak as its own."""
    from scale_data import path_for

    path = path_for(rows, seed)
    if not path.exists():
        subprocess.run([sys.executable, str(REPO / "benchmarks" / "scale_data.py"), str(rows), "--seed", str(seed)], check=True)
    return path


def bench(rows: int, mode: str, args, code: Path) -> list[dict]:
    """Every stage for one size and mode; rows of the table (a failed stage ends the sequence)."""
    label = (f"local {args.local_threads}t" if args.local_threads > 1 else "local") if mode == "local" else f"{mode} x{args.workers}"
    base = {"rows": rows, "mode": label}
    if not mode_available(code, mode):
        print(f"{rows:>11,}  {base['mode']:<9} not available (no conf/compute/{mode}.yaml in {code})", flush=True)
        return [base | {"stage": "-", "status": "not available"}]
    source = generated(rows, args.seed)
    env = {**os.environ, "OMP_WAIT_POLICY": "PASSIVE", "PYTHONPATH": os.pathsep.join([str(code), os.environ.get("PYTHONPATH", "")])}
    keep = RESULTS / f"run-{rows}-{label.replace(' ', '-')}"
    root = Path(tempfile.mkdtemp(prefix=f"scale-{rows}-{mode}-", dir=args.scratch))
    env["SPECWEAVE_ROOT"] = str(root)
    out, failed = [], False
    for stage in args.stages:
        log = root / f"{stage}.log"
        nice = ["nice", "-n", str(args.nice)] if args.nice else []
        measured = run_stage(nice + command(stage, source, args.budget, mode, args.workers, args.local_threads), env, root, log)
        row = base | {"stage": stage, "status": "ok" if measured["rc"] == 0 else f"failed ({measured['rc']})",
                      **{k: measured[k] for k in ("seconds", "peak_gib", "max_process_gib")}}
        if stage == "evaluate" and measured["rc"] == 0:
            row["holdout_pr_auc"] = holdout_score(root)
        out.append(row)
        print_row(row)
        if measured["rc"] != 0:
            print("\n".join("      | " + line for line in log.read_text(errors="replace").splitlines()[-25:]), flush=True)
            failed = True
            break
    total = {"stage": "total", "status": "failed" if failed else "ok",
             "seconds": sum(r["seconds"] for r in out), "peak_gib": max(r["peak_gib"] for r in out),
             "max_process_gib": max(r["max_process_gib"] for r in out),
             "holdout_pr_auc": next((r["holdout_pr_auc"] for r in out if "holdout_pr_auc" in r), None)}
    out.append(base | total)
    print_row(out[-1])
    # the logs (and the small reports) are kept; the data copies in the increment are not
    shutil.rmtree(keep, ignore_errors=True)
    keep.mkdir(parents=True)
    for log in root.glob("*.log"):
        shutil.copy(log, keep / log.name)
    for report in root.glob("increments/*/reports/*.json"):
        shutil.copy(report, keep / report.name)
    for doc in root.glob("increments/*/plan.md"):
        shutil.copy(doc, keep / doc.name)
    if args.keep or (failed and args.keep_failed):
        print(f"      scratch root kept: {root}", flush=True)
    else:
        shutil.rmtree(root, ignore_errors=True)
    return out


HEADER = f"{'rows':>11}  {'mode':<9} {'stage':<9} {'seconds':>8} {'peak GiB':>9} {'max proc':>9} {'PR-AUC':>7}  status"


def print_row(row: dict) -> None:
    score = row.get("holdout_pr_auc")
    print(f"{row['rows']:>11,}  {row['mode']:<9} {row['stage']:<9} {row['seconds']:>8.1f} {row['peak_gib']:>9.2f} "
          f"{row['max_process_gib']:>9.2f} {'' if score is None else f'{score:.4f}':>7}  {row['status']}", flush=True)


def write(rows: list[dict], stamp: str) -> Path:
    RESULTS.mkdir(parents=True, exist_ok=True)
    path = RESULTS / f"scale-{stamp}.json"
    path.write_text(json.dumps(rows, indent=1))
    fields = ["rows", "mode", "stage", "status", "seconds", "peak_gib", "max_process_gib", "holdout_pr_auc"]
    with open(path.with_suffix(".csv"), "w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=fields, extrasaction="ignore")
        writer.writeheader()
        writer.writerows(rows)
    return path


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[1_000_000, 10_000_000], help="rows (default: 1M 10M)")
    parser.add_argument("--modes", nargs="+", choices=MODES, default=list(MODES))
    parser.add_argument("--stages", nargs="+", choices=STAGES, default=list(STAGES),
                        help="the first stages only (each needs the ones before it), e.g. fetch prepare")
    parser.add_argument("--workers", type=int, default=2, help="Dask LocalCluster workers (compute.workers)")
    parser.add_argument("--local-threads", type=int, default=1,
                        help="threads of LightGBM and XGBoost in local mode (default 1, the framework's own default)")
    parser.add_argument("--budget", type=float, default=5.0, help="problem.constraints.budget_minutes (default 5)")
    parser.add_argument("--seed", type=int, default=42, help="seed of the generated data")
    parser.add_argument("--nice", type=int, default=10, help="niceness of the stages (0: none)")
    parser.add_argument("--code", type=Path, default=REPO, help="the checkout whose framework runs (default: this one)")
    parser.add_argument("--scratch", default=None, help="where scratch roots go (default: the system temp folder)")
    parser.add_argument("--keep-failed", action="store_true", help="keep the scratch root of a failed run")
    parser.add_argument("--keep", action="store_true", help="keep every scratch root (to rerun or profile a stage)")
    args = parser.parse_args()
    code = args.code.resolve()
    print(f"framework: {code}; tuning=none, budget_minutes={args.budget:g}, each stage its own process (nice {args.nice})")
    print(HEADER, flush=True)
    rows: list[dict] = []
    stamp = time.strftime("%Y%m%d-%H%M%S")
    for size in args.sizes:
        for mode in args.modes:
            rows += bench(size, mode, args, code)
            write(rows, stamp)  # after every size and mode: a long run that is stopped keeps what it measured
    print(f"written: {write(rows, stamp)} (and .csv)")


if __name__ == "__main__":
    main()
