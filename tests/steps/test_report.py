"""Issue 4: the report page, SHAP's additivity, readiness judged from evidence, leakage findings, living docs."""

from __future__ import annotations

import json
import shutil
from html.parser import HTMLParser

import numpy as np
import pandas as pd
import pytest

from specweave_ml.report.readiness import checklist

SECTIONS = ["Plan and its reasons", "Data profile", "Baselines versus candidates", "Cross-validation per fold",
            "Tuning", "Holdout metrics", "Gates", "SHAP explanations", "Load test", "Reviewer's guards", "Anti-pattern findings",
            "Production-readiness checklist", "Brief"]  # after the first screen's summary; the brief last, folded


class Page(HTMLParser):
    def __init__(self):
        super().__init__()
        self.stack, self.h2, self.refs, self.images, self._in_h2 = [], [], [], 0, False

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        if tag not in ("img", "meta", "br", "link"):
            self.stack.append(tag)
        self._in_h2 = tag == "h2"
        for key in ("src", "href"):
            if key in attrs:
                self.refs.append(attrs[key])
        if tag == "img":
            self.images += 1
        if tag in ("link", "script") and (attrs.get("href") or attrs.get("src")):
            self.refs.append(f"<{tag}> {attrs}")

    def handle_endtag(self, tag):
        assert self.stack and self.stack[-1] == tag, f"</{tag}> closes <{self.stack[-1] if self.stack else None}>"
        self.stack.pop()

    def handle_data(self, data):
        if self._in_h2 and data.strip():
            self.h2.append(data.strip())
            self._in_h2 = False


@pytest.mark.slow
def test_report_is_one_offline_page_with_every_section(increment):
    run = increment("breast_cancer")
    html = (run.inc / "reports" / "report.html").read_text()
    page = Page()
    page.feed(html)
    page.close()
    assert page.stack == ["html"] or page.stack == []  # every element closed (html may be left to the end)
    assert page.h2 == SECTIONS
    assert page.images >= 5  # holdout plots and SHAP plots, embedded
    outside = [r for r in page.refs if not r.startswith(("data:image/png;base64,", "#"))]
    assert outside == []  # images embedded; links only within the page, to sections that exist
    assert all(f'id="{r[1:]}"' in html for r in page.refs if r.startswith("#"))
    assert {"#guard-duplicates", "#guard-leaks", "#guard-shift", "#guard-uncertainty"} <= set(page.refs)  # readiness links
    assert "http://" not in html and "https://" not in html
    metrics = json.loads((run.inc / "reports" / "metrics.json").read_text())
    assert f"{metrics['holdout']['roc_auc']:.4f}" in html  # numbers come from the results, not placeholders
    first_screen, rest = html.split("<h2>", 1)
    assert '<section class="summary">' in first_screen and "Chosen model" in first_screen
    assert rest.index("<details><summary>The brief as composed") > rest.index("Production-readiness checklist</h2>")


@pytest.mark.slow
def test_readiness_needs_evidence_for_every_pass(increment, tmp_path):
    run = increment("breast_cancer")
    items = {i["item"]: i for i in json.loads((run.inc / "reports" / "readiness.json").read_text())["items"]}
    assert len(items) == 10
    for item in items.values():
        assert item["status"] in ("PASS", "FAIL", "NOT YET")
        if item["status"] == "PASS":
            assert item["evidence"], item
    # Take evidence away from a copy: the items it supported stop passing.
    root = tmp_path / "copy"
    shutil.copytree(run.root, root)
    inc = root / "increments" / run.increment
    from specweave_ml.paths import IncrementPaths
    from specweave_ml.results import Record

    paths = IncrementPaths(inc)
    shutil.rmtree(paths.shap)
    paths.baselines.unlink()
    (paths.model / "MLmodel").write_text((paths.model / "MLmodel").read_text() + "\n# edited\n")
    index = (root / "increments" / "README.md").read_text()
    after = {i.item: i for i in checklist(paths, Record.load(inc), 50, index, lambda run_id: False).values()}
    assert after["Model explainability generated (SHAP)"].status == "NOT YET"
    assert after["Baseline comparison documented"].status == "FAIL"
    assert after["Model versioned (tied to increment)"].status == "FAIL"
    assert after["Experiments tracked and documented"].status == "FAIL"  # the run is not in the store
    assert after["Load testing completed (latency < target)"].status == "NOT YET"


def _fitted(family: str, task: str, X, y):
    """The fitted model and its registry name."""
    from specweave_ml.models.decision import DecisionModel
    from specweave_ml.schema import ModelSchema
    from specweave_ml.training.pipelines import build_pipeline

    names = {"boosting-x": "xgboost", "boosting-l": "lightgbm", "forest": "random_forest", "tree": "decision_tree", "linear": "linear"}
    params = {"xgboost": {"n_estimators": 30}, "lightgbm": {"n_estimators": 30, "verbose": -1}, "random_forest": {"n_estimators": 20}}
    name = names[family]
    spec = ModelSchema(name=name, params=params.get(name, {}))
    return DecisionModel(build_pipeline(spec, task, X, list(X.columns), 0), task=task).fit(X, y), name


def _raw_output(model, X, name):
    est, Xt = model.pipeline_.named_steps["model"], model.pipeline_[:-1].transform(X)
    if name == "xgboost":
        return est.predict(Xt, output_margin=True)
    if name == "lightgbm":
        return est.predict(Xt, raw_score=True)
    return est.predict_proba(Xt)[:, 1]


@pytest.mark.slow
@pytest.mark.parametrize("family", ["boosting-x", "boosting-l", "forest", "tree"])
def test_tree_shap_values_add_up_to_the_model_output(family):
    from sklearn.datasets import load_breast_cancer

    from specweave_ml.explain.shap_values import explain
    from specweave_ml.models.registry import entry

    X, y = load_breast_cancer(return_X_y=True, as_frame=True)
    model, name = _fitted(family, "binary_classification", X, y)
    rows = X.iloc[:40]
    exp = explain(model, X.iloc[:50], rows, "binary_classification", entry(name).explainer)
    assert exp.values.shape == (40, X.shape[1]) and exp.explainer == "tree"
    np.testing.assert_allclose(exp.values.sum(axis=1) + exp.base, _raw_output(model, rows, name), rtol=1e-4, atol=1e-4)


@pytest.mark.slow
def test_multiclass_and_linear_shapes_are_normalised_in_one_place():
    from sklearn.datasets import load_wine

    from specweave_ml.explain.shap_values import explain
    from specweave_ml.models.registry import entry

    X, y = load_wine(return_X_y=True, as_frame=True)
    model, name = _fitted("boosting-l", "multiclass_classification", X, y)
    exp = explain(model, X.iloc[:30], X.iloc[:25], "multiclass_classification", entry(name).explainer)
    assert exp.values.shape == (25, X.shape[1], 3) and exp.base.shape == (25, 3)
    values, base = exp.for_class()
    assert values.shape == (25, X.shape[1]) and base.shape == (25,)
    lin, name = _fitted("linear", "multiclass_classification", X, y)
    linear = explain(lin, X.iloc[:30], X.iloc[:10], "multiclass_classification", entry(name).explainer)
    assert linear.values.shape == (10, X.shape[1], 3) and linear.explainer == "linear"


@pytest.mark.slow
def test_a_planted_target_copy_is_reported_as_leakage_and_blocks_readiness(tmp_path, stages_at):
    rng = np.random.default_rng(0)
    n = 600
    frame = pd.DataFrame(rng.normal(size=(n, 4)), columns=["a", "b", "c", "d"])
    frame["label"] = (frame["a"] + rng.normal(scale=2, size=n) > 0).astype(int)
    frame["refund_flag"] = frame["label"] * 3 + rng.normal(scale=0.01, size=n)  # known only after the outcome
    path = tmp_path / "leaky.csv"
    frame.to_csv(path, index=False)
    overrides = ["problem=breast_cancer", "problem.increment=0042-leaky", f"problem.data.source={path}",
                 "problem.data.target=label", "problem.metrics.others=[]", "model=linear", "tracking=off"]
    inc = stages_at(tmp_path, overrides, "prepare", "train", "evaluate")
    findings = json.loads((inc / "reports" / "antipatterns.json").read_text())["findings"]
    leaks = [f for f in findings if f["kind"] == "leakage" and f["severity"] == "severe"]
    assert [f["evidence"]["feature"] for f in leaks] == ["refund_flag"]
    metrics = json.loads((inc / "reports" / "metrics.json").read_text())
    assert metrics["ready"] is False and any("refund_flag" in r for r in metrics["reasons"])
    assert json.loads((inc / "metadata.json").read_text())["status"] == "not ready"


def test_living_docs_list_every_increment_newest_first(tmp_path, stages_at):
    for brief in ("wine", "diabetes"):
        stages_at(tmp_path, [f"problem={brief}", "model=linear", "tracking=off"], "prepare")
    index = (tmp_path / "increments" / "README.md").read_text()
    assert index.index("0004-diabetes-progression") < index.index("0003-wine-cultivar")  # diabetes ran last
    assert "| increment | title | task | chosen model | headline (holdout) | readiness | last run |" in index
