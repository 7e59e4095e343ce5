"""Turn Hydra/OmegaConf compose errors into one line that names the key and the fix."""

from __future__ import annotations

from omegaconf.errors import OmegaConfBaseException


def describe_compose_error(err: BaseException) -> str:
    cause = err
    while cause.__cause__ is not None and not isinstance(cause, OmegaConfBaseException):
        cause = cause.__cause__
    key = getattr(cause, "full_key", None)
    first = str(cause).strip().splitlines()[0] if str(cause).strip() else type(cause).__name__
    if "Could not find" in first or "Could not load" in first:
        return f"{first}. Fix: pick one of the options listed under conf/ (python -m specweave_ml --help lists them)"
    if "Missing mandatory value" in first and key:
        return f"{key}: a value is required but none was given. Fix: set {key} in the brief or with {key}=<value>"
    if key:
        return f"{key}: {first}. Fix: correct {key} in the brief or on the command line"
    return f"{first}"
