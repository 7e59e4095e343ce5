"""``DecisionModel``: a fitted pipeline plus how its scores become decisions.

It label-encodes classification targets (XGBoost wants 0..k-1; users have strings), returns the
original labels from ``predict``, and for binary tasks applies the decision threshold tuned on
validation data. With ``early_stopping_rounds`` set, XGBoost and LightGBM stop on the last
``validation_fraction`` of the rows they are given. It follows the scikit-learn estimator contract
(``tests/training/test_decision_estimator.py`` runs ``parametrize_with_checks`` on it), so it packages,
loads and serves like any scikit-learn model.
"""

from __future__ import annotations

from numbers import Integral, Real

import numpy as np
from sklearn.base import BaseEstimator, clone
from sklearn.pipeline import Pipeline
from sklearn.utils import _safe_indexing, assert_all_finite
from sklearn.utils.metaestimators import available_if
from sklearn.utils._param_validation import Interval, StrOptions
from sklearn.utils.multiclass import check_classification_targets, type_of_target
from sklearn.utils.validation import _check_sample_weight, check_is_fitted, column_or_1d, validate_data

CLASSIFICATION_TASKS = ("binary_classification", "multiclass_classification")


def _boosting_library(estimator) -> str | None:
    module = type(estimator).__module__
    return "xgboost" if module.startswith("xgboost") else "lightgbm" if module.startswith("lightgbm") else None


def _classifier_with_proba(model: "DecisionModel") -> bool:
    return model._is_classifier and hasattr(model.pipeline, "predict_proba")


class DecisionModel(BaseEstimator):
    """A scikit-learn pipeline plus the rule that turns its scores into decisions.

    Parameters
    ----------
    pipeline : Pipeline
        The unfitted pipeline; ``fit`` fits a clone of it (``pipeline_``).
    task : {"binary_classification", "multiclass_classification", "regression"}
        Decides the estimator type: a binary model rejects targets with more than two classes.
    threshold : float in [0, 1]
        Binary tasks: ``predict`` answers the last class when P(last class) >= threshold.
    early_stopping_rounds : int or None
        Boosted trees (XGBoost, LightGBM) only: stop when the last ``validation_fraction`` of the rows
        has not improved for this many rounds.
    validation_fraction : float in (0, 1)
        The share of rows, taken from the end, that early stopping watches.
    classes : array-like or None
        An explicit class order (the positive class last); sorted labels when None.
    class_scale : array-like or None
        Multiclass tasks: a weight per class (in class order) on the probabilities; ``predict`` answers the class
        of the highest weighted probability (``training.threshold.choose_class_scale``). None: the highest probability.

    Attributes
    ----------
    pipeline_ : Pipeline
        The fitted clone of ``pipeline``.
    classes_ : ndarray
        Classification: the labels, in the order of ``predict_proba``'s columns.
    best_iteration_ : int or None
        The number of boosting rounds early stopping kept, else None.
    n_features_in_ : int
    feature_names_in_ : ndarray of str
        Only when fitted on a DataFrame with string column names.

    Examples
    --------
    >>> from sklearn.linear_model import LogisticRegression
    >>> from sklearn.pipeline import make_pipeline
    >>> model = DecisionModel(make_pipeline(LogisticRegression()), threshold=0.3)
    >>> model.fit([[0.0], [1.0], [2.0], [3.0]], ["no", "no", "yes", "yes"]).predict([[2.5]])
    array(['yes'], dtype='<U3')
    """

    _parameter_constraints: dict = {
        "pipeline": [Pipeline],
        "task": [StrOptions({*CLASSIFICATION_TASKS, "regression"})],
        "threshold": [Interval(Real, 0, 1, closed="both")],
        "early_stopping_rounds": [Interval(Integral, 0, None, closed="left"), None],
        "validation_fraction": [Interval(Real, 0, 1, closed="neither")],
        "classes": ["array-like", None],
        "class_scale": ["array-like", None],
    }

    def __init__(self, pipeline=None, task="binary_classification", threshold=0.5, early_stopping_rounds=None,
                 validation_fraction=0.1, classes=None, class_scale=None):
        self.pipeline = pipeline
        self.classes = classes
        self.class_scale = class_scale
        self.task = task
        self.threshold = threshold
        self.early_stopping_rounds = early_stopping_rounds
        self.validation_fraction = validation_fraction

    @property
    def _is_classifier(self) -> bool:
        return self.task in CLASSIFICATION_TASKS

    def __sklearn_tags__(self):
        from sklearn.utils import ClassifierTags, RegressorTags, get_tags

        tags = super().__sklearn_tags__()
        tags.target_tags.required = True
        if isinstance(self.pipeline, Pipeline):
            tags.input_tags.sparse = get_tags(self.pipeline).input_tags.sparse
        if self._is_classifier:
            tags.estimator_type = "classifier"
            tags.classifier_tags = ClassifierTags(multi_class=self.task == "multiclass_classification")
        else:
            tags.estimator_type, tags.regressor_tags = "regressor", RegressorTags()
        return tags

    def fit(self, X, y, sample_weight=None):
        self._validate_params()
        # Records n_features_in_ / feature_names_in_ only: X stays a DataFrame for the ColumnTransformer.
        validate_data(self, X, skip_check_array=True)
        target = self._encoded_target(y)
        if sample_weight is not None:
            sample_weight = _check_sample_weight(sample_weight, X)
        estimator = self.pipeline.steps[-1][1]
        if self.early_stopping_rounds and _boosting_library(estimator):
            self._fit_early_stopping(X, target, sample_weight)
        else:
            self.pipeline_ = clone(self.pipeline)
            kwargs = {} if sample_weight is None else {f"{self.pipeline.steps[-1][0]}__sample_weight": sample_weight}
            self.pipeline_.fit(X, target, **kwargs)
            self.best_iteration_ = None
        return self

    def _encoded_target(self, y) -> np.ndarray:
        """Classification labels -> 0..k-1 (setting ``classes_``); regression targets -> floats."""
        y = column_or_1d(y, warn=True)
        assert_all_finite(y, input_name="y")
        if not self._is_classifier:
            return y.astype(float)
        check_classification_targets(y)
        kind = type_of_target(y, input_name="y")
        if self.task == "binary_classification" and kind != "binary":
            raise ValueError(f"Only binary classification is supported. The type of the target is {kind}: "
                             "set task='multiclass_classification' for more than two classes.")
        if self.classes is not None:  # an explicit order: the positive class last
            from specweave_ml.data.labels import encode

            self.classes_ = np.asarray(self.classes)
            return encode(y, list(self.classes))
        self.classes_, target = np.unique(y, return_inverse=True)
        return target

    def _fit_early_stopping(self, X, y, sample_weight):
        """Boosting with early stopping on the last rows of the training data (time order is kept), so the
        validation and test rows of the caller never decide when to stop."""
        cut = int(len(y) * (1 - self.validation_fraction))
        head, tail = _safe_indexing(X, np.arange(cut)), _safe_indexing(X, np.arange(cut, len(y)))
        prep = clone(self.pipeline[:-1]).fit(head, y[:cut])
        fit_x, stop_x = prep.transform(head), prep.transform(tail)
        est = clone(self.pipeline.steps[-1][1])
        weights = None if sample_weight is None else sample_weight[:cut]
        if _boosting_library(est) == "xgboost":
            est.set_params(early_stopping_rounds=self.early_stopping_rounds)
            est.fit(fit_x, y[:cut], sample_weight=weights, eval_set=[(stop_x, y[cut:])], verbose=False)
            self.best_iteration_ = int(est.best_iteration) + 1
        else:
            import lightgbm as lgb

            est.fit(fit_x, y[:cut], sample_weight=weights, eval_X=stop_x, eval_y=y[cut:],  # LightGBM 4.7 deprecates eval_set
                    callbacks=[lgb.early_stopping(self.early_stopping_rounds, verbose=False)])
            self.best_iteration_ = int(est.best_iteration_ or est.n_estimators)
        self.pipeline_ = Pipeline([*prep.steps, (self.pipeline.steps[-1][0], est)])

    @available_if(_classifier_with_proba)
    def predict_proba(self, X):
        check_is_fitted(self, "pipeline_")
        return self.pipeline_.predict_proba(X)

    def scores(self, X):
        """The model's raw answer: P(positive) for binary, class probabilities for multiclass, values for regression."""
        if self.task == "binary_classification":
            return self.predict_proba(X)[:, 1]
        if self.task == "multiclass_classification":
            return self.predict_proba(X)
        check_is_fitted(self, "pipeline_")
        return self.pipeline_.predict(X)

    def decide(self, scores):
        if self.task == "binary_classification":
            return self.classes_[(np.asarray(scores) >= self.threshold).astype(int)]
        if self.task == "multiclass_classification":
            scale = getattr(self, "class_scale", None)  # models saved before it existed decide by argmax
            scores = np.asarray(scores) if scale is None else np.asarray(scores) * np.asarray(scale, dtype=float)
            return self.classes_[np.argmax(scores, axis=1)]
        return np.asarray(scores)

    def predict(self, X):
        return self.decide(self.scores(X))

    def score(self, X, y, sample_weight=None):
        """Accuracy for classification, R² for regression (what scikit-learn's mixins answer)."""
        from sklearn.metrics import accuracy_score, r2_score

        metric = accuracy_score if self._is_classifier else r2_score
        return metric(y, self.predict(X), sample_weight=sample_weight)
