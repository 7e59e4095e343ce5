"""Every option of every config group composes, type-checks and means something."""

from pathlib import Path

import pytest
from omegaconf import OmegaConf

from specweave_ml import brief
from specweave_ml.context import Context
from specweave_ml.schema import Config

CONF = Path(__file__).resolve().parent.parent / "conf"


def options(group: str) -> list[str]:
    """The options of a config group, read from the folder so a new file is tested the day it lands."""
    return sorted(p.stem for p in (CONF / group).glob("*.yaml"))


GROUPS = sorted(p.name for p in CONF.iterdir() if p.is_dir() and p.name != "hydra")  # hydra/: --help, see test_help.py
EVERY_OPTION = [(group, name) for group in GROUPS for name in options(group)]


def test_the_config_tree_has_the_groups_the_product_needs():
    assert {"problem", "selection", "model", "tuning", "tracking", "serving", "explain"} <= set(GROUPS)
    for group in GROUPS:
        assert options(group), f"conf/{group}/ has no options"


@pytest.mark.parametrize("group, name", EVERY_OPTION, ids=[f"{g}={n}" for g, n in EVERY_OPTION])
def test_every_option_of_every_group_composes(composed, group, name):
    cfg = composed(f"{group}={name}")
    obj = OmegaConf.to_object(cfg)  # resolves every interpolation and checks every type against the schema
    assert isinstance(obj, Config)
    assert cfg[group] is not None


def test_default_config_composes_to_the_typed_schema(compose):
    cfg = compose()
    obj = OmegaConf.to_object(cfg)
    assert isinstance(obj, Config)
    assert cfg.problem.increment == "0001-fraud-detection"
    assert cfg.stage == "all"
    assert cfg.model is None
    assert "hydra" not in cfg


@pytest.mark.parametrize("name", options("problem"))
def test_every_brief_is_valid(composed, name):
    cfg = composed(f"problem={name}")
    problem, selection = brief.problem_of(cfg), brief.selection_of(cfg)
    brief.validate(problem, selection)  # a shipped brief is a valid brief
    assert problem.increment.split("-", 1)[1], "an increment id names the increment"


def test_shipped_briefs_have_distinct_increments():
    ids = [OmegaConf.load(CONF / "problem" / f"{name}.yaml").increment for name in options("problem")]
    assert len(ids) == len(set(ids))


@pytest.mark.parametrize("name", options("selection"))
def test_every_selection_names_known_models(composed, name):
    cfg = composed(f"selection={name}")
    selection = brief.selection_of(cfg)
    assert selection.rules
    assert selection.cv_folds >= 3
    # Every rule names only models the registry knows (conf/model/).
    for rule in selection.rules:
        assert set(rule.models) <= set(cfg.models), rule.name


@pytest.mark.parametrize("name", options("tuning"))
def test_every_tuning_option_is_named_after_its_file(composed, name):
    cfg = composed(f"tuning={name}")
    assert cfg.tuning.name == name


@pytest.mark.parametrize("name", options("tracking"))
def test_a_local_tracking_store_lives_under_the_root(compose, name, tmp_path):
    cfg = compose([f"tracking={name}"])
    obj = OmegaConf.to_object(cfg)
    if obj.tracking.enabled and not obj.tracking.uri.startswith("http"):  # tracking=server: a server's address
        assert str(tmp_path) in obj.tracking.uri, "a local tracking store lives under paths.root"


@pytest.mark.parametrize("name", options("model"))
def test_every_model_can_be_forced(composed, name):
    cfg = composed("problem=breast_cancer", f"model={name}")
    assert cfg.model.name == name, f"conf/model/{name}.yaml must set name: {name}"
    ctx = Context.from_cfg(cfg)
    assert ctx.forced_model == name


def test_models_all_holds_every_registered_model_and_every_model_file_is_registered(default_config):
    """``models: all`` is generated from the registry: one entry plus one conf/model/<name>.yaml per model."""
    from specweave_ml.models.registry import REGISTRY

    cfg = default_config
    assert sorted(cfg.models) == sorted(REGISTRY) == options("model")
    for key, spec in cfg.models.items():
        assert spec.name == key


@pytest.mark.slow
def test_cfg_job_prints_the_composed_config(cli):
    result = cli("problem=wine", "--cfg", "job")
    assert result.returncode == 0, result.stderr
    printed = OmegaConf.create(result.stdout)
    assert printed.problem.increment == "0003-wine-cultivar"
    assert printed.problem.constraints.interpretability == "required"
    assert [r.name for r in printed.selection.rules][0] == "interpretability-required"
    assert "xgboost" in printed.models
    assert printed.stage == "all"
