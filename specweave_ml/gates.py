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

from dataclasses import asdict, dataclass, field
from typing import Mapping, Optional

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
    evidence: dict = field(default_factory=dict)  # what the detail rests on beyond value and limit (a paired bootstrap)

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


def baseline_gate(metric: str, score: float, baseline_name: str, baseline: float, margin: float,
                  paired: Optional[dict] = None) -> GateResult:
    """The model must cut the best baseline's error by ``margin`` on the holdout (module docstring).

    ``paired``, the paired bootstrap of the model minus that baseline on the same holdout rows
    (``evaluation.bootstrap.paired_difference``), adds to the detail whether the difference is larger than the
    noise and whether its interval clears the margin line, and is kept as the gate's evidence. It never changes
    whether the gate passes: the margin is the methodology's rule, the interval says how far to trust the verdict.
    """
    limit = required_score(metric, baseline, margin)
    passed = beats(metric, score, limit)
    word = "at most" if not METRICS[metric].greater_is_better else "at least"
    detail = (f"holdout {metric} {score:.4f} vs best baseline {baseline_name} {baseline:.4f}: "
              f"needs {word} {limit:.4f} (error cut by {margin:.0%})")
    evidence = {}
    if paired and paired.get("low") is not None:
        detail += "; " + paired_text(metric, paired, limit - baseline)
        evidence = {"paired_bootstrap": {**paired, "margin_difference": limit - baseline}}
    advice = "" if passed else "the model does not beat a dummy by enough: check the features carry signal, the target, and leakage-free preprocessing"
    return GateResult("baseline_margin", passed, True, score, limit, detail, advice, evidence)


def paired_text(metric: str, paired: dict, needed: Optional[float] = None) -> str:
    """One clause on a paired bootstrap of ``a - b``: the difference, its interval, whether it beats the noise, and
    (with ``needed``, the difference the margin asks for) whether the whole interval clears that line.

    >>> paired_text("roc_auc", {"difference": 0.05, "low": 0.03, "high": 0.07, "level": 0.95, "resamples": 500,
    ...                         "rows": 1000, "stratified": True, "verdict": "better"}, 0.04)[:96]
    'paired bootstrap (500 resamples of the same 1,000 rows, within each class): difference +0.0500, '
    """
    higher = METRICS[metric].greater_is_better
    low, high = paired["low"], paired["high"]
    noise = {"better": "larger than the noise", "worse": "worse beyond the noise",
             "within noise": "within the noise: this holdout cannot tell the two apart"}[paired["verdict"]]
    text = (f"paired bootstrap ({paired['resamples']} resamples of the same {paired['rows']:,} rows"
            f"{', within each class' if paired.get('stratified') else ''}): difference {paired['difference']:+.4f}, "
            f"{paired['level']:.0%} interval [{low:+.4f}, {high:+.4f}], {noise}")
    if needed is None:
        return text
    clears, short = (low >= needed, high < needed) if higher else (high <= needed, low > needed)
    line = f"the margin asks for {needed:+.4f}"
    if clears:
        return f"{text}; {line} and the whole interval clears it"
    if short:
        return f"{text}; {line} and the whole interval falls short of it"
    return f"{text}; {line}, inside the interval: another holdout could flip this gate"


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


def overfit_gate(metric: str, train: float, val: float, limit: float, regularise: Optional[Mapping[str, str]] = None) -> GateResult:
    """``regularise``: the model's settings and the direction that regularises each (its ``search.regularise`` in
    conf/model/), which the advice names; without them the advice stays general."""
    if train != train:  # NaN: no train score (an ensemble: each member's gap was checked as a candidate)
        return GateResult("train_val_gap", True, False, float("nan"), limit,
                          f"{metric} train score not measured (an ensemble; its members' gaps are checked as candidates)", "")
    g = gap(metric, train, val)
    passed = g <= limit
    detail = f"{metric} train {train:.4f} vs validation {val:.4f}: gap {g:.4f} (limit {limit})"
    how = (", ".join(f"{'lower' if d == 'down' else 'raise'} {name}" for name, d in regularise.items()) if regularise
           else "a simpler model, a stronger penalty, fewer features")
    advice = "" if passed else f"overfitting: regularise ({how}) or add data"
    return GateResult("train_val_gap", passed, False, g, limit, detail, advice)


MAX_INTERVAL_WIDTH = 0.1
"""The widest 95% bootstrap interval of the primary metric a holdout may leave before the report warns (absolute
for scores bounded by 1, relative to the score otherwise, like the fold spread). Wider than ±0.05, two models
a few points apart, or the model and the baseline-margin line, cannot be told apart on this holdout."""
RULE_OF_THREE = 3.0
"""A bootstrap cannot show an error it never sees (a perfect score on 15 rows resamples to 1.0 every time); by the
rule of three, an error never seen in n rows may still be as high as 3/n (95%), so a bounded score's interval
is taken as at least 3/n wide: a holdout under 30 rows always warns."""


def holdout_resolution(metric: str, score: float, model: dict, baseline: dict, rows: int,
                       max_width: float = MAX_INTERVAL_WIDTH, paired: Optional[dict] = None) -> str | None:
    """A warning when the holdout is too small to tell models apart, else None (never blocking).

    ``model`` and ``baseline`` are bootstrap intervals (``{"low", "high", "level", ...}``, see
    ``evaluation.bootstrap``; ``baseline`` also names the best baseline). It warns when the model's interval
    is wider than ``max_width`` (for a bounded score, at least ``RULE_OF_THREE / rows`` wide) or overlaps the
    best baseline's. With ``paired``, the paired bootstrap of the model minus that baseline, the overlap test
    gives way to the sharper one: it warns when the difference's interval does not show the model better.

    >>> holdout_resolution("roc_auc", 0.99, {"low": 0.97, "high": 1.0}, {"name": "uniform", "low": 0.5, "high": 0.5}, 500)
    >>> holdout_resolution("roc_auc", 1.0, {"low": 1.0, "high": 1.0}, {}, 15)[:46]
    'holdout_size: the holdout has 15 rows: the 95%'
    """
    low, high = model.get("low"), model.get("high")
    if low is None or high is None:
        return None
    bounded = METRICS[metric].bounded_by_one
    width = (high - low) if bounded else (high - low) / abs(score) if score else float("inf")
    floor = RULE_OF_THREE / rows if bounded and rows else 0.0
    problems = []
    if max(width, floor) > max_width:
        problems.append(f"{width:.3f} wide" + ("" if bounded else " relative to the score")
                        + (f" (at least 3/{rows:,} = {floor:.3f} by the rule of three: an error never seen in "
                           f"{rows:,} rows may still be that common)" if floor > width else "")
                        + f", more than {max_width}")
    b_low, b_high = baseline.get("low"), baseline.get("high")
    if paired and paired.get("low") is not None:
        if paired["verdict"] != "better":
            problems.append(f"the paired bootstrap of the difference from the best baseline {baseline.get('name', '')} "
                            f"is [{paired['low']:+.4f}, {paired['high']:+.4f}]: the model is not shown better than it")
    elif b_low is not None and b_high is not None and low <= b_high and b_low <= high:
        problems.append(f"it overlaps the best baseline {baseline.get('name', '')}'s [{b_low:.4f}, {b_high:.4f}]")
    if not problems:
        return None
    level = model.get("level", 0.95)
    return (f"holdout_size: the holdout has {rows:,} rows: the {level:.0%} bootstrap interval of {metric} is "
            f"[{low:.4f}, {high:.4f}], {'; '.join(problems)}: models closer than that cannot be told apart on it (with a "
            "rare class, its few rows decide this); read the result with care, hold out more rows (selection.test_size) "
            "or collect more data")
