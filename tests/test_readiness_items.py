"""Readiness items say what their evidence is, not more: a family's own explanations are not called SHAP, and a
family that cannot monitor drift yet does not pass the monitoring item on a reference profile alone."""

from types import SimpleNamespace

from specweave_ml.fileio import write_json
from specweave_ml.paths import IncrementPaths
from specweave_ml.report.readiness import NOT_YET, PASS, explained, monitored


def test_shap_is_named_only_for_shap_explainers(tmp_path):
    paths = IncrementPaths(tmp_path)
    tree = explained(paths, SimpleNamespace(explainer="tree", rows_explained=200))
    components = explained(paths, SimpleNamespace(explainer="components", rows_explained=132))
    assert tree.status == components.status == PASS
    assert tree.detail.startswith("tree SHAP on 200 rows")
    assert "SHAP on" not in components.detail and "not SHAP" in components.detail


def test_monitoring_is_not_yet_when_the_family_says_it_cannot_watch(tmp_path):
    paths = IncrementPaths(tmp_path)
    meta = {"model": {"sha256": "abc"}}
    profile = {"features": ["user"], "model": {"sha256": "abc"}}
    write_json(paths.reference_profile, profile)
    assert monitored(paths, meta).status == PASS
    write_json(paths.reference_profile, {**profile, "monitoring": "drift monitoring of interactions is not built yet"})
    item = monitored(paths, meta)
    assert item.status == NOT_YET and "not built" in item.detail
