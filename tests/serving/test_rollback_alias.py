"""Rollback always moves the MLflow alias `champion`: two full runs (same or another seed), with a server up."""

import pytest

from specweave_ml.fileio import directory_hash

pytestmark = pytest.mark.slow


@pytest.mark.parametrize("second_run", ["seed=42", "seed=7"], ids=["same seed", "another seed"])
def test_rollback_moves_the_champion_alias_both_ways_after_two_full_runs(built, tmp_path, stage, compose_at, second_run):
    from mlflow.tracking import MlflowClient

    from specweave_ml.serving.server import free_port, running_server
    from specweave_ml.serving.settings import server_config

    project = built.copy(tmp_path / "root")
    stage(project.root, "all", second_run)  # the whole increment again: a second registered version
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
