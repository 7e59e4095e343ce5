"""Greedy ensemble selection over out-of-fold scores, and the fitted ``WeightedEnsemble``.

Selection is tested on constructed out-of-fold scores (the answer is known); the estimator on real small models
(breast cancer, wine, diabetes from scikit-learn) built the way training builds candidates.
"""

import pickle

import numpy as np
import pandas as pd
import pytest
from omegaconf import OmegaConf
from sklearn.datasets import load_breast_cancer, load_diabetes, load_wine

from specweave_ml.models.decision import DecisionModel
from specweave_ml.models.ensemble import WeightedEnsemble
from specweave_ml.training.cv import CVResult, metric_value
from specweave_ml.training.ensemble import Selection, explain_ensemble, footprint, select, select_from_cv, verdict
from specweave_ml.training.pipelines import build_pipeline

BINARY, MULTI, REG = "binary_classification", "multiclass_classification", "regression"


def sigmoid(z):
    return 1 / (1 + np.exp(-z))


def binary_oof(n=400, folds=5, seed=0):
    """y, fold, and three candidates: ``a`` (best alone), ``a_twin`` (a's errors again), ``b`` (independent errors)."""
    rng = np.random.default_rng(seed)
    y = rng.integers(0, 2, n)
    fold = np.arange(n) % folds
    a = y + rng.normal(0, 1.0, n)
    return y, fold, {
        "a": sigmoid(a),
        "a_twin": sigmoid(a + rng.normal(0, 0.05, n)),
        "b": sigmoid(y + rng.normal(0, 1.1, n)),
    }


def positions(scores):
    return {name: (np.arange(len(s)), s) for name, s in scores.items()}


# --- greedy selection ---------------------------------------------------------------------------------------

def test_greedy_selection_adds_the_member_with_independent_errors_not_the_twin():
    y, fold, oof = binary_oof()
    s = select(positions(oof), y, fold, "roc_auc", BINARY, [0, 1])
    assert s.best_name == "a"
    assert "b" in s.weights and "a_twin" not in s.weights
    assert s.mean > s.best_mean + 1e-4 and s.nested_mean > s.best_mean
    assert s.ships, s.reason
    assert s.reason.startswith(f"CV {s.mean:.4f}") and "beats a" in s.reason and "2 members" in s.reason
    assert s.history == sorted(s.history) and s.history[0] == pytest.approx(s.best_mean)


def test_weights_are_counts_over_the_total_and_sum_to_one():
    y, fold, oof = binary_oof()
    s = select(positions(oof), y, fold, "roc_auc", BINARY, [0, 1])
    total = sum(s.counts.values())
    assert sum(s.weights.values()) == pytest.approx(1.0)
    assert s.weights == {n: pytest.approx(c / total) for n, c in s.counts.items()}
    assert total == len(s.history)  # one pick per accepted round


def test_rounds_caps_the_number_of_picks():
    y, fold, oof = binary_oof()
    assert sum(select(positions(oof), y, fold, "roc_auc", BINARY, [0, 1], rounds=1).counts.values()) == 1
    assert sum(select(positions(oof), y, fold, "roc_auc", BINARY, [0, 1], rounds=2).counts.values()) <= 2


def test_per_fold_scores_are_metric_value_on_each_folds_rows_of_the_weighted_average():
    y, fold, oof = binary_oof()
    s = select(positions(oof), y, fold, "roc_auc", BINARY, [0, 1])
    blend = sum(w * oof[n] for n, w in s.weights.items())
    expected = [metric_value("roc_auc", BINARY, y[fold == f], blend[fold == f], [0, 1]) for f in range(5)]
    assert s.fold_scores == pytest.approx(expected)
    assert s.oof_scores == pytest.approx(blend)
    assert s.best_fold_scores == pytest.approx(
        [metric_value("roc_auc", BINARY, y[fold == f], oof["a"][fold == f], [0, 1]) for f in range(5)])
    assert s.mean == pytest.approx(np.mean(expected)) and s.std == pytest.approx(np.std(expected))


def test_a_label_metric_is_read_at_the_same_half_threshold_as_the_candidates():
    y, fold, oof = binary_oof()
    s = select(positions(oof), y, fold, "accuracy", BINARY, [0, 1])
    blend = sum(w * oof[n] for n, w in s.weights.items())
    assert s.fold_scores == pytest.approx(
        [metric_value("accuracy", BINARY, y[fold == f], blend[fold == f], [0, 1]) for f in range(5)])


def test_the_best_single_mean_equals_the_candidates_cv_mean_on_the_same_folds():
    """Per fold, the selection's yardstick is the one cross_validate used for ``val_scores``."""
    y, fold, oof = binary_oof()
    s = select(positions(oof), y, fold, "roc_auc", BINARY, [0, 1])
    cv_mean = np.mean([metric_value("roc_auc", BINARY, y[fold == f], oof["a"][fold == f], [0, 1]) for f in range(5)])
    assert s.single_means["a"] == pytest.approx(cv_mean) == pytest.approx(s.best_mean)


# --- refusals -------------------------------------------------------------------------------------------------

def test_a_dominant_model_plus_noise_is_refused_with_one_member_only():
    rng = np.random.default_rng(1)
    y, fold = rng.integers(0, 2, 300), np.arange(300) % 5
    oof = {"strong": sigmoid(3 * (y - 0.5) + rng.normal(0, 0.3, 300)), "noise": rng.random(300)}
    s = select(positions(oof), y, fold, "roc_auc", BINARY, [0, 1])
    assert not s.ships
    assert s.weights == {"strong": 1.0}
    assert s.reason.startswith("one member only: strong")


def test_an_ensemble_that_does_not_beat_the_best_by_the_tolerance_is_refused():
    y, fold, oof = binary_oof()
    s = select(positions(oof), y, fold, "roc_auc", BINARY, [0, 1], tolerance=0.5)
    assert len(s.weights) >= 2 and not s.ships
    assert s.reason.startswith(f"CV {s.mean:.4f} does not beat a {s.best_mean:.4f} by more than 0.5")


def selection(mean, best, nested=None, members=("a", "b"), metric="roc_auc", tolerance=1e-4, ship_on="nested"):
    return Selection(metric=metric, ships=False, reason="", weights={m: 1 / len(members) for m in members},
                     fold_scores=[mean, mean], nested_fold_scores=[] if nested is None else [nested, nested],
                     best_name="a", best_fold_scores=[best, best], tolerance=tolerance, ship_on=ship_on)


@pytest.mark.parametrize(("mean", "best", "ships"), [
    (0.8012, 0.8020, False),  # worse
    (0.8020, 0.8020, False),  # equal: a margin of 0 is no gain
    (0.80209, 0.8020, False),  # better by less than the tolerance
    (0.8022, 0.8020, True),  # better by more
])
def test_verdict_needs_a_gain_strictly_above_the_tolerance(mean, best, ships):
    ok, reason = verdict(selection(mean, best, ship_on="in_sample"))
    assert ok is ships
    assert reason.startswith(f"CV {mean:.4f} beats a" if ships else f"CV {mean:.4f} does not beat a {best:.4f}")


def test_verdict_for_a_lower_is_better_metric():
    assert verdict(selection(3.10, 3.20, metric="rmse", ship_on="in_sample"))[0]
    ok, reason = verdict(selection(3.21, 3.20, metric="rmse", ship_on="in_sample"))
    assert not ok and "(lower is better)" in reason


def test_verdict_refuses_a_gain_that_vanishes_with_weights_chosen_on_other_folds():
    ok, reason = verdict(selection(0.83, 0.80, nested=0.799))
    assert not ok and "with weights chosen on the other folds it scores 0.7990" in reason
    assert verdict(selection(0.83, 0.80, nested=0.799, ship_on="in_sample"))[0]  # silent when asked for in-sample
    assert verdict(selection(0.83, 0.80, nested=0.81))[0]  # silent when the nested estimate holds up


def test_one_candidate_is_not_an_ensemble():
    y, fold, oof = binary_oof()
    s = select({"a": (np.arange(len(y)), oof["a"])}, y, fold, "roc_auc", BINARY, [0, 1])
    assert not s.ships and s.reason == "fewer than two candidates with out-of-fold scores (have: a)"
    assert s.weights == {}


def test_candidates_that_validated_different_rows_are_refused():
    y, fold, oof = binary_oof()
    index = positions(oof)
    index["b"] = (np.arange(1, len(y) + 1), oof["b"])  # shifted by one row
    s = select(index, y, fold, "roc_auc", BINARY, [0, 1])
    assert not s.ships and s.weights == {}
    assert s.reason.startswith("the candidates validated different rows: b differ from a")


def test_shuffled_out_of_fold_positions_are_aligned_by_their_index():
    y, fold, oof = binary_oof()
    order = np.random.default_rng(5).permutation(len(y))
    shuffled = {n: (order, s[order]) for n, s in oof.items()}
    a, b = select(positions(oof), y, fold, "roc_auc", BINARY, [0, 1]), select(shuffled, y, fold, "roc_auc", BINARY, [0, 1])
    assert a.weights == b.weights and a.fold_scores == pytest.approx(b.fold_scores)
    assert np.array_equal(b.oof_index, np.arange(len(y)))


def test_unusable_candidates_are_left_out_with_their_reason():
    y, fold, oof = binary_oof()
    index = positions(oof)
    index["broken"] = (np.arange(len(y)), np.full(len(y), np.nan))
    cvs = [CVResult(n, "candidate", "roc_auc", oof_index=i, oof_scores=s) for n, (i, s) in index.items()]
    cvs.append(CVResult("unscored", "candidate", "roc_auc"))
    s = select_from_cv(cvs, y, fold, "roc_auc", BINARY, [0, 1])
    assert s.excluded == {"unscored": "no out-of-fold scores", "broken": "its out-of-fold scores are not all finite"}
    assert "broken" not in s.single_means and s.ships


def test_an_expanding_window_scores_only_the_validated_rows():
    """Rows of fold -1 were never validated: they are not in the out-of-fold positions, nor scored."""
    y, fold, oof = binary_oof(n=400, folds=4)
    fold = np.where(np.arange(400) < 80, -1, fold)
    validated = np.flatnonzero(fold >= 0)
    s = select({n: (validated, v[validated]) for n, v in oof.items()}, y, fold, "roc_auc", BINARY, [0, 1])
    assert len(s.fold_scores) == 4 and len(s.oof_scores) == len(validated)


def test_regression_picks_by_lower_rmse():
    rng = np.random.default_rng(2)
    y, fold = rng.normal(size=300), np.arange(300) % 3
    oof = {"p": y + rng.normal(0, 0.5, 300), "q": y + rng.normal(0, 0.55, 300)}
    s = select(positions(oof), y, fold, "rmse", REG, None)
    assert set(s.weights) == {"p", "q"} and s.ships
    assert s.mean < s.best_mean and s.best_name == "p"
    blend = sum(w * oof[n] for n, w in s.weights.items())
    assert s.fold_scores == pytest.approx([metric_value("rmse", REG, y[fold == f], blend[fold == f], None) for f in range(3)])


def test_multiclass_averages_probability_matrices():
    rng = np.random.default_rng(4)
    n, k = 300, 3
    y, fold = rng.integers(0, k, n), np.arange(n) % 3

    def probs(noise):
        logits = 2 * np.eye(k)[y] + rng.normal(0, noise, (n, k))
        e = np.exp(logits)
        return e / e.sum(axis=1, keepdims=True)

    oof = {"m1": probs(1.5), "m2": probs(1.5)}
    s = select(positions(oof), y, fold, "log_loss", MULTI, [0, 1, 2])
    assert s.oof_scores.shape == (n, k) and np.allclose(s.oof_scores.sum(axis=1), 1)
    assert set(s.weights) == {"m1", "m2"} and s.mean < s.best_mean  # log loss: lower is better
    assert s.fold_scores == pytest.approx(
        [metric_value("log_loss", MULTI, y[fold == f], s.oof_scores[fold == f], [0, 1, 2]) for f in range(3)])


def test_bad_arguments_are_our_callers_bug():
    y, fold, oof = binary_oof()
    with pytest.raises(ValueError, match="ship_on"):
        select(positions(oof), y, fold, "roc_auc", BINARY, [0, 1], ship_on="maybe")
    with pytest.raises(ValueError, match="rounds"):
        select(positions(oof), y, fold, "roc_auc", BINARY, [0, 1], rounds=0)


def test_summary_shows_the_ensemble_and_the_best_single_model():
    y, fold, oof = binary_oof()
    summary = select(positions(oof), y, fold, "roc_auc", BINARY, [0, 1]).summary()
    assert summary["best_single"]["name"] == "a" and set(summary["weights"]) >= {"a", "b"}
    assert {"mean", "std", "nested_mean", "ships", "reason", "folds"} <= set(summary)


# --- the fitted ensemble --------------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def specs(composed):
    cfg = composed()
    return {name: OmegaConf.to_object(cfg.models[name]) for name in SMALL}


SMALL = {"linear": {}, "random_forest": {"n_estimators": 25, "n_jobs": 1}, "xgboost": {"n_estimators": 30, "n_jobs": 1}}


def members(specs, task, X, classes=None, names=("linear", "random_forest")):
    return [(n, DecisionModel(build_pipeline(specs[n], task, X, list(X.columns), 0, SMALL[n]), task=task, classes=classes))
            for n in names]


@pytest.fixture(scope="module")
def cancer():
    data = load_breast_cancer(as_frame=True)
    y = np.where(data.target == 1, "benign", "malignant")
    return data.data, y


@pytest.fixture(scope="module")
def fitted(specs, cancer):
    X, y = cancer
    return WeightedEnsemble(members(specs, BINARY, X, ["benign", "malignant"]), [0.3, 0.7], BINARY, threshold=0.4,
                            classes=["benign", "malignant"]).fit(X, y)


def test_predict_proba_is_the_weighted_average_of_the_members(fitted, cancer, specs):
    X, y = cancer
    alone = [m.fit(X, y) for _, m in members(specs, BINARY, X, ["benign", "malignant"])]
    expected = 0.3 * alone[0].predict_proba(X) + 0.7 * alone[1].predict_proba(X)
    assert np.allclose(fitted.predict_proba(X), expected)
    assert np.allclose(fitted.scores(X), expected[:, 1])
    assert list(fitted.classes_) == ["benign", "malignant"]
    assert list(fitted.feature_names_in_) == list(X.columns) and fitted.n_features_in_ == X.shape[1]


def test_binary_decisions_follow_the_ensembles_threshold_like_a_single_model(fitted, cancer):
    X, _ = cancer
    scores = fitted.scores(X)
    assert np.array_equal(fitted.predict(X), np.where(scores >= 0.4, "malignant", "benign"))
    fitted_high = pickle.loads(pickle.dumps(fitted)).set_params(threshold=0.9)
    assert (fitted_high.predict(X) == "malignant").sum() <= (fitted.predict(X) == "malignant").sum()


def test_the_ensemble_pickles_with_identical_predictions(fitted, cancer):
    X, _ = cancer
    back = pickle.loads(pickle.dumps(fitted))
    assert np.array_equal(back.predict_proba(X), fitted.predict_proba(X))
    assert np.array_equal(back.predict(X), fitted.predict(X))
    assert back.names_ == ["linear", "random_forest"] and back.weights_ == pytest.approx([0.3, 0.7])


def test_from_fitted_takes_members_as_they_are(fitted, cancer):
    X, _ = cancer
    again = WeightedEnsemble.from_fitted(zip(fitted.names_, fitted.members_), [3, 7], BINARY, threshold=0.4)
    assert np.array_equal(again.predict_proba(X), fitted.predict_proba(X))
    assert list(again.feature_names_in_) == list(X.columns)


def test_multiclass_argmax_of_the_averaged_probabilities(specs):
    data = load_wine(as_frame=True)
    X, y = data.data, np.array(["a", "b", "c"])[data.target]
    model = WeightedEnsemble(members(specs, MULTI, X), [1, 1], MULTI).fit(X, y)
    proba = model.predict_proba(X)
    assert proba.shape == (len(X), 3) and np.allclose(proba.sum(axis=1), 1)
    assert np.array_equal(model.predict(X), np.array(["a", "b", "c"])[proba.argmax(axis=1)])


def test_regression_averages_the_members_values(specs):
    data = load_diabetes(as_frame=True)
    X, y = data.data, data.target.to_numpy()
    model = WeightedEnsemble(members(specs, REG, X), [0.25, 0.75], REG).fit(X, y)
    alone = [m.fit(X, y).predict(X) for _, m in members(specs, REG, X)]
    assert np.allclose(model.predict(X), 0.25 * alone[0] + 0.75 * alone[1])
    assert not hasattr(model, "predict_proba") and 0 < model.score(X, y) <= 1


def test_the_ensemble_refuses_members_that_disagree(fitted, cancer, specs):
    X, y = cancer
    flipped = DecisionModel(build_pipeline(specs["linear"], BINARY, X, list(X.columns), 0), task=BINARY,
                            classes=["malignant", "benign"]).fit(X, y)
    with pytest.raises(ValueError, match="member flipped has classes"):
        WeightedEnsemble.from_fitted([("linear", fitted.members_[0]), ("flipped", flipped)], [1, 1], BINARY)
    narrow = DecisionModel(build_pipeline(specs["linear"], BINARY, X.iloc[:, :5], list(X.columns[:5]), 0), task=BINARY,
                           classes=["benign", "malignant"]).fit(X.iloc[:, :5], y)
    with pytest.raises(ValueError, match="different columns"):
        WeightedEnsemble.from_fitted([("linear", fitted.members_[0]), ("narrow", narrow)], [1, 1], BINARY)


@pytest.mark.parametrize(("weights", "match"), [([1], "one weight per member"), ([1, -1], "non-negative"),
                                                ([0, 0], "not all zero")])
def test_the_ensemble_refuses_bad_weights(specs, cancer, weights, match):
    X, y = cancer
    with pytest.raises(ValueError, match=match):
        WeightedEnsemble(members(specs, BINARY, X), weights, BINARY).fit(X, y)


def test_footprint_measures_size_and_time(fitted, cancer):
    X, _ = cancer
    cost = footprint(fitted, X.head(50), repeats=2)
    assert cost["bytes"] > len(pickle.dumps(fitted.members_[0])) and cost["ms_per_call"] > 0 and cost["rows"] == 50


# --- SHAP of the ensemble ---------------------------------------------------------------------------------------

def test_shap_of_the_ensemble_adds_up_to_its_probability(fitted, cancer):
    """Logistic regression's native SHAP is in log-odds, the forest's in probability: the linear member is
    explained again in probability, so values + base reproduce the ensemble's scores row by row."""
    X, _ = cancer
    explained = explain_ensemble(fitted, X.iloc[:40], X.iloc[100:104], BINARY, seed=0)
    assert explained.values.shape == (4, X.shape[1]) and explained.features == list(X.columns)
    assert "linear:permutation" in explained.explainer and "random_forest:tree" in explained.explainer
    assert np.allclose(explained.values.sum(axis=1) + explained.base, fitted.scores(X.iloc[100:104]), atol=1e-5)


def test_shap_of_the_ensemble_is_per_input_column_when_members_encode_categories_differently(specs):
    rng = np.random.default_rng(0)
    n = 120
    X = pd.DataFrame({"num": rng.normal(size=n), "colour": rng.choice(["red", "green", "blue"], size=n)})
    y = np.where(X["num"] + (X["colour"] == "red") > 0.3, "yes", "no")
    model = WeightedEnsemble(members(specs, BINARY, X), [0.5, 0.5], BINARY).fit(X, y)
    explained = explain_ensemble(model, X.iloc[:30], X.iloc[30:33], BINARY)
    assert explained.features == ["num", "colour"] and explained.values.shape == (3, 2)
    assert np.allclose(explained.values.sum(axis=1) + explained.base, model.scores(X.iloc[30:33]), atol=1e-5)


def test_shap_of_a_boosted_member_is_taken_in_probability_space_too(specs, cancer):
    """XGBoost's native tree SHAP is in log-odds: it is explained again by the tree explainer in probability."""
    X, y = cancer
    model = WeightedEnsemble(members(specs, BINARY, X, names=("random_forest", "xgboost")), [0.5, 0.5], BINARY).fit(X, y)
    explained = explain_ensemble(model, X.iloc[:40], X.iloc[200:205], BINARY)
    assert "xgboost:tree-probability" in explained.explainer and "random_forest:tree" in explained.explainer
    assert np.allclose(explained.values.sum(axis=1) + explained.base, model.scores(X.iloc[200:205]), atol=1e-5)


def test_multiclass_shap_of_the_ensemble_keeps_one_slice_per_class(specs):
    data = load_wine(as_frame=True)
    X, y = data.data, data.target.to_numpy()
    model = WeightedEnsemble(members(specs, MULTI, X), [1, 1], MULTI).fit(X, y)
    explained = explain_ensemble(model, X.iloc[:30], X.iloc[60:63], MULTI)
    assert explained.values.shape == (3, X.shape[1], 3) and explained.base.shape == (3, 3)
    assert np.allclose(explained.values.sum(axis=1) + explained.base, model.predict_proba(X.iloc[60:63]), atol=1e-5)


def test_one_hot_and_calendar_outputs_map_back_to_their_input_column():
    from specweave_ml.training.ensemble import _origin

    cols = ["a", "a_b", "signup"]
    assert [_origin(n, cols) for n in ["a_x", "a_b_y", "signup.month", "a", "other"]] == ["a", "a_b", "signup", "a", None]


@pytest.mark.slow
def test_the_ensemble_packages_and_loads_like_a_single_model(fitted, cancer, tmp_path):
    from specweave_ml.packaging import load_model, save_model

    X, _ = cancer
    digest = save_model(fitted, tmp_path / "champion", X.head(5), ["scikit-learn"])
    back = load_model(tmp_path / "champion", digest)
    assert np.array_equal(back.predict_proba(X), fitted.predict_proba(X))
    assert np.array_equal(back.predict(X), fitted.predict(X)) and back.threshold == 0.4
