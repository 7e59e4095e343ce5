"""stage=rollback: the previous champion restored, with its hash, its registry alias and the plan in plan.md."""

import pytest

from specweave_ml.errors import DataError, SpecweaveError
from specweave_ml.fileio import read_json
from specweave_ml.packaging import directory_hash


@pytest.mark.slow
def test_rollback_restores_the_previous_champion_and_rolling_again_goes_forward(retrained, tmp_path, stage):
    project = retrained.copy(tmp_path / "root")
    before = project.meta
    champion, previous = before["model"], before["previous_model"]
    evaluations = {"current": read_json(project.paths.metrics), "previous": read_json(project.paths.previous_evaluation)}
    assert evaluations["previous"]["model_sha256"] == previous["evaluated_sha256"]  # the holdout scored what it was refitted from
    assert champion["sha256"] != previous["sha256"]
    assert (champion["registered"]["version"], previous["registered"]["version"]) == ("2", "1")

    record = stage(project.root, "rollback")

    after = project.meta
    assert directory_hash(project.paths.model) == previous["sha256"] == after["model"]["sha256"]
    assert directory_hash(project.paths.previous_model) == champion["sha256"] == after["previous_model"]["sha256"]
    assert record["from"] == champion["sha256"] and record["to"] == previous["sha256"]
    assert after["status"] == "rolled back" and after["rollbacks"][-1] == record
    # The evaluation on record follows its model.
    assert read_json(project.paths.metrics) == evaluations["previous"]
    assert read_json(project.paths.previous_evaluation) == evaluations["current"]

    from mlflow.tracking import MlflowClient

    uri = f"sqlite:///{project.root}/mlflow.db"
    client = MlflowClient(uri, registry_uri=uri)
    assert str(client.get_model_version_by_alias("0002-breast-cancer", "champion").version) == "1"
    assert read_json(project.paths.reference_profile)["model"]["sha256"] == previous["sha256"]  # re-profiled for drift
    plan = project.paths.plan.read_text()
    assert "## Rollback plan" in plan and f"sha256 {champion['sha256'][:12]}" in plan and "Rolled back" in plan

    items = {i["item"]: i for i in stage(project.root, "report").items}
    assert items["Rollback plan documented"]["status"] == "PASS"
    assert items["Monitoring configured (drift, performance)"]["status"] == "PASS"

    forward = stage(project.root, "rollback")  # and forward again
    assert directory_hash(project.paths.model) == champion["sha256"] == project.meta["model"]["sha256"]
    # v2 was packaged without an evaluation (``retrained``), so it was registered not ready: served, never champion.
    assert champion["registered"]["alias"] is None and "registered not ready" in forward["alias"]
    assert str(client.get_model_version_by_alias("0002-breast-cancer", "champion").version) == "1"


@pytest.mark.slow
def test_rollback_without_a_previous_champion_says_so_and_changes_nothing(built, tmp_path, stage):
    project = built.copy(tmp_path / "root")
    meta = project.meta
    with pytest.raises(DataError, match="models/previous: no previous champion to roll back to"):
        stage(project.root, "rollback")
    assert project.meta == meta and directory_hash(project.paths.model) == meta["model"]["sha256"]
    items = {i["item"]: i for i in stage(project.root, "report").items}
    rollback = items["Rollback plan documented"]
    assert rollback["status"] == "NOT YET" and "no previous champion" in rollback["detail"]


@pytest.mark.slow
def test_rollback_refuses_a_previous_model_whose_files_changed(retrained, tmp_path, stage):
    project = retrained.copy(tmp_path / "root")
    (project.paths.previous_model / "MLmodel").write_text("tampered\n")
    with pytest.raises(SpecweaveError, match="its files changed"):
        stage(project.root, "rollback")
    assert directory_hash(project.paths.model) == project.meta["model"]["sha256"]
