"""The phase rules of the tuner: fine-grid neighbourhoods, the move towards regularisation, budgets."""

from __future__ import annotations

import time

import pytest

from specweave_ml.training.tuning import fine_grid, neighbours, optuna_space


def test_fine_grid_is_the_methodologys_neighbourhood():
    coarse = {"n_estimators": [100, 500, 1000], "max_depth": [3, 6, 9], "learning_rate": [0.01, 0.1, 0.3]}
    grid = fine_grid(coarse, {"n_estimators": 500, "max_depth": 6, "learning_rate": 0.1}, {}, overfitting=False)
    assert grid == {"n_estimators": [400, 500, 600], "max_depth": [5, 6, 7], "learning_rate": [0.08, 0.1, 0.12]}


def test_small_integers_still_move_by_one_and_stay_positive():
    assert neighbours(1, None) == [1, 2]
    assert neighbours(3, None) == [2, 3, 4]


def test_overfitting_moves_the_fine_grid_towards_regularisation_only():
    coarse = {"max_depth": [3, 6, 9], "min_child_weight": [1, 5, 10], "learning_rate": [0.01, 0.1, 0.3]}
    best = {"max_depth": 9, "min_child_weight": 5, "learning_rate": 0.1}
    regularise = {"max_depth": "down", "min_child_weight": "up"}
    grid = fine_grid(coarse, best, regularise, overfitting=True)
    assert max(grid["max_depth"]) == 9 and min(grid["max_depth"]) < 9
    assert min(grid["min_child_weight"]) == 5 and max(grid["min_child_weight"]) > 5
    assert grid["learning_rate"] == [0.08, 0.1, 0.12]  # not a regularising parameter: symmetric
    assert fine_grid(coarse, best, regularise, overfitting=False)["max_depth"] == [7, 9, 11]


def test_overfitting_cuts_optuna_bounds_at_the_best_value():
    space = {"max_depth": {"type": "int", "low": 2, "high": 10}, "reg_lambda": {"type": "float", "low": 0.01, "high": 50, "log": True},
             "learning_rate": {"type": "float", "low": 0.005, "high": 0.3}}
    best = {"max_depth": 6, "reg_lambda": 1.0, "learning_rate": 0.1}
    reg = {"max_depth": "down", "reg_lambda": "up"}
    cut = optuna_space(space, best, reg, overfitting=True)
    assert cut["max_depth"] == {"type": "int", "low": 2, "high": 6}
    assert cut["reg_lambda"]["low"] == 1.0 and cut["reg_lambda"]["high"] == 50
    assert cut["learning_rate"] == space["learning_rate"]
    assert optuna_space(space, best, reg, overfitting=False) == space


@pytest.mark.parametrize("phases", [["coarse"], ["optuna"], ["coarse", "fine", "optuna"]])
def test_tune_runs_the_asked_phases_and_never_beats_its_best(tmp_path, phases):
    from specweave_ml.training.tuning import TuningSettings, tune

    calls = []

    def evaluate(params, report):  # a smooth score with its optimum at depth 6, lr 0.1
        score = 1 - abs(params.get("max_depth", 6) - 6) * 0.05 - abs(params.get("learning_rate", 0.1) - 0.1)
        calls.append(params)
        report(0, score)
        return score, 0.01, 0.0

    search = {"coarse": {"max_depth": [3, 6, 9], "learning_rate": [0.01, 0.1, 0.3]},
              "optuna": {"max_depth": {"type": "int", "low": 2, "high": 10}, "learning_rate": {"type": "float", "low": 0.01, "high": 0.3}}}
    settings = TuningSettings(phases=phases, budget_seconds=90, budget_shares={p: 1.0 for p in phases},
                              max_trials={"coarse": 9, "fine": 9, "optuna": 12}, early_stopping_rounds=50, train_score_rows=1000,
                              storage_url=f"sqlite:///{tmp_path}/s.db", study_prefix="t")
    result = tune(settings, name="xgb", search=search, accepted_params={"max_depth", "learning_rate"}, evaluate=evaluate,
                  metric="roc_auc", deadline=time.perf_counter() + 90, gap_limit=0.1, seed=0)
    assert [p.phase for p in result.phases] == phases
    assert result.best_value == max(p.best_value for p in result.phases)
    if phases[0] == "coarse":
        assert result.phases[0].trials_finished == 9  # the whole 3 x 3 grid
        assert result.phases[0].best_params == {"max_depth": 6, "learning_rate": 0.1}
    for p in result.phases:
        assert p.curve == sorted(p.curve)  # best so far never gets worse
