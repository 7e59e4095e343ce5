"""Leaks that a feature's values hide: its missingness, its categories, its name.

* **Missingness** (``missingness_leaks``): a column filled only once the outcome is known (a chargeback date,
  a refund amount) predicts the target by its *presence*; filling the gap with the median, as the value check
  in ``antipatterns.single_feature_leakage`` does, hides it. Each feature with gaps is replaced by its
  missing indicator and scored like a feature: binary, ROC AUC (either direction); regression, |correlation|;
  multiclass, the best one-class-against-the-rest ROC AUC.
* **Encodings** (``encoding_leaks``): a category (text, a flag, or a whole number with at most
  ``MAX_LEVELS_NUMERIC`` values that repeat) whose levels map almost one-to-one to the target (a status code set
  by the outcome). Codes in alphabetical order hide a mapping that is not monotone, so each row is
  scored by the target mean of its level *out of fold* (``FOLDS`` folds, smoothed towards the prior with weight
  ``SMOOTHING``): a level seen once gets the prior, so a column unique per row (an ID) says nothing, while a
  level always seen with one class carries it to new rows. Measure: ROC AUC, |correlation|, or for multiclass
  the share of rows whose level's most common other-fold class is their own.
* **Names** (``outcome_names``): a column named like an outcome or like something recorded after it
  (``refund``, ``chargeback``, ``resolution``, ``..._after``). A name is circumstantial: a "warning" with low
  confidence, for a person to confirm.

As for a value, a measure at or above ``LEAKAGE_LIMIT`` (0.99) is "severe" when its one-sided 95% lower bound
(Hanley–McNeil, Fisher z, Wilson) is above it too, and a "warning" with medium confidence when not. A
missing indicator is judged against a lower bar too: a measure at or above ``MISSING_WARN`` (ROC AUC 0.9,
|correlation| 0.7) is a "warning" (presence alone predicts most of the outcome: check when the column is
filled). Below that, informative missingness is ordinary and the guard records its evidence as "info".
"""

from __future__ import annotations

import re

import numpy as np
import pandas as pd

from specweave_ml.antipatterns import (LEAKAGE_CONFIDENCE, LEAKAGE_LIMIT, Finding, auc_lower_bound,
                                       correlation_lower_bound, share_lower_bound)

MISSING_WARN = {"ROC AUC": 0.9, "|correlation|": 0.7}
MAX_ROWS = 50_000
MAX_LEVELS_NUMERIC = 50  # a whole number with at most this many values (repeating) is also checked as a category
FOLDS = 5
SMOOTHING = 1.0
OUTCOME_NAME = re.compile(
    r"(chargeback|refund|dispute|outcome|resolution|resolved|settle|cancel|churn|default(ed)?$|diagnos|discharg|"
    r"approv|declin|reimburs|recover|write_?off|closed|converted|returned|fraud|label|target|result|"
    r"_after$|^after_|^post_|_post$|^days_to_|^time_to_|_at_close|^final_)", re.IGNORECASE)


def _sample(train: pd.DataFrame, max_rows: int, seed: int) -> pd.DataFrame:
    return train.sample(n=max_rows, random_state=seed) if len(train) > max_rows else train


def score(x: np.ndarray, y: pd.Series, task: str, confidence: float = LEAKAGE_CONFIDENCE) -> tuple[str, float, float]:
    """(measure, value, one-sided lower bound) of how well the numbers ``x`` alone predict ``y``."""
    from sklearn.metrics import roc_auc_score

    if task == "regression":
        target = y.to_numpy(float)
        r = abs(float(np.corrcoef(x, target)[0, 1])) if np.std(x) > 0 and np.std(target) > 0 else 0.0
        return "|correlation|", r, correlation_lower_bound(r, len(x), confidence)
    best = ("ROC AUC", 0.5, 0.0)
    classes = y.value_counts()
    for cls in (classes.index[-1:] if len(classes) == 2 else classes.index):  # binary: one class; else each against the rest
        positive = (y == cls).to_numpy()
        if positive.all() or not positive.any():
            continue
        auc = float(roc_auc_score(positive, x))
        auc = max(auc, 1 - auc)
        if auc > best[1]:
            best = ("ROC AUC", auc, auc_lower_bound(auc, int(positive.sum()), int((~positive).sum()), confidence))
    return best


def _judge(kind: str, what: str, column: str, target: str, measure: str, value: float, bound: float, n: int,
           confidence: float, limit: float, warn: float | None, evidence: dict, action: str) -> Finding:
    sure = f"{measure} {value:.4f} on {n:,} rows ({confidence:.0%} lower bound {bound:.4f})"
    evidence = {"feature": column, "measure": measure, "value": round(value, 6), "lower_bound": round(bound, 6),
                "confidence": confidence, "limit": limit, "rows_checked": n, **evidence}
    if value >= limit and bound > limit:
        return Finding(kind, "severe", f"{what} alone predicts '{target}' with {sure}: known only after the outcome, "
                       "or derived from it", evidence, "high", action)
    if value >= limit:
        return Finding(kind, "warning", f"{what} alone predicts '{target}' with {sure}: too few rows to tell a leak "
                       f"from a strong feature (the bound is not above {limit})", evidence, "medium", action)
    if warn is not None and value >= warn:
        return Finding(kind, "warning", f"{what} alone predicts most of '{target}' with {sure}: check when the column is "
                       "filled", {**evidence, "warn": warn}, "high" if bound > warn else "medium", action)
    return Finding(kind, "info", f"{what}: {sure}, below the limits", evidence, "high")


def missingness_leaks(train: pd.DataFrame, features: list[str], target: str, task: str, seed: int = 0,
                      limit: float = LEAKAGE_LIMIT, confidence: float = LEAKAGE_CONFIDENCE,
                      max_rows: int = MAX_ROWS) -> list[Finding]:
    """Each feature with gaps, judged by its missing indicator alone (module docstring).

    Returns a finding per feature whose indicator reaches a limit, or one "info" finding listing what was checked.
    """
    sample = _sample(train, max_rows, seed)
    y, n = sample[target], len(sample)
    out, checked = [], {}
    for col in features:
        missing = sample[col].isna().to_numpy()
        if not missing.any() or missing.all():
            continue
        measure, value, bound = score(missing.astype(float), y, task, confidence)
        checked[col] = {"missing_share": round(float(missing.mean()), 6), "measure": measure, "value": round(value, 6)}
        found = _judge("missingness_leak", f"whether '{col}' is missing (not its value)", col, target, measure, value,
                       bound, n, confidence, limit, MISSING_WARN.get(measure), {"missing_share": round(float(missing.mean()), 6)},
                       f"find out when '{col}' is filled; if only after the outcome, drop it (or its gaps) from the features")
        if found.severity != "info":
            out.append(found)
    if out:
        return out
    if not checked:
        return [Finding("missingness_leak", "info", "no feature has missing values: no missing indicator to check",
                        {"checked": {}, "rows_checked": n}, "high")]
    return [Finding("missingness_leak", "info", f"{len(checked)} feature(s) with gaps checked: no missing indicator "
                    f"predicts '{target}' beyond the limits", {"checked": checked, "rows_checked": n, "limit": limit,
                                                              "warn": MISSING_WARN}, "high")]


def _categorical(series: pd.Series) -> bool:
    """Text, flags, and whole numbers with few values that repeat (a code); not measurements."""
    if not pd.api.types.is_numeric_dtype(series) or pd.api.types.is_bool_dtype(series):
        return True
    values = series.dropna().to_numpy(dtype=float)
    levels = len(np.unique(values))
    return levels <= min(MAX_LEVELS_NUMERIC, len(values) / 2) and bool(np.all(values == np.round(values)))


def out_of_fold_encoding(levels: pd.Series, y: pd.Series, task: str, seed: int = 0) -> np.ndarray:
    """Each row's level scored from the other folds: the target's mean (binary: positive rate; regression: mean), or
    for multiclass the class most common in the other folds (-1 where the level is unseen there)."""
    codes = levels.astype(str).fillna("__missing__").to_numpy(object)
    fold = np.random.default_rng(seed).integers(0, FOLDS, len(codes))
    if task == "multiclass_classification":
        out = np.full(len(codes), -1, dtype=np.int64)
        classes, target = np.unique(y.to_numpy(), return_inverse=True)
        for k in range(FOLDS):
            other = pd.DataFrame({"level": codes[fold != k], "y": target[fold != k]})
            mode = other.groupby(["level", "y"]).size().unstack(fill_value=0).idxmax(axis=1)
            out[fold == k] = pd.Series(codes[fold == k]).map(mode).fillna(-1).to_numpy(np.int64)
        return out
    target = y.to_numpy(float) if task == "regression" else (y == y.value_counts().index[-1]).to_numpy(float)
    out = np.empty(len(codes))
    for k in range(FOLDS):
        other = pd.DataFrame({"level": codes[fold != k], "y": target[fold != k]})
        prior = float(other["y"].mean())
        stats = other.groupby("level")["y"].agg(["sum", "count"])
        smoothed = (stats["sum"] + SMOOTHING * prior) / (stats["count"] + SMOOTHING)
        out[fold == k] = pd.Series(codes[fold == k]).map(smoothed).fillna(prior).to_numpy(float)
    return out


def encoding_leaks(train: pd.DataFrame, features: list[str], target: str, task: str, seed: int = 0,
                   limit: float = LEAKAGE_LIMIT, confidence: float = LEAKAGE_CONFIDENCE,
                   max_rows: int = MAX_ROWS) -> list[Finding]:
    """Each categorical feature (text, flags, numbers with few values), judged by its out-of-fold target encoding."""
    sample = _sample(train, max_rows, seed)
    y, n = sample[target], len(sample)
    out, checked = [], {}
    for col in features:
        if not _categorical(sample[col]) or sample[col].nunique() < 2:
            continue
        encoded = out_of_fold_encoding(sample[col], y, task, seed)
        if task == "multiclass_classification":
            truth = np.unique(y.to_numpy(), return_inverse=True)[1]
            value = float(np.mean(encoded == truth))
            measure, bound = "out-of-fold purity", share_lower_bound(value, n, confidence)
            majority = float(y.value_counts(normalize=True).iloc[0])
            if majority >= limit:  # the majority class alone reaches the limit: purity says nothing
                continue
        else:
            measure, value, bound = score(encoded, y, task, confidence)
            measure = f"out-of-fold {measure}"
        levels = int(sample[col].nunique())
        checked[col] = {"levels": levels, "measure": measure, "value": round(value, 6)}
        found = _judge("encoding_leak", f"the category of '{col}' ({levels} levels, each scored by the target in the other "
                       "folds)", col, target, measure, value, bound, n, confidence, limit, None, {"levels": levels},
                       f"find out how '{col}' is set; if its levels follow the outcome, drop it")
        if found.severity != "info":
            out.append(found)
    if out:
        return out
    if not checked:
        return [Finding("encoding_leak", "info", f"no categorical feature (text, flag, or whole number with at most "
                        f"{MAX_LEVELS_NUMERIC} repeating values): no level-to-target mapping to check",
                        {"checked": {}, "rows_checked": n}, "high")]
    return [Finding("encoding_leak", "info", f"{len(checked)} categorical feature(s) checked out of fold: none maps its "
                    f"levels to '{target}' beyond the limit", {"checked": checked, "rows_checked": n, "limit": limit}, "high")]


def outcome_names(features: list[str], target: str) -> list[Finding]:
    """Features named like an outcome, or like something recorded after it (a "warning", low confidence)."""
    stem = target.lower().strip("_ ")
    out = []
    for col in features:
        hit = OUTCOME_NAME.search(col)
        if hit is None or (len(stem) > 2 and stem in col.lower()):  # named after the target: antipatterns.target_named
            continue
        out.append(Finding("outcome_name", "warning",
                           f"feature '{col}' is named like an outcome or a later event ('{hit.group(0)}'): if it is filled "
                           f"when or after '{target}' is known, it leaks it", {"feature": col, "matched": hit.group(0)},
                           "low", f"confirm that '{col}' is known when the prediction is made; drop it if not"))
    return out
