"""Interactions (user, item, optional rating and time) checked, and split so that the future never leaks.

Splits (``problem.ranking.split``):

* ``leave_last_out``: per user, the latest interaction (by the time column, ties by file order) is held out;
  users with a single interaction stay in training only (counted);
* ``per_user_random``: per user, a seeded random share (``test_size``) of the interactions is held out (the
  protocol of published ML-100k tables; with a time column it can test on a user's past, which is said);
* ``global_time``: every interaction after one cut in time is held out; users and items first seen after the
  cut are cold-start and counted.

CV folds repeat the same rule on the training part only (``folds``).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from specweave_ml.errors import DataError

USER, ITEM, RATING, TIME, ORDER = "user", "item", "rating", "time", "order"
SPLITS = ("leave_last_out", "per_user_random", "global_time")


@dataclass(frozen=True)
class Columns:
    user: str
    item: str
    rating: str | None
    time: str | None

    def to_dict(self) -> dict:
        return {"user": self.user, "item": self.item, "rating": self.rating, "time": self.time}


@dataclass
class Split:
    train: pd.DataFrame
    test: pd.DataFrame
    info: dict = field(default_factory=dict)


def check(frame: pd.DataFrame, cols: Columns) -> pd.DataFrame:
    """The interactions in canonical columns (user, item, rating, time, order); one message per problem."""
    for key, column in (("user_column", cols.user), ("item_column", cols.item), ("rating_column", cols.rating),
                        ("time_column", cols.time)):
        if column is not None and column not in frame.columns:
            raise DataError(f"problem.data.{key}", f"'{column}' is not a column of the data",
                            f"use one of {', '.join(map(str, frame.columns[:12]))}")
    out = pd.DataFrame({USER: frame[cols.user].to_numpy(), ITEM: frame[cols.item].to_numpy()})
    if out[USER].isna().any() or out[ITEM].isna().any():
        which = cols.user if out[USER].isna().any() else cols.item
        raise DataError(which, f"{int(frame[which].isna().sum())} interactions have no {which}",
                        "drop them or fill them before training")
    if cols.rating is not None:
        raw = frame[cols.rating]
        rating = pd.to_numeric(raw, errors="coerce")
        bad = rating.isna() & raw.notna() | raw.isna()
        if bad.any() or not pd.api.types.is_numeric_dtype(raw) and not pd.api.types.is_bool_dtype(raw):
            example = raw[bad].iloc[0] if bad.any() else raw.iloc[0]
            raise DataError("problem.data.rating_column", f"'{cols.rating}' is not numeric ({int(bad.sum())} values are "
                            f"not numbers, e.g. {example!r})", "give a numeric rating column, or set rating_column=null "
                            "to treat every interaction as a positive")
        out[RATING] = rating.astype(float).to_numpy()
    else:
        out[RATING] = 1.0
    if cols.time is not None:
        raw = frame[cols.time]
        when = raw.astype(float) if pd.api.types.is_numeric_dtype(raw) else pd.to_datetime(raw, errors="coerce").astype("int64") / 1e9
        when = pd.Series(np.asarray(when, dtype=float))
        if when.isna().any():
            raise DataError("problem.data.time_column", f"{int(when.isna().sum())} values of '{cols.time}' are not times",
                            "give epoch seconds or dates")
        out[TIME] = when.to_numpy()
    else:
        out[TIME] = np.arange(len(out), dtype=float)  # file order stands for time
    out[ORDER] = np.arange(len(out))
    return out


def _ordered(frame: pd.DataFrame) -> pd.DataFrame:
    return frame.sort_values([USER, TIME, ORDER], kind="stable")


def leave_last_out(frame: pd.DataFrame, nth: int = 1) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Per user, the ``nth`` latest interaction is held out and only the interactions before it are kept for
    training (so a later CV fold never trains on what follows its validation point)."""
    ordered = _ordered(frame)
    rank_from_end = ordered.groupby(USER, sort=False).cumcount(ascending=False)  # 0 = the latest
    sizes = ordered.groupby(USER, sort=False)[ITEM].transform("size")
    eligible = sizes > nth  # at least one interaction stays before the held-out one
    test = ordered[eligible & (rank_from_end == nth - 1)]
    train = ordered[~eligible | (rank_from_end >= nth)]
    return train.sort_values(ORDER), test.sort_values(ORDER)


def per_user_random(frame: pd.DataFrame, share: float, seed: int) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Per user, a seeded random ``share`` of the interactions (at least one, never all) is held out."""
    rng = np.random.default_rng(seed)
    keys = rng.random(len(frame))
    ordered = frame.assign(_k=keys).sort_values([USER, "_k"], kind="stable")
    position = ordered.groupby(USER, sort=False).cumcount()
    sizes = ordered.groupby(USER, sort=False)[ITEM].transform("size")
    n_test = np.where(sizes > 1, np.clip(np.floor(sizes * share + 0.5), 1, sizes - 1), 0)
    held = position < n_test
    return ordered[~held].drop(columns="_k").sort_values(ORDER), ordered[held].drop(columns="_k").sort_values(ORDER)


def global_time(frame: pd.DataFrame, share: float) -> tuple[pd.DataFrame, pd.DataFrame, float]:
    """Everything at or after the time that leaves ``share`` of the interactions later is held out."""
    cut = float(np.quantile(frame[TIME].to_numpy(), 1 - share))
    later = frame[TIME] >= cut
    if later.all() or not later.any():
        raise DataError("problem.ranking.split", "global_time cannot cut these interactions in two (they share one time)",
                        "use split=per_user_random")
    return frame[~later], frame[later], cut


def split(frame: pd.DataFrame, how: str, share: float, seed: int) -> tuple[pd.DataFrame, pd.DataFrame, dict]:
    """The holdout split and what it did (with its cut in time for ``global_time``)."""
    extra: dict = {}
    if how == "leave_last_out":
        train, test = leave_last_out(frame)
    elif how == "per_user_random":
        train, test = per_user_random(frame, share, seed)
    else:
        train, test, cut = global_time(frame, share)
        extra["cut_time"] = cut
    return train, test, extra


def folds(train: pd.DataFrame, how: str, k: int, share: float, seed: int) -> list[tuple[pd.DataFrame, pd.DataFrame]]:
    """``k`` CV folds of the training part, each by the holdout's rule (never training on a later interaction
    than it validates on, for the time-ordered rules)."""
    out = []
    if how == "leave_last_out":
        for f in range(1, k + 1):
            out.append(leave_last_out(train, nth=f))
        return out
    if how == "per_user_random":
        return [per_user_random(train, share, seed + 1 + f) for f in range(k)]
    times = np.sort(train[TIME].to_numpy())
    # expanding windows: fold f trains before the (f+1)/(k+2)... quantile and validates on the next block
    edges = np.quantile(times, np.linspace(1 - min(0.5, share * k), 1, k + 1))
    for lo, hi in zip(edges[:-1], edges[1:]):
        before, block = train[train[TIME] < lo], train[(train[TIME] >= lo) & ((train[TIME] < hi) | (hi == edges[-1]))]
        out.append((before, block))
    return out


def describe(train: pd.DataFrame, test: pd.DataFrame) -> dict:
    """Users and items of the holdout never seen in training: counted, not dropped."""
    seen_users, seen_items = set(train[USER]), set(train[ITEM])
    test_users, test_items = set(test[USER]), set(test[ITEM])
    return {"users_train": len(seen_users), "items_train": len(seen_items), "users_test": len(test_users),
            "items_test": len(test_items), "unseen_users": len(test_users - seen_users),
            "unseen_items": len(test_items - seen_items),
            "test_interactions_of_unseen_users": int((~test[USER].isin(seen_users)).sum()),
            "test_interactions_of_unseen_items": int((~test[ITEM].isin(seen_items)).sum())}


def future_leaks(train: pd.DataFrame, test: pd.DataFrame, how: str) -> int:
    """Training interactions later than a held-out interaction they could inform (0 for a sound split):
    per user for ``leave_last_out``, globally for ``global_time``; ``per_user_random`` makes no time promise."""
    if how == "global_time":
        return int((train[TIME] > test[TIME].min()).sum()) if len(test) else 0
    if how == "leave_last_out":
        first_test = test.groupby(USER)[TIME].min()
        joined = train.join(first_test.rename("_t"), on=USER)
        return int((joined[TIME] > joined["_t"]).sum())
    return 0
