"""`dvc repro` in a real temporary git + DVC repository, on a small shipped brief."""

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

FAST = ["problem=breast_cancer", "selection.cv_folds=3", "explain.explain_rows=60", "explain.background_rows=40",
        "serving.loadtest.duration_s=2", "serving.loadtest.rate=20"]


def sh(cmd: list[str], cwd: Path) -> str:
    env = {**os.environ, "OMP_WAIT_POLICY": "PASSIVE", "PATH": f"{Path(sys.executable).parent}:{os.environ['PATH']}",
           "GIT_AUTHOR_NAME": "t", "GIT_AUTHOR_EMAIL": "t@t", "GIT_COMMITTER_NAME": "t", "GIT_COMMITTER_EMAIL": "t@t"}
    env.pop("SPECWEAVE_ROOT", None)
    out = subprocess.run(cmd, cwd=cwd, env=env, capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, f"{' '.join(cmd)} failed:\n{out.stdout}\n{out.stderr}"
    return out.stdout + out.stderr


def ran(output: str) -> set[str]:
    return {line.split("'")[1] for line in output.splitlines() if line.startswith("Running stage '")}


@pytest.fixture(scope="module")
def project(tmp_path_factory) -> Path:
    """A copy of the project (code the stages depend on, conf, dvc.yaml) as a fresh git + DVC repo."""
    root = tmp_path_factory.mktemp("project")
    for item in ("specweave_ml", "conf", "hydra_plugins"):
        shutil.copytree(REPO / item, root / item, ignore=shutil.ignore_patterns("__pycache__"))
    shutil.copy(REPO / "dvc.yaml", root / "dvc.yaml")
    sh(["git", "init", "-q"], root)
    sh([DVC, "init", "-q"], root)
    sh([DVC, "config", "hydra.enabled", "True"], root)
    sh([DVC, "config", "core.analytics", "false"], root)
    sh([sys.executable, "-m", "specweave_ml", "stage=params", *FAST], root)
    sh(["git", "add", "-A"], root)
    sh(["git", "commit", "-qm", "project"], root)
    return root


@pytest.fixture(scope="module")
def first_repro(project) -> str:
    return sh([DVC, "repro"], project)


@pytest.fixture
def own_project(project, first_repro, tmp_path) -> Path:
    """A private copy of the repository after the first ``dvc repro``, for a test that changes it."""
    root = tmp_path / "project"
    shutil.copytree(project, root, symlinks=True)
    return root


def test_repro_runs_every_stage_and_builds_the_increment(project, first_repro):
    assert ran(first_repro) == {"fetch", "prepare", "train", "evaluate", "explain", "package", "loadtest", "report"}
    inc = project / "increments" / "0002-breast-cancer"
    for rel in ("data/raw.parquet", "data/train.parquet", "models/champion/MLmodel", "reports/metrics.json",
                "reports/summary.json", "reports/report.html", "reports/curves/roc.csv", "reports/loadtest.json", "tasks.md"):
        assert (inc / rel).exists(), rel
    lock = (project / "dvc.lock").read_text()
    assert "increments/0002-breast-cancer/models/champion" in lock
    # splits and models are DVC outputs: git ignores them
    ignored = sh(["git", "check-ignore", "increments/0002-breast-cancer/data/train.parquet",
                  "increments/0002-breast-cancer/models/champion"], project)
    assert "train.parquet" in ignored and "champion" in ignored


def test_second_repro_changes_nothing(project, first_repro):
    out = sh([DVC, "repro"], project)
    assert ran(out) == set()
    assert "Data and pipelines are up to date" in sh([DVC, "status"], project)


def test_changing_one_param_reruns_only_the_stages_downstream(own_project):
    project = own_project
    sh([sys.executable, "-m", "specweave_ml", "stage=params", *FAST, "models.random_forest.params.n_estimators=30"], project)
    status = sh([DVC, "status"], project)
    assert "train:" in status and "fetch:" not in status and "prepare:" not in status
    out = sh([DVC, "repro"], project)
    assert "fetch" not in ran(out) and "prepare" not in ran(out)
    assert "train" in ran(out)
    assert ran(sh([DVC, "repro"], project)) == set()


def test_exp_run_with_a_hydra_override_changes_the_result(own_project):
    project = own_project
    summary = project / "increments" / "0002-breast-cancer" / "reports" / "summary.json"
    before = json.loads(summary.read_text())
    sh(["git", "add", "-A"], project)
    sh(["git", "commit", "-qm", "baseline run"], project)
    # DVC composes params.yaml from conf/ and the -S overrides alone, so the brief is named again.
    overrides = [*FAST, "problem.metrics.primary=pr_auc", "selection.cv_folds=4"]
    out = sh([DVC, "exp", "run", *[arg for o in overrides for arg in ("-S", o)]], project)
    assert "prepare" in ran(out)  # cv_folds is read by prepare, so the folds are rebuilt
    after = json.loads(summary.read_text())
    assert "holdout_pr_auc" in after and "holdout_roc_auc" in before
    params = (project / "params.yaml").read_text()
    assert "cv_folds: 4" in params and "primary: pr_auc" in params
    shown = sh([DVC, "exp", "show", "--json"], project)
    assert "holdout_pr_auc" in shown


def test_plots_show_writes_html_that_needs_no_network(project, first_repro, tmp_path):
    from specweave_ml.vega_template import build

    template = build(tmp_path / "offline.html")
    out = tmp_path / "plots"
    sh([DVC, "plots", "show", "--html-template", str(template), "-o", str(out)], project)
    html = (out / "index.html").read_text()
    assert "vegaEmbed" in html and "precision" in html  # the PR curve's data and the inlined renderer
    assert 'src="http' not in html and "cdn.jsdelivr" not in html
