"""The increment's Dockerfile: it cannot be built here, so these tests read it."""

import json
import re
from pathlib import Path

import pytest

from specweave_ml.paths import IncrementPaths
from specweave_ml.serving.docker import render
from specweave_ml.serving.settings import ServerConfig

CONFIG = ServerConfig(increment="/x", host="127.0.0.1", port=8000, max_body_bytes=4096, max_batch_rows=10,
                      drift_window=100, drift_min_rows=10, psi_threshold=0.2, challenger=None, challenger_model="champion",
                      split=0.5, key_header="X-Request-Key", salt="s")


def instructions(text: str) -> list[tuple[str, str]]:
    joined = re.sub(r"\\\n", " ", text)
    return [tuple(line.split(" ", 1)) for line in joined.splitlines() if line and not line.startswith("#")]


def test_the_dockerfile_copies_the_model_installs_its_pins_and_serves_on_all_interfaces(tmp_path):
    paths = IncrementPaths(tmp_path / "increments" / "0007-demo")
    paths.model.mkdir(parents=True)
    (paths.model / "python_env.yaml").write_text("python: 3.11.7\n")
    text = render(paths, Path("increments/0007-demo"), CONFIG, {"name": "xgboost", "sha256": "ab" * 32})
    steps = instructions(text)
    assert steps[0] == ("FROM", "python:3.11.7-slim")
    copies = [args for op, args in steps if op == "COPY"]
    assert "increments/0007-demo/models/champion /srv/increment/models/champion" in copies
    assert "increments/0007-demo/metadata.json /srv/increment/metadata.json" in copies
    run = " ".join(args for op, args in steps if op == "RUN")
    assert "pip install -r /srv/requirements.txt" in run and "fastapi==" in run and "uvicorn==" in run
    cmd = json.loads(dict(steps)["CMD"])
    settings = json.loads(cmd[cmd.index("--settings") + 1])
    assert cmd[:4] == ["python", "-m", "specweave_ml.serving", "/srv/increment"]
    assert settings["host"] == "0.0.0.0" and settings["increment"] == "/srv/increment" and settings["challenger"] is None
    assert ("EXPOSE", "8000") in steps and ("USER", "specweave") in steps


@pytest.mark.slow
def test_the_packaged_increment_has_a_dockerfile_whose_sources_exist_and_are_pinned(built):
    text = built.paths.dockerfile.read_text()
    steps = instructions(text)
    for op, args in steps:
        if op == "COPY" and args.startswith("increments/"):
            assert (built.root / args.split()[0]).exists(), args  # the build context is the project root
    assert "COPY increments/0002-breast-cancer/models/champion/requirements.txt" in text
    requirements = (built.paths.model / "requirements.txt").read_text().split()
    pinned = [r for r in requirements if r != "specweave-ml"]  # this package is installed from source
    assert pinned and all(re.fullmatch(r"[A-Za-z0-9_.\-\[\]]+==[\w.]+", r) for r in pinned), requirements
    assert "grep -v '^specweave-ml'" in text and "pip install --no-deps /srv/src" in text
    assert built.meta["model"]["sha256"][:12] in text.splitlines()[0]
