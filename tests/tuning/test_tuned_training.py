"""stage=train with tuning=phased: every phase recorded, and the kept model never worse than the untuned one."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from hydra import compose, initialize_config_dir

from specweave_ml.schema import register
from specweave_ml.stages import run_stage

REPO = Path(__file__).resolve().parents[2]
pytestmark = pytest.mark.slow


def test_phased_tuning_records_each_phase_and_keeps_the_better_model(tmp_path):
    register()
    with initialize_config_dir(config_dir=str(REPO / "conf"), version_base="1.3"):
        cfg = compose("config", overrides=[
            "problem=breast_cancer", "tuning=phased", f"paths.root={tmp_path}", "progress=false",
            "selection.cv_folds=3", "problem.constraints.budget_minutes=0.5", "explain.explain_rows=50"])
    run_stage(cfg)
    reports = tmp_path / "increments" / "0002-breast-cancer" / "reports"
    training = json.loads((reports / "training.json").read_text())
    cv = json.loads((reports / "cv.json").read_text())
    # LightGBM, the rule's next step, joins only when the 30 s budget leaves time for it; the plan says which.
    assert {"linear", "random_forest"} <= set(training["tuning"]) <= {"linear", "random_forest", "lightgbm"}
    assert any("lightgbm (the rule's next step)" in d for d in training["budget"]["decisions"])
    for model, report in training["tuning"].items():
        phases = [p["phase"] for p in report["phases"]]
        assert phases[:3] == ["coarse", "fine", "optuna"] and set(phases[3:]) <= {"optuna-more"}
        assert report["untuned_cv"] > 0.5
        chosen_cv = next(c["mean"] for c in cv["candidates"] if c["name"] == model)
        assert chosen_cv >= report["untuned_cv"] - 1e-12  # tuning never leaves a worse model behind
        if report["kept"] == "tuned":
            assert chosen_cv == pytest.approx(report["tuned_cv"])
    assert any((reports / "tuning").glob("*_coarse.csv"))
    tasks = (tmp_path / "increments" / "0002-breast-cancer" / "tasks.md").read_text()
    assert "| T-006 | Hyperparameter tuning | done |" in tasks and "untuned" in tasks
    from mlflow.tracking import MlflowClient

    client = MlflowClient(f"sqlite:///{tmp_path}/mlflow.db")
    runs = client.search_runs(client.get_experiment_by_name("specweave-ml").experiment_id, "tags.kind = 'tuning'")
    assert {r.data.tags["phase"] for r in runs} == {"coarse", "fine", "optuna"}
