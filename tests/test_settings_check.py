"""Every setting checked before any work: choice fields fail at compose time, and the serving, tracking,
tuning and explain values are checked (``settings_check.validate_settings``) when the ``Context`` is built."""

from pathlib import Path

import pytest
from hydra.errors import HydraException
from omegaconf.errors import OmegaConfBaseException

from specweave_ml.config_errors import describe_compose_error
from specweave_ml.context import Context
from specweave_ml.errors import ConfigError
from specweave_ml.settings_check import validate_settings

CONF = Path(__file__).resolve().parent.parent / "conf"

# A misspelt choice, and the full key the error must name.
MISSPELT_CHOICES = [
    ("selection.class_weighting=sqr", "selection.class_weighting"),
    ("selection.rules.0.modality=tabluar", "selection.rules[0].modality"),
    ("selection.rules.0.task=regresion", "selection.rules[0].task"),
    ("selection.rules.0.interpretability=requird", "selection.rules[0].interpretability"),
    ("tuning.phases=[coarse,fnie]", "tuning.phases[1]"),
    ("tuning.pruner=medain", "tuning.pruner"),
    ("problem.data.format=xlsx", "problem.data.format"),
]

# A setting that makes no sense, and the key the error must name.
BAD_SETTINGS = [
    (["serving.port=70000"], "serving.port"),
    (["serving.port=0"], "serving.port"),
    (["serving.host=''"], "serving.host"),
    (["serving.max_batch_rows=0"], "serving.max_batch_rows"),
    (["serving.loadtest.duration_s=0"], "serving.loadtest.duration_s"),
    (["serving.loadtest.startup_timeout_s=-1"], "serving.loadtest.startup_timeout_s"),
    (["serving.drift.ks_alpha=1"], "serving.drift.ks_alpha"),
    (["serving.drift.bins=1"], "serving.drift.bins"),
    (["serving.drift.min_rows=0"], "serving.drift.min_rows"),
    (["serving.drift.window=50"], "serving.drift.window"),
    (["serving.ab.split=1"], "serving.ab.split"),
    (["serving.ab.alpha=0"], "serving.ab.alpha"),
    (["serving.ab.mde=0"], "serving.ab.mde"),
    (["tracking.uri=nonsense"], "tracking.uri"),
    (["tracking.uri=/tmp/mlflow.db"], "tracking.uri"),
    (["tracking.experiment=' '"], "tracking.experiment"),
    (["+tuning.budget_shares.fnie=0.3"], "tuning.budget_shares"),
    (["+tuning.max_trials.optuan=5"], "tuning.max_trials"),
    (["tuning.budget_shares.fine=0"], "tuning.budget_shares.fine"),
    (["tuning.max_trials.optuna=0"], "tuning.max_trials.optuna"),
    (["tuning=phased", "~tuning.max_trials.fine"], "tuning.max_trials"),
    (["tuning.early_stopping_rounds=0"], "tuning.early_stopping_rounds"),
    (["tuning.train_score_rows=0"], "tuning.train_score_rows"),
    (["tuning.storage=optuna.db"], "tuning.storage"),
    (["explain.background_rows=0"], "explain.background_rows"),
    (["explain.explain_rows=0"], "explain.explain_rows"),
    (["explain.local_random=-1"], "explain.local_random"),
    (["seed=-1"], "seed"),  # numpy and scikit-learn take 0 to 2**32 - 1: found by tests/test_fuzz.py
    (["seed=4294967296"], "seed"),
]


def options(group: str) -> list[str]:
    return sorted(p.stem for p in (CONF / group).glob("*.yaml"))


SETTING_OPTIONS = [(g, n) for g in ("serving", "tracking", "tuning", "explain") for n in options(g)]


# --- choices are enums: a typo fails at compose time, naming the full key ---------------------------------

@pytest.mark.parametrize("override, key", MISSPELT_CHOICES)
def test_a_misspelt_choice_fails_at_compose_time_naming_the_key(compose, override, key):
    with pytest.raises((HydraException, OmegaConfBaseException)) as info:
        compose(["problem=breast_cancer", override])
    assert describe_compose_error(info.value).startswith(f"{key}: Invalid value")


@pytest.mark.slow
@pytest.mark.parametrize("override, key", MISSPELT_CHOICES)
def test_a_misspelt_choice_on_the_command_line_is_one_line_and_exit_2(cli, override, key):
    result = cli("problem=breast_cancer", "stage=plan", override)
    assert result.returncode == 2, result.stderr
    lines = result.stderr.splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: "), result.stderr
    assert key in lines[0] and "Fix: " in lines[0]


# --- meaning: checked when the Context is built, before any data is read ----------------------------------

@pytest.mark.parametrize("group, name", SETTING_OPTIONS, ids=[f"{g}={n}" for g, n in SETTING_OPTIONS])
def test_every_shipped_setting_passes_silently(composed, group, name):
    assert validate_settings(composed(f"{group}={name}")) is None


@pytest.mark.parametrize("overrides, key", BAD_SETTINGS, ids=[" ".join(o) for o, _ in BAD_SETTINGS])
def test_a_setting_that_makes_no_sense_is_refused_naming_the_key(compose, overrides, key):
    with pytest.raises(ConfigError, match=rf"^{key}: .*Fix: "):
        validate_settings(compose(overrides))


def test_tracking_off_ignores_its_uri(compose):
    validate_settings(compose(["tracking=off", "tracking.uri=nonsense"]))


@pytest.mark.parametrize("uri", ["sqlite:///tmp/mlflow.db", "http://mlflow.internal:5000", "https://mlflow.example.com",
                                 "postgresql://user@db/mlflow", "file:///tmp/mlruns"])
def test_tracking_servers_and_stores_are_accepted(compose, uri):
    validate_settings(compose([f"tracking.uri={uri}"]))


def test_the_context_checks_the_settings_before_touching_the_data(compose, tmp_path):
    missing = tmp_path / "nowhere.csv"
    with pytest.raises(ConfigError, match=r"^serving\.port: "):
        Context.from_cfg(compose(["problem=breast_cancer", f"problem.data.source={missing}", "serving.port=70000"]))


@pytest.mark.slow
@pytest.mark.parametrize("overrides, key", [
    (["serving.port=70000", "stage=prepare"], "serving.port"),
    (["tracking.uri=nonsense", "stage=train"], "tracking.uri"),
    (["tuning=phased", "+tuning.max_trials.fnie=3", "stage=all"], "tuning.max_trials"),
])
def test_a_bad_setting_stops_the_run_before_any_data_is_read(cli, tmp_path, files_under, overrides, key):
    missing = tmp_path.parent / "nowhere.csv"  # reading the data would fail naming problem.data.source instead
    result = cli("problem=breast_cancer", f"problem.data.source={missing}", *overrides)
    assert result.returncode == 2, result.stderr
    lines = result.stderr.splitlines()
    assert len(lines) == 1 and lines[0].startswith(f"error: {key}: "), result.stderr
    assert files_under(tmp_path) == set(), "nothing is written, under increments/ or anywhere else"
