"""The seam: a model is one registry entry plus one YAML file; a task family is one module; steps stay generic."""

import ast
import inspect
import re
from pathlib import Path

import pytest

from _compose import compose_at
from specweave_ml import families
from specweave_ml.families.base import Family
from specweave_ml.fileio import read_json
from specweave_ml.models.registry import EXPLAINERS, REGISTRY, TABULAR_TASKS, ModelEntry, register
from specweave_ml.stages import run_stage

PACKAGE = Path(__file__).resolve().parent.parent / "specweave_ml"
EXTRA_TREES_YAML = """\
# Extremely randomised trees: a model added by a test, with nothing else changed.
name: extra_trees
params:
  n_estimators: 60
  min_samples_leaf: 2
search:
  coarse:
    n_estimators: [30, 60]
"""


def _extra_trees(task: str, params: dict):
    from sklearn.ensemble import ExtraTreesClassifier, ExtraTreesRegressor

    return (ExtraTreesRegressor if task == "regression" else ExtraTreesClassifier)(**params)


@pytest.fixture
def extra_trees(tmp_path):
    """The one registry entry and the one YAML file a new tabular model needs; removed again afterwards."""
    conf = tmp_path / "conf"
    (conf / "model").mkdir(parents=True)
    (conf / "model" / "extra_trees.yaml").write_text(EXTRA_TREES_YAML)
    register(ModelEntry("extra_trees", "tabular", TABULAR_TASKS, complexity=3, factory=_extra_trees,
                        preprocess="imputed", explainer="tree", requirements=("threadpoolctl>=3",)))
    yield f"hydra.searchpath=[file://{conf}]"
    del REGISTRY["extra_trees"]


@pytest.mark.slow
def test_a_model_added_by_one_entry_and_one_yaml_file_is_planned_trained_explained_and_packaged(extra_trees, tmp_path):
    root = tmp_path / "project"
    cfg = compose_at(root, ["problem=breast_cancer", "model=extra_trees", "tracking=off", extra_trees])
    assert cfg.models.extra_trees.params.n_estimators == 60  # models: all picked up its YAML file
    for stage in ("fetch", "prepare", "train", "evaluate", "explain", "package"):
        cfg.stage = stage
        run_stage(cfg)
    inc = root / "increments" / "0002-breast-cancer"
    plan = read_json(inc / "reports/prepare.json")["plan"]
    assert [c["name"] for c in plan["candidates"]] == ["extra_trees"] and plan["candidates"][0]["trainable"]
    trained = read_json(inc / "reports/training.json")
    assert trained["chosen"] == "extra_trees" and trained["params"]["n_estimators"] == 60
    assert "threadpoolctl>=3" in (inc / "models/champion/requirements.txt").read_text()
    assert read_json(inc / "reports/shap/summary.json")["explainer"] == "tree"
    assert read_json(inc / "reports/drift/reference.json")["model"]["explainer"] == "tree"
    assert read_json(inc / "reports/metrics.json")["holdout"]["roc_auc"] > 0.9


def test_a_selection_rule_can_name_the_new_model_and_candidates_stay_simple_before_complex(extra_trees, tmp_path):
    from specweave_ml.context import Context

    rule = "selection.rules=[{name: small, why: test, modality: tabular, models: [xgboost, extra_trees, linear]}]"
    cfg = compose_at(tmp_path, ["problem=breast_cancer", extra_trees, rule])
    ctx = Context.from_cfg(cfg)
    plan = ctx.plan(ctx.facts())
    assert [c.name for c in plan.candidates] == ["linear", "extra_trees", "xgboost"]


def test_a_planned_model_without_a_factory_is_listed_but_not_trainable():
    planned = ModelEntry("planned_vit", "image", ("multiclass_classification",), 5)  # no factory yet
    assert not planned.trainable and "planned_vit" not in REGISTRY
    with pytest.raises(ValueError, match="explainer must be one of"):
        ModelEntry("bad", "tabular", TABULAR_TASKS, 1, explainer="magic")


def test_only_the_models_package_and_the_configs_name_models():
    """Outside ``specweave_ml/models/`` (the registry, and the wrapper that knows each boosting library's early
    stopping) no module names a model; the selection rules, in YAML, pick them by name."""
    names = sorted(set(REGISTRY) - set(EXPLAINERS), key=len, reverse=True)  # 'linear' is also an explainer kind
    pattern = re.compile(r"""["'](%s)["']""" % "|".join(map(re.escape, names)))
    offenders = []
    for path in PACKAGE.rglob("*.py"):
        if path.parent.name == "models":
            continue
        for i, line in enumerate(path.read_text().splitlines(), 1):
            if pattern.search(line):
                offenders.append(f"{path.relative_to(PACKAGE)}:{i}: {line.strip()}")
    assert offenders == []


def test_every_family_implements_the_whole_protocol():
    wanted = {name for name, _ in inspect.getmembers(Family, inspect.isfunction)}
    for family in families.all_families():
        missing = [m for m in wanted if not callable(getattr(family, m, None))]
        assert missing == [], (family.name, missing)
        assert family.name in families.MODULES


def test_the_tabular_family_serves_tabular_tasks_and_nothing_else():
    assert families.find("binary_classification", "tabular").name == "tabular"
    assert families.find("regression", "tabular").name == "tabular"
    assert families.find("forecasting", "time_series").name == "forecasting"  # the forecasting family serves it
    assert families.find("multiclass_classification", "image").name == "image"  # the image family serves it
    assert families.find("regression", "image") is None


def test_the_steps_do_not_branch_on_a_task_or_modality_name():
    """What differs by task or modality lives in the family module; the steps call it."""
    task_words = {"binary_classification", "multiclass_classification", "regression", "ranking", "forecasting",
                  "tabular", "text", "image", "time_series", "interactions"}
    for path in sorted((PACKAGE / "steps").glob("*.py")):
        tree = ast.parse(path.read_text())
        for node in ast.walk(tree):
            if isinstance(node, ast.Compare):
                for side in [node.left, *node.comparators]:
                    values = side.elts if isinstance(side, (ast.Tuple, ast.List, ast.Set)) else [side]
                    for v in values:
                        assert not (isinstance(v, ast.Constant) and v.value in task_words), \
                            f"{path.name}:{node.lineno} compares with '{v.value}'"
