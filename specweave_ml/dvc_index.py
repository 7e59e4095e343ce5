"""The increments that `dvc repro` builds: each one's params file, the index dvc.yaml expands its stages
over, and the plots each increment declares for `dvc plots`.

- ``increments/<id>/params.yaml``: the increment's composed config, the one home of what it is built from.
  Every stage of ``dvc.yaml`` reads it (``--config-dir increments/<id> --config-name from_params``) and
  declares the dotted keys it depends on, so a change in one brief reruns only that increment's stages.
- ``increments/pipeline.yaml``: the index, ``increments: {<id>: {brief, family, task}}``, loaded by
  ``dvc.yaml``'s ``vars`` and expanded with ``foreach``.
- ``increments/<id>/dvc.yaml``: top-level ``plots`` only, as the increment's family draws them (ROC and PR
  for a binary classifier, a confusion matrix, predicted against actual).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from specweave_ml.errors import ConfigError
from specweave_ml.fileio import write_text

INDEX = "pipeline.yaml"
PARAMS = "params.yaml"
# Keys of the composed config that say how one command runs, not what the increment is built from.
RUN_ONLY = ("stage", "paths", "input", "output", "data", "target", "name", "progress")

_PARAMS_HEADER = """\
# The composed config increment {increment} is built from, written by specweave-ml (stage=params, and by
# every run's prepare stage). dvc.yaml's stages read it; change it with
#   dvc exp run -S 'increments/{increment}/params.yaml:<key>=<value>'
# or rewrite it from the brief with: python -m specweave_ml stage=params problem=<brief> [overrides]
"""

_INDEX_HEADER = """\
# The increments `dvc repro` builds: dvc.yaml expands every stage over them (vars + foreach).
# Add one:    python -m specweave_ml stage=params problem=<brief> [overrides]
# Remove one: delete its entry here, then `git rm -r increments/<id>` and `dvc gc -w` (README, "Reproducing
#             with DVC").
"""


def params_of(cfg) -> dict[str, Any]:
    """The composed config without the keys of one command line, every value resolved as seen from the
    checkout's root (``paths.root`` is ``.`` where ``dvc repro`` runs), so the file means the same on every
    clone and DVC can read and rewrite it (it resolves interpolations itself)."""
    from omegaconf import OmegaConf

    portable = OmegaConf.create(OmegaConf.to_container(cfg, resolve=False, enum_to_str=True))
    portable.paths = {"root": ".", "increments": "./increments"}
    data = OmegaConf.to_container(portable, resolve=True)
    return {key: value for key, value in data.items() if key not in RUN_ONLY}


def params_text(cfg, increment: str) -> str:
    import yaml

    return _PARAMS_HEADER.format(increment=increment) + yaml.safe_dump(params_of(cfg), sort_keys=False)


def write_params(path: Path, cfg, increment: str) -> bool:
    """Write ``path`` only when its content changes (DVC and git see no edit otherwise); True if written."""
    text = params_text(cfg, increment)
    if path.exists() and path.read_text(encoding="utf-8") == text:
        return False
    write_text(path, text)
    return True


def read_index(increments_dir: Path) -> dict[str, dict]:
    import yaml

    path = Path(increments_dir) / INDEX
    if not path.exists():
        return {}
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    except yaml.YAMLError as err:
        raise ConfigError(str(path), f"not valid YAML ({str(err).splitlines()[0]})",
                          "fix the file by hand, or delete it and register each increment again with stage=params") from None
    increments = data.get("increments") if isinstance(data, dict) else None
    if increments is None:
        return {}
    if not isinstance(increments, dict) or not all(isinstance(v, dict) for v in increments.values()):
        raise ConfigError(f"{path}: increments", "expected a mapping of increment id to {brief, family, task}",
                          "restore the file from git, or register each increment again with stage=params")
    return increments


def register(increments_dir: Path, increment: str, entry: dict[str, Any]) -> bool:
    """Add or update one increment in the index (kept sorted by id); True if the file changed."""
    import yaml

    increments = read_index(increments_dir)
    if increments.get(increment) == entry:
        return False
    increments[increment] = entry
    ordered = {key: increments[key] for key in sorted(increments)}
    write_text(Path(increments_dir) / INDEX,
               _INDEX_HEADER + yaml.safe_dump({"increments": ordered}, sort_keys=False))
    return True


def plots_text(increment: str, plots: dict[str, dict]) -> str:
    """An increment's own dvc.yaml: its family's plots, paths relative to the increment's folder."""
    import yaml

    header = (f"# The plots of increment {increment} for `dvc plots show` / `dvc plots diff`, as its family draws\n"
              "# them; written by stage=params. Its stages are in the project's dvc.yaml.\n")
    return header + yaml.safe_dump({"plots": [{f"reports/curves/{name}": props} for name, props in plots.items()]},
                                   sort_keys=False)
