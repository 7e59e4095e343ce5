"""Tuning workers on a shared Optuna study in a real PostgreSQL server started by the tests (127.0.0.1, own folder).

The coordinator (stage=train) and two stage=tune_worker processes tune breast_cancer's LightGBM together: every
trial is recorded once, no grid point runs twice, the workers run trials of their own; a worker killed mid-trial
loses no finished trial and its trial is retried once; a storage that cannot be reached is one clear error.
"""

from __future__ import annotations

import glob
import json
import os
import pwd
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pytest

from specweave_ml.serving.server import free_port

pytestmark = pytest.mark.slow

BRIEF = ["problem=breast_cancer", "model=lightgbm", "tuning=phased", "tracking=off", "progress=false", "selection.cv_folds=3",
         "problem.constraints.budget_minutes=4", "tuning.max_trials.coarse=6", "tuning.max_trials.fine=6",
         "tuning.max_trials.optuna=8", "tuning.patience=0", "tuning.heartbeat_seconds=1", "tuning.worker_idle_seconds=60"]
INCREMENT = "0002-breast-cancer"


@pytest.fixture(scope="session")
def postgres():
    """A PostgreSQL server of its own: initdb in a temporary folder owned by the postgres user (the server refuses to
    run as root), on 127.0.0.1 and a free port, its socket in that folder; stopped (immediate) and removed at the end."""
    found = sorted(glob.glob("/usr/lib/postgresql/*/bin/pg_ctl"))
    if not found:
        pytest.skip("no PostgreSQL server binaries under /usr/lib/postgresql/*/bin (apt-get install postgresql)")
    bindir = Path(found[-1]).parent
    as_pg: list[str] = []
    root = Path(tempfile.mkdtemp(prefix="specweave-pg-"))
    if os.geteuid() == 0:
        as_pg = ["runuser", "-u", "postgres", "--"]
        user = pwd.getpwnam("postgres")
        os.chown(root, user.pw_uid, user.pw_gid)
    data, port = root / "data", free_port()
    run = dict(check=True, capture_output=True, text=True, timeout=120)
    started = False
    try:
        subprocess.run([*as_pg, str(bindir / "initdb"), "-D", str(data), "-U", "postgres", "--auth=trust", "-E", "UTF8"], **run)
        subprocess.run([*as_pg, str(bindir / "pg_ctl"), "-D", str(data), "-l", str(root / "server.log"), "-w", "-t", "60",
                        "-o", f"-c listen_addresses=127.0.0.1 -p {port} -k {root} -c fsync=off", "start"],
                       start_new_session=True, **run)
        started = True
        yield {"port": port, "bindir": bindir, "as_pg": as_pg}
    finally:
        if started:
            subprocess.run([*as_pg, str(bindir / "pg_ctl"), "-D", str(data), "-m", "immediate", "-w", "stop"],
                           capture_output=True, timeout=60)
        shutil.rmtree(root, ignore_errors=True)


@pytest.fixture
def pg_url(postgres, request):
    """A fresh database on the session's server, so each test's studies start empty."""
    name = "t_" + "".join(c for c in request.node.name.lower() if c.isalnum())[:40]
    subprocess.run([*postgres["as_pg"], str(postgres["bindir"] / "createdb"), "-h", "127.0.0.1", "-p", str(postgres["port"]),
                    "-U", "postgres", name], check=True, capture_output=True, timeout=60)
    return f"postgresql://postgres@127.0.0.1:{postgres['port']}/{name}"


def _env(root: Path) -> dict:
    return {**os.environ, "SPECWEAVE_ROOT": str(root), "OMP_WAIT_POLICY": "PASSIVE"}


def _cli(root: Path, *args: str, **kw) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "specweave_ml", *args], env=_env(root), cwd=root, capture_output=True,
                          text=True, timeout=kw.pop("timeout", 300), **kw)


def _worker(root: Path, url: str, log: Path) -> subprocess.Popen:
    with open(log, "w") as out:
        return subprocess.Popen([sys.executable, "-m", "specweave_ml", *BRIEF, "stage=tune_worker", f"tuning.storage={url}"],
                                env=_env(root), cwd=root, stdout=out, stderr=subprocess.STDOUT, start_new_session=True)


def _stop(procs) -> None:
    for p in procs:
        if p.poll() is None:
            os.killpg(p.pid, signal.SIGKILL)
            p.wait()


def _phase_studies(url: str, storage=None) -> dict:
    """Every shared (grid or Optuna) phase study: name -> its trials (on ``storage`` when given, else a new one)."""
    import optuna

    from specweave_ml.training.shared_study import with_driver

    storage = storage or optuna.storages.RDBStorage(with_driver(url))
    out = {}
    for s in storage.get_all_studies():
        spec = s.user_attrs.get("specweave") or {}
        if spec.get("shared"):
            out[s.study_name] = storage.get_all_trials(s._study_id)
    return out


def _check_recorded_once(studies: dict) -> dict:
    """Every trial number once; every grid point finished once; finished trials per worker."""
    workers: dict = {}
    for name, trials in studies.items():
        numbers = [t.number for t in trials]
        assert len(numbers) == len(set(numbers)), f"{name}: a trial number recorded twice"
        finished = [t for t in trials if t.state.name in ("COMPLETE", "PRUNED")]
        if name.endswith(".fine"):
            points = [json.dumps(t.params, sort_keys=True) for t in finished]
            assert len(points) == len(set(points)), f"{name}: a grid point ran twice: {sorted(points)}"
        assert not [t for t in trials if t.state.name in ("RUNNING", "WAITING") and "retry_of" not in t.system_attrs], \
            f"{name}: trials left running or queued"
        for t in finished:
            workers[t.user_attrs["worker"]] = workers.get(t.user_attrs["worker"], 0) + 1
    return workers


def _prepared(tmp_path: Path) -> None:
    done = _cli(tmp_path, *BRIEF, "stage=prepare")
    assert done.returncode == 0, done.stderr[-2000:]


def test_two_workers_and_the_coordinator_finish_a_phased_study_with_every_trial_once(tmp_path, pg_url):
    _prepared(tmp_path)
    logs = [tmp_path / "w1.log", tmp_path / "w2.log"]
    workers = [_worker(tmp_path, pg_url, log) for log in logs]
    try:
        done = _cli(tmp_path, *BRIEF, "stage=train", f"tuning.storage={pg_url}")
        assert done.returncode == 0, done.stderr[-3000:]
        for w, log in zip(workers, logs):
            assert w.wait(timeout=60) == 0, f"a worker did not leave cleanly: {log.read_text()[-3000:]}"
    finally:
        _stop(workers)
    texts = [log.read_text() for log in logs]
    assert all("left because the coordinating run finished tuning" in t for t in texts), texts[0][-1500:]
    studies = _phase_studies(pg_url)
    assert any(n.endswith(".fine") for n in studies) and any(n.endswith(".optuna") for n in studies), list(studies)
    per_worker = _check_recorded_once(studies)
    worker_ids = {f"{socket.gethostname()}:{w.pid}" for w in workers}
    assert sum(n for w, n in per_worker.items() if w in worker_ids) > 0, f"the workers ran no trial: {per_worker}"
    for w, text in zip(workers, texts):
        ran = per_worker.get(f"{socket.gethostname()}:{w.pid}", 0)
        assert text.count(" trial ") >= ran  # one log line per trial it finished
    training = json.loads((tmp_path / "increments" / INCREMENT / "reports" / "training.json").read_text())
    phases = training["tuning"]["lightgbm"]["phases"]
    fine = next(p for p in phases if p["phase"] == "fine")
    assert sum(fine["workers"].values()) == fine["trials_finished"] + fine["trials_pruned"]  # the report counts every process


def test_a_worker_killed_mid_trial_loses_no_finished_trial_and_its_trial_is_retried_once(tmp_path, pg_url):
    """Whichever worker is first seen holding a trial is frozen, checked still to hold it, and killed. One storage
    connection serves every poll: a new one per poll is slow enough under load to miss every short trial."""
    import optuna

    from specweave_ml.training.shared_study import with_driver

    _prepared(tmp_path)
    logs = [tmp_path / "w1.log", tmp_path / "w2.log"]
    workers = [_worker(tmp_path, pg_url, log) for log in logs]
    owners = {f"{socket.gethostname()}:{w.pid}": w for w in workers}
    coordinator = subprocess.Popen([sys.executable, "-m", "specweave_ml", *BRIEF, "stage=train", f"tuning.storage={pg_url}"],
                                   env=_env(tmp_path), cwd=tmp_path, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                                   text=True, start_new_session=True)
    watch = optuna.storages.RDBStorage(with_driver(pg_url))
    try:
        killed, until = None, time.time() + 240
        while killed is None:
            logs_tail = " | ".join(log.read_text()[-600:] for log in logs)
            assert coordinator.poll() is None, \
                f"training ended before a worker could be killed: {coordinator.stderr.read()[-1500:]} workers: {logs_tail}"
            assert time.time() < until, f"no worker was seen holding a trial; workers: {logs_tail}"
            for name, trials in _phase_studies(pg_url, watch).items():
                held = [t for t in trials if t.state.name == "RUNNING" and t.user_attrs.get("worker") in owners and t.params]
                if held:  # frozen first, so the kill lands mid-trial, not just after the trial finished
                    victim = owners[held[0].user_attrs["worker"]]
                    os.killpg(victim.pid, signal.SIGSTOP)
                    now = {t.number: t for t in _phase_studies(pg_url, watch)[name]}[held[0].number]
                    if now.state.name != "RUNNING":
                        os.killpg(victim.pid, signal.SIGCONT)
                        break
                    os.killpg(victim.pid, signal.SIGKILL)
                    victim.wait()
                    killed = (name, held[0].number, held[0].user_attrs["worker"])
                    break
            time.sleep(0.05)
        before = {(n, t.number): t.value for n, ts in _phase_studies(pg_url, watch).items() for t in ts if t.state.name == "COMPLETE"}
        _, err = coordinator.communicate(timeout=300)
        assert coordinator.returncode == 0, err[-3000:]
        survivor = next(w for owner, w in owners.items() if owner != killed[2])
        assert survivor.wait(timeout=60) == 0
    finally:
        watch.remove_session()
        _stop([coordinator, *workers])
    studies = _phase_studies(pg_url)
    after = {(n, t.number): t.value for n, ts in studies.items() for t in ts if t.state.name == "COMPLETE"}
    for key, value in before.items():
        assert after.get(key) == value, f"trial {key} finished before the kill is lost or changed"
    name, number, owner = killed
    trials = {t.number: t for t in studies[name]}
    assert trials[number].state == optuna.trial.TrialState.FAIL
    retries = [t for t in trials.values() if t.system_attrs.get("retry_of") == number]
    assert len(retries) == 1, "the killed trial must be queued again exactly once"
    # The retry draws the killed trial's point again: every parameter it had drawn (a kill can land between two
    # suggestions, and the retry then samples the rest anew).
    assert trials[number].params.items() <= retries[0].params.items(), (trials[number].params, retries[0].params)
    assert retries[0].state.name in ("COMPLETE", "PRUNED")
    assert retries[0].user_attrs["worker"] != owner
    _check_recorded_once(studies)


def test_a_storage_that_cannot_be_reached_is_one_clear_error_and_nothing_is_written(tmp_path, postgres):
    url = f"postgresql://postgres@127.0.0.1:{free_port()}/nothing"  # a port nothing listens on
    done = _cli(tmp_path, *BRIEF, "stage=all", f"tuning.storage={url}", timeout=120)
    assert done.returncode == 2
    assert done.stderr.startswith("error: tuning.storage: could not open the Optuna storage") and "Fix:" in done.stderr
    assert "Traceback" not in done.stderr
    assert not (tmp_path / "increments").exists()


def test_a_worker_needs_a_server_storage_and_a_prepared_split(tmp_path, pg_url):
    local = _cli(tmp_path, *BRIEF, "stage=tune_worker", timeout=120)
    assert local.returncode == 2 and local.stderr.startswith("error: tuning.storage: stage=tune_worker needs a database server")
    unprepared = _cli(tmp_path, *BRIEF, "stage=tune_worker", f"tuning.storage={pg_url}", timeout=120)
    assert unprepared.returncode == 2 and "run stage=prepare" in unprepared.stderr, unprepared.stderr
    assert "Traceback" not in unprepared.stderr
    untuned = _cli(tmp_path, *BRIEF, "tuning=none", "stage=tune_worker", f"tuning.storage={pg_url}", timeout=120)
    assert untuned.returncode == 2 and untuned.stderr.startswith("error: tuning: tuning=none has no phases"), untuned.stderr
    text = _cli(tmp_path, "problem=rotten_tomatoes", "tuning=phased", "tracking=off", "stage=tune_worker",
                f"tuning.storage={pg_url}", timeout=120)
    assert text.returncode == 2 and text.stderr.startswith("error: stage: stage=tune_worker joins the tuning of tabular briefs"), text.stderr
