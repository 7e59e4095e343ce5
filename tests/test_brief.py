"""Meaning checks on a brief (``brief.validate``) and type checks at compose time, each naming its key."""

import pytest
from hydra.errors import HydraException
from omegaconf.errors import OmegaConfBaseException

from specweave_ml import brief
from specweave_ml.config_errors import describe_compose_error
from specweave_ml.errors import ConfigError
from specweave_ml.schema import Modality, Task


@pytest.fixture
def briefs(composed):
    """``briefs("breast_cancer")``: the shipped brief and selection as fresh typed objects, ready to break."""

    def _briefs(name="breast_cancer"):
        cfg = composed(f"problem={name}")
        return brief.problem_of(cfg), brief.selection_of(cfg)

    return _briefs


def test_the_shipped_brief_is_valid(briefs):
    brief.validate(*briefs())


@pytest.mark.parametrize("increment", ["bad", "12-fraud", "0001_fraud", "0001-Fraud", "0001-", "00001-fraud", "0001-fraud-"])
def test_increment_id_must_be_nnnn_kebab(briefs, increment):
    problem, selection = briefs()
    problem.increment = increment
    with pytest.raises(ConfigError, match=rf"^problem\.increment: '{increment}' is not an increment id.*Fix: "):
        brief.validate(problem, selection)


@pytest.mark.parametrize("target", [None, ""])
def test_a_target_is_required(briefs, target):
    problem, selection = briefs()
    problem.data.target = target
    with pytest.raises(ConfigError, match=r"^problem\.data\.target: no target column is declared\. Fix: set problem\.data\.target"):
        brief.validate(problem, selection)


@pytest.mark.parametrize("key", ["user_column", "item_column"])
def test_interactions_need_user_and_item_columns(briefs, key):
    problem, selection = briefs()
    problem.modality, problem.task = Modality.interactions, Task.ranking
    problem.data.target = None  # interactions do not need a target
    problem.data.user_column, problem.data.item_column = "user", "item"
    problem.metrics.primary, problem.metrics.others = None, []
    brief.validate(problem, selection)
    setattr(problem.data, key, None)
    with pytest.raises(ConfigError, match=rf"^problem\.data\.{key}: interactions data needs it"):
        brief.validate(problem, selection)


def test_too_few_sample_rows_are_refused(briefs):
    problem, selection = briefs()
    problem.data.sample_rows = 5
    with pytest.raises(ConfigError, match=r"^problem\.data\.sample_rows: must be at least 10, got 5"):
        brief.validate(problem, selection)


@pytest.mark.parametrize("key", ["budget_minutes", "latency_p95_ms", "max_memory_gb"])
@pytest.mark.parametrize("value", [-1.0, 0.0])
def test_budgets_must_be_positive(briefs, key, value):
    problem, selection = briefs()
    setattr(problem.constraints, key, value)
    with pytest.raises(ConfigError, match=rf"^problem\.constraints\.{key}: must be positive, got {value:g}\. Fix: "):
        brief.validate(problem, selection)


@pytest.mark.parametrize(
    "name, task, metric",
    [
        ("breast_cancer", "binary_classification", "rmse"),
        ("breast_cancer", "binary_classification", "f1_macro"),
        ("wine", "multiclass_classification", "pr_auc"),
        ("diabetes", "regression", "roc_auc"),
        ("diabetes", "regression", "accuracy"),
    ],
)
def test_the_primary_metric_must_fit_the_task(briefs, name, task, metric):
    problem, selection = briefs(name)
    problem.metrics.primary = metric
    with pytest.raises(ConfigError, match=rf"^problem\.metrics\.primary: '{metric}' does not fit a {task} task\. Fix: use one of"):
        brief.validate(problem, selection)


def test_other_metrics_must_fit_the_task(briefs):
    problem, selection = briefs("diabetes")
    problem.metrics.others = ["mae", "f1"]
    with pytest.raises(ConfigError, match=r"^problem\.metrics\.others: 'f1' does not fit a regression task\. Fix: use some of .*rmse"):
        brief.validate(problem, selection)


def test_an_unknown_other_metric_is_named(briefs):
    problem, selection = briefs()
    problem.metrics.others = ["roc_acu"]
    with pytest.raises(ConfigError, match=r"^problem\.metrics\.others: 'roc_acu' is not a known metric for a binary_classification task"):
        brief.validate(problem, selection)


@pytest.mark.parametrize("name", ["diabetes", "wine"])
def test_cost_ratio_only_applies_to_binary_classification(briefs, name):
    problem, selection = briefs(name)
    problem.metrics.cost_ratio = 10.0
    with pytest.raises(ConfigError, match=r"^problem\.metrics\.cost_ratio: only applies to binary classification"):
        brief.validate(problem, selection)


def test_cost_ratio_must_be_positive(briefs):
    problem, selection = briefs()
    problem.metrics.cost_ratio = 10.0
    brief.validate(problem, selection)
    problem.metrics.cost_ratio = 0.0
    with pytest.raises(ConfigError, match=r"^problem\.metrics\.cost_ratio: must be positive"):
        brief.validate(problem, selection)


@pytest.mark.parametrize("folds", [2, 1, 0, -3])
def test_cv_needs_at_least_three_folds(briefs, folds):
    problem, selection = briefs()
    selection.cv_folds = folds
    with pytest.raises(ConfigError, match=rf"^selection\.cv_folds: must be at least 3, got {folds}"):
        brief.validate(problem, selection)


def test_three_folds_are_enough(briefs):
    problem, selection = briefs()
    selection.cv_folds = 3
    brief.validate(problem, selection)


@pytest.mark.parametrize("size", [0.0, 0.01, 0.9])
def test_test_size_is_bounded(briefs, size):
    problem, selection = briefs()
    selection.test_size = size
    with pytest.raises(ConfigError, match=r"^selection\.test_size: must be between 0\.05 and 0\.5"):
        brief.validate(problem, selection)


def test_every_task_needs_baselines(briefs):
    problem, selection = briefs("diabetes")
    del selection.baselines["regression"]
    with pytest.raises(ConfigError, match=r"^selection\.baselines: no baselines listed for regression\. Fix: add selection\.baselines\.regression"):
        brief.validate(problem, selection)


# --- the schema layer: wrong types fail at compose time, naming the full key ---------------------

@pytest.mark.parametrize(
    "override, key",
    [
        ("problem.task=foo", "problem.task"),
        ("problem.modality=pictures", "problem.modality"),
        ("problem.constraints.interpretability=maybe", "problem.constraints.interpretability"),
        ("problem.constraints.budget_minutes=lots", "problem.constraints.budget_minutes"),
        ("selection.cv_folds=five", "selection.cv_folds"),
        ("seed=abc", "seed"),
    ],
)
def test_a_wrong_type_fails_at_compose_time_naming_the_key(compose, override, key):
    with pytest.raises((HydraException, OmegaConfBaseException)) as info:
        compose([override])
    message = describe_compose_error(info.value)
    assert message.startswith(f"{key}: "), message
    assert "Fix: " in message
    assert "\n" not in message


def test_an_unknown_option_fails_at_compose_time_naming_the_group(compose):
    with pytest.raises(HydraException) as info:
        compose(["problem=nope"])
    message = describe_compose_error(info.value)
    assert message.startswith("problem: ") and "'nope'" in message and "Fix: use one of" in message and "fraud" in message


@pytest.mark.parametrize("section, value, key", [
    ("task", "regresion", "problem.task"),
    ("data", {"colour": "red"}, "problem.data.colour"),
    ("constraints", {"budget_minutes": "lots"}, "problem.constraints.budget_minutes"),
    ("metrics", [1], "problem"),  # a whole section of the wrong kind: OmegaConf names no deeper key
])
def test_a_wrong_value_in_a_brief_file_is_named_by_its_key(tmp_path, section, value, key):
    """Hydra wraps an error found while merging a brief file without ``from``; the message still names the key."""
    import yaml

    from _compose import CONF, compose_at

    written = yaml.safe_load((CONF / "problem" / "breast_cancer.yaml").read_text())
    written[section] = {**written[section], **value} if isinstance(value, dict) else value
    (tmp_path / "conf" / "problem").mkdir(parents=True)
    (tmp_path / "conf" / "problem" / "mine.yaml").write_text(yaml.safe_dump(written))
    with pytest.raises((HydraException, OmegaConfBaseException)) as info:
        compose_at(tmp_path, ["problem=mine", f"hydra.searchpath=[file://{tmp_path / 'conf'}]"])
    message = describe_compose_error(info.value)
    assert message.startswith(f"{key}: ") and "Fix: " in message and "\n" not in message, message
