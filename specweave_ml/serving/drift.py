"""Drift against the training data: a reference profile saved at packaging, PSI and KS per column.

The profile describes every feature and every score column of the champion on the training rows:
quantile bins with their expected shares (numbers), the most frequent categories (text), and a grid of
quantiles that stands in for the training sample in the KS test. A batch (``stage=monitor``) or the
server's sliding window is binned the same way and compared:

* PSI = sum((actual - expected) * ln(actual / expected)) over the bins (missing values have their own
  bin); above ``psi_threshold`` (0.2 by default, the usual "significant shift") the column alerts.
* KS (``scipy.stats.ks_2samp``) of the batch against the quantile grid, for numeric columns; a shift is
  flagged below ``ks_alpha`` divided by the number of columns tested (Bonferroni). Informational: with
  large batches KS flags differences too small to matter, which is why PSI decides the alert.

PSI of a batch of n rows drawn from the reference population is about chi2(bins - 1) * (1/n + 1/N) by
chance alone (N reference rows), so small batches are noisy: the report states that chance level and warns
when it exceeds the threshold.
"""

from __future__ import annotations

import threading

import numpy as np
import pandas as pd

EPS = 1e-4  # floor on a bin's share, so an empty bin does not make PSI infinite
KS_GRID = 201  # quantiles kept per numeric column for the KS test
TOP_CATEGORIES = 20
OTHER = "__other__"


def _round(values) -> list[float]:
    return [float(f"{v:.6g}") for v in np.asarray(values, dtype=float)]


def score_columns(scores, task: str, classes) -> dict[str, np.ndarray]:
    """The model's answer as named 1-D columns: ``score``, ``proba_<class>`` or ``prediction``."""
    scores = np.asarray(scores, dtype=float)
    if task == "binary_classification":
        return {"score": scores}
    if task == "multiclass_classification":
        return {f"proba_{c}": scores[:, i] for i, c in enumerate(classes)}
    return {"prediction": scores}


def _numeric(values: np.ndarray, bins: int) -> dict:
    values = np.asarray(values, dtype=float)
    present = values[~np.isnan(values)]
    if len(present) == 0:
        return {"kind": "numeric", "edges": [], "expected": [0.0, 1.0], "ks_grid": [], "mean": None, "std": None}
    edges = np.unique(np.quantile(present, np.arange(1, bins) / bins))
    spec = {"kind": "numeric", "edges": _round(edges), "ks_grid": _round(np.quantile(present, np.linspace(0, 1, KS_GRID))),
            "mean": float(present.mean()), "std": float(present.std())}
    spec["expected"] = _round(shares(spec, values))
    return spec


def _categorical(values: pd.Series) -> dict:
    counts = values.dropna().astype(str).value_counts()
    spec = {"kind": "categorical", "categories": list(counts.index[:TOP_CATEGORIES]),
            "mode": str(counts.index[0]) if len(counts) else None}
    spec["expected"] = _round(shares(spec, values.to_numpy(object)))
    return spec


def build_profile(features: pd.DataFrame, scores: dict[str, np.ndarray], bins: int) -> dict:
    """The reference profile of ``features`` (training rows) and the model's ``scores`` on them."""
    from pandas.api.types import is_bool_dtype, is_numeric_dtype

    def spec(series: pd.Series) -> dict:
        numeric = is_numeric_dtype(series) and not is_bool_dtype(series)
        return _numeric(series.to_numpy(float), bins) if numeric else _categorical(series)

    return {"rows": len(features), "bins": bins,
            "features": {c: spec(features[c]) for c in features.columns},
            "scores": {name: _numeric(v, bins) for name, v in scores.items()}}


def encode(spec: dict, values) -> np.ndarray:
    """Values as floats the binning understands: numbers as they are, categories as their index (-1: other)."""
    if spec["kind"] == "numeric":
        return np.asarray(values, dtype=float)
    index = {c: i for i, c in enumerate(spec["categories"])}
    return np.array([np.nan if v is None or pd.isna(v) else index.get(str(v), -1) for v in values], dtype=float)


def shares(spec: dict, values, encoded: bool = False) -> np.ndarray:
    """Share of ``values`` in each bin of ``spec``; the last bin holds the missing values."""
    x = np.asarray(values, dtype=float) if encoded else encode(spec, values)
    missing = np.isnan(x)
    present = x[~missing]
    if spec["kind"] == "numeric":
        n_bins = len(spec["edges"]) + 1
        idx = np.searchsorted(np.asarray(spec["edges"], dtype=float), present, side="right")
    else:
        n_bins = len(spec["categories"]) + 1  # the last of these is "other"
        idx = np.where(present < 0, n_bins - 1, present).astype(int)
    counts = np.append(np.bincount(idx, minlength=n_bins), missing.sum()).astype(float)
    return counts / max(len(x), 1)


def psi(expected, actual) -> float:
    e = np.clip(np.asarray(expected, dtype=float), EPS, None)
    a = np.clip(np.asarray(actual, dtype=float), EPS, None)
    return float(np.sum((a - e) * np.log(a / e)))


def _column(name: str, spec: dict, values, threshold: float) -> dict:
    from scipy.stats import ks_2samp

    value = psi(spec["expected"], shares(spec, values))
    row = {"name": name, "kind": spec["kind"], "psi": round(value, 6), "alert": value > threshold,
           "ks_statistic": None, "ks_pvalue": None}
    present = np.asarray(values, dtype=float)[~np.isnan(np.asarray(values, dtype=float))] if spec["kind"] == "numeric" else []
    if spec["kind"] == "numeric" and len(present) and spec["ks_grid"]:
        ks = ks_2samp(np.asarray(spec["ks_grid"]), present)
        row["ks_statistic"], row["ks_pvalue"] = round(float(ks.statistic), 6), float(ks.pvalue)
    return row


def report(profile: dict, batch: pd.DataFrame, scores: dict[str, np.ndarray], psi_threshold: float, ks_alpha: float) -> dict:
    """PSI and KS of every feature and score column of ``batch`` against ``profile``; alerts above the threshold."""
    features = [_column(c, spec, batch[c].to_numpy(float if spec["kind"] == "numeric" else object), psi_threshold)
                for c, spec in profile["features"].items()]
    score_rows = [_column(name, profile["scores"][name], values, psi_threshold) for name, values in scores.items()]
    tested = [r for r in features + score_rows if r["ks_pvalue"] is not None]
    ks_limit = ks_alpha / max(len(tested), 1)
    for r in tested:
        r["ks_shift"] = r["ks_pvalue"] < ks_limit
    alerts = [r["name"] for r in features + score_rows if r["alert"]]
    chance = chance_psi(len(batch), profile["rows"], profile["bins"])
    warnings = []
    if chance > psi_threshold:
        warnings.append(f"{len(batch)} rows against {profile['rows']} reference rows: chance alone lets a column's PSI reach "
                        f"{chance:.2f} (99th percentile), above the {psi_threshold:g} threshold; judge alerts on a larger batch")
    return {"rows": len(batch), "psi_threshold": psi_threshold, "chance_psi_99": round(chance, 4), "ks_alpha": ks_alpha,
            "ks_limit": ks_limit, "alert": bool(alerts), "alerts": alerts, "warnings": warnings,
            "features": features, "scores": score_rows}


def chance_psi(rows: int, reference_rows: int, bins: int) -> float:
    """The 99th percentile of a column's PSI when nothing drifted: about chi2(bins - 1) * (1/rows + 1/reference_rows)."""
    from scipy.stats import chi2

    return float(chi2.ppf(0.99, bins - 1) * (1 / max(rows, 1) + 1 / max(reference_rows, 1)))


class DriftWindow:
    """The last ``size`` rows the server scored, binned against the profile when PSI is asked for.

    Thread-safe: batch requests are scored on worker threads.
    """

    def __init__(self, profile: dict, columns: list[str], score_names: list[str], size: int):
        self.specs = [profile["features"][c] for c in columns] + [profile["scores"][s] for s in score_names]
        self.names = list(columns) + list(score_names)
        self.n_features = len(columns)
        self.all_numeric = all(s["kind"] == "numeric" for s in self.specs[: self.n_features])
        self.buffer = np.full((size, len(self.specs)), np.nan)
        self.size, self.next, self.count = size, 0, 0
        self.lock = threading.Lock()

    def add(self, rows: list[list], scores: dict[str, np.ndarray]) -> None:
        if self.all_numeric:
            features = np.asarray(rows, dtype=float)
        else:
            features = np.column_stack([encode(spec, [r[j] for r in rows]) for j, spec in enumerate(self.specs[: self.n_features])])
        block = np.column_stack([features, *[np.asarray(v, dtype=float) for v in scores.values()]])[-self.size:]
        with self.lock:
            idx = (self.next + np.arange(len(block))) % self.size
            self.buffer[idx] = block
            self.next = int((self.next + len(block)) % self.size)
            self.count = min(self.count + len(block), self.size)

    def psi(self) -> tuple[int, dict[str, float]]:
        """Rows in the window and PSI per column (features first, then scores)."""
        with self.lock:
            data, n = self.buffer[: self.count].copy(), self.count
        return n, {name: psi(spec["expected"], shares(spec, data[:, j], encoded=True))
                   for j, (name, spec) in enumerate(zip(self.names, self.specs))}
