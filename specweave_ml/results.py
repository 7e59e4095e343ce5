"""Typed stage results: what each stage hands to the next, saved as its own JSON under ``reports/``.

Every result carries ``schema_version`` and ``stage``, and no timestamp; a file written by another schema version is refused
with a message that says to rerun the stage. A result also records the methodology tasks it completed
(``tasks``: id -> status and note), which ``tasks.md`` shows. ``metadata.json`` keeps status and hashes only
(see ``state.py``); the numbers live here, one home each.

| stage    | result            | file                      |
|----------|-------------------|---------------------------|
| prepare  | ``Prepared``      | reports/prepare.json      |
| train    | ``Trained``       | reports/training.json     |
| evaluate | ``Evaluated``     | reports/metrics.json      |
| explain  | ``Explanation``   | reports/shap/summary.json |
| package  | ``Packaged``      | reports/package.json      |
| report   | ``Readiness``     | reports/readiness.json    |
| loadtest | ``LoadTested``    | reports/loadtest.json     |
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar, Optional, TypeVar

from specweave_ml.errors import DataError
from specweave_ml.fileio import read_json, write_json

SCHEMA_VERSION = 1
R = TypeVar("R", bound="StageResult")


@dataclass
class StageResult:
    STAGE: ClassVar[str] = ""
    FILE: ClassVar[str] = ""  # relative to the increment's folder

    tasks: dict = field(default_factory=dict)  # task id -> {"status": ..., "note": ...}
    # No timestamp: the same inputs give the same bytes, so DVC sees an unchanged result as unchanged
    # (metadata.json records when each stage ran).

    def to_dict(self) -> dict:
        return {"schema_version": SCHEMA_VERSION, "stage": self.STAGE, **dataclasses.asdict(self)}

    def save(self, root: Path) -> Path:
        path = Path(root) / self.FILE
        write_json(path, self.to_dict())
        return path

    @classmethod
    def path(cls, root: Path) -> Path:
        return Path(root) / cls.FILE

    @classmethod
    def load(cls: type[R], root: Path, strict: bool = True) -> Optional[R]:
        """The saved result, or None when the stage has not run. One written by another schema version is
        refused (``strict``: the stage that reads it as its input) or taken as not there (documents, which
        then show the stage as still to run)."""
        path = cls.path(root)
        if not path.exists():
            return None
        data = read_json(path)
        if data.get("schema_version") != SCHEMA_VERSION or data.get("stage") != cls.STAGE:
            if not strict:
                return None
            raise DataError(str(path), f"was written by another version of specweave-ml (schema "
                            f"{data.get('schema_version')}, this one reads {SCHEMA_VERSION})", f"rerun stage={cls.STAGE}")
        names = {f.name for f in dataclasses.fields(cls)}
        return cls(**{k: v for k, v in data.items() if k in names})

    @classmethod
    def require(cls: type[R], root: Path) -> R:
        found = cls.load(root)
        if found is None:
            raise DataError(str(cls.path(root)), "does not exist yet", f"run stage={cls.STAGE} (or stage=all) first")
        return found


@dataclass
class Prepared(StageResult):
    STAGE: ClassVar[str] = "prepare"
    FILE: ClassVar[str] = "reports/prepare.json"

    plan: dict = field(default_factory=dict)
    rows: int = 0
    features: list = field(default_factory=list)
    fingerprint: str = ""
    findings: list = field(default_factory=list)
    minority_share: Optional[float] = None
    n_classes: Optional[int] = None
    rows_train: int = 0
    rows_test: int = 0


@dataclass
class Trained(StageResult):
    STAGE: ClassVar[str] = "train"
    FILE: ClassVar[str] = "reports/training.json"

    chosen: str = ""
    metric: str = ""
    cv_mean: float = 0.0
    cv_std: float = 0.0
    candidates: dict = field(default_factory=dict)  # every candidate's CV {"mean", "std"}, simple before complex
    threshold: Optional[float] = None
    threshold_rule: str = ""
    class_weighting: str = "none"
    classes: Optional[list] = None
    params: dict = field(default_factory=dict)
    tuning: dict = field(default_factory=dict)
    budget: dict = field(default_factory=dict)  # training's seconds given and spent, CV rows, what the budget decided
    ensemble: dict = field(default_factory=dict)  # the greedy ensemble: members, weights, CV against the best one, verdict, cost
    model: dict = field(default_factory=dict)  # name, path, sha256, requirements; evaluated_path, evaluated_sha256
    refit: dict = field(default_factory=dict)  # shipped ("refit" | "evaluated"), rows, rows_train, seconds, why
    tracking: dict = field(default_factory=dict)  # uri, parent_run_id, child_runs


@dataclass
class Evaluated(StageResult):
    STAGE: ClassVar[str] = "evaluate"
    FILE: ClassVar[str] = "reports/metrics.json"

    chosen: str = ""
    primary_metric: str = ""
    cv_mean: float = 0.0
    cv_std: float = 0.0
    holdout: dict = field(default_factory=dict)
    best_baseline: dict = field(default_factory=dict)
    threshold: Optional[float] = None
    threshold_rule: str = ""
    majority_accuracy: Optional[float] = None
    gates: list = field(default_factory=list)
    ready: bool = False
    reasons: list = field(default_factory=list)
    warnings: list = field(default_factory=list)
    details: dict = field(default_factory=dict)  # confusion matrix / per class, or the residual analysis
    intervals: dict = field(default_factory=dict)  # "model" / "baseline" -> the primary metric's bootstrap {"low", "high", ...}
    rows_test: int = 0
    predictions: str = ""
    model_sha256: str = ""


@dataclass
class Explanation(StageResult):
    STAGE: ClassVar[str] = "explain"
    FILE: ClassVar[str] = "reports/shap/summary.json"

    model: str = ""
    model_sha256: str = ""
    explainer: str = ""
    rows_explained: int = 0
    top_features: list = field(default_factory=list)
    files: dict = field(default_factory=dict)
    local_rows: dict = field(default_factory=dict)
    extra: dict = field(default_factory=dict)


@dataclass
class Packaged(StageResult):
    STAGE: ClassVar[str] = "package"
    FILE: ClassVar[str] = "reports/package.json"

    model: str = ""
    sha256: str = ""
    registered: Optional[dict] = None  # name, version, alias
    reference_profile: str = ""
    dockerfile: str = ""


@dataclass
class Readiness(StageResult):
    STAGE: ClassVar[str] = "report"
    FILE: ClassVar[str] = "reports/readiness.json"

    summary: str = ""
    counts: dict = field(default_factory=dict)
    items: list = field(default_factory=list)
    guards: list = field(default_factory=list)  # the reviewer's guards: status, detail, evidence file, report section


@dataclass
class LoadTested(StageResult):
    STAGE: ClassVar[str] = "loadtest"
    FILE: ClassVar[str] = "reports/loadtest.json"

    target_rate: float = 0.0
    duration_s: float = 0.0
    sent: int = 0
    ok: int = 0
    errors: int = 0
    error_rate: float = 0.0
    achieved_rate: float = 0.0
    p50_ms: float = 0.0
    p95_ms: float = 0.0
    p99_ms: float = 0.0
    max_ms: float = 0.0
    schedule_lag_p95_ms: float = 0.0
    status_counts: dict = field(default_factory=dict)
    endpoint: str = ""
    budget_p95_ms: float = 0.0
    passed: bool = False
    model_sha256: Any = None
    load_average: str = ""


@dataclass
class Record:
    """Everything an increment has recorded: its metadata and each stage's latest result.

    An evaluation, explanation, packaging or load test that describes another model than the current champion
    (it was retrained or rolled back since) is left out: documents never show numbers of a model not served.
    """

    meta: dict
    prepared: Optional[Prepared] = None
    trained: Optional[Trained] = None
    evaluated: Optional[Evaluated] = None
    explanation: Optional[Explanation] = None
    packaged: Optional[Packaged] = None
    readiness: Optional[Readiness] = None
    loadtest: Optional[LoadTested] = None

    @classmethod
    def load(cls, root: Path) -> "Record":
        root = Path(root)
        meta = read_json(root / "metadata.json") if (root / "metadata.json").exists() else {}
        champion = (meta.get("model") or {}).get("sha256")
        scored = (meta.get("model") or {}).get("evaluated_sha256") or champion  # the holdout scored it; the champion may be its refit
        evaluated, packaged = Evaluated.load(root, strict=False), Packaged.load(root, strict=False)
        trained = Trained.load(root, strict=False)
        explanation, loadtest = Explanation.load(root, strict=False), LoadTested.load(root, strict=False)
        return cls(
            meta=meta, prepared=Prepared.load(root, strict=False), trained=trained,
            evaluated=evaluated if evaluated and evaluated.model_sha256 == scored else None,
            explanation=explanation if explanation and explanation.model_sha256 == champion else None,
            packaged=packaged if packaged and packaged.sha256 == champion else None,
            readiness=Readiness.load(root, strict=False),
            loadtest=loadtest if loadtest and loadtest.model_sha256 == champion else None,
        )
