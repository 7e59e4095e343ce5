"""The fixed layout of an increment: every artifact has one home, named here and nowhere else."""

from __future__ import annotations

from dataclasses import dataclass, replace
from pathlib import Path
from typing import Optional


@dataclass(frozen=True)
class IncrementPaths:
    root: Path  # where this stage reads and writes: increments/<id>, or its staging copy while a stage runs
    home: Optional[Path] = None  # increments/<id> when ``root`` is a staging copy

    @classmethod
    def of(cls, increments_dir: str | Path, increment: str) -> "IncrementPaths":
        return cls(Path(increments_dir) / increment)

    @property
    def final(self) -> Path:
        """The increment's own folder, whatever folder this stage writes into."""
        return self.home or self.root

    @property
    def name(self) -> str:
        return self.final.name

    @property
    def increments_dir(self) -> Path:
        return self.final.parent

    @property
    def staging_dir(self) -> Path:
        return self.increments_dir / ".staging"

    def staged_at(self, root: Path) -> "IncrementPaths":
        return replace(self, root=root, home=self.final)

    def relative(self, path: Path) -> str:
        """``path`` relative to the increment, as recorded in its files (the same while staged)."""
        return str(Path(path).relative_to(self.root))

    # documents (git)
    spec = property(lambda self: self.root / "spec.md")
    plan = property(lambda self: self.root / "plan.md")
    tasks = property(lambda self: self.root / "tasks.md")
    metadata = property(lambda self: self.root / "metadata.json")
    # the composed config it is built from: dvc.yaml's stages read it (dvc_index.py)
    params = property(lambda self: self.root / "params.yaml")
    # data (DVC)
    data = property(lambda self: self.root / "data")
    raw = property(lambda self: self.root / "data" / "raw.parquet")
    raw_spec = property(lambda self: self.root / "data" / "raw.json")
    train = property(lambda self: self.root / "data" / "train.parquet")
    test = property(lambda self: self.root / "data" / "test.parquet")
    split = property(lambda self: self.root / "data" / "split.json")
    # model (DVC)
    model = property(lambda self: self.root / "models" / "champion")  # what ships (refitted on every row: selection.refit_on_all)
    evaluated_model = property(lambda self: self.root / "models" / "evaluated")  # what the holdout scored (training rows only)
    previous_model = property(lambda self: self.root / "models" / "previous")
    # The replaced champion's record (training, CV, evaluation), kept beside it: on rollback it follows its model.
    previous_record = property(lambda self: self.root / "models" / "previous.record")
    previous_evaluation = property(lambda self: self.previous_record / "reports" / "metrics.json")

    @property
    def record_pairs(self) -> tuple[tuple[Path, Path], ...]:
        """(current file, the previous champion's copy) for each file that describes one model."""
        files = (self.training, self.cv, self.metrics, self.baselines, self.antipatterns, self.summary, self.predictions)
        return tuple((f, self.previous_record / f.relative_to(self.root)) for f in files)
    # reports (small ones in git)
    reports = property(lambda self: self.root / "reports")
    prepared = property(lambda self: self.root / "reports" / "prepare.json")  # stage=prepare's result
    packaged = property(lambda self: self.root / "reports" / "package.json")  # stage=package's result
    profile = property(lambda self: self.root / "reports" / "profile.json")
    baselines = property(lambda self: self.root / "reports" / "baselines.json")
    cv = property(lambda self: self.root / "reports" / "cv.json")
    training = property(lambda self: self.root / "reports" / "training.json")
    metrics = property(lambda self: self.root / "reports" / "metrics.json")
    summary = property(lambda self: self.root / "reports" / "summary.json")
    predictions = property(lambda self: self.root / "reports" / "predictions.parquet")
    plots = property(lambda self: self.root / "reports" / "plots")
    curves = property(lambda self: self.root / "reports" / "curves")
    # The Optuna study (SQLite, not in git) is never staged: a run stopped mid-tuning resumes from it.
    tuning = property(lambda self: self.final / "tuning")
    tuning_reports = property(lambda self: self.root / "reports" / "tuning")
    shap = property(lambda self: self.root / "reports" / "shap")
    shap_summary = property(lambda self: self.root / "reports" / "shap" / "summary.json")
    antipatterns = property(lambda self: self.root / "reports" / "antipatterns.json")
    readiness = property(lambda self: self.root / "reports" / "readiness.json")
    loadtest = property(lambda self: self.root / "reports" / "loadtest.json")
    report = property(lambda self: self.root / "reports" / "report.html")
    # serving: drift reference (written at packaging) and the latest drift report (stage=monitor)
    reference_profile = property(lambda self: self.root / "reports" / "drift" / "reference.json")
    drift_report = property(lambda self: self.root / "reports" / "drift" / "report.json")
    abplan_doc = property(lambda self: self.root / "abplan.md")
    abplan = property(lambda self: self.root / "reports" / "abplan.json")
    dockerfile = property(lambda self: self.root / "Dockerfile")
