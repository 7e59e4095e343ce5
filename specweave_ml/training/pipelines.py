"""Every candidate is one scikit-learn Pipeline: preprocessing fitted with the model, never before it.

Because the preprocessing lives inside the pipeline, cross-validation refits it on each fold's training
rows and the final fit sees the training split only; validation and test rows never shape it.

Each model's registry entry names its recipe:

* ``scaled`` (linear models): median imputation + scaling for numbers, one-hot for categories;
* ``imputed`` (trees and forests): median imputation, ordinal codes for categories;
* ``raw`` (boosting): numbers passed through (XGBoost and LightGBM handle missing values), categories as the
  library's own categorical features (see below), else ordinal codes;
* ``none``: the columns as they are.

True/False columns are encoded like categories, without the imputer (they hold no missing value).

Date columns (datetime, or text the data contract reads as dates) become calendar features in every recipe but
``none`` (``training.calendar``: year, month, day, day of week, day of year, and hour when the training rows hold
times), imputed and scaled like numbers where the recipe does so. Read as categories, every new day would be an
unknown category.

Native categories: LightGBM, and XGBoost with ``enable_categorical`` (``conf/model/xgboost.yaml``), split on a
category column's levels themselves, which ordinal codes (an arbitrary order of the levels) cannot express in
one split. Their categories reach them as pandas ``category`` columns whose levels are fixed when the pipeline is
fitted (``NativeCategories``), so a level unseen in training, or a missing value, reads as missing at predict time
instead of shifting the codes. A column with more than ``MAX_NATIVE_LEVELS`` levels in the fitted rows gets
ordinal codes instead (NaN where unseen or missing): LightGBM and XGBoost search partitions of the levels, which
with thousands of levels overfits and slows every split, and such a column is closer to an identifier.
The boosted model then sees plain positional column names (``PlainNames``): LightGBM refuses JSON characters in
feature names and XGBoost refuses ``[``, ``]`` and ``<``; the pipeline's ``get_feature_names_out`` still gives
the readable names (``colour``, ``signup_date.month``) that SHAP reports.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from sklearn.base import BaseEstimator, TransformerMixin
from sklearn.utils.validation import check_is_fitted

from specweave_ml.models.registry import REGISTRY, build
from specweave_ml.schema import ModelSchema

MAX_NATIVE_LEVELS = 1000  # more levels than this in a column's fitted rows: ordinal codes, not native categories


def _is_categorical(series: pd.Series) -> bool:
    return not pd.api.types.is_numeric_dtype(series) or pd.api.types.is_bool_dtype(series)


def column_kinds(frame: pd.DataFrame, features: list[str]) -> tuple[list[str], list[str]]:
    categorical = [c for c in features if _is_categorical(frame[c])]
    return [c for c in features if c not in categorical], categorical


def date_columns(frame: pd.DataFrame, categorical: list[str]) -> list[str]:
    """The non-numeric columns that hold dates (``training.calendar.is_date_column``)."""
    from specweave_ml.training.calendar import is_date_column

    return [c for c in categorical if is_date_column(frame[c])]


def encoding_findings(frame: pd.DataFrame, features: list[str]) -> list:
    """What the pipelines make of features that are not used as they are written, for the report (never guess
    silently): each date column's calendar features (and how many of its values are not dates), and each
    category column with more than ``MAX_NATIVE_LEVELS`` levels, which boosted trees get as ordinal codes."""
    from specweave_ml.data.checks import Finding
    from specweave_ml.training.calendar import calendar_parts, to_dates

    _, categorical = column_kinds(frame, features)
    categorical = [c for c in categorical if frame[c].dtype != bool]
    dates = date_columns(frame, categorical)
    found = []
    for c in categorical:
        col = frame[c]
        if c in dates:
            parsed = to_dates(col)
            parts = calendar_parts(parsed)
            not_dates = int((col.notna() & parsed.isna()).sum())
            stray = f"; {not_dates:,} values are not dates: read as missing" if not_dates else ""
            found.append(Finding("date_features", c, f"column '{c}' holds dates: used as calendar features "
                                 f"{', '.join(p.replace('_', ' ') for p in parts)} (not as text){stray}",
                                 {"features": [f"{c}.{p}" for p in parts], "not_dates": not_dates}))
        elif (levels := int(col.nunique())) > MAX_NATIVE_LEVELS:
            found.append(Finding("many_levels", c, f"column '{c}' has {levels:,} distinct values, more than "
                                 f"{MAX_NATIVE_LEVELS:,}: boosted trees read it as ordinal codes, not as categories "
                                 "of their own", {"levels": levels}))
    return found


def preprocessor(recipe: str, numeric: list[str], categorical: list[str], boolean: list[str] = (),
                 dates: list[str] = (), native: bool = False):
    """The ColumnTransformer of one recipe; ``native`` (the ``raw`` recipe only) keeps categories as pandas
    ``category`` columns and makes it output a DataFrame, so that their dtype reaches the model."""
    # keep_empty_features: a column with no value in one CV fold's training rows stays a (constant) column
    # instead of vanishing, which left the scaler or encoder after it no column at all when it was the only one.
    from sklearn.base import clone
    from sklearn.compose import ColumnTransformer
    from sklearn.impute import SimpleImputer
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import OneHotEncoder, OrdinalEncoder, StandardScaler

    from specweave_ml.training.calendar import CalendarFeatures

    if recipe == "none":
        return ColumnTransformer([("columns", "passthrough", [*numeric, *categorical, *boolean, *dates])],
                                 verbose_feature_names_out=False)
    if recipe == "scaled":
        num = make_pipeline(SimpleImputer(strategy="median", keep_empty_features=True), StandardScaler())
        cat = make_pipeline(SimpleImputer(strategy="most_frequent", keep_empty_features=True),
                            OneHotEncoder(handle_unknown="ignore", min_frequency=5))
    else:
        num = "passthrough" if recipe == "raw" else SimpleImputer(strategy="median", keep_empty_features=True)
        cat = make_pipeline(
            SimpleImputer(strategy="most_frequent", keep_empty_features=True),
            OrdinalEncoder(handle_unknown="use_encoded_value", unknown_value=-1, encoded_missing_value=-1),
        )
    native = native and recipe == "raw"
    parts = [("numeric", num, numeric)] if numeric else []
    if categorical:
        parts.append(("categorical", NativeCategories() if native else cat, categorical))
    if boolean:  # True/False columns have no missing value to impute, and SimpleImputer refuses the bool dtype
        bool_encoder = cat.steps[-1][1]
        parts.append(("boolean", clone(bool_encoder), list(boolean)))
    if dates:  # calendar numbers, then what the recipe does to numbers
        parts.append(("dates", CalendarFeatures() if num == "passthrough" else make_pipeline(CalendarFeatures(), clone(num)),
                      list(dates)))
    transformer = ColumnTransformer(parts, remainder="drop", verbose_feature_names_out=False)
    return transformer.set_output(transform="pandas") if native else transformer


def build_pipeline(spec: ModelSchema, task: str, frame: pd.DataFrame, features: list[str], seed: int,
                   params: dict | None = None):
    """The unfitted pipeline (preprocessing + estimator) for one candidate; ``params`` override its defaults.

    Without date or category columns it is the same pipeline as it always was (numbers only: nothing changes).
    """
    from sklearn.pipeline import Pipeline

    numeric, categorical = column_kinds(frame, features)
    boolean = [c for c in categorical if frame[c].dtype == bool]
    categorical = [c for c in categorical if c not in boolean]
    dates = date_columns(frame, categorical)
    categorical = [c for c in categorical if c not in dates]
    estimator = build(spec, task, seed, params)
    native = bool(categorical) and REGISTRY[spec.name].preprocess == "raw" and REGISTRY[spec.name].reads_categories(estimator)
    prep = preprocessor(REGISTRY[spec.name].preprocess, numeric, categorical, boolean, dates, native)
    steps = [("preprocess", prep), *([("names", PlainNames())] if native else []), ("model", estimator)]
    return Pipeline(steps)


def as_numbers(transformed) -> np.ndarray:
    """The preprocessed rows as a float array (category columns as their level codes, NaN where missing).

    LightGBM and XGBoost give the same answers, and SHAP's tree explainer the same values, on these codes as on
    the category columns: they store a category by its position among the fitted levels.
    """
    if hasattr(transformed, "toarray"):
        transformed = transformed.toarray()
    if isinstance(transformed, pd.DataFrame):
        transformed = transformed.apply(
            lambda c: c.cat.codes.replace(-1, np.nan).astype("float64") if isinstance(c.dtype, pd.CategoricalDtype) else c)
        return transformed.to_numpy(dtype="float64", na_value=np.nan)
    return np.asarray(transformed, dtype=float)


def _text(values: pd.Series) -> pd.Series:
    """Category values as text (missing stays missing), so ``1`` in training and ``"1"`` in a request agree."""
    present = values.notna().to_numpy()
    return pd.Series(np.where(present, values.astype(str).to_numpy(dtype=object), None), index=values.index, dtype=object)


class NativeCategories(TransformerMixin, BaseEstimator):
    """Category columns -> pandas ``category`` columns with the levels of the fitted rows.

    Fixing the levels at fit makes the codes LightGBM and XGBoost read the same in training, in early stopping
    and at predict time; an unseen level becomes missing. A column with more than ``max_levels`` levels (or
    none) becomes float ordinal codes (NaN where unseen or missing): see the module docstring.

    Attributes
    ----------
    levels_ : dict
        Column -> its sorted levels (as text).
    native_ : dict
        Column -> whether it is output as a ``category`` column.
    """

    def __init__(self, max_levels: int = MAX_NATIVE_LEVELS):
        self.max_levels = max_levels

    def fit(self, X, y=None):
        X = pd.DataFrame(X)
        self.feature_names_in_ = np.asarray([str(c) for c in X.columns], dtype=object)
        self.n_features_in_ = X.shape[1]
        self.levels_ = {str(c): sorted(_text(X[c]).dropna().unique()) for c in X.columns}
        self.native_ = {c: 0 < len(levels) <= self.max_levels for c, levels in self.levels_.items()}
        return self

    def transform(self, X):
        check_is_fitted(self, "levels_")
        X = pd.DataFrame(X)
        if X.shape[1] != self.n_features_in_:
            raise ValueError(f"NativeCategories was fitted on {self.n_features_in_} columns, got {X.shape[1]}")
        out = {}
        for name, c in zip(self.feature_names_in_, X.columns):
            text = _text(X[c])
            levels = self.levels_[name]
            values = pd.Categorical(text.where(text.isin(levels)), categories=levels)
            out[name] = values if self.native_[name] else pd.Series(values.codes, dtype="float64").replace(-1, np.nan).to_numpy()
        return pd.DataFrame(out, index=X.index)

    def get_feature_names_out(self, input_features=None):
        check_is_fitted(self, "levels_")
        return self.feature_names_in_.copy()


class PlainNames(TransformerMixin, BaseEstimator, auto_wrap_output_keys=None):
    """Renames the preprocessed columns ``f0, f1, ...`` for the model (LightGBM and XGBoost refuse some characters
    in feature names), while ``get_feature_names_out`` passes the readable names on. It is outside scikit-learn's
    ``set_output`` wrapping, which would put the readable names back."""

    def fit(self, X, y=None):
        self.feature_names_in_ = np.asarray([str(c) for c in X.columns], dtype=object)
        self.n_features_in_ = X.shape[1]
        return self

    def transform(self, X):
        check_is_fitted(self, "feature_names_in_")
        return X.set_axis([f"f{i}" for i in range(X.shape[1])], axis=1)

    def get_feature_names_out(self, input_features=None):
        check_is_fitted(self, "feature_names_in_")
        return self.feature_names_in_.copy()


def class_weights(y: pd.Series, scheme: str) -> np.ndarray | None:
    """Per-row weights against class imbalance: ``balanced`` (n_max / n_c), ``sqrt`` (its square root) or ``none``.

    The square root is the default: full balancing multiplies each of the 0.17% frauds by ~580, which
    distorts boosted trees' probabilities and their ranking more than it helps.
    """
    if scheme == "none":
        return None
    counts = y.value_counts()
    ratio = counts.max() / counts
    if scheme == "sqrt":
        ratio = np.sqrt(ratio)
    return y.map(ratio).to_numpy(dtype=float)
