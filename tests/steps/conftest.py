"""Fixtures for the whole-increment tests: shipped briefs run once per session, and the command line.

``increment("breast_cancer")`` runs ``stage=all`` in this process, with MLflow on its real SQLite store in
a temporary project root, and caches the result for the session. Tests that change files copy it first.
"""

import os

os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

import shutil  # noqa: E402
import subprocess  # noqa: E402
import sys  # noqa: E402
from dataclasses import dataclass  # noqa: E402
from pathlib import Path  # noqa: E402

import pytest  # noqa: E402

from _compose import compose_at  # noqa: E402
from specweave_ml.stages import run_stage  # noqa: E402




@dataclass(frozen=True)
class Run:
    """A project root after ``stage=all`` of one brief."""

    root: Path  # paths.root: holds increments/ and mlflow.db
    inc: Path  # increments/<id>
    brief: str
    overrides: tuple

    @property
    def increment(self) -> str:
        return self.inc.name

    @property
    def tracking_uri(self) -> str:
        return f"sqlite:///{self.root}/mlflow.db"


def run_all(root, brief, *extra) -> Run:
    overrides = (f"problem={brief}", *extra)
    cfg = compose_at(root, [*overrides, "stage=all"])
    run_stage(cfg)
    return Run(Path(root), Path(root) / "increments" / cfg.problem.increment, brief, overrides)


def run_stages(root, overrides, *stages) -> Path:
    for stage in stages:
        cfg = compose_at(root, [*overrides, f"stage={stage}"])
        run_stage(cfg)
    return Path(root) / "increments" / cfg.problem.increment


@pytest.fixture(scope="session")
def stages_at():
    """``stages_at(root, overrides, "prepare", "train")``: those stages in this process; the increment's folder."""
    return run_stages


@pytest.fixture(scope="session")
def run_brief():
    """``run_brief(root, "fraud", *overrides)``: ``stage=all`` of a brief in a root of the test's own."""
    return run_all


@pytest.fixture(scope="session")
def increment(tmp_path_factory):
    """``increment("wine")``: the brief after ``stage=all`` (read it, never change it: copy it first)."""
    done = {}

    def _increment(brief):
        if brief not in done:
            done[brief] = run_all(tmp_path_factory.mktemp(f"all-{brief}"), brief)
        return done[brief]

    return _increment


@pytest.fixture
def copied(tmp_path):
    """``copied(run)``: a private copy of a whole project root, to tamper with."""

    def _copy(run: Run) -> Run:
        root = tmp_path / "project"
        shutil.copytree(run.root, root)
        return Run(root, root / "increments" / run.increment, run.brief, run.overrides)

    return _copy


@pytest.fixture
def specweave():
    """``specweave(root, "problem=wine", "stage=predict", ...)``: ``python -m specweave_ml`` as a user runs it."""

    def _run(root, *args, cwd=None, timeout=180):
        env = {**os.environ, "SPECWEAVE_ROOT": str(root), "OMP_WAIT_POLICY": "PASSIVE"}
        env.pop("HYDRA_FULL_ERROR", None)
        env.pop("MLFLOW_TRACKING_URI", None)
        return subprocess.run([sys.executable, "-m", "specweave_ml", *args], cwd=cwd or root, env=env,
                              capture_output=True, text=True, timeout=timeout)

    return _run
