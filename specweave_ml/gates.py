"""The methodology's gates, each a pure function of measured numbers.

"Beat the best baseline by 20%" means *cut its error by 20%*:

* for a metric where lower is better (RMSE, MAE, MAPE, log loss) the error is the metric itself:
  the model must score at most ``(1 - margin) * baseline``;
* for a score bounded by 1 where higher is better (ROC-AUC, PR-AUC, F1, accuracy, R²) the error is
  ``1 - score``: the model must score at least ``1 - (1 - margin) * (1 - baseline)``. A plain ratio
  would be impossible above a baseline of 0.83 and trivial near 0 (PR-AUC baselines sit at the
  positive rate, e.g. 0.0017 on fraud, where "20% better" would be 0.002);
* for any other higher-is-better metric: at least ``baseline + margin * |baseline|``.

Fold spread and the train/validation gap are read on the same scale: absolute for bounded scores,
relative to the validation value for error metrics (an RMSE has the units of the target).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

from specweave_ml.metrics import METRICS


@dataclass(frozen=True)
class GateResult:
    name: str
    passed: bool
    blocking: bool  # a failed blocking gate makes the increment not ready
    value: float
    limit: float
    detail: str
    advice: str = ""

    def to_dict(self) -> dict:
        return asdict(self)


def required_score(metric: str, baseline: float, margin: float) -> float:
    m = METRICS[metric]
    if not m.greater_is_better:
        return (1 - margin) * baseline
    if m.bounded_by_one:
        return 1 - (1 - margin) * (1 - baseline)
    return baseline + margin * abs(baseline)


def beats(metric: str, score: float, limit: float) -> bool:
    return score <= limit if not METRICS[metric].greater_is_better else score >= limit


def baseline_gate(metric: str, score: float, baseline_name: str, baseline: float, margin: float) -> GateResult:
    limit = required_score(metric, baseline, margin)
    passed = beats(metric, score, limit)
    word = "at most" if not METRICS[metric].greater_is_better else "at least"
    detail = (f"holdout {metric} {score:.4f} vs best baseline {baseline_name} {baseline:.4f}: "
              f"needs {word} {limit:.4f} (error cut by {margin:.0%})")
    advice = "" if passed else "the model does not beat a dummy by enough: check the features carry signal, the target, and leakage-free preprocessing"
    return GateResult("baseline_margin", passed, True, score, limit, detail, advice)


def _scaled_spread(metric: str, values: list[float]) -> float:
    import numpy as np

    std = float(np.std(values))
    if METRICS[metric].bounded_by_one:
        return std
    mean = abs(float(np.mean(values)))
    return std / mean if mean else float("inf")


def cv_spread_gate(metric: str, fold_scores: list[float], limit: float) -> GateResult:
    spread = _scaled_spread(metric, fold_scores)
    passed = spread <= limit
    kind = "std" if METRICS[metric].bounded_by_one else "std / mean"
    detail = f"{metric} across {len(fold_scores)} folds: {kind} {spread:.4f} (limit {limit})"
    advice = "" if passed else ("folds disagree: the model is unstable; look for drift over time, too few positives per fold, "
                                "or a model too sensitive to its training rows")
    return GateResult("cv_std", passed, False, spread, limit, detail, advice)


def gap(metric: str, train: float, val: float) -> float:
    if METRICS[metric].greater_is_better:
        return train - val if METRICS[metric].bounded_by_one else (train - val) / abs(val) if val else float("inf")
    return (val - train) / abs(val) if val else 0.0


def overfit_gate(metric: str, train: float, val: float, limit: float) -> GateResult:
    g = gap(metric, train, val)
    passed = g <= limit
    detail = f"{metric} train {train:.4f} vs validation {val:.4f}: gap {g:.4f} (limit {limit})"
    advice = "" if passed else ("overfitting: regularise (shallower trees, larger min_child_weight / min_samples_leaf, "
                                "stronger L2, subsampling) or add data")
    return GateResult("train_val_gap", passed, False, g, limit, detail, advice)
