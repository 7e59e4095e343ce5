"""Ranking metrics from saved top-k lists, on the full catalogue (no sampled negatives).

The saved lists (``reports/predictions.parquet``) hold one row per (user, rank): the recommended ``item``, its
``score``, whether it is ``relevant`` (a held-out positive of that user) and the user's ``n_relevant``. Every
metric below is computed from that frame alone, per user then averaged over the users evaluated:

* precision@k = hits in the top k / k;  recall@k = hits / n_relevant;  hit rate@k = 1 if any hit;
* NDCG@k: binary gains, DCG = sum 1 / log2(rank + 1) over hits, IDCG the same for min(n_relevant, k) hits;
* MAP@k = sum over hits of precision@rank / min(n_relevant, k);
* MRR: 1 / rank of the first relevant item within the saved list (0 when none);
* coverage@k: distinct items recommended in anyone's top k / catalogue size;
* novelty@k: mean -log2(share of training users who interacted with the item) over recommended items.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

USER, RANK, ITEM, SCORE, RELEVANT, N_RELEVANT = "user", "rank", "item", "score", "relevant", "n_relevant"


def top_k_frame(users, items: np.ndarray, scores: np.ndarray, relevant: list[set], max_k: int) -> pd.DataFrame:
    """Saved lists from per-user top items (``items``/``scores``: users x max_k) and each user's relevant set."""
    n = len(users)
    rank = np.tile(np.arange(1, max_k + 1), n)
    user_col = np.repeat(np.asarray(users, dtype=object), max_k)
    flat = items[:, :max_k].reshape(-1)
    rel = np.array([it in relevant[i // max_k] for i, it in enumerate(flat)], dtype=bool)
    n_rel = np.repeat(np.array([len(r) for r in relevant], dtype=int), max_k)
    return pd.DataFrame({USER: user_col, RANK: rank, ITEM: flat, SCORE: scores[:, :max_k].reshape(-1).astype(float),
                         RELEVANT: rel, N_RELEVANT: n_rel})


def _hits(frame: pd.DataFrame) -> tuple[np.ndarray, np.ndarray]:
    """users x max_k matrix of hits (rank order), and each user's n_relevant."""
    ordered = frame.sort_values([USER, RANK], kind="stable")
    users = ordered[USER].drop_duplicates()
    max_k = int(ordered[RANK].max())
    hits = np.zeros((len(users), max_k), dtype=float)
    position = pd.Series(np.arange(len(users)), index=users.to_numpy())
    rows = position.loc[ordered[USER].to_numpy()].to_numpy()
    hits[rows, ordered[RANK].to_numpy() - 1] = ordered[RELEVANT].to_numpy(float)
    n_rel = ordered.groupby(USER, sort=False)[N_RELEVANT].first().loc[users.to_numpy()].to_numpy(float)
    return hits, n_rel


def precision_at(hits: np.ndarray, n_rel: np.ndarray, k: int) -> float:
    return float(np.mean(hits[:, :k].sum(1) / k))


def recall_at(hits: np.ndarray, n_rel: np.ndarray, k: int) -> float:
    return float(np.mean(hits[:, :k].sum(1) / np.maximum(n_rel, 1)))


def hit_rate_at(hits: np.ndarray, n_rel: np.ndarray, k: int) -> float:
    return float(np.mean(hits[:, :k].sum(1) > 0))


def ndcg_at(hits: np.ndarray, n_rel: np.ndarray, k: int) -> float:
    discounts = 1.0 / np.log2(np.arange(2, k + 2))
    dcg = (hits[:, :k] * discounts[:hits[:, :k].shape[1]]).sum(1)
    ideal = np.array([discounts[:int(min(n, k))].sum() for n in n_rel])
    return float(np.mean(np.where(ideal > 0, dcg / np.where(ideal > 0, ideal, 1), 0.0)))


def map_at(hits: np.ndarray, n_rel: np.ndarray, k: int) -> float:
    h = hits[:, :k]
    precision = np.cumsum(h, 1) / np.arange(1, h.shape[1] + 1)
    denom = np.minimum(n_rel, k)
    return float(np.mean(np.where(denom > 0, (precision * h).sum(1) / np.maximum(denom, 1), 0.0)))


def mrr(hits: np.ndarray, n_rel: np.ndarray) -> float:
    first = np.argmax(hits > 0, axis=1)
    any_hit = hits.max(1) > 0
    return float(np.mean(np.where(any_hit, 1.0 / (first + 1), 0.0)))


def coverage_at(frame: pd.DataFrame, k: int, catalogue: int) -> float:
    return float(frame.loc[frame[RANK] <= k, ITEM].nunique() / catalogue) if catalogue else 0.0


def novelty_at(frame: pd.DataFrame, k: int, user_share: dict) -> float:
    items = frame.loc[frame[RANK] <= k, ITEM]
    shares = np.array([user_share.get(i, 0.0) for i in items], dtype=float)
    floor = 1.0 / max(len(user_share), 1) / 10  # an item no training user saw: rarer than any seen one
    return float(np.mean(-np.log2(np.maximum(shares, floor)))) if len(shares) else 0.0


def ranking_metrics(frame: pd.DataFrame, ks, catalogue: int, user_share: dict) -> dict[str, float]:
    """Every ranking metric at every k (named like ``ndcg_at_10``), MRR, coverage and novelty, from saved lists."""
    if frame.empty:
        return {}
    hits, n_rel = _hits(frame)
    out: dict[str, float] = {}
    for k in sorted(set(int(k) for k in ks)):
        out[f"precision_at_{k}"] = precision_at(hits, n_rel, k)
        out[f"recall_at_{k}"] = recall_at(hits, n_rel, k)
        out[f"ndcg_at_{k}"] = ndcg_at(hits, n_rel, k)
        out[f"map_at_{k}"] = map_at(hits, n_rel, k)
        out[f"hit_rate_at_{k}"] = hit_rate_at(hits, n_rel, k)
        out[f"coverage_at_{k}"] = coverage_at(frame, k, catalogue)
        out[f"novelty_at_{k}"] = novelty_at(frame, k, user_share)
    out["mrr"] = mrr(hits, n_rel)
    out["users_evaluated"] = float(len(n_rel))
    return out


def per_user_ndcg(frame: pd.DataFrame, k: int) -> pd.Series:
    """NDCG@k of each user (for paired bootstraps between two models' lists)."""
    ordered = frame.sort_values([USER, RANK], kind="stable")
    users = ordered[USER].drop_duplicates().to_numpy()
    hits, n_rel = _hits(frame)
    discounts = 1.0 / np.log2(np.arange(2, k + 2))
    dcg = (hits[:, :k] * discounts[:hits[:, :k].shape[1]]).sum(1)
    ideal = np.array([discounts[:int(min(n, k))].sum() for n in n_rel])
    return pd.Series(np.where(ideal > 0, dcg / np.where(ideal > 0, ideal, 1), 0.0), index=users)


def rating_errors(y_true, y_pred) -> dict[str, float]:
    y_true, y_pred = np.asarray(y_true, float), np.asarray(y_pred, float)
    return {"rmse": float(np.sqrt(np.mean((y_true - y_pred) ** 2))), "mae": float(np.mean(np.abs(y_true - y_pred)))}
