"""The checks a column of texts must pass before anything trains on it, and what is said about it.

Refused with one message each (``DataError``, exit 2, nothing written): no text column named, a text column
the data lacks, values that are not text (numbers, booleans), empty or missing texts. Duplicated texts and very
long texts are findings: they are kept, and counted in the profile and the report.
"""

from __future__ import annotations

from typing import Optional

import numpy as np
import pandas as pd

from specweave_ml.errors import ConfigError, DataError

SHOWN = 5


def _rows(mask: pd.Series) -> str:
    rows = [str(i) for i in np.flatnonzero(mask.to_numpy())[:SHOWN]]
    return ", ".join(rows) + (" ..." if int(mask.sum()) > SHOWN else "")


def text_column(column: Optional[str], columns) -> str:
    """The brief's text column, refused when unset or not in the data."""
    if not column:
        raise ConfigError("problem.text.column", "a text brief needs the column that holds the texts",
                          "set problem.text.column=<column>")
    if column not in columns:
        shown = ", ".join(map(str, list(columns)[:10]))
        raise DataError("problem.text.column", f"column '{column}' is not in the data ({len(columns)} columns: {shown})",
                        "set problem.text.column to the column of texts")
    return column


def texts(series: pd.Series, where: str) -> pd.Series:
    """The texts as strings; a missing, empty or non-text value is refused, naming its rows (0-based)."""
    missing = series.isna()
    not_text = ~missing & ~series.map(lambda v: isinstance(v, str))
    if not_text.any():
        sample = series[not_text].iloc[0]
        raise DataError(where, f"{int(not_text.sum())} values are not text (e.g. {sample!r} of type {type(sample).__name__}) "
                        f"at rows {_rows(not_text)}", "give texts as strings (a CSV column of text, quoted where needed)")
    empty = missing | series.fillna("").astype(str).str.strip().eq("")
    if empty.any():
        raise DataError(where, f"{int(empty.sum())} of {len(series):,} texts are empty or missing (rows {_rows(empty)})",
                        "drop or fill those rows: an empty text has nothing to classify")
    return series.astype(str)


def describe(series: pd.Series) -> dict:
    """Lengths in characters and words, and duplicates: what the profile and the report show of a text column."""
    chars, words = series.str.len(), series.str.split().str.len()
    q = lambda s: {k: float(v) for k, v in s.quantile([0.0, 0.5, 0.95, 1.0]).rename(index=lambda x: f"q{int(x * 100)}").items()}
    return {"texts": int(len(series)), "chars": q(chars), "words": q(words), "mean_words": float(words.mean()),
            "duplicated_texts": int(series.duplicated().sum()), "vocabulary_words": int(series.str.lower().str.split().explode().nunique())}


def findings(series: pd.Series, max_chars: int) -> list:
    from specweave_ml.data.checks import Finding

    out = []
    dup = int(series.duplicated().sum())
    if dup:
        out.append(Finding("duplicate_texts", series.name,
                           f"{dup} texts of column '{series.name}' repeat an earlier one (kept: a split may then see the same "
                           "text on both sides; the evaluation counts those holdout rows)"))
    long = int((series.str.len() > max_chars).sum())
    if long:
        out.append(Finding("long_texts", series.name,
                           f"{long} texts are longer than problem.text.max_chars={max_chars} (kept for training; the server "
                           "refuses texts that long; the encoder reads only the first 256 tokens of any text)"))
    return out
