"""Date columns become calendar features inside the pipeline, so that a date is never read as a category.

A date read as a category (its text as codes) teaches a model nothing that carries to a new day: every
unseen date is an unknown category. Its calendar parts do carry: ``year``, ``month``, ``day``,
``day_of_week``, ``day_of_year``, and ``hour`` when the training rows hold times (not all midnight).

``CalendarFeatures`` is fitted with the model, on each CV fold's training rows (it learns only whether
``hour`` is wanted), and reads the raw values at predict time: datetimes, or text parsed with pandas'
``format="mixed"``. A value that is missing or does not parse becomes NaN (the imputer or the boosted
tree after it handles it); nothing a request sends makes it raise. Times with a time zone keep their
wall-clock parts (10:00+02:00 is hour 10), because the local hour and weekday are what behaviour follows.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from sklearn.base import BaseEstimator, TransformerMixin
from sklearn.utils.validation import check_is_fitted

DATE_PARTS = ("year", "month", "day", "day_of_week", "day_of_year")
HOUR = "hour"


def _wall_clock(dates: pd.Series) -> pd.Series:
    """Naive datetimes: a time zone is dropped, keeping the local wall-clock time."""
    if isinstance(dates.dtype, pd.DatetimeTZDtype):
        return dates.dt.tz_localize(None)
    return dates


def _parse_one(value) -> pd.Timestamp:
    try:
        stamp = pd.to_datetime(value, errors="coerce", format="mixed")
    except (TypeError, ValueError, OverflowError):
        return pd.NaT
    if stamp is pd.NaT or not isinstance(stamp, pd.Timestamp):
        return pd.NaT
    return stamp.tz_localize(None) if stamp.tzinfo is not None else stamp


def to_dates(values: pd.Series) -> pd.Series:
    """The values as naive datetimes, NaT where missing or not a date; never raises.

    Text is parsed once per distinct value (a date column repeats its days), all at once when pandas can,
    one by one when it cannot (a column mixing time zones, or naive and zoned times).
    """
    values = pd.Series(values)
    if pd.api.types.is_datetime64_any_dtype(values):
        return _wall_clock(values)
    present = values.notna()
    text = pd.Series(np.where(present, values.astype(str), None), index=values.index, dtype=object)
    uniques = pd.Series(pd.unique(text[present]), dtype=object)
    try:
        parsed = _wall_clock(pd.to_datetime(uniques, errors="coerce", format="mixed"))
    except (TypeError, ValueError, OverflowError):
        parsed = pd.Series([_parse_one(v) for v in uniques], dtype="datetime64[us]")  # us: years far from 1970 fit
    lookup = pd.Series(parsed.to_numpy(), index=uniques.to_numpy())
    return pd.Series(lookup.reindex(text.to_numpy()).to_numpy(), index=values.index).astype(lookup.dtype)


def is_date_column(col: pd.Series) -> bool:
    """Whether a feature holds dates, by the data contract's rule (``data.contract``): a datetime column, or text
    that is mostly not numbers and whose first ``DATE_PROBE`` present values all parse as dates."""
    from specweave_ml.data.contract import DATE_PROBE, FEW_MAX, FEW_SHARE

    if pd.api.types.is_datetime64_any_dtype(col):
        return True
    if not (pd.api.types.is_object_dtype(col) or pd.api.types.is_string_dtype(col)):
        return False
    probe = col.dropna().iloc[:DATE_PROBE]
    if probe.empty:
        return False
    try:
        numbers = pd.to_numeric(probe, errors="coerce")
    except (TypeError, ValueError):
        return False
    if int(numbers.isna().sum()) <= min(FEW_MAX, FEW_SHARE * len(probe)):
        return False  # numbers stored as text: the contract keeps them as text, not dates
    try:
        return bool(pd.to_datetime(probe, errors="coerce", format="mixed").notna().all())
    except (TypeError, ValueError, OverflowError):
        return False


def calendar_parts(dates: pd.Series) -> tuple[str, ...]:
    """The parts made of these (parsed) dates: ``hour`` only when some time is not midnight."""
    present = dates.dropna()
    timed = bool((present != present.dt.normalize()).any())
    return (*DATE_PARTS, HOUR) if timed else DATE_PARTS


def _part(dates: pd.Series, part: str) -> np.ndarray:
    accessor = dates.dt
    value = {"year": accessor.year, "month": accessor.month, "day": accessor.day, "day_of_week": accessor.day_of_week,
             "day_of_year": accessor.day_of_year, "hour": accessor.hour}[part]
    return value.to_numpy(dtype="float64", na_value=np.nan)


class CalendarFeatures(TransformerMixin, BaseEstimator):
    """Date columns -> their calendar parts as numbers (``<column>.<part>``), NaN where a value is not a date.

    Attributes
    ----------
    parts_ : dict
        Column -> the parts it gives (``hour`` only when the fitted rows held times).
    feature_names_in_ : ndarray of str
    n_features_in_ : int
    """

    def fit(self, X, y=None):
        X = self._frame(X)
        self.feature_names_in_ = np.asarray([str(c) for c in X.columns], dtype=object)
        self.n_features_in_ = X.shape[1]
        self.parts_ = {str(c): calendar_parts(to_dates(X[c])) for c in X.columns}
        return self

    def transform(self, X):
        check_is_fitted(self, "parts_")
        X = self._frame(X)
        if X.shape[1] != self.n_features_in_:
            raise ValueError(f"CalendarFeatures was fitted on {self.n_features_in_} columns, got {X.shape[1]}")
        columns = []
        for parts, c in zip(self.parts_.values(), X.columns):  # by position: the fitted order
            dates = to_dates(X[c])
            columns += [_part(dates, p) for p in parts]
        return np.column_stack(columns) if columns else np.empty((len(X), 0))

    def get_feature_names_out(self, input_features=None):
        check_is_fitted(self, "parts_")
        return np.asarray([f"{c}.{p}" for c, parts in self.parts_.items() for p in parts], dtype=object)

    @staticmethod
    def _frame(X) -> pd.DataFrame:
        if isinstance(X, pd.DataFrame):
            return X
        X = np.asarray(X, dtype=object)
        X = X.reshape(len(X), -1)
        return pd.DataFrame(X, columns=[f"x{i}" for i in range(X.shape[1])])
