"""Recommenders on a users x items matrix, and the packaged model that answers top-k lists with reasons.

A *scorer* has ``fit(X, recent=None)`` (``X``: a CSR matrix of training interactions, users x items, weights
>= 0) and ``scores(rows)`` (a dense block: those users x every item). Baselines: ``Popularity`` (training
interaction counts), ``RecentPopularity`` (counts over the latest share of the training period) and
``Random`` (seeded). Candidates: ``ItemKNN`` (cosine item-item neighbours), ``ALS`` and ``BPR`` (the
``implicit`` library; only their factors are kept, so the packaged model does not need it) and ``NeuMF``
(``recommendations.neumf``, torch).

``Recommender`` wraps a fitted scorer with the id maps and each user's seen items: it excludes seen items,
falls back to popularity for an unknown user (and says so), and gives reasons: the user's own items most
similar (cosine over co-occurrence in training) to each recommended one.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from scipy import sparse


def matrix(frame: pd.DataFrame, users: pd.Index, items: pd.Index, weight: str | None = None) -> sparse.csr_matrix:
    """users x items CSR of ``frame``'s interactions (summed weights; 1 each without ``weight``)."""
    rows = users.get_indexer(frame["user"])
    cols = items.get_indexer(frame["item"])
    keep = (rows >= 0) & (cols >= 0)
    values = np.ones(keep.sum()) if weight is None else frame[weight].to_numpy(float)[keep]
    X = sparse.csr_matrix((values, (rows[keep], cols[keep])), shape=(len(users), len(items)))
    X.sum_duplicates()
    return X


class Popularity:
    """Every user gets the items most interacted with in training."""

    def __init__(self, **_):
        self.counts_ = None

    def fit(self, X, recent=None):
        self.counts_ = np.asarray((X > 0).sum(0)).ravel().astype(float)
        return self

    def scores(self, rows):
        return np.tile(self.counts_, (len(rows), 1))

    def describe(self) -> dict:
        return {"kind": "popularity"}


class RecentPopularity(Popularity):
    """Popularity over the latest part of the training period (``recent``), ties broken by all-time counts."""

    def fit(self, X, recent=None):
        total = np.asarray((X > 0).sum(0)).ravel().astype(float)
        late = np.asarray(((recent if recent is not None else X) > 0).sum(0)).ravel().astype(float)
        self.counts_ = late + total / (total.max() + 1)
        return self


class Random:
    def __init__(self, random_state: int = 0, **_):
        self.random_state = random_state

    def fit(self, X, recent=None):
        self.n_items_ = X.shape[1]
        return self

    def scores(self, rows):
        rng = np.random.default_rng(self.random_state)
        return rng.random((len(rows), self.n_items_))


class ItemKNN:
    """Item-based collaborative filtering: cosine similarity of item columns, the ``neighbours`` most similar kept
    per item, ``shrink`` damping similarities resting on few co-occurrences; a user's score for an item is the sum
    of its similarities to the user's items."""

    def __init__(self, neighbours: int = 100, shrink: float = 10.0, random_state: int = 0, **_):
        self.neighbours, self.shrink = int(neighbours), float(shrink)

    def fit(self, X, recent=None):
        B = (X > 0).astype(np.float32).tocsc()
        co = (B.T @ B).toarray()
        norms = np.sqrt(np.diag(co)).astype(np.float32)
        sim = co / (np.outer(norms, norms) + self.shrink + 1e-9)
        np.fill_diagonal(sim, 0.0)
        k = min(self.neighbours, sim.shape[0] - 1)
        if 0 < k < sim.shape[0] - 1:
            cut = np.argpartition(-sim, k, axis=0)[k:]
            np.put_along_axis(sim, cut, 0.0, axis=0)
        self.similarity_ = sparse.csr_matrix(sim.astype(np.float32))
        self.X_ = (X > 0).astype(np.float32).tocsr()
        return self

    def scores(self, rows):
        return np.asarray((self.X_[rows] @ self.similarity_).todense())

    def describe(self) -> dict:
        return {"kind": "ItemKNN", "neighbours": self.neighbours, "shrink": self.shrink}


class _Factors:
    """A factor model's scores: user factors times item factors."""

    user_factors_: np.ndarray
    item_factors_: np.ndarray

    def scores(self, rows):
        return self.user_factors_[rows] @ self.item_factors_.T


class ALS(_Factors):
    """Implicit-feedback ALS (Hu, Koren & Volinsky), confidence 1 + ``alpha`` x weight, from ``implicit``."""

    def __init__(self, factors: int = 64, regularization: float = 0.05, iterations: int = 15, alpha: float = 1.0,
                 random_state: int = 0, **_):
        self.factors, self.regularization, self.iterations, self.alpha = int(factors), float(regularization), int(iterations), float(alpha)
        self.random_state = random_state

    def fit(self, X, recent=None):
        from implicit.cpu.als import AlternatingLeastSquares
        from threadpoolctl import threadpool_limits

        with threadpool_limits(1, "blas"):  # implicit's own threads; a BLAS pool under them only slows it down
            m = AlternatingLeastSquares(factors=self.factors, regularization=self.regularization, iterations=self.iterations,
                                        alpha=self.alpha, random_state=self.random_state, num_threads=1,
                                        calculate_training_loss=False)
            m.fit(sparse.csr_matrix(X, dtype=np.float32), show_progress=False)
        self.user_factors_, self.item_factors_ = np.asarray(m.user_factors), np.asarray(m.item_factors)
        return self

    def describe(self) -> dict:
        return {"kind": "ALS", "factors": self.factors, "regularization": self.regularization, "iterations": self.iterations,
                "alpha": self.alpha}


class BPR(_Factors):
    """Bayesian personalised ranking (Rendle et al.) by SGD on sampled (user, positive, negative) triples, from ``implicit``."""

    def __init__(self, factors: int = 64, learning_rate: float = 0.05, regularization: float = 0.01, iterations: int = 100,
                 random_state: int = 0, **_):
        self.factors, self.learning_rate, self.regularization = int(factors), float(learning_rate), float(regularization)
        self.iterations, self.random_state = int(iterations), random_state

    def fit(self, X, recent=None):
        from implicit.cpu.bpr import BayesianPersonalizedRanking

        m = BayesianPersonalizedRanking(factors=self.factors, learning_rate=self.learning_rate,
                                        regularization=self.regularization, iterations=self.iterations,
                                        random_state=self.random_state, num_threads=1)
        m.fit(sparse.csr_matrix((X > 0).astype(np.float32)), show_progress=False)
        self.user_factors_, self.item_factors_ = np.asarray(m.user_factors), np.asarray(m.item_factors)
        return self

    def describe(self) -> dict:
        return {"kind": "BPR", "factors": self.factors, "learning_rate": self.learning_rate,
                "regularization": self.regularization, "iterations": self.iterations}


def top_k(scores: np.ndarray, exclude: sparse.csr_matrix | None, k: int) -> tuple[np.ndarray, np.ndarray]:
    """The ``k`` best columns of each row (best first), seen items (``exclude``'s non-zeros) never among them."""
    s = np.array(scores, dtype=float, copy=True)
    if exclude is not None:
        r, c = exclude.nonzero()
        s[r, c] = -np.inf
    k = min(k, s.shape[1])
    part = np.argpartition(-s, k - 1, axis=1)[:, :k]
    order = np.argsort(-np.take_along_axis(s, part, 1), axis=1, kind="stable")
    idx = np.take_along_axis(part, order, 1)
    return idx, np.take_along_axis(s, idx, 1)


class Recommender:
    """The packaged model: top-k lists for users (seen items excluded), popularity for unknown users, reasons.

    ``predict`` (the MLflow signature) takes a frame with the user column and answers each user's top-k items,
    space-separated; ``recommend`` answers one user with scores and reasons.
    """

    task = "ranking"

    def __init__(self, scorer, users, items, seen: sparse.csr_matrix, popularity: np.ndarray, user_column: str,
                 item_column: str, k: int = 10, name: str = "", rating=None):
        self.scorer, self.users_, self.items_ = scorer, np.asarray(users, dtype=object), np.asarray(items, dtype=object)
        self.seen_ = seen.tocsr()
        self.popularity_ = np.asarray(popularity, float)
        self.user_column, self.item_column, self.k, self.name = user_column, item_column, int(k), name
        self.rating = rating  # a RatingModel for explicit feedback, or None
        self._index = {self._key(u): i for i, u in enumerate(self.users_)}
        cols = (self.seen_ > 0).astype(np.float32).tocsc()
        norms = np.sqrt(np.asarray(cols.multiply(cols).sum(0)).ravel())
        self.normalised_ = sparse.csc_matrix(cols.multiply(1 / np.maximum(norms, 1e-9)))

    @staticmethod
    def _key(user) -> str:
        if isinstance(user, (float, np.floating)) and float(user).is_integer():
            user = int(user)
        return str(user)

    def row(self, user):
        return self._index.get(self._key(user))

    def lists(self, users, k: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Top-k item positions and scores for each user, and whether each fell back to popularity."""
        rows = np.array([self.row(u) if self.row(u) is not None else -1 for u in users])
        known = rows >= 0
        idx = np.zeros((len(rows), min(k, len(self.items_))), dtype=int)
        sc = np.zeros(idx.shape, dtype=float)
        if known.any():
            i, s = top_k(self.scorer.scores(rows[known]), self.seen_[rows[known]], k)
            idx[known], sc[known] = i, s
        if (~known).any():
            i, s = top_k(self.popularity_[None, :], None, k)
            idx[~known], sc[~known] = i[0], s[0]
        return idx, sc, ~known

    def scores(self, frame: pd.DataFrame):
        """Per-row scores are what ``stage=monitor`` profiles for drift: not built for recommenders yet."""
        from specweave_ml.errors import NotTrainableYet

        raise NotTrainableYet("stage", "drift monitoring of a recommender (stage=monitor) is not built yet",
                              "watch the server's /metrics (recommend_fallbacks_total counts unknown users) meanwhile")

    def predict(self, frame: pd.DataFrame) -> np.ndarray:
        idx, sc, _ = self.lists(frame[self.user_column].tolist(), self.k)
        return np.array([" ".join(str(self.items_[j]) for j, v in zip(row, vals) if np.isfinite(v)) for row, vals in zip(idx, sc)],
                        dtype=object)

    def reasons(self, user, items: list[int], top: int = 3) -> list[list[dict]]:
        """For each recommended item position, the user's own items most similar to it (cosine of co-occurrence)."""
        r = self.row(user)
        if r is None:
            return [[] for _ in items]
        own = self.seen_[r].indices
        if len(own) == 0:
            return [[] for _ in items]
        sims = (self.normalised_[:, items].T @ self.normalised_[:, own]).toarray()
        out = []
        for s in sims:
            best = np.argsort(-s, kind="stable")[:top]
            out.append([{"item": _plain(self.items_[own[b]]), "similarity": round(float(s[b]), 4)} for b in best if s[b] > 0])
        return out

    def recommend(self, user, k: int | None = None, reasons: int = 3) -> dict:
        k = int(k or self.k)
        idx, sc, fallback = self.lists([user], k)
        keep = np.isfinite(sc[0])  # fewer unseen items than k: the list is shorter, never a seen item
        idx, sc = idx[:, keep], sc[:, keep]
        explained = self.reasons(user, idx[0].tolist(), reasons) if not fallback[0] else [[] for _ in idx[0]]
        return {"user": user, "k": k, "fallback": "popularity: this user is unknown to the model" if fallback[0] else None,
                "items": [{"item": _plain(self.items_[j]), "score": round(float(s), 6), "reasons": why}
                          for j, s, why in zip(idx[0], sc[0], explained)]}

    def describe(self) -> dict:
        return {"name": self.name, **(self.scorer.describe() if hasattr(self.scorer, "describe") else {}),
                "users": len(self.users_), "items": len(self.items_)}


class RatingModel:
    """Explicit feedback: rating = global mean + user bias + item bias (regularised, alternating least squares)."""

    def __init__(self, regularization: float = 10.0, iterations: int = 10):
        self.regularization, self.iterations = regularization, iterations

    def fit(self, rows: np.ndarray, cols: np.ndarray, ratings: np.ndarray, n_users: int, n_items: int):
        self.mean_ = float(ratings.mean())
        bu, bi = np.zeros(n_users), np.zeros(n_items)
        lam = self.regularization
        for _ in range(self.iterations):
            bi = np.bincount(cols, ratings - self.mean_ - bu[rows], n_items) / (np.bincount(cols, None, n_items) + lam)
            bu = np.bincount(rows, ratings - self.mean_ - bi[cols], n_users) / (np.bincount(rows, None, n_users) + lam)
        self.user_bias_, self.item_bias_ = bu, bi
        return self

    def predict(self, rows: np.ndarray, cols: np.ndarray) -> np.ndarray:
        u = np.where(rows >= 0, self.user_bias_[np.maximum(rows, 0)], 0.0)
        i = np.where(cols >= 0, self.item_bias_[np.maximum(cols, 0)], 0.0)
        return self.mean_ + u + i


def _plain(value):
    return value.item() if hasattr(value, "item") else value
