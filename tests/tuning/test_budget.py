"""The budget accounting: what training gets of budget_minutes, what it affords, and the patience rule."""

from __future__ import annotations

import time

import numpy as np
import pandas as pd
import pytest

from specweave_ml.training.budget import (AFTER_TRAINING_FIXED, MIN_CV_ROWS, Budget, affordable_rows, after_training,
                                          cv_fit_rows, training_deadline)
from specweave_ml.training.tuning import stale_trials


def test_training_gets_the_budget_less_the_stages_after_it_from_the_run_start():
    assert after_training(60) == pytest.approx(AFTER_TRAINING_FIXED + 3)  # 12 s + 5% of a minute
    assert after_training(600) == pytest.approx(42)
    assert after_training(20) == pytest.approx(9)  # never more than 45% of a tiny budget
    assert after_training(60, 284_807) == pytest.approx(27)  # scoring and bootstrapping a large holdout takes longer
    started = time.perf_counter() - 12  # start-up, fetch and prepare took 12 s
    left = training_deadline(started, 60) - time.perf_counter()
    assert left == pytest.approx(60 - 12 - 15, abs=0.5)


def test_an_unbounded_budget_affords_everything_and_a_spent_one_nothing():
    assert Budget().left() == float("inf") and not Budget().bounded
    assert Budget(time.perf_counter() - 5).left() == 0.0


def test_cv_fit_rows_counts_what_each_fold_trains_on():
    fold = np.repeat([0, 1, 2, 3], 25)
    assert cv_fit_rows(fold, "kfold") == 4 * 75
    assert cv_fit_rows(fold, "expanding_window") == 0 + 25 + 50 + 75  # no look-ahead: only earlier rows


def test_affordable_rows_fit_the_seconds_and_never_drop_below_the_floor():
    # 1e-4 s a row, a CV fitting 4 rows per row: 100,000 rows would cost 40 s (52 s with the slack)
    rows = affordable_rows(100_000, 1e-4, 4.0, 26.0)
    assert 45_000 <= rows <= 55_000
    assert affordable_rows(100_000, 1e-4, 4.0, 1e6) == 100_000  # plenty of time: every row
    assert affordable_rows(100_000, 1e-4, 4.0, 0.01) == MIN_CV_ROWS  # no time: the floor, said in the report
    assert affordable_rows(500, 1e-4, 4.0, 0.01) == 500


def test_patience_counts_finished_trials_since_the_best():
    higher = lambda a, b: a > b  # noqa: E731
    assert stale_trials([0.5, 0.6, 0.55, 0.58], higher) == 2
    assert stale_trials([0.5, 0.6, 0.7], higher) == 0
    assert stale_trials([0.5, 0.5, 0.5], higher) == 2  # a tie is not progress
    assert stale_trials([3.0, 2.0, 2.5], lambda a, b: a < b) == 1  # lower is better (rmse)
    assert stale_trials([], higher) == 0


def _frame(n, seed=0):
    rng = np.random.default_rng(seed)
    X = pd.DataFrame(rng.normal(size=(n, 4)), columns=list("abcd"))
    y = (X["a"] + rng.normal(scale=0.5, size=n) > 0).astype(int).to_numpy()
    return X, y, np.repeat(np.arange(5), n // 5)


def _view(budget, n=30_000):
    from specweave_ml.models.decision import DecisionModel
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline

    from specweave_ml.plan import Candidate
    from specweave_ml.training.train import _cv_view

    X, y, fold = _frame(n)
    make_for = lambda spec: (lambda params=None, stop=None: DecisionModel(make_pipeline(LogisticRegression()), task="binary_classification"))  # noqa: E731
    return _cv_view([Candidate("linear", "r", "w", True)], {"linear": None}, make_for, X, y, fold, None, "kfold", 0, True, budget, False)


def test_the_candidates_cv_takes_a_sample_when_the_budget_cannot_afford_every_row_and_says_so():
    budget = Budget(time.perf_counter() + 0.05)  # 50 ms for a CV of 30,000 rows: not affordable
    view = _view(budget)
    assert view.rows is not None and MIN_CV_ROWS <= view.rows < 30_000
    assert len(view.y) == view.rows and np.all(np.diff(view.X.index) > 0)  # a sample, in the rows' order
    assert set(np.unique(view.fold)) == set(range(5))
    assert len(budget.decisions) == 1 and f"{view.rows:,} of 30,000 training rows" in budget.decisions[0]


def test_the_candidates_cv_keeps_every_row_when_the_budget_affords_it_and_says_nothing():
    budget = Budget(time.perf_counter() + 600)
    view = _view(budget)
    assert view.rows is None and len(view.y) == 30_000
    assert budget.decisions == []
    assert _view(Budget()).rows is None  # no deadline: no probe, every row


def test_the_next_step_runs_only_when_the_time_left_affords_it_and_the_plan_says_why_either_way():
    from specweave_ml.training.cv import CVResult
    from specweave_ml.training.train import _next_step_affordable

    done = {"linear": CVResult("linear", "candidate", "roc_auc", fit_seconds=0.5),
            "random_forest": CVResult("random_forest", "candidate", "roc_auc", fit_seconds=4.0)}
    roomy = Budget(time.perf_counter() + 100)
    assert _next_step_affordable("lightgbm", done, roomy, None, 1000)
    assert "lightgbm (the rule's next step) trained" in roomy.decisions[0]
    tight = Budget(time.perf_counter() + 10)  # under 3x the estimated 8 s (twice the slowest first step)
    assert not _next_step_affordable("lightgbm", done, tight, None, 1000)
    assert "not trained" in tight.decisions[0] and "budget_minutes" in tight.decisions[0]
