"""The methodology's anti-patterns, checked in one place, each finding with its evidence.

Severity: ``severe`` marks the increment not ready (leakage); ``warning`` is recorded with advice;
``info`` documents a guard that held (the imbalance handling used, IDs left out, ...).

Each finding also says how sure it is (``confidence``) and what to do (``action``):

* ``high``: an exact count, an inspection of the fitted model, or a confidence bound that clears the limit
  the severity names, for the rows there are;
* ``medium``: the measured value clears the limit but its confidence bound does not: too few rows to be sure;
* ``low``: circumstantial (a column's name), for a person to confirm.

A finding is ``severe`` only with ``high`` confidence (``Finding`` refuses anything else), so a small sample
never blocks an increment on a hunch. The reviewer's guards (near-duplicates, missingness and encoding
leaks, train/holdout shift) follow the same rules in ``specweave_ml.guards``.
"""

from __future__ import annotations

import re
from dataclasses import asdict, dataclass, field

import numpy as np
import pandas as pd

TIME_NAME = re.compile(r"(date|time|timestamp|_at$|^ts$|year|month)", re.IGNORECASE)


SEVERITIES = ("severe", "warning", "info")
CONFIDENCES = ("high", "medium", "low")


@dataclass(frozen=True)
class Finding:
    kind: str
    severity: str  # severe | warning | info
    message: str
    evidence: dict = field(default_factory=dict)
    confidence: str = "high"  # high | medium | low: how sure the evidence is for this many rows (module docstring)
    action: str = ""  # what to do about it ("" for a guard that held)

    def __post_init__(self):
        if self.severity not in SEVERITIES or self.confidence not in CONFIDENCES:
            raise ValueError(f"finding {self.kind}: severity {self.severity!r}, confidence {self.confidence!r}")
        if self.severity == "severe" and self.confidence != "high":
            raise ValueError(f"finding {self.kind}: severe needs high confidence, not {self.confidence}")

    def to_dict(self) -> dict:
        return asdict(self)


LEAKAGE_LIMIT = 0.99
LEAKAGE_CONFIDENCE = 0.95
"""How sure the single-feature check must be before it calls a feature leakage: "severe" needs the one-sided
95% lower confidence bound of the feature's score above ``LEAKAGE_LIMIT``, not just the score. On 45 rows a
genuinely strong measurement reaches ROC AUC 0.99 by luck of the draw; a copy of the target on thousands of
rows has a bound of 0.9999."""


def _z(confidence: float) -> float:
    from statistics import NormalDist

    return NormalDist().inv_cdf(confidence)


def auc_lower_bound(auc: float, n_a: int, n_b: int, confidence: float = LEAKAGE_CONFIDENCE) -> float:
    """One-sided lower confidence bound of a ROC AUC between classes of ``n_a`` and ``n_b`` rows (Hanley–McNeil, 1982).

    Their standard error rests on an exponential model that is not symmetric in the two classes: the larger
    of the two errors (either class scored higher) is used, so the verdict does not depend on the sign of the
    feature or on which class is called positive. It is 0 at AUC 1, which would make a perfect split of ten rows
    "certain": the error is computed as if half of one pair were misordered (continuity correction).

    >>> round(auc_lower_bound(0.991, 10, 35), 3), round(auc_lower_bound(1.0, 2500, 2500), 5)
    (0.956, 0.99999)
    """
    a = min(auc, 1 - 0.5 / (n_a * n_b))
    q1, q2 = a / (2 - a), 2 * a * a / (1 + a)

    def variance(high: int, low: int) -> float:  # ``high``: the class the feature scores higher
        return (a * (1 - a) + (high - 1) * (q1 - a * a) + (low - 1) * (q2 - a * a)) / (high * low)

    error = float(np.sqrt(max(variance(n_a, n_b), variance(n_b, n_a), 0.0)))
    return max(0.0, a - _z(confidence) * error)


def correlation_lower_bound(r: float, n: int, confidence: float = LEAKAGE_CONFIDENCE) -> float:
    """One-sided lower confidence bound of ``|r|`` by Fisher's z transform (0 under 4 rows)."""
    if n < 4:
        return 0.0
    return max(0.0, float(np.tanh(np.arctanh(min(abs(r), 1 - 1e-12)) - _z(confidence) / np.sqrt(n - 3))))


def share_lower_bound(share: float, n: int, confidence: float = LEAKAGE_CONFIDENCE) -> float:
    """One-sided Wilson score lower bound of a proportion ``share`` of ``n`` rows."""
    z = _z(confidence)
    centre = share + z * z / (2 * n)
    spread = z * np.sqrt(share * (1 - share) / n + z * z / (4 * n * n))
    return max(0.0, float((centre - spread) / (1 + z * z / n)))


def single_feature_leakage(train: pd.DataFrame, features: list[str], target: str, task: str,
                           limit: float = LEAKAGE_LIMIT, max_rows: int = 50_000, seed: int = 0,
                           confidence: float = LEAKAGE_CONFIDENCE) -> list[Finding]:
    """A feature that alone predicts the target almost perfectly is a leak until proven otherwise.

    Its score (binary: ROC AUC, either direction; regression: |correlation|; multiclass: the share of rows
    whose class the feature's value fixes) at or above ``limit`` is "severe" leakage when the one-sided
    ``confidence`` lower bound of the score (Hanley–McNeil, Fisher z, Wilson) is above ``limit`` too; when the
    rows are too few for that, it is a "warning": strong, perhaps a leak, not proven. The bound, the rows and
    the confidence are in the message and the evidence.
    """
    from sklearn.metrics import roc_auc_score

    sample = train.sample(n=min(max_rows, len(train)), random_state=seed) if len(train) > max_rows else train
    y = sample[target]
    n = len(sample)
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
            bound = correlation_lower_bound(score, n, confidence)
        elif task == "binary_classification":
            auc = roc_auc_score(y, x)
            score, name = max(auc, 1 - auc), "ROC AUC"
            counts = y.value_counts()
            bound = auc_lower_bound(score, int(counts.iloc[0]), int(counts.iloc[-1]), confidence)
        else:  # multiclass: a feature that fixes the class for (almost) every value
            score = float(sample.groupby(col)[target].agg(lambda s: s.value_counts(normalize=True).iloc[0]).mul(
                sample[col].value_counts(normalize=True)).sum()) if sample[col].nunique() < len(sample) / 2 else 0.0
            name = "purity"
            bound = share_lower_bound(score, n, confidence)
        if score < limit:
            continue
        evidence = {"feature": col, "measure": name, "value": round(score, 6), "lower_bound": round(bound, 6),
                    "confidence": confidence, "limit": limit, "rows_checked": n}
        sure = f"{name} {score:.4f} on {n:,} rows ({confidence:.0%} lower bound {bound:.4f})"
        if bound > limit:
            out.append(Finding("leakage", "severe",
                               f"feature '{col}' alone predicts '{target}' with {sure}: probably derived from the target "
                               "or known only after it; drop it or explain why it is available at prediction time", evidence,
                               "high", f"drop '{col}', or show that it is known when the prediction is made"))
        else:
            out.append(Finding("leakage", "warning",
                               f"feature '{col}' alone predicts '{target}' with {sure}: too few rows to tell a strong "
                               f"feature from a leak (the bound is not above {limit}); check it is available at "
                               "prediction time", evidence, "medium",
                               f"check that '{col}' is known when the prediction is made; more rows would settle it"))
    return out


def target_named(features: list[str], target: str) -> list[Finding]:
    stem = target.lower().strip("_ ")
    hits = [f for f in features if len(stem) > 2 and stem in f.lower() and f != target]
    return [Finding("leakage", "warning", f"feature '{f}' is named after the target '{target}': check it is not derived from it",
                    {"feature": f}, "low", f"confirm that '{f}' is not derived from '{target}' and is known before it")
            for f in hits]


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
                    {"columns": timeish, "split": split_strategy}, "medium",
                    f"if rows arrive over time, set problem.data.time_column={timeish[0]}")]


DUPLICATE_LIMIT = 0.1  # a holdout with more copies of training rows than this is severe (by its lower confidence bound)


def duplicates_across(train: pd.DataFrame, test: pd.DataFrame, features: list[str],
                      limit: float = DUPLICATE_LIMIT, confidence: float = LEAKAGE_CONFIDENCE) -> list[Finding]:
    """Test rows whose features also appear in training rows inflate the holdout score.

    "severe" when the one-sided lower confidence bound (Wilson) of their share is above ``limit``; when only
    the share is, a "warning" with medium confidence (too few holdout rows to be sure); otherwise a "warning".
    """
    keys = pd.util.hash_pandas_object(train[features], index=False)
    test_keys = pd.util.hash_pandas_object(test[features], index=False)
    shared = int(test_keys.isin(set(keys.to_numpy())).sum())
    if not shared:
        return []
    share = shared / len(test)
    bound = share_lower_bound(share, len(test), confidence)
    severe = bound > limit
    return [Finding("duplicates_across_split", "severe" if severe else "warning",
                    f"{shared} test rows ({share:.2%}) have the same features as a training row: the holdout may overstate "
                    "performance on unseen data",
                    {"rows": shared, "share": round(share, 6), "lower_bound": round(bound, 6), "limit": limit,
                     "rows_test": len(test)},
                    "high" if severe or share <= limit else "medium",
                    "drop the copies from the holdout, or split by the entity they belong to (problem.data.group_column); "
                    "see the near-duplicate guard for copies with small differences")]


def from_profile(profile: dict) -> list[Finding]:
    data_contract = {"coerced_to_missing": "warning", "non_finite": "warning", "separator_detected": "info"}  # kind -> severity
    out = []
    for f in profile.get("findings", []):
        if f["kind"] == "id_like":
            out.append(Finding("id_column", "info", f["message"], {"column": f["column"]}))
        elif f["kind"] in data_contract:  # values the data contract read as missing, or the separator it detected
            fix = "" if data_contract[f["kind"]] == "info" else \
                "fix the values at the source, or set problem.data.on_dirty=error to refuse such data"
            out.append(Finding(f["kind"], data_contract[f["kind"]], f["message"], {"column": f["column"], **f.get("evidence", {})},
                               "high", fix))
    return out


def overfitting(cv: dict) -> list[Finding]:
    out = []
    for cand in cv.get("candidates", []):
        for check in cand.get("checks", []):
            if check["name"] == "train_val_gap" and not check["passed"]:
                out.append(Finding("overfitting", "warning", f"{cand['name']}: {check['detail']}; {check['advice']}",
                                   {"model": cand["name"], "gap": check["value"], "limit": check["limit"]}, "high",
                                   check["advice"]))
    return out


def imbalance(imbalanced: bool, minority_share: float | None, weighting: str, threshold_rule: str, primary: str) -> list[Finding]:
    if not imbalanced:
        return []
    return [Finding("class_imbalance", "info",
                    f"minority class {minority_share:.2%}: primary metric {primary}, class weighting '{weighting}', "
                    f"threshold by {threshold_rule or 'argmax'}",
                    {"minority_share": minority_share, "weighting": weighting, "primary_metric": primary})]


SCALE_SENSITIVE = ("sklearn.linear_model", "sklearn.svm", "sklearn.neighbors", "sklearn.neural_network")
SCALE_RATIO = 10.0  # non-binary model inputs whose standard deviations differ more than this are unscaled
PROBE_ROWS = 2_000  # training rows passed through the fitted preprocessing (rows with gaps first)


def _learns(step) -> bool:
    """Whether a fitted transformer holds statistics learned from rows (``statistics_``, ``mean_``, ``categories_``...)."""
    return any(k.endswith("_") and not k.startswith("_") and k not in ("n_features_in_", "feature_names_in_") for k in vars(step))


def _fitted_transformers(step, path: str = "") -> list[str]:
    """``path/ClassName`` of each transformer that learns statistics, walking Pipelines and ColumnTransformers."""
    from sklearn.compose import ColumnTransformer
    from sklearn.pipeline import Pipeline

    if isinstance(step, Pipeline):
        return [n for name, s in step.steps  # make_pipeline names a step after its class: say it once
                for n in _fitted_transformers(s, path if name == type(s).__name__.lower() else f"{path}{name}/")]
    if isinstance(step, ColumnTransformer):
        return [n for name, s, _ in getattr(step, "transformers_", step.transformers)
                for n in _fitted_transformers(s, f"{path}{name}/")]
    if step is None or isinstance(step, str) or not _learns(step):  # "passthrough", "drop", a stateless function
        return []
    return [f"{path}{type(step).__name__}"]


def _needs(X: pd.DataFrame, estimator) -> dict[str, list[str]]:
    """What the raw features need before ``estimator`` can learn from them: encoding, imputation, scaling."""
    from sklearn.utils import get_tags

    try:
        allow_nan = get_tags(estimator).input_tags.allow_nan
    except Exception:  # not a scikit-learn estimator: assume the strict case
        allow_nan = False
    flags = [c for c in X.columns if pd.api.types.is_bool_dtype(X[c])]
    numeric = [c for c in X.columns if pd.api.types.is_numeric_dtype(X[c]) and c not in flags]
    needs = {"encoding": [c for c in X.columns if c not in numeric and c not in flags],
             "imputation": [] if allow_nan else [c for c in X.columns if X[c].isna().any()]}
    stds = X[numeric].std()
    stds = stds[stds > 0]
    if type(estimator).__module__.startswith(SCALE_SENSITIVE) and len(stds) > 1 and stds.max() > SCALE_RATIO * stds.min():
        needs["scaling"] = [str(stds.idxmax()), str(stds.idxmin())]
    return {k: v for k, v in needs.items() if v}


def _unmet(pipeline, X: pd.DataFrame, needs: dict) -> dict[str, str]:
    """Which needs the model's own preprocessing leaves unmet on raw training rows, each with what was seen."""
    probe = pd.concat([X[X.isna().any(axis=1)].head(PROBE_ROWS // 2), X.head(PROBE_ROWS)])
    probe = probe[~probe.index.duplicated()]
    try:
        out = pipeline[:-1].transform(probe) if len(pipeline.steps) > 1 else probe
        from specweave_ml.training.pipelines import as_numbers

        values = as_numbers(out)  # sparse, and native categories as their codes
    except (TypeError, ValueError) as error:
        return {"numbers": f"its own steps cannot turn the raw features into numbers: {error}"}
    unmet = {}
    if "imputation" in needs and np.isnan(values).any():
        unmet["imputation"] = f"missing values in {', '.join(needs['imputation'][:5])} reach the estimator"
    if "scaling" in needs:
        spread = [np.nanstd(c) for c in values.T if len(np.unique(c[~np.isnan(c)])) > 2]
        spread = [x for x in spread if x > 0]
        if spread and max(spread) > SCALE_RATIO * min(spread):
            unmet["scaling"] = (f"inputs reach the estimator with standard deviations from {min(spread):.3g} to "
                                f"{max(spread):.3g} ({needs['scaling'][0]} vs {needs['scaling'][1]})")
    return unmet


def pipeline_guard(model, X: pd.DataFrame) -> list[Finding]:
    """Preprocessing must be fitted inside the model's Pipeline, so each CV fold refits it on its training rows.

    ``X`` is the raw training features. Inspected for real on the fitted model:

    * the model (or a ``DecisionModel``'s ``pipeline_``) is not a scikit-learn Pipeline: "warning", since
      nothing shows where its preprocessing was fitted;
    * the raw features need encoding (text) or imputation (gaps, for an estimator that refuses NaN) and the
      pipeline's own steps do not provide it: "severe". The estimator can then only have been fitted on rows
      transformed outside the model, with statistics from rows that CV and the holdout should never have
      shown it, and it will fail or mispredict on the raw rows it is served;
    * a scale-sensitive estimator (``SCALE_SENSITIVE``) gets inputs whose spreads differ more than
      ``SCALE_RATIO`` times: "warning", since the data were scaled outside the model or not at all;
    * otherwise "info": the transformers that learn statistics are inside the pipeline, listed.
    """
    from sklearn.pipeline import Pipeline

    pipeline = model if isinstance(model, Pipeline) else getattr(model, "pipeline_", None)
    if not isinstance(pipeline, Pipeline):
        return [Finding("preprocessing", "warning",
                        f"the model is a {type(model).__name__} without a fitted scikit-learn Pipeline: nothing shows "
                        "that its preprocessing was fitted per CV fold on training rows only; build it as a Pipeline",
                        {"model": type(model).__name__}, "high", "build the model as a scikit-learn Pipeline")]
    steps, inside = [name for name, _ in pipeline.steps], _fitted_transformers(pipeline[:-1]) if len(pipeline.steps) > 1 else []
    needs = _needs(X, pipeline.steps[-1][1])
    unmet = _unmet(pipeline, X, needs) if needs else {}
    evidence = {"pipeline_steps": steps, "fitted_inside": inside, "needs": needs, "unmet": unmet}
    if unmet:
        severe = bool(set(unmet) - {"scaling"})
        return [Finding("preprocessing", "severe" if severe else "warning",
                        f"the model's pipeline ({' -> '.join(steps)}) does not do the {' and '.join(sorted(unmet))} its raw "
                        f"features need ({'; '.join(unmet.values())}): "
                        + ("the model was fitted on rows transformed outside it, before the CV split, and will fail on "
                           "raw rows; put every imputer and encoder inside the Pipeline" if severe else
                           "the rows were scaled outside the model or not at all; put a scaler inside the Pipeline"),
                        evidence, "high", "put every imputer and encoder inside the Pipeline" if severe else
                        "put a scaler inside the Pipeline")]
    return [Finding("preprocessing", "info",
                    f"preprocessing is fitted inside the model pipeline (per CV fold, on training rows only): "
                    f"{', '.join(inside) or 'no transformer needed'}", evidence)]
