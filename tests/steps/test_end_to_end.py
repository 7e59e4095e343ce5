"""Whole increments: every shipped tabular brief runs ``stage=all``, and pure noise fails the baseline gate."""

import json

import numpy as np
import pandas as pd
import pytest

from specweave_ml.metrics import METRICS
from specweave_ml.packaging import directory_hash, load_model

BRIEFS = ["breast_cancer", "wine", "diabetes"]
PLOTS = {
    "binary_classification": {"roc.png", "precision_recall.png", "calibration.png", "confusion_matrix.png"},
    "multiclass_classification": {"confusion_matrix.png"},
    "regression": {"residuals.png", "predicted_vs_actual.png"},
}
REPORTS = ["metrics.json", "baselines.json", "cv.json", "training.json", "predictions.parquet"]


def read(path):
    return json.loads(path.read_text())


def task_row(inc, tid):
    """The cells of one task's row in tasks.md: id, title, status, note."""
    for line in (inc / "tasks.md").read_text().splitlines():
        if line.startswith(f"| {tid} |"):
            return [cell.strip() for cell in line.strip("|").split("|")]
    raise AssertionError(f"{tid} is not in tasks.md")


# --- every shipped tabular brief, end to end ---------------------------------------------------------

@pytest.mark.slow
@pytest.mark.parametrize("brief", BRIEFS)
def test_every_shipped_brief_leaves_its_reports_plots_and_packaged_model(increment, brief):
    inc = increment(brief).inc
    for name in REPORTS:
        assert (inc / "reports" / name).is_file(), name
    task = read(inc / "metadata.json")["task"]
    assert {p.name for p in (inc / "reports/plots").glob("*.png")} == PLOTS[task]
    model_dir = inc / "models/champion"
    assert (model_dir / "MLmodel").is_file()
    mlmodel = (model_dir / "MLmodel").read_text()
    assert "sklearn" in mlmodel and "signature:" in mlmodel and "saved_input_example_info" in mlmodel


@pytest.mark.slow
@pytest.mark.parametrize("brief", BRIEFS)
def test_tasks_and_metadata_record_every_step(increment, brief):
    inc = increment(brief).inc
    meta = read(inc / "metadata.json")
    assert meta["status"] == "packaged"
    for tid in ("T-001", "T-002", "T-003", "T-004", "T-005", "T-007", "T-009"):
        assert meta["tasks"][tid]["status"] == "done", tid
        assert task_row(inc, tid)[2] == "done", tid
    assert meta["tasks"]["T-006"]["status"] == "skipped"
    assert "Increment status: **packaged**" in (inc / "tasks.md").read_text()
    metrics = read(inc / "reports/metrics.json")
    assert metrics["ready"] is True and metrics["reasons"] == []
    assert metrics["model_sha256"] == meta["model"]["evaluated_sha256"]  # the holdout scored the model fitted without it
    assert meta["model"]["evaluated_sha256"] == directory_hash(inc / "models/evaluated")
    assert meta["model"]["sha256"] == directory_hash(inc / "models/champion")
    assert meta["model"]["registered"] == {"name": inc.name, "version": "1", "alias": "champion"}


@pytest.mark.slow
@pytest.mark.parametrize("brief", BRIEFS)
def test_cv_report_holds_every_baseline_and_candidate_and_the_best_is_chosen(increment, brief):
    inc = increment(brief).inc
    plan = read(inc / "reports/prepare.json")["plan"]
    cv = read(inc / "reports/cv.json")
    assert cv["metric"] == plan["primary_metric"] and cv["cv_folds"] == 5
    assert [b["name"] for b in cv["baselines"]] == list(plan["baselines"])
    assert [c["name"] for c in cv["candidates"]] == [c["name"] for c in plan["candidates"]]
    for r in cv["baselines"] + cv["candidates"]:
        assert len(r["folds"]) == len(r["train_folds"]) == 5
        assert r["mean"] == pytest.approx(np.mean(r["folds"]), abs=1e-6)
    sign = 1 if METRICS[cv["metric"]].greater_is_better else -1
    assert cv["chosen"] == max(cv["candidates"], key=lambda c: sign * c["mean"])["name"]
    for c in cv["candidates"]:
        assert {check["name"] for check in c["checks"]} == {"cv_std", "train_val_gap"}


@pytest.mark.slow
@pytest.mark.parametrize("brief", BRIEFS)
def test_results_state_the_chosen_model_against_the_best_baseline(increment, brief):
    inc = increment(brief).inc
    metrics = read(inc / "reports/metrics.json")
    baselines = read(inc / "reports/baselines.json")
    metric = metrics["primary_metric"]
    sign = 1 if METRICS[metric].greater_is_better else -1
    best = max(baselines["baselines"], key=lambda n: sign * baselines["baselines"][n]["holdout"][metric])
    assert baselines["best"] == metrics["best_baseline"]["name"] == best
    assert metrics["best_baseline"]["score"] == baselines["baselines"][best]["holdout"][metric]
    assert metrics["chosen"] == read(inc / "reports/cv.json")["chosen"]
    gate = next(g for g in metrics["gates"] if g["name"] == "baseline_margin")
    assert gate["passed"] and gate["value"] == metrics["holdout"][metric]
    note = task_row(inc, "T-007")[3]
    assert note == f"holdout {metric} {metrics['holdout'][metric]:.4f} vs best baseline {metrics['best_baseline']['score']:.4f}"


@pytest.mark.slow
@pytest.mark.parametrize("brief", BRIEFS)
def test_the_evaluated_model_reproduces_the_saved_predictions_and_the_packaged_one_is_its_refit(increment, brief):
    inc = increment(brief).inc
    meta = read(inc / "metadata.json")
    assert read(inc / "reports/training.json")["refit"]["shipped"] == "refit"
    assert meta["model"]["sha256"] != meta["model"]["evaluated_sha256"]
    model = load_model(inc / "models/evaluated", meta["model"]["evaluated_sha256"])
    features = read(inc / "data/split.json")["features"]
    test = pd.read_parquet(inc / "data/test.parquet")
    preds = pd.read_parquet(inc / "reports/predictions.parquet")
    assert (model.predict(test[features]) == preds["y_pred"].to_numpy()).all()


@pytest.mark.slow
def test_fraud_sample_states_pr_auc_against_the_best_baseline(run_brief, tmp_path):
    run = run_brief(tmp_path, "fraud", "problem.data.sample_rows=30000")
    inc = run.inc
    train = pd.read_parquet(inc / "data/train.parquet")
    test = pd.read_parquet(inc / "data/test.parquet")
    assert train["Class"].sum() > 0 and test["Class"].sum() > 0
    assert train["Time"].max() <= test["Time"].min()
    metrics = read(inc / "reports/metrics.json")
    assert metrics["primary_metric"] == "pr_auc"
    assert metrics["best_baseline"]["score"] < 0.01  # the positive rate
    assert metrics["holdout"]["pr_auc"] > metrics["best_baseline"]["score"]
    assert metrics["majority_accuracy"] > 0.99
    assert "out-of-fold" in metrics["threshold_rule"]
    assert read(inc / "reports/training.json")["class_weighting"] == "sqrt"
    assert read(inc / "reports/cv.json")["cv_strategy"] == "expanding_window"
    assert f"holdout pr_auc {metrics['holdout']['pr_auc']:.4f} vs best baseline" in task_row(inc, "T-007")[3]


# --- pure noise: the baseline gate fails, with its reason --------------------------------------------

@pytest.fixture(scope="module")
def noise_brief(tmp_path_factory):
    """A brief whose five features are random numbers and whose target is a fair coin."""
    rng = np.random.default_rng(2024)
    n = 800
    frame = pd.DataFrame({f"f{i}": rng.normal(size=n) for i in range(5)})
    frame["y"] = rng.integers(0, 2, size=n)
    path = tmp_path_factory.mktemp("noise-data") / "noise.csv"
    frame.to_csv(path, index=False)
    return ["problem=breast_cancer", "problem.increment=0201-pure-noise", "problem.title=Pure noise",
            f"problem.data.source={path}", "problem.data.target=y",
            "problem.metrics.primary=null", "problem.metrics.others=[]"]


@pytest.mark.slow
def test_pure_noise_fails_the_baseline_gate_and_is_recorded_not_ready(noise_brief, specweave, tmp_path):
    done = specweave(tmp_path, *noise_brief, "strict=false")
    assert done.returncode == 0, done.stderr
    inc = tmp_path / "increments/0201-pure-noise"

    metrics = read(inc / "reports/metrics.json")
    assert metrics["primary_metric"] == "roc_auc"
    assert metrics["ready"] is False
    gate = next(g for g in metrics["gates"] if g["name"] == "baseline_margin")
    assert not gate["passed"] and gate["blocking"]
    assert gate["value"] < gate["limit"]
    assert len(metrics["reasons"]) == 1
    reason = metrics["reasons"][0]
    assert reason.startswith("baseline_margin failed: holdout roc_auc") and "needs at least" in reason

    meta = read(inc / "metadata.json")
    assert meta["status"] == "not ready"
    assert meta["tasks"]["T-007"]["status"] == "failed"
    assert reason in meta["tasks"]["T-007"]["note"]
    _, _, status, note = task_row(inc, "T-007")
    assert status == "failed" and "NOT READY" in note and reason in note
    assert "Increment status: **not ready**" in (inc / "tasks.md").read_text()
    assert "NOT READY" in done.stderr
    assert "\r" not in done.stderr  # no progress bar when the output is not a terminal

    # The forest memorises noise: its train/validation gap is flagged, with advice.
    forest = next(c for c in read(inc / "reports/cv.json")["candidates"] if c["name"] == "random_forest")
    overfit = next(c for c in forest["checks"] if c["name"] == "train_val_gap")
    assert not overfit["passed"] and "overfitting" in overfit["advice"]


@pytest.mark.slow
def test_pure_noise_with_strict_exits_one_and_prints_the_reason(noise_brief, specweave, tmp_path):
    done = specweave(tmp_path, *noise_brief, "strict=true")
    assert done.returncode == 1
    assert "Traceback" not in done.stderr
    errors = [line for line in done.stderr.splitlines() if line.startswith("error:")]
    assert len(errors) == 1
    assert errors[0].startswith("error: gates: baseline_margin failed: holdout roc_auc")
    assert "needs at least" in errors[0]
    # The failure is recorded before the run fails.
    metrics = read(tmp_path / "increments/0201-pure-noise/reports/metrics.json")
    assert metrics["ready"] is False and metrics["reasons"][0] in errors[0]
