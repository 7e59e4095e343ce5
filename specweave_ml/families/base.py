"""The seam between the generic steps and what differs per task family.

A *family* (tabular classification and regression today; forecasting, recommendations, text and images next)
is one module exposing ``FAMILY``, an object that follows the ``Family`` protocol below. The steps
(``specweave_ml/steps/``) call the family of the plan and never branch on a task or modality name; the family
calls the pure modules (data checks, splits, training, metrics, explanations) that fit its kind of data.

Every method takes plain, typed inputs and returns values: no file is written here (except plots and
explanation images into the folder a step hands over), no config is read, nothing is tracked.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Mapping, Optional, Protocol

import pandas as pd

from specweave_ml.plan import Plan
from specweave_ml.schema import ModelSchema, ProblemSchema


@dataclass(frozen=True)
class Checked:
    """The data as the family accepted it: the feature columns, the findings, what was decided and why, and the
    data itself as checked (stray values read as missing): what ``prepare`` splits and trains on."""

    features: list[str]
    findings: list = field(default_factory=list)  # objects with kind, column, message
    duplicate_rows: int = 0
    columns: dict = field(default_factory=dict)  # column -> {"type", "evidence"}
    frame: Optional[pd.DataFrame] = field(default=None, repr=False, compare=False)  # None: the frame as loaded


@dataclass
class Prepared:
    """What ``stage=prepare`` writes: the split (with CV folds) and the data profile."""

    train: pd.DataFrame
    test: pd.DataFrame
    split_info: dict
    profile: dict


@dataclass(frozen=True)
class FitRequest:
    """Everything a family needs to fit baselines and candidates on the training part."""

    plan: Plan
    specs: Mapping[str, ModelSchema]
    train: pd.DataFrame
    split_info: dict
    problem: ProblemSchema
    seed: int
    class_weighting: str
    tuning: Any = None  # training.tuning.TuningSettings, or None for default hyperparameters
    on_fold: Callable[[], None] = lambda: None
    cache_dir: Optional[Path] = None  # increments/<id>/cache: derived data a family may reuse across runs (text embeddings)
    deadline: Optional[float] = None  # time.perf_counter() by which fitting must be done (the run's budget); None: none
    compute: Any = None  # training.dask_compute.DaskSession under compute=dask (the boosters fit on its cluster); None: here
    refit_rows: int = 0  # rows of the refit on every row that follows (selection.refit_on_all), whose time fitting leaves free


@dataclass
class Evaluation:
    """The holdout evaluation: saved predictions, metrics computed from them, baselines, findings."""

    predictions: pd.DataFrame
    metrics: dict  # metric name -> value
    details: dict  # confusion matrix and per-class report, or the residual analysis
    baselines: dict  # name -> {"cv": ..., "holdout": {metric: value}}
    majority_accuracy: Optional[float] = None
    intervals: dict = field(default_factory=dict)  # "model" / "baseline" -> bootstrap {"low", "high", "level", ...};
    # "difference": the paired bootstrap of model - best baseline (evaluation.bootstrap.paired_difference)


class Family(Protocol):
    """One task family, end to end."""

    name: str
    code: str  # the folder of this family's own learning code: its increments' dvc.yaml stages depend on it
    # optional: ``shares_tuning`` (stage=tune_worker may join its tuning), ``ensembles`` (a greedy ensemble may ship),
    # ``refits`` with ``refit(model, rows, split_info, plan, classes, class_weighting)`` (the chosen model refitted on the
    # training and holdout rows ships; the one evaluated stays in models/evaluated)

    def serves(self, task: str, modality: str) -> bool:
        """Whether this family trains briefs of this task on this modality."""

    # data: checked, described to the resolver, split, profiled
    def check(self, frame: pd.DataFrame, problem: ProblemSchema, cv_folds: int) -> Checked: ...

    def facts(self, frame: pd.DataFrame, problem: ProblemSchema, cv_folds: int) -> Any:
        """The ``DataFacts`` the resolver decides on (rows, class balance)."""

    def fact_columns(self, problem: ProblemSchema) -> Optional[list[str]]:
        """The columns ``facts`` needs (None: all), so ``stage=plan`` reads no more than that."""

    def prepare(self, frame: pd.DataFrame, checked: Checked, plan: Plan, problem: ProblemSchema, seed: int) -> Prepared: ...

    def recorded_facts(self, prepared, split_info: dict) -> Any:
        """The ``DataFacts`` again, from what ``stage=prepare`` recorded (``results.Prepared``, ``data/split.json``),
        so the later stages resolve the same plan without reloading the data."""

    # training and evaluation
    def fit(self, request: FitRequest) -> Any:
        """Baselines, cross-validated candidates, the chosen model refitted (``training.train.TrainingResult``)."""

    def example_input(self, frame: pd.DataFrame, split_info: dict) -> pd.DataFrame:
        """What the model takes as input, from a saved split (the signature, the drift reference, the load test)."""

    def evaluate(self, model, train: pd.DataFrame, test: pd.DataFrame, split_info: dict, plan: Plan,
                 trained, cv: dict, seed: int, read_back: Callable[[pd.DataFrame], pd.DataFrame]) -> Evaluation:
        """Score the holdout; ``read_back`` saves the predictions and returns them as read from the file."""

    def findings(self, plan: Plan, train: pd.DataFrame, test: pd.DataFrame, split_info: dict, profile: dict,
                 cv: dict, trained, model, seed: int) -> list:
        """Anti-patterns and the reviewer's guards (``antipatterns.Finding``), each with its evidence and confidence."""

    def compare(self, preds_a: pd.DataFrame, preds_b: pd.DataFrame, task: str, metric: str, classes, seed: int) -> dict:
        """Two models' saved holdout predictions on the rows both scored: the paired bootstrap of ``metric(a) - metric(b)``
        (``evaluation.bootstrap.paired_difference`` with ``compared: True``), or ``{"compared": False, "why"}``."""

    def plots(self, predictions: pd.DataFrame, plan: Plan, classes, plots_dir: Path, curves_dir: Path) -> list[Path]: ...

    def dvc_plots(self, task: str) -> dict[str, dict]:
        """The files ``plots`` writes under ``reports/curves/`` for this task, each with its ``dvc plots``
        properties (x, y, template, title): declared in the increment's dvc.yaml by stage=params."""

    def explain(self, model, model_name: str, train: pd.DataFrame, test: pd.DataFrame, split_info: dict, plan: Plan,
                settings, seed: int, out_dir: Path) -> dict: ...

    # batch predictions, drift, A/B tests and serving
    notes: dict  # one-line descriptions for tasks.md: "features" (how features are built), "explanations";
    # "endpoints": what stage=serve says the app answers

    def read_input(self, path: Path, model) -> pd.DataFrame:
        """``stage=predict``'s ``input=`` as a frame: a CSV or Parquet file (``data.inputs.read_input``), or what else
        the family reads (a folder of images)."""

    def conform(self, frame: pd.DataFrame, model_dir: Path) -> pd.DataFrame:
        """A user's input (``stage=predict``, ``stage=monitor``) checked against what the packaged model takes."""

    def check_monitoring(self) -> None:
        """Raise ``NotTrainableYet`` before ``stage=monitor`` reads anything where this family's drift report is not built."""

    def reference(self, paths, model, example: pd.DataFrame, model_meta: dict, cfg, seed: int) -> str:
        """Write the drift reference profile of a packaged model; return the explainer kind the server uses."""

    def default_input(self, model) -> Optional[pd.DataFrame]:
        """What ``stage=predict`` answers when no ``input=`` is given (a forecast's next steps), or None: input= is needed."""

    def score(self, model, frame: pd.DataFrame) -> pd.DataFrame:
        """``stage=predict``: the input with the model's answers added."""

    def online_metric(self, predictions: pd.DataFrame, task: str, classes) -> Any:
        """The metric an A/B test of this model watches (``serving.abtest.Metric``)."""

    def requests(self, holdout: pd.DataFrame, columns: dict, split_info: dict, n: int, seed: int) -> tuple[str, list[bytes]]:
        """The endpoint a load test drives and up to ``n`` request bodies built from the holdout (``split_info``: what
        ``stage=prepare`` recorded, such as the text length or the image size the server takes)."""

    def app(self, champion, config, challenger=None) -> Any:
        """The ASGI app that serves a packaged model of this family."""
