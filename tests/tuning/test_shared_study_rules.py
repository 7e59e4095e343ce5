"""The rules of a shared study, on a SQLite file (no server, no training): which RUNNING trials are failed and
retried, claiming, the grid queue, the worker's leaving rule, and the storage's errors."""

from __future__ import annotations

import socket
import sqlite3
import subprocess
import sys
import threading
import time

import optuna
import pytest
from optuna.distributions import CategoricalDistribution
from optuna.trial import TrialState

from specweave_ml.errors import ConfigError
from specweave_ml.training import shared_study
from specweave_ml.training.tuning import TuningSettings, _queue_grid

optuna.logging.set_verbosity(optuna.logging.WARNING)
DEPTH = {"max_depth": CategoricalDistribution([3, 6, 9])}


@pytest.fixture
def study(tmp_path):
    storage = shared_study.storage_for(f"sqlite:///{tmp_path}/s.db", heartbeat_seconds=1)
    s = optuna.create_study(study_name="p.m.fine", storage=storage)
    s.set_user_attr(shared_study.ATTR, {"shared": True, "state": "open"})
    return s


def _running(study, worker: str, depth: int = 6, **system) -> int:
    trial = optuna.create_trial(state=TrialState.RUNNING, params={"max_depth": depth}, distributions=DEPTH,
                                user_attrs={"worker": worker} if worker else {}, system_attrs=system)
    study.add_trial(trial)
    return study.trials[-1].number


def _state(study, number: int) -> str:
    return study.trials[number].state.name


def test_a_trial_of_a_gone_local_process_is_failed_and_queued_again_once_with_its_params(study):
    gone = subprocess.Popen([sys.executable, "-c", "pass"])
    gone.wait()
    number = _running(study, f"{socket.gethostname()}:{gone.pid}", depth=9)
    shared_study.fail_stale(study)
    assert _state(study, number) == "FAIL"
    retries = [t for t in study.trials if t.system_attrs.get("retry_of") == number]
    assert len(retries) == 1 and retries[0].state == TrialState.WAITING and retries[0].params == {"max_depth": 9}
    assert "worker" not in retries[0].user_attrs  # the next owner records itself
    shared_study.fail_stale(study)
    assert len(study.trials) == 2  # nothing more: a failed trial is retried once


def test_a_retried_trial_that_dies_again_is_not_queued_a_third_time(study):
    gone = subprocess.Popen([sys.executable, "-c", "pass"])
    gone.wait()
    number = _running(study, f"{socket.gethostname()}:{gone.pid}", retry_of=0)
    shared_study.fail_stale(study)
    assert _state(study, number) == "FAIL" and len(study.trials) == 1


def test_live_trials_of_other_processes_and_hosts_are_left_running(study):
    alive = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(30)"])
    try:
        here = _running(study, f"{socket.gethostname()}:{alive.pid}")
        elsewhere = _running(study, "another-host:12345")
        legacy = _running(study, "")
        assert shared_study.fail_stale(study) == []
        assert [_state(study, n) for n in (here, elsewhere, legacy)] == ["RUNNING"] * 3
    finally:
        alive.kill()
        alive.wait()


def test_a_trial_from_before_owners_were_recorded_is_failed_when_the_coordinator_opens_the_phase_and_not_retried(study):
    number = _running(study, "")
    shared_study.fail_stale(study, legacy=True)
    assert _state(study, number) == "FAIL" and len(study.trials) == 1


def test_a_stale_heartbeat_fails_a_trial_of_another_host_and_a_fresh_one_does_not(study, tmp_path):
    stale, fresh = _running(study, "another-host:1"), _running(study, "another-host:2")
    storage = study._storage
    for number in (stale, fresh):
        storage.record_heartbeat(study.trials[number]._trial_id)
    with sqlite3.connect(tmp_path / "s.db") as con:
        con.execute("update trial_heartbeats set heartbeat = '2000-01-01 00:00:00' where trial_id = ?",
                    (study.trials[stale]._trial_id,))
    shared_study.fail_stale(study)
    assert (_state(study, stale), _state(study, fresh)) == ("FAIL", "RUNNING")
    assert [t.system_attrs.get("retry_of") for t in study.trials if t.state == TrialState.WAITING] == [stale]


def test_a_queued_trial_is_claimed_by_one_process_only(study):
    study.enqueue_trial({"max_depth": 3})
    first = shared_study.claim(study)
    assert first is not None and first.user_attrs["worker"] == shared_study.me()["worker"]
    assert shared_study.claim(study) is None


def test_a_grid_phase_runs_only_its_queued_points_and_never_asks_for_more(study):
    _queue_grid(study, {"max_depth": [3, 6, 9]}, trials=2, seed=0)
    seen = []
    shared_study.run_trials(study, lambda t: seen.append(t.suggest_categorical("max_depth", [3, 6, 9])) or 1.0,
                            target=2, grid=True, stop_at=time.perf_counter() + 30)
    assert len(seen) == 2 and len(set(seen)) == 2 and len(study.trials) == 2


def test_the_grid_queue_skips_finished_points_and_drops_points_of_another_grid(study):
    study.add_trial(optuna.create_trial(params={"max_depth": 3}, distributions=DEPTH, value=0.5))
    study.enqueue_trial({"max_depth": 12})  # queued by an earlier run around another best point
    _queue_grid(study, {"max_depth": [3, 6, 9]}, trials=3, seed=0)
    waiting = sorted(t.system_attrs["fixed_params"]["max_depth"] for t in study.trials if t.state == TrialState.WAITING)
    assert waiting == [6, 9]
    assert study.trials[1].state == TrialState.FAIL  # the other grid's point, never run
    _queue_grid(study, {"max_depth": [3, 6, 9]}, trials=3, seed=0)
    assert sum(t.state == TrialState.WAITING for t in study.trials) == 2  # queuing again adds nothing


def test_the_optuna_phase_counts_trials_across_processes(study):
    study.add_trial(optuna.create_trial(params={"max_depth": 3}, distributions=DEPTH, value=0.5))  # another process's
    ran = []
    shared_study.run_trials(study, lambda t: ran.append(1) or 1.0, target=3, grid=False, stop_at=time.perf_counter() + 30)
    assert len(ran) == 2 and len(study.trials) == 3


def _work(storage, idle: float):
    from specweave_ml.training.tune_worker import work

    settings = TuningSettings(phases=["optuna"], budget_seconds=1, budget_shares={}, max_trials={}, early_stopping_rounds=1,
                              train_score_rows=1, storage_url="", study_prefix="p")
    return work(storage, "p", lambda *a: None, settings, "roc_auc", idle_seconds=idle, poll_seconds=0.05)


def test_a_worker_leaves_when_the_run_it_saw_finishes(study):
    storage = study._storage
    control = shared_study.control_study(storage, "p")
    control.set_user_attr("run", {"id": "r1", "state": "running"})
    study.set_user_attr(shared_study.ATTR, {"shared": True, "state": "closed"})
    threading.Timer(0.3, lambda: control.set_user_attr("run", {"id": "r1", "state": "finished"})).start()
    assert _work(storage, idle=30).reason == "the coordinating run finished tuning"


def test_a_worker_does_not_leave_on_a_run_that_finished_before_it_came_only_when_idle(study):
    storage = study._storage
    shared_study.control_study(storage, "p").set_user_attr("run", {"id": "r0", "state": "finished"})
    study.set_user_attr(shared_study.ATTR, {"shared": True, "state": "closed"})
    start = time.monotonic()
    report = _work(storage, idle=0.5)
    assert report.reason.startswith("no phase was open for 0.5 s") and time.monotonic() - start >= 0.5


def test_a_bad_storage_url_or_a_missing_driver_names_tuning_storage():
    with pytest.raises(ConfigError) as bad:
        shared_study.storage_for("nosuchdb://x/y")
    assert bad.value.where == "tuning.storage" and "postgresql://" in bad.value.fix
    with pytest.raises(ConfigError) as driver:
        shared_study.storage_for("postgresql+nosuchdriver://u@127.0.0.1:1/db")
    assert driver.value.where == "tuning.storage"


def test_server_urls_get_the_installed_driver_and_passwords_stay_out_of_messages():
    assert shared_study.is_server("postgresql://u@h/db") and not shared_study.is_server("sqlite:///x.db")
    assert not shared_study.is_server(None)
    assert shared_study.with_driver("postgres://u@h/db").startswith("postgresql")
    assert shared_study.with_driver("sqlite:///x.db") == "sqlite:///x.db"
    assert shared_study._redacted("postgresql://u:secret@h:5432/db") == "postgresql://u:***@h:5432/db"


@pytest.mark.parametrize("override, key", [("tuning.heartbeat_seconds=0", "tuning.heartbeat_seconds"),
                                           ("tuning.worker_idle_seconds=-1", "tuning.worker_idle_seconds")])
def test_shared_tuning_settings_are_checked(tmp_path, override, key):
    from _compose import compose_at

    from specweave_ml.settings_check import validate_settings

    validate_settings(compose_at(tmp_path, ["problem=breast_cancer", "tuning=phased"]))  # the defaults pass
    with pytest.raises(ConfigError) as info:
        validate_settings(compose_at(tmp_path, ["problem=breast_cancer", "tuning=phased", override]))
    assert info.value.where == key


def test_the_storage_check_opens_anything_but_a_sqlite_file(tmp_path):
    with pytest.raises(ConfigError) as info:
        shared_study.check_storage("nosuchdb://x/y")
    assert info.value.where == "tuning.storage"
    shared_study.check_storage(f"sqlite:///{tmp_path}/later.db")  # silent, and nothing is created yet
    shared_study.check_storage(None)
    assert not (tmp_path / "later.db").exists()
