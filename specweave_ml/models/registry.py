"""Model name -> estimator factory. Configs pick names; they never import code.

Each factory takes the task and the merged hyperparameters and returns an unfitted scikit-learn
compatible estimator. Heavy libraries are imported inside the factory that needs them.
"""

from __future__ import annotations

from typing import Any, Callable

from specweave_ml.schema import ModelSchema

CLASSIFICATION = ("binary_classification", "multiclass_classification")


def _linear(task: str, params: dict) -> Any:
    from sklearn.linear_model import LogisticRegression, Ridge

    return LogisticRegression(**params) if task in CLASSIFICATION else Ridge(**params)


def _decision_tree(task: str, params: dict) -> Any:
    from sklearn.tree import DecisionTreeClassifier, DecisionTreeRegressor

    return (DecisionTreeClassifier if task in CLASSIFICATION else DecisionTreeRegressor)(**params)


def _random_forest(task: str, params: dict) -> Any:
    from sklearn.ensemble import RandomForestClassifier, RandomForestRegressor

    return (RandomForestClassifier if task in CLASSIFICATION else RandomForestRegressor)(**params)


def _xgboost(task: str, params: dict) -> Any:
    import xgboost as xgb

    return (xgb.XGBClassifier if task in CLASSIFICATION else xgb.XGBRegressor)(**params)


def _lightgbm(task: str, params: dict) -> Any:
    import lightgbm as lgb

    return (lgb.LGBMClassifier if task in CLASSIFICATION else lgb.LGBMRegressor)(**params)


FACTORIES: dict[str, Callable[[str, dict], Any]] = {
    "linear": _linear,
    "decision_tree": _decision_tree,
    "random_forest": _random_forest,
    "xgboost": _xgboost,
    "lightgbm": _lightgbm,
}
TRAINABLE = frozenset(FACTORIES)


def params_for(spec: ModelSchema, task: str) -> dict:
    extra = spec.classifier_params if task in CLASSIFICATION else spec.regressor_params
    return {**dict(spec.params), **dict(extra)}


def build(spec: ModelSchema, task: str, seed: int, extra: dict | None = None) -> Any:
    """An unfitted estimator for ``spec`` (its seed fixed where the estimator takes one)."""
    params = {**params_for(spec, task), **(extra or {})}
    if spec.name != "linear" or task in CLASSIFICATION:
        params.setdefault("random_state", seed)
    return FACTORIES[spec.name](task, params)
