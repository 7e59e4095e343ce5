"""The data contract: each column's type with its evidence, and what is done with values that do not fit it.

A CSV that looks separated by another character than commas (``data.delimited``) is read with it and says so
(finding ``separator_detected``). A column gets the first type that fits, read top to bottom:

* ``empty``: every value is missing; ``constant``: the same value in every row (missing counts as a value);
* ``boolean``: true/false values;
* ``numeric``: numbers, or text whose values parse as numbers but for *a few* (at most ``FEW_SHARE`` of the
  present values and at most ``FEW_MAX`` of them, e.g. ``"twelve"`` among 569 numbers): a feature's few are
  read as missing and the column stays numeric (finding ``coerced_to_missing``);
* ``datetime``: dates, or text whose first ``DATE_PROBE`` values all parse as dates;
* ``categorical``: any other text (numbers stored as text, with no stray value, stay text: the source chose it).

Infinite numbers (``inf``, ``-inf``; ``inf`` and ``Infinity`` in a CSV) in a feature are read as missing too
(finding ``non_finite``): no model learns from them, and the imputer inside each pipeline fills missing values.
With ``problem.data.on_dirty=error`` either finding is an error instead. The target is never cleaned, since a
target cannot be made up: infinite values in it, or a few words among a regression target's numbers, are an
error. Rows are counted from 1, the first row after the header.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Optional

import numpy as np
import pandas as pd

from specweave_ml.data import delimited, sources
from specweave_ml.data.checks import Finding
from specweave_ml.errors import DataError
from specweave_ml.schema import DataSchema, OnDirty

FEW_SHARE = 0.05  # at most this share of a column's present values may fail to parse for it to stay numeric
FEW_MAX = 50  # ... and at most this many
# Beyond this magnitude a number's square overflows float64 (scaling, variances, squared errors all do), so the
# models and metrics would fail on it: such values are treated like infinities (a sentinel, not a measurement).
LARGEST = 1e150
DATE_PROBE = 500  # text values tried as dates
EXAMPLES = 3  # rows named in a message
TRUE_FALSE = frozenset({"true", "false"})
ON_DIRTY = "problem.data.on_dirty"


@dataclass(frozen=True, eq=False)  # holds Series: compared by identity
class Reading:
    """A column as the contract reads it: its type and why, its values as the model sees them, and what changed."""

    kind: str  # empty | constant | boolean | numeric | datetime | categorical
    evidence: str
    values: pd.Series
    not_numbers: Optional[pd.Series] = None  # mask of the few values that did not parse as numbers
    non_finite: Optional[pd.Series] = None  # mask of the infinite values

    def to_dict(self) -> dict:
        return {"type": self.kind, "evidence": self.evidence}


def strict(data: DataSchema) -> bool:
    return OnDirty(data.on_dirty) is OnDirty.error


def _shown(value) -> str:
    value = value.item() if hasattr(value, "item") else value
    return repr(value) if isinstance(value, str) else f"{value}"


def _count(n: int, noun: str) -> str:
    return f"{n:,} {noun}{'' if n == 1 else 's'}"


def _numbers(col: pd.Series) -> Optional[pd.Series]:
    """Text as numbers (NaN where a value does not parse), or None when the values cannot be tried."""
    try:
        parsed = pd.to_numeric(col, errors="coerce")
    except (TypeError, ValueError):
        return None
    if isinstance(parsed.dtype, np.dtype) and parsed.dtype != object:
        return parsed
    try:
        return parsed.astype("float64")
    except (TypeError, ValueError):
        return None


def _infinite(numbers: pd.Series) -> Optional[pd.Series]:
    if not pd.api.types.is_float_dtype(numbers):
        return None
    values = numbers.to_numpy(dtype="float64", na_value=np.nan)
    with np.errstate(invalid="ignore"):
        mask = pd.Series(np.isinf(values) | (np.abs(values) > LARGEST), index=numbers.index)
    return mask if mask.any() else None


def _is_date_text(present: pd.Series) -> bool:
    probe = present.iloc[:DATE_PROBE]
    try:
        return bool(pd.to_datetime(probe, errors="coerce", format="mixed").notna().all())
    except (TypeError, ValueError, OverflowError):
        return False


def _single_value(col: pd.Series) -> bool:
    """``col.nunique(dropna=False) == 1`` (NaN counts as a value) without building a hash table of the whole column:
    one comparison per row. ``nunique`` per column took most of prepare's time at 10M rows (a hash table of 10M
    distinct floats per column, its cost growing faster than the rows)."""
    if col.iloc[:1].isna().all():
        return bool(col.isna().all())
    return bool(col.notna().all() and (col == col.iloc[0]).all())


def read_column(col: pd.Series) -> Reading:
    """The column's type, with its evidence, and its values with the few non-numbers and infinities made missing."""
    n, present = len(col), col.dropna()
    if present.empty:
        return Reading("empty", f"all {_count(n, 'value')} are missing", col)
    if _single_value(col):
        return Reading("constant", f"all {_count(n, 'value')} are {_shown(col.iloc[0])}", col)
    if pd.api.types.is_bool_dtype(col):
        return Reading("boolean", f"{len(present):,} of {_count(n, 'value')} are true or false", col)
    if pd.api.types.is_datetime64_any_dtype(col):
        return Reading("datetime", f"{len(present):,} of {_count(n, 'value')} are dates", col)
    not_numbers = None
    if pd.api.types.is_numeric_dtype(col):
        numbers, evidence = col, f"{len(present):,} of {_count(n, 'value')} are numbers"
    elif not (pd.api.types.is_object_dtype(col) or pd.api.types.is_string_dtype(col)):  # categories, durations, ...
        return Reading("categorical", f"{len(present):,} of {_count(n, 'value')} are {col.dtype} values", col)
    else:
        uniques = present.unique()
        if len(uniques) <= 2 and all(str(v).strip().lower() in TRUE_FALSE for v in uniques):
            return Reading("boolean", f"{len(present):,} of {_count(n, 'value')} are true or false", col)
        numbers = _numbers(col)
        failed = None if numbers is None else col.notna() & numbers.isna()
        bad = len(present) if failed is None else int(failed.sum())
        if bad > min(FEW_MAX, FEW_SHARE * len(present)):
            if _is_date_text(present):
                tried = f"all {len(present):,} values" if len(present) <= DATE_PROBE else f"the first {DATE_PROBE:,} values"
                return Reading("datetime", f"{tried} parse as dates", col)
            return Reading("categorical", f"{bad:,} of {_count(n, 'value')} are not numbers "
                           f"({_count(len(uniques), 'distinct value')})", col)
        if not bad:  # numbers the source stores as text on purpose (a CSV reader would have read them as numbers)
            return Reading("categorical", f"{len(present):,} of {_count(n, 'value')} parse as numbers but are stored as "
                           "text: kept as text", col)
        not_numbers = failed
        evidence = f"{len(present) - bad:,} of {_count(n, 'value')} parse as numbers; {bad:,} {'does' if bad == 1 else 'do'} not"
    infinite = _infinite(numbers)
    if infinite is not None:
        numbers = numbers.mask(infinite)
        evidence += f"; {int(infinite.sum()):,} infinite"
    return Reading("numeric", evidence, numbers, not_numbers, infinite)


def _examples(col: pd.Series, mask: pd.Series) -> tuple[str, list[dict]]:
    """Up to ``EXAMPLES`` of the masked values with their rows, for a message and as evidence."""
    rows = np.flatnonzero(mask.to_numpy(dtype=bool))[:EXAMPLES + 1]
    values = [col.iloc[r] for r in rows[:EXAMPLES]]
    text = ", ".join(f"{_shown(v)} at row {r + 1}" for v, r in zip(values, rows)) + (", ..." if len(rows) > EXAMPLES else "")
    return text, [{"row": int(r) + 1, "value": str(v.item() if hasattr(v, "item") else v)} for v, r in zip(values, rows)]


def feature_findings(col: pd.Series, reading: Reading, on_dirty_error: bool) -> list[Finding]:
    """What reading a feature column changed, as findings; with ``on_dirty=error``, the first as an error instead."""
    name, present = col.name, int(col.notna().sum())
    out = []
    if reading.not_numbers is not None:
        bad = int(reading.not_numbers.sum())
        text, shown = _examples(col, reading.not_numbers)
        problem = f"{bad:,} of {present:,} values {'is not a number' if bad == 1 else 'are not numbers'} ({text})"
        if on_dirty_error:
            raise DataError(f"column '{name}'", problem, f"fix or remove those values, or set {ON_DIRTY}=warn to read them as missing")
        out.append(Finding("coerced_to_missing", name, f"column '{name}': {problem}: read as missing, the column stays numeric",
                           {"rows": bad, "examples": shown, "action": "read as missing"}))
    if reading.non_finite is not None:
        bad = int(reading.non_finite.sum())
        text, shown = _examples(col, reading.non_finite)
        problem = f"{bad:,} of {present:,} values {'is' if bad == 1 else 'are'} infinite or beyond ±{LARGEST:g} ({text})"
        if on_dirty_error:
            raise DataError(f"column '{name}'", problem, "replace them with numbers or empty cells, "
                            f"or set {ON_DIRTY}=warn to read them as missing")
        out.append(Finding("non_finite", name, f"column '{name}': {problem}: read as missing",
                           {"rows": bad, "examples": shown, "action": "read as missing"}))
    return out


def check_target_values(target: pd.Series, task: str) -> None:
    """A target is never made up: infinite values, or a few words among a regression target's numbers, are refused."""
    reading = read_column(target)
    fix = "fix or drop those rows: a target cannot be made up"
    if reading.non_finite is not None:
        text, _ = _examples(target, reading.non_finite)
        raise DataError(f"column '{target.name}'", f"the target has {_count(int(reading.non_finite.sum()), 'value')} that "
                        f"{'is' if int(reading.non_finite.sum()) == 1 else 'are'} infinite or beyond ±{LARGEST:g} ({text})", fix)
    if reading.not_numbers is not None and task == "regression":
        bad = int(reading.not_numbers.sum())
        text, _ = _examples(target, reading.not_numbers)
        raise DataError(f"column '{target.name}'", f"the target has {_count(bad, 'value')} that "
                        f"{'is not a number' if bad == 1 else 'are not numbers'} ({text})", fix)


def separator_findings(data: DataSchema) -> list[Finding]:
    """A CSV source read with the separator it was seen to use rather than one the brief set; an error when strict."""
    found = sources.detected_separator(data)
    if found is None:
        return []
    key = f"problem.data.separator={delimited.SEPARATORS[found]}"
    if strict(data):
        raise DataError("problem.data.separator", f"'{data.source}' looks separated by {delimited.name_of(found)}, not commas",
                        f"set {key} (or {ON_DIRTY}=warn to read it so and record a finding)")
    return [Finding("separator_detected", None, f"'{data.source}' is separated by {delimited.name_of(found)}, not commas: "
                    f"read with it; set {key} to say so", {"separator": found, "action": "read with the detected separator"})]
