"""The increments `dvc repro` builds: params files, the index, each family's plots, and dvc.yaml kept in step
with them (the real `dvc repro` runs in tests/test_dvc_pipeline.py)."""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import yaml

from specweave_ml import dvc_index, families
from specweave_ml.errors import ConfigError, NotTrainableYet
from specweave_ml.evaluation.plots import CURVES, curve_points
from specweave_ml.stages import run_stage

REPO = Path(__file__).resolve().parent.parent
SHIPPED = sorted(p.stem for p in (REPO / "conf" / "problem").glob("*.yaml"))


def test_params_leave_out_the_command_line_and_mean_the_same_on_every_clone(compose, tmp_path):
    cfg = compose(["problem=wine", "stage=train", "input=x.csv", "selection.cv_folds=4"])
    params = dvc_index.params_of(cfg)
    assert not set(dvc_index.RUN_ONLY) & set(params)
    assert params["selection"]["cv_folds"] == 4
    assert params["problem"]["task"] == "multiclass_classification"  # an enum, written as its value
    assert params["tracking"]["uri"] == "sqlite:///./mlflow.db"  # not the temp root this config was composed in
    assert str(tmp_path) not in yaml.safe_dump(params)


def test_a_params_file_is_rewritten_only_when_it_changes(compose, tmp_path):
    path = tmp_path / "increments" / "0003-wine-cultivar" / "params.yaml"
    assert dvc_index.write_params(path, compose(["problem=wine"]), "0003-wine-cultivar")
    before = path.stat().st_mtime_ns
    assert not dvc_index.write_params(path, compose(["problem=wine"]), "0003-wine-cultivar")
    assert path.stat().st_mtime_ns == before
    assert dvc_index.write_params(path, compose(["problem=wine", "seed=7"]), "0003-wine-cultivar")
    assert yaml.safe_load(path.read_text())["seed"] == 7


def test_register_keeps_one_sorted_entry_per_increment(tmp_path):
    assert dvc_index.register(tmp_path, "0002-b", {"brief": "b", "family": "tabular", "task": "regression"})
    assert dvc_index.register(tmp_path, "0001-a", {"brief": "a", "family": "tabular", "task": "regression"})
    assert not dvc_index.register(tmp_path, "0001-a", {"brief": "a", "family": "tabular", "task": "regression"})
    assert dvc_index.register(tmp_path, "0001-a", {"brief": "a2", "family": "tabular", "task": "regression"})
    assert list(dvc_index.read_index(tmp_path)) == ["0001-a", "0002-b"]
    assert dvc_index.read_index(tmp_path)["0001-a"]["brief"] == "a2"


@pytest.mark.parametrize("text, expected", [("increments: [a, b\n", "not valid YAML"),
                                            ("increments: [a, b]\n", "expected a mapping")])
def test_a_broken_index_is_named_with_its_fix(tmp_path, text, expected):
    (tmp_path / dvc_index.INDEX).write_text(text)
    with pytest.raises(ConfigError) as err:
        dvc_index.read_index(tmp_path)
    assert expected in err.value.message and "pipeline.yaml" in err.value.message


def test_stage_params_registers_the_increment_with_its_params_and_plots(compose, tmp_path):
    run_stage(compose(["problem=diabetes", "stage=params", "selection.cv_folds=4"]))
    run_stage(compose(["problem=breast_cancer", "stage=params"]))
    increments = tmp_path / "increments"
    index = dvc_index.read_index(increments)
    assert index["0004-diabetes-progression"] == {"brief": None, "family": "tabular", "task": "regression",
                                                  "code": "specweave_ml/training"}
    assert list(index) == ["0002-breast-cancer", "0004-diabetes-progression"]
    params = yaml.safe_load((increments / "0004-diabetes-progression" / "params.yaml").read_text())
    assert params["selection"]["cv_folds"] == 4
    plots = yaml.safe_load((increments / "0002-breast-cancer" / "dvc.yaml").read_text())["plots"]
    assert [next(iter(p)) for p in plots] == ["reports/curves/roc.csv", "reports/curves/precision_recall.csv"]


def test_stage_params_refuses_a_brief_nothing_trains_yet_and_writes_nothing(compose, tmp_path):
    cfg = compose(["problem=diabetes", "problem.modality=image", "stage=params"])  # no family trains image regression
    with pytest.raises(NotTrainableYet) as err:
        run_stage(cfg)
    assert "problem.modality" in err.value.message
    assert not (tmp_path / "increments").exists()


def _predictions(task: str) -> tuple[pd.DataFrame, list | None]:
    rng = np.random.default_rng(0)
    if task == "regression":
        y = rng.normal(size=50)
        return pd.DataFrame({"y_true": y, "y_pred": y + rng.normal(scale=0.3, size=50)}), None
    classes = ["a", "b"] if task == "binary_classification" else ["a", "b", "c"]
    y = rng.choice(classes, size=60)
    frame = pd.DataFrame({"y_true": y, "y_pred": rng.choice(classes, size=60)})
    if task == "binary_classification":
        frame["score"] = rng.random(60)
    else:
        for c in classes:
            frame[f"proba_{c}"] = 1 / len(classes)
    return frame, classes


@pytest.mark.parametrize("task", sorted(CURVES))
def test_each_declared_plot_is_a_file_evaluate_writes_with_the_declared_columns(task, tmp_path):
    preds, classes = _predictions(task)
    written = curve_points(preds, task, classes, tmp_path)
    assert sorted(p.name for p in written) == sorted(CURVES[task])
    for path in written:
        columns = set(pd.read_csv(path).columns)
        props = CURVES[task][path.name]
        assert {props["x"], props["y"]} <= columns


def test_every_task_a_family_serves_has_its_plots_and_its_code_is_a_folder_stages_depend_on():
    for family in families.all_families():
        for task in family.tasks:
            assert family.dvc_plots(task), f"{family.name} declares no plot for {task}"
        assert (REPO / family.code).is_dir(), f"{family.name}.code: {family.code} is not a folder"


def _stages() -> dict:
    return yaml.safe_load((REPO / "dvc.yaml").read_text())["stages"]


def _lookup(data: dict, dotted: str) -> bool:
    for part in dotted.split("."):
        if not isinstance(data, dict) or part not in data:
            return False
        data = data[part]
    return True


def test_dvc_yaml_expands_every_stage_over_the_index_and_reads_its_own_params_file():
    for name, stage in _stages().items():
        assert stage["foreach"] == "${increments}", name
        body = stage["do"]
        assert re.search(r"--config-name from_params --config-dir increments/\$\{key\} stage=" + name + "$", body["cmd"])
        for declared in body.get("params", []):
            assert list(declared) == ["increments/${key}/params.yaml"], f"{name} reads params from elsewhere"


@pytest.mark.parametrize("brief", SHIPPED)
def test_every_param_a_stage_declares_exists_in_the_params_file(brief, composed):
    params = dvc_index.params_of(composed(f"problem={brief}"))
    for name, stage in _stages().items():
        for declared in stage["do"].get("params", []):
            for key in declared["increments/${key}/params.yaml"]:
                assert _lookup(params, key), f"{name} declares {key}, which {brief}'s params file lacks"


@pytest.mark.parametrize("brief", SHIPPED)
def test_every_shipped_brief_is_registered_and_its_params_file_is_up_to_date(brief, composed):
    """The shipped params files are written by stage=params: a brief or a default changed without rewriting them
    would leave `dvc repro` building from stale values."""
    cfg = composed(f"problem={brief}")
    increment = cfg.problem.increment
    index = dvc_index.read_index(REPO / "increments")
    assert index.get(increment, {}).get("brief") == brief, \
        f"{increment} is not registered: run python -m specweave_ml stage=params problem={brief}"
    on_disk = (REPO / "increments" / increment / "params.yaml").read_text()
    assert on_disk == dvc_index.params_text(cfg, increment), \
        f"increments/{increment}/params.yaml is stale: run python -m specweave_ml stage=params problem={brief}"


def test_a_stage_of_an_unregistered_increment_says_how_to_register_it():
    from hydra.errors import MissingConfigException

    from specweave_ml.config_errors import describe_compose_error

    message = describe_compose_error(MissingConfigException("Additional config directory '/x/increments/9999-none' not found"))
    assert message.startswith("--config-dir /x/increments/9999-none: no such folder") and "stage=params" in message
