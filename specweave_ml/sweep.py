"""Multirun sweeps: each job writes under its own sweep folder, and the sweep ends with a summary table.

``python -m specweave_ml -m problem=a,b model=x,y`` runs four jobs; job N's increments live in
``<sweep dir>/<N>/increments/`` so no job overwrites another's split, model or reports. The summary
(``summary.md`` and ``summary.csv`` in the sweep folder) lists each job's overrides and headline numbers.
"""

from __future__ import annotations

import csv
import json
from pathlib import Path
from typing import Any

from hydra.experimental.callback import Callback
from omegaconf import DictConfig

from specweave_ml.results import Record


def job_increments_dir() -> str | None:
    """The increments folder of this job when running under -m, else None (the configured folder)."""
    from hydra.core.hydra_config import HydraConfig
    from hydra.types import RunMode

    if not HydraConfig.initialized():
        return None
    hc = HydraConfig.get()
    if hc.mode != RunMode.MULTIRUN:
        return None
    return str(Path(hc.sweep.dir) / str(hc.sweep.subdir) / "increments")


def rows(sweep_dir: Path) -> list[dict[str, Any]]:
    out = []
    for job in sorted((p for p in sweep_dir.iterdir() if p.is_dir() and p.name.isdigit()), key=lambda p: int(p.name)):
        overrides_file = job / "overrides.json"
        overrides = json.loads(overrides_file.read_text()) if overrides_file.exists() else []
        for meta_file in sorted(job.glob("increments/*/metadata.json")):
            record = Record.load(meta_file.parent)
            meta, results = record.meta, record.evaluated.to_dict() if record.evaluated else {}
            metric = results.get("primary_metric", "")
            out.append({
                "job": int(job.name), "overrides": " ".join(overrides), "increment": meta["id"],
                "model": (meta.get("model") or {}).get("name", ""), "metric": metric,
                "cv_mean": results.get("cv_mean"), "holdout": (results.get("holdout") or {}).get(metric),
                "baseline": (results.get("best_baseline") or {}).get("score"), "ready": results.get("ready"),
                "status": meta.get("status", ""), "path": str(meta_file.parent),
            })
    return out


def write_summary(sweep_dir: Path) -> Path:
    table = rows(sweep_dir)
    fields = ["job", "overrides", "increment", "model", "metric", "cv_mean", "holdout", "baseline", "ready", "status", "path"]
    with open(sweep_dir / "summary.csv", "w", newline="") as fh:
        writer = csv.DictWriter(fh, fieldnames=fields)
        writer.writeheader()
        writer.writerows(table)

    def fmt(v):
        return f"{v:.4f}" if isinstance(v, float) else ("" if v is None else str(v))

    lines = ["# Sweep summary", "", "| " + " | ".join(fields[:-1]) + " |", "|" + "---|" * (len(fields) - 1)]
    lines += ["| " + " | ".join(fmt(r[f]) for f in fields[:-1]) + " |" for r in table]
    path = sweep_dir / "summary.md"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


class SweepSummary(Callback):
    """Records each job's overrides, and writes the sweep's summary table when the sweep ends."""

    def on_job_start(self, config: DictConfig, **kwargs: Any) -> None:
        from hydra.core.hydra_config import HydraConfig

        folder = job_increments_dir()
        if folder is not None:
            job_dir = Path(folder).parent
            job_dir.mkdir(parents=True, exist_ok=True)
            (job_dir / "overrides.json").write_text(json.dumps(list(HydraConfig.get().overrides.task)))

    def on_multirun_end(self, config: DictConfig, **kwargs: Any) -> None:
        sweep_dir = Path(config.hydra.sweep.dir)
        if sweep_dir.exists():
            print(f"sweep summary: {write_summary(sweep_dir)}")
