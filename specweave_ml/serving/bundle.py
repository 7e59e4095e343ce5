"""A packaged model ready to serve: hash-checked, with its signature, its reference profile and a fast scorer.

The fast scorer skips scikit-learn's per-call overhead (about 2 ms a row through ColumnTransformer and the
LightGBM/XGBoost wrappers) when the pipeline only passes numeric columns through to a boosted model: it
calls the booster on the array directly. It is used only after it reproduced the pipeline's scores on the
profile's background rows; anything else is scored through the pipeline unchanged.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Optional

import numpy as np
import pandas as pd

from specweave_ml.errors import DataError
from specweave_ml.fileio import read_json
from specweave_ml.packaging import load_model, signature_columns
from specweave_ml.paths import IncrementPaths

log = logging.getLogger(__name__)
NUMERIC = ("double", "float", "long", "integer")


@dataclass
class Bundle:
    variant: str  # champion | challenger
    increment: str
    model_name: str
    sha256: str
    version: Optional[str]  # registered MLflow version, when tracking was on
    model: object  # DecisionModel
    columns: dict[str, str]  # signature: column -> MLflow type
    family: str
    profile: Optional[dict]
    fast: Optional[Callable[[np.ndarray], np.ndarray]] = field(default=None, repr=False)

    @property
    def all_numeric(self) -> bool:
        return all(kind in NUMERIC for kind in self.columns.values())

    def frame(self, rows: list[list]) -> pd.DataFrame:
        """Rows (values in signature order) as the DataFrame the pipeline was trained on."""
        frame = pd.DataFrame(rows, columns=list(self.columns))
        for col, kind in self.columns.items():
            if kind in NUMERIC:
                frame[col] = frame[col].astype("float64")
        return frame

    def scores(self, rows: list[list]) -> np.ndarray:
        if self.fast is not None:
            return self.fast(np.asarray(rows, dtype=float))
        return self.model.scores(self.frame(rows))

    def describe(self) -> dict:
        return {"variant": self.variant, "increment": self.increment, "model": self.model_name,
                "sha256": self.sha256, "version": self.version}


def _booster(estimator) -> Optional[Callable[[np.ndarray], np.ndarray]]:
    kind = type(estimator).__name__
    if kind.startswith("LGBM"):
        booster = estimator.booster_
        return lambda X: booster.predict(X)
    if kind.startswith("XGB"):
        booster = estimator.get_booster()
        return lambda X: booster.inplace_predict(X)
    return None


def fast_scorer(model, columns: dict[str, str], sample: pd.DataFrame) -> Optional[Callable[[np.ndarray], np.ndarray]]:
    """The booster called on the array, if the pipeline is numeric passthrough + booster and it gives the same scores."""
    from sklearn.compose import ColumnTransformer

    pipeline = getattr(model, "pipeline_", None)
    if pipeline is None or len(pipeline) != 2 or len(sample) == 0 or any(k not in NUMERIC for k in columns.values()):
        return None
    prep, estimator = pipeline[0], pipeline[-1]
    if not isinstance(prep, ColumnTransformer):
        return None
    used = [t for t in prep.transformers_ if not (t[0] == "remainder" and t[1] == "drop")]
    if len(used) != 1 or used[0][1] != "passthrough" or list(used[0][2]) != list(columns):
        return None
    fn = _booster(estimator)
    if fn is None:
        return None
    X = sample[list(columns)].astype("float64")
    try:
        same = np.allclose(fn(X.to_numpy()), model.scores(X), rtol=1e-9, atol=1e-12)
    except Exception:  # noqa: BLE001  (any failure just means: no shortcut)
        return None
    return fn if same else None


def load_bundle(root: str | Path, which: str = "champion", variant: str = "champion",
                profile: Optional[dict] = None) -> Bundle:
    """The champion (or the kept previous champion) of the increment at ``root``, after its hash check."""
    paths = IncrementPaths(Path(root))
    if not paths.metadata.exists():
        raise DataError(str(paths.metadata), "does not exist: not an increment folder", "run stage=all (or stage=train) first")
    meta = read_json(paths.metadata)
    entry = meta.get("model" if which == "champion" else "previous_model") or {}
    path = paths.model if which == "champion" else paths.previous_model
    model = load_model(path, entry.get("sha256"))
    columns = signature_columns(path)
    if profile is None and which == "champion":
        try:
            profile = read_profile(paths, entry["sha256"])
        except DataError as err:  # serve anyway (a rollback must not wait for data): no drift gauges then
            log.warning("%s: serving without drift gauges", err.message)
    sample = _example(path)
    if profile is not None:
        from specweave_ml.serving.reference import background_frame

        sample = pd.concat([sample, background_frame(profile)], ignore_index=True)
    family = entry.get("family") or (profile or {}).get("model", {}).get("family") or "other"
    registered = entry.get("registered") or {}
    return Bundle(variant=variant, increment=meta["id"], model_name=entry.get("name", "?"), sha256=entry["sha256"],
                  version=registered.get("version"), model=model, columns=columns, family=family, profile=profile,
                  fast=fast_scorer(model, columns, sample))


def _example(model_dir: Path) -> pd.DataFrame:
    """The rows MLflow saved with the model (``input_example.json``), to check the fast scorer against."""
    path = model_dir / "input_example.json"
    if not path.exists():
        return pd.DataFrame()
    example = read_json(path)
    return pd.DataFrame(example["data"], columns=example["columns"])


def read_profile(paths: IncrementPaths, sha256: str) -> dict:
    """The reference profile, refused when missing or written for another model."""
    if not paths.reference_profile.exists():
        raise DataError(str(paths.reference_profile), "no drift reference profile for this model", "run stage=package first")
    profile = read_json(paths.reference_profile)
    recorded = profile.get("model", {}).get("sha256", "")
    if recorded != sha256:
        raise DataError(str(paths.reference_profile), f"describes model {recorded[:12]}, not the champion {sha256[:12]}",
                        "run stage=package to profile the current champion")
    return profile
