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
    positives = int(y_true.sum())
    # Flag every row scored at or above a threshold; only the last row of a run of tied scores is a
    # threshold that can really be set, so the cost is read there (plus "flag nothing").
    order = np.argsort(-scores, kind="stable")
    ranked = scores[order]
    tp = np.cumsum(y_true[order])
    fp = np.cumsum(1 - y_true[order])
    ends = np.flatnonzero(np.r_[ranked[1:] != ranked[:-1], True])
    costs = cost_ratio * (positives - tp[ends]) + fp[ends]
    best = int(np.argmin(costs))
    if cost_ratio * positives < costs[best]:  # flagging nothing is cheaper than any threshold
        return float(np.nextafter(ranked[0], np.inf)), f"flag nothing: a miss costing {cost_ratio:g} false alarms never pays"
    return float(ranked[ends[best]]), f"least cost with a miss costing {cost_ratio:g} false alarms, on out-of-fold scores"
