"""The packaged model: MLflow format under ``models/champion``, guarded by a hash checked on every load."""

import json

import numpy as np
import pandas as pd
import pytest
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import Pipeline

from specweave_ml.models.decision import DecisionModel
from specweave_ml.models.registry import entry
from specweave_ml.packaging import ModelIntegrityError, directory_hash, load_model, save_model, signature_columns


REQUIREMENTS = entry("linear").pip_requirements


def read(path):
    return json.loads(path.read_text())


@pytest.fixture
def fitted():
    rng = np.random.default_rng(0)
    X = pd.DataFrame({"a": rng.normal(size=60), "b": rng.normal(size=60)})
    y = np.where(X["a"] > 0, "yes", "no")
    return DecisionModel(Pipeline([("model", LogisticRegression())]), threshold=0.4).fit(X, y), X


# --- the hash -------------------------------------------------------------------------------------

def test_directory_hash_sees_every_change_to_the_files(tmp_path):
    (tmp_path / "sub").mkdir()
    (tmp_path / "a.txt").write_text("one")
    (tmp_path / "sub" / "b.bin").write_bytes(b"\x00\x01")
    original = directory_hash(tmp_path)
    assert directory_hash(tmp_path) == original  # stable
    (tmp_path / "a.txt").write_text("two")
    assert directory_hash(tmp_path) != original
    (tmp_path / "a.txt").write_text("one")
    assert directory_hash(tmp_path) == original
    (tmp_path / "sub" / "c.txt").write_text("")  # an added empty file
    assert directory_hash(tmp_path) != original
    (tmp_path / "sub" / "c.txt").unlink()
    (tmp_path / "sub" / "b.bin").rename(tmp_path / "sub" / "renamed.bin")
    assert directory_hash(tmp_path) != original


# --- save and load ---------------------------------------------------------------------------------

def test_saved_model_loads_back_with_its_hash_and_predicts_the_same(tmp_path, fitted):
    model, X = fitted
    path = tmp_path / "models" / "champion"
    digest = save_model(model, path, X, REQUIREMENTS)
    assert digest == directory_hash(path)
    assert (path / "MLmodel").is_file()
    assert [p.name for p in path.parent.iterdir()] == ["champion"]  # no temporary folder left behind
    loaded = load_model(path, digest)
    assert loaded.threshold == 0.4
    assert (loaded.predict(X) == model.predict(X)).all()
    assert signature_columns(path) == {"a": "double", "b": "double"}


def test_the_same_model_saved_twice_has_the_same_bytes_and_another_model_does_not(tmp_path, fitted):
    """DVC and rollback compare hashes: a rerun with the same seed must not look like a new model."""
    model, X = fitted
    first = save_model(model, tmp_path / "one", X, REQUIREMENTS)
    again = save_model(model, tmp_path / "two", X, REQUIREMENTS)
    assert first == again
    assert "utc_time_created" not in (tmp_path / "one" / "MLmodel").read_text()
    other = save_model(DecisionModel(model.pipeline, threshold=0.7).fit(X, model.predict(X)), tmp_path / "three", X, REQUIREMENTS)
    assert other != first


def test_saving_again_replaces_the_previous_model(tmp_path, fitted):
    model, X = fitted
    path = tmp_path / "champion"
    save_model(model, path, X, REQUIREMENTS)
    (path / "stray.txt").write_text("left over")
    digest = save_model(model.set_params(threshold=0.6), path, X, REQUIREMENTS)
    assert not (path / "stray.txt").exists()
    assert load_model(path, digest).threshold == 0.6


def test_a_changed_file_is_refused_naming_the_path(tmp_path, fitted):
    model, X = fitted
    path = tmp_path / "champion"
    digest = save_model(model, path, X, REQUIREMENTS)
    with open(path / "MLmodel", "a") as fh:
        fh.write("# edited\n")
    with pytest.raises(ModelIntegrityError, match="the model's files changed since packaging") as err:
        load_model(path, digest)
    assert err.value.message.startswith(f"{path}: ")
    assert "Fix: rerun stage=train" in err.value.message


def test_an_added_file_is_refused(tmp_path, fitted):
    model, X = fitted
    path = tmp_path / "champion"
    digest = save_model(model, path, X, REQUIREMENTS)
    (path / "extra.py").write_text("import os\n")
    with pytest.raises(ModelIntegrityError, match="changed since packaging"):
        load_model(path, digest)


def test_a_missing_model_or_hash_is_refused(tmp_path, fitted):
    model, X = fitted
    with pytest.raises(ModelIntegrityError, match="no packaged model here"):
        load_model(tmp_path / "nowhere", "abc")
    path = tmp_path / "champion"
    save_model(model, path, X, REQUIREMENTS)
    with pytest.raises(ModelIntegrityError, match="no packaged model here"):
        load_model(path, None)


# --- tampering with a packaged increment, from the command line --------------------------------------

@pytest.fixture
def tampered(increment, copied):
    """A private copy of the breast-cancer project whose models' pickles (the champion, and the evaluated model it was
    refitted from) gained one byte."""
    run = copied(increment("breast_cancer"))
    for model in ("champion", "evaluated"):
        with open(run.inc / f"models/{model}/model.pkl", "ab") as fh:
            fh.write(b"\x00")
    return run


def one_error_line(stderr):
    assert "Traceback" not in stderr
    errors = [line for line in stderr.splitlines() if line.startswith("error:")]
    assert len(errors) == 1, stderr
    return errors[0]


@pytest.mark.slow
def test_evaluate_refuses_a_tampered_model(tampered, specweave):
    before = (tampered.inc / "reports/metrics.json").read_bytes()
    done = specweave(tampered.root, *tampered.overrides, "stage=evaluate")
    assert done.returncode == 2
    line = one_error_line(done.stderr)
    assert line.startswith(f"error: {tampered.inc / 'models/evaluated'}: the model's files changed since packaging")
    assert (tampered.inc / "reports/metrics.json").read_bytes() == before


@pytest.mark.slow
def test_predict_refuses_a_tampered_model(tampered, specweave, tmp_path):
    features = read(tampered.inc / "data/split.json")["features"]
    source = tmp_path / "rows.csv"
    pd.read_parquet(tampered.inc / "data/test.parquet")[features].to_csv(source, index=False)
    out = tmp_path / "scores.csv"
    done = specweave(tampered.root, *tampered.overrides, "stage=predict", f"input={source}", f"output={out}")
    assert done.returncode == 2
    assert str(tampered.inc / "models/champion") in one_error_line(done.stderr)
    assert not out.exists()


@pytest.mark.slow
def test_rerunning_the_same_brief_with_the_same_seed_packages_the_same_model(cli, tmp_path):
    """The same brief, data and seed give the same model bytes, so DVC and rollback see no new model."""
    def champion_hash() -> str:
        return read(tmp_path / "increments" / "0002-breast-cancer" / "metadata.json")["model"]["sha256"]

    assert cli("problem=breast_cancer", "tracking=off", "stage=all").returncode == 0
    first = champion_hash()
    assert cli("problem=breast_cancer", "tracking=off", "stage=train").returncode == 0
    assert champion_hash() == first
    assert cli("problem=breast_cancer", "tracking=off", "stage=train", "seed=7").returncode == 0
    assert champion_hash() != first
