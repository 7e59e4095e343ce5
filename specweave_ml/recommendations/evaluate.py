"""Fitting a recommender on training interactions and scoring its top-k lists on held-out ones.

The catalogue is every item seen in training (a held-out item never seen there cannot be ranked by any model;
it still counts among the user's relevant items, so it lowers recall honestly, and the split counts it). Every
catalogue item the user has not interacted with in training is a candidate; the user's training items are
excluded. A held-out user unseen in training gets the popularity list (counted as a fallback).
"""

from __future__ import annotations

import time
import tracemalloc
from dataclasses import dataclass

import numpy as np
import pandas as pd

from specweave_ml.recommendations import metrics as rm
from specweave_ml.recommendations.models import Popularity, RatingModel, Recommender, matrix


@dataclass(frozen=True)
class Settings:
    positive_threshold: float | None  # a rating at or above it is a positive (None: every interaction is)
    ks: tuple[int, ...]
    recent_share: float = 0.1  # recent popularity: the latest share of the training period
    explicit: bool = False  # predict the rating too (RMSE/MAE)


def positives(frame: pd.DataFrame, threshold: float | None) -> pd.DataFrame:
    return frame if threshold is None else frame[frame["rating"] >= threshold]


def fit(scorer, train: pd.DataFrame, s: Settings, user_column: str, item_column: str, name: str) -> Recommender:
    """``scorer`` fitted on the positives of ``train``, inside a ``Recommender`` that excludes every training item."""
    users = pd.Index(pd.unique(train["user"]))
    items = pd.Index(pd.unique(train["item"]))
    pos = positives(train, s.positive_threshold)
    weight = "rating" if s.explicit else None
    X = matrix(pos, users, items, weight)
    span = train["time"].max() - train["time"].min()
    recent = matrix(pos[pos["time"] >= train["time"].max() - s.recent_share * span], users, items)
    scorer.fit(X, recent)
    seen = matrix(train, users, items)
    popularity = Popularity().fit(X).counts_
    rating = None
    if s.explicit:
        rating = RatingModel().fit(users.get_indexer(train["user"]), items.get_indexer(train["item"]),
                                   train["rating"].to_numpy(float), len(users), len(items))
    return Recommender(scorer, users.to_numpy(), items.to_numpy(), seen, popularity, user_column, item_column,
                       k=max(s.ks), name=name, rating=rating)


def relevant_sets(test: pd.DataFrame, threshold: float | None) -> pd.Series:
    pos = positives(test, threshold)
    return pos.groupby("user", sort=True)["item"].agg(lambda x: set(x.tolist()))


def lists(model: Recommender, test: pd.DataFrame, s: Settings) -> pd.DataFrame:
    """The saved top-k lists of every held-out user with at least one positive (with a ``fallback`` column)."""
    rel = relevant_sets(test, s.positive_threshold)
    k = max(s.ks)
    users = rel.index.tolist()
    idx, sc, fallback = model.lists(users, k)
    items = model.items_[idx]
    frame = rm.top_k_frame(users, items, sc, rel.tolist(), idx.shape[1])
    frame["fallback"] = np.repeat(fallback, idx.shape[1])
    return frame[np.isfinite(frame["score"])].reset_index(drop=True)  # a seen item is never listed


def score(model: Recommender, train: pd.DataFrame, test: pd.DataFrame, s: Settings) -> tuple[pd.DataFrame, dict]:
    """The saved lists and every metric computed from them (RMSE/MAE on held-out ratings when explicit)."""
    frame = lists(model, test, s)
    user_share = (train.groupby("item")["user"].nunique() / max(train["user"].nunique(), 1)).to_dict()
    out = rm.ranking_metrics(frame, s.ks, len(model.items_), user_share)
    out["fallback_users"] = float(frame.groupby("user")["fallback"].first().sum()) if len(frame) else 0.0
    if s.explicit and model.rating is not None:
        users, items = pd.Index(model.users_), pd.Index(model.items_)
        pred = model.rating.predict(users.get_indexer(test["user"]), items.get_indexer(test["item"]))
        out.update(rm.rating_errors(test["rating"].to_numpy(float), pred))
    return frame, out


def timed_fit(make, train, s: Settings, user_column: str, item_column: str, name: str, memory: bool = False):
    """``fit`` with its wall time in seconds and, when asked, the peak Python memory it allocated (MiB)."""
    if memory:
        tracemalloc.start()
    start = time.perf_counter()
    model = fit(make(), train, s, user_column, item_column, name)
    seconds = time.perf_counter() - start
    peak = None
    if memory:
        peak = tracemalloc.get_traced_memory()[1] / 2**20
        tracemalloc.stop()
    return model, seconds, peak
