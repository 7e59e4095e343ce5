"""Task families: one module each, found here by the task and modality of a brief.

To add a family, write ``specweave_ml/families/<name>.py`` with a ``FAMILY`` object that follows
``families.base.Family`` and add its module name to ``MODULES``. Modules are imported on first use.
"""

from __future__ import annotations

from importlib import import_module
from typing import Optional

from specweave_ml.families.base import Family

MODULES: tuple[str, ...] = ("tabular", "forecasting", "recommendations", "text", "image")


def all_families() -> list[Family]:
    return [import_module(f"specweave_ml.families.{name}").FAMILY for name in MODULES]


def find(task: str, modality: str) -> Optional[Family]:
    """The family that trains ``task`` on ``modality``, or None while none does."""
    return next((f for f in all_families() if f.serves(task, modality)), None)


def named(name: str) -> Family:
    if name not in MODULES:
        from specweave_ml.errors import DataError

        raise DataError("metadata.json", f"family '{name}' is unknown to this version", f"use one of {', '.join(MODULES)}")
    return import_module(f"specweave_ml.families.{name}").FAMILY
