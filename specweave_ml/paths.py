"""The fixed layout of an increment: every artifact has one home, named here and nowhere else."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class IncrementPaths:
    root: Path  # increments/<id>

    @classmethod
    def of(cls, increments_dir: str | Path, increment: str) -> "IncrementPaths":
        return cls(Path(increments_dir) / increment)

    # documents (git)
    spec = property(lambda self: self.root / "spec.md")
    plan = property(lambda self: self.root / "plan.md")
    tasks = property(lambda self: self.root / "tasks.md")
    metadata = property(lambda self: self.root / "metadata.json")
    config = property(lambda self: self.root / "config.yaml")
    # data (DVC)
    data = property(lambda self: self.root / "data")
    raw = property(lambda self: self.root / "data" / "raw.parquet")
    raw_spec = property(lambda self: self.root / "data" / "raw.json")
    train = property(lambda self: self.root / "data" / "train.parquet")
    test = property(lambda self: self.root / "data" / "test.parquet")
    split = property(lambda self: self.root / "data" / "split.json")
    # model (DVC)
    model = property(lambda self: self.root / "models" / "champion")
    previous_model = property(lambda self: self.root / "models" / "previous")
    # reports (small ones in git)
    reports = property(lambda self: self.root / "reports")
    profile = property(lambda self: self.root / "reports" / "profile.json")
    baselines = property(lambda self: self.root / "reports" / "baselines.json")
    cv = property(lambda self: self.root / "reports" / "cv.json")
    training = property(lambda self: self.root / "reports" / "training.json")
    metrics = property(lambda self: self.root / "reports" / "metrics.json")
    summary = property(lambda self: self.root / "reports" / "summary.json")
    predictions = property(lambda self: self.root / "reports" / "predictions.parquet")
    plots = property(lambda self: self.root / "reports" / "plots")
    curves = property(lambda self: self.root / "reports" / "curves")
    tuning = property(lambda self: self.root / "tuning")  # the Optuna study (SQLite), not in git
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
