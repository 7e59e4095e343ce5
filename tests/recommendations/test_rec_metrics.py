"""Every ranking metric against hand-computed cases, from saved top-k lists."""

import math

import numpy as np
import pytest

from specweave_ml.recommendations import metrics as rm
from specweave_ml.recommendations.models import Recommender, top_k


def lists():
    # user a: list [1, 2, 3, 4], relevant {2, 4, 9}: hits at ranks 2 and 4
    # user b: list [5, 6, 7, 8], relevant {5}: hit at rank 1
    items = np.array([[1, 2, 3, 4], [5, 6, 7, 8]])
    scores = np.array([[4.0, 3, 2, 1], [4.0, 3, 2, 1]])
    return rm.top_k_frame(["a", "b"], items, scores, [{2, 4, 9}, {5}], 4)


def test_the_saved_lists_hold_relevance_and_the_number_relevant():
    frame = lists()
    assert frame["relevant"].tolist() == [False, True, False, True, True, False, False, False]
    assert frame["n_relevant"].tolist() == [3] * 4 + [1] * 4


def test_precision_recall_and_hit_rate_by_hand():
    out = rm.ranking_metrics(lists(), [2, 4], catalogue=10, user_share={})
    assert out["precision_at_2"] == pytest.approx((1 / 2 + 1 / 2) / 2)
    assert out["precision_at_4"] == pytest.approx((2 / 4 + 1 / 4) / 2)
    assert out["recall_at_2"] == pytest.approx((1 / 3 + 1) / 2)
    assert out["recall_at_4"] == pytest.approx((2 / 3 + 1) / 2)
    assert out["hit_rate_at_2"] == 1.0


def test_ndcg_by_hand():
    out = rm.ranking_metrics(lists(), [4], catalogue=10, user_share={})
    dcg_a = 1 / math.log2(3) + 1 / math.log2(5)
    idcg_a = 1 + 1 / math.log2(3) + 1 / math.log2(4)  # min(3 relevant, k=4) = 3 ideal hits
    assert out["ndcg_at_4"] == pytest.approx((dcg_a / idcg_a + 1.0) / 2)


def test_map_and_mrr_by_hand():
    out = rm.ranking_metrics(lists(), [4], catalogue=10, user_share={})
    ap_a = (1 / 2 + 2 / 4) / 3  # precision at each hit, over min(3, 4) relevant
    assert out["map_at_4"] == pytest.approx((ap_a + 1.0) / 2)
    assert out["mrr"] == pytest.approx((1 / 2 + 1) / 2)


def test_no_hit_scores_zero_everywhere():
    frame = rm.top_k_frame(["a"], np.array([[1, 2]]), np.array([[2.0, 1.0]]), [{7}], 2)
    out = rm.ranking_metrics(frame, [2], catalogue=5, user_share={})
    assert out["ndcg_at_2"] == out["map_at_2"] == out["mrr"] == out["precision_at_2"] == out["hit_rate_at_2"] == 0.0


def test_coverage_and_novelty_by_hand():
    out = rm.ranking_metrics(lists(), [2], catalogue=10, user_share={1: 0.5, 2: 0.25, 5: 1.0, 6: 0.125})
    assert out["coverage_at_2"] == pytest.approx(4 / 10)  # items 1, 2, 5, 6
    assert out["novelty_at_2"] == pytest.approx((1 + 2 + 0 + 3) / 4)  # mean -log2(share)


def test_rmse_and_mae_by_hand():
    out = rm.rating_errors([3, 5], [4, 3])
    assert out["rmse"] == pytest.approx(math.sqrt((1 + 4) / 2)) and out["mae"] == pytest.approx(1.5)


def test_top_k_excludes_seen_items_and_orders_best_first():
    from scipy import sparse

    scores = np.array([[0.9, 0.1, 0.8, 0.5]])
    idx, sc = top_k(scores, sparse.csr_matrix(np.array([[1, 0, 0, 0]])), 2)
    assert idx.tolist() == [[2, 3]] and sc.tolist() == [[0.8, 0.5]]


def test_an_unknown_user_gets_popularity_and_is_told_so():
    from scipy import sparse

    from specweave_ml.recommendations.models import Popularity

    X = sparse.csr_matrix(np.array([[1, 1, 0], [0, 1, 1]], dtype=float))
    model = Recommender(Popularity().fit(X), [10, 20], ["x", "y", "z"], X, np.array([1.0, 2.0, 1.0]), "u", "i", k=2)
    known = model.recommend(10, 2)
    assert known["fallback"] is None and [i["item"] for i in known["items"]] == ["z"]  # x and y seen
    cold = model.recommend("stranger", 2)
    assert cold["fallback"].startswith("popularity") and [i["item"] for i in cold["items"]] == ["y", "x"]
    assert known["items"][0]["reasons"][0]["item"] == "y"  # z co-occurs with y (user 20), not with x
