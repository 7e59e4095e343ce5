"""compute=dask: LightGBM and XGBoost through their Dask estimators, on the same rows as local training.

The slow tests train a 20,000-row sample of the fraud brief (first rows of the ULB data: 15,000 train / 5,000 holdout,
time-ordered) once with compute=local and once with compute=dask on a LocalCluster the framework starts for the run
(2 workers x 1 thread), and a Dask scheduler with 2 one-thread workers that the test itself starts in its own process
group. Distributed LightGBM does not grow bit-identical trees (each worker bins and bags its own rows), so holdout
PR-AUC is compared within a stated tolerance, not for equality.
"""

import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from omegaconf import OmegaConf

from _compose import compose_at
from specweave_ml.errors import ConfigError, DataError
from specweave_ml.fileio import read_json
from specweave_ml.settings_check import validate_settings
from specweave_ml.stages import run_stage
from specweave_ml.training import dask_compute

SAMPLE = ("problem=fraud", "problem.data.sample_rows=20000", "tracking=off")
# Holdout PR-AUC of the 20,000-row sample, compute=dask against compute=local. The 5,000-row holdout has a dozen
# frauds, so one fraud ranked a place lower moves PR-AUC by a few hundredths: 0.05 here. On the full brief (about
# 70,000 holdout rows, 90+ frauds) the bar is 0.01; the README reports that measurement.
SAMPLE_TOLERANCE = 0.05


def _run(root, *overrides, stages=("prepare", "train", "evaluate")) -> Path:
    for stage in stages:
        cfg = compose_at(root, [*SAMPLE, *overrides, f"stage={stage}"])
        run_stage(cfg)
    return Path(root) / "increments" / cfg.problem.increment


# -- settings and partition guards (fast) -------------------------------------------------------------------------

@pytest.mark.parametrize("override, key", [
    ("compute.workers=0", "compute.workers"),
    ("compute.threads_per_worker=0", "compute.threads_per_worker"),
    ("compute.partition_rows=0", "compute.partition_rows"),
    ("compute.scheduler=localhost:8786", "compute.scheduler"),
    ("compute.name=spark", "compute.name"),
])
def test_a_bad_compute_setting_names_its_key(override, key):
    cfg = compose_at(None, ["compute=dask", override])
    with pytest.raises(ConfigError, match=rf"^{key}: must be"):
        validate_settings(cfg)


@pytest.mark.parametrize("overrides", [(), ("compute=dask",), ("compute=dask", "compute.scheduler=tcp://10.0.0.5:8786")])
def test_the_shipped_compute_settings_pass(overrides):
    cfg = compose_at(None, list(overrides))
    validate_settings(cfg)
    assert cfg.compute.name == ("dask" if overrides else "local")


def test_the_dask_group_has_the_keys_others_rely_on():
    cfg = compose_at(None, ["compute=dask"])
    assert OmegaConf.to_container(cfg.compute) == {"name": "dask", "scheduler": None, "workers": 2, "threads_per_worker": 1,
                                                   "partition_rows": 250000}


def _frame(n=10):
    return pd.DataFrame({"__row__": np.arange(n) * 3, "__fold__": np.arange(n) % 2, "x": np.arange(n, dtype=float)})


def test_partitions_hold_every_row_in_order_and_are_found_by_fingerprint(tmp_path):
    record = dask_compute.write_partitions(_frame(), tmp_path, 4, "abc")
    assert record["partitions"] == 3 and record["rows"] == 10
    parts = sorted((tmp_path / dask_compute.PARTS).glob("part-*.parquet"))
    pd.testing.assert_frame_equal(pd.concat([pd.read_parquet(p) for p in parts], ignore_index=True), _frame())
    assert dask_compute.read_partitions(tmp_path, "abc") == record


def test_missing_partitions_are_refused_with_the_fix(tmp_path):
    with pytest.raises(DataError, match="stage=prepare ran with compute=local.*compute=dask"):
        dask_compute.read_partitions(tmp_path, "abc")


def test_partitions_of_another_split_are_refused(tmp_path):
    dask_compute.write_partitions(_frame(), tmp_path, 4, "abc")
    with pytest.raises(DataError, match="another training part"):
        dask_compute.read_partitions(tmp_path, "def")


def test_splitting_again_removes_old_partitions(tmp_path):
    dask_compute.write_partitions(_frame(), tmp_path, 4, "abc")
    dask_compute.remove_partitions(tmp_path)
    assert not (tmp_path / dask_compute.PARTS).exists()


class _FakeClient:
    """Stands in for distributed.Client: ``refuse`` makes connecting fail, ``workers=0`` a scheduler without workers."""

    def __init__(self, address, timeout, refuse=False, workers=1):
        if refuse:
            raise OSError(f"Timed out trying to connect to {address}")
        self.workers, self.closed = workers, False

    def wait_for_workers(self, n, timeout):
        if self.workers < n:
            raise TimeoutError("no worker")

    def close(self):
        self.closed = True


def test_an_unanswering_scheduler_is_one_config_error():
    refusing = lambda address, timeout: _FakeClient(address, timeout, refuse=True)  # noqa: E731
    with pytest.raises(ConfigError, match=r"^compute\.scheduler: no Dask scheduler answered at tcp://h:1 within 10 s"):
        dask_compute._connect(refusing, "tcp://h:1")


def test_a_scheduler_without_workers_is_one_config_error():
    empty = lambda address, timeout: _FakeClient(address, timeout, workers=0)  # noqa: E731
    with pytest.raises(ConfigError, match=r"^compute\.scheduler: the Dask scheduler at tcp://h:1 has no worker"):
        dask_compute._connect(empty, "tcp://h:1")


def test_a_scheduler_with_workers_is_connected():
    client = dask_compute._connect(_FakeClient, "tcp://h:1")
    assert isinstance(client, _FakeClient) and not client.closed


def test_compute_local_starts_nothing(tmp_path):
    cfg = compose_at(None, [])
    with dask_compute.session(cfg.compute, tmp_path, _frame(), "abc") as compute:
        assert compute is None


# -- training on a cluster (slow) ----------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def fraud_pair(tmp_path_factory):
    """The fraud sample trained (prepare, train, evaluate) with compute=local, then with compute=dask on a LocalCluster
    the run starts and closes itself; both LightGBM."""
    local = _run(tmp_path_factory.mktemp("local"), "model=lightgbm")
    dask = _run(tmp_path_factory.mktemp("dask"), "model=lightgbm", "compute=dask")
    return local, dask


@pytest.mark.slow
def test_dask_training_uses_the_same_fold_and_holdout_rows(fraud_pair):
    local, dask = fraud_pair
    for part in ("train", "test"):
        pd.testing.assert_frame_equal(pd.read_parquet(local / f"data/{part}.parquet"), pd.read_parquet(dask / f"data/{part}.parquet"))
    parts = sorted((dask / "data" / dask_compute.PARTS).glob("part-*.parquet"))
    pd.testing.assert_frame_equal(pd.concat([pd.read_parquet(p) for p in parts], ignore_index=True),
                                  pd.read_parquet(dask / "data/train.parquet"))
    local_preds, dask_preds = (pd.read_parquet(p / "reports/predictions.parquet") for p in (local, dask))
    assert local_preds["__row__"].tolist() == dask_preds["__row__"].tolist()
    assert not (local / "data" / dask_compute.PARTS).exists()  # compute=local writes no partitions


@pytest.mark.slow
def test_dask_holdout_pr_auc_is_within_the_stated_tolerance_of_local(fraud_pair):
    from sklearn.metrics import average_precision_score

    local, dask = fraud_pair
    scores = {}
    for name, inc in (("local", local), ("dask", dask)):
        preds = pd.read_parquet(inc / "reports/predictions.parquet")
        scores[name] = average_precision_score(preds["y_true"] == 1, preds["score"])
        assert read_json(inc / "reports/metrics.json")["holdout"]["pr_auc"] == pytest.approx(scores[name])
    assert abs(scores["dask"] - scores["local"]) <= SAMPLE_TOLERANCE, scores


@pytest.mark.slow
def test_the_packaged_dask_model_is_a_local_model_that_scores_like_local_training(fraud_pair):
    import lightgbm

    from specweave_ml.models.decision import DecisionModel
    from specweave_ml.packaging import load_model

    local, dask = fraud_pair
    models = {}
    for name, inc in (("local", local), ("dask", dask)):
        meta = read_json(inc / "metadata.json")
        models[name] = load_model(inc / "models/champion", meta["model"]["sha256"])
    model = models["dask"]
    assert type(model) is DecisionModel  # what local training packages: no Dask class, no client inside
    booster = model.pipeline_.named_steps["model"]
    assert type(booster) is lightgbm.LGBMClassifier and booster.get_params()["n_jobs"] == 1
    assert read_json(dask / "reports/training.json")["model"]["requirements"] == \
        read_json(local / "reports/training.json")["model"]["requirements"]
    test = pd.read_parquet(dask / "data/test.parquet")
    features = read_json(dask / "data/split.json")["features"]
    a, b = models["local"].scores(test[features]), models["dask"].scores(test[features])
    frauds = test["Class"].to_numpy() == 1
    assert np.corrcoef(a, b)[0, 1] > 0.9  # two fits of one model on the same rows, not two different models
    assert b[frauds].mean() > 10 * b[~frauds].mean()  # and it separates the frauds as local training does
    # evaluation scored the model fitted without the holdout (the champion is its local refit on every row)
    evaluated = load_model(dask / "models/evaluated", read_json(dask / "metadata.json")["model"]["evaluated_sha256"])
    assert type(evaluated) is DecisionModel
    saved = pd.read_parquet(dask / "reports/predictions.parquet")
    np.testing.assert_allclose(saved["score"].to_numpy(), evaluated.scores(test[features]), rtol=1e-6)


@pytest.mark.slow
def test_the_plan_records_the_compute_mode_workers_and_partitions(fraud_pair):
    local, dask = fraud_pair
    budget = read_json(dask / "reports/training.json")["budget"]
    compute = budget["compute"]
    assert (compute["mode"], compute["scheduler"], compute["workers"], compute["partitions"]) == ("dask", "LocalCluster", 2, 1)
    assert compute["cluster_fits"]["lightgbm"] >= 6 and compute["local_fits"] == {}  # 5 folds and the refit, at least
    assert compute["workers_per_fit"] == {"lightgbm": 2} and compute["pieces_in_memory"] == 2  # both workers trained
    plan = (dask / "plan.md").read_text()
    assert "compute=dask: a LocalCluster of 2 workers x 1 thread(s)" in plan
    assert "lightgbm: " in plan and "through its Dask estimator on the cluster, on up to 2 worker(s)" in plan
    assert read_json(local / "reports/training.json")["budget"]["compute"] == {"mode": "local"}
    assert "compute=dask" not in (local / "plan.md").read_text()


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def scheduler():
    """A Dask scheduler and 2 one-thread workers on 127.0.0.1, each command in its own process group, ended at the end."""
    port = _free_port()
    address = f"tcp://127.0.0.1:{port}"
    env = {**os.environ, "OMP_WAIT_POLICY": "PASSIVE"}
    bin_dir = Path(sys.executable).parent
    commands = [[str(bin_dir / "dask"), "scheduler", "--host", "127.0.0.1", "--port", str(port), "--no-dashboard"],
                [str(bin_dir / "dask"), "worker", address, "--nworkers", "2", "--nthreads", "1", "--no-dashboard",
                 "--host", "127.0.0.1"]]
    procs = []
    try:
        for command in commands:
            procs.append(subprocess.Popen(command, env=env, start_new_session=True, stdout=subprocess.DEVNULL,
                                          stderr=subprocess.DEVNULL))
            time.sleep(1.0)
        from distributed import Client

        with Client(address, timeout="30s") as client:
            client.wait_for_workers(2, timeout=60)
        yield address
    finally:
        for proc in reversed(procs):
            try:
                os.killpg(proc.pid, signal.SIGTERM)
                proc.wait(timeout=20)
            except (ProcessLookupError, subprocess.TimeoutExpired):
                os.killpg(proc.pid, signal.SIGKILL)


@pytest.mark.slow
def test_a_model_without_a_dask_estimator_trains_locally_and_the_plan_says_so(tmp_path, scheduler):
    inc = _run(tmp_path, "model=linear", "compute=dask", f"compute.scheduler={scheduler}", stages=("prepare", "train"))
    compute = read_json(inc / "reports/training.json")["budget"]["compute"]
    assert compute["scheduler"] == scheduler and compute["workers"] == 2
    assert compute["cluster_fits"] == {} and list(compute["local_fits"]) == ["linear"]
    assert "linear: " in (plan := (inc / "plan.md").read_text()) and "it has no Dask estimator" in plan


@pytest.mark.slow
def test_xgboost_trains_on_a_running_scheduler_and_packages_as_xgbclassifier(tmp_path, scheduler):
    import xgboost

    from specweave_ml.packaging import load_model

    inc = _run(tmp_path, "model=xgboost", "compute=dask", f"compute.scheduler={scheduler}", stages=("prepare", "train"))
    compute = read_json(inc / "reports/training.json")["budget"]["compute"]
    assert compute["cluster_fits"]["xgboost"] >= 6 and compute["local_fits"] == {}
    model = load_model(inc / "models/champion", read_json(inc / "metadata.json")["model"]["sha256"])
    booster = model.pipeline_.named_steps["model"]
    assert type(booster) is xgboost.XGBClassifier and list(booster.classes_) == [0, 1]


@pytest.mark.slow
def test_an_unreachable_scheduler_exits_2_naming_compute_scheduler(tmp_path, specweave_cli):
    _run(tmp_path, "model=lightgbm", "compute=dask", stages=("prepare",))
    address = f"tcp://127.0.0.1:{_free_port()}"  # nothing listens there
    done = specweave_cli(tmp_path, *SAMPLE, "model=lightgbm", "compute=dask", f"compute.scheduler={address}", "stage=train")
    assert done.returncode == 2, done.stderr
    assert f"compute.scheduler: no Dask scheduler answered at {address}" in done.stderr
    assert "Traceback" not in done.stderr
    assert not (tmp_path / "increments/0001-fraud-detection/models").exists()  # nothing written


@pytest.fixture
def specweave_cli():
    def _run_cli(root, *args, timeout=180):
        env = {**os.environ, "SPECWEAVE_ROOT": str(root), "OMP_WAIT_POLICY": "PASSIVE"}
        env.pop("HYDRA_FULL_ERROR", None)
        return subprocess.run([sys.executable, "-m", "specweave_ml", *args], cwd=root, env=env, capture_output=True,
                              text=True, timeout=timeout)

    return _run_cli


@pytest.mark.slow
@pytest.mark.parametrize("model", ["lightgbm", "xgboost"])
def test_category_columns_reach_the_dask_estimators_as_categories(tmp_path, scheduler, csv_brief, model):
    rng = np.random.default_rng(0)
    n = 3000
    colour = rng.choice(["red", "green", "blue", "grey"], size=n)
    x = rng.normal(size=n)
    y = ((colour == "red") | (colour == "blue") & (x > 0)).astype(int)
    frame = pd.DataFrame({"colour": colour, "x": x, "y": y})
    overrides = [*csv_brief(tmp_path / "colours.csv", frame, "y", "0100-colours"), f"model={model}", "tracking=off",
                 "compute=dask", f"compute.scheduler={scheduler}"]
    for stage in ("prepare", "train", "evaluate"):
        run_stage(compose_at(tmp_path, [*overrides, f"stage={stage}"]))
    inc = tmp_path / "increments/0100-colours"
    compute = read_json(inc / "reports/training.json")["budget"]["compute"]
    assert compute["cluster_fits"][model] >= 6 and compute["workers_per_fit"][model] == 2
    from sklearn.metrics import roc_auc_score

    from specweave_ml.packaging import load_model

    packaged = load_model(inc / "models/champion", read_json(inc / "metadata.json")["model"]["sha256"])
    booster = packaged.pipeline_.named_steps["model"]
    if model == "lightgbm":
        assert booster.booster_.pandas_categorical == [["blue", "green", "grey", "red"]]
    else:
        assert booster.get_booster().feature_types == ["float", "c"]  # x, then colour as a category
    preds = pd.read_parquet(inc / "reports/predictions.parquet")
    assert roc_auc_score(preds["y_true"] == 1, preds["score"]) > 0.95  # the colour rule was learnt
