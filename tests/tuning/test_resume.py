"""A tuning run killed during its Optuna phase resumes with every trial it had finished."""

from __future__ import annotations

import os
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest

pytestmark = pytest.mark.slow

ARGS = ["problem=breast_cancer", "model=random_forest", "tuning=bayes", "tracking=off", "progress=false",
        "selection.cv_folds=3", "problem.constraints.budget_minutes=10", "tuning.max_trials.optuna=14",
        "tuning.pruner=none", "stage=all"]


def finished_trials(db: Path) -> dict[int, float]:
    """trial number -> value, for COMPLETE trials of the Optuna phase, read straight from the storage."""
    if not db.exists():
        return {}
    with sqlite3.connect(db, timeout=30) as con:
        try:
            rows = con.execute(
                "select t.number, v.value from trials t join studies s on s.study_id = t.study_id "
                "join trial_values v on v.trial_id = t.trial_id where t.state = 'COMPLETE' and s.study_name like '%.optuna' "
                "and s.study_name not like '%.more.%'").fetchall()  # the phase's own study, not the leftover-time one
        except sqlite3.OperationalError:  # tables not created yet
            return {}
    return dict(rows)


def test_killed_tuning_resumes_with_its_finished_trials(tmp_path):
    env = {**os.environ, "SPECWEAVE_ROOT": str(tmp_path), "OMP_WAIT_POLICY": "PASSIVE"}
    cmd = [sys.executable, "-m", "specweave_ml", *ARGS]
    db = tmp_path / "increments" / "0002-breast-cancer" / "tuning" / "optuna.db"
    proc = subprocess.Popen(cmd, env=env, cwd=tmp_path, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, start_new_session=True)
    deadline = time.time() + 180
    while len(finished_trials(db)) < 3:
        assert proc.poll() is None, f"the run ended before it could be killed: {proc.stderr.read().decode()[-2000:]}"
        assert time.time() < deadline, "no Optuna trial finished in time"
        time.sleep(0.2)
    os.killpg(proc.pid, signal.SIGKILL)
    proc.wait()
    before = finished_trials(db)
    assert 3 <= len(before) < 14, "the kill must land during the Optuna phase"

    done = subprocess.run(cmd, env=env, cwd=tmp_path, capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr[-2000:]
    after = finished_trials(db)
    for number, value in before.items():
        assert after.get(number) == value, f"trial {number} finished before the kill is lost or changed"
    assert len(after) == 14  # the rerun finished the study: the killed trial failed, the rest completed
    assert (tmp_path / "increments" / "0002-breast-cancer" / "reports" / "metrics.json").exists()
