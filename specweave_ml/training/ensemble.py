"""Greedy ensemble selection (Caruana et al., 2004) over the candidates' out-of-fold scores.

Why greedy selection and not stacking: it needs no second model to fit (nothing else to cross-validate), it
works for every task and metric the candidates are judged by, and the result is a weighted average a user can read.

The algorithm, forward selection WITH replacement: start from the best single candidate; each round add the
candidate (possibly one already in) whose addition most improves the metric of the equally weighted average of the
chosen list; stop when no addition improves it or after ``rounds``. A member's weight is its count / the list's length.
Scores are averaged as the candidates give them: P(positive) for binary, class probabilities (n, k) for multiclass,
values for regression (what ``CVResult.oof_scores`` holds).

Every number uses the candidates' own yardstick: ``cv.metric_value`` on each fold's rows of the out-of-fold scores,
so the ensemble's per-fold scores compare fold for fold with the single models' ``val_scores``.

Honesty about the comparison: weights chosen on the same out-of-fold scores they are then scored on flatter the
ensemble. ``Selection.nested_fold_scores`` scores each fold with weights chosen on the OTHER folds' out-of-fold rows
only (cheap: no model is refitted), and by default (``ship_on="nested"``) the ensemble ships only when that honest
estimate beats the best single model too. The ensemble ships only when it beats the best single model's CV mean by
more than ``tolerance`` (default 1e-4: a gain below the fourth decimal is noise that does not pay for running
several models) AND it holds at least two members.

``explain_ensemble`` gives SHAP values of a fitted ``WeightedEnsemble`` (the weighted sum of its members'), and
``footprint`` the latency and size the report shows beside the gain.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Mapping, Optional, Sequence

import numpy as np

from specweave_ml.metrics import METRICS
from specweave_ml.training.cv import metric_value

DEFAULT_TOLERANCE = 1e-4
DEFAULT_ROUNDS = 25
SHIP_ON = ("nested", "in_sample")
MAX_BACKGROUND = 100  # background rows the probability-space tree explainer integrates over (as the masker's cap)


@dataclass
class Selection:
    """What greedy selection found, and whether the ensemble ships (``reason`` says why, in words)."""

    metric: str
    ships: bool
    reason: str
    weights: dict[str, float] = field(default_factory=dict)  # member -> weight (sums to 1); empty if none
    counts: dict[str, int] = field(default_factory=dict)  # member -> times picked
    fold_scores: list[float] = field(default_factory=list)  # the ensemble's metric per fold (weights from all folds)
    nested_fold_scores: list[float] = field(default_factory=list)  # per fold, weights chosen without that fold
    best_name: Optional[str] = None
    best_fold_scores: list[float] = field(default_factory=list)
    single_means: dict[str, float] = field(default_factory=dict)  # every aligned candidate's CV mean
    history: list[float] = field(default_factory=list)  # the ensemble's CV mean after each accepted round
    excluded: dict[str, str] = field(default_factory=dict)  # candidate -> why it took no part
    oof_index: Optional[np.ndarray] = None  # sorted positions of the out-of-fold rows
    oof_scores: Optional[np.ndarray] = None  # the ensemble's out-of-fold scores there (for the binary threshold)
    tolerance: float = DEFAULT_TOLERANCE
    ship_on: str = "nested"

    @property
    def mean(self) -> float:
        return float(np.mean(self.fold_scores)) if self.fold_scores else float("nan")

    @property
    def std(self) -> float:
        return float(np.std(self.fold_scores)) if self.fold_scores else float("nan")

    @property
    def nested_mean(self) -> float:
        return float(np.mean(self.nested_fold_scores)) if self.nested_fold_scores else float("nan")

    @property
    def best_mean(self) -> float:
        return float(np.mean(self.best_fold_scores)) if self.best_fold_scores else float("nan")

    @property
    def members(self) -> list[str]:
        return list(self.weights)

    def summary(self) -> dict:
        """The report's view: both the ensemble and the best single model, and the verdict."""
        r = lambda v: round(float(v), 6)  # noqa: E731
        return {
            "metric": self.metric, "ships": self.ships, "reason": self.reason,
            "weights": {k: r(v) for k, v in self.weights.items()}, "counts": dict(self.counts),
            "folds": [r(s) for s in self.fold_scores], "mean": self.mean, "std": self.std,
            "nested_folds": [r(s) for s in self.nested_fold_scores], "nested_mean": self.nested_mean,
            "best_single": {"name": self.best_name, "folds": [r(s) for s in self.best_fold_scores], "mean": self.best_mean},
            "single_means": {k: r(v) for k, v in self.single_means.items()},
            "history": [r(h) for h in self.history], "excluded": dict(self.excluded),
            "tolerance": self.tolerance, "ship_on": self.ship_on,
        }


def select_from_cv(candidates: Sequence, y, fold_of_rows, metric: str, task: str, classes,
                   rounds: int = DEFAULT_ROUNDS, tolerance: float = DEFAULT_TOLERANCE, ship_on: str = "nested") -> Selection:
    """``select`` on ``CVResult`` objects (their ``oof_index`` / ``oof_scores``); those without either take no part."""
    oof, missing = {}, {}
    for c in candidates:
        if c.oof_index is None or c.oof_scores is None:
            missing[c.name] = "no out-of-fold scores"
        else:
            oof[c.name] = (c.oof_index, c.oof_scores)
    selection = select(oof, y, fold_of_rows, metric, task, classes, rounds, tolerance, ship_on)
    selection.excluded = {**missing, **selection.excluded}
    return selection


def select(oof: Mapping[str, tuple], y, fold_of_rows, metric: str, task: str, classes, rounds: int = DEFAULT_ROUNDS,
           tolerance: float = DEFAULT_TOLERANCE, ship_on: str = "nested") -> Selection:
    """Greedy forward selection with replacement over ``oof``: name -> (oof_index, oof_scores).

    ``y`` (label-encoded for classification) and ``fold_of_rows`` (the ``__fold__`` column) cover every row of the
    training split; ``oof_index`` holds positions into them. Candidates must have validated the same set of rows
    (they are aligned by sorting on ``oof_index``); otherwise nothing is selected and ``reason`` says which differ.
    """
    if ship_on not in SHIP_ON:
        raise ValueError(f"ship_on must be one of {SHIP_ON}, got {ship_on!r}")
    if rounds < 1:
        raise ValueError(f"rounds must be >= 1, got {rounds}")
    y, fold_of_rows = np.asarray(y), np.asarray(fold_of_rows)
    base = dict(metric=metric, tolerance=tolerance, ship_on=ship_on)
    aligned, excluded, problem = _align(oof)
    if problem:
        return Selection(ships=False, reason=problem, excluded=excluded, **base)
    if len(aligned) < 2:
        have = ", ".join(aligned) or "none"
        return Selection(ships=False, reason=f"fewer than two candidates with out-of-fold scores (have: {have})",
                         excluded=excluded, **base)
    index = next(iter(aligned.values()))[0]
    stacked = {name: scores for name, (_, scores) in aligned.items()}
    folds = _fold_rows(fold_of_rows[index])
    sign = 1.0 if METRICS[metric].greater_is_better else -1.0
    score = lambda s, rows=None: _fold_scores(metric, task, y[index], s, classes, folds if rows is None else rows)  # noqa: E731

    singles = {name: score(s) for name, s in stacked.items()}
    counts, history = _greedy(stacked, lambda s: float(np.mean(score(s))), sign, rounds)
    weights = {name: c / sum(counts.values()) for name, c in counts.items()}
    blend = _blend(stacked, weights)
    nested = _nested(stacked, folds, score, sign, rounds)
    best = max(singles, key=lambda n: sign * np.mean(singles[n]))
    selection = Selection(
        weights=weights, counts=counts, fold_scores=score(blend), nested_fold_scores=nested, best_name=best,
        best_fold_scores=singles[best], single_means={n: float(np.mean(s)) for n, s in singles.items()},
        history=history, excluded=excluded, oof_index=index, oof_scores=blend, ships=False, reason="", **base)
    selection.ships, selection.reason = verdict(selection)
    return selection


def verdict(s: Selection) -> tuple[bool, str]:
    """Ship only with two or more members and a CV gain over the best single model strictly above the tolerance."""
    sign = 1.0 if METRICS[s.metric].greater_is_better else -1.0
    direction = "" if sign > 0 else " (lower is better)"
    if len(s.weights) < 2:
        return False, f"one member only: {s.best_name} alone scores best on the out-of-fold rows ({s.metric} {s.best_mean:.4f})"
    mix = " + ".join(f"{w:.2f} {n}" for n, w in s.weights.items())
    if sign * (s.mean - s.best_mean) <= s.tolerance:
        return False, (f"CV {s.mean:.4f} does not beat {s.best_name} {s.best_mean:.4f} by more than {s.tolerance:g}"
                       f"{direction} ({s.metric}; {mix})")
    if s.ship_on == "nested" and sign * (s.nested_mean - s.best_mean) <= s.tolerance:
        return False, (f"CV {s.mean:.4f} beats {s.best_name} {s.best_mean:.4f} only with weights chosen on the scored rows: "
                       f"with weights chosen on the other folds it scores {s.nested_mean:.4f}, not more than "
                       f"{s.tolerance:g} better{direction} ({s.metric}; {mix})")
    nested = f", {s.nested_mean:.4f} with weights chosen on the other folds" if s.nested_fold_scores else ""
    return True, (f"CV {s.mean:.4f}{nested} beats {s.best_name} {s.best_mean:.4f} by {sign * (s.mean - s.best_mean):.4f}"
                  f"{direction} with {len(s.weights)} members ({s.metric}; {mix})")


def _align(oof: Mapping[str, tuple]) -> tuple[dict, dict, str]:
    """Each candidate's scores sorted by position; a problem (in words) when the validated rows differ."""
    aligned, excluded = {}, {}
    for name in sorted(oof):
        index, scores = np.asarray(oof[name][0]), np.asarray(oof[name][1], dtype=float)
        if len(index) != len(scores):
            excluded[name] = f"{len(index)} out-of-fold positions but {len(scores)} scores"
        elif len(np.unique(index)) != len(index):
            excluded[name] = "a row was validated twice in its out-of-fold positions"
        elif not np.isfinite(scores).all():
            excluded[name] = "its out-of-fold scores are not all finite"
        else:
            order = np.argsort(index, kind="stable")
            aligned[name] = (index[order], scores[order])
    if aligned:
        reference_name, (reference, _) = next(iter(aligned.items()))
        differ = [n for n, (idx, _) in aligned.items() if len(idx) != len(reference) or not np.array_equal(idx, reference)]
        if differ:
            return aligned, excluded, (f"the candidates validated different rows: {', '.join(differ)} "
                                       f"differ from {reference_name}; their out-of-fold scores cannot be averaged")
    return aligned, excluded, ""


def _fold_rows(folds: np.ndarray) -> list[np.ndarray]:
    return [np.flatnonzero(folds == f) for f in np.unique(folds)]


def _fold_scores(metric, task, y, scores, classes, folds) -> list[float]:
    return [metric_value(metric, task, y[rows], scores[rows], classes) for rows in folds]


def _blend(stacked: Mapping[str, np.ndarray], weights: Mapping[str, float]) -> np.ndarray:
    return sum(w * stacked[n] for n, w in weights.items())


def _greedy(stacked: Mapping[str, np.ndarray], objective, sign: float, rounds: int) -> tuple[dict[str, int], list[float]]:
    """Caruana's hill climb: (member -> count, objective after each accepted round). Ties go to the first name."""
    names = list(stacked)
    firsts = {n: objective(stacked[n]) for n in names}
    start = max(names, key=lambda n: sign * firsts[n])
    counts, total, current = {start: 1}, stacked[start].copy(), firsts[start]
    history = [current]
    for _ in range(rounds - 1):
        size = sum(counts.values())
        tried = {n: objective((total + stacked[n]) / (size + 1)) for n in names}
        pick = max(names, key=lambda n: sign * tried[n])
        if not sign * tried[pick] > sign * current:
            break
        counts[pick] = counts.get(pick, 0) + 1
        total, current = total + stacked[pick], tried[pick]
        history.append(current)
    return counts, history


def _nested(stacked, folds: list[np.ndarray], score, sign: float, rounds: int) -> list[float]:
    """Per fold: weights chosen on the other folds' rows only, scored on this fold's rows (no refit needed)."""
    if len(folds) < 2:
        return []
    out = []
    for i, rows in enumerate(folds):
        others = [f for j, f in enumerate(folds) if j != i]
        counts, _ = _greedy(stacked, lambda s: float(np.mean(score(s, others))), sign, rounds)
        weights = {n: c / sum(counts.values()) for n, c in counts.items()}
        out.append(score(_blend(stacked, weights), [rows])[0])
    return out


# --- what the ensemble costs and how it is explained --------------------------------------------------------

def footprint(model, X, repeats: int = 5) -> dict:
    """Pickled size (bytes) and the median time of one ``scores`` call on ``X`` (ms per call and per row).

    Measured on the same rows for the best single model and the ensemble, so the report shows the price of the gain.
    """
    import pickle
    import time

    size = len(pickle.dumps(model, protocol=pickle.HIGHEST_PROTOCOL))
    times = []
    for _ in range(max(1, repeats)):
        start = time.perf_counter()
        model.scores(X)
        times.append(time.perf_counter() - start)
    ms = float(np.median(times)) * 1000
    return {"bytes": size, "ms_per_call": ms, "ms_per_row": ms / max(1, len(X)), "rows": len(X)}


def explain_ensemble(model, X_background, X_explain, task: str, seed: int = 0, atol: float = 1e-6):
    """SHAP values of a fitted ``WeightedEnsemble``: the weighted sum of its members' values, per input column.

    The ensemble averages probabilities (classification) or values (regression), so the weighted sum of the members'
    SHAP values adds up to the ensemble's output only if every member is explained in that same space. Boosted trees
    and logistic regression are explained in log-odds by their native explainers, forests in probability: mixing them
    would add numbers on different scales. So each member is first explained by its registry explainer; when its
    values plus base do not reproduce the member's own ``scores`` (probability / value) on the explained rows
    (``atol``, rtol 1e-5), it is explained again in probability space: a tree model by the tree explainer with
    ``model_output="probability"`` over at most ``MAX_BACKGROUND`` background rows ("tree-probability"), anything
    else (or a tree model that explainer refuses) by the model-agnostic permutation explainer on ``predict_proba``
    (``kernel``), additive by construction but slow (about 0.2-1 s a row per member on 30 features). The result
    is in the ensemble's output space: values + base == ensemble scores, row by row; ``explainer`` names the
    explainer each member got.

    Members may preprocess differently (one-hot for linear models, ordinal codes for trees), so the values are summed
    per input column (SHAP values are additive over the features one column expands to) and ``features`` are the
    ensemble's input columns. ``data`` holds the raw rows (non-numeric columns as category codes, -1 when missing),
    for colouring plots only. Same shapes as ``shap_values.explain``: (n, columns) or (n, columns, classes).
    """
    import pandas as pd

    from specweave_ml.explain.shap_values import Explained, explain
    from specweave_ml.models.registry import REGISTRY

    columns = list(X_explain.columns)
    values, base, used = 0.0, 0.0, []
    for name, member, weight in zip(model.names_, model.members_, model.weights_):
        kind = REGISTRY[name].explainer if name in REGISTRY and REGISTRY[name].explainer in ("tree", "linear", "kernel") else "kernel"
        target = np.asarray(member.scores(X_explain), dtype=float)
        explained = explain(member, X_background, X_explain, task, kind, seed)
        if kind == "tree" and not _adds_up(explained, target, atol):
            explained = _tree_probability(member, X_background, X_explain, task)
        if explained is None or (explained.explainer != "permutation" and not _adds_up(explained, target, atol)):
            explained = explain(member, X_background, X_explain, task, "kernel", seed)
        used.append(f"{name}:{explained.explainer}")
        values = values + weight * _per_column(explained, member, columns)
        base = base + weight * explained.base
    data = np.column_stack([
        X_explain[c].to_numpy(dtype=float) if pd.api.types.is_numeric_dtype(X_explain[c]) and not pd.api.types.is_bool_dtype(X_explain[c])
        else pd.Categorical(X_explain[c]).codes.astype(float) for c in columns])
    return Explained(values=np.asarray(values), base=np.asarray(base), data=data, features=columns,
                     explainer=f"weighted ({', '.join(used)})")


def _adds_up(explained, target: np.ndarray, atol: float) -> bool:
    """Values + base reproduce the member's own output (rtol 1e-5: XGBoost explains in float32)."""
    return bool(np.allclose(explained.values.sum(axis=1) + explained.base, target, atol=atol, rtol=1e-5))


def _tree_probability(member, X_background, X_explain, task: str):
    """A boosted tree's SHAP values in probability space: the tree explainer integrating over the background rows
    (``model_output="probability"``), about 50 times faster than the permutation explainer on the same rows.
    None when the explainer does not support the model (the caller falls back to the permutation explainer)."""
    import shap

    from specweave_ml.explain.shap_values import Explained

    prep, est = member.pipeline_[:-1], member.pipeline_.steps[-1][1]
    try:
        numbers = lambda X: _as_float(prep.transform(X)) if len(prep) else X.to_numpy(dtype=float)  # noqa: E731
        data, background = numbers(X_explain), numbers(X_background)[:MAX_BACKGROUND]
        result = shap.TreeExplainer(est, data=background, model_output="probability",
                                    feature_perturbation="interventional")(data, check_additivity=False)
    except Exception:  # noqa: BLE001  (an unsupported model or objective: the permutation explainer answers instead)
        return None
    values, base = np.asarray(result.values, dtype=float), np.asarray(result.base_values, dtype=float)
    n = len(data)
    if task == "binary_classification" and values.ndim == 3:
        values, base = values[:, :, 1], (base[:, 1] if base.ndim == 2 else np.full(n, base[1]))
    base = np.full(n, float(base)) if base.ndim == 0 else base
    if task == "multiclass_classification" and base.ndim == 1:
        base = np.tile(base, (n, 1))
    features = list(prep.get_feature_names_out()) if len(prep) else list(X_explain.columns)
    return Explained(values=values, base=base, data=data, features=features, explainer="tree-probability")


def _as_float(transformed) -> np.ndarray:
    """Preprocessed rows as floats (sparse made dense; pandas category columns as their codes, NaN when missing)."""
    import pandas as pd

    if hasattr(transformed, "toarray"):
        transformed = transformed.toarray()
    if isinstance(transformed, pd.DataFrame):
        transformed = transformed.apply(lambda c: c.cat.codes.replace(-1, np.nan).astype("float64")
                                        if isinstance(c.dtype, pd.CategoricalDtype) else c)
        return transformed.to_numpy(dtype="float64", na_value=np.nan)
    return np.asarray(transformed, dtype=float)


def _per_column(explained, member, columns: list[str]) -> np.ndarray:
    """The member's values summed over the transformed features each input column became."""
    owner = _owners(member, explained.features, columns)
    shape = (explained.values.shape[0], len(columns), *explained.values.shape[2:])
    out = np.zeros(shape)
    for j, c in enumerate(owner):
        out[:, columns.index(c)] += explained.values[:, j]
    return out


def _owners(member, features: list[str], columns: list[str]) -> list[str]:
    """The input column behind each transformed feature, read from the fitted ColumnTransformer that opens the
    member's preprocessing (later steps, such as the boosted models' renaming, keep the width and the order)."""
    prep = member.pipeline_[:-1]
    if list(features) == list(columns) or not len(prep):
        return list(features)
    transformer = prep.steps[0][1]
    if not hasattr(transformer, "output_indices_"):
        raise ValueError(f"cannot map the features of {type(transformer).__name__} back to the input columns {columns}")
    names_in = list(getattr(transformer, "feature_names_in_", columns))
    owner: list = [None] * max((s.stop for s in transformer.output_indices_.values()), default=0)
    for name, fitted, cols in transformer.transformers_:
        part = transformer.output_indices_.get(name, slice(0, 0))
        width = part.stop - part.start
        if width == 0:
            continue
        cols = [cols] if isinstance(cols, str) else [names_in[c] if isinstance(c, (int, np.integer)) else c for c in cols]
        owner[part] = cols if width == len(cols) else _widened(fitted, cols, width)
    if len(owner) != len(features) or any(o is None for o in owner):
        raise ValueError(f"cannot map the {len(features)} transformed features back to the input columns {columns}")
    return owner


def _widened(fitted, cols: list[str], width: int) -> list[str]:
    """Input column per output of a widening transformer (one-hot, calendar parts): its per-column output counts
    where it keeps them (scikit-learn's OneHotEncoder: ``_n_features_outs``), else the names it writes
    (``col_level``, ``col.part``), each read as the longest input column name it starts with."""
    last = fitted.steps[-1][1] if hasattr(fitted, "steps") else fitted
    per = getattr(last, "_n_features_outs", None)
    if per is not None and sum(per) == width and len(per) == len(cols):
        return [c for c, k in zip(cols, per) for _ in range(int(k))]
    names = list(fitted.get_feature_names_out(cols)) if hasattr(fitted, "get_feature_names_out") else []
    owners = [_origin(n, cols) for n in names]
    if len(owners) != width or any(o is None for o in owners):
        raise ValueError(f"cannot tell which of {cols} each output of {type(last).__name__} comes from")
    return owners


def _origin(name: str, cols: list[str]):
    """The longest column ``c`` with ``name`` == c or starting with ``c_`` / ``c.``; None if there is none."""
    found = [c for c in cols if name == c or name.startswith(f"{c}_") or name.startswith(f"{c}.")]
    return max(found, key=len) if found else None
