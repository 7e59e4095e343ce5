"""The reference profile written at packaging: what drift is measured against, what ``/explain`` integrates over.

It is tied to one model by its hash (the score columns are that model's answers), so ``stage=monitor`` and
the server refuse a profile that describes another model.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from specweave_ml.fileio import write_json
from specweave_ml.models.registry import REGISTRY
from specweave_ml.paths import IncrementPaths
from specweave_ml.serving.drift import build_profile, score_columns

PROFILE_ROWS = 50_000  # quantiles of 50k rows are as good as of 250k, in a fifth of the scoring time


def build_reference(model, features: pd.DataFrame, model_meta: dict, bins: int, background_rows: int, seed: int) -> dict:
    """Profile ``features`` (the training rows) and the model's scores on them; keep a small background sample."""
    rng = np.random.default_rng(seed)
    sample = features
    if len(features) > PROFILE_ROWS:
        sample = features.iloc[np.sort(rng.choice(len(features), size=PROFILE_ROWS, replace=False))]
    classes = np.asarray(getattr(model, "classes_", [])).tolist()
    scores = score_columns(model.scores(sample), model.task, classes)
    profile = build_profile(sample, scores, bins)
    background = sample.iloc[np.sort(rng.choice(len(sample), size=min(background_rows, len(sample)), replace=False))]
    profile.update(
        training_rows=len(features),
        model={"name": model_meta.get("name"), "sha256": model_meta["sha256"],
               "explainer": REGISTRY[model_meta["name"]].explainer if model_meta.get("name") in REGISTRY else "kernel"},
        task=model.task, classes=classes,
        background={"columns": list(background.columns), "data": background.to_numpy(object).tolist()},
    )
    return profile


def write_reference(paths: IncrementPaths, model, features: pd.DataFrame, model_meta: dict,
                    bins: int, background_rows: int, seed: int) -> dict:
    profile = build_reference(model, features, model_meta, bins, background_rows, seed)
    write_json(paths.reference_profile, profile)
    return profile


def background_frame(profile: dict) -> pd.DataFrame:
    bg = profile["background"]
    return pd.DataFrame(bg["data"], columns=bg["columns"])
