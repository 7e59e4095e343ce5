"""The one place that reads the composed config: it validates the brief and resolves the plan."""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Optional

import pandas as pd
from omegaconf import DictConfig, OmegaConf

from specweave_ml import brief, clock
from specweave_ml.data import sources
from specweave_ml.data.checks import require_columns
from specweave_ml.errors import NotTrainableYet
from specweave_ml.paths import IncrementPaths
from specweave_ml.plan import Plan
from specweave_ml.resolver import DataFacts, resolve
from specweave_ml.settings_check import validate_settings
from specweave_ml.schema import Config, ModelSchema, ProblemSchema, SelectionSchema, TuningSchema


@dataclass
class Context:
    cfg: DictConfig
    problem: ProblemSchema
    selection: SelectionSchema
    models: dict[str, ModelSchema]
    tuning: TuningSchema
    forced_model: Optional[str]
    paths: IncrementPaths
    cache: dict = field(default_factory=dict, repr=False)  # shared by the staged copies of one run
    started: float = field(default_factory=time.perf_counter)  # the run's start (clock.run_started): the budget counts from it

    @classmethod
    def from_cfg(cls, cfg: DictConfig) -> "Context":
        if OmegaConf.get_type(cfg) is not Config:
            # A config read from params.yaml (DVC) has no schema attached: validate it the same way.
            cfg = OmegaConf.merge(OmegaConf.structured(Config), cfg)
        problem, selection = brief.problem_of(cfg), brief.selection_of(cfg)
        brief.validate(problem, selection)
        validate_settings(cfg)
        models = {name: OmegaConf.to_object(spec) for name, spec in cfg.models.items()}
        forced = cfg.model.name if cfg.get("model") is not None else None
        if forced is not None:
            models[forced] = OmegaConf.to_object(cfg.model)
        return cls(
            cfg=cfg,
            problem=problem,
            selection=selection,
            models=models,
            tuning=OmegaConf.to_object(cfg.tuning),
            forced_model=forced,
            paths=IncrementPaths.of(cfg.paths.increments, problem.increment),
            started=clock.run_started(),
        )

    @property
    def family(self):
        """The task family that trains this brief (``families/``), or None while none does."""
        from specweave_ml import families

        return families.find(self.problem.task.value, self.problem.modality.value)

    def trainable_family(self):
        """The brief's family; a brief whose family is not built yet gets one clear message."""
        found = self.family
        if found is None:
            p = self.problem
            raise NotTrainableYet("problem.modality", f"{p.modality.value} {p.task.value} briefs cannot be trained yet; "
                                  "only the plan resolves", "run with stage=plan to see it, or use a tabular brief")
        return found

    @property
    def seed(self) -> int:
        return int(self.cfg.seed)

    def source_spec(self) -> dict:
        """What identifies the raw data: a fetched snapshot is reused only while this is unchanged."""
        d = self.problem.data
        path = sources.locate(d)
        stat = path.stat() if path is not None else None
        spec = {"source": d.source, "format": sources.source_format(d), "sample_rows": d.sample_rows,
                "file_size": stat.st_size if stat else None, "file_mtime_ns": stat.st_mtime_ns if stat else None}
        if d.separator is not None:  # only when set, so snapshots fetched before the key existed stay current
            spec["separator"] = d.separator
        return spec

    def load_source(self, columns: Optional[list[str]] = None) -> pd.DataFrame:
        """The brief's data, read from its source (``sample_rows`` applied)."""
        frame = sources.load(self.problem.data, columns)
        if self.problem.data.sample_rows:
            frame = frame.head(self.problem.data.sample_rows).reset_index(drop=True)
        return frame

    def snapshot_is_current(self) -> bool:
        from specweave_ml.fileio import read_json

        return self.paths.raw.exists() and self.paths.raw_spec.exists() and read_json(self.paths.raw_spec) == self.source_spec()

    def load_frame(self) -> pd.DataFrame:
        """The fetched snapshot (data/raw.parquet) while it matches the brief, else the source itself."""
        if self.snapshot_is_current():
            cached = self.cache.get("fetched")  # fetch ran in this process: no need to read it back
            return cached.copy() if cached is not None else pd.read_parquet(self.paths.raw)
        return self.load_source()

    def remember_fetched(self, frame: pd.DataFrame) -> None:
        self.cache["fetched"] = frame

    def facts(self, frame: Optional[pd.DataFrame] = None) -> DataFacts:
        """What the resolver decides on, from a loaded frame or by reading only the columns the family needs."""
        family = self.family
        if frame is None:
            require_columns(sources.header(self.problem.data), self.problem)
            frame = self.load_source(family.fact_columns(self.problem) if family else None)
        if family is None:  # a plan can still be shown: its size is known
            return DataFacts(n_rows=len(frame))
        return family.facts(frame, self.problem, self.selection.cv_folds)

    def plan(self, facts: DataFacts) -> Plan:
        return resolve(self.problem, self.selection, self.models, self.tuning, facts, self.forced_model)
