"""``tracking=server``: an increment reports to a real ``mlflow server`` (SQLite backend, its own artifact root).

The server runs in its own process group on 127.0.0.1 (``mlflow server`` leaves workers behind after SIGTERM
otherwise) and is stopped at the end. What the run left is read back through the server's REST API, the one
its web UI calls, and the model through the registry, as a teammate on another machine would.
"""

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import httpx
import numpy as np
import pandas as pd
import pytest

from specweave_ml.packaging import load_model
from specweave_ml.serving.server import free_port

EXPERIMENT = "specweave-ml"


@pytest.fixture(scope="module")
def mlflow_server(tmp_path_factory):
    home = tmp_path_factory.mktemp("mlflow-server")
    port = free_port()
    uri = f"http://127.0.0.1:{port}"
    log = open(home / "server.log", "w")
    server = subprocess.Popen(
        [str(Path(sys.executable).parent / "mlflow"), "server", "--backend-store-uri", f"sqlite:///{home}/mlflow.db",
         "--artifacts-destination", str(home / "artifacts"), "--host", "127.0.0.1", "--port", str(port), "--workers", "1"],
        cwd=home, stdout=log, stderr=subprocess.STDOUT, start_new_session=True,
    )
    try:
        deadline = time.monotonic() + 90
        while True:
            try:
                if httpx.get(f"{uri}/health", timeout=2).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            if server.poll() is not None or time.monotonic() > deadline:
                pytest.fail(f"mlflow server did not start: {(home / 'server.log').read_text()[-2000:]}")
            time.sleep(0.5)
        yield uri, home
    finally:
        for sig, wait in ((signal.SIGTERM, 10), (signal.SIGKILL, 10)):
            try:
                os.killpg(server.pid, sig)
                server.wait(timeout=wait)
                break
            except ProcessLookupError:
                break
            except subprocess.TimeoutExpired:
                continue
        log.close()


@pytest.fixture(scope="module")
def served(mlflow_server, run_brief, tmp_path_factory):
    uri, home = mlflow_server
    run = run_brief(tmp_path_factory.mktemp("project"), "breast_cancer", "tracking=server", f"tracking.uri={uri}")
    return run, uri, home


def api(uri: str, method: str, path: str, **kwargs) -> dict:
    """One call to the server's REST API (``/api/2.0/mlflow/...``), as the UI makes it."""
    answer = httpx.request(method, f"{uri}/api/2.0/mlflow/{path}", timeout=30, **kwargs)
    assert answer.status_code == 200, answer.text
    return answer.json()


def read(path: Path) -> dict:
    return json.loads(path.read_text())


@pytest.mark.slow
def test_the_runs_and_their_metrics_are_on_the_server(served):
    run, uri, home = served
    experiment = api(uri, "GET", "experiments/get-by-name", params={"experiment_name": EXPERIMENT})["experiment"]
    runs = api(uri, "POST", "runs/search", json={"experiment_ids": [experiment["experiment_id"]], "max_results": 1000})["runs"]
    tags = [{t["key"]: t["value"] for t in r["data"].get("tags", [])} for r in runs]
    parents = [r for r, t in zip(runs, tags) if "mlflow.parentRunId" not in t]
    children = [t for t in tags if "mlflow.parentRunId" in t]
    assert len(parents) == 1
    parent = parents[0]
    assert parent["info"]["run_name"] == run.increment
    assert parent["info"]["status"] == "FINISHED"
    cv = read(run.inc / "reports/cv.json")
    expected = {b["name"] for b in cv["baselines"]} | {c["name"] for c in cv["candidates"]}
    assert {t["mlflow.runName"] for t in children} == expected
    assert {t["mlflow.parentRunId"] for t in children} == {parent["info"]["run_id"]}
    metrics = {m["key"]: m["value"] for m in parent["data"]["metrics"]}
    for name, value in read(run.inc / "reports/metrics.json")["holdout"].items():
        assert metrics[f"holdout_{name}"] == pytest.approx(value), name
    assert read(run.inc / "reports/training.json")["tracking"]["parent_run_id"] == parent["info"]["run_id"]
    # the run's files went through the server to its artifact root, not into the project
    listed = api(uri, "GET", "artifacts/list", params={"run_id": parent["info"]["run_id"], "path": "reports"})
    assert "reports/metrics.json" in {f["path"] for f in listed["files"]}
    assert any((home / "artifacts").rglob("metrics.json"))
    assert not (run.root / "mlartifacts").exists() and not (run.root / "mlflow.db").exists()


@pytest.mark.slow
def test_the_registered_model_is_on_the_server_and_predicts_like_the_packaged_one(served):
    run, uri, _ = served
    registered = api(uri, "GET", "registered-models/get", params={"name": run.increment})["registered_model"]
    assert registered["name"] == run.increment
    champion = api(uri, "GET", "registered-models/alias", params={"name": run.increment, "alias": "champion"})["model_version"]
    assert champion["version"] == "1"
    assert {t["key"]: t["value"] for t in champion.get("tags", [])}["ready"] == "true"

    import mlflow.sklearn

    model = mlflow.sklearn.load_model(f"models:/{run.increment}@champion") if _registry(uri) else None
    meta = read(run.inc / "metadata.json")
    packaged = load_model(run.inc / "models/champion", meta["model"]["sha256"])
    features = read(run.inc / "data/split.json")["features"]
    test = pd.read_parquet(run.inc / "data/test.parquet")[features]
    np.testing.assert_allclose(model.scores(test), packaged.scores(test), rtol=1e-12)


def _registry(uri: str) -> bool:
    """Point this process's MLflow at the server (other tests of the session move the process-wide URIs)."""
    import mlflow

    mlflow.set_tracking_uri(uri)
    mlflow.set_registry_uri(uri)
    return True


@pytest.mark.slow
def test_the_report_finds_the_tracked_run_on_the_server(served):
    run, uri, _ = served
    readiness = read(run.inc / "reports/readiness.json")
    item = next(i for i in readiness["items"] if i["key"] == "experiments_tracked")
    assert item["status"] == "PASS", item
    assert uri in item["detail"]


def test_a_server_that_does_not_answer_stops_the_run_before_it_writes_anything(cli, tmp_path, files_under):
    closed = f"http://127.0.0.1:{free_port()}"
    done = cli("problem=breast_cancer", "tracking=server", f"tracking.uri={closed}")
    assert done.returncode == 2
    assert "tracking.uri" in done.stderr and closed in done.stderr and "mlflow server" in done.stderr
    assert "Traceback" not in done.stderr
    assert not files_under(tmp_path)


@pytest.mark.parametrize("tracking", [
    {"enabled": True, "uri": "sqlite:///nowhere/mlflow.db"},  # a file store: nothing to ask
    {"enabled": False, "uri": "http://127.0.0.1:9"},  # tracking=off: the URI is never used
])
def test_the_server_check_stays_silent_without_a_server_to_ask(tracking):
    from omegaconf import OmegaConf

    from specweave_ml.tracking import require_server

    require_server(OmegaConf.create({**tracking, "experiment": EXPERIMENT}))  # raises nothing, asks nothing


def test_something_else_answering_at_the_address_is_named(tmp_path):
    """A port that answers, but not as MLflow does (here: a plain HTTP server with no /health)."""
    import http.server
    import threading

    from omegaconf import OmegaConf

    from specweave_ml.errors import ConfigError
    from specweave_ml.tracking import require_server

    class Quiet(http.server.SimpleHTTPRequestHandler):
        def log_message(self, *args):
            pass

    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), lambda *a: Quiet(*a, directory=str(tmp_path)))
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    try:
        uri = f"http://127.0.0.1:{httpd.server_address[1]}"
        with pytest.raises(ConfigError, match="tracking.uri.*HTTP 404"):
            require_server(OmegaConf.create({"enabled": True, "uri": uri, "experiment": EXPERIMENT}))
    finally:
        httpd.shutdown()
