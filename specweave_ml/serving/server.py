"""Running the app: in this process (``stage=serve``) or as a real uvicorn subprocess (load tests, tests).

A subprocess gets its settings as JSON on the command line (``python -m specweave_ml.serving``), runs in a
process group of its own and is ended with it, and is considered up once ``/health`` answers 200.
"""

from __future__ import annotations

import logging
import os
import signal
import socket
import subprocess
import sys
import time
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator, Optional

from specweave_ml.errors import SpecweaveError
from specweave_ml.serving.settings import ServerConfig


class ServerFailed(SpecweaveError):
    """The model server did not come up."""


def build_app(config: ServerConfig):
    """Load the champion (and the challenger), check they take the same input, and build the family's app."""
    from specweave_ml import families
    from specweave_ml.errors import ConfigError
    from specweave_ml.fileio import read_json
    from specweave_ml.serving.bundle import load_bundle

    champion = load_bundle(config.increment)
    challenger = None
    if config.challenger:
        profile = champion.profile if config.challenger_model == "previous" else None
        challenger = load_bundle(config.challenger, config.challenger_model, variant="challenger", profile=profile)
        if challenger.columns != champion.columns:
            differ = sorted(set(challenger.columns.items()) ^ set(champion.columns.items()))
            raise ConfigError("serving.ab.challenger", f"its model takes other inputs than the champion's ({differ[:5]})",
                              "A/B-test models trained on the same features")
        answers = [(b.model.task, list(getattr(b.model, "classes_", []))) for b in (champion, challenger)]
        if answers[0] != answers[1]:
            raise ConfigError("serving.ab.challenger", f"its model answers {answers[1]}, the champion {answers[0]}",
                              "A/B-test models of the same task and classes")
    meta = read_json(Path(config.increment) / "metadata.json")  # load_bundle checked that it exists
    return families.named(meta.get("family", "tabular")).app(champion, config, challenger)


def serve(config: ServerConfig) -> None:
    """Serve until interrupted (Ctrl-C)."""
    import uvicorn

    app = build_app(config)
    uvicorn.run(app, host=config.host, port=config.port, log_level="warning", access_log=False)


def free_port(host: str = "127.0.0.1") -> int:
    with socket.socket() as s:
        s.bind((host, 0))
        return s.getsockname()[1]


def _wait_healthy(proc: subprocess.Popen, url: str, timeout: float, log_path: Path) -> None:
    import httpx

    logging.getLogger("httpx").setLevel(logging.WARNING)  # one INFO line per request otherwise

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            lines = log_path.read_text(errors="replace").strip().splitlines()
            raise ServerFailed("model server", f"exited with code {proc.returncode}: {lines[-1] if lines else 'no output'}",
                               "run stage=serve to see the whole error")
        try:
            if httpx.get(f"{url}/health", timeout=1.0).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.2)
    raise ServerFailed("model server", f"did not answer {url}/health within {timeout:g} s",
                       "raise serving.loadtest.startup_timeout_s, or run stage=serve to see why")


def stop(proc: subprocess.Popen) -> None:
    """End the server's whole process group: SIGTERM, then SIGKILL after 10 s."""
    if proc.poll() is not None:
        return
    try:
        os.killpg(proc.pid, signal.SIGTERM)
        proc.wait(timeout=10)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()
    except ProcessLookupError:
        pass


@contextmanager
def running_server(config: ServerConfig, startup_timeout: float = 60.0, log_path: Optional[Path] = None) -> Iterator[str]:
    """A real uvicorn server in a subprocess on ``config.host``; yields its base URL and stops it on exit."""
    import tempfile

    own_log = log_path is None
    if own_log:
        fd, name = tempfile.mkstemp(prefix="specweave-server-", suffix=".log")
        os.close(fd)
        log_path = Path(name)
    cmd = [sys.executable, "-m", "specweave_ml.serving", config.increment, "--settings", config.to_json()]
    with open(log_path, "wb") as out:
        proc = subprocess.Popen(cmd, stdout=out, stderr=subprocess.STDOUT, start_new_session=True)
    url = f"http://{config.host}:{config.port}"
    try:
        _wait_healthy(proc, url, startup_timeout, log_path)
        yield url
    finally:
        stop(proc)
        if own_log:
            log_path.unlink(missing_ok=True)
