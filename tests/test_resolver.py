"""The decision tree, branch by branch: ``resolver.resolve`` on typed briefs and the shipped rules."""

import dataclasses

import pytest
from omegaconf import OmegaConf

from specweave_ml import brief
from specweave_ml.errors import ConfigError

from specweave_ml.resolver import DataFacts, resolve
from specweave_ml.schema import (
    ConstraintsSchema,
    DataSchema,
    Interpretability,
    MetricsSchema,
    Modality,
    ProblemSchema,
    RuleSchema,
    Task,
)


@pytest.fixture(scope="module")
def shipped(default_config):
    """The shipped selection rules, model specs and tuning, composed from conf/."""
    cfg = default_config
    models = {name: OmegaConf.to_object(spec) for name, spec in cfg.models.items()}
    return brief.selection_of(cfg), models, OmegaConf.to_object(cfg.tuning)


def make_problem(task="binary_classification", modality="tabular", interpretability="none", primary=None,
                 time_column=None, group_column=None, **data):
    return ProblemSchema(
        increment="0099-test-brief",
        task=Task(task),
        modality=Modality(modality),
        data=DataSchema(source="data.csv", target="y", time_column=time_column, group_column=group_column, **data),
        constraints=ConstraintsSchema(interpretability=Interpretability(interpretability), latency_p95_ms=80),
        metrics=MetricsSchema(primary=primary),
    )


@pytest.fixture
def plan_for(shipped):
    selection, models, tuning = shipped

    def _plan(problem, facts=DataFacts(n_rows=5_000), forced_model=None, selection=selection):
        return resolve(problem, selection, models, tuning, facts, forced_model)

    return _plan


def names(plan):
    return [c.name for c in plan.candidates]


# --- candidates: one test per branch of the tree ------------------------------------------------

@pytest.mark.parametrize("task", ["binary_classification", "multiclass_classification", "regression"])
def test_small_tabular_picks_linear_and_random_forest(plan_for, task):
    plan = plan_for(make_problem(task=task), DataFacts(n_rows=569))
    assert names(plan) == ["linear", "random_forest", "lightgbm"]
    assert [c.rule for c in plan.candidates] == ["tabular-small", "tabular-small", "tabular-small (next step)"]
    assert [c.next_step for c in plan.candidates] == [False, False, True]  # boosting only when the budget leaves time
    assert "lightgbm  [when time is left]" in plan.describe()


def test_the_next_step_is_never_added_to_a_pinned_model_or_when_interpretability_is_required(plan_for, shipped):
    from dataclasses import replace

    assert names(plan_for(make_problem(), DataFacts(n_rows=569), forced_model="random_forest")) == ["random_forest"]
    selection = shipped[0]
    readable = RuleSchema(name="readable", why="rules a person can read", models=["linear"], then=["lightgbm"],
                          then_why="more accuracy when time is left", modality=Modality.tabular, interpretability=Interpretability.required)
    plan = plan_for(make_problem(interpretability="required"), DataFacts(n_rows=569),
                    selection=replace(selection, rules=[readable, *selection.rules]))
    assert names(plan) == ["linear"]


def test_a_next_step_without_its_reason_is_refused(plan_for, shipped):
    from dataclasses import replace

    selection = shipped[0]
    silent = RuleSchema(name="silent", why="small data", models=["linear"], then=["lightgbm"], modality=Modality.tabular)
    with pytest.raises(ConfigError, match=r"selection.rules\[0\].then_why"):
        plan_for(make_problem(), DataFacts(n_rows=569), selection=replace(selection, rules=[silent, *selection.rules]))


def test_medium_tabular_picks_xgboost_and_lightgbm(plan_for):
    plan = plan_for(make_problem(), DataFacts(n_rows=284_807))
    assert names(plan) == ["xgboost", "lightgbm"]
    assert {c.rule for c in plan.candidates} == {"tabular-medium"}


def test_large_tabular_picks_lightgbm(plan_for):
    plan = plan_for(make_problem(task="regression"), DataFacts(n_rows=3_000_000))
    assert names(plan) == ["lightgbm"]
    assert plan.candidates[0].rule == "tabular-large"


@pytest.mark.parametrize(
    "n_rows, rule, expected",
    [
        (9_999, "tabular-small", ["linear", "random_forest", "lightgbm"]),
        (10_000, "tabular-medium", ["xgboost", "lightgbm"]),
        (999_999, "tabular-medium", ["xgboost", "lightgbm"]),
        (1_000_000, "tabular-large", ["lightgbm"]),
    ],
)
def test_row_bounds_are_min_inclusive_max_exclusive(plan_for, n_rows, rule, expected):
    plan = plan_for(make_problem(), DataFacts(n_rows=n_rows))
    assert names(plan) == expected
    assert plan.candidates[0].rule == rule
    assert plan.n_rows == n_rows


@pytest.mark.parametrize("n_rows", [178, 50_000, 5_000_000])
def test_interpretability_required_wins_over_size(plan_for, n_rows):
    plan = plan_for(make_problem(interpretability="required"), DataFacts(n_rows=n_rows))
    assert names(plan) == ["linear", "decision_tree", "xgboost"]
    assert {c.rule for c in plan.candidates} == {"interpretability-required"}
    assert all(c.trainable for c in plan.candidates)


def test_interpretability_preferred_keeps_the_size_rule_and_promises_shap(plan_for):
    plan = plan_for(make_problem(interpretability="preferred"), DataFacts(n_rows=50_000))
    assert names(plan) == ["xgboost", "lightgbm"]
    assert any("SHAP" in note for note in plan.notes)


def test_texts_resolve_to_trainable_bag_of_words_then_the_encoder_then_both(plan_for):
    plan = plan_for(make_problem(task="binary_classification", modality="text"), DataFacts(n_rows=12_808))
    assert names(plan) == ["bag_of_words", "text_encoder", "text_hybrid"]  # simple before complex
    assert {c.rule for c in plan.candidates} == {"text"}
    assert plan.trainable
    assert "[not trainable yet]" not in plan.describe()


def test_images_resolve_to_trainable_pixel_logistic_regression_then_a_cnn(plan_for):
    plan = plan_for(make_problem(task="multiclass_classification", modality="image"), DataFacts(n_rows=5_000))
    assert names(plan) == ["pixel_linear", "cnn"]  # simple before complex
    assert {c.rule for c in plan.candidates} == {"images"}
    assert plan.trainable


def test_a_time_series_resolves_to_trainable_forecasters_simple_before_complex(plan_for):
    plan = plan_for(make_problem(task="forecasting", modality="time_series"), DataFacts(n_rows=144))
    assert names(plan) == ["holt_winters", "arima", "lag_gbm", "lstm"]
    assert {c.rule for c in plan.candidates} == {"time-series"}
    assert plan.trainable


def test_interactions_resolve_to_trainable_recommenders_simple_before_complex(plan_for):
    plan = plan_for(make_problem(task="ranking", modality="interactions"), DataFacts(n_rows=100_000))
    assert names(plan) == ["item_knn", "matrix_factorization", "bpr", "neural_cf"]
    assert {c.rule for c in plan.candidates} == {"recommendations"}
    assert plan.trainable
    assert plan.baselines == ("popularity", "recent_popularity", "random")


def test_image_plan_resolves_without_a_row_count(plan_for):
    plan = plan_for(make_problem(task="multiclass_classification", modality="image"), DataFacts(n_rows=None))
    assert names(plan) == ["pixel_linear", "cnn"]
    assert any("row count unknown" in note for note in plan.notes)


def test_every_candidate_records_its_rule_and_why(plan_for, shipped):
    selection = shipped[0]
    why = {rule.name: rule.why for rule in selection.rules} | {f"{r.name} (next step)": r.then_why for r in selection.rules if r.then}
    for facts in (DataFacts(n_rows=500), DataFacts(n_rows=20_000), DataFacts(n_rows=2_000_000)):
        plan = plan_for(make_problem(), facts)
        for c in plan.candidates:
            assert c.rule in why
            assert c.why == why[c.rule] and c.why.strip()
            assert f"rule '{c.rule}': {c.why}" in plan.describe()


def test_first_matching_rule_wins(plan_for, shipped):
    selection = shipped[0]
    first = RuleSchema(name="team-choice", why="the team standardised on random forests", models=["random_forest"],
                       modality=Modality.tabular)
    custom = dataclasses.replace(selection, rules=[first, *selection.rules])
    plan = plan_for(make_problem(), DataFacts(n_rows=50_000), selection=custom)
    assert names(plan) == ["random_forest"]
    assert plan.candidates[0].rule == "team-choice"


def test_candidates_are_ordered_simple_before_complex(plan_for, shipped):
    selection = shipped[0]
    reversed_rule = RuleSchema(name="backwards", why="listed complex first", models=["xgboost", "decision_tree", "linear"])
    custom = dataclasses.replace(selection, rules=[reversed_rule])
    plan = plan_for(make_problem(), DataFacts(n_rows=500), selection=custom)
    assert names(plan) == ["linear", "decision_tree", "xgboost"]


def test_no_matching_rule_is_a_config_error(plan_for, shipped):
    selection = shipped[0]
    only_images = dataclasses.replace(selection, rules=[r for r in selection.rules if r.modality == Modality.image])
    with pytest.raises(ConfigError, match=r"^selection\.rules: no rule matches a tabular binary_classification"):
        plan_for(make_problem(), DataFacts(n_rows=500), selection=only_images)


# --- rules naming unknown models, forced models -----------------------------------------------

@pytest.mark.parametrize("position", [0, 3, 8])
def test_a_rule_naming_an_unknown_model_fails_at_resolve_time(plan_for, shipped, position):
    selection = shipped[0]
    bad = RuleSchema(name="typo", why="a typo", models=["linear", "xgbost"], modality=Modality.text)
    rules = list(selection.rules)
    rules.insert(position, bad)
    with pytest.raises(ConfigError, match=rf"^selection\.rules\[{position}\]\.models: rule 'typo' names unknown model 'xgbost'.*Fix: .*xgboost"):
        # The bad rule is not even the one that would match: every rule is checked.
        plan_for(make_problem(), DataFacts(n_rows=500), selection=dataclasses.replace(selection, rules=rules))


def test_the_unknown_model_error_matches_the_generic_pattern(plan_for, shipped):
    selection = shipped[0]
    rules = [*selection.rules, RuleSchema(name="x", why="y", models=["nope"])]
    with pytest.raises(ConfigError, match=r"selection.rules\[\d+\].models"):
        plan_for(make_problem(), selection=dataclasses.replace(selection, rules=rules))


def test_forced_model_replaces_the_candidates(plan_for):
    plan = plan_for(make_problem(), DataFacts(n_rows=50_000), forced_model="decision_tree")
    assert names(plan) == ["decision_tree"]
    assert plan.candidates[0].rule == "command line"
    assert "model=decision_tree" in plan.candidates[0].why
    assert plan.candidates[0].trainable


def test_forcing_an_unknown_model_is_a_config_error(plan_for):
    with pytest.raises(ConfigError, match=r"^model: unknown model 'nope'"):
        plan_for(make_problem(), forced_model="nope")


def test_forcing_a_model_of_another_modality_is_not_trainable(plan_for):
    plan = plan_for(make_problem(), forced_model="cnn")
    assert names(plan) == ["cnn"]
    assert not plan.trainable


# --- split strategy ----------------------------------------------------------------------------

def test_time_column_gives_a_time_ordered_split(plan_for):
    split = plan_for(make_problem(time_column="Time")).split
    assert (split.strategy, split.cv_strategy, split.time_column) == ("time", "expanding_window", "Time")
    assert "Time" in split.why


def test_group_column_gives_a_grouped_split(plan_for):
    split = plan_for(make_problem(task="regression", group_column="patient")).split
    assert (split.strategy, split.cv_strategy, split.group_column) == ("group", "group_kfold", "patient")


def test_time_and_group_follow_time_and_say_so(plan_for):
    plan = plan_for(make_problem(time_column="ts", group_column="user"))
    assert plan.split.strategy == "time"
    assert any("both a time and a group column" in note for note in plan.notes)


@pytest.mark.parametrize("task", ["binary_classification", "multiclass_classification"])
def test_classification_without_structure_is_stratified(plan_for, task):
    split = plan_for(make_problem(task=task)).split
    assert (split.strategy, split.cv_strategy) == ("stratified", "stratified_kfold")


def test_regression_without_structure_is_random(plan_for):
    split = plan_for(make_problem(task="regression")).split
    assert (split.strategy, split.cv_strategy) == ("random", "kfold")


def test_cv_folds_and_test_size_come_from_the_selection(plan_for, shipped):
    selection = dataclasses.replace(shipped[0], cv_folds=7, test_size=0.2)
    split = plan_for(make_problem(), selection=selection).split
    assert (split.cv_folds, split.test_size) == (7, 0.2)
    assert plan_for(make_problem()).split.cv_folds == 5  # the shipped default


# --- metrics and imbalance ---------------------------------------------------------------------

FRAUD_FACTS = DataFacts(n_rows=284_807, minority_share=0.0017, n_classes=2)


def test_imbalanced_binary_makes_pr_auc_the_primary_when_the_brief_sets_none(plan_for):
    plan = plan_for(make_problem(), FRAUD_FACTS)
    assert plan.imbalanced
    assert plan.primary_metric == "pr_auc"
    assert "0.17%" in plan.primary_why
    assert "pr_auc" not in plan.secondary_metrics
    assert any("imbalanced" in note for note in plan.notes)


def test_the_brief_primary_metric_wins_over_the_imbalance_default(plan_for):
    plan = plan_for(make_problem(primary="roc_auc"), FRAUD_FACTS)
    assert plan.imbalanced
    assert (plan.primary_metric, plan.primary_why) == ("roc_auc", "set in the brief")


def test_accuracy_on_imbalanced_classes_is_refused(plan_for):
    with pytest.raises(ConfigError, match=r"^problem\.metrics\.primary: accuracy on a 0\.17% minority class"):
        plan_for(make_problem(primary="accuracy"), FRAUD_FACTS)


def test_balanced_binary_keeps_roc_auc(plan_for):
    plan = plan_for(make_problem(), DataFacts(n_rows=569, minority_share=0.37, n_classes=2))
    assert not plan.imbalanced
    assert plan.primary_metric == "roc_auc"


def test_ten_balanced_classes_are_not_imbalanced(plan_for):
    plan = plan_for(make_problem(task="multiclass_classification"), DataFacts(n_rows=1_797, minority_share=0.099, n_classes=10))
    assert not plan.imbalanced
    assert plan.primary_metric == "f1_macro"
    assert not any("imbalanced" in note for note in plan.notes)


def test_a_rare_class_among_three_is_imbalanced(plan_for):
    plan = plan_for(make_problem(task="multiclass_classification"), DataFacts(n_rows=1_000, minority_share=0.02, n_classes=3))
    assert plan.imbalanced
    assert plan.primary_metric == "f1_macro"  # PR-AUC is a binary metric


@pytest.mark.parametrize(
    "task, primary",
    [("binary_classification", "roc_auc"), ("multiclass_classification", "f1_macro"), ("regression", "rmse"),
     ("forecasting", "mae")],
)
def test_default_primary_metric_per_task(plan_for, task, primary):
    modality = "time_series" if task == "forecasting" else "tabular"
    plan = plan_for(make_problem(task=task, modality=modality))
    assert plan.primary_metric == primary
    assert plan.primary_why == f"the default for {task}"
    assert primary not in plan.secondary_metrics


# --- baselines, gates, tuning --------------------------------------------------------------------

@pytest.mark.parametrize("task", ["binary_classification", "multiclass_classification", "regression"])
def test_baselines_come_from_the_selection_for_the_task(plan_for, shipped, task):
    plan = plan_for(make_problem(task=task))
    assert list(plan.baselines) == shipped[0].baselines[task]
    assert plan.baselines


def test_gates_carry_the_methodology_thresholds_and_the_latency_budget(plan_for):
    gates = plan_for(make_problem()).gates
    assert (gates.baseline_margin, gates.cv_std, gates.train_val_gap) == (0.2, 0.1, 0.1)
    assert gates.latency_p95_ms == 80


def test_tuning_comes_from_the_tuning_group(plan_for, shipped):
    plan = plan_for(make_problem())
    assert plan.tuning == shipped[2].name
    assert list(plan.tuning_phases) == list(shipped[2].phases)


def test_resolve_is_pure(plan_for):
    problem = make_problem(time_column="t")
    assert plan_for(problem, FRAUD_FACTS) == plan_for(problem, FRAUD_FACTS)
    assert problem == make_problem(time_column="t")
