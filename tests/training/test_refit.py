"""The model that ships is the chosen one refitted on every row; the holdout scores the one that never saw it."""

import time
from types import SimpleNamespace

import numpy as np
import pandas as pd
import pytest

from specweave_ml.context import Context
from specweave_ml.data.split import FOLD
from specweave_ml.fileio import read_json
from specweave_ml.models.decision import DecisionModel
from specweave_ml.packaging import load_model
from specweave_ml.steps.common import planned
from specweave_ml.steps.train import ship
from specweave_ml.training.pipelines import build_pipeline, class_weights
from specweave_ml.training.refit import affordable, estimated_seconds, refit_on_all

FEATURES = ["a", "b", "noise"]


def _fitted_on(ctx, rows: pd.DataFrame, threshold: float) -> DecisionModel:
    """The linear model as training builds it, fitted on ``rows`` with the sqrt class weights."""
    plan = planned(ctx)
    y = (rows["label"] == "yes").astype(int)
    model = DecisionModel(build_pipeline(ctx.models["linear"], plan.task, rows[FEATURES], FEATURES, ctx.seed),
                          task=plan.task, threshold=threshold, classes=["no", "yes"])
    return model.fit(rows[FEATURES], rows["label"].to_numpy(), sample_weight=class_weights(y, "sqrt"))


@pytest.mark.slow
def test_the_champion_is_refitted_on_every_row_and_evaluate_scores_the_model_that_never_saw_the_holdout(
        stages, config, csv_brief, tmp_path, imbalanced_frame):
    overrides = csv_brief(tmp_path / "imbalanced.csv", imbalanced_frame, "label", "0110-refit", "binary_classification",
                          "model=linear", "tracking=off")
    inc = stages(overrides, "prepare", "train", "evaluate", "package")
    ctx = Context.from_cfg(config(overrides))
    train, test = pd.read_parquet(inc / "data/train.parquet"), pd.read_parquet(inc / "data/test.parquet")
    trained, meta = read_json(inc / "reports/training.json"), read_json(inc / "metadata.json")

    assert trained["refit"]["shipped"] == "refit"
    assert (trained["refit"]["rows"], trained["refit"]["rows_train"]) == (len(train) + len(test), len(train))
    champion = load_model(inc / "models/champion", meta["model"]["sha256"])
    evaluated = load_model(inc / "models/evaluated", meta["model"]["evaluated_sha256"])
    assert meta["model"]["sha256"] != meta["model"]["evaluated_sha256"]

    # The champion is the chosen configuration (its out-of-fold threshold and class weights kept) fitted on all rows;
    # the evaluated model is the same configuration fitted on the training rows alone.
    both = pd.concat([train, test], ignore_index=True)
    np.testing.assert_allclose(champion.scores(test[FEATURES]), _fitted_on(ctx, both, trained["threshold"]).scores(test[FEATURES]),
                               rtol=1e-9)
    np.testing.assert_allclose(evaluated.scores(test[FEATURES]), _fitted_on(ctx, train, trained["threshold"]).scores(test[FEATURES]),
                               rtol=1e-9)
    assert champion.threshold == evaluated.threshold == trained["threshold"]

    # The holdout's numbers come from the evaluated model's predictions, and the increment is still judged ready on them.
    metrics = read_json(inc / "reports/metrics.json")
    assert metrics["model_sha256"] == meta["model"]["evaluated_sha256"]
    predictions = pd.read_parquet(inc / metrics["predictions"])
    score = next(c for c in predictions.columns if c.startswith("score") or c.startswith("proba"))
    np.testing.assert_allclose(predictions[score].to_numpy(), evaluated.scores(test[FEATURES]), rtol=1e-9)
    assert not np.allclose(predictions[score].to_numpy(), champion.scores(test[FEATURES]))
    assert "refitted on all" in read_json(inc / "reports/package.json")["tasks"]["T-009"]["note"]
    assert "## The model that ships" in (inc / "plan.md").read_text()


@pytest.mark.slow
def test_refit_on_all_false_ships_the_evaluated_model(stages, csv_brief, tmp_path, imbalanced_frame):
    overrides = csv_brief(tmp_path / "imbalanced.csv", imbalanced_frame, "label", "0111-no-refit", "binary_classification",
                          "model=linear", "tracking=off", "selection.refit_on_all=false")
    inc = stages(overrides, "prepare", "train")
    trained, meta = read_json(inc / "reports/training.json"), read_json(inc / "metadata.json")
    assert trained["refit"]["shipped"] == "evaluated"
    assert "selection.refit_on_all=false" in trained["refit"]["why"]
    assert meta["model"]["sha256"] == meta["model"]["evaluated_sha256"]


def test_a_refit_the_budget_cannot_afford_is_not_made_and_the_plan_says_why(stages, config, csv_brief, tmp_path,
                                                                            imbalanced_frame):
    overrides = csv_brief(tmp_path / "imbalanced.csv", imbalanced_frame, "label", "0112-refit-budget", "binary_classification",
                          "model=linear", "tracking=off")
    inc = stages(overrides, "prepare")
    ctx = Context.from_cfg(config(overrides))
    train = pd.read_parquet(inc / "data/train.parquet")
    model = _fitted_on(ctx, train, 0.5)
    result = SimpleNamespace(budget={"final_fit_seconds": 2.0}, model=model, chosen="linear", classes=["no", "yes"],
                             weighting="sqrt")
    family, info = ctx.trainable_family(), read_json(inc / "data/split.json")

    skipped = ship(ctx, family, result, train, info, time.perf_counter() + 1.0, planned(ctx))
    assert skipped.model is None
    assert "not refitted on every row" in skipped.why and "the model evaluated on the holdout ships" in skipped.why

    text = SimpleNamespace(name="text", refits=False)  # a family that ships what it evaluated (an encoder is not refitted)
    kept = ship(ctx, text, result, train, info, time.perf_counter() + 60.0, planned(ctx))
    assert kept.model is None and "the text family ships the model evaluated" in kept.why

    made = ship(ctx, family, result, train, info, time.perf_counter() + 60.0, planned(ctx))
    assert made.model is not None and made.rows == len(train) + int(info["rows_test"])
    assert made.summary(len(train))["shipped"] == "refit"


def test_refit_keeps_the_fitted_model_and_its_settings():
    rng = np.random.default_rng(0)
    rows = pd.DataFrame({"a": rng.normal(size=300), "b": rng.normal(size=300), "noise": rng.normal(size=300)})
    rows["label"] = np.where(rows["a"] + rng.normal(scale=0.5, size=300) > 1.2, "yes", "no")
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import Pipeline

    first = DecisionModel(Pipeline([("model", LogisticRegression())]), task="binary_classification", threshold=0.3,
                          classes=["no", "yes"]).fit(rows[FEATURES].head(200), rows["label"].head(200))
    before = first.scores(rows[FEATURES])
    again = refit_on_all(first, rows, FEATURES, "label", "binary_classification", True, "sqrt", ["no", "yes"])
    assert again is not first and again.threshold == 0.3 and list(again.classes_) == ["no", "yes"]
    np.testing.assert_array_equal(first.scores(rows[FEATURES]), before)  # the evaluated model is left as it was
    y = (rows["label"] == "yes").astype(int)
    ref = LogisticRegression().fit(rows[FEATURES], y, sample_weight=class_weights(y, "sqrt"))
    np.testing.assert_allclose(again.scores(rows[FEATURES]), ref.predict_proba(rows[FEATURES])[:, 1], rtol=1e-6)


def test_the_refit_estimate_scales_the_final_fit_to_every_row_and_fits_the_time_left():
    assert estimated_seconds(2.0, 300, 400) == pytest.approx(2.0 * 400 / 300 * 1.3)
    assert affordable(3.0, None) and affordable(3.0, 3.0) and not affordable(3.1, 3.0)
