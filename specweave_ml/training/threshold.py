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


SCALE_GRID = np.exp(np.linspace(-1.5, 1.5, 25))  # each class's weight on its probability: from 0.22x to 4.5x
SCALE_PASSES = 2  # rounds of coordinate ascent over the classes
SCALE_MIN_GAIN = 0.005  # out-of-fold gain below this keeps the plain argmax (a gain that small is noise)


def choose_class_scale(y_true, proba, metric: str) -> tuple[Optional[list], str]:
    """Per-class weights on the probabilities for a multiclass decision (``argmax(proba * weights)``) that maximise a
    decision metric (macro-F1, balanced accuracy...) on out-of-fold scores: the multiclass counterpart of the binary
    F1 threshold. Argmax is optimal for accuracy on calibrated probabilities, not for metrics that weigh every class
    alike; a model trained on log-loss rarely predicts a minority class (a draw) that macro-F1 counts in full.
    (None, why) when the metric reads probabilities or the weights gain less than ``SCALE_MIN_GAIN``."""
    from specweave_ml.metrics import METRICS

    spec = METRICS[metric]
    if spec.uses != "labels":
        return None, ""
    y_true, proba = np.asarray(y_true).astype(int), np.asarray(proba, dtype=float)
    k = proba.shape[1]
    labels = list(range(k))

    def value(w):
        return spec.compute(y_true, np.argmax(proba * w, axis=1), proba, labels=labels)

    sign = 1 if spec.greater_is_better else -1
    weights = np.ones(k)
    plain = best = value(weights)
    for _ in range(SCALE_PASSES):
        for c in range(k):
            for g in SCALE_GRID:
                trial = weights.copy()
                trial[c] = g
                v = value(trial)
                if sign * (v - best) > 1e-12:
                    best, weights = v, trial
    if sign * (best - plain) < SCALE_MIN_GAIN:
        return None, f"highest probability (class weights would gain {sign * (best - plain):+.4f} {metric} out of fold, under {SCALE_MIN_GAIN:g})"
    weights = weights / weights.max()
    return [float(w) for w in weights], (f"highest weighted probability, class weights chosen for {metric} on out-of-fold scores: "
                                         f"{best:.4f} against {plain:.4f} for the plain highest probability")
