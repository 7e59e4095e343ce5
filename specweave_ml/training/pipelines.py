"""Every candidate is one scikit-learn Pipeline: preprocessing fitted with the model, never before it.

Because the preprocessing lives inside the pipeline, cross-validation refits it on each fold's training
rows and the final fit sees the training split only; validation and test rows never shape it.

Each model's registry entry names its recipe:

* ``scaled`` (linear models): median imputation + scaling for numbers, one-hot for categories;
* ``imputed`` (trees and forests): median imputation, ordinal codes for categories;
* ``raw`` (boosting): numbers passed through (XGBoost and LightGBM handle missing values), ordinal categories;
* ``none``: the columns as they are.

True/False columns are encoded like categories, without the imputer (they hold no missing value).
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from specweave_ml.models.registry import REGISTRY, build
from specweave_ml.schema import ModelSchema


def _is_categorical(series: pd.Series) -> bool:
    return not pd.api.types.is_numeric_dtype(series) or pd.api.types.is_bool_dtype(series)


def column_kinds(frame: pd.DataFrame, features: list[str]) -> tuple[list[str], list[str]]:
    categorical = [c for c in features if _is_categorical(frame[c])]
    return [c for c in features if c not in categorical], categorical


def preprocessor(recipe: str, numeric: list[str], categorical: list[str], boolean: list[str] = ()):
    # keep_empty_features: a column with no value in one CV fold's training rows stays a (constant) column
    # instead of vanishing, which left the scaler or encoder after it no column at all when it was the only one.
    from sklearn.base import clone
    from sklearn.compose import ColumnTransformer
    from sklearn.impute import SimpleImputer
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import OneHotEncoder, OrdinalEncoder, StandardScaler

    if recipe == "none":
        return ColumnTransformer([("columns", "passthrough", [*numeric, *categorical, *boolean])],
                                 verbose_feature_names_out=False)
    if recipe == "scaled":
        num = make_pipeline(SimpleImputer(strategy="median", keep_empty_features=True), StandardScaler())
        cat = make_pipeline(SimpleImputer(strategy="most_frequent", keep_empty_features=True),
                            OneHotEncoder(handle_unknown="ignore", min_frequency=5))
    else:
        num = "passthrough" if recipe == "raw" else SimpleImputer(strategy="median", keep_empty_features=True)
        cat = make_pipeline(
            SimpleImputer(strategy="most_frequent", keep_empty_features=True),
            OrdinalEncoder(handle_unknown="use_encoded_value", unknown_value=-1, encoded_missing_value=-1),
        )
    parts = [("numeric", num, numeric)] if numeric else []
    if categorical:
        parts.append(("categorical", cat, categorical))
    if boolean:  # True/False columns have no missing value to impute, and SimpleImputer refuses the bool dtype
        parts.append(("boolean", clone(cat.steps[-1][1]), list(boolean)))
    return ColumnTransformer(parts, remainder="drop", verbose_feature_names_out=False)


def build_pipeline(spec: ModelSchema, task: str, frame: pd.DataFrame, features: list[str], seed: int,
                   params: dict | None = None):
    """The unfitted pipeline (preprocessing + estimator) for one candidate; ``params`` override its defaults."""
    from sklearn.pipeline import Pipeline

    numeric, categorical = column_kinds(frame, features)
    boolean = [c for c in categorical if frame[c].dtype == bool]
    categorical = [c for c in categorical if c not in boolean]
    prep = preprocessor(REGISTRY[spec.name].preprocess, numeric, categorical, boolean)
    return Pipeline([("preprocess", prep), ("model", build(spec, task, seed, params))])


def class_weights(y: pd.Series, scheme: str) -> np.ndarray | None:
    """Per-row weights against class imbalance: ``balanced`` (n_max / n_c), ``sqrt`` (its square root) or ``none``.

    The square root is the default: full balancing multiplies each of the 0.17% frauds by ~580, which
    distorts boosted trees' probabilities and their ranking more than it helps.
    """
    if scheme == "none":
        return None
    counts = y.value_counts()
    ratio = counts.max() / counts
    if scheme == "sqrt":
        ratio = np.sqrt(ratio)
    return y.map(ratio).to_numpy(dtype=float)
