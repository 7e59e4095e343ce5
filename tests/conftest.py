"""Shared fixtures: the real configs composed with fast overrides, writing into ``tmp_path``."""

import os

# Before any OpenMP library loads (sklearn, LightGBM, XGBoost): busy-waiting threads starve two cores.
os.environ["OMP_WAIT_POLICY"] = "PASSIVE"

import subprocess  # noqa: E402
import sys  # noqa: E402
from pathlib import Path  # noqa: E402

import pytest  # noqa: E402
from omegaconf import OmegaConf  # noqa: E402

from _compose import compose_at  # noqa: E402

REPO = Path(__file__).resolve().parent.parent
CONF = REPO / "conf"


def compose_config(overrides=(), root=None):
    """The real ``conf/config.yaml`` composed with ``overrides``; ``paths.root`` set to ``root``."""
    return compose_at(root, overrides)


@pytest.fixture(scope="session")
def composed():
    """``composed("problem=wine")``: a composed config cached for the session. Read it, never change it."""
    cache = {}

    def _composed(*overrides):
        if overrides not in cache:
            cache[overrides] = compose_config(overrides)
            OmegaConf.set_readonly(cache[overrides], True)
        return cache[overrides]

    return _composed


@pytest.fixture(scope="session")
def default_config(composed):
    """The shipped config as composed with no overrides (read-only, shared by the session)."""
    return composed()


@pytest.fixture
def compose(tmp_path):
    """``compose(["problem=wine", ...])``: the composed config, writing under ``tmp_path``."""

    def _compose(overrides=()):
        return compose_config(overrides, root=tmp_path)

    return _compose


@pytest.fixture
def cli(tmp_path):
    """``cli("problem=fraud", "stage=plan")``: run ``python -m specweave_ml`` in ``tmp_path`` as a user would."""

    def _cli(*args, timeout=120):
        env = {**os.environ, "SPECWEAVE_ROOT": str(tmp_path), "OMP_WAIT_POLICY": "PASSIVE"}
        env.pop("HYDRA_FULL_ERROR", None)
        return subprocess.run(
            [sys.executable, "-m", "specweave_ml", *args],
            cwd=tmp_path, env=env, capture_output=True, text=True, timeout=timeout,
        )

    return _cli


@pytest.fixture
def files_under():
    """``files_under(root)``: every file and folder below ``root``, as relative paths."""

    def _files(root):
        return {str(p.relative_to(root)) for p in Path(root).rglob("*")}

    return _files
