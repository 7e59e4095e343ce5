"""Dummy baselines: the bar every candidate must clear, evaluated exactly like the candidates."""

from __future__ import annotations

from specweave_ml.models.decision import DecisionModel

CLASSIFICATION = ("binary_classification", "multiclass_classification")


def baseline_model(strategy: str, task: str, seed: int, classes: list | None = None) -> DecisionModel:
    from sklearn.dummy import DummyClassifier, DummyRegressor
    from sklearn.pipeline import Pipeline

    if task in CLASSIFICATION:
        est = DummyClassifier(strategy=strategy, random_state=seed)
    else:
        est = DummyRegressor(strategy=strategy)
    return DecisionModel(Pipeline([("model", est)]), task=task, classes=classes)
