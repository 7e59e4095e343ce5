"""Rollback always moves the MLflow alias `champion`: two full runs (same or another seed), with a server up."""

import pytest

from specweave_ml.fileio import directory_hash

# Another seed ships an ensemble whose linear member is explained by the permutation explainer (about 0.6 s a row):
# what rollback does with the alias does not depend on how many holdout rows SHAP explains.
FEW_ROWS = "explain.explain_rows=20"


@pytest.mark.slow
@pytest.mark.parametrize("second_run", ["seed=42", "seed=7"], ids=["same seed", "another seed"])
def test_rollback_moves_the_champion_alias_both_ways_after_two_full_runs(built, tmp_path, stage, compose_at, second_run):
    from mlflow.tracking import MlflowClient

    from specweave_ml.serving.server import free_port, running_server
    from specweave_ml.serving.settings import server_config

    project = built.copy(tmp_path / "root")
    stage(project.root, "all", second_run, FEW_ROWS)  # the whole increment again: a second registered version
    first, second = project.meta["previous_model"], project.meta["model"]
    assert (first["registered"]["version"], second["registered"]["version"]) == ("1", "2")
    uri = f"sqlite:///{project.root}/mlflow.db"
    client = MlflowClient(uri, registry_uri=uri)
    name = project.paths.name

    config = server_config(compose_at(project.root).serving, project.paths, port=free_port())
    with running_server(config, startup_timeout=90):  # a server holding the champion does not stop a rollback
        record = stage(project.root, "rollback")
    assert "v1" in record["alias"]
    assert str(client.get_model_version_by_alias(name, "champion").version) == "1"
    assert directory_hash(project.paths.model) == first["sha256"] == project.meta["model"]["sha256"]

    stage(project.root, "rollback")  # and forward again
    assert str(client.get_model_version_by_alias(name, "champion").version) == "2"
    assert directory_hash(project.paths.model) == second["sha256"]


@pytest.mark.slow
def test_a_model_restored_by_rollback_keeps_its_registration_when_the_next_training_replaces_it(built, tmp_path, stage):
    """train v1, train v2, roll back to v1, train v3: the kept model is v1, registered, and rolling back finds it."""
    from mlflow.tracking import MlflowClient

    project = built.copy(tmp_path / "root")
    stage(project.root, "all", "seed=7", FEW_ROWS)
    stage(project.root, "rollback")
    stage(project.root, "all", "seed=8", FEW_ROWS)
    kept = project.meta["previous_model"]
    assert kept["registered"]["version"] == "1" and project.meta["model"]["registered"]["version"] == "3"
    record = stage(project.root, "rollback")
    assert "v1" in record["alias"]
    uri = f"sqlite:///{project.root}/mlflow.db"
    client = MlflowClient(uri, registry_uri=uri)
    assert str(client.get_model_version_by_alias(project.paths.name, "champion").version) == "1"


def test_rollback_never_makes_champion_a_version_that_failed_its_gates():
    from specweave_ml.serving.rollback import alias_target

    assert alias_target({"name": "0002-x", "version": "3", "alias": "champion"}) == (("0002-x", "3"), "")
    target, why = alias_target({"name": "0002-x", "version": "2", "alias": None})
    assert target is None and "registered not ready" in why
    target, why = alias_target({})
    assert target is None and "never registered" in why
