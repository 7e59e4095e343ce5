"""A 2 x 2 multirun: four jobs, four separate increments, and a summary table."""

from __future__ import annotations

import csv
import os
import subprocess
import sys

import pytest

pytestmark = pytest.mark.slow


@pytest.mark.parametrize("launcher", ["basic", "joblib"])
def test_two_by_two_sweep_keeps_every_result_apart(tmp_path, launcher):
    env = {**os.environ, "SPECWEAVE_ROOT": str(tmp_path), "OMP_WAIT_POLICY": "PASSIVE"}
    cmd = [sys.executable, "-m", "specweave_ml", "-m", "problem=breast_cancer,wine", "model=linear,decision_tree",
           "tracking=off", "progress=false", "selection.cv_folds=3", "explain.explain_rows=50"]
    if launcher == "joblib":
        cmd.append("hydra/launcher=joblib")
    done = subprocess.run(cmd, env=env, cwd=tmp_path, capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr[-3000:]
    sweeps = list((tmp_path / ".hydra-runs" / "multirun").iterdir())
    assert len(sweeps) == 1
    sweep = sweeps[0]
    with open(sweep / "summary.csv") as fh:
        rows = list(csv.DictReader(fh))
    assert len(rows) == 4
    assert {(r["increment"], r["model"]) for r in rows} == {
        ("0002-breast-cancer", "linear"), ("0002-breast-cancer", "decision_tree"),
        ("0003-wine-cultivar", "linear"), ("0003-wine-cultivar", "decision_tree")}
    assert len({r["path"] for r in rows}) == 4  # four separate increment folders
    for r in rows:
        assert float(r["holdout"]) > 0
    assert not (tmp_path / "increments").exists()  # the sweep wrote nothing over the project's increments
    assert "| job |" in (sweep / "summary.md").read_text()
