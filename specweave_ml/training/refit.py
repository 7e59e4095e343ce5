"""The model that ships, refitted on every row once the one trained on the training part has been chosen.

A holdout costs the shipped model a quarter of the data, and on time-ordered data the most recent quarter. The
common remedy (FLAML's ``retrain_full``, AutoGluon's ``refit_full``) is taken here: the configuration chosen and
evaluated on the training part (its hyperparameters, decision threshold, class weighting and, for an ensemble,
its members and weights) is fitted again on training and holdout rows together, and that fit ships. The holdout
metrics stay those of the model that never saw the holdout (``models/evaluated``); the report says so.

Pure: the caller decides whether the budget affords it (``affordable``) and writes the files.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Optional

import numpy as np
import pandas as pd
from sklearn.base import clone

from specweave_ml.data.labels import encode
from specweave_ml.training.pipelines import class_weights

REFIT_SLACK = 1.3  # a fit's cost grows a little faster than its rows: the estimate's margin
# Of the time training is given, the share its fitting leaves for the refit (on top of the tuning phases keeping time
# for it by estimate): the last steps of fitting (the ensemble, the final fit) are not all estimated in advance, and
# without it they spent the refit's time on 2 of 2 data sets at a 60 s budget.
REFIT_RESERVE = 0.08


@dataclass
class Refit:
    """What ships: the refitted model (None: the evaluated one ships) and the sentence that says why."""

    model: object
    rows: int
    why: str
    seconds: Optional[float] = None

    def summary(self, rows_train: int) -> dict:
        return {"shipped": "refit" if self.model is not None else "evaluated", "rows": self.rows, "rows_train": rows_train,
                "seconds": self.seconds, "why": self.why}


def estimated_seconds(final_fit_seconds: float, rows_train: int, rows_all: int) -> float:
    """The refit's cost, from the final fit's on the training part, scaled to every row."""
    return REFIT_SLACK * final_fit_seconds * rows_all / max(1, rows_train)


def fitting_deadline(deadline: float, now: float) -> float:
    """When fitting must end for the refit to have ``REFIT_RESERVE`` of training's time left before ``deadline``."""
    return deadline - REFIT_RESERVE * max(0.0, deadline - now)


def affordable(estimate: float, seconds_left: Optional[float]) -> bool:
    """Whether a refit estimated at ``estimate`` seconds fits in what training has left (None: no budget)."""
    return seconds_left is None or estimate <= seconds_left


def refit_on_all(model, rows: pd.DataFrame, features: list[str], target: str, task: str, imbalanced: bool,
                 weighting: str, classes: Optional[list]):
    """A clone of the fitted ``model`` (same hyperparameters, threshold, class order; an ensemble: same members and
    weights) fitted on ``rows``, weighted as training weighted its rows (class weights when the data are imbalanced)."""
    y = rows[target].to_numpy()
    weights = None
    if task != "regression" and imbalanced:
        weights = class_weights(pd.Series(encode(rows[target], classes)), weighting)
    return clone(model).fit(rows[features], y if task != "regression" else y.astype(float),
                            sample_weight=None if weights is None else np.asarray(weights))
