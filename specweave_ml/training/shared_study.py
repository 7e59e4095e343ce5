"""One Optuna study, many processes: who owns a trial, what a killed one leaves, and the loop every process runs.

Every phase's study lives in one storage (SQLite under the increment by default; ``tuning.storage=postgresql://...``
lets ``stage=tune_worker`` processes on other machines join). What makes sharing safe:

- **Ownership.** Each trial records the process that runs it (``worker``: host and pid) and, while it runs, a
  heartbeat every ``heartbeat_seconds`` (Optuna's RDB heartbeat).
- **A killed process.** Its RUNNING trial is failed once its heartbeat is older than the grace period (3 heartbeats),
  or at once when its owner was a process of this host that is gone (a rerun after a kill need not wait). A failed
  shared trial is queued again once, with the same parameters (``retry_of`` names the original); finished trials are
  never touched, so none is lost or run twice. Before this module a resume failed *every* RUNNING trial, which with
  several workers would have killed the live trials of the others.
- **Claiming.** A queued (WAITING) trial is claimed by one process only: the state change WAITING -> RUNNING is a
  row-locked update (``SELECT ... FOR UPDATE`` on PostgreSQL). Grid phases queue every grid point up front and
  processes only claim, so no grid point runs twice; the Optuna phase creates new trials while the trials taken
  (finished, running and queued, counted across every process) are fewer than its target.
- **Phases.** The coordinator (``stage=train``) publishes what a worker needs on each phase study it opens (the
  ``specweave`` user attribute, see ``publish``) and marks it closed when the phase ends; ``tuning_run`` marks the
  whole tuning run started and finished in a control study, so a worker knows when to leave.
"""

from __future__ import annotations

import json
import logging
import os
import socket
import threading
import time
import warnings
from contextlib import contextmanager
from typing import Any, Callable, Iterator, Optional

from specweave_ml.errors import ConfigError

log = logging.getLogger(__name__)

ATTR = "specweave"  # the study user attribute the coordinator publishes a phase in
CONTROL = "control"  # <prefix>.control: the tuning run's state (started, finished)
GRACE_HEARTBEATS = 3  # a running trial is stale after this many missed heartbeats
SERVER_SCHEMES = ("postgresql", "postgres", "mysql")
POLL_SECONDS = 0.5


# -- the storage ---------------------------------------------------------------------------------------------------
def is_server(url: Optional[str]) -> bool:
    """A database server several processes and machines can share (not a SQLite file)."""
    return bool(url) and url.split("://", 1)[0].split("+", 1)[0] in SERVER_SCHEMES


STORAGE_FIX = ("use postgresql://USER:PASSWORD@HOST:PORT/DATABASE for a PostgreSQL server that is running (createdb DATABASE "
               "first), or null for a SQLite file under the increment")


def storage_for(url: str, heartbeat_seconds: float = 10.0):
    """The RDB storage with heartbeats and the retry of stale trials. A server that cannot be reached, a URL that
    does not parse or a missing driver end in one ConfigError naming ``tuning.storage``."""
    import optuna

    if url.startswith("sqlite:///"):
        from pathlib import Path

        Path(url.removeprefix("sqlite:///")).parent.mkdir(parents=True, exist_ok=True)
    kwargs = {"connect_args": {"timeout": 30}} if url.startswith("sqlite") else \
        {"connect_args": {"connect_timeout": 10}} if url.startswith("postgres") else {}
    interval = max(1, int(round(heartbeat_seconds)))
    try:
        for attempt in range(5):
            try:
                with warnings.catch_warnings():
                    warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)  # heartbeats: experimental
                    return optuna.storages.RDBStorage(with_driver(url), engine_kwargs=kwargs, heartbeat_interval=interval,
                                                      grace_period=GRACE_HEARTBEATS * interval,
                                                      heartbeat_stale_trial_callback=retry_once)
            except Exception as err:  # processes starting together on an empty database race to create its tables
                if "already exists" not in str(err) or attempt == 4:
                    raise
                time.sleep(0.5 * (attempt + 1))
    except ImportError as err:
        cause = err.__cause__ or err
        raise ConfigError("tuning.storage", f"needs a database driver that is not installed ({cause})",
                          "pip install psycopg2-binary (it is in the project's requirements), or use null for SQLite") from None
    except Exception as err:  # sqlalchemy's ArgumentError / OperationalError, optuna's wrapped errors
        reason = str(getattr(err, "orig", None) or err).strip().splitlines()[0][:300]
        raise ConfigError("tuning.storage", f"could not open the Optuna storage {_redacted(url)} ({type(err).__name__}: {reason})",
                          STORAGE_FIX) from None


def with_driver(url: str) -> str:
    """``postgresql://`` with the driver that is installed: SQLAlchemy 2.1 picks psycopg 3 by default, the project
    ships psycopg2 (``postgres://``, Heroku's spelling, is read as ``postgresql://``)."""
    import importlib.util

    scheme, sep, rest = url.partition("://")
    if scheme in ("postgres", "postgresql") and importlib.util.find_spec("psycopg") is None \
            and importlib.util.find_spec("psycopg2") is not None:
        return f"postgresql+psycopg2{sep}{rest}"
    return f"postgresql{sep}{rest}" if scheme == "postgres" else url


def check_storage(url: Optional[str], heartbeat_seconds: float = 10.0) -> None:
    """Open a storage once before a stage writes anything: a server that does not answer, a URL that does not parse or
    a missing driver is found before fetch and prepare land (a SQLite file is created when first used, not here)."""
    if url and not url.startswith("sqlite"):
        storage_for(url, heartbeat_seconds).remove_session()


def _redacted(url: str) -> str:
    """The URL without its password, for messages."""
    head, sep, tail = url.partition("://")
    if "@" not in tail:
        return url
    creds, host = tail.rsplit("@", 1)
    return f"{head}{sep}{creds.split(':', 1)[0]}:***@{host}" if ":" in creds else url


# -- ownership and killed processes ----------------------------------------------------------------------------------
def me() -> dict:
    return {"worker": f"{socket.gethostname()}:{os.getpid()}"}


def _owner_gone(attrs: dict) -> bool:
    """True when the trial's owner ran on this host and that process is gone. (A pid reused since is taken for the
    owner; the trial's heartbeat then still goes stale and fails it after the grace period.)"""
    host, _, pid = str(attrs.get("worker", "")).rpartition(":")
    if host != socket.gethostname() or not pid.isdigit() or int(pid) == os.getpid():
        return False
    try:
        os.kill(int(pid), 0)
    except ProcessLookupError:
        return True
    except PermissionError:
        pass
    return False


def retry_once(study, trial) -> None:
    """A failed shared trial queued again once, with its parameters (``retry_of``: the original trial's number). A
    process killed between two suggestions leaves some parameters undrawn: the retry keeps those drawn and samples the
    rest."""
    import optuna

    if not study.user_attrs.get(ATTR, {}).get("shared", True) or "retry_of" in trial.system_attrs:
        return
    user = {k: v for k, v in trial.user_attrs.items() if k != "worker"}
    system = {k: v for k, v in trial.system_attrs.items() if k == "fixed_params"}
    study.add_trial(optuna.create_trial(state=optuna.trial.TrialState.WAITING, params=trial.params,
                                        distributions=trial.distributions, user_attrs=user,
                                        system_attrs={**system, "retry_of": trial.number}))
    log.info("%s: trial %d of a process that stopped answering failed; its parameters are queued again",
             study.study_name, trial.number)


def fail_stale(study, legacy: bool = False) -> list[int]:
    """Fail the RUNNING trials whose process is gone: heartbeat older than the grace period, or an owner of this
    host that no longer runs, and with ``legacy`` (the coordinator opening a phase) trials with no owner at all, left
    by a version before owners were recorded. Each failed trial with an owner is retried once."""
    import optuna
    from optuna.trial import TrialState

    storage = study._storage
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        stale = set(storage._get_stale_trial_ids(study._study_id))
    failed = []
    for t in storage.get_all_trials(study._study_id, deepcopy=False, states=(TrialState.RUNNING,)):
        if t._trial_id in stale or _owner_gone(t.user_attrs) or (legacy and "worker" not in t.user_attrs):
            try:
                if storage.set_trial_state_values(t._trial_id, state=TrialState.FAIL):
                    failed.append(t._trial_id)
            except optuna.exceptions.UpdateFinishedTrialError:
                pass  # another process failed (or finished) it first
    for trial_id in failed:
        trial = storage.get_trial(trial_id)
        if "worker" in trial.user_attrs:  # an older version's leftovers are failed, as they always were, not retried
            retry_once(study, trial)
    return failed


@contextmanager
def heartbeat(storage, trial_id: int) -> Iterator[None]:
    """Record the trial's heartbeat every ``heartbeat_interval`` seconds while it runs."""
    stop = threading.Event()

    def beat():
        while True:
            try:
                storage.record_heartbeat(trial_id)
            except Exception as err:  # a lost connection: the trial may be failed by the others, the run goes on
                log.warning("heartbeat of trial id %d not recorded: %s", trial_id, err)
            if stop.wait(storage.get_heartbeat_interval() or 10):
                return

    thread = threading.Thread(target=beat, daemon=True)
    thread.start()
    try:
        yield
    finally:
        stop.set()
        thread.join()


# -- claiming and running trials -------------------------------------------------------------------------------------
def claim(study):
    """A queued trial, now RUNNING for this process only; None when the queue is empty."""
    import optuna
    from optuna.trial import TrialState

    storage = study._storage
    for t in storage.get_all_trials(study._study_id, deepcopy=False, states=(TrialState.WAITING,)):
        try:
            if storage.set_trial_state_values(t._trial_id, state=TrialState.RUNNING):
                return owned(study, optuna.Trial(study, t._trial_id))
        except optuna.exceptions.UpdateFinishedTrialError:
            continue
    return None


def ask(study):
    """A new trial (or a queued one) owned by this process; our loops record its heartbeat themselves, which Optuna's
    warning about heartbeats outside ``Study.optimize`` cannot see."""
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message="Heartbeat of storage")
        return owned(study, study.ask())


def owned(study, trial):
    for key, value in me().items():
        trial.set_user_attr(key, value)
    return trial


def count(study, *states: str) -> int:
    from optuna.trial import TrialState

    return len(study._storage.get_all_trials(study._study_id, deepcopy=False, states=tuple(TrialState[s] for s in states)))


def stale_trials(values: list[float], better: Callable[[float, float], bool]) -> int:
    """Finished trials since the best one (the patience rule's count): 0 when the last trial was the best."""
    best_at = 0
    for i, v in enumerate(values):
        if better(v, values[best_at]):
            best_at = i
    return len(values) - 1 - best_at if values else 0


def _patience_spent(study, patience: int, better) -> bool:
    if not patience:
        return False
    from optuna.trial import TrialState

    trials = study._storage.get_all_trials(study._study_id, deepcopy=False, states=(TrialState.COMPLETE,))
    values = [t.value for t in sorted(trials, key=lambda t: t.number)]
    return len(values) > patience and stale_trials(values, better) >= patience


def run_trials(study, objective, *, target: int, grid: bool, stop_at: float, patience: int = 0,
               better: Callable[[float, float], bool] = lambda a, b: a > b, wait: bool = False,
               still_open: Callable[[], bool] = lambda: True, on_trial: Optional[Callable[[Any], None]] = None,
               refill: Callable[[], bool] = lambda: False) -> bool:
    """Run the phase's trials in this process until it has none left to take, ``stop_at`` (``time.perf_counter()``)
    passes or the patience rule ends the phase; returns whether patience ended it.

    Grid phases only claim queued trials; the Optuna phase claims queued ones (retries) first, then asks for new
    trials while those taken across every process are fewer than ``target``. With ``wait`` (the coordinator), a
    phase that has nothing to take but trials running elsewhere waits for them, failing and retrying stale ones.
    ``refill()`` queues the next grid point when the queue is empty (False: none left).
    """
    import optuna
    from optuna.trial import TrialState

    checked = -float("inf")
    while time.perf_counter() < stop_at and still_open():
        if _patience_spent(study, patience, better):
            return True
        if time.perf_counter() - checked >= (study._storage.get_heartbeat_interval() or 0):  # no need to look more often
            fail_stale(study)
            checked = time.perf_counter()
        trial = claim(study)
        if trial is None and refill():  # a grid queued one point at a time (no other process can join)
            trial = claim(study)
        if trial is None and not grid and count(study, "COMPLETE", "PRUNED", "RUNNING", "WAITING") < target:
            trial = ask(study)
        if trial is None:
            if wait and count(study, "RUNNING"):
                time.sleep(POLL_SECONDS)
                continue
            return False
        with heartbeat(study._storage, trial._trial_id):
            try:
                value = objective(trial)
            except optuna.TrialPruned:
                study.tell(trial, state=TrialState.PRUNED)
            except BaseException:
                study.tell(trial, state=TrialState.FAIL)
                raise
            else:
                study.tell(trial, value)
        if on_trial is not None:
            on_trial(study._storage.get_trial(trial._trial_id))
    return _patience_spent(study, patience, better)


def wait_for_running(study, until: float) -> None:
    """After a phase is closed: the trials other processes are still running finish (or go stale) before it is read."""
    while count(study, "RUNNING") and time.perf_counter() < until:
        time.sleep(POLL_SECONDS)
        for trial_id in fail_stale(study):
            log.info("%s: a running trial (id %d) went stale after the phase closed", study.study_name, trial_id)


# -- what the coordinator publishes -----------------------------------------------------------------------------------
def plain(value):
    """JSON-safe copies of parameters (numpy numbers become Python ones)."""
    return json.loads(json.dumps(value, default=lambda v: v.item() if hasattr(v, "item") else str(v)))


def publish(study, *, seconds_left: float, deadline_left: float, **spec) -> None:
    """Open the phase to workers: ``spec`` (model, phase, grid or space, base params, rows, target, seed, ...) with
    wall-clock ends, since the processes share no ``perf_counter``."""
    now = time.time()
    study.set_user_attr(ATTR, plain({**spec, "state": "open", "ends_at": now + seconds_left,
                                     "deadline_at": now + deadline_left}))


def close(study) -> None:
    spec = dict(study.user_attrs.get(ATTR) or {})
    if spec:
        study.set_user_attr(ATTR, {**spec, "state": "closed"})


def control_study(storage, prefix: str):
    import optuna

    return optuna.create_study(study_name=f"{prefix}.{CONTROL}", storage=storage, load_if_exists=True)


@contextmanager
def tuning_run(storage, prefix: str) -> Iterator[None]:
    """Mark the tuning run started, then finished however it ends: workers leave once it is finished."""
    import uuid

    control = control_study(storage, prefix)
    run = uuid.uuid4().hex[:12]
    control.set_user_attr("run", {"id": run, "state": "running"})
    try:
        yield
    finally:
        control.set_user_attr("run", {"id": run, "state": "finished"})


def run_state(storage, prefix: str) -> dict:
    return dict(control_study(storage, prefix).user_attrs.get("run") or {})


def open_phases(storage, prefix: str) -> list:
    """The open phase studies of this increment's tuning (name, published spec), oldest first."""
    found = []
    for s in storage.get_all_studies():
        spec = s.user_attrs.get(ATTR)
        if s.study_name.startswith(prefix + ".") and isinstance(spec, dict) and spec.get("state") == "open" and spec.get("shared", True):
            found.append((s.study_name, spec))
    return found


def workers_of(study) -> dict:
    """Finished trials per process, for the tuning report."""
    out: dict = {}
    for t in study.trials:
        if t.state.is_finished() and t.state.name != "FAIL":
            out[t.user_attrs.get("worker", "?")] = out.get(t.user_attrs.get("worker", "?"), 0) + 1
    return out
