"""The resolver: a pure function from a validated brief and the selection rules to a ``Plan``.

Heuristics (the methodology's decision tree, kept as data in ``conf/selection/default.yaml``):

* the first selection rule whose conditions hold picks the candidates, and the plan records that rule;
* baselines always come first; candidates are listed simple before complex;
* time column declared -> time-ordered split and expanding-window CV (no look-ahead);
  group column -> grouped split and CV (no group on both sides); classification -> stratified; else random;
* a minority class under ``gates.imbalance_ratio`` (10%; with k classes, scaled by k/2) makes the data
  imbalanced: PR-AUC becomes the default primary metric, class weights and a tuned threshold follow;
* CV never uses fewer than 3 folds; with fewer than ``MIN_VALIDATION_ROWS`` validation rows per fold, the
  plan uses fewer folds (down to 3) and says so in its notes, and says when even 3 folds leave too few.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, replace
from typing import Mapping, Optional

from specweave_ml.errors import ConfigError
from specweave_ml.models.registry import REGISTRY
from specweave_ml.metrics import CLASSIFICATION, DEFAULT_PRIMARY, DEFAULT_SECONDARY, IMBALANCED_PRIMARY
from specweave_ml.plan import Candidate, Gates, Plan, SplitPlan
from specweave_ml.schema import ModelSchema, ProblemSchema, RuleSchema, SelectionSchema, TuningSchema

MIN_CV_FOLDS = 3
MIN_VALIDATION_ROWS = 20
"""The fewest rows a CV fold should validate on. Below 20, one row moves a fold's accuracy by 5 points or
more and a rare class may appear once or not at all, so the fold scores (their mean, and the spread the
``cv_std`` gate reads) measure which rows fell where rather than the model. Fewer, larger folds cost each fold
a little training data and buy validation scores that can be compared."""


@dataclass(frozen=True)
class DataFacts:
    """What the resolver needs to know about the data: its size and, for classes, the balance."""

    n_rows: Optional[int]
    minority_share: Optional[float] = None
    n_classes: Optional[int] = None
    split: Optional[SplitPlan] = None  # the family's own split (a forecast's backtest), instead of the rules below
    notes: tuple[str, ...] = ()  # what the family inferred from the data, with its evidence, for the plan

    @property
    def balance(self) -> Optional[float]:
        """The minority share scaled so that 0.5 means balanced for any number of classes."""
        if self.minority_share is None:
            return None
        return self.minority_share * (self.n_classes or 2) / 2


def _matches(rule: RuleSchema, problem: ProblemSchema, n_rows: Optional[int]) -> bool:
    if rule.modality is not None and rule.modality != problem.modality:
        return False
    if rule.task is not None and rule.task != problem.task:
        return False
    if rule.interpretability is not None and rule.interpretability != problem.constraints.interpretability:
        return False
    if rule.min_rows is not None and (n_rows is None or n_rows < rule.min_rows):
        return False
    if rule.max_rows is not None and (n_rows is None or n_rows >= rule.max_rows):
        return False
    return True


def _check_rules(selection: SelectionSchema, models: Mapping[str, ModelSchema]) -> None:
    for i, rule in enumerate(selection.rules):
        if rule.then and not rule.then_why:
            raise ConfigError(f"selection.rules[{i}].then_why", f"rule '{rule.name}' names a next step without saying why",
                              "add then_why: the reason the next step is worth its time")
        for name in [*rule.models, *rule.then]:
            if name not in REGISTRY or name not in models:
                raise ConfigError(
                    f"selection.rules[{i}].{'models' if name in rule.models else 'then'}",
                    f"rule '{rule.name}' names unknown model '{name}'",
                    f"use one of {', '.join(sorted(REGISTRY))}, or register {name} in models/registry.py "
                    f"with conf/model/{name}.yaml",
                )


def _trainable(name: str, problem: ProblemSchema) -> bool:
    model = REGISTRY[name]
    return model.trainable and model.serves(problem.task.value, problem.modality.value)


def _candidates(problem, selection, models, forced, n_rows) -> tuple[Candidate, ...]:
    if forced is not None:
        if forced not in REGISTRY or forced not in models:
            raise ConfigError("model", f"unknown model '{forced}'", f"use one of {', '.join(sorted(REGISTRY))}")
        return (Candidate(forced, "command line", f"model={forced} was asked for", _trainable(forced, problem)),)
    for rule in selection.rules:
        if _matches(rule, problem, n_rows):
            names = sorted(rule.models, key=lambda n: REGISTRY[n].complexity)
            first = tuple(Candidate(n, rule.name, rule.why, _trainable(n, problem)) for n in names)
            if problem.constraints.interpretability.value == "required":
                return first  # the next step would add a model that cannot be read directly
            return first + tuple(Candidate(n, f"{rule.name} (next step)", rule.then_why, _trainable(n, problem), next_step=True)
                                 for n in rule.then if n not in names)
    raise ConfigError(
        "selection.rules",
        f"no rule matches a {problem.modality.value} {problem.task.value} brief with {n_rows} rows",
        "add a rule for it to conf/selection/ or pick a model with model=<name>",
    )


def _split(problem: ProblemSchema, selection: SelectionSchema) -> SplitPlan:
    data, folds, test = problem.data, selection.cv_folds, selection.test_size
    if data.time_column:
        why = f"'{data.time_column}' is declared: train on the past, test on the future (no look-ahead)"
        return SplitPlan("time", "expanding_window", folds, test, data.time_column, None, why)
    if data.group_column:
        why = f"'{data.group_column}' is declared: no group appears on both sides of a split"
        return SplitPlan("group", "group_kfold", folds, test, None, data.group_column, why)
    if problem.task.value in CLASSIFICATION:
        return SplitPlan("stratified", "stratified_kfold", folds, test, None, None, "class shares kept equal in every part")
    return SplitPlan("random", "kfold", folds, test, None, None, "no time or group structure is declared")


def validation_rows(n_rows: int, split: SplitPlan, folds: int) -> int:
    """About how many rows each CV fold validates on, from the rows left after the holdout.

    An expanding window cuts the training part into ``folds + 1`` blocks (the first is only trained on).
    """
    train_rows = n_rows - math.ceil(n_rows * split.test_size)
    return train_rows // (folds + 1 if split.cv_strategy == "expanding_window" else folds)


def _small_data(split: SplitPlan, n_rows: Optional[int]) -> tuple[SplitPlan, list[str]]:
    """Fewer folds (never under ``MIN_CV_FOLDS``) until each validates ``MIN_VALIDATION_ROWS`` rows, and why."""
    if n_rows is None:
        return split, []
    folds, notes = split.cv_folds, []
    while folds > MIN_CV_FOLDS and validation_rows(n_rows, split, folds) < MIN_VALIDATION_ROWS:
        folds -= 1
    if folds < split.cv_folds:
        notes.append(f"small data: {split.cv_folds}-fold CV would validate on about {validation_rows(n_rows, split, split.cv_folds)} "
                     f"rows per fold, fewer than {MIN_VALIDATION_ROWS}: CV uses {folds} folds instead of selection.cv_folds="
                     f"{split.cv_folds}")
    per_fold = validation_rows(n_rows, split, folds)
    if per_fold < MIN_VALIDATION_ROWS:
        notes.append(f"small data: even {folds}-fold CV validates on about {per_fold} rows per fold (fewer than "
                     f"{MIN_VALIDATION_ROWS}): the CV estimate is noisy and small differences between models mean "
                     "little; collect more rows if you can")
    return replace(split, cv_folds=folds), notes


def _primary_metric(problem: ProblemSchema, facts: DataFacts, imbalanced: bool) -> tuple[str, str]:
    """The metric the gates and the tuning optimise, and why."""
    task = problem.task.value
    if problem.metrics.primary is not None:
        primary, why = problem.metrics.primary, "set in the brief"
    elif imbalanced and task == "binary_classification":
        primary = IMBALANCED_PRIMARY
        why = f"minority class is {facts.minority_share:.2%}: accuracy would reward predicting the majority"
    else:
        primary, why = DEFAULT_PRIMARY[task], f"the default for {task}"
    if imbalanced and primary == "accuracy":
        raise ConfigError(
            "problem.metrics.primary",
            f"accuracy on a {facts.minority_share:.2%} minority class rewards a model that never predicts it",
            "use pr_auc, f1 or balanced_accuracy",
        )
    return primary, why


def resolve(
    problem: ProblemSchema,
    selection: SelectionSchema,
    models: Mapping[str, ModelSchema],
    tuning: TuningSchema,
    facts: DataFacts,
    forced_model: Optional[str] = None,
) -> Plan:
    """Decide candidates, baselines, metrics, split, tuning and gates for one brief."""
    task = problem.task.value
    _check_rules(selection, models)
    candidates = _candidates(problem, selection, models, forced_model, facts.n_rows)
    notes = []
    absent = [c for c in candidates if not REGISTRY[c.name].installed]
    if absent and len(absent) < len(candidates) and forced_model is None:  # the rule's other candidates still train
        candidates = tuple(c for c in candidates if c not in absent)
        notes.append(f"{', '.join(c.name for c in absent)} left out: {', '.join(sorted({REGISTRY[c.name].extra for c in absent}))} "
                     "is not installed (pip install -e '.[deep]', as make setup does)")
    imbalanced = facts.balance is not None and facts.balance < selection.gates.imbalance_ratio
    primary, primary_why = _primary_metric(problem, facts, imbalanced)
    if imbalanced:
        notes.append("imbalanced classes: class weights in every candidate, threshold tuned on validation data")
    secondary = tuple(m for m in dict.fromkeys(list(problem.metrics.others) + DEFAULT_SECONDARY[task]) if m != primary)
    if problem.data.time_column and problem.data.group_column:
        notes.append(f"both a time and a group column are declared: the split follows time ('{problem.data.time_column}')")
    if problem.constraints.interpretability.value == "preferred":
        notes.append("interpretability preferred: every model is explained with SHAP")
    if not all(c.trainable for c in candidates):
        notes.append(f"{problem.modality.value} training is not implemented yet: this plan can be shown, not run")
    if facts.n_rows is None:
        notes.append("row count unknown: size rules could not be applied")
    split, small_data = (facts.split, []) if facts.split is not None else _small_data(_split(problem, selection), facts.n_rows)
    notes += small_data + list(facts.notes)
    return Plan(
        increment=problem.increment,
        title=problem.title or problem.increment,
        task=task,
        modality=problem.modality.value,
        interpretability=problem.constraints.interpretability.value,
        n_rows=facts.n_rows,
        minority_share=facts.minority_share,
        imbalanced=imbalanced,
        candidates=candidates,
        baselines=tuple(selection.baselines[task]),
        primary_metric=primary,
        primary_why=primary_why,
        secondary_metrics=secondary,
        split=split,
        tuning=tuning.name,
        tuning_phases=tuple(p.value for p in tuning.phases),
        gates=Gates(
            baseline_margin=selection.gates.baseline_margin,
            cv_std=selection.gates.cv_std,
            train_val_gap=selection.gates.train_val_gap,
            latency_p95_ms=problem.constraints.latency_p95_ms,
        ),
        budget_minutes=problem.constraints.budget_minutes,
        notes=tuple(notes),
    )
