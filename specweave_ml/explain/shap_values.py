"""SHAP values for any model family, with every explainer's output normalised in one place.

The model's registry entry names its explainer: ``tree`` (decision tree, forest, XGBoost, LightGBM: the exact
tree explainer), ``linear`` (on a background sample), ``kernel`` (model-agnostic: the permutation explainer). Values
are explained in the space the estimator sees (after the pipeline's preprocessing), with its feature names.

Normalised shapes: binary and regression -> values (n, features), base (n,), in the model's raw output
(log-odds for boosted trees and logistic regression, probability for forests and single trees);
multiclass -> values (n, features, classes), base (n, classes).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

NEEDS_BACKGROUND = ("linear", "kernel")  # tree explainers read the trees, the others a background sample


@dataclass
class Explained:
    values: np.ndarray
    base: np.ndarray
    data: np.ndarray  # the transformed rows that were explained
    features: list[str]
    explainer: str

    def importance(self) -> pd.Series:
        """Mean |SHAP| per feature (averaged over classes for multiclass), largest first."""
        mag = np.abs(self.values)
        if mag.ndim == 3:
            mag = mag.mean(axis=2)
        return pd.Series(mag.mean(axis=0), index=self.features).sort_values(ascending=False)

    def for_class(self, classes_idx: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
        """2-D values and 1-D base: multiclass rows are read for the class given per row."""
        if self.values.ndim == 2:
            return self.values, self.base
        rows = np.arange(len(self.values))
        idx = classes_idx if classes_idx is not None else np.argmax(self.values.sum(axis=1) + self.base, axis=1)
        return self.values[rows, :, idx], self.base[rows, idx]


def _normalise(values, base, n: int, task: str, tree_probability: bool) -> tuple[np.ndarray, np.ndarray]:
    values, base = np.asarray(values, dtype=float), np.asarray(base, dtype=float)
    if base.ndim == 0:
        base = np.full(n, float(base))
    if task == "binary_classification" and values.ndim == 3:
        # Forests and sklearn trees explain both classes' probabilities; keep the positive one.
        values, base = values[:, :, 1], (base[:, 1] if base.ndim == 2 else np.full(n, base[1]))
    if task == "multiclass_classification" and base.ndim == 1 and len(base) != n:
        base = np.tile(base, (n, 1))
    return values, base


def explain(model, X_background: pd.DataFrame, X_explain: pd.DataFrame, task: str, explainer: str, seed: int = 0) -> Explained:
    """SHAP values of a fitted ``DecisionModel`` for the rows of ``X_explain``, by the registry's ``explainer`` kind."""
    import shap

    pipeline = model.pipeline_
    prep, est = pipeline[:-1], pipeline.named_steps["model"]
    features = list(prep.get_feature_names_out()) if len(prep) else list(X_explain.columns)
    from specweave_ml.training.pipelines import as_numbers as to_dense  # sparse, and native categories as their codes
    data = to_dense(prep.transform(X_explain)) if len(prep) else X_explain.to_numpy(float)
    background = to_dense(prep.transform(X_background)) if len(prep) else X_background.to_numpy(float)
    if explainer == "tree":
        kind, result = "tree", shap.TreeExplainer(est)(data, check_additivity=False)
    elif explainer == "linear":
        kind, result = "linear", shap.LinearExplainer(est, background)(data)
    else:
        fn = est.predict_proba if hasattr(est, "predict_proba") else est.predict
        masker = shap.maskers.Independent(background, max_samples=100)
        kind, result = "permutation", shap.PermutationExplainer(fn, masker, seed=seed)(data)
    values, base = _normalise(result.values, result.base_values, len(data), task, kind == "tree")
    return Explained(values=values, base=base, data=data, features=features, explainer=kind)
