"""The tabular family: classification and regression on rows and columns.

Data is checked column by column (``data.checks``), split with time, group or stratified CV folds
(``data.split``); baselines are scikit-learn dummies; candidates are the registry's tabular models, each one
scikit-learn Pipeline cross-validated on the saved folds (``training.train``); metrics come from the saved
holdout predictions (``evaluation.holdout``); explanations are SHAP values (``explain``); the server takes one
row or a batch of rows of the model's signature (``serving.app``).
"""

from __future__ import annotations

from pathlib import Path
from typing import Optional

import numpy as np
import pandas as pd

from specweave_ml.families.base import Checked, Evaluation, FitRequest, Prepared
from specweave_ml.plan import Plan
from specweave_ml.schema import ProblemSchema

CLASSIFICATION = ("binary_classification", "multiclass_classification")


class TabularFamily:
    name = "tabular"
    code = "specweave_ml/training"
    tasks = (*CLASSIFICATION, "regression")
    shares_tuning = True  # stage=tune_worker can join its tuning (it rebuilds the trial evaluation of training/train.py)
    ensembles = True  # a greedy ensemble of the candidates ships when it beats the best one in CV (training/ensemble.py)
    refits = True  # the chosen model is refitted on every row to ship (training/refit.py, selection.refit_on_all)
    notes = {"features": "imputation, scaling and encoding fitted inside each pipeline", "explanations": "SHAP",
             "endpoints": "POST /predict, /predict/batch, /explain"}

    def serves(self, task: str, modality: str) -> bool:
        return modality == "tabular" and task in self.tasks

    # -- data ---------------------------------------------------------------------------------------------
    def check(self, frame: pd.DataFrame, problem: ProblemSchema, cv_folds: int) -> Checked:
        from specweave_ml.data.checks import check_frame
        from specweave_ml.training.pipelines import encoding_findings

        found = check_frame(frame, problem, cv_folds)  # and what the pipelines will do with dates and many-level categories:
        findings = [*found.findings, *encoding_findings(found.frame, found.features)]
        return Checked(features=found.features, findings=findings, duplicate_rows=found.duplicate_rows,
                       columns=found.columns, frame=found.frame)

    def fact_columns(self, problem: ProblemSchema) -> Optional[list[str]]:
        return [problem.data.target]

    def facts(self, frame: pd.DataFrame, problem: ProblemSchema, cv_folds: int):
        from specweave_ml.data.checks import check_target
        from specweave_ml.resolver import DataFacts

        target, task = problem.data.target, problem.task.value
        share, classes = None, None
        if task in CLASSIFICATION:
            check_target(frame[target], task, cv_folds)
            counts = frame[target].value_counts()
            share, classes = float(counts.min() / len(frame)), len(counts)
        return DataFacts(n_rows=len(frame), minority_share=share, n_classes=classes)

    def prepare(self, frame: pd.DataFrame, checked: Checked, plan: Plan, problem: ProblemSchema, seed: int) -> Prepared:
        from specweave_ml.data.profile import profile
        from specweave_ml.data.split import fingerprint, make_split

        d = problem.data
        keep = [c for c in dict.fromkeys([*checked.features, d.target, d.time_column, d.group_column]) if c is not None]
        source_fp = fingerprint(frame)  # of the data as loaded; the split is of the data as checked
        data = frame if checked.frame is None else checked.frame
        split = make_split(data[keep], plan.split, d.target, seed)
        split.info.update(source_fingerprint=source_fp, features=checked.features, target=d.target)
        prof = profile(data, d.target, plan.task, checked, source_fp)
        return Prepared(train=split.train, test=split.test, split_info=split.info, profile=prof)

    def recorded_facts(self, prepared, split_info: dict):
        from specweave_ml.resolver import DataFacts

        return DataFacts(prepared.rows, prepared.minority_share, prepared.n_classes)

    def example_input(self, frame: pd.DataFrame, split_info: dict) -> pd.DataFrame:
        return frame[split_info["features"]]

    # -- training and evaluation ----------------------------------------------------------------------------
    def fit(self, request: FitRequest):
        from specweave_ml.training.train import train

        r, info = request, request.split_info
        return train(r.plan, r.specs, r.train, info["features"], info["target"], r.seed, r.class_weighting,
                     r.problem.metrics.cost_ratio, on_fold=r.on_fold, tuning=r.tuning, deadline=r.deadline, ensemble=self.ensembles,
                     positive_class=r.problem.data.positive_class, compute=r.compute, refit_rows=r.refit_rows)

    def refit(self, model, rows: pd.DataFrame, split_info: dict, plan: Plan, trained_classes, class_weighting: str):
        """The fitted ``model`` fitted again, as it was chosen, on ``rows`` (the training and holdout parts)."""
        from specweave_ml.training.refit import refit_on_all

        return refit_on_all(model, rows, split_info["features"], split_info["target"], plan.task, plan.imbalanced,
                            class_weighting, trained_classes)

    def evaluate(self, model, train, test, split_info, plan: Plan, trained, cv: dict, seed: int, read_back) -> Evaluation:
        from specweave_ml.data.split import ROW
        from specweave_ml.evaluation.bootstrap import predictions_difference, predictions_interval
        from specweave_ml.evaluation.holdout import holdout_metrics, predictions_frame

        features, target, task, classes = split_info["features"], split_info["target"], plan.task, trained.classes
        names = [plan.primary_metric, *plan.secondary_metrics]
        scores = model.scores(test[features])
        preds = read_back(predictions_frame(test[ROW], test[target], model.decide(scores), scores, task, classes))
        holdout = holdout_metrics(preds, task, names, classes)
        baselines, best, best_preds = self._baselines(cv, train, test, features, target, plan, classes, names, seed)
        majority = baselines.get("most_frequent", {}).get("holdout", {}).get("accuracy")
        details = {k: v for k, v in holdout.items() if k != "metrics"}
        if best is None:
            intervals = {"model": predictions_interval(preds, task, plan.primary_metric, classes, seed), "baseline": {}}
        else:  # one paired bootstrap: each one's interval (as predictions_interval gives it) and their difference's
            paired = predictions_difference(preds, best_preds, task, plan.primary_metric, classes, seed)
            model_ci, base_ci = paired.pop("a_interval"), paired.pop("b_interval")
            intervals = {"model": model_ci, "baseline": {"name": best, **base_ci},
                         "difference": {"of": f"{trained.chosen} - {best}", **paired}}
        return Evaluation(preds, holdout["metrics"], details, baselines, majority, intervals)

    def compare(self, preds_a: pd.DataFrame, preds_b: pd.DataFrame, task: str, metric: str, classes, seed: int) -> dict:
        """Two models' saved holdout predictions compared on the rows both scored (paired bootstrap of ``a - b``)."""
        from specweave_ml.data.split import ROW
        from specweave_ml.evaluation.bootstrap import predictions_difference

        both = preds_a.merge(preds_b, on=ROW, suffixes=("", "_b"))
        if both.empty:
            return {"compared": False, "why": "the two holdouts share no row (the data was split again)"}
        if not (both["y_true"] == both["y_true_b"]).all():
            return {"compared": False, "why": "the shared rows have different targets (the data changed)"}
        a = both[[c for c in preds_a.columns]]
        b = both[[ROW, "y_true"] + [f"{c}_b" for c in preds_b.columns if c not in (ROW, "y_true")]]
        b = b.rename(columns=lambda c: c.removesuffix("_b"))
        out = predictions_difference(a, b, task, metric, classes, seed)
        return {"compared": True, "rows_a": len(preds_a), "rows_b": len(preds_b), **out}

    @staticmethod
    def _baselines(cv, train, test, features, target, plan, classes, names, seed) -> tuple[dict, Optional[str], Optional[pd.DataFrame]]:
        """Each baseline's holdout metrics, and the best one's name and holdout predictions (by the primary metric)."""
        from specweave_ml.data.split import ROW
        from specweave_ml.evaluation.holdout import holdout_metrics, predictions_frame
        from specweave_ml.metrics import METRICS
        from specweave_ml.training.baselines import baseline_model

        out, preds = {}, {}
        for b in cv["baselines"]:
            dummy = baseline_model(b["name"], plan.task, seed, classes).fit(train[features], train[target])
            scores = dummy.scores(test[features])
            preds[b["name"]] = predictions_frame(test[ROW], test[target], dummy.decide(scores), scores, plan.task, classes)
            out[b["name"]] = {"cv": b, "holdout": holdout_metrics(preds[b["name"]], plan.task, names, classes)["metrics"]}
        if not out:
            return out, None, None
        metric = plan.primary_metric
        sign = 1 if METRICS[metric].greater_is_better else -1
        best = max(out, key=lambda n: sign * out[n]["holdout"][metric])  # the same pick as the baseline gate's
        return out, best, preds[best]

    def findings(self, plan: Plan, train, test, split_info, profile: dict, cv: dict, trained, model, seed: int) -> list:
        from specweave_ml import antipatterns as ap
        from specweave_ml.guards import review

        features, target = split_info["features"], split_info["target"]
        single = ap.single_feature_leakage(train, features, target, plan.task, seed=seed)
        return [
            *single,
            *ap.target_named(features, target),
            *ap.look_ahead(profile["dtypes"], plan.split.time_column, plan.split.strategy),
            *ap.duplicates_across(train, test, features),
            *review(train, test, features, target, plan.task, plan.split, seed,
                    flagged=frozenset(f.evidence["feature"] for f in single)),
            *ap.overfitting(cv),
            *ap.imbalance(plan.imbalanced, plan.minority_share, trained.class_weighting, trained.threshold_rule,
                          plan.primary_metric),
            *ap.from_profile(profile),
            *[f for member in getattr(model, "members_", [model]) for f in ap.pipeline_guard(member, train[features])],
        ]

    def plots(self, predictions: pd.DataFrame, plan: Plan, classes, plots_dir: Path, curves_dir: Path) -> list[Path]:
        from specweave_ml.evaluation.plots import curve_points, draw

        drawn = draw(predictions, plan.task, classes, plots_dir)
        curve_points(predictions, plan.task, classes, curves_dir)
        return drawn

    def dvc_plots(self, task: str) -> dict[str, dict]:
        from specweave_ml.evaluation.plots import CURVES

        return CURVES[task]

    def explain(self, model, model_name: str, train, test, split_info, plan: Plan, settings, seed: int, out_dir: Path) -> dict:
        from specweave_ml.data.split import ROW
        from specweave_ml.explain.outputs import choose_rows, sample_for_explanation, write
        from specweave_ml.explain.shap_values import explain
        from specweave_ml.models.registry import entry

        features = split_info["features"]
        rng = np.random.default_rng(seed)
        size = min(settings.background_rows, len(train))
        background = train[features].iloc[np.sort(rng.choice(len(train), size=size, replace=False))]
        scores = model.scores(test[features])
        positions = sample_for_explanation(test, scores, settings.explain_rows, seed)
        if model_name == "ensemble":  # the weighted sum of its members' SHAP values, each in probability (or value) space
            from specweave_ml.training.ensemble import explain_ensemble

            explained = explain_ensemble(model, background, test[features].iloc[positions], plan.task, seed)
        else:
            explained = explain(model, background, test[features].iloc[positions], plan.task, entry(model_name).explainer, seed)
        local = choose_rows(np.asarray(scores)[positions], settings.local_top, settings.local_random, seed)
        summary = write(explained, out_dir, local, settings.top_features)
        summary["local_rows"] = {label: int(test[ROW].iloc[positions[r]]) for label, r in local.items()}
        return summary

    # -- predictions, A/B tests, serving ------------------------------------------------------------------
    def read_input(self, path: Path, model) -> pd.DataFrame:
        from specweave_ml.data.inputs import read_input

        return read_input(path)

    def check_monitoring(self) -> None:
        """``stage=monitor`` is built for this family (see ``Family.check_monitoring``)."""

    def conform(self, frame: pd.DataFrame, model_dir: Path) -> pd.DataFrame:
        """A user's rows checked against the packaged model's signature (one message naming any bad column)."""
        from specweave_ml.data.inputs import conform
        from specweave_ml.packaging import signature_columns

        return conform(frame, signature_columns(model_dir))

    def reference(self, paths, model, example: pd.DataFrame, model_meta: dict, cfg, seed: int) -> str:
        """The drift reference profile of the model's inputs and scores; returns the server's SHAP explainer kind."""
        from specweave_ml.serving.reference import write_reference

        profile = write_reference(paths, model, example, model_meta, cfg.serving.drift.bins, cfg.explain.background_rows, seed)
        return profile["model"]["explainer"]

    def default_input(self, model) -> Optional[pd.DataFrame]:
        return None  # rows to score come from input=

    def score(self, model, frame: pd.DataFrame) -> pd.DataFrame:
        scores = model.scores(frame)
        out = pd.DataFrame(index=frame.index)
        if model.task == "multiclass_classification":
            for i, c in enumerate(model.classes_):
                out[f"proba_{c}"] = scores[:, i]
        elif model.task == "binary_classification":
            out["score"] = scores
        out["prediction"] = model.decide(scores)
        return out

    def online_metric(self, predictions: pd.DataFrame, task: str, classes):
        from specweave_ml.errors import DataError
        from specweave_ml.serving.abtest import Metric

        if task == "binary_classification":
            positive = classes[1]
            actual, flagged = predictions["y_true"] == positive, predictions["y_pred"] == positive
            if not actual.any():
                raise DataError("reports/predictions.parquet", "the holdout has no positive rows", "re-split with more data")
            return Metric("recall", f"share of actual '{positive}' rows the decision flags, once their labels arrive",
                          "actual positive", float(actual.mean()), float((actual & flagged).sum() / actual.sum()), "proportion")
        if task == "multiclass_classification":
            return Metric("accuracy", "share of requests whose decided class is confirmed, once labels arrive",
                          "request", 1.0, float((predictions["y_true"] == predictions["y_pred"]).mean()), "proportion")
        errors = np.abs(predictions["y_true"].to_numpy(float) - predictions["y_pred"].to_numpy(float))
        return Metric("mean absolute error", "mean |actual - predicted| per request, once actuals arrive", "request", 1.0,
                      float(errors.mean()), "mean", sigma=float(errors.std(ddof=1)), lower_is_better=True)

    def requests(self, holdout: pd.DataFrame, columns: dict, split_info: dict, n: int, seed: int) -> tuple[str, list[bytes]]:
        """Load-test requests: complete rows of the holdout, as a client would send them to ``/predict``."""
        import json

        from specweave_ml.errors import DataError

        rows = holdout[list(columns)].dropna()
        if rows.empty:
            raise DataError("data/test.parquet", "no complete row (every row has a missing value) to send",
                            "the server refuses missing values; load-test with complete rows")
        rows = rows.sample(n=min(n, len(rows)), random_state=seed)
        return "/predict", [json.dumps(r).encode() for r in rows.to_dict(orient="records")]

    def app(self, champion, config, challenger=None):
        from specweave_ml.serving.app import create_app

        return create_app(champion, config, challenger)


FAMILY = TabularFamily()
