"""Successive halving of the coarse grid: the promotion rule, its fidelities, the portfolio first, budget accounting."""

from __future__ import annotations

import time

import numpy as np
import pytest

from specweave_ml.errors import ConfigError
from specweave_ml.training.halving import (Fidelity, HalvingSettings, at_fidelity, halving_settings, promote, rung_fidelities,
                                           sample_rows, successive_halving, tuning_rows)

S = HalvingSettings(eta=3, min_rows=1000, min_rounds=30, target_trials=8)


def test_promotion_keeps_the_best_third_and_ties_keep_the_earlier_order():
    scores = {0: 0.7, 1: 0.9, 2: 0.8, 3: 0.9, 4: 0.5, 5: 0.6}
    assert promote([0, 1, 2, 3, 4, 5], scores, eta=3, greater_is_better=True) == [1, 3]  # tie 0.9: 1 before 3
    assert promote([3, 1, 2, 0, 4, 5], scores, eta=3, greater_is_better=True) == [3, 1]  # the earlier order decides
    assert promote([0, 1, 2, 3, 4, 5], scores, eta=3, greater_is_better=False) == [4, 5]  # a loss: lowest first
    assert promote([0, 1], {0: 0.1, 1: 0.2}, eta=3, greater_is_better=True) == [1]  # at least one goes on


def test_failed_points_rank_last_and_are_promoted_only_if_nothing_scored():
    assert promote([0, 1, 2], {0: None, 1: 0.1, 2: None}, eta=2, greater_is_better=True) == [1, 0]
    assert promote([0, 1, 2], {}, eta=3, greater_is_better=True) == []


def test_rungs_go_up_by_eta_to_the_tuning_rows_with_uncapped_rounds_last():
    rungs = rung_fidelities(27, 27000, S)
    assert [r.rows for r in rungs] == [1000, 3000, 9000, 27000]
    assert [round(r.rounds_share, 4) for r in rungs] == [round(1 / 27, 4), round(1 / 9, 4), round(1 / 3, 4), 1.0]
    assert [r.rows for r in rung_fidelities(27, 5000, S)] == [1666, 5000]  # the first rung never below min_rows / eta
    assert rung_fidelities(27, 900, S) == [Fidelity(900)]  # too few rows to halve: one rung
    assert rung_fidelities(27, None, S) == [Fidelity(None)]


def _run(scores_by_rung, n, fidelities, budget=None, greater=True):
    calls = []

    def evaluate(point, rung, fidelity):
        calls.append((point, rung, fidelity.rows))
        return scores_by_rung[rung][point]

    left = [budget]

    def out_of_time():
        if left[0] is None:
            return False
        left[0] -= 1
        return left[0] < 0

    return successive_halving(n, fidelities, evaluate, out_of_time, 3, greater), calls


def test_every_point_at_the_lowest_fidelity_then_the_best_third_at_the_next():
    fid = [Fidelity(100, 1 / 9), Fidelity(300, 1 / 3), Fidelity(900)]
    rung0 = {i: i / 10 for i in range(9)}  # 8 best, then 7, 6
    rung1 = {8: 0.5, 7: 0.9, 6: 0.7}  # the order changes with more rows
    result, calls = _run([rung0, rung1, {7: 0.95}], 9, fid)
    assert [c for c in calls if c[1] == 0] == [(i, 0, 100) for i in range(9)]
    assert [c for c in calls if c[1] == 1] == [(8, 1, 300), (7, 1, 300), (6, 1, 300)]  # in rank order
    assert [c for c in calls if c[1] == 2] == [(7, 2, 900)]
    assert result.complete and result.best == 7 and result.best_fidelity == Fidelity(900)
    assert [r.summary()["promoted"] for r in result.rungs] == [3, 1, 0]


def test_a_budget_that_runs_out_mid_rung_ranks_the_evaluated_points_first():
    fid = [Fidelity(100, 1 / 9), Fidelity(300, 1 / 3), Fidelity(900)]
    rung0 = {i: i / 10 for i in range(9)}
    rung1 = {8: 0.5, 7: 0.9, 6: 0.7}
    result, calls = _run([rung0, rung1, {}], 9, fid, budget=11)  # 9 at rung 0, then only 8 and 7 at rung 1
    assert [c[:2] for c in calls[9:]] == [(8, 1), (7, 1)]
    assert not result.complete
    assert result.ranking == [7, 8, 6]  # evaluated ones by their new scores, then the unevaluated one
    assert result.best == 7 and result.best_fidelity == Fidelity(300, 1 / 3)


def test_a_budget_that_runs_out_between_rungs_keeps_the_lower_rungs_ranking():
    fid = [Fidelity(100, 1 / 3), Fidelity(300)]
    result, calls = _run([{0: 0.1, 1: 0.3, 2: 0.2}, {}], 3, fid, budget=3)
    assert len(calls) == 3 and not result.complete
    assert result.ranking == [1, 2, 0] and result.best == 1 and result.best_fidelity == Fidelity(100, 1 / 3)


def test_no_time_at_all_gives_no_best():
    result, calls = _run([{0: 1.0}], 2, [Fidelity(None)], budget=0)
    assert calls == [] and result.best is None


def test_rounds_are_cut_to_the_rungs_share_never_below_the_minimum():
    assert at_fidelity({"n_estimators": 900}, {}, Fidelity(100, 1 / 9), 30) == {"n_estimators": 100}
    assert at_fidelity({}, {"n_estimators": 100}, Fidelity(100, 1 / 27), 30) == {"n_estimators": 30}
    assert at_fidelity({"n_estimators": 20}, {}, Fidelity(100, 1 / 27), 30) == {"n_estimators": 20}
    assert at_fidelity({"C": 1.0}, {"C": 1.0}, Fidelity(100, 1 / 9), 30) == {"C": 1.0}  # no rounds: rows only
    assert at_fidelity({"n_estimators": 900}, {}, Fidelity(100), 30) == {"n_estimators": 900}


def test_tuning_rows_fit_the_target_trials_in_the_time_left():
    assert tuning_rows(300_000, full_cv_seconds=30.0, seconds=96.0, settings=S) == 120_000  # 96 / (8 * 30) of the rows
    assert tuning_rows(5_000, full_cv_seconds=0.5, seconds=60.0, settings=S) == 5_000  # cheap: all rows
    # Expensive: never below a quarter of the rows (fewer trials instead), nor below min_rows.
    assert tuning_rows(300_000, full_cv_seconds=300.0, seconds=1.0, settings=S) == 75_000
    assert tuning_rows(2_000, full_cv_seconds=300.0, seconds=1.0, settings=S) == 1_000
    assert tuning_rows(500, full_cv_seconds=300.0, seconds=1.0, settings=S) == 500


def test_row_samples_are_sorted_and_keep_a_rare_class():
    y = np.array([1] * 30 + [0] * 9970)
    at = sample_rows(y, 1000, seed=0, classification=True, min_per_class=100)
    assert np.all(np.diff(at) > 0)
    assert (y[at] == 1).sum() == 30 and len(at) == 30 + 997
    assert sample_rows(y, None, 0, True) is None and sample_rows(y, 20000, 0, True) is None
    assert len(sample_rows(np.arange(500.0), 100, 0, False)) == 100


@pytest.mark.parametrize("raw, key", [({"eta": 1}, "tuning.halving.eta"), ({"min_rows": "many"}, "tuning.halving.min_rows"),
                                      ({"speed": 2}, "tuning.halving.speed"), ({"min_share": 0}, "tuning.halving.min_share"),
                                      ({"min_share": 1.5}, "tuning.halving.min_share")])
def test_a_bad_halving_setting_names_its_key(raw, key):
    with pytest.raises(ConfigError, match=key.replace(".", r"\.")):
        halving_settings(raw)


def _settings(tmp_path, phases, shares=None, **kw):
    from specweave_ml.training.tuning import TuningSettings

    return TuningSettings(phases=phases, budget_seconds=60, budget_shares=shares or {p: 1.0 for p in phases},
                          max_trials={"coarse": 27, "fine": 6, "optuna": 6}, early_stopping_rounds=50, train_score_rows=100,
                          storage_url=f"sqlite:///{tmp_path}/s.db", study_prefix="t", halving=S, **kw)


SEARCH = {"portfolio": [{"max_depth": 4, "learning_rate": 0.07, "not_accepted": 1}],
          "coarse": {"max_depth": [3, 6, 9], "learning_rate": [0.01, 0.1, 0.3]},
          "optuna": {"max_depth": {"type": "int", "low": 2, "high": 10}, "learning_rate": {"type": "float", "low": 0.01, "high": 0.3}}}


def _score(params):  # optimum at depth 4, lr 0.07: the portfolio point
    return 1 - abs(params["max_depth"] - 4) * 0.05 - abs(params["learning_rate"] - 0.07)


def test_the_portfolio_is_evaluated_first_and_the_coarse_grid_halves_over_rows(tmp_path):
    from specweave_ml.training.tuning import tune

    calls = []

    def evaluate(params, report, fidelity):
        calls.append((dict(params), fidelity))
        report(0, _score(params))
        return _score(params), 0.0, 0.0

    result = tune(_settings(tmp_path, ["coarse", "fine", "optuna"]), name="m", search=SEARCH,
                  accepted_params={"max_depth", "learning_rate"}, evaluate=evaluate, metric="roc_auc",
                  deadline=time.perf_counter() + 60, gap_limit=0.1, seed=0, n_rows=100_000, trial_rows=9000)
    assert calls[0] == ({"max_depth": 4, "learning_rate": 0.07}, Fidelity(1000, 1 / 9))  # the portfolio, first, cheapest
    coarse = result.phases[0]
    assert [r["points"] for r in coarse.rungs] == [10, 4, 2]  # 1 portfolio + 9 grid points, a third promoted each rung
    assert [r["rows"] for r in coarse.rungs] == [1000, 3000, 9000]
    assert coarse.trials_finished == 16 and coarse.comparable
    assert coarse.best_params == {"max_depth": 4, "learning_rate": 0.07}
    # The fine grid and Optuna run at one fidelity: the coarse trials measured next to no cost per row, so every
    # row (the estimate before them said 9000).
    assert {f for _, f in calls[16:]} == {Fidelity(None)}
    assert [p.phase for p in result.phases] == ["coarse", "fine", "optuna"]
    assert all(p.trials_finished > 0 for p in result.phases)
    assert result.best_value == pytest.approx(1.0)


def test_without_a_coarse_phase_the_portfolio_runs_first_as_its_own_phase(tmp_path):
    from specweave_ml.training.tuning import tune

    seen = []

    def evaluate(params, report):
        seen.append(dict(params))
        return _score(params), 0.0, 0.0

    result = tune(_settings(tmp_path, ["optuna"]), name="m", search=SEARCH, accepted_params={"max_depth", "learning_rate"},
                  evaluate=evaluate, metric="roc_auc", deadline=time.perf_counter() + 60, gap_limit=0.1, seed=0)
    assert [p.phase for p in result.phases] == ["portfolio", "optuna"]
    assert seen[0] == {"max_depth": 4, "learning_rate": 0.07}
    assert seen[1] == {"max_depth": 4, "learning_rate": 0.07}  # Optuna starts from the best point so far


def test_each_phase_gets_its_share_of_the_time_left(tmp_path):
    """Budget accounting: the coarse phase stops starting evaluations once its share is spent, and later phases
    still get theirs (here coarse 1/3, fine 1/3, optuna 1/3 of a budget far smaller than the grid needs)."""
    from specweave_ml.training.tuning import tune

    def evaluate(params, report, fidelity):
        time.sleep(0.3)
        return _score(params), 0.0, 0.0

    budget = 4.5  # an evaluation costs 0.3 s plus the storage's own ~0.1-0.2 s per trial (more on a busy machine)
    start = time.perf_counter()
    result = tune(_settings(tmp_path, ["coarse", "fine", "optuna"]), name="m", search=SEARCH,
                  accepted_params={"max_depth", "learning_rate"}, evaluate=evaluate, metric="roc_auc",
                  deadline=start + budget, gap_limit=0.1, seed=0, n_rows=100_000, trial_rows=9000)
    coarse = result.phases[0]
    assert 0 < coarse.trials_finished < 10  # cut short mid-rung 0
    assert not coarse.comparable  # its best was measured on 1000 rows only
    assert [p.phase for p in result.phases] == ["coarse", "fine", "optuna"]
    assert all(p.trials_finished > 0 for p in result.phases)  # every phase still finishes trials
    assert result.best_value is not None
