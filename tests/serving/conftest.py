"""Fixtures for the serving tests: one real increment per session, and a real uvicorn server on it.

``built`` runs ``stage=all`` of the breast-cancer brief once (about 15 s) in a temporary project root with
MLflow on its SQLite store. ``retrained`` is a copy trained (with another seed) and packaged a second time, so it
has a previous champion (registered as v1, the champion as v2). Tests that change files work on a copy of either.
"""

import os

os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

import json  # noqa: E402
import shutil  # noqa: E402
from dataclasses import dataclass  # noqa: E402
from pathlib import Path  # noqa: E402

import pandas as pd  # noqa: E402
import pytest  # noqa: E402
from hydra import compose, initialize_config_dir  # noqa: E402
from omegaconf import OmegaConf  # noqa: E402

from specweave_ml import schema  # noqa: E402
from specweave_ml.paths import IncrementPaths  # noqa: E402
from specweave_ml.context import Context  # noqa: E402
from specweave_ml.stages import STAGES  # noqa: E402

CONF = Path(__file__).resolve().parents[2] / "conf"
BRIEF = "breast_cancer"


def _compose_at(root, *overrides):
    """The real config, composed for the breast-cancer brief under ``root``."""
    schema.register()
    with initialize_config_dir(config_dir=str(CONF), version_base="1.3"):
        cfg = compose(config_name="config", overrides=[f"problem={BRIEF}", "progress=false", *overrides])
    OmegaConf.update(cfg, "paths.root", str(root))
    return cfg


def _stage(root, name, *overrides):
    """Run one stage in this process, as ``python -m specweave_ml problem=breast_cancer stage=<name>`` would.

    Returns what the stage returns (``run_stage`` drops it).
    """
    return STAGES[name](Context.from_cfg(_compose_at(root, f"stage={name}", *overrides)))


def _shifted(frame: pd.DataFrame, by: float = 3.0) -> pd.DataFrame:
    """Every feature moved by ``by`` of its own standard deviations."""
    return frame + by * frame.std()


def _sample_value(text: str, name: str, **labels) -> float:
    """One sample of a Prometheus exposition (0 when absent)."""
    from prometheus_client.parser import text_string_to_metric_families

    for family in text_string_to_metric_families(text):
        for s in family.samples:
            if s.name == name and all(s.labels.get(k) == v for k, v in labels.items()):
                return s.value
    return 0.0


@pytest.fixture(scope="session")
def compose_at():
    """``compose_at(root, "stage=x", ...)``: the real config for the breast-cancer brief under ``root``."""
    return _compose_at


@pytest.fixture(scope="session")
def stage():
    """``stage(root, "monitor", "input=...")``: one stage run in this process; returns what it returns."""
    return _stage


@pytest.fixture(scope="session")
def shifted():
    """``shifted(frame)``: every feature moved by 3 of its standard deviations."""
    return _shifted


@pytest.fixture(scope="session")
def scrape():
    """``scrape(metrics_text, name, **labels)``: one Prometheus sample's value (0 when absent)."""
    return _sample_value


@dataclass(frozen=True)
class Project:
    root: Path  # paths.root: increments/ and mlflow.db

    @property
    def paths(self) -> IncrementPaths:
        return IncrementPaths(self.root / "increments" / "0002-breast-cancer")

    @property
    def meta(self) -> dict:
        return json.loads(self.paths.metadata.read_text())

    def copy(self, dest: Path) -> "Project":
        shutil.copytree(self.root, dest)
        return Project(dest)


@pytest.fixture(scope="session")
def built(tmp_path_factory) -> Project:
    root = tmp_path_factory.mktemp("served")
    _stage(root, "all")
    return Project(root)


@pytest.fixture(scope="session")
def retrained(built, tmp_path_factory) -> Project:
    project = built.copy(tmp_path_factory.mktemp("retrained") / "root")
    # Another seed: the same seed gives the same model, byte for byte, which would be no new champion at all.
    _stage(project.root, "train", "seed=7")
    _stage(project.root, "package", "seed=7")
    return project


@pytest.fixture(scope="session")
def holdout(built) -> pd.DataFrame:
    """The holdout's feature columns, in the signature's order."""
    features = json.loads(built.paths.split.read_text())["features"]
    return pd.read_parquet(built.paths.test)[features]


@pytest.fixture(scope="session")
def server(built):
    """A real uvicorn server in a subprocess on 127.0.0.1, on a free port; yields its base URL."""
    from specweave_ml.serving.server import free_port, running_server
    from specweave_ml.serving.settings import server_config

    cfg = _compose_at(built.root)
    config = server_config(cfg.serving, built.paths, port=free_port())
    with running_server(config, startup_timeout=90) as url:
        yield url


class InProcess:
    """An app called in this process through httpx's ASGI transport (Starlette's TestClient is deprecated)."""

    def __init__(self, app):
        self.app = app

    def request(self, method: str, url: str, **kwargs):
        import asyncio

        import httpx

        async def call():
            async with httpx.AsyncClient(transport=httpx.ASGITransport(app=self.app), base_url="http://app") as client:
                return await client.request(method, url, **kwargs)

        return asyncio.run(call())

    def get(self, url: str, **kwargs):
        return self.request("GET", url, **kwargs)

    def post(self, url: str, **kwargs):
        return self.request("POST", url, **kwargs)


@pytest.fixture(scope="session")
def in_process():
    """``in_process(app)``: a client for an app built in this process (its own metrics registry and window)."""
    return InProcess
