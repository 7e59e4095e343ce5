"""A packaged model ready to serve: hash-checked, with its signature, its reference profile and a fast scorer.

The fast scorer skips scikit-learn's per-call overhead (about 2 ms a row through ColumnTransformer and the
LightGBM/XGBoost wrappers) when the pipeline only passes numeric columns through to a boosted model: it
calls the booster on the array directly. It is used only after it reproduced the pipeline's scores on the
rows MLflow saved with the model and the profile's background rows; anything else goes through the pipeline.
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
from specweave_ml.models.registry import REGISTRY
from specweave_ml.packaging import load_model, signature_columns
from specweave_ml.paths import IncrementPaths

log = logging.getLogger(__name__)
NUMERIC = ("double", "float", "long", "integer")
FAR_SD = 1e6  # values this many standard deviations from the training mean are blamed when scoring breaks
MAX_BLAMED = 50
MAX_RETRIED = 200  # rows re-scored one by one to find the culprit when no value is far out


class Unscorable(Exception):
    """Valid values the model cannot score (an intermediate overflowed); ``blame``: (row, column, distance)."""

    def __init__(self, blame: list[tuple[int, str, float]]):
        super().__init__(blame)
        self.blame = blame


@dataclass
class Bundle:
    variant: str  # champion | challenger
    increment: str
    model_name: str
    sha256: str
    version: Optional[str]  # registered MLflow version, when tracking was on
    model: object  # DecisionModel
    columns: dict[str, str]  # signature: column -> MLflow type
    explainer: str  # the registry's SHAP explainer kind for this model
    profile: Optional[dict]
    fast: Optional[Callable[[np.ndarray], np.ndarray]] = field(default=None, repr=False)

    @property
    def all_numeric(self) -> bool:
        return all(kind in NUMERIC for kind in self.columns.values())

    def frame(self, rows: list[list]) -> pd.DataFrame:
        """Rows (values in signature order) as the DataFrame the pipeline was trained on."""
        if self.all_numeric:
            return pd.DataFrame(np.asarray(rows, dtype=float), columns=list(self.columns))
        return pd.DataFrame({col: np.asarray([r[i] for r in rows], dtype=float if kind in NUMERIC else object)
                             for i, (col, kind) in enumerate(self.columns.items())})

    def scores(self, rows: list[list]) -> np.ndarray:
        if self.fast is not None:
            return self.fast(np.asarray(rows, dtype=float))
        return self.model.scores(self.frame(rows))

    def checked_scores(self, rows: list[list]) -> np.ndarray:
        """Scores, or ``Unscorable`` naming the values to blame when valid but extreme input breaks the model."""
        scores = self._try(rows)
        if scores is not None:
            return scores
        # The rows with values far from the training data; else the first rows that fail alone (bounded work).
        far = [i for i, row in enumerate(rows) if self.blame(i, row, far_only=True)][:MAX_BLAMED]
        bad = far or [i for i in range(min(len(rows), MAX_RETRIED)) if self._try(rows[i:i + 1]) is None][:MAX_BLAMED] or [0]
        raise Unscorable([b for i in bad for b in self.blame(i, rows[i])])

    def _try(self, rows: list[list]) -> Optional[np.ndarray]:
        try:
            with np.errstate(all="ignore"):
                scores = np.asarray(self.scores(rows), dtype=float)
        except (ValueError, OverflowError, FloatingPointError) as err:  # e.g. a scaler overflowing to infinity
            log.info("scoring failed on valid input: %s", err)
            return None
        return scores if np.isfinite(scores).all() else None

    def blame(self, index: int, row: list, far_only: bool = False) -> list[tuple[int, str, float]]:
        """(row, column, standard deviations from the training mean) of the row's values far from the training data
        (without any, its farthest value, unless ``far_only``)."""
        stats = (self.profile or {}).get("features", {})
        distances = []
        for value, (column, kind) in zip(row, self.columns.items()):
            if kind in NUMERIC:
                spec = stats.get(column) or {}
                distances.append((abs(value - (spec.get("mean") or 0.0)) / (spec.get("std") or 1.0), column))
        far = [d for d in distances if d[0] > FAR_SD] or ([] if far_only else sorted(distances, reverse=True)[:1])
        return [(index, column, d) for d, column in far]

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
    declared = prep.transformers  # as configured: fitted, "passthrough" reads as an identity FunctionTransformer
    if len(declared) != 1 or declared[0][1] != "passthrough" or list(declared[0][2]) != list(columns):
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
    explainer = REGISTRY[entry["name"]].explainer if entry.get("name") in REGISTRY else "kernel"
    registered = entry.get("registered") or {}
    return Bundle(variant=variant, increment=meta["id"], model_name=entry.get("name", "?"), sha256=entry["sha256"],
                  version=registered.get("version"), model=model, columns=columns, explainer=explainer, profile=profile,
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
