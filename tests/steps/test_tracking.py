"""MLflow on its real SQLite store: one parent run per execution, a child per baseline and candidate, the champion.

Everything is read back through ``MlflowClient`` pointed at the project's ``mlflow.db``, as ``mlflow ui`` would.
"""

import json
from urllib.parse import urlparse

import numpy as np
import pandas as pd
import pytest
from mlflow import MlflowClient

from specweave_ml.packaging import load_model

EXPERIMENT = "specweave-ml"


def read(path):
    return json.loads(path.read_text())


def runs_of(uri):
    client = MlflowClient(tracking_uri=uri, registry_uri=uri)  # the registry URI is process-wide otherwise
    experiment = client.get_experiment_by_name(EXPERIMENT)
    runs = client.search_runs([experiment.experiment_id], max_results=1000)
    parents = [r for r in runs if "mlflow.parentRunId" not in r.data.tags]
    children = [r for r in runs if "mlflow.parentRunId" in r.data.tags]
    return client, parents, children


@pytest.fixture(scope="module")
def tracked(increment):
    run = increment("breast_cancer")
    client, parents, children = runs_of(run.tracking_uri)
    return run, client, parents, children


@pytest.mark.slow
def test_one_parent_run_per_execution_with_a_child_per_baseline_and_candidate(tracked):
    run, _, parents, children = tracked
    assert len(parents) == 1
    parent = parents[0]
    assert parent.info.run_name == run.increment
    assert parent.data.tags["increment"] == run.increment
    assert parent.info.status == "FINISHED"
    cv = read(run.inc / "reports/cv.json")
    expected = {(b["name"], "baseline") for b in cv["baselines"]} | {(c["name"], "candidate") for c in cv["candidates"]}
    assert {(c.info.run_name, c.data.tags["kind"]) for c in children} == expected
    # most_frequent, stratified, uniform, linear, random_forest, and lightgbm (the rule's next step: time was left)
    assert len(children) == len(expected) == 6
    assert all(c.data.tags["mlflow.parentRunId"] == parent.info.run_id for c in children)
    assert read(run.inc / "reports/training.json")["tracking"]["parent_run_id"] == parent.info.run_id


@pytest.mark.slow
def test_child_runs_carry_their_cv_scores_and_parameters(tracked):
    run, _, _, children = tracked
    cv = read(run.inc / "reports/cv.json")
    metric = cv["metric"]
    by_name = {c.info.run_name: c for c in children}
    for r in cv["baselines"] + cv["candidates"]:
        logged = by_name[r["name"]].data.metrics
        assert logged[f"cv_{metric}_mean"] == pytest.approx(r["mean"])
        assert logged[f"cv_{metric}_train_mean"] == pytest.approx(r["train_mean"])
        assert [logged[f"cv_{metric}_fold_{i}"] for i in range(5)] == pytest.approx(r["folds"], abs=1e-6)
    assert by_name["most_frequent"].data.params["strategy"] == "most_frequent"
    assert by_name["random_forest"].data.params["n_estimators"] == "200"
    # Task-specific hyperparameters too (conf/model/linear.yaml's classifier_params).
    assert by_name["linear"].data.params["C"] == "1.0"
    assert by_name["linear"].data.params["max_iter"] == "2000"


@pytest.mark.slow
def test_holdout_metrics_and_provenance_are_on_the_parent(tracked):
    run, client, parents, _ = tracked
    parent = parents[0]
    metrics = read(run.inc / "reports/metrics.json")
    for name, value in metrics["holdout"].items():
        assert parent.data.metrics[f"holdout_{name}"] == pytest.approx(value), name
    assert parent.data.metrics["ready"] == 1.0
    assert parent.data.params["chosen"] == metrics["chosen"]
    assert parent.data.params["primary_metric"] == metrics["primary_metric"]
    meta = read(run.inc / "metadata.json")
    assert parent.data.tags["data_fingerprint"] == meta["data_fingerprint"]
    assert parent.data.tags["git_commit"]
    logged = {a.path for a in client.list_artifacts(parent.info.run_id, "reports")}
    assert {"reports/metrics.json", "reports/baselines.json", "reports/cv.json", "reports/roc.png"} <= logged


@pytest.mark.slow
def test_the_chosen_model_is_registered_under_the_increment_with_alias_champion(tracked):
    run, client, parents, _ = tracked
    version = client.get_model_version_by_alias(run.increment, "champion")
    assert str(version.version) == "1"
    assert version.run_id == parents[0].info.run_id

    import mlflow.sklearn

    # Read from the registered version's files, not through the process-wide registry URI (other tests move it).
    files = urlparse(client.get_model_version_download_uri(run.increment, version.version)).path
    registered = mlflow.sklearn.load_model(files)
    meta = read(run.inc / "metadata.json")
    packaged = load_model(run.inc / "models/champion", meta["model"]["sha256"])
    features = read(run.inc / "data/split.json")["features"]
    test = pd.read_parquet(run.inc / "data/test.parquet")[features]
    np.testing.assert_allclose(registered.scores(test), packaged.scores(test), rtol=1e-12)
    assert registered.threshold == packaged.threshold == read(run.inc / "reports/training.json")["threshold"]
    logged = mlflow.models.Model.load(files)  # the MLmodel file of the registered version
    assert [c.name for c in logged.signature.inputs.inputs] == features
    assert logged.saved_input_example_info is not None


@pytest.mark.slow
def test_a_second_execution_adds_a_parent_run_and_moves_the_champion_alias(run_brief, tmp_path):
    run_brief(tmp_path, "breast_cancer", "model=linear")
    run = run_brief(tmp_path, "breast_cancer", "model=linear")
    client, parents, children = runs_of(run.tracking_uri)
    assert len(parents) == 2 and len(children) == 2 * 4  # three baselines and the one forced model, twice
    latest = max(parents, key=lambda r: r.info.start_time)
    version = client.get_model_version_by_alias(run.increment, "champion")
    assert (str(version.version), version.run_id) == ("2", latest.info.run_id)
    assert read(run.inc / "metadata.json")["model"]["registered"]["version"] == "2"
    assert (run.inc / "models/previous/MLmodel").is_file()  # the previous champion, kept for rollback


@pytest.mark.slow
def test_package_run_on_its_own_registers_in_the_configured_store(stages_at, specweave, tmp_path):
    """As under ``dvc repro``: each stage its own process, here started from another directory."""
    root = tmp_path / "project"
    stages_at(root, ["problem=breast_cancer", "model=linear"], "prepare", "train", "evaluate")
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    done = specweave(root, "problem=breast_cancer", "model=linear", "stage=package", cwd=elsewhere)
    assert done.returncode == 0, done.stderr[-2000:]
    client, parents, _ = runs_of(f"sqlite:///{root}/mlflow.db")
    version = client.get_model_version_by_alias("0002-breast-cancer", "champion")
    assert version.run_id == parents[0].info.run_id
    assert list(elsewhere.iterdir()) == []  # nothing tracked into the working directory
