"""``report.html``: one self-contained page per increment, images embedded, no external resource."""

from __future__ import annotations

import base64
from html import escape
from pathlib import Path
from typing import Iterable, Optional

from specweave_ml.plan import Plan

CSS = """
body{font-family:system-ui,-apple-system,Segoe UI,Roboto,sans-serif;margin:2rem auto;max-width:1100px;color:#1d2330;line-height:1.45}
h1{margin-bottom:.2rem}h2{border-bottom:2px solid #e3e7ee;padding-bottom:.2rem;margin-top:2.2rem}
table{border-collapse:collapse;margin:.6rem 0;font-size:.92rem}td,th{border:1px solid #d6dbe4;padding:.3rem .55rem;text-align:left;vertical-align:top}
th{background:#f3f5f9}.PASS{color:#146c2e;font-weight:600}.FAIL{color:#b42318;font-weight:600}.WARN,.NOT-YET{color:#9a6700;font-weight:600}
.severe{color:#b42318;font-weight:600}.warning{color:#9a6700}.info{color:#475467}
.imgs{display:flex;flex-wrap:wrap;gap:.8rem}.imgs figure{margin:0}.imgs img{max-width:520px;border:1px solid #e3e7ee}
figcaption{font-size:.85rem;color:#475467}.muted{color:#667085}code{background:#f3f5f9;padding:0 .25rem}
"""


def _img(path: Path, caption: str) -> str:
    data = base64.b64encode(path.read_bytes()).decode()
    return f'<figure><img alt="{escape(caption)}" src="data:image/png;base64,{data}"><figcaption>{escape(caption)}</figcaption></figure>'


def _table(headers: Iterable[str], rows: Iterable[Iterable], classes: Optional[list[str]] = None) -> str:
    head = "".join(f"<th>{escape(str(h))}</th>" for h in headers)
    body = []
    for i, row in enumerate(rows):
        cls = f' class="{classes[i]}"' if classes and classes[i] else ""
        body.append("<tr>" + "".join(f"<td{cls if j == 0 else ''}>{escape(_fmt(c))}</td>" for j, c in enumerate(row)) + "</tr>")
    return f"<table><tr>{head}</tr>{''.join(body)}</table>"


def _fmt(value) -> str:
    if isinstance(value, float):
        return f"{value:.4f}"
    return str(value)


def _status(text: str) -> str:
    return f'<span class="{escape(text.replace(" ", "-"))}">{escape(text)}</span>'


def render(plan: Plan, brief_yaml: str, ev: dict, images: dict[str, list[tuple[Path, str]]]) -> str:
    """The page from the collected evidence ``ev`` (the increment's JSON reports, already loaded)."""
    readiness = ev.get("readiness") or []
    results = ev.get("metrics") or {}
    s: list[str] = [
        *_header(plan, ev["meta"], readiness, results),
        *_brief_section(brief_yaml),
        *_plan_section(plan),
        *_profile_section(ev.get("profile") or {}),
        *_models_section(ev.get("cv") or {}, ev.get("baselines") or {}, results),
        *_tuning_section(plan, images),
        *_holdout_section(results, images),
        *_gates_section(results),
        *_shap_section(ev.get("shap"), images),
        *_loadtest_section(ev.get("loadtest")),
        *_antipatterns_section((ev.get("antipatterns") or {}).get("findings", [])),
        *_readiness_section(readiness),
    ]
    return _page(plan, "\n".join(s))


def _page(plan: Plan, body: str) -> str:
    """The whole document around ``body``, with the status words of table cells coloured."""
    body = body.replace("<td>PASS</td>", _td("PASS")).replace("<td>FAIL</td>", _td("FAIL")).replace("<td>NOT YET</td>", _td("NOT YET"))
    return (f"<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\"><title>{escape(plan.increment)} report</title>"
            f"<style>{CSS}</style></head><body>\n{body}\n</body></html>\n")


def _verdict(readiness: list[dict], results: dict) -> tuple[str, str]:
    """The headline verdict and its CSS class."""
    not_yet = sum(i["status"] == "NOT YET" for i in readiness)
    if not results.get("ready") or any(i["status"] == "FAIL" for i in readiness):
        return "NOT READY", "FAIL"
    if not_yet:
        return f"INCOMPLETE: {not_yet} checklist item(s) NOT YET", "NOT-YET"
    return "READY", "PASS"


def _header(plan: Plan, meta: dict, readiness: list[dict], results: dict) -> list[str]:
    verdict, css = _verdict(readiness, results)
    return [f"<h1>{escape(plan.increment)}: {escape(plan.title)}</h1>",
            f'<p><b class="{css}">{escape(verdict)}</b> '
            f'<span class="muted">{escape(plan.task)} on {escape(plan.modality)} data; status {escape(meta.get("status", ""))}; '
            f'last run {escape(meta.get("last_activity", ""))}</span></p>']


def _brief_section(brief_yaml: str) -> list[str]:
    return ["<h2>Brief</h2>", f"<pre>{escape(brief_yaml)}</pre>"]


def _plan_section(plan: Plan) -> list[str]:
    s = ["<h2>Plan and its reasons</h2>",
         _table(["candidate", "rule", "why"], [(c.name, c.rule, c.why) for c in plan.candidates]),
         f"<p>Baselines: {escape(', '.join(plan.baselines))}. Split: {escape(plan.split.strategy)}, "
         f"{plan.split.test_size:.0%} held out; {plan.split.cv_folds}-fold {escape(plan.split.cv_strategy)} "
         f"({escape(plan.split.why)}). Primary metric <code>{escape(plan.primary_metric)}</code>: {escape(plan.primary_why)}.</p>"]
    if plan.notes:
        s.append("<ul>" + "".join(f"<li>{escape(n)}</li>" for n in plan.notes) + "</ul>")
    return s


def _profile_section(prof: dict) -> list[str]:
    s = ["<h2>Data profile</h2>"]
    if not prof:
        return s
    s.append(f"<p>{prof['rows']:,} rows, {prof['columns']} columns, {len(prof['features'])} features used, "
             f"{prof['duplicate_rows']:,} duplicate rows; fingerprint <code>{escape(prof['fingerprint'][:16])}</code>.</p>")
    if "class_balance" in prof:
        s.append(_table(["class", "rows", "share"], [(k, v["rows"], f"{v['share']:.4%}") for k, v in prof["class_balance"].items()]))
    if prof.get("missing_values"):
        s.append(_table(["column", "missing"], prof["missing_values"].items()))
    if prof.get("findings"):
        s.append("<ul>" + "".join(f"<li>{escape(f['message'])}</li>" for f in prof["findings"]) + "</ul>")
    return s


def _models_section(cv: dict, base: dict, results: dict) -> list[str]:
    """Baselines versus candidates (CV and holdout), then the per-fold CV table."""
    s = ["<h2>Baselines versus candidates</h2>"]
    if not cv:
        return s + ["<p class='muted'>Not trained yet.</p>"]
    metric = cv["metric"]
    rows = []
    for r in cv["baselines"] + cv["candidates"]:
        hold = base.get("baselines", {}).get(r["name"], {}).get("holdout", {}).get(metric)
        if r["name"] == cv["chosen"]:
            hold = results.get("holdout", {}).get(metric)
        rows.append((r["name"] + (" (chosen)" if r["name"] == cv["chosen"] else ""), r["kind"], r["mean"], r["std"],
                     r["train_mean"], "-" if hold is None else hold))
    s.append(_table(["model", "kind", f"CV {metric} mean", "CV std", "train mean", f"holdout {metric}"], rows))
    s.append("<h2>Cross-validation per fold</h2>")
    folds = max(len(r["folds"]) for r in cv["candidates"])
    s.append(_table(["model", *[f"fold {i}" for i in range(folds)]], [(r["name"], *r["folds"]) for r in cv["baselines"] + cv["candidates"]]))
    return s


def _tuning_section(plan: Plan, images: dict[str, list[tuple[Path, str]]]) -> list[str]:
    return ["<h2>Tuning</h2>",
            "".join(_img(p, c) for p, c in images.get("tuning", [])) or f"<p class='muted'>No tuning run (tuning={escape(plan.tuning)}): "
            "default hyperparameters from conf/model/.</p>"]


def _holdout_section(results: dict, images: dict[str, list[tuple[Path, str]]]) -> list[str]:
    s = ["<h2>Holdout metrics</h2>"]
    if not results:
        return s + ["<p class='muted'>Not evaluated yet.</p>"]
    s.append(_table(["metric", "value"], results["holdout"].items()))
    if results.get("threshold") is not None:
        s.append(f"<p>Decision threshold {results['threshold']:.4f}: {escape(results['threshold_rule'])}.</p>")
    if results.get("majority_accuracy") is not None:
        s.append(f"<p>A majority-class model scores accuracy {results['majority_accuracy']:.4f} on this holdout.</p>")
    details = results.get("details") or {}
    cm = details.get("confusion_matrix")
    if cm:
        s.append(_table(["true \\ predicted", *cm["labels"]], [(lab, *row) for lab, row in zip(cm["labels"], cm["matrix"])]))
    if details.get("residuals"):
        s.append(_table(["residual statistic", "value"], [(k, v) for k, v in details["residuals"].items() if k != "quantiles"]
                        + list(details["residuals"]["quantiles"].items())))
    s.append(f'<div class="imgs">{"".join(_img(p, c) for p, c in images.get("holdout", []))}</div>')
    return s


def _gates_section(results: dict) -> list[str]:
    s = ["<h2>Gates</h2>"]
    if results:
        gates = results["gates"]
        s.append(_table(["gate", "verdict", "detail", "advice"],
                        [(g["name"], "PASS" if g["passed"] else ("FAIL" if g["blocking"] else "WARN"), g["detail"], g["advice"]) for g in gates],
                        ["PASS" if g["passed"] else ("FAIL" if g["blocking"] else "WARN") for g in gates]))
    return s


def _shap_section(shap: Optional[dict], images: dict[str, list[tuple[Path, str]]]) -> list[str]:
    s = ["<h2>SHAP explanations</h2>"]
    if not shap:
        return s + ["<p class='muted'>No explanations yet (stage=explain).</p>"]
    return s + [f"<p>{escape(shap['explainer'])} explainer on {shap['rows_explained']} holdout rows.</p>",
                _table(["feature", "mean |SHAP|"], [(t["feature"], t["mean_abs_shap"]) for t in shap["top_features"]]),
                f'<div class="imgs">{"".join(_img(p, c) for p, c in images.get("shap", []))}</div>']


def _loadtest_section(lt: Optional[dict]) -> list[str]:
    if lt:
        return ["<h2>Load test</h2>", _table(["measure", "value"], [(k, v) for k, v in lt.items() if not isinstance(v, (dict, list))])]
    return ["<h2>Load test</h2>", "<p class='muted'>NOT YET: no load test has been run.</p>"]


def _antipatterns_section(findings: list[dict]) -> list[str]:
    return ["<h2>Anti-pattern findings</h2>",
            _table(["severity", "kind", "finding"], [(f["severity"], f["kind"], f["message"]) for f in findings], [f["severity"] for f in findings])
            if findings else "<p class='muted'>None recorded.</p>"]


def _readiness_section(readiness: list[dict]) -> list[str]:
    return ["<h2>Production-readiness checklist</h2>",
            _table(["item", "status", "evidence", "detail"], [(i["item"], i["status"], i["evidence"] or "-", i["detail"]) for i in readiness])]


def _td(status: str) -> str:
    return f"<td>{_status(status)}</td>"
