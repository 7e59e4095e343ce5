"""Rollback: the previous champion back in ``models/champion``, its hash and registry alias with it.

``stage=train`` keeps the champion it replaces in ``models/previous`` (with its hash and registered version
in ``metadata.json``). Rolling back swaps the two folders and their records, so running it twice rolls
forward again; the MLflow alias ``champion`` follows the restored model when it was registered.
"""

from __future__ import annotations

from typing import Callable, Optional

from specweave_ml.errors import DataError
from specweave_ml.paths import IncrementPaths


def _short(entry: dict) -> str:
    reg = (entry.get("registered") or {}).get("version")
    return f"{entry.get('name', '?')} (sha256 {entry.get('sha256', '?')[:12]}" + (f", registered v{reg})" if reg else ")")


def rollback(paths: IncrementPaths, meta: dict, check_version: Optional[Callable[[str, str], None]] = None,
             move_alias: Optional[Callable[[str, str], None]] = None, when: str = "") -> dict:
    """Swap ``models/previous`` and ``models/champion`` and their records in ``meta``; returns what was done.

    ``check_version(name, version)`` raises if the registry lacks the version; it runs before any file moves.
    """
    from specweave_ml.packaging import ModelIntegrityError, directory_hash

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

    # The evaluation on record follows its model (stage=package keeps a copy in the model's entry).
    replaced = {**current, "sha256": directory_hash(paths.previous_model) if paths.previous_model.exists() else current.get("sha256"),
                "results": current.get("results") or meta.get("results")}
    meta.pop("results", None)
    if previous.get("results"):
        meta["results"] = previous["results"]
    meta["model"], meta["previous_model"] = previous, replaced

    alias = None
    if registered.get("version") and move_alias is not None:
        move_alias(registered["name"], registered["version"])
        alias = f"{registered['name']} v{registered['version']}"
    record = {"at": when, "from": current.get("sha256"), "to": previous["sha256"], "replaced_intact": intact,
              "alias": alias or "not moved (the restored model was never registered, or tracking is off)"}
    meta.setdefault("rollbacks", []).append(record)
    meta["status"] = "rolled back"
    return record


def plan_lines(meta: dict) -> list[str]:
    """The rollback plan, as written into plan.md."""
    current, previous = meta.get("model") or {}, meta.get("previous_model") or {}
    lines = []
    if current:
        lines.append(f"- Serving: `models/champion`, {_short(current)}.")
    if previous.get("sha256"):
        lines.append(f"- Kept for rollback: `models/previous`, {_short(previous)}.")
    else:
        lines.append("- No previous champion yet: the next `stage=train` keeps this one in `models/previous`. Until then, "
                     "rolling back means taking the endpoint out of service and falling back to the process it replaced.")
    lines += [
        "- Roll back when the drift report or the server's `specweave_drift_columns_alerting` gauge alerts on the score, "
        "`/metrics` shows errors or p95 latency over the budget, or an A/B stopping rule trips.",
        "- How: `python -m specweave_ml problem=<brief> stage=rollback` swaps `models/champion` and `models/previous` with "
        "their hashes in metadata.json, moves the MLflow alias `champion` to the restored version, and re-profiles it for "
        "drift. Running it again rolls forward.",
        "- Then restart the server (`stage=serve`, or rebuild and redeploy the increment's Dockerfile): it checks the "
        "restored model's hash before loading it, and `/health` shows that hash.",
        "- The holdout evaluation on record moves with its model; the files under `reports/` describe the last training.",
    ]
    for r in meta.get("rollbacks", [])[-3:]:
        lines.append(f"- Rolled back {r['at']}: {r['from'][:12]} -> {r['to'][:12]}; alias {r['alias']}.")
    return lines
