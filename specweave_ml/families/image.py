"""The image family: classification of small images, one row per image, its pixels in the feature columns.

Data is checked as images (``vision.images``: the pixel columns make the brief's ``image`` size, hold numbers
within 0..``image.max_value``, nothing missing); the split, CV folds, baselines, holdout metrics and plots are the
tabular family's, since a row of pixels is a row. Candidates are logistic regression on scaled pixels and a small
CNN in torch (``vision.cnn``), both scikit-learn estimators inside the same pipelines; the CNN gets the image size
from the brief. The CNN is explained with SHAP's GradientExplainer drawn over holdout digits (``vision.explain``);
``stage=predict`` also reads a folder of PNGs or a ``.npy`` array; the server (``serving.image_app``) takes a
base64 PNG or a pixel array.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Optional

import numpy as np
import pandas as pd

from specweave_ml.families.base import Checked, FitRequest
from specweave_ml.families.tabular import CLASSIFICATION, TabularFamily
from specweave_ml.schema import ProblemSchema


class ImageFamily(TabularFamily):
    name = "image"
    code = "specweave_ml/vision"
    shares_tuning = False  # a worker would rebuild the tabular evaluation, not the CNN's
    refits = False  # ships the model evaluated: a refit on every row would fit the network (or encode every text) again
    tasks = CLASSIFICATION
    notes = {"features": "pixels as they are, scaled inside each pipeline; the CNN sees them as images, with random "
                         "shifts and rotations while it trains",
             "explanations": "SHAP (the CNN: GradientExplainer attributions drawn over holdout images; logistic regression: "
                             "linear SHAP per pixel)",
             "endpoints": "POST /predict ({\"png\": base64} or {\"pixels\": [[...]]}), /predict/batch"}

    def serves(self, task: str, modality: str) -> bool:
        return modality == "image" and task in self.tasks

    # -- data ---------------------------------------------------------------------------------------------
    @staticmethod
    def _shape(frame_columns, problem: ProblemSchema):
        from specweave_ml.vision.images import pixel_columns, shape_of

        pixels = pixel_columns(frame_columns, problem)
        return pixels, shape_of(problem, len(pixels))

    def check(self, frame: pd.DataFrame, problem: ProblemSchema, cv_folds: int) -> Checked:
        from specweave_ml.data.checks import Finding, check_target, require_columns
        from specweave_ml.errors import DataError
        from specweave_ml.vision.images import check_pixels

        require_columns(list(frame.columns), problem)
        if frame.empty:
            raise DataError("problem.data.source", "the data has no rows", "give at least a few images per class")
        pixels, shape = self._shape(list(frame.columns), problem)
        check_pixels(frame, pixels, shape)
        check_target(frame[problem.data.target], problem.task.value, cv_folds)
        findings = []
        duplicates = int(frame.duplicated(subset=pixels).sum())
        if duplicates:
            findings.append(Finding("duplicate_rows", None, f"{duplicates} images are exact copies of another image "
                                    "(kept: the report's duplicates-across-split finding says whether the holdout shares them)",
                                    {"rows": duplicates}))
        columns = {"pixels": {"type": "image", "evidence": f"{len(pixels)} pixel columns = {shape.describe()} images, "
                              f"values 0..{shape.max_value:g}"}}
        return Checked(features=pixels, findings=findings, duplicate_rows=duplicates, columns=columns, frame=None)

    def fact_columns(self, problem: ProblemSchema) -> Optional[list[str]]:
        return None  # every column: the image size is checked against the pixel columns before anything is written

    def facts(self, frame: pd.DataFrame, problem: ProblemSchema, cv_folds: int):
        self._shape(list(frame.columns), problem)
        return super().facts(frame, problem, cv_folds)

    def prepare(self, frame: pd.DataFrame, checked: Checked, plan, problem: ProblemSchema, seed: int):
        """The tabular split; the image size rides along in the split info, so the load test builds PNGs at the
        model's real size."""
        prepared = super().prepare(frame, checked, plan, problem, seed)
        _, shape = self._shape(checked.features, problem)
        prepared.split_info["image"] = shape.as_dict()
        return prepared

    # -- training -----------------------------------------------------------------------------------------
    def fit(self, request: FitRequest):
        from specweave_ml.models.registry import build
        from specweave_ml.training.train import train

        r, info = request, request.split_info
        _, shape = self._shape(info["features"], r.problem)
        sizes = shape.as_dict()
        specs = {}
        for name, spec in r.specs.items():  # the image size goes to the models that take it (the CNN)
            taken = {k: v for k, v in sizes.items() if k in build(spec, r.plan.task, r.seed).get_params()} \
                if name in {c.name for c in r.plan.candidates} else {}
            specs[name] = spec if not taken else _with_params(spec, taken)
        result = train(r.plan, specs, r.train, info["features"], info["target"], r.seed, r.class_weighting,
                       r.problem.metrics.cost_ratio, on_fold=r.on_fold, tuning=r.tuning, deadline=r.deadline,
                       positive_class=r.problem.data.positive_class)
        from specweave_ml.vision.images import SHAPE_ATTRIBUTE

        setattr(result.model, SHAPE_ATTRIBUTE, sizes)
        return result

    def findings(self, plan, train, test, split_info, profile: dict, cv: dict, trained, model, seed: int) -> list:
        """Copies shared by training and holdout images, overfitting, imbalance; single-pixel leakage and the
        tabular guards (scaling, near-duplicate columns) say nothing about images."""
        from specweave_ml import antipatterns as ap

        features = split_info["features"]
        return [*ap.duplicates_across(train, test, features), *ap.overfitting(cv),
                *ap.imbalance(plan.imbalanced, plan.minority_share, trained.class_weighting, trained.threshold_rule,
                              plan.primary_metric)]

    def explain(self, model, model_name: str, train, test, split_info, plan, settings, seed: int, out_dir: Path) -> dict:
        estimator = model.pipeline_.named_steps["model"]
        if not hasattr(estimator, "net_"):  # logistic regression on pixels: linear SHAP, as for tables
            return super().explain(model, model_name, train, test, split_info, plan, settings, seed, out_dir)
        from specweave_ml.vision.explain import explain_cnn

        features, target = split_info["features"], split_info["target"]
        y_true = test[target].to_numpy()
        y_pred = np.asarray(model.predict(test[features]))
        return explain_cnn(estimator, train[features].to_numpy(float), test[features].to_numpy(float), y_true, y_pred,
                           features, settings, seed, out_dir, classes=np.asarray(model.classes_))

    # -- predictions, serving -----------------------------------------------------------------------------
    def read_input(self, path: Path, model) -> pd.DataFrame:
        """A folder of PNGs, a ``.npy`` array, one PNG, or a CSV / Parquet of pixel columns."""
        from specweave_ml.data.inputs import read_input
        from specweave_ml.vision.images import read_images

        shape = _shape_of(model)
        frame = read_images(path, shape, list(model.feature_names_in_))
        return read_input(path) if frame is None else frame

    def score(self, model, frame: pd.DataFrame) -> pd.DataFrame:
        from specweave_ml.vision.images import check_pixels

        check_pixels(frame, list(frame.columns), _shape_of(model), where="input column")
        return super().score(model, frame)

    def reference(self, paths, model, example: pd.DataFrame, model_meta: dict, cfg, seed: int) -> str:
        """The tabular drift reference (pixels and scores) plus the image size the server decodes PNGs to."""
        from specweave_ml.fileio import write_json
        from specweave_ml.serving.reference import build_reference

        profile = build_reference(model, example, model_meta, cfg.serving.drift.bins, min(cfg.explain.background_rows, 50), seed)
        profile["image"] = _shape_of(model).as_dict()
        write_json(paths.reference_profile, profile)
        return profile["model"]["explainer"]

    def requests(self, holdout: pd.DataFrame, columns: dict, split_info: dict, n: int, seed: int) -> tuple[str, list[bytes]]:
        """Load-test requests: holdout images to ``/predict``, half as base64 PNGs and half as pixel arrays, at the
        image size ``stage=prepare`` recorded in the split info; a split without it (prepared before) gets flat
        pixel lists only, which the server takes at any size, rather than a guessed shape."""
        import base64

        from specweave_ml.vision.images import Shape, encode_png

        rows = holdout[list(columns)].sample(n=min(n, len(holdout)), random_state=seed).to_numpy(float)
        sizes = split_info.get("image")
        shape = Shape(int(sizes["height"]), int(sizes["width"]), int(sizes["channels"]), float(sizes["max_value"])) \
            if sizes and int(sizes["height"]) * int(sizes["width"]) * int(sizes["channels"]) == len(columns) else None
        bodies = []
        for i, row in enumerate(rows):
            if shape is None:
                bodies.append(json.dumps({"pixels": row.tolist()}).encode())
            elif i % 2 == 0:
                bodies.append(json.dumps({"png": base64.b64encode(encode_png(row, shape)).decode()}).encode())
            else:
                bodies.append(json.dumps({"pixels": row.reshape(shape.height, shape.width, shape.channels)
                                          .squeeze(-1 if shape.channels == 1 else ()).tolist()}).encode())
        return "/predict", bodies

    def app(self, champion, config, challenger=None):
        from specweave_ml.serving.image_app import create_image_app

        return create_image_app(champion, config, challenger)  # a challenger is refused there (no A/B for images yet)


def _with_params(spec, extra: dict):
    from specweave_ml.schema import ModelSchema

    return ModelSchema(name=spec.name, params={**dict(spec.params), **extra}, classifier_params=dict(spec.classifier_params),
                       regressor_params=dict(spec.regressor_params), search=dict(spec.search))


def _shape_of(model):
    from specweave_ml.vision.images import model_shape

    return model_shape(model)


FAMILY = ImageFamily()
