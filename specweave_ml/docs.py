"""The increment's documents (spec.md, plan.md, tasks.md), rendered from the plan and its state.

Regenerating is idempotent: the text depends only on the plan and the recorded results, never on the
clock. Each document keeps a marked section for the user's own notes, carried over on every rewrite.
"""

from __future__ import annotations

import re
from pathlib import Path

from specweave_ml.fileio import write_text
from specweave_ml.metrics import METRICS
from specweave_ml.paths import IncrementPaths
from specweave_ml.plan import Plan
from specweave_ml.schema import ProblemSchema
from specweave_ml.results import Record
from specweave_ml.state import TASKS
from specweave_ml.units import seconds

NOTES_START = "<!-- specweave:notes:start (your notes below survive regeneration) -->"
NOTES_END = "<!-- specweave:notes:end -->"
_NOTES = re.compile(re.escape(NOTES_START) + r"\n?(.*?)" + re.escape(NOTES_END), re.DOTALL)


def _user_notes(path: Path) -> str:
    if not path.exists():
        return ""
    match = _NOTES.search(path.read_text(encoding="utf-8"))
    return match.group(1) if match else ""


def _with_notes(path: Path, body: str) -> str:
    return f"{body.rstrip()}\n\n## Notes\n\n{NOTES_START}\n{_user_notes(path)}{NOTES_END}\n"


def _metric(name: str) -> str:
    m = METRICS[name]
    return f"`{name}` ({m.describe}; {'higher' if m.greater_is_better else 'lower'} is better)"


def render_spec(plan: Plan, problem: ProblemSchema, record: Record) -> str:
    d, c = problem.data, problem.constraints
    rows = f"{plan.n_rows:,}" if plan.n_rows is not None else "unknown until the data is loaded"
    prepared = record.prepared
    profile = {"features": prepared.features, "fingerprint": prepared.fingerprint, "findings": prepared.findings} if prepared else {}
    lines = [
        f"# {plan.increment}: {plan.title}",
        "",
        "## Problem",
        "",
        problem.description or "(no description in the brief)",
        "",
        "## Input and output",
        "",
        f"- Input: one row of `{d.source}`"
        + (f", features: {', '.join(f'`{f}`' for f in profile['features'])}" if profile.get("features") else ""),
        f"- Output: {'a probability and a decision' if 'classification' in plan.task else 'a predicted value'} for `{d.target}` ({plan.task})",
        "",
        "## Success criteria",
        "",
        f"- Primary metric {_metric(plan.primary_metric)}: {plan.primary_why}.",
        f"- Beat the best baseline by at least {plan.gates.baseline_margin:.0%} (error cut by that share).",
        f"- Cross-validation scores spread no more than {plan.gates.cv_std} (std across folds).",
        f"- Train/validation gap no more than {plan.gates.train_val_gap}.",
        f"- p95 latency at most {c.latency_p95_ms:g} ms when served.",
        "",
        "## Data requirements",
        "",
        f"- Source: `{d.source}`; rows: {rows}"
        + (f"; minority class: {plan.minority_share:.2%}" if plan.minority_share is not None else ""),
        f"- Target: `{d.target}`" + (f"; time column: `{d.time_column}`" if d.time_column else "")
        + (f"; group column: `{d.group_column}`" if d.group_column else ""),
    ]
    if profile.get("fingerprint"):
        lines.append(f"- Data fingerprint: `{profile['fingerprint'][:16]}`")
    for finding in profile.get("findings", []):
        lines.append(f"- Finding: {finding['message']}")
    lines += [
        "",
        "## Constraints",
        "",
        f"- Latency: p95 at most {c.latency_p95_ms:g} ms",
        f"- Interpretability: {c.interpretability.value}",
        f"- Time budget: {seconds(c.budget_minutes * 60)}" + (f"; memory: {c.max_memory_gb:g} GB" if c.max_memory_gb else ""),
        "",
        "## Baseline plan",
        "",
        f"Dummy models first: {', '.join(f'`{b}`' for b in plan.baselines)}, with the same CV and holdout as the candidates.",
        "",
        "## Metrics",
        "",
        f"- Primary: {_metric(plan.primary_metric)}",
        *[f"- {_metric(m)}" for m in plan.secondary_metrics],
        "",
        "## Deployment considerations",
        "",
        f"- Served behind a latency budget of {c.latency_p95_ms:g} ms (p95); the model is packaged in MLflow format with its hash.",
        "- Drift in the features and the score is monitored against the training profile; the previous champion is kept for rollback.",
    ]
    return "\n".join(lines)


def render_plan(plan: Plan, record: Record) -> str:
    s = plan.split
    lines = [
        f"# Plan: {plan.increment}",
        "",
        "## Data strategy",
        "",
        f"- Split: {s.strategy}, {s.test_size:.0%} held out for the final evaluation. {s.why}.",
        f"- Cross-validation: {s.cv_folds}-fold {s.cv_strategy} on the training part only.",
        "- Preprocessing (imputation, scaling, encoding) is fitted inside each fold's pipeline: no leakage from validation or test rows.",
        "",
        "## Candidates",
        "",
        "| model | chosen by rule | why | trainable now |",
        "|---|---|---|---|",
        *[f"| {c.name} | {c.rule} | {c.why} | {'yes' if c.trainable else 'not yet'}{', when time is left' if c.next_step else ''} |"
          for c in plan.candidates],
        "",
        f"Baselines first: {', '.join(plan.baselines)}.",
        "",
        "## Tuning strategy",
        "",
        f"- {plan.tuning}" + (f": {' -> '.join(plan.tuning_phases)}" if plan.tuning_phases else ": default hyperparameters from conf/model/"),
        f"- Budget: {seconds(plan.budget_minutes * 60)}.",
        "",
        "## Evaluation method",
        "",
        f"- Candidates ranked by mean CV `{plan.primary_metric}`; the best is refitted on the whole training part and scored once on the holdout.",
        f"- Gates: beat the best baseline by {plan.gates.baseline_margin:.0%}; CV std <= {plan.gates.cv_std}; train/validation gap <= {plan.gates.train_val_gap}.",
    ]
    if plan.imbalanced:
        lines.append("- Imbalanced classes: class weights in every candidate; decision threshold chosen on out-of-fold validation scores.")
    lines += [
        "",
        "## Deployment architecture",
        "",
        "- The chosen pipeline with its threshold, in MLflow model format under `models/champion/`, registered with the alias `champion`.",
        f"- Served by uvicorn/FastAPI; load-tested against the p95 budget of {plan.gates.latency_p95_ms:g} ms.",
    ]
    if plan.notes:
        lines += ["", "## Notes from the resolver", "", *[f"- {n}" for n in plan.notes]]
    tuning = record.trained.tuning if record.trained else {}
    if tuning:
        lines += ["", "## Tuning results", "", "Trials finished (pruned) per phase and what one trial cost: the coarse phase is "
                  "successive halving (points x rows at each rung, the best third promoted); a best CV measured below the "
                  "fidelity of the later phases is marked (low fidelity).", "",
                  "| model | phase | trials (pruned) | fidelity | best CV | best parameters | seconds |",
                  "|---|---|---|---|---|---|---|"]
        for model, report in tuning.items():
            for p in report["phases"]:
                best = "-" if p["best_value"] is None else f"{p['best_value']:.4f}"
                params = ", ".join(f"{k}={v:.4g}" if isinstance(v, float) else f"{k}={v}" for k, v in p["best_params"].items())
                best += "" if p.get("comparable", True) or best == "-" else " (low fidelity)"
                lines.append(f"| {model} | {p['phase']}{' (regularising)' if p['regularised'] else ''} | {p['trials_finished']} "
                             f"({p['trials_pruned']}) | {p.get('fidelity', 'all rows')} | {best} | {params} | {p['seconds']:g} |")
            tuned = "-" if report["tuned_cv"] is None else f"{report['tuned_cv']:.4f}"
            lines.append(f"| {model} | **kept** | | all rows | untuned {report['untuned_cv']:.4f}, tuned {tuned} | {report['kept']} | |")
    spent = record.trained.budget if record.trained else {}
    if spent:
        given = "no limit" if spent.get("seconds") is None else seconds(spent["seconds"])
        lines += ["", "## Time budget", "", f"- Training was given {given} of the {seconds(plan.budget_minutes * 60)} budget "
                  f"(the run's start-up, fetch and prepare spent, the stages after it reserved) and took {seconds(spent['spent'])}.",
                  f"- Candidates cross-validated on {spent['cv_rows']:,} of {spent['rows']:,} training rows.",
                  *[f"- {d}." for d in spent.get("decisions", [])]]
    refit = record.trained.refit if record.trained else {}
    if refit:
        lines += ["", "## The model that ships", "", f"- Shipped: {refit['why']}."]
    ens = record.trained.ensemble if record.trained else {}
    if ens:
        best = ens["best_single"]
        lines += ["", "## Ensemble", "", "Greedy ensemble selection (Caruana) over the candidates' out-of-fold predictions; it "
                  "ships only when it beats the best single model in CV, also with its weights chosen without the fold scored.", "",
                  f"- Members: {', '.join(f'{n} {w:.2f}' for n, w in ens['weights'].items()) or 'none'}.",
                  f"- CV {record.trained.metric}: ensemble {ens['mean']:.4f} (weights from other folds {ens['nested_mean']:.4f}), "
                  f"best single {best['name']} {best['mean']:.4f}.",
                  f"- {'Shipped' if ens['ships'] else 'Not shipped'}: {ens['reason']}."]
        if ens.get("cost"):
            one, both = ens["cost"]["single"], ens["cost"]["ensemble"]
            lines.append(f"- Cost: {both['bytes'] / 1024:,.0f} KB and {both['ms_per_call']:.1f} ms per {both['rows']} rows, against "
                         f"{one['bytes'] / 1024:,.0f} KB and {one['ms_per_call']:.1f} ms for {one['name']} alone.")
    if record.trained and record.trained.candidates:
        lines += ["", "## Cross-validation scores", "", f"Each candidate's mean CV {record.trained.metric} (± the fold spread); the best ships "
                  "even when a simpler one comes close.", "", "| candidate | CV | |", "|---|---|---|"]
        lines += [f"| {name} | {cv['mean']:.4f} ± {cv['std']:.4f} | {'**chosen**' if name == record.trained.chosen else ''} |"
                  for name, cv in record.trained.candidates.items()]
    if record.evaluated:
        lines += ["", "## Results", "", *results_lines(record.evaluated.to_dict())]
    lines += ["", "## Rollback plan", "", *rollback_plan_lines(record.meta)]
    return "\n".join(lines)


def results_lines(results: dict) -> list[str]:
    primary = results["primary_metric"]
    lines = [
        f"- Chosen model: **{results['chosen']}** (best mean CV {primary}: {results['cv_mean']:.4f} ± {results['cv_std']:.4f}).",
        f"- Holdout {primary}: **{results['holdout'][primary]:.4f}** against the best baseline "
        f"({results['best_baseline']['name']}) {results['best_baseline']['score']:.4f}.",
    ]
    if results.get("threshold") is not None:
        lines.append(f"- Decision threshold: {results['threshold']:.4f} ({results['threshold_rule']}).")
    elif results.get("threshold_rule"):
        lines.append(f"- Decision rule: {results['threshold_rule']}.")
    if results.get("majority_accuracy") is not None:
        lines.append(f"- A majority-class model would score accuracy {results['majority_accuracy']:.4f} here.")
    for gate in results.get("gates", []):
        verdict = "PASS" if gate["passed"] else ("FAIL" if gate["blocking"] else "WARN")
        lines.append(f"- Gate {gate['name']}: {verdict}: {gate['detail']}" + (f"; {gate['advice']}" if gate.get("advice") else ""))
    lines.append(f"- Ready: {'yes' if results.get('ready') else 'no'}" + (f" ({'; '.join(results['reasons'])})" if results.get("reasons") else ""))
    return lines


def render_tasks(plan: Plan, meta: dict) -> str:
    lines = [f"# Tasks: {plan.increment}", "", "| id | task | status | note |", "|---|---|---|---|"]
    for tid, title in TASKS:
        t = meta["tasks"][tid]
        lines.append(f"| {tid} | {title} | {t['status']} | {t['note']} |")
    status = meta.get("status", "planned")
    lines += ["", f"Increment status: **{status}**"]
    return "\n".join(lines)


def write_all(paths: IncrementPaths, plan: Plan, problem: ProblemSchema) -> None:
    """spec.md, plan.md and tasks.md from the increment's record as saved (metadata and stage results)."""
    record = Record.load(paths.root)
    for path, body in (
        (paths.spec, render_spec(plan, problem, record)),
        (paths.plan, render_plan(plan, record)),
        (paths.tasks, render_tasks(plan, record.meta)),
    ):
        write_text(path, _with_notes(path, body))


def _short(entry: dict) -> str:
    reg = (entry.get("registered") or {}).get("version")
    return f"{entry.get('name', '?')} (sha256 {entry.get('sha256', '?')[:12]}" + (f", registered v{reg})" if reg else ")")


def rollback_plan_lines(meta: dict) -> list[str]:
    """The rollback plan, as written into plan.md."""
    current, previous = meta.get("model") or {}, meta.get("previous_model") or {}
    lines = []
    if current:
        lines.append(f"- Serving: `models/champion`, {_short(current)}.")
    if previous.get("sha256"):
        lines.append(f"- Kept for rollback: `models/previous`, {_short(previous)}.")
    else:
        lines.append("- No previous champion yet: the next `stage=train` keeps this one in `models/previous`. Until then, "
                     "rolling back means taking the endpoint out of service and falling back to the process it replaced.")
    lines += [
        "- Roll back when the drift report or the server's `specweave_drift_columns_alerting` gauge alerts on the score, "
        "`/metrics` shows errors or p95 latency over the budget, or an A/B stopping rule trips.",
        "- How: `python -m specweave_ml problem=<brief> stage=rollback` swaps `models/champion` and `models/previous` with "
        "their hashes in metadata.json, moves the MLflow alias `champion` to the restored version, and re-profiles it for "
        "drift. Running it again rolls forward.",
        "- Then restart the server (`stage=serve`, or rebuild and redeploy the increment's Dockerfile): it checks the "
        "restored model's hash before loading it, and `/health` shows that hash.",
        "- The holdout evaluation on record moves with its model; the files under `reports/` describe the last training.",
    ]
    for r in meta.get("rollbacks", [])[-3:]:
        lines.append(f"- Rolled back {r['at']}: {r['from'][:12]} -> {r['to'][:12]}; alias {r['alias']}.")
    return lines
