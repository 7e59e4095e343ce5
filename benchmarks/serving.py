"""Serving speed on the fraud increment (LightGBM): latency under load, and batch throughput.

* single-row ``/predict`` at 100 and 200 requests/s for 30 s each, open loop, against a real uvicorn server on
  127.0.0.1 (one worker; the client runs on the same machine): p50/p95/p99, achieved rate, errors;
* batch throughput in rows/s: ``/predict/batch`` through the server, and in-process (the server's scorer on
  validated rows; the packaged pipeline on a DataFrame), against the raw booster's own ``predict`` on an array.

Targets: p95 at most 5 ms at 200 requests/s with no errors; each achieved rate within 10% of the rate asked (the
open-loop client keeps its schedule); in-process batch at least 0.7x raw. The load
average is printed before and after: on two cores, other work running at the same time shows in the numbers.

    python benchmarks/serving.py                   # increments/0001-fraud-detection (built first if absent)
    python benchmarks/serving.py --duration 10     # shorter runs
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

INCREMENT = "0001-fraud-detection"
BATCH_ROWS = 1000


def load() -> str:
    return " ".join(f"{x:.2f}" for x in os.getloadavg())


def fraud_increment(scratch: Path) -> Path:
    """The fraud increment of this checkout, or one built in ``scratch`` (about a minute and a half)."""
    here = REPO / "increments" / INCREMENT
    if (here / "metadata.json").exists() and (here / "models" / "champion").exists():
        return here
    print(f"{here} is absent: building it with `python -m specweave_ml problem=fraud` in {scratch} ...", flush=True)
    env = {**os.environ, "SPECWEAVE_ROOT": str(scratch)}
    subprocess.run([sys.executable, "-m", "specweave_ml", "problem=fraud", "tracking=off", "progress=false"],
                   cwd=scratch, env=env, check=True)
    return scratch / "increments" / INCREMENT


def served_copy(source: Path, dest: Path, cfg) -> Path:
    """What the server needs, copied (the benchmark changes nothing in the checkout), profiled if it never was."""
    from specweave_ml.fileio import read_json
    from specweave_ml.packaging import load_model
    from specweave_ml.paths import IncrementPaths
    from specweave_ml.serving.reference import write_reference

    src, dst = IncrementPaths(source), IncrementPaths(dest)
    shutil.copytree(src.model, dst.model)
    shutil.copy(src.metadata, dst.metadata)
    meta = read_json(src.metadata)
    profile = read_json(src.reference_profile) if src.reference_profile.exists() else {}
    if profile.get("model", {}).get("sha256") == meta["model"]["sha256"]:
        dst.reference_profile.parent.mkdir(parents=True)
        shutil.copy(src.reference_profile, dst.reference_profile)
    else:
        print("profiling the champion for drift (the increment was packaged before drift monitoring existed) ...", flush=True)
        model = load_model(src.model, meta["model"]["sha256"])
        features = read_json(src.split)["features"]
        import pandas as pd

        write_reference(dst, model, pd.read_parquet(src.train, columns=features), meta["model"],
                        cfg.serving.drift.bins, cfg.explain.background_rows, cfg.seed)
    return dest


def rows_per_second(fn, rows: int, repeat: int = 5) -> float:
    best = float("inf")
    for _ in range(repeat):
        start = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - start)
    return rows / best


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--duration", type=float, default=30.0, help="seconds per load-test rate (default 30)")
    parser.add_argument("--rates", type=float, nargs="+", default=[100.0, 200.0])
    args = parser.parse_args()

    import httpx
    import pandas as pd
    from hydra import compose, initialize_config_dir

    from specweave_ml import schema
    from specweave_ml.paths import IncrementPaths
    from specweave_ml.serving import loadtest
    from specweave_ml.serving.bundle import load_bundle
    from specweave_ml.serving.server import free_port, running_server
    from specweave_ml.serving.settings import server_config

    schema.register()
    with initialize_config_dir(config_dir=str(REPO / "conf"), version_base="1.3"):
        cfg = compose(config_name="config", overrides=["problem=fraud"])
    print(f"cores {os.cpu_count()}, load average {load()} (1, 5, 15 min)", flush=True)

    with tempfile.TemporaryDirectory(prefix="specweave-bench-") as tmp:
        source = IncrementPaths(fraud_increment(Path(tmp)))
        paths = IncrementPaths(served_copy(source.root, Path(tmp) / "served" / INCREMENT, cfg))
        features = json.loads(source.split.read_text())["features"]
        test = pd.read_parquet(source.test, columns=features)
        bodies = [json.dumps(r).encode() for r in test.sample(1000, random_state=0).to_dict(orient="records")]
        bundle = load_bundle(paths.root)
        print(f"model: {bundle.model_name} ({bundle.sha256[:12]}), {len(features)} features; "
              f"booster shortcut {'on' if bundle.fast else 'off'}", flush=True)

        config = server_config(cfg.serving, paths, port=free_port())
        results = {}
        with running_server(config) as url:
            for rate in args.rates:
                r = loadtest.run(f"{url}/predict", bodies, rate, args.duration)
                results[rate] = r
                print(f"single row at {rate:g} req/s for {args.duration:g} s: p50 {r.p50_ms:.2f} ms, p95 {r.p95_ms:.2f} ms, "
                      f"p99 {r.p99_ms:.2f} ms, max {r.max_ms:.1f} ms; achieved {r.achieved_rate:.1f} req/s, "
                      f"errors {r.errors}/{r.sent}; client lag p95 {r.schedule_lag_p95_ms:.2f} ms; load {load()}", flush=True)
            batch = test.head(BATCH_ROWS).to_dict(orient="records")
            payload = json.dumps({"rows": batch}).encode()
            with httpx.Client(base_url=url, timeout=60, headers={"content-type": "application/json"}) as client:
                client.post("/predict/batch", content=payload)  # warm
                n, start = 30, time.perf_counter()
                for _ in range(n):
                    assert client.post("/predict/batch", content=payload).status_code == 200
                server_rps = n * BATCH_ROWS / (time.perf_counter() - start)

        X = test.to_numpy(dtype=float)
        rows = X.tolist()
        booster = bundle.model.pipeline_[-1].booster_
        raw = rows_per_second(lambda: booster.predict(X), len(X))
        scorer = rows_per_second(lambda: bundle.scores(rows), len(X))
        pipeline = rows_per_second(lambda: bundle.model.scores(test), len(X))

    print(f"batch throughput on {len(X):,} holdout rows (best of 5):")
    print(f"  raw booster.predict (array)          {raw:>12,.0f} rows/s")
    print(f"  in-process, serving scorer (rows)    {scorer:>12,.0f} rows/s  = {scorer / raw:.2f}x raw")
    print(f"  in-process, packaged pipeline (frame){pipeline:>12,.0f} rows/s  = {pipeline / raw:.2f}x raw")
    print(f"  through the server ({BATCH_ROWS}-row batches) {server_rps:>10,.0f} rows/s  = {server_rps / raw:.2f}x raw")
    for rate, r in results.items():
        close = abs(r.achieved_rate - rate) <= 0.1 * rate
        print(f"target achieved rate within 10% of {rate:g} req/s: {'met' if close else 'NOT met'} "
              f"({r.achieved_rate:.1f} req/s)")
    top = results.get(200.0)
    if top is not None:
        ok = top.p95_ms <= 5 and top.errors == 0
        print(f"target p95 <= 5 ms at 200 req/s with no errors: {'met' if ok else 'NOT met'} "
              f"(p95 {top.p95_ms:.2f} ms, {top.errors} errors)")
    print(f"target in-process batch >= 0.7x raw: {'met' if scorer / raw >= 0.7 else 'NOT met'} ({scorer / raw:.2f}x)")
    print(f"load average after: {load()}")


if __name__ == "__main__":
    main()
