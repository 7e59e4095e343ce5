"""The binary decision threshold: best F1, or least cost when the brief prices a miss against a false alarm.

A threshold ``t`` flags every row scored ``>= t``; brute force tries every distinct score as ``t``.
"""

import numpy as np
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
