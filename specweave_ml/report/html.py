"""``report.html``: one self-contained page per increment, images embedded, no external resource."""

from __future__ import annotations

import base64
from html import escape
from pathlib import Path
from typing import Iterable, Optional

from specweave_ml.guards import GUARD_KINDS
from specweave_ml.metrics import METRICS
from specweave_ml.plan import Plan
from specweave_ml.report.readiness import GUARDS

TOP_FINDINGS = 4  # on the first screen; the rest stay in the anti-pattern section
SEVERITY_ORDER = {"severe": 0, "warning": 1, "info": 2}

CSS = """
body{font-family:system-ui,-apple-system,Segoe UI,Roboto,sans-serif;margin:2rem auto;max-width:1100px;color:#1d2330;line-height:1.45}
h1{margin-bottom:.2rem}h2{border-bottom:2px solid #e3e7ee;padding-bottom:.2rem;margin-top:2.2rem}
table{border-collapse:collapse;margin:.6rem 0;font-size:.92rem}td,th{border:1px solid #d6dbe4;padding:.3rem .55rem;text-align:left;vertical-align:top}
th{background:#f3f5f9}.PASS{color:#146c2e;font-weight:600}.FAIL{color:#b42318;font-weight:600}.WARN,.NOT-YET{color:#9a6700;font-weight:600}
.severe{color:#b42318;font-weight:600}.warning{color:#9a6700}.info{color:#475467}
.imgs{display:flex;flex-wrap:wrap;gap:.8rem}.imgs figure{margin:0}.imgs img{max-width:520px;border:1px solid #e3e7ee}
figcaption{font-size:.85rem;color:#475467}.muted{color:#667085}code{background:#f3f5f9;padding:0 .25rem}
.verdict{border-left:6px solid;border-radius:4px;padding:.5rem .9rem;margin:.8rem 0}.verdict>b{font-size:1.6rem}
.verdict ul{margin:.3rem 0 0;padding-left:1.2rem}.verdict.PASS{background:#ecfdf3}.verdict.FAIL{background:#fef3f2}
.verdict.NOT-YET{background:#fffaeb}.verdict li{color:#1d2330;font-weight:400}
.cards{display:grid;grid-template-columns:1fr 1.35fr;gap:1rem}.card{border:1px solid #e3e7ee;border-radius:6px;padding:.2rem .9rem .5rem}
.card table{width:100%}h3{margin:.5rem 0 .3rem;font-size:1.05rem}.headline{font-size:1.5rem;font-weight:600;margin:.2rem 0}
.headline .muted{font-size:1rem;font-weight:400}.summary ul.findings{margin:.2rem 0;padding-left:1.2rem}details>summary{cursor:pointer;color:#344054}
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
    findings = (ev.get("antipatterns") or {}).get("findings", [])
    s: list[str] = [
        *_header(plan, ev["meta"]),
        *_summary_section(readiness, results, findings),
        *_plan_section(plan),
        *_profile_section(ev.get("profile") or {}),
        *_models_section(ev.get("cv") or {}, ev.get("baselines") or {}, results),
        *_tuning_section(plan, images),
        *_holdout_section(results, images),
        *_gates_section(results),
        *_shap_section(ev.get("shap"), images),
        *_loadtest_section(ev.get("loadtest")),
        *_guards_section(findings, results, ev.get("guards") or []),
        *_antipatterns_section(findings),
        *_readiness_section(readiness, ev.get("guards") or []),
        *_brief_section(brief_yaml),
    ]
    return _page(plan, "\n".join(s))


def _page(plan: Plan, body: str) -> str:
    """The whole document around ``body``, with the status words of table cells coloured."""
    for word in ("PASS", "FAIL", "WARN", "NOT YET"):
        body = body.replace(f"<td>{word}</td>", _td(word))
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


def _header(plan: Plan, meta: dict) -> list[str]:
    return [f"<h1>{escape(plan.increment)}: {escape(plan.title)}</h1>",
            f'<p class="muted">{escape(plan.task)} on {escape(plan.modality)} data; status {escape(meta.get("status", ""))}; '
            f'last run {escape(meta.get("last_activity", ""))}</p>']


def _summary_section(readiness: list[dict], results: dict, findings: list[dict]) -> list[str]:
    """The first screen: the verdict and why, the chosen model against the best baseline, the gates, the top findings."""
    verdict, css = _verdict(readiness, results)
    why = [escape(r) + _evidence_link(r) for r in results.get("reasons", [])] if results else ["not evaluated yet: run stage=evaluate"]
    why += [f'checklist {_status(i["status"])}: {escape(i["item"])}: {escape(i["detail"])}'
            for i in readiness if i["status"] in ("FAIL", "NOT YET")]
    if not why:
        why = [f"every blocking gate passes, no severe finding, {len(readiness)}/{len(readiness)} checklist items pass"]
    s = ['<section class="summary">', f'<div class="verdict {css}"><b class="{css}">{escape(verdict)}</b>',
         "<ul>" + "".join(f"<li>{w}</li>" for w in why) + "</ul></div>"]
    if results:
        s += ['<div class="cards"><div class="card">', *_headline(results), '</div><div class="card"><h3>Gates</h3>',
              _table(["gate", "verdict", "detail"], [(g["name"], _gate_word(g), g["detail"]) for g in results["gates"]]),
              "</div></div>"]
    top = sorted(findings, key=lambda f: SEVERITY_ORDER.get(f["severity"], 3))[:TOP_FINDINGS]
    s.append("<h3>Top findings</h3>")
    s.append('<ul class="findings">' + "".join(f'<li><span class="{escape(f["severity"])}">{escape(f["severity"])}</span> '
                                              f'{escape(f["kind"])}: {escape(f["message"])}</li>' for f in top) + "</ul>"
             if top else "<p class='muted'>None recorded.</p>")
    if len(findings) > len(top):
        s.append(f"<p class='muted'>{len(findings) - len(top)} more under Anti-pattern findings below.</p>")
    return s + ["</section>"]


def _guard_of(kind: str) -> Optional[str]:
    return next((key for key, kinds in GUARD_KINDS.items() if kind in kinds), None)


def _evidence_link(reason: str) -> str:
    """A link from a NOT READY reason (``kind: message``) to the section that holds its evidence."""
    kind = reason.split(":", 1)[0].strip()
    key = _guard_of(kind)
    if key:
        return f' <a href="#guard-{key}">(evidence)</a>'
    return ' <a href="#gates">(gates)</a>' if kind.endswith(" failed") else ""


def _headline(results: dict) -> list[str]:
    """The chosen model's primary metric on the holdout against the best baseline's, each with its interval."""
    metric, best = results["primary_metric"], results["best_baseline"]
    intervals = results.get("intervals") or {}
    model, base = intervals.get("model") or {}, intervals.get("baseline") or {}
    higher = METRICS[metric].greater_is_better if metric in METRICS else True
    level = f"{model.get('level', 0.95):.0%}"
    rows = [(f"{results['chosen']} (chosen)", results["holdout"][metric], _ci(model)),
            (f"{best['name']} (best baseline)", best["score"], _ci(base))]
    s = [f"<h3>Chosen model: {escape(results['chosen'])}</h3>",
         f'<p class="headline">{escape(metric)} {results["holdout"][metric]:.4f} <span class="muted">vs</span> {best["score"]:.4f}</p>',
         f'<p class="muted">on the holdout, against the best baseline ({escape(best["name"])}); '
         f'{"higher" if higher else "lower"} is better</p>',
         _table(["model", f"holdout {metric}", f"{level} confidence interval"], rows)]
    paired = intervals.get("difference") or {}
    if paired.get("low") is not None:
        s.append(f"<p>Paired bootstrap of the difference (the same {paired['resamples']} resamples of the "
                 f"{paired['rows']:,} holdout rows for both{', within each class' if paired.get('stratified') else ''}): "
                 f"{paired['difference']:+.4f}, {paired['level']:.0%} interval [{paired['low']:+.4f}, {paired['high']:+.4f}]: "
                 f"{escape(_paired_words(paired['verdict']))} <a href=\"#guard-uncertainty\">(evidence)</a>.</p>")
    elif model.get("low") is not None and base.get("low") is not None:
        apart = model["low"] > base["high"] if higher else model["high"] < base["low"]
        s.append(f"<p>The intervals {'do not overlap' if apart else 'overlap: the gap may be noise'} "
                 f"(bootstrap of the {results['rows_test']:,} holdout rows, {model['resamples']} resamples"
                 f"{', within each class' if model.get('stratified') else ''}).</p>")
    else:
        s.append("<p class='muted'>No confidence interval recorded: rerun stage=evaluate.</p>")
    return s


def _paired_words(verdict: str) -> str:
    return {"better": "the model is better, beyond the noise", "worse": "the model is worse, beyond the noise",
            "within noise": "within the noise: this holdout cannot tell them apart"}[verdict]


def _ci(interval: dict) -> str:
    return "-" if interval.get("low") is None else f"[{interval['low']:.4f}, {interval['high']:.4f}]"


def _gate_word(gate: dict) -> str:
    return "PASS" if gate["passed"] else ("FAIL" if gate["blocking"] else "WARN")


def _brief_section(brief_yaml: str) -> list[str]:
    lines = brief_yaml.count("\n")
    return ["<h2>Brief</h2>", f"<details><summary>The brief as composed ({lines} lines of YAML)</summary>",
            f"<pre>{escape(brief_yaml)}</pre></details>"]


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
    s = ['<h2 id="gates">Gates</h2>']
    if results:
        gates = results["gates"]
        s.append(_table(["gate", "verdict", "detail", "advice"], [(g["name"], _gate_word(g), g["detail"], g["advice"]) for g in gates],
                        [_gate_word(g) for g in gates]))
    return s


def _shap_section(shap: Optional[dict], images: dict[str, list[tuple[Path, str]]]) -> list[str]:
    s = ["<h2>SHAP explanations</h2>"]
    if not shap:
        return s + ["<p class='muted'>No explanations yet (stage=explain).</p>"]
    return s + [f"<p>{escape(shap['explainer'])} explainer on {shap['rows_explained']} holdout rows.</p>",
                _table(["feature", "mean |SHAP|" if "mean_abs_shap" in (shap["top_features"] or [{"mean_abs_shap": 0}])[0] else "magnitude"],
                       [(t["feature"], t.get("mean_abs_shap", t.get("magnitude"))) for t in shap["top_features"]]),
                f'<div class="imgs">{"".join(_img(p, c) for p, c in images.get("shap", []))}</div>',
                *_examples((shap.get("extra") or {}).get("examples") or [])]


def _examples(examples: list) -> list[str]:
    """Local explanations a family spells out (``{"title", "lines"}`` each), e.g. a user's recommendations and why."""
    return [f"<details><summary>{escape(str(e['title']))}</summary><ul>"
            + "".join(f"<li>{escape(str(line))}</li>" for line in e["lines"]) + "</ul></details>" for e in examples]


def _loadtest_section(lt: Optional[dict]) -> list[str]:
    if lt:
        return ["<h2>Load test</h2>", _table(["measure", "value"], [(k, v) for k, v in lt.items() if not isinstance(v, (dict, list))])]
    return ["<h2>Load test</h2>", "<p class='muted'>NOT YET: no load test has been run.</p>"]


def _antipatterns_section(findings: list[dict]) -> list[str]:
    return ["<h2>Anti-pattern findings</h2>",
            _table(["severity", "confidence", "kind", "finding", "what to do"],
                   [(f["severity"], f.get("confidence", ""), f["kind"], f["message"], f.get("action") or "-") for f in findings],
                   [f["severity"] for f in findings])
            if findings else "<p class='muted'>None recorded.</p>"]


def _readiness_section(readiness: list[dict], guards: list[dict]) -> list[str]:
    s = ["<h2>Production-readiness checklist</h2>",
         _table(["item", "status", "evidence", "detail"], [(i["item"], i["status"], i["evidence"] or "-", i["detail"]) for i in readiness])]
    if guards:
        rows = "".join(f'<tr><td><a href="#guard-{escape(g["key"])}">{escape(g["guard"])}</a></td><td>{escape(g["status"])}</td>'
                       f'<td>{escape(g["evidence"])}</td><td>{escape(g["detail"])}</td></tr>' for g in guards)
        s += ["<p>The reviewer's guards (a FAIL is a severe finding and makes the increment NOT READY; a WARN does not):</p>",
              f"<table><tr><th>guard</th><th>status</th><th>evidence</th><th>detail</th></tr>{rows}</table>"]
    return s


def _guards_section(findings: list[dict], results: dict, guards: list[dict]) -> list[str]:
    """One subsection per reviewer's guard, with its status, findings and the evidence they rest on."""
    status = {g["key"]: g["status"] for g in guards}
    s = ["<h2>Reviewer's guards</h2>",
         "<p class='muted'>Leaks and shifts that survive code review, each judged with a confidence bound for the rows "
         "there are: severe (NOT READY) only when the bound clears the limit.</p>"]
    for key, title in GUARDS:
        word = status.get(key)
        s.append(f'<h3 id="guard-{key}">{escape(title)}' + (f" {_status(word)}" if word else "") + "</h3>")
        if key == "uncertainty":
            s += _uncertainty(results)
            continue
        mine = [f for f in findings if f["kind"] in GUARD_KINDS[key]]
        if not mine:
            s.append("<p class='muted'>Not checked for the current model (run stage=evaluate).</p>")
            continue
        s.append('<ul class="findings">' + "".join(
            f'<li><span class="{escape(f["severity"])}">{escape(f["severity"])}</span> ({escape(f.get("confidence", ""))} '
            f'confidence) {escape(f["kind"])}: {escape(f["message"])}'
            + (f"<br><i>What to do:</i> {escape(f['action'])}" if f.get("action") else "") + "</li>" for f in mine) + "</ul>")
        s += _guard_evidence(key, mine)
    return s


def _guard_evidence(key: str, findings: list[dict]) -> list[str]:
    """The numbers behind a guard's findings, as tables."""
    s = []
    for f in findings:
        e = f.get("evidence") or {}
        if f["kind"] == "near_duplicates" and "rows_checked" in e:
            s.append(_table(["measure", "value"], [
                ("holdout rows checked / in the holdout", f"{e['rows_checked']:,} / {e['rows_test']:,}"),
                ("training rows indexed", f"{e['rows_indexed']:,}"),
                (f"typical distance between training rows (median, to the {e.get('neighbour', 1)}-th nearest)",
                 e["typical_distance"]),
                ("near-duplicate threshold", f"{e['threshold']:.3g} ({e['near_ratio']:.0%} of typical)"),
                ("near-duplicate holdout rows (identical among them)", f"{e['near_rows']:,} ({e['identical_rows']:,})"),
                ("share, 95% lower bound", f"{e['share']:.2%}, {e['lower_bound']:.2%}"),
                ("expected by chance (intrinsic dimension)", f"{e['chance_share']:.2g} ({e['intrinsic_dimension']})"),
                ("training rows with a near-copy in training", f"{e['within_training_share']:.2%}"),
                ("column that explains the pairs", (e.get("explaining_column") or {}).get("column", "none")),
            ]))
            if e.get("examples"):
                s.append(_table(["holdout row", "nearest training row", "distance / typical"],
                                [(x["holdout_row"], x["train_row"], x["distance_to_typical"]) for x in e["examples"]]))
        elif f["kind"] == "train_holdout_shift" and "roc_auc" in e:
            s.append(_table(["measure", "value"], [
                ("out-of-fold ROC AUC (95% lower bound)", f"{e['roc_auc']:.4f} ({e['lower_bound']:.4f})"),
                ("per fold", ", ".join(f"{x:.4f}" for x in e["folds"])),
                ("rows (training + holdout)", f"{e['rows_train']:,} + {e['rows_holdout']:,}"),
                ("limit for this split", f"{e['limit']} ({e['split']} split)")]))
            s.append(_table(["column", "PSI", "KS statistic", "holdout values outside the training range"],
                            [(t["column"], "-" if t["psi"] is None else t["psi"],
                              "-" if t["ks_statistic"] is None else t["ks_statistic"],
                              "-" if t["out_of_range"] is None else f"{t['out_of_range']:.2%}") for t in e["top_columns"]]))
        elif "checked" in e and e["checked"]:
            s.append(_table(["feature", "measure", "value"] + (["missing share"] if f["kind"] == "missingness_leak" else ["levels"]),
                            [(c, v["measure"], v["value"], v.get("missing_share", v.get("levels", "-"))) for c, v in e["checked"].items()]))
        elif "lower_bound" in e and "measure" in e:
            s.append(_table(["feature", "measure", "value", "95% lower bound", "rows"],
                            [(e.get("feature", "-"), e["measure"], e["value"], e["lower_bound"], e.get("rows_checked", "-"))]))
    return s


def _uncertainty(results: dict) -> list[str]:
    paired = ((results or {}).get("intervals") or {}).get("difference") or {}
    if paired.get("low") is None:
        return ["<p class='muted'>No paired bootstrap recorded for the current model (run stage=evaluate).</p>"]
    gate = next((g for g in results.get("gates", []) if g["name"] == "baseline_margin"), None)
    rows = [("compared", paired["of"]), ("metric", paired["metric"]),
            ("model, best baseline", f"{paired['a']:.4f}, {paired['b']:.4f}"),
            ("difference", f"{paired['difference']:+.4f}"),
            (f"{paired['level']:.0%} interval of the difference", f"[{paired['low']:+.4f}, {paired['high']:+.4f}]"),
            ("draws in which the model is not better", f"{paired['not_better']:.1%}"),
            ("resamples (the same rows for both)", f"{paired['resamples']} resamples of the {paired['rows']:,} holdout rows"
                                               + (", within each class" if paired.get("stratified") else "")),
            ("verdict", _paired_words(paired["verdict"]))]
    margin = ((gate or {}).get("evidence") or {}).get("paired_bootstrap", {}).get("margin_difference")
    if margin is not None:
        rows.append(("difference the baseline gate asks for", f"{margin:+.4f}"))
    return [_table(["measure", "value"], rows)] + ([f"<p>Baseline gate: {escape(gate['detail'])}</p>"] if gate else [])


def _td(status: str) -> str:
    return f"<td>{_status(status)}</td>"
