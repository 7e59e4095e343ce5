"""``WeightedEnsemble``: fitted members and their weights, answering like one ``DecisionModel``.

Why it mimics ``DecisionModel`` rather than wrapping one: the rest of the framework (evaluation, packaging,
serving, monitoring) reads ``task``, ``classes_``, ``threshold``, ``scores(X)``, ``decide(scores)``, ``predict``
and ``predict_proba``; an ensemble exposing the same names flows through all of it unchanged. Its decisions follow
the very same rule (``DecisionModel.decide``: the threshold on P(last class) for binary, argmax for multiclass),
applied to the weighted average of the members' probabilities (or values, for regression).

It has no ``pipeline_`` of its own: code that opens a model's pipeline (SHAP, the fast serving path, the pipeline
guard) must look at ``members_`` instead; the fast serving path then simply stays off.
"""

from __future__ import annotations

from numbers import Real

import numpy as np
from sklearn.base import BaseEstimator, clone
from sklearn.utils.metaestimators import available_if
from sklearn.utils._param_validation import Interval, StrOptions
from sklearn.utils.validation import check_is_fitted, validate_data

from specweave_ml.models.decision import CLASSIFICATION_TASKS, DecisionModel


def _classifier(model: "WeightedEnsemble") -> bool:
    return model.task in CLASSIFICATION_TASKS


class WeightedEnsemble(BaseEstimator):
    """A weighted average of models that share one task, one class order and one set of input columns.

    Parameters
    ----------
    members : list of (name, DecisionModel)
        ``fit`` fits a clone of each on the same rows (as the chosen single model is refitted on the whole
        training split); ``from_fitted`` takes members already fitted.
    weights : list of float
        One per member, non-negative, not all zero; normalised to sum to 1 (``weights_``).
    task : {"binary_classification", "multiclass_classification", "regression"}
    threshold : float in [0, 1]
        Binary tasks: ``predict`` answers the last class when the ensemble's P(last class) >= threshold. Choose it on
        the ensemble's own out-of-fold scores (``Selection.oof_scores``); the members' thresholds are not used.
    classes : array-like or None
        Passed to every member's ``classes`` (an explicit class order, the positive class last).

    Attributes
    ----------
    members_ : list of DecisionModel
    names_ : list of str
    weights_ : ndarray
    classes_ : ndarray (classification)
    n_features_in_ : int
    feature_names_in_ : ndarray of str (when fitted on a DataFrame with string column names)
    """

    _parameter_constraints: dict = {
        "members": [list],
        "weights": ["array-like"],
        "task": [StrOptions({*CLASSIFICATION_TASKS, "regression"})],
        "threshold": [Interval(Real, 0, 1, closed="both")],
        "classes": ["array-like", None],
        "class_scale": ["array-like", None],
    }

    def __init__(self, members=None, weights=None, task="binary_classification", threshold=0.5, classes=None, class_scale=None):
        self.members = members
        self.weights = weights
        self.task = task
        self.threshold = threshold
        self.class_scale = class_scale
        self.classes = classes

    def __sklearn_tags__(self):
        from sklearn.utils import ClassifierTags, RegressorTags

        tags = super().__sklearn_tags__()
        tags.target_tags.required = True
        if _classifier(self):
            tags.estimator_type = "classifier"
            tags.classifier_tags = ClassifierTags(multi_class=self.task == "multiclass_classification")
        else:
            tags.estimator_type, tags.regressor_tags = "regressor", RegressorTags()
        return tags

    def fit(self, X, y, sample_weight=None):
        """Fit a clone of every member on ``X``, ``y`` (each with the ensemble's task and class order)."""
        self._validate_params()
        names, weights = self._checked_members()
        fitted = []
        for _, member in self.members:
            member = clone(member).set_params(task=self.task)
            if self.classes is not None:
                member.set_params(classes=self.classes)
            fitted.append(member.fit(X, y, sample_weight=sample_weight))
        return self._adopt(names, fitted, weights, X)

    @classmethod
    def from_fitted(cls, members, weights, task, threshold=0.5, classes=None, X=None, class_scale=None) -> "WeightedEnsemble":
        """An ensemble of members already fitted on the same rows (no refit); ``X`` (a few of those rows, or None)
        records the input columns, else they are taken from the first member."""
        model = cls(members=list(members), weights=list(weights), task=task, threshold=threshold, classes=classes,
                    class_scale=class_scale)
        model._validate_params()
        names, w = model._checked_members()
        for name, member in model.members:
            check_is_fitted(member)
        return model._adopt(names, [m for _, m in model.members], w, X)

    def _checked_members(self) -> tuple[list[str], np.ndarray]:
        if not self.members:
            raise ValueError("an ensemble needs at least one member")
        names = [n for n, _ in self.members]
        if len(set(names)) != len(names):
            raise ValueError(f"member names must be unique, got {names}")
        weights = np.asarray(self.weights, dtype=float)
        if weights.shape != (len(names),):
            raise ValueError(f"one weight per member: {len(names)} members, weights {self.weights}")
        if (weights < 0).any() or not np.isfinite(weights).all() or weights.sum() <= 0:
            raise ValueError(f"weights must be finite, non-negative and not all zero, got {self.weights}")
        return names, weights / weights.sum()

    def _adopt(self, names, fitted, weights, X) -> "WeightedEnsemble":
        """Record the fitted members after checking they agree on task, classes and input columns."""
        tasks = {m.task for m in fitted}
        if tasks != {self.task}:
            raise ValueError(f"every member must have task {self.task!r}, got {sorted(tasks)}")
        if _classifier(self):
            first = np.asarray(fitted[0].classes_)
            for name, m in zip(names, fitted):
                if not np.array_equal(np.asarray(m.classes_), first):
                    raise ValueError(f"member {name} has classes {list(m.classes_)}, {names[0]} has {list(first)}")
            self.classes_ = first
        columns = [getattr(m, "feature_names_in_", None) for m in fitted]
        if any(c is not None for c in columns) and any(c is None or list(c) != list(columns[0]) for c in columns):
            raise ValueError(f"members were fitted on different columns: "
                             f"{dict(zip(names, [None if c is None else list(c) for c in columns]))}")
        if X is not None:
            validate_data(self, X, skip_check_array=True)
        else:
            self.n_features_in_ = fitted[0].n_features_in_
            if columns[0] is not None:
                self.feature_names_in_ = np.asarray(columns[0], dtype=object)
        self.names_, self.members_, self.weights_ = list(names), list(fitted), np.asarray(weights, dtype=float)
        return self

    @available_if(_classifier)
    def predict_proba(self, X):
        """The weighted average of the members' class probabilities (columns in ``classes_`` order)."""
        check_is_fitted(self, "members_")
        return sum(w * np.asarray(m.predict_proba(X), dtype=float) for m, w in zip(self.members_, self.weights_))

    def scores(self, X):
        """Like ``DecisionModel.scores``: P(positive) for binary, probabilities for multiclass, values for regression."""
        if self.task == "binary_classification":
            return self.predict_proba(X)[:, 1]
        if self.task == "multiclass_classification":
            return self.predict_proba(X)
        check_is_fitted(self, "members_")
        return sum(w * np.asarray(m.scores(X), dtype=float) for m, w in zip(self.members_, self.weights_))

    def decide(self, scores):
        # The same rule as a single model, by construction: DecisionModel's own code, reading our task,
        # classes_ and threshold.
        return DecisionModel.decide(self, scores)

    def predict(self, X):
        return self.decide(self.scores(X))

    def score(self, X, y, sample_weight=None):
        """Accuracy for classification, R² for regression (what scikit-learn's mixins answer)."""
        return DecisionModel.score(self, X, y, sample_weight=sample_weight)

    @property
    def _is_classifier(self) -> bool:  # read by DecisionModel.score
        return _classifier(self)

    def member_params(self) -> dict:
        """Each member's estimator hyperparameters, for the record (a single model's ``params``)."""
        check_is_fitted(self, "members_")
        return {n: m.pipeline_.steps[-1][1].get_params() for n, m in zip(self.names_, self.members_)}
