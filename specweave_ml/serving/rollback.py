"""Rollback: the previous champion back in ``models/champion``, its hash and registry alias with it.

``stage=train`` keeps the champion it replaces in ``models/previous`` (with its hash and registered version
in ``metadata.json``). Rolling back swaps the two folders and their records, so running it twice rolls
forward again; the MLflow alias ``champion`` follows the restored model when it was registered.
"""

from __future__ import annotations

from typing import Callable, Optional

from specweave_ml.errors import DataError
from specweave_ml.paths import IncrementPaths


def rollback(paths: IncrementPaths, meta: dict, check_version: Optional[Callable[[str, str], None]] = None,
             when: str = "") -> dict:
    """Swap ``models/previous`` and ``models/champion`` and their records in ``meta``; returns what was done.

    ``check_version(name, version)`` raises if the registry lacks the version; it runs before any file moves.
    The registry's alias is moved by the caller, last (``alias_target``), so that nothing can fail after it.
    """
    from specweave_ml.fileio import directory_hash
    from specweave_ml.packaging import ModelIntegrityError

    current, previous = dict(meta.get("model") or {}), dict(meta.get("previous_model") or {})
    if not paths.previous_model.exists() or not previous.get("sha256"):
        raise DataError(str(paths.previous_model), "no previous champion to roll back to",
                        "stage=train keeps the champion it replaces; there is none before the second training")
    actual = directory_hash(paths.previous_model)
    if actual != previous["sha256"]:
        raise ModelIntegrityError(str(paths.previous_model), f"its files changed since it was kept (hash {actual[:12]}, "
                                  f"recorded {previous['sha256'][:12]})", "restore it with dvc checkout, or retrain")
    registered = previous.get("registered") or {}
    if registered.get("version") and check_version is not None:
        check_version(registered["name"], registered["version"])

    intact = paths.model.exists() and directory_hash(paths.model) == current.get("sha256")
    swap = paths.model.with_name(".champion.rollback")
    if paths.model.exists():
        paths.model.rename(swap)
    paths.previous_model.rename(paths.model)
    if swap.exists():
        swap.rename(paths.previous_model)

    _swap_evaluations(paths)
    replaced = {**current, "sha256": directory_hash(paths.previous_model) if paths.previous_model.exists() else current.get("sha256")}
    meta["model"], meta["previous_model"] = previous, replaced

    target, why = alias_target(registered)
    record = {"at": when, "from": current.get("sha256"), "to": previous["sha256"], "replaced_intact": intact,
              "alias": f"{target[0]} v{target[1]}" if target else f"not moved ({why})"}
    meta.setdefault("rollbacks", []).append(record)
    meta["status"] = "rolled back"
    return record


def alias_target(registered: dict) -> tuple[Optional[tuple[str, str]], str]:
    """The registered (name, version) that ``champion`` should point at after a rollback, or why none."""
    if not registered.get("version"):
        return None, "the restored model was never registered, or tracking is off"
    if registered.get("alias") != "champion":
        return None, (f"v{registered['version']} was registered not ready (gates failed, or not evaluated): "
                      "served, not made champion")
    return (registered["name"], registered["version"]), ""


def _swap_evaluations(paths: IncrementPaths) -> None:
    """The record of a model (training, CV, holdout evaluation) follows it (``stage=train`` kept the replaced one's)."""
    for current, kept in paths.record_pairs:
        swap = kept.with_name(f".{kept.name}.rollback")
        kept.parent.mkdir(parents=True, exist_ok=True)
        if current.exists():
            current.rename(swap)
        if kept.exists():
            kept.rename(current)
        if swap.exists():
            swap.rename(kept)
