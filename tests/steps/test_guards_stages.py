"""Issue 19 through the stages: a planted leak that only the reviewer's guards see blocks readiness, the report
shows each guard's section with its evidence, readiness links to it, and the baseline gate cites the paired
bootstrap."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest


@pytest.mark.slow
def test_a_column_filled_after_the_outcome_blocks_readiness_and_the_report_links_to_its_evidence(tmp_path, stages_at):
    rng = np.random.default_rng(0)
    n = 1_500
    frame = pd.DataFrame(rng.normal(size=(n, 4)), columns=["a", "b", "c", "d"])
    frame["label"] = (frame["a"] + rng.normal(scale=1.5, size=n) > 0.8).astype(int)
    filed = (frame["label"] == 1) | (rng.random(n) < 0.003)  # filed once the outcome is known
    frame["claim_amount"] = np.where(filed, rng.gamma(2.0, 40.0, n), np.nan)
    path = tmp_path / "claims.csv"
    frame.to_csv(path, index=False)
    overrides = ["problem=breast_cancer", "problem.increment=0043-claims", f"problem.data.source={path}",
                 "problem.data.target=label", "problem.metrics.others=[]", "model=linear", "tracking=off"]
    inc = stages_at(tmp_path, overrides, "prepare", "train", "evaluate", "report")

    findings = json.loads((inc / "reports" / "antipatterns.json").read_text())["findings"]
    severe = [f for f in findings if f["severity"] == "severe"]
    assert [(f["kind"], f["evidence"]["feature"], f["confidence"]) for f in severe] == \
        [("missingness_leak", "claim_amount", "high")]
    assert {"near_duplicates", "encoding_leak", "train_holdout_shift"} <= {f["kind"] for f in findings}
    assert all(f["confidence"] in ("high", "medium", "low") for f in findings)

    metrics = json.loads((inc / "reports" / "metrics.json").read_text())
    assert metrics["ready"] is False and any(r.startswith("missingness_leak:") for r in metrics["reasons"])
    paired = metrics["intervals"]["difference"]
    assert paired["metric"] == metrics["primary_metric"] and paired["low"] <= paired["difference"] <= paired["high"]
    gate = next(g for g in metrics["gates"] if g["name"] == "baseline_margin")
    assert "paired bootstrap" in gate["detail"] and gate["evidence"]["paired_bootstrap"]["verdict"] == paired["verdict"]

    guards = {g["key"]: g for g in json.loads((inc / "reports" / "readiness.json").read_text())["guards"]}
    assert guards["leaks"]["status"] == "FAIL" and guards["leaks"]["section"].endswith("#guard-leaks")
    assert guards["uncertainty"]["status"] in ("PASS", "WARN")

    html = (inc / "reports" / "report.html").read_text()
    for key in ("duplicates", "leaks", "shift", "uncertainty"):
        assert f'id="guard-{key}"' in html
    first_screen = html.split("<h2>", 1)[0]
    assert 'href="#guard-leaks"' in first_screen  # the NOT READY reason links to its evidence


@pytest.mark.slow
def test_the_ab_plan_compares_the_champion_with_the_previous_one_on_the_same_holdout_rows(tmp_path, stages_at):
    base = ["problem=breast_cancer", "problem.increment=0044-ab", "tracking=off"]
    stages_at(tmp_path, [*base, "model=decision_tree"], "prepare", "train", "evaluate")
    inc = stages_at(tmp_path, [*base, "model=linear"], "train", "evaluate", "abplan")
    plan = json.loads((inc / "reports" / "abplan.json").read_text())
    offline = plan["offline_comparison"]
    assert offline["compared"] and (offline["a_name"], offline["b_name"]) == ("champion", "previous")
    metrics = json.loads((inc / "reports" / "metrics.json").read_text())
    assert offline["a"] == pytest.approx(metrics["holdout"][metrics["primary_metric"]])
    assert offline["low"] <= offline["difference"] <= offline["high"] and offline["rows"] == metrics["rows_test"]
    assert "## Offline evidence" in (inc / "abplan.md").read_text()
