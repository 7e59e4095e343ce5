"""The methodology's anti-patterns, checked in one place, each finding with its evidence.

Severity: ``severe`` marks the increment not ready (leakage); ``warning`` is recorded with advice;
``info`` documents a guard that held (the imbalance handling used, IDs left out, ...).
"""

from __future__ import annotations

import re
from dataclasses import asdict, dataclass, field

import numpy as np
import pandas as pd

TIME_NAME = re.compile(r"(date|time|timestamp|_at$|^ts$|year|month)", re.IGNORECASE)


@dataclass(frozen=True)
class Finding:
    kind: str
    severity: str  # severe | warning | info
    message: str
    evidence: dict = field(default_factory=dict)

    def to_dict(self) -> dict:
        return asdict(self)


def single_feature_leakage(train: pd.DataFrame, features: list[str], target: str, task: str,
                           limit: float = 0.99, max_rows: int = 50_000, seed: int = 0) -> list[Finding]:
    """A feature that alone predicts the target almost perfectly is a leak until proven otherwise."""
    from sklearn.metrics import roc_auc_score

    sample = train.sample(n=min(max_rows, len(train)), random_state=seed) if len(train) > max_rows else train
    y = sample[target]
    out = []
    for col in features:
        x = sample[col]
        if not pd.api.types.is_numeric_dtype(x):
            x = x.astype("category").cat.codes
        x = x.fillna(x.median() if x.notna().any() else 0).to_numpy(float)
        if np.std(x) == 0:
            continue
        if task == "regression":
            score, name = abs(float(np.corrcoef(x, y.to_numpy(float))[0, 1])), "|correlation|"
        elif task == "binary_classification":
            auc = roc_auc_score(y, x)
            score, name = max(auc, 1 - auc), "ROC AUC"
        else:  # multiclass: a feature that fixes the class for (almost) every value
            score = float(sample.groupby(col)[target].agg(lambda s: s.value_counts(normalize=True).iloc[0]).mul(
                sample[col].value_counts(normalize=True)).sum()) if sample[col].nunique() < len(sample) / 2 else 0.0
            name = "purity"
        if score >= limit:
            out.append(Finding("leakage", "severe",
                               f"feature '{col}' alone predicts '{target}' with {name} {score:.4f}: probably derived from the target "
                               "or known only after it; drop it or explain why it is available at prediction time",
                               {"feature": col, "measure": name, "value": round(score, 6), "rows_checked": len(sample)}))
    return out


def target_named(features: list[str], target: str) -> list[Finding]:
    stem = target.lower().strip("_ ")
    hits = [f for f in features if len(stem) > 2 and stem in f.lower() and f != target]
    return [Finding("leakage", "warning", f"feature '{f}' is named after the target '{target}': check it is not derived from it",
                    {"feature": f}) for f in hits]


def look_ahead(dtypes: dict[str, str], time_column: str | None, split_strategy: str) -> list[Finding]:
    if time_column:
        return [Finding("look_ahead", "info", f"time-ordered split on '{time_column}': no training row is later than a test row",
                        {"split": split_strategy})]
    timeish = [c for c, t in dtypes.items() if "datetime" in t or TIME_NAME.search(c)]
    if not timeish:
        return []
    return [Finding("look_ahead", "warning",
                    f"{split_strategy} split on data with time-like column(s) {', '.join(timeish)}: if rows arrive over time, "
                    "set problem.data.time_column so that the model is tested on the future",
                    {"columns": timeish, "split": split_strategy})]


def duplicates_across(train: pd.DataFrame, test: pd.DataFrame, features: list[str]) -> list[Finding]:
    """Test rows whose features also appear in training rows inflate the holdout score."""
    keys = pd.util.hash_pandas_object(train[features], index=False)
    test_keys = pd.util.hash_pandas_object(test[features], index=False)
    shared = int(test_keys.isin(set(keys.to_numpy())).sum())
    if not shared:
        return []
    share = shared / len(test)
    return [Finding("duplicates_across_split", "severe" if share > 0.1 else "warning",
                    f"{shared} test rows ({share:.2%}) have the same features as a training row: the holdout may overstate "
                    "performance on unseen data", {"rows": shared, "share": round(share, 6)})]


def from_profile(profile: dict) -> list[Finding]:
    out = []
    for f in profile.get("findings", []):
        if f["kind"] == "id_like":
            out.append(Finding("id_column", "info", f["message"], {"column": f["column"]}))
    return out


def overfitting(cv: dict) -> list[Finding]:
    out = []
    for cand in cv.get("candidates", []):
        for check in cand.get("checks", []):
            if check["name"] == "train_val_gap" and not check["passed"]:
                out.append(Finding("overfitting", "warning", f"{cand['name']}: {check['detail']}; {check['advice']}",
                                   {"model": cand["name"], "gap": check["value"], "limit": check["limit"]}))
    return out


def imbalance(imbalanced: bool, minority_share: float | None, weighting: str, threshold_rule: str, primary: str) -> list[Finding]:
    if not imbalanced:
        return []
    return [Finding("class_imbalance", "info",
                    f"minority class {minority_share:.2%}: primary metric {primary}, class weighting '{weighting}', "
                    f"threshold by {threshold_rule or 'argmax'}",
                    {"minority_share": minority_share, "weighting": weighting, "primary_metric": primary})]


def pipeline_guard(model) -> list[Finding]:
    steps = [name for name, _ in model.pipeline_.steps]
    return [Finding("preprocessing", "info", "preprocessing is fitted inside the model pipeline (per CV fold, on training rows only)",
                    {"pipeline_steps": steps})]
