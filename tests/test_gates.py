"""The methodology's gates (``specweave_ml/gates.py``) as a specification.

"20% better than the best baseline" means the model cuts the baseline's *error* by 20%:

* lower is better (rmse, mae, log_loss): at most ``0.8 * baseline``;
* higher is better and bounded by 1 (roc_auc, pr_auc, f1, r2): the error is ``1 - score``, so at least
  ``1 - 0.8 * (1 - baseline)``.

Fold spread and the train/validation gap are absolute for bounded scores, relative for error metrics.
"""

import pytest

from specweave_ml.gates import baseline_gate, beats, cv_spread_gate, gap, overfit_gate, required_score

MARGIN = 0.2


# --- the baseline gate: what "20% better" means for each kind of metric ---------------------------

@pytest.mark.parametrize(
    ("metric", "baseline", "needed"),
    [
        ("rmse", 10.0, 8.0),  # error metric: cut by 20%
        ("mae", 50.0, 40.0),
        ("log_loss", 0.69, 0.552),
        ("roc_auc", 0.5, 0.6),  # a chance-level ranking must reach 0.6
        ("pr_auc", 0.0017, 0.20136),  # fraud's positive rate: a plain ratio would ask for only 0.00204
        ("f1", 0.9, 0.92),
        ("r2", -0.01, 0.192),  # a mean predictor scores about 0 on the holdout
        ("accuracy", 0.0, 0.2),
    ],
)
def test_required_score_cuts_the_baseline_error_by_the_margin(metric, baseline, needed):
    assert required_score(metric, baseline, MARGIN) == pytest.approx(needed, abs=1e-12)


def test_lower_is_better_metric_needs_at_most_eighty_percent_of_the_baseline():
    assert baseline_gate("rmse", 7.9, "mean", 10.0, MARGIN).passed
    assert not baseline_gate("rmse", 8.1, "mean", 10.0, MARGIN).passed
    # Better than the baseline, but not by enough.
    assert not baseline_gate("rmse", 9.0, "mean", 10.0, MARGIN).passed


def test_bounded_metric_at_chance_needs_point_six():
    assert not baseline_gate("roc_auc", 0.59, "uniform", 0.5, MARGIN).passed
    assert baseline_gate("roc_auc", 0.61, "uniform", 0.5, MARGIN).passed


def test_pr_auc_near_zero_baseline_is_not_trivially_beaten():
    # 0.01 is six times the baseline, a "20% better" ratio would pass it; the error reading does not.
    assert not baseline_gate("pr_auc", 0.01, "most_frequent", 0.0017, MARGIN).passed
    assert not baseline_gate("pr_auc", 0.20, "most_frequent", 0.0017, MARGIN).passed
    assert baseline_gate("pr_auc", 0.21, "most_frequent", 0.0017, MARGIN).passed


def test_bounded_metric_stays_reachable_near_one():
    # A plain 20% ratio above a 0.9 baseline would ask for more than 1.
    gate = baseline_gate("f1", 0.93, "most_frequent", 0.9, MARGIN)
    assert gate.passed
    assert gate.limit < 1


@pytest.mark.parametrize(("metric", "baseline"), [("rmse", 10.0), ("roc_auc", 0.5), ("pr_auc", 0.0017), ("r2", 0.05)])
def test_exactly_at_the_limit_passes(metric, baseline):
    limit = required_score(metric, baseline, MARGIN)
    gate = baseline_gate(metric, limit, "dummy", baseline, MARGIN)
    assert gate.passed
    assert gate.value == limit and gate.limit == limit


def test_beats_reads_the_metric_direction():
    assert beats("rmse", 1.0, 2.0) and not beats("rmse", 3.0, 2.0)
    assert beats("roc_auc", 0.9, 0.6) and not beats("roc_auc", 0.5, 0.6)


def test_baseline_gate_is_blocking_and_explains_itself():
    failed = baseline_gate("roc_auc", 0.52, "stratified", 0.5, MARGIN)
    assert failed.name == "baseline_margin" and failed.blocking and not failed.passed
    assert "holdout roc_auc 0.5200 vs best baseline stratified 0.5000" in failed.detail
    assert "needs at least 0.6000" in failed.detail
    assert failed.advice  # tells the user what to look at
    passed = baseline_gate("rmse", 5.0, "mean", 10.0, MARGIN)
    assert "needs at most 8.0000" in passed.detail
    assert passed.advice == ""
    assert set(failed.to_dict()) == {"name", "passed", "blocking", "value", "limit", "detail", "advice", "evidence"}
    assert failed.evidence == {}  # no paired bootstrap given: nothing beyond value and limit


# --- fold spread: absolute for bounded scores, relative for error metrics --------------------------

def test_cv_spread_of_a_bounded_score_is_its_standard_deviation():
    steady = cv_spread_gate("roc_auc", [0.80, 0.85, 0.90], 0.1)
    assert steady.passed and steady.value == pytest.approx(0.040825, abs=1e-6)
    unstable = cv_spread_gate("roc_auc", [0.5, 0.7, 0.9], 0.1)
    assert not unstable.passed and unstable.value == pytest.approx(0.163299, abs=1e-6)
    assert not unstable.blocking and unstable.name == "cv_std"
    assert "unstable" in unstable.advice


def test_cv_spread_of_an_error_metric_is_relative_to_its_mean():
    # The same absolute std (1.63 in target units) is unstable around 12 and steady around 102.
    assert not cv_spread_gate("rmse", [10.0, 12.0, 14.0], 0.1).passed
    steady = cv_spread_gate("rmse", [100.0, 102.0, 104.0], 0.1)
    assert steady.passed and steady.value == pytest.approx(1.632993 / 102, abs=1e-6)
    assert "std / mean" in steady.detail


def test_cv_spread_exactly_at_the_limit_passes():
    first = cv_spread_gate("f1", [0.4, 0.6], 1.0)
    assert cv_spread_gate("f1", [0.4, 0.6], first.value).passed


# --- overfitting: train score against validation score ---------------------------------------------

def test_overfit_gap_of_a_bounded_score_is_absolute():
    assert gap("roc_auc", 0.99, 0.80) == pytest.approx(0.19)
    flagged = overfit_gate("roc_auc", 1.0, 0.85, 0.1)
    assert not flagged.passed and not flagged.blocking and flagged.name == "train_val_gap"
    assert "overfitting" in flagged.advice
    assert overfit_gate("roc_auc", 0.92, 0.87, 0.1).passed


def test_the_overfitting_advice_names_the_settings_that_regularise_the_model():
    linear = overfit_gate("accuracy", 0.98, 0.77, 0.1, {"C": "down"})
    assert linear.advice == "overfitting: regularise (lower C) or add data"
    trees = overfit_gate("roc_auc", 1.0, 0.8, 0.1, {"max_depth": "down", "min_child_weight": "up"})
    assert "lower max_depth, raise min_child_weight" in trees.advice and "C" not in trees.advice
    assert "trees" not in overfit_gate("mape", 0.01, 0.2, 0.1).advice  # a model without settings: general advice
    assert overfit_gate("accuracy", 0.80, 0.77, 0.1, {"C": "down"}).advice == ""  # no gap, no advice


def test_overfit_gap_of_an_error_metric_is_relative_to_validation():
    # Training error half the validation error: a 50% gap.
    assert gap("rmse", 5.0, 10.0) == pytest.approx(0.5)
    assert not overfit_gate("rmse", 5.0, 10.0, 0.1).passed
    assert overfit_gate("rmse", 9.5, 10.0, 0.1).passed
    assert overfit_gate("mae", 100.0, 108.0, 0.1).passed  # 7.4% of 108


def test_validation_better_than_training_is_no_overfitting():
    assert overfit_gate("rmse", 10.0, 8.0, 0.1).passed
    assert overfit_gate("pr_auc", 0.70, 0.75, 0.1).passed


def test_overfit_gap_exactly_at_the_limit_passes():
    g = gap("rmse", 9.0, 10.0)
    assert overfit_gate("rmse", 9.0, 10.0, g).passed
    g = gap("f1", 0.9, 0.8)
    assert overfit_gate("f1", 0.9, 0.8, g).passed


def test_an_unmeasured_train_score_passes_the_overfit_gate_and_says_so():
    result = overfit_gate("roc_auc", float("nan"), 0.9, 0.1)
    assert result.passed and "not measured" in result.detail and result.advice == ""
    assert not overfit_gate("roc_auc", 1.0, 0.8, 0.1).passed  # a measured gap still fails
