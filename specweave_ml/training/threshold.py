"""Choose the binary decision threshold on validation (out-of-fold) scores, never on the test split."""

from __future__ import annotations

from typing import Optional

import numpy as np


def choose_threshold(y_true, scores, cost_ratio: Optional[float] = None) -> tuple[float, str]:
    """Best F1, or, when the brief gives the cost of a miss relative to a false alarm, least total cost."""
    from sklearn.metrics import precision_recall_curve

    y_true = np.asarray(y_true).astype(int)
    scores = np.asarray(scores, dtype=float)
    precision, recall, thresholds = precision_recall_curve(y_true, scores)
    if len(thresholds) == 0:
        return 0.5, "a single score value: default 0.5"
    if cost_ratio is None:
        p, r = precision[:-1], recall[:-1]
        f1 = np.divide(2 * p * r, p + r, out=np.zeros_like(p), where=(p + r) > 0)
        best = int(np.argmax(f1))
        return float(thresholds[best]), f"best F1 ({f1[best]:.4f}) on out-of-fold validation scores"
    positives = y_true.sum()
    # For each threshold, misses = positives scored below it, false alarms = negatives at or above it.
    order = np.argsort(-scores)
    tp = np.cumsum(y_true[order])
    fp = np.cumsum(1 - y_true[order])
    cost = cost_ratio * (positives - tp) + fp
    best = int(np.argmin(cost))
    return float(scores[order][best]), f"least cost with a miss costing {cost_ratio:g} false alarms, on out-of-fold scores"
