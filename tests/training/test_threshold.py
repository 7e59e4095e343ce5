"""The decision rule: the binary threshold (best F1, or least cost when the brief prices a miss against a false alarm) and
the multiclass class weights on the probabilities.

A threshold ``t`` flags every row scored ``>= t``; brute force tries every distinct score as ``t``.
"""

import numpy as np
import pandas as pd
import pytest
from sklearn.metrics import f1_score

from specweave_ml.training.threshold import choose_threshold

COST_RATIOS = [0.2, 1, 3, 10, 50, 250]


def scored(seed, n=500, positives=0.15, ties=False):
    rng = np.random.default_rng(seed)
    y = (rng.random(n) < positives).astype(int)
    scores = np.clip(0.35 * y + rng.random(n) * 0.75, 0, 1)
    if ties:  # like a forest's vote shares or a tree's leaves: few distinct values
        scores = np.round(scores, 1)
    return y, scores


def brute_f1(y, scores):
    thresholds = np.unique(scores)
    f1 = np.array([f1_score(y, scores >= t, zero_division=0) for t in thresholds])
    return thresholds, f1


def cost(y, scores, t, ratio):
    flagged = scores >= t
    return ratio * np.sum((y == 1) & ~flagged) + np.sum((y == 0) & flagged)


@pytest.mark.parametrize("seed", [0, 1, 2])
@pytest.mark.parametrize("ties", [False, True])
def test_best_f1_threshold_is_the_brute_force_argmax(seed, ties):
    y, scores = scored(seed, ties=ties)
    threshold, rule = choose_threshold(y, scores)
    thresholds, f1 = brute_f1(y, scores)
    assert threshold == thresholds[np.argmax(f1)]
    assert f1_score(y, scores >= threshold) == pytest.approx(f1.max(), abs=1e-12)
    assert rule == f"best F1 ({f1.max():.4f}) on out-of-fold validation scores"


@pytest.mark.parametrize("ties", [False, True])
@pytest.mark.parametrize("ratio", COST_RATIOS)
def test_cost_ratio_threshold_has_the_least_total_cost(ratio, ties):
    y, scores = scored(4, ties=ties)
    threshold, rule = choose_threshold(y, scores, cost_ratio=ratio)
    least = min(cost(y, scores, t, ratio) for t in np.unique(scores))
    assert cost(y, scores, threshold, ratio) == least
    assert f"a miss costing {ratio:g} false alarms" in rule and "out-of-fold" in rule


@pytest.mark.parametrize("ties", [False, True])
def test_a_costlier_miss_lowers_the_threshold(ties):
    y, scores = scored(5, ties=ties)
    thresholds = [choose_threshold(y, scores, cost_ratio=r)[0] for r in COST_RATIOS]
    assert all(a >= b for a, b in zip(thresholds, thresholds[1:])), thresholds
    assert thresholds[-1] < thresholds[0]


def test_threshold_is_one_of_the_scores_for_both_rules():
    y, scores = scored(6)
    assert choose_threshold(y, scores)[0] in scores
    assert choose_threshold(y, scores, cost_ratio=10)[0] in scores


def test_constant_scores_flag_every_row():
    # One distinct score: the only threshold that flags anything flags everything (recall 1).
    threshold, _ = choose_threshold([0, 1, 0, 1], [0.3, 0.3, 0.3, 0.3])
    assert threshold == 0.3


# --- the multiclass decision rule: class weights on the probabilities ----------------------------------------

def _draws(n=3000, seed=0):
    """Three classes where the middle one (a draw) is never the most probable: argmax never predicts it."""
    rng = np.random.default_rng(seed)
    y = rng.choice(3, size=n, p=[0.45, 0.25, 0.30])
    proba = np.empty((n, 3))
    for c in range(3):
        rows = y == c
        base = rng.dirichlet([4, 2, 3], size=rows.sum())
        base[:, c] += 0.15 if c != 1 else 0.08  # some signal; the draw's never lifts it above the others
        proba[rows] = base
    return y, proba / proba.sum(axis=1, keepdims=True)


def test_class_weights_make_a_never_predicted_class_predicted_when_macro_f1_gains():
    from sklearn.metrics import f1_score

    from specweave_ml.training.threshold import choose_class_scale

    y, proba = _draws()
    scale, rule = choose_class_scale(y, proba, "f1_macro")
    assert scale is not None and len(scale) == 3 and max(scale) == 1.0
    plain = f1_score(y, proba.argmax(axis=1), average="macro")
    weighted = f1_score(y, (proba * scale).argmax(axis=1), average="macro")
    assert weighted >= plain + 0.005
    assert (proba * scale).argmax(axis=1).tolist().count(1) > 0 and "f1_macro" in rule and f"{weighted:.4f}" in rule


def test_class_weights_stay_off_when_argmax_is_already_best_or_the_metric_reads_probabilities():
    from specweave_ml.training.threshold import choose_class_scale

    rng = np.random.default_rng(1)
    y = rng.choice(3, size=600)
    proba = np.full((600, 3), 0.05)
    proba[np.arange(600), y] = 0.9  # every row's own class is by far the most probable: nothing to gain
    scale, rule = choose_class_scale(y, proba, "f1_macro")
    assert scale is None and rule.startswith("highest probability")
    assert choose_class_scale(*_draws(), "roc_auc_ovr") == (None, "")


def test_the_model_decides_by_its_class_weights_and_keeps_them_through_clone():
    from sklearn.base import clone
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import Pipeline

    from specweave_ml.models.decision import DecisionModel

    rng = np.random.default_rng(2)
    X = pd.DataFrame({"a": rng.normal(size=300)})
    y = np.where(X["a"] > 0.5, "high", np.where(X["a"] < -0.5, "low", "mid"))
    model = DecisionModel(Pipeline([("model", LogisticRegression())]), task="multiclass_classification").fit(X, y)
    proba = model.scores(X)
    leaning = clone(model).set_params(class_scale=[0.01, 0.01, 1.0]).fit(X, y)  # classes sorted: high, low, mid
    assert (leaning.predict(X) == "mid").mean() > (model.predict(X) == "mid").mean()
    np.testing.assert_array_equal(leaning.predict(X), leaning.classes_[np.argmax(proba * [0.01, 0.01, 1.0], axis=1)])
