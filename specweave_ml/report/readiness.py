"""The production-readiness checklist, filled from evidence only.

Each item is PASS, FAIL or NOT YET with the evidence it was judged on (a file under the increment, or
an MLflow run). No item passes without evidence. NOT YET: the step that produces the evidence has not
run (or cannot yet: no previous model to roll back to). FAIL: the evidence is there and falls short,
or contradicts the record (a hash that does not match, a gate not passed, tracking off).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, replace
from pathlib import Path
from typing import Callable, Optional

from specweave_ml.fileio import directory_hash, read_json
from specweave_ml.paths import IncrementPaths
from specweave_ml.results import Record
from specweave_ml.units import duration

PASS, FAIL, NOT_YET = "PASS", "FAIL", "NOT YET"
SHAP_EXPLAINERS = ("tree", "linear", "kernel", "gradient")  # the explainer kinds of models/registry.py that are SHAP


@dataclass(frozen=True)
class Item:
    item: str
    status: str
    evidence: str
    detail: str
    key: str = ""  # stable: what other code looks an item up by (set by ``checklist``)

    def to_dict(self) -> dict:
        return asdict(self)


def _rel(paths: IncrementPaths, path: Path) -> str:
    return paths.relative(path)


def model_versioned(paths: IncrementPaths, meta: dict) -> Item:
    name = "Model versioned (tied to increment)"
    recorded = meta.get("model", {}).get("sha256")
    if not paths.model.exists() or not recorded:
        return Item(name, FAIL, "", "no packaged model")
    if directory_hash(paths.model) != recorded:
        return Item(name, FAIL, _rel(paths, paths.model), "the model's files do not match the recorded hash")
    reg = meta["model"].get("registered") or {}
    where = (f"; registered {reg['name']} v{reg['version']}" + (f" (alias {reg['alias']})" if reg.get("alias") else " (not champion)")
             if reg.get("version") else "")
    return Item(name, PASS, _rel(paths, paths.model), f"sha256 {recorded[:12]} in metadata.json{where}")


def experiments_tracked(tracking: dict, run_exists: Callable[[str], bool]) -> Item:
    name = "Experiments tracked and documented"
    run = tracking.get("parent_run_id")
    if not run:
        return Item(name, FAIL, "", "tracking was off for the last training run")
    if not run_exists(run):
        return Item(name, FAIL, f"mlflow run {run}", "the recorded MLflow run is not in the tracking store")
    children = tracking.get("child_runs", {})
    return Item(name, PASS, f"mlflow run {run}", f"parent run with {len(children)} child runs in {tracking.get('uri')}")


def baseline_documented(paths: IncrementPaths, results) -> Item:
    name = "Baseline comparison documented"
    if not paths.baselines.exists() or results is None:
        return Item(name, FAIL, "", "no baseline evaluation of the current model")
    gate = next(g for g in results.gates if g["name"] == "baseline_margin")
    return Item(name, PASS if gate["passed"] else FAIL, _rel(paths, paths.baselines), gate["detail"])


def cross_validated(paths: IncrementPaths) -> Item:
    name = "Cross-validation performed (at least 3 folds)"
    if not paths.cv.exists():
        return Item(name, FAIL, "", "no cross-validation results")
    cv = read_json(paths.cv)
    folds = min(len(c["folds"]) for c in cv["candidates"])
    ok = folds >= 3
    return Item(name, PASS if ok else FAIL, _rel(paths, paths.cv), f"{folds}-fold {cv['cv_strategy']} on {cv['metric']}")


def explained(paths: IncrementPaths, explanation) -> Item:
    name = "Model explainability generated (SHAP)"
    if explanation is None:
        return Item(name, NOT_YET, "", "no explanation of the current model: run stage=explain")
    kind = explanation.explainer
    how = f"{kind} SHAP" if kind in SHAP_EXPLAINERS else f"{kind} explanation (not SHAP: the family's own for this model)"
    return Item(name, PASS, _rel(paths, paths.shap_summary), f"{how} on {explanation.rows_explained} rows")


def load_tested(paths: IncrementPaths, loadtest, budget_ms: float) -> Item:
    name = "Load testing completed (latency < target)"
    if loadtest is None:
        return Item(name, NOT_YET, "", "no load test of the current model has been run: stage=loadtest")
    ok = loadtest.p95_ms <= budget_ms and loadtest.error_rate == 0
    return Item(name, PASS if ok else FAIL, _rel(paths, paths.loadtest), f"p95 {loadtest.p95_ms:.1f} ms vs budget {budget_ms:g} ms")


def monitored(paths: IncrementPaths, meta: dict) -> Item:
    name = "Monitoring configured (drift, performance)"
    if not paths.reference_profile.exists():
        return Item(name, NOT_YET, "", "no drift reference profile: run stage=package")
    profile = read_json(paths.reference_profile)
    if profile.get("model", {}).get("sha256") != meta.get("model", {}).get("sha256"):
        return Item(name, FAIL, _rel(paths, paths.reference_profile), "the reference profile describes another model: run stage=package")
    if profile.get("monitoring"):  # the family says what it cannot watch yet
        return Item(name, NOT_YET, _rel(paths, paths.reference_profile), profile["monitoring"])
    detail = (f"reference profile of {len(profile['features'])} features and the score; PSI alerts above the threshold in "
              "stage=monitor and on the server's /metrics (with request counts and latency)")
    last = read_json(paths.drift_report) if paths.drift_report.exists() else None
    if last and last.get("model_sha256") == meta.get("model", {}).get("sha256"):
        alerts = last["alerts"][:5] + ([f"{len(last['alerts']) - 5} more"] if len(last["alerts"]) > 5 else [])
        detail += f"; last batch ({last['rows']} rows): " + (f"ALERT on {', '.join(alerts)}" if last["alert"] else "no drift")
    return Item(name, PASS, _rel(paths, paths.reference_profile), detail)


def ab_ready(paths: IncrementPaths) -> Item:
    name = "A/B test infrastructure ready"
    if not paths.abplan.exists():
        return Item(name, NOT_YET, "", "no A/B test plan: run stage=abplan (the server routes by serving.ab.*)")
    plan = read_json(paths.abplan)
    return Item(name, PASS, _rel(paths, paths.abplan_doc), f"{plan['metric']['name']}: {plan['n_champion']:,} + "
                f"{plan['n_challenger']:,} {plan['metric']['unit']}s, {duration(plan['days'])} at the expected traffic")


def rollback_ready(paths: IncrementPaths, meta: dict) -> Item:
    name = "Rollback plan documented"
    documented = paths.plan.exists() and "## Rollback plan" in paths.plan.read_text(encoding="utf-8")
    previous = (meta.get("previous_model") or {}).get("sha256")
    if not previous or not paths.previous_model.exists():
        return Item(name, NOT_YET, _rel(paths, paths.plan) if documented else "", "no previous champion to roll back to yet "
                    "(the next stage=train keeps this one in models/previous)")
    if directory_hash(paths.previous_model) != previous:
        return Item(name, FAIL, _rel(paths, paths.previous_model), "models/previous does not match its recorded hash")
    if not documented:
        return Item(name, FAIL, "", "plan.md has no rollback plan: rerun any stage to regenerate the documents")
    return Item(name, PASS, _rel(paths, paths.plan), f"stage=rollback restores models/previous (sha256 {previous[:12]})")


def living_docs(index: str, increment: str) -> Item:
    name = "Living docs updated (architecture, runbooks)"
    if f"[{increment}]" not in index:
        return Item(name, FAIL, "", "increments/README.md does not list this increment")
    return Item(name, PASS, "../README.md", "increments/README.md lists this increment with its latest results")


GUARDS = (  # key (the report's anchor is guard-<key>), title
    ("duplicates", "Near-duplicates across the split"),
    ("leaks", "Leaks through values, missingness, encodings and names"),
    ("shift", "Train/holdout shift (adversarial validation)"),
    ("uncertainty", "Model versus best baseline: paired bootstrap"),
)
WARN = "WARN"


def guard_items(findings: Optional[list[dict]], metrics: Optional[dict]) -> list[dict]:
    """The reviewer's guards as readiness lines: FAIL (a severe finding: the increment is not ready), WARN, PASS,
    or NOT YET (no evaluation of the current model by this version), each linked to its section of report.html."""
    from specweave_ml.guards import GUARD_KINDS

    out = []
    for key, title in GUARDS:
        section = f"reports/report.html#guard-{key}"
        if key == "uncertainty":
            paired = ((metrics or {}).get("intervals") or {}).get("difference")
            if not paired or paired.get("low") is None:
                status, detail = NOT_YET, "no paired bootstrap recorded: run stage=evaluate"
            else:
                status = PASS if paired["verdict"] == "better" else WARN
                detail = (f"{paired['of']}: {paired['metric']} difference {paired['difference']:+.4f}, "
                          f"{paired['level']:.0%} interval [{paired['low']:+.4f}, {paired['high']:+.4f}] ({paired['verdict']})")
            out.append({"key": key, "guard": title, "status": status, "evidence": "reports/metrics.json",
                        "section": section, "detail": detail})
            continue
        mine = [f for f in findings or [] if f["kind"] in GUARD_KINDS[key]]
        ran = any(f["kind"] != "duplicates_across_split" and f["kind"] != "leakage" for f in mine)
        worst = next((f for sev in ("severe", "warning") for f in mine if f["severity"] == sev), None)
        if findings is None or not ran and worst is None:
            status, detail = NOT_YET, "not checked for the current model: run stage=evaluate"
        else:
            status = {"severe": FAIL, "warning": WARN}.get(worst["severity"] if worst else "", PASS)
            detail = worst["message"] if worst else "; ".join(f["message"] for f in mine if f["severity"] == "info")
        out.append({"key": key, "guard": title, "status": status, "evidence": "reports/antipatterns.json",
                    "section": section, "detail": detail})
    return out


def checklist(paths: IncrementPaths, record: Record, budget_ms: float, index: str,
              run_exists: Callable[[str], bool]) -> dict[str, Item]:
    """Every item, keyed (``checklist(...)["load_tested"]``), in the order the report shows them."""
    meta = record.meta
    items = {
        "model_versioned": model_versioned(paths, meta),
        "experiments_tracked": experiments_tracked(record.trained.tracking if record.trained else {}, run_exists),
        "baseline_documented": baseline_documented(paths, record.evaluated),
        "cross_validated": cross_validated(paths),
        "explained": explained(paths, record.explanation),
        "load_tested": load_tested(paths, record.loadtest, budget_ms),
        "monitored": monitored(paths, meta),
        "ab_ready": ab_ready(paths),
        "rollback_ready": rollback_ready(paths, meta),
        "living_docs": living_docs(index, meta["id"]),
    }
    return {key: replace(item, key=key) for key, item in items.items()}
