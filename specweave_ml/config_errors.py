"""Turn Hydra/OmegaConf compose errors into one line that names the key and the fix."""

from __future__ import annotations

import re
from pathlib import Path

from omegaconf.errors import OmegaConfBaseException

CONF = Path(__file__).resolve().parent.parent / "conf"
_MISSING_OPTION = re.compile(r"Could not (?:find|load) '([\w/]+)/(\w+)'")
_IN_CONFIG = re.compile(r"^In '([\w/]+)': \w+ raised while composing config")


def _options(group: str) -> list[str]:
    return sorted(p.stem for p in (CONF / group).glob("*.yaml"))


def _omegaconf_cause(err: BaseException) -> OmegaConfBaseException | None:
    """The OmegaConf error behind ``err``. Hydra wraps one found while merging a config file (a brief with a
    value of the wrong type) without ``from``, so its ``__context__`` is followed as well as its ``__cause__``."""
    seen = err
    while seen is not None:
        if isinstance(seen, OmegaConfBaseException):
            return seen
        seen = seen.__cause__ or seen.__context__
    return None


def describe_compose_error(err: BaseException) -> str:
    cause = _omegaconf_cause(err)
    if cause is None:
        cause = err
        while cause.__cause__ is not None:
            cause = cause.__cause__
    key = getattr(cause, "full_key", None)
    first = str(cause).strip().splitlines()[0] if str(cause).strip() else type(cause).__name__
    missing = _MISSING_OPTION.search(first)
    if missing and (CONF / missing.group(1)).is_dir():
        group, name = missing.groups()
        return f"{group}: no option '{name}' in conf/{group}/. Fix: use one of {', '.join(_options(group))}"
    if first.startswith("Additional config directory") and "not found" in first:
        folder = first.split("'")[1] if first.count("'") >= 2 else "increments/<id>"
        return (f"--config-dir {folder}: no such folder (dvc.yaml's stages read increments/<id>/params.yaml). "
                "Fix: register the increment with `python -m specweave_ml stage=params problem=<brief>`")
    if "Could not load 'params'" in first or "Could not find 'params'" in first:
        return ("params.yaml: not found (--config-name from_params reads the increment's own, named with "
                "--config-dir increments/<id>). Fix: run `python -m specweave_ml stage=params problem=<brief>` first")
    if "Could not find" in first or "Could not load" in first:
        return f"{first}. Fix: check the option names under conf/ (python -m specweave_ml --help lists them)"
    if "Missing mandatory value" in first and key:
        return f"{key}: a value is required but none was given. Fix: set {key} in the brief or with {key}=<value>"
    if key:
        return f"{key}: {first}. Fix: correct {key} in the brief or on the command line"
    inside = _IN_CONFIG.match(str(err).strip())
    if inside:  # a whole section of the wrong kind (a list where a mapping belongs): OmegaConf names no key
        group = inside.group(1).split("/")[0]
        return (f"{group}: {first} in {inside.group(1)}.yaml. Fix: give each section of {inside.group(1)}.yaml the kind "
                "of value the schema expects (specweave_ml/schema.py)")
    return f"{first}"
