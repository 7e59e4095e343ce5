"""A data profile: what a reviewer wants to know before trusting any number trained on the data."""

from __future__ import annotations

import pandas as pd

from specweave_ml.data.checks import CheckedData


def _finding(f) -> dict:
    out = dict(vars(f))
    if not out.get("evidence"):  # only the data contract's findings carry counts and examples
        out.pop("evidence", None)
    return out


def profile(frame: pd.DataFrame, target: str, task: str, checked: CheckedData, source_fingerprint: str) -> dict:
    missing = frame.isna().sum()
    out = {
        "rows": int(len(frame)),
        "columns": int(frame.shape[1]),
        "fingerprint": source_fingerprint,
        "features": checked.features,
        "dtypes": {c: str(t) for c, t in frame.dtypes.items()},
        "missing_values": {c: int(n) for c, n in missing.items() if n},
        "duplicate_rows": checked.duplicate_rows,
        "findings": [_finding(f) for f in checked.findings],
        "column_types": checked.columns,  # column -> {"type", "evidence"} (data.contract)
    }
    if task in ("binary_classification", "multiclass_classification"):
        counts = frame[target].value_counts()
        out["class_balance"] = {str(k): {"rows": int(v), "share": float(v / len(frame))} for k, v in counts.items()}
        out["minority_share"] = float(counts.min() / len(frame))
        out["majority_share"] = float(counts.max() / len(frame))
    else:
        desc = frame[target].describe()
        out["target_summary"] = {k: float(v) for k, v in desc.items()}
    return out
