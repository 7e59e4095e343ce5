"""The time budget of a run, as training spends it: what is left, and what the budget can afford.

``budget_minutes`` bounds the whole run, fetch to report. Training gets what is left once the run's
start-up, fetch and prepare are spent and the stages after it are reserved (``after_training``); within
training, the candidates' cross-validation, the tree's next step, tuning and the final refit each take
what their estimate says they need, and whatever a budget could not afford is said in words
(``Budget.decisions``), which the plan and the report show.

Estimates assume a fit's cost grows with its rows (trees grow a little faster than that; the estimates
leave slack for it), measured on this machine by a probe fit or by the fits already done.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass, field
from typing import Optional

import numpy as np

# seconds: saving and tracking the model, evaluate, explain, package and report on small data. Measured on 2 cores
# at a 60 s budget on 1,338 training rows: 6 s after fitting in stage=train (two models saved, the MLflow store
# created), evaluate 4.5 s, explain 5.7 s (tree SHAP and its plots), package 0.6 s.
AFTER_TRAINING_FIXED = 12.0
AFTER_TRAINING_SHARE = 0.05  # and this share of the budget (the larger the budget, the larger what it built)
AFTER_TRAINING_PER_ROW = 5e-5  # and per row of data: bootstrap intervals and scoring (fraud, 285k rows: 19 s measured)
# Never more than this share of the budget. At a 60 s budget on the 285k fraud rows what follows fitting measured
# 29 s (the refit on every row, evaluate's paired bootstrap of 53k holdout rows, explain): a 35% cap (21 s) ended
# the run at 66.7 s.
AFTER_TRAINING_CAP = 0.45
PROBE_ROWS = 2000  # rows of the probe fit that estimates a candidate's cost
MIN_CV_ROWS = 1000  # a budget that cannot afford cross-validation on this many rows gets it anyway, said so


def after_training(budget_seconds: float, n_rows: int = 0) -> float:
    """Seconds kept for the stages after training (evaluate, explain, package, report) on ``n_rows`` rows of data."""
    wanted = AFTER_TRAINING_FIXED + AFTER_TRAINING_SHARE * budget_seconds + AFTER_TRAINING_PER_ROW * n_rows
    return min(AFTER_TRAINING_CAP * budget_seconds, wanted)


def training_deadline(started: float, budget_seconds: float, n_rows: int = 0) -> float:
    """The ``time.perf_counter()`` by which training must be done for the run to end within its budget."""
    return started + budget_seconds - after_training(budget_seconds, n_rows)


@dataclass
class Budget:
    """Training's deadline (``time.perf_counter()`` clock; None: unbounded) and the decisions it forced."""

    deadline: Optional[float] = None
    decisions: list[str] = field(default_factory=list)

    @property
    def bounded(self) -> bool:
        return self.deadline is not None

    def left(self) -> float:
        return math.inf if self.deadline is None else max(0.0, self.deadline - time.perf_counter())

    def note(self, text: str) -> None:
        self.decisions.append(text)


def cv_fit_rows(fold: np.ndarray, cv_strategy: str) -> int:
    """Training rows summed over the CV folds (what a full cross-validation fits)."""
    from specweave_ml.training.folds import fold_indices

    return int(sum(len(train) for train, _ in fold_indices(fold, cv_strategy)))


def affordable_rows(n_rows: int, seconds_per_row: float, fit_rows_per_row: float, seconds: float) -> int:
    """The rows a cross-validation can use within ``seconds``: a CV on ``r`` rows fits about
    ``r * fit_rows_per_row`` rows at ``seconds_per_row`` each (scoring included in the slack). At least
    ``MIN_CV_ROWS`` (or every row when there are fewer)."""
    if seconds_per_row <= 0 or fit_rows_per_row <= 0:
        return n_rows
    rows = int(seconds / (1.3 * seconds_per_row * fit_rows_per_row))
    return max(min(MIN_CV_ROWS, n_rows), min(n_rows, rows))


def per_row_seconds(durations: list[float], rows: list[int]) -> Optional[float]:
    """Median seconds per row of the fits (or trials) measured, None when nothing was measured."""
    costs = [d / r for d, r in zip(durations, rows) if d and r]
    return float(np.median(costs)) if costs else None
