"""The Plan: everything the framework decided for an increment, each decision with its reason."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Optional

from specweave_ml.units import seconds


@dataclass(frozen=True)
class Candidate:
    name: str
    rule: str  # the selection rule (or "command line") that chose it
    why: str
    trainable: bool
    next_step: bool = False  # the rule's next step (start simple, then complexify): trained only when time is left


@dataclass(frozen=True)
class SplitPlan:
    strategy: str  # time | group | stratified | random
    cv_strategy: str  # expanding_window | group_kfold | stratified_kfold | kfold
    cv_folds: int
    test_size: float
    time_column: Optional[str]
    group_column: Optional[str]
    why: str


@dataclass(frozen=True)
class Gates:
    baseline_margin: float
    cv_std: float
    train_val_gap: float
    latency_p95_ms: float


@dataclass(frozen=True)
class Plan:
    increment: str
    title: str
    task: str
    modality: str
    interpretability: str
    n_rows: Optional[int]
    minority_share: Optional[float]
    imbalanced: bool
    candidates: tuple[Candidate, ...]
    baselines: tuple[str, ...]
    primary_metric: str
    primary_why: str
    secondary_metrics: tuple[str, ...]
    split: SplitPlan
    tuning: str
    tuning_phases: tuple[str, ...]
    gates: Gates
    budget_minutes: float
    notes: tuple[str, ...] = field(default_factory=tuple)

    @property
    def trainable(self) -> bool:
        return all(c.trainable for c in self.candidates)

    def to_dict(self) -> dict:
        return asdict(self)

    def describe(self) -> str:
        """The plan as a person reads it on the terminal (``stage=plan``)."""
        rows = f"{self.n_rows:,}" if self.n_rows is not None else "unknown"
        lines = [
            f"Plan for increment {self.increment}: {self.title}",
            f"  task: {self.task} on {self.modality} data, {rows} rows"
            + (f", minority class {self.minority_share:.2%}" if self.minority_share is not None else ""),
            f"  baselines first: {', '.join(self.baselines)} (the model must cut the best one's error by "
            f"{self.gates.baseline_margin:.0%})",
            "  candidates, simple before complex:",
        ]
        for c in self.candidates:
            flag = ("" if c.trainable else "  [not trainable yet]") + ("  [when time is left]" if c.next_step else "")
            lines.append(f"    - {c.name}{flag}: rule '{c.rule}': {c.why}")
        s = self.split
        lines += [
            f"  split: {s.strategy}, {s.test_size:.0%} held out; CV: {s.cv_folds}-fold {s.cv_strategy}: {s.why}",
            f"  primary metric: {self.primary_metric} ({self.primary_why}); also {', '.join(self.secondary_metrics)}",
            f"  tuning: {self.tuning}" + (f" ({' -> '.join(self.tuning_phases)})" if self.tuning_phases else ""),
            f"  gates: baseline margin {self.gates.baseline_margin:.0%}, CV std <= {self.gates.cv_std}, "
            f"train/validation gap <= {self.gates.train_val_gap}, p95 latency <= {self.gates.latency_p95_ms:g} ms",
            f"  budget: {seconds(self.budget_minutes * 60)}; interpretability: {self.interpretability}",
        ]
        lines += [f"  note: {n}" for n in self.notes]
        return "\n".join(lines)
