"""``DecisionModel``: a fitted pipeline plus how its scores become decisions.

It label-encodes classification targets (XGBoost wants 0..k-1; users have strings), returns the
original labels from ``predict``, and for binary tasks applies the decision threshold tuned on
validation data. It follows the scikit-learn estimator contract, so it packages, loads and serves
like any scikit-learn model.
"""

from __future__ import annotations

import numpy as np
from sklearn.base import BaseEstimator, clone


class DecisionModel(BaseEstimator):
    def __init__(self, pipeline=None, task="binary_classification", threshold=0.5):
        self.pipeline = pipeline
        self.task = task
        self.threshold = threshold

    @property
    def _is_classifier(self) -> bool:
        return self.task in ("binary_classification", "multiclass_classification")

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.estimator_type = "classifier" if self._is_classifier else "regressor"
        return tags

    def fit(self, X, y, sample_weight=None):
        self.pipeline_ = clone(self.pipeline)
        kwargs = {} if sample_weight is None else {"model__sample_weight": sample_weight}
        if self._is_classifier:
            self.classes_, codes = np.unique(np.asarray(y), return_inverse=True)
            self.pipeline_.fit(X, codes, **kwargs)
        else:
            self.pipeline_.fit(X, np.asarray(y, dtype=float), **kwargs)
        self.n_features_in_ = getattr(self.pipeline_, "n_features_in_", None)
        return self

    def predict_proba(self, X):
        return self.pipeline_.predict_proba(X)

    def scores(self, X):
        """The model's raw answer: P(positive) for binary, class probabilities for multiclass, values for regression."""
        if self.task == "binary_classification":
            return self.predict_proba(X)[:, 1]
        if self.task == "multiclass_classification":
            return self.predict_proba(X)
        return self.pipeline_.predict(X)

    def decide(self, scores):
        if self.task == "binary_classification":
            return self.classes_[(np.asarray(scores) >= self.threshold).astype(int)]
        if self.task == "multiclass_classification":
            return self.classes_[np.argmax(scores, axis=1)]
        return np.asarray(scores)

    def predict(self, X):
        return self.decide(self.scores(X))
