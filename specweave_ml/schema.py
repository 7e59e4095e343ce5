"""Typed schemas for every config group, registered in Hydra's ConfigStore.

Types and shapes fail here, at compose time, with the full key in the message. Meaning (a metric that
does not fit the task, a negative budget) is checked by ``brief.validate`` before anything runs.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import Enum
from typing import Any, Dict, List, Optional

from hydra.core.config_store import ConfigStore
from omegaconf import MISSING


class Task(Enum):
    binary_classification = "binary_classification"
    multiclass_classification = "multiclass_classification"
    regression = "regression"
    ranking = "ranking"
    forecasting = "forecasting"


class Modality(Enum):
    tabular = "tabular"
    text = "text"
    image = "image"
    time_series = "time_series"
    interactions = "interactions"


class Interpretability(Enum):
    required = "required"
    preferred = "preferred"
    none = "none"


class DataFormat(Enum):
    csv = "csv"
    parquet = "parquet"
    bundled = "bundled"


class OnDirty(Enum):
    error = "error"
    warn = "warn"


class ClassWeighting(Enum):
    sqrt = "sqrt"
    balanced = "balanced"
    none = "none"


class TuningPhase(Enum):
    coarse = "coarse"
    fine = "fine"
    optuna = "optuna"


class Pruner(Enum):
    median = "median"
    none = "none"


@dataclass
class DataSchema:
    source: str = MISSING  # "bundled:<name>", or a path to a .csv / .parquet file
    format: Optional[DataFormat] = None  # inferred from `source` when null
    target: Optional[str] = None
    positive_class: Optional[Any] = None  # binary: the label to detect (default: 1 for 0/1 labels, else the minority)
    features: Optional[List[str]] = None  # null: every column not excluded below
    exclude: List[str] = field(default_factory=list)
    time_column: Optional[str] = None  # set it, and every split becomes time-ordered
    time_as_feature: bool = False  # the time column orders the data; it is a feature only if asked
    group_column: Optional[str] = None
    series_id: Optional[str] = None  # forecasting: the column naming the series when a file holds several
    id_columns: List[str] = field(default_factory=list)
    user_column: Optional[str] = None
    item_column: Optional[str] = None
    rating_column: Optional[str] = None
    sample_rows: Optional[int] = None  # keep only the first N rows of the source: quick runs and tests
    separator: Optional[str] = None  # a CSV's separator: one character or comma | semicolon | tab | pipe; null: a comma, or the one detected
    on_dirty: OnDirty = OnDirty.warn  # stray words among numbers, infinities, another separator: warn (a finding) | error


@dataclass
class ConstraintsSchema:
    latency_p95_ms: float = 100.0
    interpretability: Interpretability = Interpretability.none
    budget_minutes: float = 10.0
    max_memory_gb: Optional[float] = None


@dataclass
class MetricsSchema:
    primary: Optional[str] = None  # null: the task's default (PR-AUC when classes are imbalanced)
    others: List[str] = field(default_factory=list)
    # Cost of a missed positive relative to a false alarm; null picks the threshold by best F1.
    cost_ratio: Optional[float] = None


@dataclass
class ForecastSchema:
    """``task: forecasting`` only: how far ahead, on which grid, with which known-in-advance columns."""

    horizon: int = 1  # steps ahead to forecast; the holdout is the last `horizon` points
    frequency: Optional[str] = None  # a pandas frequency (MS, W-SAT, QS-OCT, D, h); null: inferred from the timestamps
    season_length: Optional[int] = None  # steps in one season; null: from the frequency (12 for monthly data, ...)
    exogenous: List[str] = field(default_factory=list)  # columns whose future values are known when forecasting
    backtest_windows: int = 3  # expanding-window backtest origins, `horizon` apart, before the holdout
    series: Optional[str] = None  # with data.series_id: the one series of the file this brief forecasts


class RankingSplit(Enum):
    leave_last_out = "leave_last_out"
    per_user_random = "per_user_random"
    global_time = "global_time"


class ColdUsers(Enum):
    error = "error"
    popularity = "popularity"


class Feedback(Enum):
    implicit = "implicit"
    explicit = "explicit"


@dataclass
class RankingSchema:
    """``task: ranking`` only: which cut-offs are measured, what counts as a positive, how the holdout is cut."""

    k: List[int] = field(default_factory=lambda: [5, 10, 20])  # top-k cut-offs measured (the primary metric's k is added)
    positive_threshold: Optional[float] = None  # a rating at or above it is a positive; null: every interaction is
    split: Optional[RankingSplit] = None  # null: leave_last_out with a time column, per_user_random without
    test_size: float = 0.25  # per_user_random: each user's held-out share; global_time: the share after the cut
    feedback: Feedback = Feedback.implicit  # explicit: the rating is predicted too (RMSE/MAE), then items ranked
    recent_share: float = 0.1  # recent popularity: the latest share of the training period
    cold_users: ColdUsers = ColdUsers.error  # held-out users with no training interaction: refuse the split, or popularity


@dataclass
class ImageSchema:
    """``modality: image`` only: each row is one image, its pixels in the feature columns (row-major: row, column, channel)."""

    height: Optional[int] = None  # null: a square side from the number of pixel columns
    width: Optional[int] = None
    channels: int = 1  # 1: grey; 3: RGB
    max_value: float = 255.0  # the brightest pixel value (255 for 8-bit images, 16 for scikit-learn's digits)


DEFAULT_MAX_CHARS = 5000  # the longest text a text model takes unless problem.text.max_chars says otherwise


@dataclass
class TextSchema:
    """``modality: text`` only: which column holds the texts, and how long a text the model takes."""

    column: Optional[str] = None  # the column of raw texts (required for a text brief)
    max_chars: int = DEFAULT_MAX_CHARS  # longer texts are refused by the server and stage=predict (the encoder reads 256 tokens)
    explain_samples: int = 3  # holdout texts explained token by token with SHAP (the encoder model)
    explain_max_evals: int = 200  # SHAP model evaluations per explained text (bounds the time: seconds each)


@dataclass
class ProblemSchema:
    increment: str = MISSING  # NNNN-kebab-name
    title: str = ""
    description: str = ""
    task: Task = MISSING
    modality: Modality = Modality.tabular
    data: DataSchema = field(default_factory=DataSchema)
    constraints: ConstraintsSchema = field(default_factory=ConstraintsSchema)
    metrics: MetricsSchema = field(default_factory=MetricsSchema)
    forecast: ForecastSchema = field(default_factory=ForecastSchema)
    ranking: RankingSchema = field(default_factory=RankingSchema)
    image: ImageSchema = field(default_factory=ImageSchema)
    text: TextSchema = field(default_factory=TextSchema)


@dataclass
class RuleSchema:
    name: str = MISSING
    why: str = MISSING
    models: List[str] = MISSING
    # The next step ("start simple, then complexify"): models trained after these when the budget leaves time,
    # never when the brief pins a model (model=<name>) or requires interpretability.
    then: List[str] = field(default_factory=list)
    then_why: str = ""
    # Conditions; a null condition matches anything.
    modality: Optional[Modality] = None
    task: Optional[Task] = None
    interpretability: Optional[Interpretability] = None
    min_rows: Optional[int] = None
    max_rows: Optional[int] = None  # exclusive


@dataclass
class GatesSchema:
    baseline_margin: float = 0.2
    cv_std: float = 0.1
    train_val_gap: float = 0.1
    imbalance_ratio: float = 0.1  # minority share under which the data counts as imbalanced


@dataclass
class SelectionSchema:
    rules: List[RuleSchema] = MISSING
    baselines: Dict[str, List[str]] = MISSING  # task -> baseline strategies
    cv_folds: int = 5
    test_size: float = 0.25
    class_weighting: ClassWeighting = ClassWeighting.sqrt  # row weights on imbalanced data
    # The chosen model, once evaluated, is refitted on the training and holdout rows and that fit ships (families that
    # refit: tabular); models/evaluated keeps the one the holdout scored. False: the evaluated model ships.
    refit_on_all: bool = True
    gates: GatesSchema = field(default_factory=GatesSchema)


@dataclass
class ModelSchema:
    """One model's hyperparameters (``conf/model/<name>.yaml``); what the model *is* lives in the registry."""

    name: str = MISSING
    params: Dict[str, Any] = field(default_factory=dict)
    classifier_params: Dict[str, Any] = field(default_factory=dict)
    regressor_params: Dict[str, Any] = field(default_factory=dict)
    search: Dict[str, Any] = field(default_factory=dict)  # coarse / optuna / regularise (see conf/model/xgboost.yaml)


@dataclass
class TuningSchema:
    name: str = MISSING
    phases: List[TuningPhase] = field(default_factory=list)  # run in the order listed
    # Share of the brief's budget_minutes per phase (renormalised over the phases that run).
    budget_shares: Dict[str, float] = field(default_factory=lambda: {"coarse": 0.3, "fine": 0.2, "optuna": 0.5})
    max_trials: Dict[str, int] = field(default_factory=lambda: {"coarse": 27, "fine": 27, "optuna": 60})
    early_stopping_rounds: int = 50
    # A grid or Optuna phase ends after this many finished trials in a row without a better CV score (0: never).
    patience: int = 15
    # Successive halving of the coarse grid (specweave_ml/training/halving.py): eta, min_rows, min_rounds, target_trials.
    halving: Dict[str, Any] = field(default_factory=dict)
    train_score_rows: int = 20000  # rows scored to measure the train/validation gap of a trial
    # Optuna storage; null: increments/<id>/tuning/optuna.db. A postgresql:// URL lets many workers share a study.
    storage: Optional[str] = None
    pruner: Pruner = Pruner.median
    # Shared studies (training/shared_study.py): a running trial's heartbeat; after 3 missed ones it is failed and retried once.
    heartbeat_seconds: float = 10.0
    # stage=tune_worker leaves after this many seconds with no open phase to join (or when the coordinator finishes).
    worker_idle_seconds: float = 60.0


@dataclass
class ExplainSchema:
    background_rows: int = 200
    explain_rows: int = 1000
    top_features: int = 3
    local_top: int = 3
    local_random: int = 2


@dataclass
class TrackingSchema:
    enabled: bool = True
    uri: str = MISSING
    experiment: str = "specweave-ml"


@dataclass
class LoadTestSchema:
    rate: float = 100.0  # requests/s, open loop: sent on schedule whatever the server answers
    duration_s: float = 60.0
    timeout_s: float = 5.0  # a request slower than this counts as an error
    startup_timeout_s: float = 60.0


@dataclass
class DriftSchema:
    psi_threshold: float = 0.2  # PSI above this alerts
    ks_alpha: float = 0.01  # KS flags a shift below this p-value (Bonferroni over the columns)
    bins: int = 10  # quantile bins of the reference profile
    window: int = 1000  # rows the server's drift gauges look back over
    min_rows: int = 100  # the server's gauges stay empty until the window holds this many rows


@dataclass
class ABSchema:
    challenger: Optional[str] = None  # null | previous | <increment id>
    split: float = 0.5  # share of keyed traffic sent to the challenger
    key_header: str = "X-Request-Key"  # sticky assignment: the same key always meets the same variant
    salt: Optional[str] = None  # null: the increment id
    # stage=abplan
    mde: float = 0.05  # minimum detectable effect, relative to the champion's value of the metric
    alpha: float = 0.05
    power: float = 0.8
    expected_rps: float = 10.0  # production traffic the test will see
    max_days: float = 28.0


@dataclass
class ServingSchema:
    host: str = "127.0.0.1"
    port: int = 8000
    max_body_bytes: int = 4194304
    max_batch_rows: int = 5000
    loadtest: LoadTestSchema = field(default_factory=LoadTestSchema)
    drift: DriftSchema = field(default_factory=DriftSchema)
    ab: ABSchema = field(default_factory=ABSchema)


@dataclass
class ComputeSchema:
    """Where LightGBM and XGBoost train (``conf/compute/``): ``local`` in this process, ``dask`` on a Dask cluster."""

    name: str = "local"  # local | dask
    scheduler: Optional[str] = None  # dask: null starts a LocalCluster for the run; else tcp://host:port
    workers: int = 2  # the LocalCluster's worker processes
    threads_per_worker: int = 1
    partition_rows: int = 250000  # rows per Parquet partition written at stage=prepare


@dataclass
class PathsSchema:
    root: str = MISSING
    increments: str = MISSING


@dataclass
class Config:
    problem: ProblemSchema = MISSING
    selection: SelectionSchema = MISSING
    models: Dict[str, ModelSchema] = field(default_factory=dict)
    model: Optional[ModelSchema] = None  # set (model=xgboost) to train only that model
    tuning: TuningSchema = MISSING
    tracking: TrackingSchema = MISSING
    explain: ExplainSchema = field(default_factory=ExplainSchema)
    serving: ServingSchema = field(default_factory=ServingSchema)
    compute: ComputeSchema = field(default_factory=ComputeSchema)
    paths: PathsSchema = MISSING
    stage: str = "all"
    seed: int = 42
    strict: bool = False
    progress: Optional[bool] = None  # null: a progress bar when output is a terminal
    input: Optional[str] = None
    output: Optional[str] = None
    data: Optional[str] = None  # stage=init: the .csv / .parquet file to write a brief for
    target: Optional[str] = None  # stage=init: the column to predict
    name: Optional[str] = None  # stage=init: the brief's name (conf/problem/<name>.yaml); null: the file's stem


def register() -> None:
    """The schema, and ``models: all``: every registered model's ``conf/model/<name>.yaml`` under ``models.<name>``."""
    from specweave_ml.models.registry import REGISTRY

    cs = ConfigStore.instance()
    cs.store(name="base_config", node=Config)
    cs.store(group="models", name="all", node={"defaults": [{f"/model@{name}": name} for name in REGISTRY]})
