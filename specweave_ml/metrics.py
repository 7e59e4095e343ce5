"""The metrics each task can be judged by, computed by scikit-learn from saved predictions.

A metric knows its direction and whether it is a score bounded by 1; the baseline gate and the
overfitting checks read both (see ``gates.py``).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

import numpy as np

BINARY = "binary_classification"
MULTICLASS = "multiclass_classification"
REGRESSION = "regression"
RANKING = "ranking"
FORECASTING = "forecasting"
CLASSIFICATION = (BINARY, MULTICLASS)


@dataclass(frozen=True)
class Metric:
    name: str
    tasks: tuple[str, ...]
    greater_is_better: bool
    bounded_by_one: bool  # a score whose best value is 1 (AUC, F1, accuracy, R²)
    uses: str  # "scores" (probabilities), "labels" (hard decisions) or "values" (regression)
    describe: str

    def compute(self, y_true, y_pred=None, y_score=None, labels=None) -> float:
        return float(_FUNCTIONS[self.name](np.asarray(y_true), y_pred, y_score, labels))


def _mape(y_true, y_pred):
    # Guarded against zero targets: those rows are left out (and MAPE is NaN if every target is 0).
    mask = y_true != 0
    if not mask.any():
        return float("nan")
    return float(np.mean(np.abs((y_true[mask] - y_pred[mask]) / y_true[mask])))


def _functions() -> dict[str, Callable]:
    from sklearn import metrics as m

    def ovr_auc(y, p, s, labels):
        return m.roc_auc_score(y, s, multi_class="ovr", average="macro", labels=labels)

    return {
        "accuracy": lambda y, p, s, labels: m.accuracy_score(y, p),
        "balanced_accuracy": lambda y, p, s, labels: m.balanced_accuracy_score(y, p),
        "precision": lambda y, p, s, labels: m.precision_score(y, p, zero_division=0),
        "recall": lambda y, p, s, labels: m.recall_score(y, p, zero_division=0),
        "f1": lambda y, p, s, labels: m.f1_score(y, p, zero_division=0),
        "roc_auc": lambda y, p, s, labels: m.roc_auc_score(y, s),
        "pr_auc": lambda y, p, s, labels: m.average_precision_score(y, s),
        "log_loss": lambda y, p, s, labels: m.log_loss(y, s, labels=labels),
        "precision_macro": lambda y, p, s, labels: m.precision_score(y, p, average="macro", zero_division=0),
        "recall_macro": lambda y, p, s, labels: m.recall_score(y, p, average="macro", zero_division=0),
        "f1_macro": lambda y, p, s, labels: m.f1_score(y, p, average="macro", zero_division=0),
        "f1_weighted": lambda y, p, s, labels: m.f1_score(y, p, average="weighted", zero_division=0),
        "roc_auc_ovr": ovr_auc,
        "rmse": lambda y, p, s, labels: m.root_mean_squared_error(y, p),
        "mae": lambda y, p, s, labels: m.mean_absolute_error(y, p),
        "mape": lambda y, p, s, labels: _mape(y, np.asarray(p)),
        "r2": lambda y, p, s, labels: m.r2_score(y, p),
    }


class _Lazy(dict):
    def __missing__(self, key):
        self.update(_functions())
        return dict.__getitem__(self, key)


_FUNCTIONS: dict[str, Callable] = _Lazy()

_M = Metric
RANKING_CUTOFFS = (1, 3, 5, 10, 20, 50, 100)
METRICS: dict[str, Metric] = {
    mt.name: mt
    for mt in [
        _M("accuracy", CLASSIFICATION, True, True, "labels", "share of correct decisions"),
        _M("balanced_accuracy", CLASSIFICATION, True, True, "labels", "mean recall over classes"),
        _M("precision", (BINARY,), True, True, "labels", "share of flagged rows that are positive"),
        _M("recall", (BINARY,), True, True, "labels", "share of positives that are flagged"),
        _M("f1", (BINARY,), True, True, "labels", "harmonic mean of precision and recall"),
        _M("roc_auc", (BINARY,), True, True, "scores", "ranking quality over all thresholds"),
        _M("pr_auc", (BINARY,), True, True, "scores", "average precision: the precision-recall trade-off"),
        _M("log_loss", CLASSIFICATION, False, False, "scores", "quality of the probabilities"),
        _M("precision_macro", (MULTICLASS,), True, True, "labels", "precision averaged over classes"),
        _M("recall_macro", (MULTICLASS,), True, True, "labels", "recall averaged over classes"),
        _M("f1_macro", (MULTICLASS,), True, True, "labels", "F1 averaged over classes"),
        _M("f1_weighted", (MULTICLASS,), True, True, "labels", "F1 averaged, weighted by class size"),
        _M("roc_auc_ovr", (MULTICLASS,), True, True, "scores", "one-vs-rest ROC AUC, macro-averaged"),
        _M("rmse", (REGRESSION, FORECASTING), False, False, "values", "root mean squared error"),
        _M("mae", (REGRESSION, FORECASTING), False, False, "values", "mean absolute error"),
        _M("mape", (REGRESSION, FORECASTING), False, False, "values", "mean absolute percentage error (zero targets left out)"),
        _M("r2", (REGRESSION,), True, True, "values", "share of variance explained"),
        # Ranking metrics are computed from saved top-k lists by specweave_ml.recommendations.metrics.
        *[_M(f"{m}_at_{k}", (RANKING,), True, True, "lists", f"{what} (top {k})") for k in RANKING_CUTOFFS for m, what in (
            ("ndcg", "ranking quality, discounted by position"), ("precision", "share of the list that is relevant"),
            ("recall", "share of the relevant items in the list"), ("map", "mean average precision"),
            ("hit_rate", "share of users with at least one relevant item in the list"),
            ("coverage", "share of the catalogue recommended to someone"))],
        _M("mrr", (RANKING,), True, True, "lists", "mean reciprocal rank of the first relevant item"),
    ]
}

DEFAULT_PRIMARY = {
    BINARY: "roc_auc",
    MULTICLASS: "f1_macro",
    REGRESSION: "rmse",
    RANKING: "ndcg_at_10",
    FORECASTING: "mae",
}
IMBALANCED_PRIMARY = "pr_auc"

DEFAULT_SECONDARY = {
    BINARY: ["accuracy", "precision", "recall", "f1", "roc_auc", "pr_auc"],
    MULTICLASS: ["accuracy", "precision_macro", "recall_macro", "f1_macro", "f1_weighted", "roc_auc_ovr"],
    REGRESSION: ["rmse", "mae", "mape", "r2"],
    RANKING: ["precision_at_10", "recall_at_10", "ndcg_at_10", "map_at_10", "mrr"],
    FORECASTING: ["rmse", "mae", "mape"],
}


def metrics_for(task: str) -> list[str]:
    return [name for name, mt in METRICS.items() if task in mt.tasks]


def compute_all(names, task, y_true, y_pred, y_score, labels=None) -> dict[str, float]:
    """Every named metric from saved predictions; the same call recomputes a report's numbers."""
    out = {}
    for name in names:
        mt = METRICS[name]
        out[name] = mt.compute(y_true, y_pred, y_score, labels)
    return out
