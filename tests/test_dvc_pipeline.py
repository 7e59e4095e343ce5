"""`dvc repro` over several increments in a real temporary git + DVC repository: one pipeline expanded over
every registered increment, a change that reruns only its own increment, experiments on one increment,
metrics and plots between commits, and a push / pull round trip through a local remote on a fresh clone."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent
DVC = str(Path(sys.executable).with_name("dvc"))
pytestmark = pytest.mark.slow

FAST = ["selection.cv_folds=3", "explain.explain_rows=60", "explain.background_rows=40",
        "serving.loadtest.duration_s=2", "serving.loadtest.rate=20"]
CLASSIFIER, REGRESSOR = "0002-breast-cancer", "0004-diabetes-progression"
STAGES = ("fetch", "prepare", "train", "evaluate", "explain", "package", "loadtest", "report")


def run(cmd: list[str], cwd: Path) -> subprocess.CompletedProcess:
    env = {**os.environ, "OMP_WAIT_POLICY": "PASSIVE", "PATH": f"{Path(sys.executable).parent}:{os.environ['PATH']}",
           "GIT_AUTHOR_NAME": "t", "GIT_AUTHOR_EMAIL": "t@t", "GIT_COMMITTER_NAME": "t", "GIT_COMMITTER_EMAIL": "t@t"}
    env.pop("SPECWEAVE_ROOT", None)
    return subprocess.run(cmd, cwd=cwd, env=env, capture_output=True, text=True, timeout=600)


def sh(cmd: list[str], cwd: Path) -> str:
    out = run(cmd, cwd)
    assert out.returncode == 0, f"{' '.join(cmd)} failed:\n{out.stdout}\n{out.stderr}"
    return out.stdout + out.stderr


def ran(output: str) -> set[str]:
    return {line.split("'")[1] for line in output.splitlines() if line.startswith("Running stage '")}


def of(increment: str, *stages: str) -> set[str]:
    return {f"{stage}@{increment}" for stage in (stages or STAGES)}


def register(root: Path, brief: str, *overrides: str) -> str:
    return sh([sys.executable, "-m", "specweave_ml", "stage=params", f"problem={brief}", *FAST, *overrides], root)


@pytest.fixture(scope="module")
def project(tmp_path_factory) -> Path:
    """A copy of the project (code, conf, dvc.yaml) as a fresh git + DVC repo with two increments registered:
    a classifier and a regressor, so each family-declared plot kind is in it."""
    root = tmp_path_factory.mktemp("project")
    for item in ("specweave_ml", "conf", "hydra_plugins"):
        shutil.copytree(REPO / item, root / item, ignore=shutil.ignore_patterns("__pycache__"))
    for item in ("dvc.yaml", ".gitignore"):
        shutil.copy(REPO / item, root / item)
    sh(["git", "init", "-q"], root)
    sh([DVC, "init", "-q"], root)
    sh([DVC, "config", "core.analytics", "false"], root)
    shutil.copy(REPO / ".dvcignore", root / ".dvcignore")
    register(root, "breast_cancer")
    register(root, "diabetes")
    sh(["git", "add", "-A"], root)
    sh(["git", "commit", "-qm", "project"], root)
    return root


@pytest.fixture(scope="module")
def first_repro(project) -> str:
    out = sh([DVC, "repro"], project)
    sh(["git", "add", "-A"], project)
    sh(["git", "commit", "-qm", "first repro"], project)
    return out


@pytest.fixture
def own_project(project, first_repro, tmp_path) -> Path:
    """A private copy of the repository after the first ``dvc repro``, for a test that changes it."""
    root = tmp_path / "project"
    shutil.copytree(project, root, symlinks=True)
    return root


def test_repro_builds_every_registered_increment(project, first_repro):
    assert ran(first_repro) == of(CLASSIFIER) | of(REGRESSOR)
    index = (project / "increments" / "pipeline.yaml").read_text()
    assert CLASSIFIER in index and REGRESSOR in index and "brief: diabetes" in index
    for increment in (CLASSIFIER, REGRESSOR):
        inc = project / "increments" / increment
        for rel in ("params.yaml", "data/raw.parquet", "data/train.parquet", "models/champion/MLmodel",
                    "reports/metrics.json", "reports/summary.json", "reports/report.html", "reports/loadtest.json",
                    "tasks.md"):
            assert (inc / rel).exists(), f"{increment}/{rel}"
    # each family-declared curve exists, the classifier's ROC and PR, the regressor's predicted against actual
    assert (project / "increments" / CLASSIFIER / "reports/curves/roc.csv").exists()
    assert (project / "increments" / REGRESSOR / "reports/curves/prediction_error.csv").exists()
    lock = (project / "dvc.lock").read_text()
    assert f"train@{CLASSIFIER}" in lock and f"increments/{REGRESSOR}/models/champion" in lock
    # splits and models are DVC outputs: git ignores them
    ignored = sh(["git", "check-ignore", f"increments/{CLASSIFIER}/data/train.parquet",
                  f"increments/{REGRESSOR}/models/champion"], project)
    assert "train.parquet" in ignored and "champion" in ignored


def test_second_repro_changes_nothing(project, first_repro):
    assert ran(sh([DVC, "repro"], project)) == set()
    assert "Data and pipelines are up to date" in sh([DVC, "status"], project)


def test_a_hyperparameter_of_one_brief_reruns_only_its_own_stages_and_shows_in_metrics_and_plots_diff(own_project, tmp_path):
    from specweave_ml.vega_template import build

    project = own_project
    register(project, "breast_cancer", "models.random_forest.params.n_estimators=30")
    status = sh([DVC, "status"], project)
    assert f"train@{CLASSIFIER}" in status and f"prepare@{CLASSIFIER}" not in status and REGRESSOR not in status
    out = ran(sh([DVC, "repro"], project))
    assert f"train@{CLASSIFIER}" in out
    assert out <= of(CLASSIFIER, "train", "evaluate", "explain", "package", "loadtest", "report")
    assert ran(sh([DVC, "repro"], project)) == set()
    # the change, committed, is one metrics diff and one plots diff away from the commit before it
    sh(["git", "add", "-A"], project)
    sh(["git", "commit", "-qm", "a larger forest"], project)
    diff = json.loads(sh([DVC, "metrics", "diff", "HEAD~1", "--all", "--json"], project))
    assert f"increments/{CLASSIFIER}/reports/summary.json" in diff
    template = build(tmp_path / "offline.html")
    plots = tmp_path / "plots"
    sh([DVC, "plots", "diff", "HEAD~1", "--html-template", str(template), "-o", str(plots)], project)
    html = (plots / "index.html").read_text()
    assert "vegaEmbed" in html and "precision" in html and "predicted" in html  # both increments' plots
    assert 'src="http' not in html and "cdn.jsdelivr" not in html


def test_exp_run_on_one_increment_and_exp_show_lists_every_increment(own_project):
    project = own_project
    params = f"increments/{REGRESSOR}/params.yaml"
    out = ran(sh([DVC, "exp", "run", "-S", f"{params}:selection.cv_folds=4"], project))
    assert f"prepare@{REGRESSOR}" in out  # cv_folds is read by prepare, so the folds are rebuilt
    assert not out & of(CLASSIFIER)
    assert "cv_folds: 4" in (project / params).read_text()
    shown = json.loads(sh([DVC, "exp", "show", "--json"], project))
    text = json.dumps(shown)
    for increment, metric in ((CLASSIFIER, "holdout_roc_auc"), (REGRESSOR, "holdout_rmse")):
        assert f"increments/{increment}/reports/summary.json" in text and metric in text
    # a mistyped key is refused before anything runs
    typo = run([DVC, "exp", "run", "-S", f"{params}:selection.cv_fold=4"], project)
    assert typo.returncode != 0 and "cv_fold" in typo.stderr


def test_push_then_pull_on_a_fresh_clone_restores_every_increment(own_project, tmp_path):
    project = own_project
    remote = tmp_path / "remote"
    sh([DVC, "remote", "add", "-d", "local", str(remote)], project)
    sh(["git", "add", "-A"], project)
    sh(["git", "commit", "-qm", "a local remote"], project)
    sh([DVC, "push"], project)
    clone = tmp_path / "clone"
    sh(["git", "clone", "-q", str(project), str(clone)], tmp_path)
    assert not (clone / "increments" / CLASSIFIER / "models" / "champion").exists()
    sh([DVC, "pull"], clone)
    for increment in (CLASSIFIER, REGRESSOR):
        inc = clone / "increments" / increment
        for rel in ("data/raw.parquet", "data/train.parquet", "models/champion/MLmodel", "reports/predictions.parquet",
                    "reports/shap", "reports/plots"):
            assert (inc / rel).exists(), f"{increment}/{rel}"
        assert (inc / "models/champion/MLmodel").read_bytes() == \
            (project / "increments" / increment / "models/champion/MLmodel").read_bytes()
    assert "Data and pipelines are up to date" in sh([DVC, "status"], clone)


def test_plots_show_writes_html_that_needs_no_network(project, first_repro, tmp_path):
    from specweave_ml.vega_template import build

    template = build(tmp_path / "offline.html")
    out = tmp_path / "plots"
    sh([DVC, "plots", "show", "--html-template", str(template), "-o", str(out)], project)
    html = (out / "index.html").read_text()
    assert "vegaEmbed" in html and "precision" in html  # the PR curve's data and the inlined renderer
    assert 'src="http' not in html and "cdn.jsdelivr" not in html
