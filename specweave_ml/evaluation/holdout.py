"""Holdout metrics computed by scikit-learn from the saved predictions, so anyone can recompute them.

Predictions frame: ``__row__`` (the source row), ``y_true``, ``y_pred`` and, for classification, the
scores (``score`` for binary: P(positive); ``proba_<class>`` for multiclass).
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from specweave_ml.metrics import compute_all
from specweave_ml.data.labels import encode


def predictions_frame(rows, y_true, y_pred, scores, task: str, classes) -> pd.DataFrame:
    out = pd.DataFrame({"__row__": np.asarray(rows), "y_true": np.asarray(y_true), "y_pred": np.asarray(y_pred)})
    if task == "binary_classification":
        out["score"] = np.asarray(scores, dtype=float)
    elif task == "multiclass_classification":
        for i, c in enumerate(classes):
            out[f"proba_{c}"] = np.asarray(scores)[:, i]
    return out


def encoded(preds: pd.DataFrame, task: str, classes):
    """y_true, y_pred and scores in the encoding the metrics expect (positive class = classes[1])."""
    if task == "regression":
        return preds["y_true"].to_numpy(float), preds["y_pred"].to_numpy(float), None
    y_true, y_pred = encode(preds["y_true"], classes), encode(preds["y_pred"], classes)
    if task == "binary_classification":
        return y_true, y_pred, preds["score"].to_numpy(float)
    return y_true, y_pred, preds[[f"proba_{c}" for c in classes]].to_numpy(float)


def holdout_metrics(preds: pd.DataFrame, task: str, metric_names, classes) -> dict:
    """Every metric of the plan (the positive class is ``classes[-1]``), plus the confusion matrix or the residual analysis."""
    from sklearn.metrics import classification_report, confusion_matrix

    y_true, y_pred, scores = encoded(preds, task, classes)
    labels = list(range(len(classes))) if classes is not None else None
    out: dict = {"metrics": compute_all(metric_names, task, y_true, y_pred, scores, labels)}
    if task == "regression":
        residuals = y_true - y_pred
        q = np.quantile(residuals, [0.05, 0.25, 0.5, 0.75, 0.95])
        out["residuals"] = {
            "mean": float(residuals.mean()), "std": float(residuals.std()),
            "quantiles": dict(zip(["p05", "p25", "p50", "p75", "p95"], map(float, q))),
            # Residual size growing with the prediction suggests modelling a log target.
            "abs_residual_vs_prediction_corr": float(np.corrcoef(np.abs(residuals), y_pred)[0, 1]) if np.std(y_pred) > 0 else 0.0,
        }
    else:
        out["confusion_matrix"] = {"labels": [str(c) for c in classes],
                                   "matrix": confusion_matrix(y_true, y_pred, labels=labels).tolist()}
        report = classification_report(y_true, y_pred, labels=labels, target_names=[str(c) for c in classes],
                                       output_dict=True, zero_division=0)
        out["per_class"] = {k: v for k, v in report.items() if k not in ("accuracy",)}
    return out
