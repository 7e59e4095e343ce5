"""Cross-validation on the saved folds: per-fold validation and training scores, and out-of-fold scores."""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Callable, Optional

import numpy as np
import pandas as pd

from specweave_ml.metrics import METRICS
from specweave_ml.training.folds import fold_indices


@dataclass
class CVResult:
    name: str
    kind: str  # baseline | candidate
    metric: str
    val_scores: list[float] = field(default_factory=list)
    train_scores: list[float] = field(default_factory=list)
    fit_seconds: float = 0.0
    oof_index: Optional[np.ndarray] = None  # positions (in the training split) that were validated
    oof_scores: Optional[np.ndarray] = None
    best_iterations: list[int] = field(default_factory=list)  # early-stopped boosting rounds per fold

    @property
    def mean(self) -> float:
        return float(np.mean(self.val_scores))

    @property
    def std(self) -> float:
        return float(np.std(self.val_scores))

    @property
    def train_mean(self) -> float:
        return float(np.mean(self.train_scores)) if self.train_scores else float("nan")  # nan: not measured (an ensemble)

    def summary(self) -> dict:
        return {
            "name": self.name, "kind": self.kind, "metric": self.metric,
            "folds": [round(s, 6) for s in self.val_scores],
            "train_folds": [round(s, 6) for s in self.train_scores],
            "mean": self.mean, "std": self.std, "train_mean": self.train_mean,
            "fit_seconds": round(self.fit_seconds, 2),
        }


def metric_value(metric: str, task: str, y_true, scores, classes, threshold: float = 0.5) -> float:
    """One metric from a model's scores (decisions at ``threshold`` for binary, argmax for multiclass)."""
    m = METRICS[metric]
    if task == "binary_classification":
        y_pred = (np.asarray(scores) >= threshold).astype(int)
    elif task == "multiclass_classification":
        y_pred = np.argmax(scores, axis=1)
    else:
        y_pred = scores
    return m.compute(y_true, y_pred, scores, labels=list(range(len(classes))) if classes is not None else None)


def cross_validate(
    name: str,
    kind: str,
    make_model: Callable[[], object],
    X: pd.DataFrame,
    y: np.ndarray,
    fold: np.ndarray,
    cv_strategy: str,
    task: str,
    metric: str,
    weights: Optional[np.ndarray] = None,
    on_fold: Callable[[], None] = lambda: None,
    on_score: Callable[[int, float], None] = lambda i, s: None,
    train_score_rows: Optional[int] = None,
) -> CVResult:
    """Fit a fresh model per fold (preprocessing included) and score it on the fold's validation rows.

    ``y`` is already label-encoded for classification; ``make_model`` returns a DecisionModel.
    ``on_score(fold, score)`` sees each validation score as it comes (Optuna prunes there);
    ``train_score_rows`` caps the training rows scored for the train/validation gap (the last ones).
    """
    result = CVResult(name, kind, metric)
    classes = np.unique(y) if task != "regression" else None
    oof_idx, oof = [], []
    for i, (train_idx, val_idx) in enumerate(fold_indices(fold, cv_strategy)):
        model = make_model()
        start = time.perf_counter()
        model.fit(X.iloc[train_idx], y[train_idx], sample_weight=None if weights is None else weights[train_idx])
        result.fit_seconds += time.perf_counter() - start
        val_scores = _aligned(model, X.iloc[val_idx], classes)
        scored = train_idx if not train_score_rows else train_idx[-train_score_rows:]
        train_scores = _aligned(model, X.iloc[scored], classes)
        result.val_scores.append(metric_value(metric, task, y[val_idx], val_scores, classes))
        result.train_scores.append(metric_value(metric, task, y[scored], train_scores, classes))
        if getattr(model, "best_iteration_", None):
            result.best_iterations.append(model.best_iteration_)
        oof_idx.append(val_idx)
        oof.append(val_scores)
        on_fold()
        on_score(i, result.val_scores[-1])
    result.oof_index = np.concatenate(oof_idx)
    result.oof_scores = np.concatenate(oof)
    return result


def _aligned(model, X, classes):
    """Scores with one column per class of the whole data, even if a fold's training rows missed a class."""
    scores = model.scores(X)
    if classes is None or np.ndim(scores) == 1:
        return scores
    full = np.zeros((len(X), len(classes)))
    full[:, np.searchsorted(classes, model.classes_)] = scores
    return full
