"""The open-loop load test against a real server, and stage=loadtest feeding the readiness checklist."""

import json

import pytest

from specweave_ml.fileio import read_json
from specweave_ml.serving import loadtest


@pytest.mark.slow
def test_a_short_open_loop_run_keeps_its_rate_without_errors(server, holdout):
    bodies = [json.dumps(r).encode() for r in holdout.to_dict(orient="records")]
    result = loadtest.run(f"{server}/predict", bodies, rate=50, duration_s=2)
    assert result.sent == 100 and result.ok == 100 and result.error_rate == 0
    assert result.status_counts == {"200": 100}
    assert result.achieved_rate > 0  # how close it comes to 50/s depends on the machine: benchmarks/serving.py
    assert 0 < result.p50_ms <= result.p95_ms <= result.p99_ms <= result.max_ms


@pytest.mark.slow
def test_errors_count_against_the_run(server):
    result = loadtest.run(f"{server}/predict", [b'{"mean radius": "oops"}'], rate=20, duration_s=0.5)
    assert result.error_rate == 1 and result.status_counts == {"422": 10}


@pytest.mark.slow
def test_stage_loadtest_writes_the_numbers_the_checklist_reads(built, tmp_path, stage):
    project = built.copy(tmp_path / "root")  # the stages write: never into the shared increment
    out = stage(project.root, "loadtest", "serving.loadtest.rate=50", "serving.loadtest.duration_s=2")
    written = read_json(project.paths.loadtest)
    assert written == out.to_dict()
    assert out.p95_ms == written["p95_ms"] and out.passed == written["passed"]
    for key in ("p50_ms", "p95_ms", "p99_ms", "achieved_rate", "error_rate", "target_rate", "budget_p95_ms"):
        assert key in written
    assert written["sent"] == 100 and written["error_rate"] == 0
    assert written["budget_p95_ms"] == 50  # the brief's latency_p95_ms
    task = project.meta["tasks"]["T-010"]
    assert task["status"] == ("done" if written["passed"] else "failed") and "p95" in task["note"]

    items = {i["item"]: i for i in stage(project.root, "report").items}
    load = items["Load testing completed (latency < target)"]
    assert load["status"] == ("PASS" if written["passed"] else "FAIL")
    assert load["evidence"] == "reports/loadtest.json"
