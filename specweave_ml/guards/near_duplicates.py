"""Near-duplicates across the split: the same entity recorded twice with small differences, once on each side.

Exact duplicates are matched by ``antipatterns.duplicates_across``; rounding, sensor noise or a re-entered
record escape it. Here every feature is scaled (numbers by their training median and interquartile range,
each category as its own random direction, so that two categories are always about ``sqrt(2)`` apart; a gap
as its own indicator) and each holdout row meets its nearest training row in an exact brute-force
nearest-neighbour index (``QUERY_ROWS`` holdout rows, drawn at random, against every training row: about 2 s
for 5,000 rows against 213,605 in 29 dimensions on two cores).

The yardstick is the *typical* distance between training rows: the median, over ``TYPICAL_ROWS`` training
rows, of the distance to their ``NEIGHBOURS``-th (10th) nearest other training row. Not the nearest: where
every entity is recorded two or three times, a training row's nearest neighbour is its own copy, and a
yardstick made of copies would call nothing a copy. A holdout row within ``NEAR_RATIO`` (1%) of the yardstick
is a near-duplicate. Distinct rows from a continuous distribution of intrinsic dimension d come that close by
chance with probability ``1 - exp(-(K - 1/3) * NEAR_RATIO ** d)`` (a locally uniform process, K =
``NEIGHBOURS``, K - 1/3 the median of a Gamma(K) count: 9% for d = 1, 0.1% for d = 2, nothing from d = 4 on);
d is estimated from how the same rows' distances grow from the K-th to the 2K-th neighbour, and that chance
share is subtracted before the share is judged (so data on a line is judged leniently, never wrongly).

Severity rests on the one-sided 95% Wilson lower bound of the share beyond chance: above ``SEVERE_SHARE``
(10%, as for exact copies) "severe"; above ``WARN_SHARE`` (1%) a "warning"; a share above a limit whose
bound is not, a "warning" with medium confidence; otherwise "info" with the evidence. The share counts exact
copies too (they are the closest near-duplicates); how many of them there are is in the evidence.

A column that explains the clusters is proposed as ``problem.data.group_column``: a discrete column equal
in at least ``EXPLAINS`` (90%) of the near-duplicate pairs and in at most ``CHANCE_MATCH`` (10%) of random
pairs (the holdout row against a random training row).
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from specweave_ml.antipatterns import LEAKAGE_CONFIDENCE, Finding, share_lower_bound

NEAR_RATIO = 0.01
NEIGHBOURS = 10
QUERY_ROWS = 5_000
TYPICAL_ROWS = 2_000
INDEX_ROWS = 1_000_000  # training rows indexed at most (a random subset beyond): copies of the others are missed
SEVERE_SHARE = 0.10
WARN_SHARE = 0.01
EXPLAINS, CHANCE_MATCH, MIN_PAIRS = 0.9, 0.1, 5
CATEGORY_DIMS = 4
IDENTICAL = 1e-6  # relative to the typical distance: equal up to float rounding
EXAMPLES = 5
ROW = "__row__"


def scaled_matrix(train: pd.DataFrame, test: pd.DataFrame, features: list[str], seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Both frames as float32 matrices on training scales (module docstring); distances are computed in float64."""
    rng = np.random.default_rng(seed)
    tr_cols, te_cols = [], []
    for col in features:
        a, b = train[col], test[col]
        if pd.api.types.is_numeric_dtype(a) and pd.api.types.is_numeric_dtype(b):  # booleans too
            x, y = a.to_numpy(dtype=float, na_value=np.nan), b.to_numpy(dtype=float, na_value=np.nan)
            present = x[~np.isnan(x)]
            if len(present) == 0:
                continue
            q1, centre, q3 = np.quantile(present, [0.25, 0.5, 0.75])
            scale = (q3 - q1) or float(np.std(present)) or 1.0
            x, y = (x - centre) / scale, (y - centre) / scale
            gaps_x, gaps_y = np.isnan(x), np.isnan(y)
            tr_cols.append(np.where(gaps_x, 0.0, x))
            te_cols.append(np.where(gaps_y, 0.0, y))
            if gaps_x.any() or gaps_y.any():
                tr_cols.append(gaps_x.astype(float))
                te_cols.append(gaps_y.astype(float))
        else:  # a category: each level a random direction of length 1 (two levels about sqrt(2) apart)
            levels = pd.Index(pd.unique(pd.concat([a, b], ignore_index=True).astype(str)))
            vectors = rng.normal(size=(len(levels), CATEGORY_DIMS))
            vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
            tr_cols += list(vectors[levels.get_indexer(a.astype(str))].T)
            te_cols += list(vectors[levels.get_indexer(b.astype(str))].T)
    if not tr_cols:
        return np.empty((len(train), 0)), np.empty((len(test), 0))
    return np.column_stack(tr_cols).astype(np.float32), np.column_stack(te_cols).astype(np.float32)


def _gamma_median(k: int) -> float:
    return k - 1 / 3  # the median of a Gamma(k, 1) count, close enough from k = 1 on


def intrinsic_dimension(d_k: np.ndarray, d_2k: np.ndarray, k: int = NEIGHBOURS) -> float | None:
    """How distances grow with the neighbour count: in d dimensions the ball around a row that holds 2k rows is
    ``(median Gamma(2k) / median Gamma(k)) ** (1 / d)`` times wider than the one that holds k, so d follows from the
    medians of ``d_2k`` and ``d_k`` (None when they do not grow: most rows sit on copies)."""
    low, high = float(np.median(d_k)), float(np.median(d_2k))
    if low <= 0 or high <= low:
        return None
    return float(np.log(_gamma_median(2 * k) / _gamma_median(k)) / np.log(high / low))


def chance_share(dimension: float | None, ratio: float = NEAR_RATIO, k: int = NEIGHBOURS) -> float:
    """The share of distinct rows within ``ratio`` of the median k-th nearest distance by chance (module docstring)."""
    d = max(1.0, dimension or 1.0)  # unknown: assume the worst case, a line
    return float(1 - np.exp(-_gamma_median(k) * ratio**d))


def _discrete(series: pd.Series) -> bool:
    if not pd.api.types.is_numeric_dtype(series) or pd.api.types.is_bool_dtype(series):
        return True
    values = series.dropna().to_numpy(float)
    return bool(len(values)) and bool(np.all(values == np.round(values)))


def explaining_column(train: pd.DataFrame, test: pd.DataFrame, columns: list[str], test_pos: np.ndarray,
                      train_pos: np.ndarray, seed: int = 0) -> dict | None:
    """The discrete column equal in most near-duplicate pairs and rarely in random pairs, or None."""
    if len(test_pos) < MIN_PAIRS:
        return None
    rng = np.random.default_rng(seed)
    random_pos = rng.integers(0, len(train), len(test_pos))
    best = None
    for col in columns:
        values = train[col]
        levels = values.nunique()
        if levels < 10 or levels > 0.9 * len(train) or not _discrete(values):
            continue
        left = test[col].iloc[test_pos].to_numpy(object)
        near = float(np.mean(left == values.iloc[train_pos].to_numpy(object)))
        chance = float(np.mean(left == values.iloc[random_pos].to_numpy(object)))
        better = best is None or near - chance > best["near_match"] - best["random_match"]
        if near >= EXPLAINS and chance <= CHANCE_MATCH and better:
            best = {"column": col, "near_match": round(near, 4), "random_match": round(chance, 4), "levels": int(levels)}
    return best


def near_duplicates(train: pd.DataFrame, test: pd.DataFrame, features: list[str], split_strategy: str,
                    group_column: str | None = None, seed: int = 0, query_rows: int = QUERY_ROWS,
                    ratio: float = NEAR_RATIO, confidence: float = LEAKAGE_CONFIDENCE) -> list[Finding]:
    """Holdout rows with a near-copy in training (module docstring); one finding, "info" when the guard holds."""
    from sklearn.neighbors import NearestNeighbors

    if len(train) < 10 or len(test) == 0:
        return []
    X, Q = scaled_matrix(train, test, features, seed)
    if X.shape[1] == 0:
        return []
    rng = np.random.default_rng(seed)
    indexed = np.arange(len(X)) if len(X) <= INDEX_ROWS else np.sort(rng.choice(len(X), INDEX_ROWS, replace=False))
    index = NearestNeighbors(algorithm="brute").fit(X[indexed])

    # The yardstick: training rows to their k-th nearest *other* training row (the first neighbour is the row itself).
    k = min(NEIGHBOURS, (len(indexed) - 1) // 2)
    probe = np.sort(rng.choice(len(indexed), min(TYPICAL_ROWS, len(indexed)), replace=False))
    d_train, _ = index.kneighbors(X[indexed[probe]], n_neighbors=2 * k + 1)
    typical = float(np.median(d_train[:, k]))
    evidence: dict = {"features_compared": X.shape[1], "rows_indexed": len(indexed), "rows_train": len(train),
                      "near_ratio": ratio, "neighbour": k, "confidence": confidence}
    if typical == 0:
        return [Finding("near_duplicates", "info",
                        f"near-duplicates not judged: more than half of the training rows have {k} or more exact copies "
                        "among the other training rows (coarse, discrete features), so no typical distance separates "
                        "copies from distinct rows; the exact duplicates across the split are counted separately",
                        {**evidence, "typical_distance": 0.0}, "high")]
    dimension = intrinsic_dimension(d_train[:, k], d_train[:, 2 * k], k)
    if dimension is not None:
        dimension = min(dimension, float(X.shape[1]))
    chance = chance_share(dimension, ratio, k)

    queried = np.sort(rng.choice(len(Q), min(query_rows, len(Q)), replace=False))
    d, nearest = index.kneighbors(Q[queried], n_neighbors=1)
    d, partner = d[:, 0], indexed[nearest[:, 0]]
    threshold = ratio * typical
    near = d <= threshold
    identical = d <= IDENTICAL * typical
    n, hits = len(queried), int(near.sum())
    share = hits / n
    bound = share_lower_bound(share, n, confidence)
    excess, excess_bound = max(0.0, share - chance), max(0.0, bound - chance)

    rows = test[ROW].to_numpy() if ROW in test else test.index.to_numpy()
    train_rows = train[ROW].to_numpy() if ROW in train else train.index.to_numpy()
    order = np.flatnonzero(near & ~identical).tolist() + np.flatnonzero(identical).tolist()  # near ones first
    examples = [{"holdout_row": _plain(rows[queried[i]]), "train_row": _plain(train_rows[partner[i]]),
                 "distance_to_typical": float(f"{d[i] / typical:.3g}")} for i in order[:EXAMPLES]]
    candidates = [c for c in features if c != group_column] + ([group_column] if group_column in test else [])
    explains = explaining_column(train, test, candidates, queried[near], partner[near], seed) if hits else None
    evidence.update({
        "rows_checked": n, "rows_test": len(test), "typical_distance": round(typical, 6), "threshold": round(threshold, 8),
        "near_rows": hits, "identical_rows": int(identical.sum()), "share": round(share, 6), "lower_bound": round(bound, 6),
        "intrinsic_dimension": None if dimension is None else round(dimension, 2), "chance_share": float(f"{chance:.3g}"),
        "within_training_share": round(float(np.mean(d_train[:, 1] <= threshold)), 6),
        "severe_share": SEVERE_SHARE, "warn_share": WARN_SHARE, "examples": examples, "explaining_column": explains,
        "split": split_strategy})

    sure = (f"{hits:,} of {n:,} holdout rows checked ({share:.2%}; {confidence:.0%} lower bound {bound:.2%}, "
            f"{chance:.2%} expected by chance) have a training row within {ratio:.0%} of the typical distance from a "
            f"training row to its {_ordinal(k)} nearest ({int(identical.sum()):,} of them identical)")
    if excess_bound > SEVERE_SHARE:
        severity, level = "severe", "high"
    elif excess > SEVERE_SHARE:
        severity, level = "warning", "medium"
    elif excess_bound > WARN_SHARE:
        severity, level = "warning", "high"
    elif excess > WARN_SHARE:
        severity, level = "warning", "medium"
    else:
        return [Finding("near_duplicates", "info",
                        f"no near-duplicates across the split beyond chance: {sure}", evidence, "high")]
    action = _advice(split_strategy, group_column, explains)
    consequence = {"time": "the same entities recur over time: the holdout is realistic only if they recur in production too",
                   "group": f"they cross the groups of '{group_column}': the group column does not capture the entity"}.get(
        split_strategy, "the holdout rewards memorising them and overstates performance on unseen entities")
    example = "; e.g. " + ", ".join(f"holdout row {e['holdout_row']} ~ training row {e['train_row']}" for e in examples[:3])
    return [Finding("near_duplicates", severity, f"{sure}: {consequence}{example}", evidence, level, action)]


def _advice(split_strategy: str, group_column: str | None, explains: dict | None) -> str:
    if explains:
        key = (f"set problem.data.group_column={explains['column']} (equal in {explains['near_match']:.0%} of the "
               f"near-duplicate pairs, {explains['random_match']:.0%} of random pairs)")
    else:
        key = ("no column explains the pairs: build an entity key (customer, device, account, record) and set "
               "problem.data.group_column to it")
    if split_strategy == "time":
        return (f"if the model must serve entities it has not seen, {key}; if they recur in production, keep the time "
                "split and read the holdout as the score on returning entities")
    if split_strategy == "group":
        return f"the group column '{group_column}' does not keep an entity on one side: {key}"
    return f"split by entity so that each one lands on one side only: {key}"


def _ordinal(k: int) -> str:
    return f"{k}{'th' if 10 <= k % 100 <= 20 else {1: 'st', 2: 'nd', 3: 'rd'}.get(k % 10, 'th')}"


def _plain(value):
    return value.item() if hasattr(value, "item") else value
