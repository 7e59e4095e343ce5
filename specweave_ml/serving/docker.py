"""A Dockerfile per increment: the packaged champion behind the same server, with pinned requirements.

Built from the project root (the image installs this package from source, without its training
dependencies): ``docker build -f increments/<id>/Dockerfile -t <id> .``. The model's requirements are the
ones MLflow wrote next to it; the server's are pinned to the versions installed when it was packaged.
"""

from __future__ import annotations

import json
import re
from dataclasses import replace
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path

from specweave_ml.fileio import write_text
from specweave_ml.paths import IncrementPaths
from specweave_ml.serving.settings import ServerConfig

SERVER_PACKAGES = ("fastapi", "starlette", "pydantic", "uvicorn", "h11", "prometheus-client", "scipy", "shap")
IN_IMAGE = "/srv/increment"


def pins(packages=SERVER_PACKAGES) -> list[str]:
    out = []
    for name in packages:
        try:
            out.append(f"{name}=={version(name)}")
        except PackageNotFoundError:
            continue
    return out


def python_version(model_dir: Path) -> str:
    env = model_dir / "python_env.yaml"
    match = re.search(r"^python:\s*([\d.]+)", env.read_text(encoding="utf-8"), re.MULTILINE) if env.exists() else None
    return match.group(1) if match else "3.11"


def render(paths: IncrementPaths, relative: Path, config: ServerConfig, model_meta: dict) -> str:
    """The Dockerfile text; ``relative`` is the increment's folder relative to the project root."""
    inc = relative.as_posix()
    settings = replace(config, increment=IN_IMAGE, host="0.0.0.0", challenger=None, challenger_model="champion")
    cmd = ["python", "-m", "specweave_ml.serving", IN_IMAGE, "--settings", settings.to_json()]
    return "\n".join([
        f"# {paths.name}: serves {model_meta.get('name')} (sha256 {model_meta['sha256'][:12]}) on port {config.port}.",
        "# Written by stage=package; build from the project root (after `dvc pull` if models/ lives in DVC):",
        f"#   docker build -f {inc}/Dockerfile -t {paths.name} .",
        f"#   docker run --rm -p {config.port}:{config.port} {paths.name}",
        "# The server checks the model's sha256 against metadata.json before it loads it.",
        f"FROM python:{python_version(paths.model)}-slim",
        "ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1 PIP_NO_CACHE_DIR=1 OMP_WAIT_POLICY=PASSIVE",
        "WORKDIR /srv",
        "# The packaged model's pinned requirements (written by MLflow); this package itself is installed from source below.",
        f"COPY {inc}/models/champion/requirements.txt /srv/model-requirements.txt",
        "RUN grep -v '^specweave-ml' /srv/model-requirements.txt > /srv/requirements.txt \\",
        " && pip install -r /srv/requirements.txt \\",
        f" && pip install {' '.join(pins())}",
        "COPY pyproject.toml README.md /srv/src/",
        "COPY specweave_ml /srv/src/specweave_ml",
        "RUN pip install --no-deps /srv/src",
        f"COPY {inc}/metadata.json {IN_IMAGE}/metadata.json",
        f"COPY {inc}/models/champion {IN_IMAGE}/models/champion",
        f"COPY {inc}/reports/drift/reference.json {IN_IMAGE}/reports/drift/reference.json",
        "RUN useradd --system --no-create-home specweave",
        "USER specweave",
        f"EXPOSE {config.port}",
        f"HEALTHCHECK --interval=30s --timeout=3s CMD python -c \"import urllib.request; urllib.request.urlopen('http://127.0.0.1:{config.port}/health')\"",
        f"CMD {json.dumps(cmd)}",
        "",
    ])


def write_dockerfile(paths: IncrementPaths, project_root: Path, config: ServerConfig, model_meta: dict) -> Path:
    try:
        relative = paths.final.resolve().relative_to(Path(project_root).resolve())
    except ValueError:
        relative = Path("increments") / paths.name
    write_text(paths.dockerfile, render(paths, relative, config, model_meta))
    return paths.dockerfile
