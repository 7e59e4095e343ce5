"""Train/holdout shift, by adversarial validation: can a classifier tell training rows from holdout rows?

Up to ``SHIFT_ROWS`` rows of each side (at random) are labelled by side and a histogram gradient-boosting
classifier (scikit-learn's, 100 trees, gaps handled natively, categories as codes) is cross-validated on them
(``FOLDS`` stratified folds). Its out-of-fold ROC AUC is 0.5 when the two sides are exchangeable; its one-sided
95% lower bound (Hanley–McNeil, for the rows of each side) says whether it is *clearly* above. Every feature's
drift is measured alongside, as ``stage=monitor`` measures it: PSI on ten quantile bins of the training values
(categories: the 20 most frequent, the rest, and a bin for gaps) and the two-sample KS statistic, with the share
of holdout values outside the training range; the columns that moved most (by PSI) are named.

What it means depends on the split (``plan.split.strategy``):

* **time**: a drifting process is expected to shift. The holdout then measures the model on the later period
  as it will meet it; the named columns are the ones monitoring must watch. A "warning" when the bound is
  above ``WARN_AUC`` (0.6), "info" below: never severe, the holdout is honest about the future.
* **group**: the holdout holds other groups, which may differ: read the same way, a "warning" above 0.6.
* **random / stratified**: the sides are exchangeable by construction, so a classifier that tells them
  apart means something is wrong (a preprocessing step or a source that differs between the sides, rows
  appended after the split). A "warning" when the bound is above ``RANDOM_WARN_AUC`` (0.55), "severe" above
  ``RANDOM_SEVERE_AUC`` (0.65); a measure above 0.65 whose bound is not, a "warning" with medium confidence.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from specweave_ml.antipatterns import LEAKAGE_CONFIDENCE, Finding, auc_lower_bound

SHIFT_ROWS = 10_000
FOLDS = 3
MIN_ROWS = 20  # per side, below which the guard does not run
WARN_AUC = 0.6
RANDOM_WARN_AUC, RANDOM_SEVERE_AUC = 0.55, 0.65
PSI_BINS, PSI_ALERT, EPS = 10, 0.2, 1e-4  # as serving.drift: the usual "significant shift" threshold, the share floor
KS_ROWS = 50_000
TOP_CATEGORIES, TOP_COLUMNS = 20, 5


def _numeric(series: pd.Series) -> bool:
    return pd.api.types.is_numeric_dtype(series)


def _psi(expected: np.ndarray, actual: np.ndarray) -> float:
    e, a = np.clip(expected, EPS, None), np.clip(actual, EPS, None)
    return float(np.sum((a - e) * np.log(a / e)))


def column_drift(train: pd.Series, test: pd.Series, seed: int = 0) -> dict:
    """PSI, KS statistic and p-value (numbers), and the share of holdout values outside the training range."""
    from scipy.stats import ks_2samp

    if _numeric(train) and _numeric(test):
        x, y = train.to_numpy(dtype=float, na_value=np.nan), test.to_numpy(dtype=float, na_value=np.nan)
        xp, yp = x[~np.isnan(x)], y[~np.isnan(y)]
        if len(xp) == 0 or len(yp) == 0:
            return {"psi": None, "ks_statistic": None, "ks_pvalue": None, "out_of_range": None}
        edges = np.unique(np.quantile(xp, np.arange(1, PSI_BINS) / PSI_BINS))

        def shares(v: np.ndarray, present: np.ndarray) -> np.ndarray:
            counts = np.bincount(np.searchsorted(edges, present, side="right"), minlength=len(edges) + 1)
            return np.append(counts, len(v) - len(present)) / len(v)

        rng = np.random.default_rng(seed)
        xs = xp if len(xp) <= KS_ROWS else rng.choice(xp, KS_ROWS, replace=False)
        ys = yp if len(yp) <= KS_ROWS else rng.choice(yp, KS_ROWS, replace=False)
        ks = ks_2samp(xs, ys)
        outside = float(np.mean((yp < xp.min()) | (yp > xp.max())))
        return {"psi": round(_psi(shares(x, xp), shares(y, yp)), 6), "ks_statistic": round(float(ks.statistic), 6),
                "ks_pvalue": float(f"{ks.pvalue:.3g}"), "out_of_range": round(outside, 6)}
    top = train.dropna().astype(str).value_counts().index[:TOP_CATEGORIES]

    def shares_of(v: pd.Series) -> np.ndarray:
        text = v.astype(str).where(v.notna())
        counts = [float((text == c).sum()) for c in top]
        return np.array([*counts, float(text.notna().sum()) - sum(counts), float(v.isna().sum())]) / max(len(v), 1)

    unseen = float(np.mean(~test.dropna().astype(str).isin(set(train.dropna().astype(str))))) if test.notna().any() else 0.0
    return {"psi": round(_psi(shares_of(train), shares_of(test)), 6), "ks_statistic": None, "ks_pvalue": None,
            "out_of_range": round(unseen, 6)}


def _as_numbers(train: pd.DataFrame, test: pd.DataFrame, features: list[str]) -> tuple[np.ndarray, np.ndarray]:
    """Both sides as float matrices: numbers as they are (gaps kept), categories as codes shared by both sides."""
    left, right = [], []
    for col in features:
        a, b = train[col], test[col]
        if _numeric(a) and _numeric(b):
            left.append(a.to_numpy(dtype=float, na_value=np.nan))
            right.append(b.to_numpy(dtype=float, na_value=np.nan))
        else:
            both = pd.concat([a, b], ignore_index=True)
            codes, _ = pd.factorize(both.astype(str).where(both.notna()))  # gaps: -1
            codes = np.where(codes < 0, np.nan, codes.astype(float))
            left.append(codes[: len(a)])
            right.append(codes[len(a):])
    return np.column_stack(left), np.column_stack(right)


def adversarial_validation(train: pd.DataFrame, test: pd.DataFrame, features: list[str], split_strategy: str,
                           time_column: str | None = None, seed: int = 0, rows: int = SHIFT_ROWS,
                           confidence: float = LEAKAGE_CONFIDENCE) -> list[Finding]:
    """The out-of-fold ROC AUC of a train-versus-holdout classifier and the columns that moved (module docstring)."""
    from sklearn.ensemble import HistGradientBoostingClassifier
    from sklearn.metrics import roc_auc_score
    from sklearn.model_selection import StratifiedKFold, cross_val_predict

    features = [f for f in features if f != time_column]
    if not features:
        return []
    if min(len(train), len(test)) < MIN_ROWS:
        return [Finding("train_holdout_shift", "info",
                        f"shift not judged: {len(train):,} training and {len(test):,} holdout rows, fewer than {MIN_ROWS} on "
                        "a side to cross-validate a classifier on", {"rows_train": len(train), "rows_holdout": len(test),
                                                                     "min_rows": MIN_ROWS, "split": split_strategy}, "high")]
    rng = np.random.default_rng(seed)
    left = train.iloc[np.sort(rng.choice(len(train), min(rows, len(train)), replace=False))]
    right = test.iloc[np.sort(rng.choice(len(test), min(rows, len(test)), replace=False))]
    a, b = _as_numbers(left, right, features)
    X, side = np.vstack([a, b]), np.r_[np.zeros(len(a)), np.ones(len(b))]
    model = HistGradientBoostingClassifier(max_iter=100, learning_rate=0.1, early_stopping=False, random_state=seed)
    folds = StratifiedKFold(n_splits=FOLDS, shuffle=True, random_state=seed)
    # One OpenMP thread: under OMP_WAIT_POLICY=PASSIVE two made this 3-fold fit 5.6 s on 1,800 rows, against 0.5 s
    # for one (6.9 s against 1.5 s on 20k rows), on 2 cores.
    from threadpoolctl import threadpool_limits

    with threadpool_limits(1):
        proba = cross_val_predict(model, X, side, cv=folds, method="predict_proba")[:, 1]
    auc = float(roc_auc_score(side, proba))
    per_fold = [round(float(roc_auc_score(side[v], proba[v])), 4) for _, v in folds.split(X, side)]
    bound = auc_lower_bound(auc, len(b), len(a), confidence)

    drift = {c: column_drift(train[c], test[c], seed) for c in features}
    ranked = sorted(drift, key=lambda c: -(drift[c]["psi"] or 0.0))
    top = [{"column": c, **drift[c]} for c in ranked[:TOP_COLUMNS]]
    alerting = [c for c in ranked if (drift[c]["psi"] or 0.0) > PSI_ALERT]
    proxies = [c for c in ranked if (drift[c]["out_of_range"] or 0.0) > 0.5]
    evidence = {"roc_auc": round(auc, 6), "lower_bound": round(bound, 6), "confidence": confidence, "folds": per_fold,
                "rows_train": len(a), "rows_holdout": len(b), "model": "HistGradientBoostingClassifier(max_iter=100)",
                "split": split_strategy, "top_columns": top, "psi_alert": PSI_ALERT, "columns_over_psi_alert": alerting,
                "mostly_out_of_range": proxies, "time_column_excluded": time_column}
    sure = (f"a classifier tells training rows from holdout rows with out-of-fold ROC AUC {auc:.3f} "
            f"({confidence:.0%} lower bound {bound:.3f}; {len(a):,} + {len(b):,} rows, {FOLDS} folds)")
    moved = ", ".join(f"{t['column']} (PSI {t['psi']:.3f}" + (f", KS {t['ks_statistic']:.3f}" if t["ks_statistic"] is not None
                                                                else "") + ")" for t in top[:3] if t["psi"] is not None)
    random_split = split_strategy not in ("time", "group")
    warn = RANDOM_WARN_AUC if random_split else WARN_AUC
    if random_split and bound > RANDOM_SEVERE_AUC:
        severity, level = "severe", "high"
    elif random_split and auc > RANDOM_SEVERE_AUC:
        severity, level = "warning", "medium"
    elif bound > warn:
        severity, level = "warning", "high"
    else:
        return [Finding("train_holdout_shift", "info",
                        f"no clear shift between training and holdout rows: {sure}, not clearly above {warn} "
                        f"(columns that moved most: {moved or 'none'})", {**evidence, "limit": warn}, "high")]
    evidence["limit"] = warn
    proxy_note = (f"; {', '.join(proxies[:3])} mostly take holdout values outside the training range: a time proxy (a "
                  "counter, an ID, a date part) the trees extrapolate flat, to drop or make stationary") if proxies else ""
    if split_strategy == "time":
        message = (f"{sure}: expected on a time split of a drifting process; the holdout scores the model on the later "
                   f"period as it will meet it. Moved most: {moved}{proxy_note}")
        action = (f"monitor {', '.join(c['column'] for c in top[:3])} in production (stage=monitor, PSI alert above "
                  f"{PSI_ALERT}); retrain on recent data when they move further")
    elif split_strategy == "group":
        message = (f"{sure}: the holdout's groups differ from the training groups; the holdout scores the model on new "
                   f"groups. Moved most: {moved}{proxy_note}")
        action = f"check that new groups in production look like the holdout's; monitor {', '.join(c['column'] for c in top[:3])}"
    else:
        message = (f"{sure}: on a {split_strategy} split the two sides should be exchangeable, so something differs between "
                   f"them (a source or preprocessing step applied to one side, rows added after the split). Moved most: "
                   f"{moved}{proxy_note}")
        action = "find out why the holdout rows differ before trusting the holdout score; re-split from one clean source"
    return [Finding("train_holdout_shift", severity, message, evidence, level, action)]
