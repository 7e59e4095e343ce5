"""What a data file says about its brief: the task, the time column, ID columns and the class balance.

Pure functions of a DataFrame (``stage=init`` reads the file); each decision keeps the evidence that a
person reads next to it in the written brief. The heuristics, in the order ``infer_task`` applies them:

* a user-like and an item-like column (``user_id``, ``movie``, ...) -> ranking on interactions data;
* a time column, a numeric target and no other feature -> forecasting on a time series;
* a non-numeric target, or one with at most ``MAX_CLASSES`` whole-number values -> classification
  (binary with 2 values, multiclass above);
* any other numeric target -> regression.

The time column has no missing values (the data checks refuse them) and is a datetime column, a text column
whose values parse as dates, or a numeric column named like a time that never decreases (``NEARLY_MONOTONIC``
of its steps). An ID column is unique per row and
named like an ID. The minority class share is evidence only: the resolver decides what it implies.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any, Optional

import pandas as pd

from specweave_ml.data.checks import ID_NAME
from specweave_ml.errors import DataError

MAX_CLASSES = 20  # a numeric target with at most this many whole-number values is a class label
NEARLY_MONOTONIC = 0.99  # share of a numeric time column's steps that must go one way
DATE_PROBE = 500  # values of a text column tried as dates
IMBALANCE_RATIO = 0.1  # the resolver's default (selection.gates.imbalance_ratio)

TIME_NAME = re.compile(r"(^|[_\s])(time|date|datetime|timestamp|ts|epoch)([_\s]|$)|_at$", re.IGNORECASE)
TIME_CAMEL = re.compile(r"[a-z](Time|Date|Timestamp)$")  # eventTime, orderDate
USER_NAME = re.compile(r"^(user|customer|client|member|visitor|viewer|reader|listener|buyer)s?([_\s-]?id)?$", re.IGNORECASE)
ITEM_NAME = re.compile(
    r"^(item|product|movie|film|book|song|track|article|video|sku|restaurant|business|recipe)s?([_\s-]?id)?$",
    re.IGNORECASE,
)


@dataclass(frozen=True)
class Decision:
    value: Any
    evidence: str


@dataclass(frozen=True)
class Inference:
    """Everything ``stage=init`` writes into a brief, each value with why."""

    target: str
    n_rows: int
    n_columns: int
    task: Decision
    modality: Decision
    time_column: Decision  # value None: no time column
    id_columns: Decision  # value: a list of columns
    user_column: Decision  # value None unless interactions
    item_column: Decision
    rating_column: Decision  # value: the target, when interactions are rated with numbers
    imbalance: Decision  # value: the minority share, None for a non-class target
    imbalanced: bool  # the minority share, scaled by k/2 for k classes, is under the resolver's ratio


def _shown(value) -> str:
    """A data value as the user wrote it: 1 and 0.5, not np.int64(1); strings quoted."""
    value = value.item() if hasattr(value, "item") else value
    if isinstance(value, float):
        return f"{value:g}"
    return repr(value) if isinstance(value, str) else str(value)


def _names(columns) -> str:
    return ", ".join(f"'{c}'" for c in columns)


def _is_numeric(col: pd.Series) -> bool:
    return pd.api.types.is_numeric_dtype(col) and not pd.api.types.is_bool_dtype(col)


def _whole_numbers(col: pd.Series) -> bool:
    values = col.dropna()
    return pd.api.types.is_integer_dtype(values) or bool((values == values.round()).all())


def describe_target(values: pd.Series, max_shown: int = 6) -> str:
    """``'Class' has 2 values: 0 (99.83%), 1 (0.17%)``, or the range of a numeric target."""
    values = values.dropna()
    n_distinct = values.nunique()
    if _is_numeric(values) and n_distinct > MAX_CLASSES:
        return f"'{values.name}' is numeric with {n_distinct:,} distinct values ({_shown(values.min())} to {_shown(values.max())})"
    shares = values.value_counts(normalize=True).sort_index()
    shown = ", ".join(f"{_shown(v)} ({s:.2%})" for v, s in list(shares.items())[:max_shown])
    more = f", ... ({n_distinct - max_shown} more)" if n_distinct > max_shown else ""
    return f"'{values.name}' has {n_distinct} values: {shown}{more}"


def _parses_as_dates(col: pd.Series) -> Optional[str]:
    """Evidence that a text column holds dates, or None."""
    if not (pd.api.types.is_object_dtype(col) or pd.api.types.is_string_dtype(col)):
        return None
    probe = col.astype(str).head(DATE_PROBE)
    if probe.empty or pd.to_numeric(probe, errors="coerce").notna().mean() > 0.5:  # numbers are not dates
        return None
    parsed = pd.to_datetime(probe, errors="coerce", format="mixed")
    if parsed.isna().any():
        return None
    return f"'{col.name}' parses as dates ({parsed.min():%Y-%m-%d} to {parsed.max():%Y-%m-%d} in the first {len(probe):,} values)"


def _rows(seen: int, of_rows: Optional[int]) -> str:
    """``20,000 rows``, or ``the first 100,000 of 284,807 rows`` when only a sample was seen."""
    return f"the first {seen:,} of {of_rows:,} rows" if of_rows and of_rows > seen else f"{seen:,} rows"


def _monotonic_share(col: pd.Series) -> float:
    steps = col.dropna().diff().dropna()
    if steps.empty:
        return 0.0
    return float(max((steps >= 0).mean(), (steps <= 0).mean()))


def find_time_column(frame: pd.DataFrame, exclude=(), of_rows: Optional[int] = None) -> Decision:
    """A datetime column, else a text column of dates, else a numeric column named like a time that (nearly)
    never decreases; the first in column order wins, the others are named."""
    found: list[tuple[int, str, str]] = []  # (preference, column, evidence)
    for name in frame.columns:
        if name in exclude:
            continue
        col = frame[name]
        if col.isna().any():
            continue
        if pd.api.types.is_datetime64_any_dtype(col):
            found.append((0, name, f"'{name}' is a datetime column"))
        elif (dates := _parses_as_dates(col)) is not None:
            found.append((1, name, dates))
        elif _is_numeric(col) and (TIME_NAME.search(str(name)) or TIME_CAMEL.search(str(name))):
            share = _monotonic_share(col)
            if share >= NEARLY_MONOTONIC:
                how = "never decreases" if share == 1 else f"goes one way in {share:.1%} of its steps"
                found.append((2, name, f"'{name}' is numeric, named like a time, and {how} over {_rows(len(col), of_rows)}"))
    if not found:
        return Decision(None, "no datetime column, no column of dates, no monotonic numeric column named like a time")
    found.sort(key=lambda f: f[0])
    _, name, evidence = found[0]
    others = [n for _, n, _ in found[1:]]
    if others:
        evidence += f" (also time-like: {_names(others)})"
    return Decision(name, evidence + ": every split is time-ordered")


def find_id_columns(frame: pd.DataFrame, exclude=(), of_rows: Optional[int] = None) -> Decision:
    """Columns unique per row and named like an ID: identifiers, not features."""
    ids = [c for c in frame.columns if c not in exclude and ID_NAME.search(str(c))
           and len(frame) > 1 and frame[c].nunique(dropna=False) == len(frame)]
    if not ids:
        return Decision([], "no column is both unique per row and named like an ID")
    return Decision(ids, f"{_names(ids)}: unique in each of {_rows(len(frame), of_rows)} and named like an ID: left out of the features")


def find_interactions(frame: pd.DataFrame, target: str) -> tuple[Decision, Decision]:
    """The user and item columns of interactions data; both values are None unless both are found."""
    users = [c for c in frame.columns if c != target and USER_NAME.match(str(c))]
    items = [c for c in frame.columns if c != target and ITEM_NAME.match(str(c))]
    if users and items:
        return (Decision(users[0], f"'{users[0]}' is named like a user"), Decision(items[0], f"'{items[0]}' is named like an item"))
    return Decision(None, "no user-like column"), Decision(None, "no item-like column")


def infer_task(target: pd.Series, time_column: Optional[str], other_features: list[str], interactions: bool) -> tuple[Decision, Decision]:
    """(task, modality), each with its evidence; the heuristics are in the module's docstring."""
    values = target.dropna()
    n_distinct = values.nunique()
    summary = describe_target(values)
    if n_distinct < 2:
        raise DataError("target", f"column '{target.name}' has a single value ({summary})", "choose a column that varies as target")
    if interactions:
        return (Decision("ranking", "user and item columns: rank items for each user"),
                Decision("interactions", "rows are user-item interactions"))
    numeric = _is_numeric(values)
    if time_column is not None and numeric and not other_features:
        return (Decision("forecasting", f"{summary}, and no column besides it and the time column '{time_column}'"),
                Decision("time_series", "one numeric series over time"))
    tabular = Decision("tabular", "one row per example, no user/item columns")
    if n_distinct == 2:
        return Decision("binary_classification", summary), tabular
    if not numeric or (n_distinct <= MAX_CLASSES and _whole_numbers(values)):
        return Decision("multiclass_classification", summary), tabular
    return Decision("regression", summary), tabular


def class_balance(target: pd.Series, task: str, ratio: float = IMBALANCE_RATIO) -> tuple[Decision, bool]:
    """The minority class share, and whether the resolver will call it imbalanced (a k-class share is
    scaled by k/2, as ``resolver.DataFacts.balance`` does)."""
    if task not in ("binary_classification", "multiclass_classification"):
        return Decision(None, "not a class target"), False
    counts = target.value_counts()
    share = float(counts.min() / counts.sum())
    imbalanced = share * len(counts) / 2 < ratio
    reading = f"imbalanced (under {ratio:.0%})" if imbalanced else f"balanced enough ({ratio:.0%} or more)"
    return Decision(share, f"minority class {_shown(counts.idxmin())} is {share:.2%} of {int(counts.sum()):,} rows: {reading}"), imbalanced


def infer(frame: pd.DataFrame, target: str, n_rows: Optional[int] = None, target_values: Optional[pd.Series] = None,
          imbalance_ratio: float = IMBALANCE_RATIO) -> Inference:
    """Every decision for a brief on ``frame`` (a sample of the file: ``n_rows`` and ``target_values`` are the
    whole file's row count and target, when known)."""
    if target not in frame.columns:
        raise DataError("target", f"column '{target}' is not in the data ({len(frame.columns)} columns)", "use one of the data's columns")
    whole_target = target_values if target_values is not None else frame[target]
    user, item = find_interactions(frame, target)
    paired = (user.value, item.value)
    time = find_time_column(frame, exclude=(target, *[c for c in paired if c]), of_rows=n_rows)
    ids = find_id_columns(frame, exclude=(target, time.value, *paired), of_rows=n_rows)
    others = [c for c in frame.columns if c not in (target, time.value, *ids.value)]
    task, modality = infer_task(whole_target, time.value, others, user.value is not None)
    balance, imbalanced = class_balance(whole_target.dropna(), task.value, imbalance_ratio)
    rating = Decision(None, "no rating")
    if task.value == "ranking" and _is_numeric(whole_target):
        rating = Decision(target, f"{describe_target(whole_target)}: it rates the item")
    return Inference(
        target=target,
        n_rows=int(n_rows if n_rows is not None else len(frame)),
        n_columns=len(frame.columns),
        task=task,
        modality=modality,
        time_column=time,
        id_columns=ids,
        user_column=user,
        item_column=item,
        rating_column=rating,
        imbalance=balance,
        imbalanced=imbalanced,
    )
