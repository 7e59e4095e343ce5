"""The guards a careful reviewer runs beyond the textbook anti-patterns, each one module with one job.

* ``near_duplicates``: holdout rows whose nearest training row is far closer than rows usually are (the same
  entity recorded twice with small differences), with examples and the column that explains them;
* ``leaks``: a feature whose *presence* predicts the target (filled only after the event), a category whose
  levels map almost one-to-one to it (judged out of fold, so an ID-like column is not mistaken for one), a
  column named like an outcome;
* ``shift``: adversarial validation, a classifier that tells training rows from holdout rows, with the
  columns that moved most (PSI, KS), read by split strategy.

Every guard returns ``antipatterns.Finding`` objects under the same rules: severe only when a confidence
bound clears the limit for the rows there are (``confidence="high"``); an ``info`` finding records the
evidence of a guard that held, so the report can show what was checked. ``review`` runs them all.
"""

from __future__ import annotations

import pandas as pd

from specweave_ml.antipatterns import Finding
from specweave_ml.plan import SplitPlan

GUARD_KINDS = {  # the report's section for each guard, and the finding kinds it shows there
    "duplicates": ("duplicates_across_split", "near_duplicates"),
    "leaks": ("leakage", "missingness_leak", "encoding_leak", "outcome_name"),
    "shift": ("train_holdout_shift",),
}


def review(train: pd.DataFrame, test: pd.DataFrame, features: list[str], target: str, task: str, split: SplitPlan,
           seed: int = 0, flagged: frozenset[str] = frozenset()) -> list[Finding]:
    """Every reviewer's guard on the split; ``flagged``: features another check already called leakage."""
    from specweave_ml.guards.leaks import encoding_leaks, missingness_leaks, outcome_names
    from specweave_ml.guards.near_duplicates import near_duplicates
    from specweave_ml.guards.shift import adversarial_validation

    return [
        *near_duplicates(train, test, features, split.strategy, split.group_column, seed=seed),
        *missingness_leaks(train, features, target, task, seed=seed),
        *encoding_leaks(train, [f for f in features if f not in flagged], target, task, seed=seed),
        *outcome_names(features, target),
        *adversarial_validation(train, test, features, split.strategy, split.time_column, seed=seed),
    ]
