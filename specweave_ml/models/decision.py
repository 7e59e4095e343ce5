"""``DecisionModel``: a fitted pipeline plus how its scores become decisions.

It label-encodes classification targets (XGBoost wants 0..k-1; users have strings), returns the
original labels from ``predict``, and for binary tasks applies the decision threshold tuned on
validation data. With ``early_stopping_rounds`` set, XGBoost and LightGBM stop on the last
``validation_fraction`` of the rows they are given. It follows the scikit-learn estimator contract, so it packages, loads and serves
like any scikit-learn model.
"""

from __future__ import annotations

import numpy as np
from sklearn.base import BaseEstimator, clone


def _boosting_library(estimator) -> str | None:
    module = type(estimator).__module__
    return "xgboost" if module.startswith("xgboost") else "lightgbm" if module.startswith("lightgbm") else None


class DecisionModel(BaseEstimator):
    def __init__(self, pipeline=None, task="binary_classification", threshold=0.5, early_stopping_rounds=None,
                 validation_fraction=0.1, classes=None):
        self.pipeline = pipeline
        self.classes = classes
        self.task = task
        self.threshold = threshold
        self.early_stopping_rounds = early_stopping_rounds
        self.validation_fraction = validation_fraction

    @property
    def _is_classifier(self) -> bool:
        return self.task in ("binary_classification", "multiclass_classification")

    def __sklearn_tags__(self):
        from sklearn.utils import ClassifierTags, RegressorTags

        tags = super().__sklearn_tags__()
        if self._is_classifier:
            tags.estimator_type, tags.classifier_tags = "classifier", ClassifierTags()
        else:
            tags.estimator_type, tags.regressor_tags = "regressor", RegressorTags()
        return tags

    def fit(self, X, y, sample_weight=None):
        if self._is_classifier and self.classes is not None:  # an explicit order: the positive class last
            from specweave_ml.training.labels import encode

            self.classes_, target = np.asarray(self.classes), encode(y, list(self.classes))
        elif self._is_classifier:
            self.classes_, target = np.unique(np.asarray(y), return_inverse=True)
        else:
            target = np.asarray(y, dtype=float)
        estimator = self.pipeline.steps[-1][1]
        if self.early_stopping_rounds and _boosting_library(estimator):
            self._fit_early_stopping(X, target, sample_weight)
        else:
            self.pipeline_ = clone(self.pipeline)
            kwargs = {} if sample_weight is None else {"model__sample_weight": sample_weight}
            self.pipeline_.fit(X, target, **kwargs)
            self.best_iteration_ = None
        self.n_features_in_ = getattr(self.pipeline_, "n_features_in_", None)
        return self

    def _fit_early_stopping(self, X, y, sample_weight):
        """Boosting with early stopping on the last rows of the training data (time order is kept), so the
        validation and test rows of the caller never decide when to stop."""
        from sklearn.pipeline import Pipeline

        cut = int(len(X) * (1 - self.validation_fraction))
        prep = clone(self.pipeline[:-1]).fit(X.iloc[:cut], y[:cut])
        fit_x, stop_x = prep.transform(X.iloc[:cut]), prep.transform(X.iloc[cut:])
        est = clone(self.pipeline.steps[-1][1])
        weights = None if sample_weight is None else np.asarray(sample_weight)[:cut]
        library = _boosting_library(est)
        if library == "xgboost":
            est.set_params(early_stopping_rounds=self.early_stopping_rounds)
            est.fit(fit_x, y[:cut], sample_weight=weights, eval_set=[(stop_x, y[cut:])], verbose=False)
            self.best_iteration_ = int(est.best_iteration) + 1
        else:
            import lightgbm as lgb

            est.fit(fit_x, y[:cut], sample_weight=weights, eval_set=[(stop_x, y[cut:])],
                    callbacks=[lgb.early_stopping(self.early_stopping_rounds, verbose=False)])
            self.best_iteration_ = int(est.best_iteration_ or est.n_estimators)
        self.pipeline_ = Pipeline([*prep.steps, (self.pipeline.steps[-1][0], est)])

    def predict_proba(self, X):
        from sklearn.utils.validation import check_is_fitted

        check_is_fitted(self, "pipeline_")
        return self.pipeline_.predict_proba(X)

    def scores(self, X):
        """The model's raw answer: P(positive) for binary, class probabilities for multiclass, values for regression."""
        if self.task == "binary_classification":
            return self.predict_proba(X)[:, 1]
        if self.task == "multiclass_classification":
            return self.predict_proba(X)
        from sklearn.utils.validation import check_is_fitted

        check_is_fitted(self, "pipeline_")
        return self.pipeline_.predict(X)

    def decide(self, scores):
        if self.task == "binary_classification":
            return self.classes_[(np.asarray(scores) >= self.threshold).astype(int)]
        if self.task == "multiclass_classification":
            return self.classes_[np.argmax(scores, axis=1)]
        return np.asarray(scores)

    def predict(self, X):
        return self.decide(self.scores(X))
