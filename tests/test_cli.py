"""``python -m specweave_ml`` as a user runs it: the plan it prints, and one clean line for each mistake."""

import re

import numpy as np
import pandas as pd
import pytest

pytestmark = pytest.mark.slow  # every test starts `python -m specweave_ml`

CANDIDATE = re.compile(r"^\s+- (\w+)(?:  \[not trainable yet\])?: rule '([^']+)': (.+)$", re.MULTILINE)


def candidates(stdout: str) -> list[tuple[str, str]]:
    return [(name, rule) for name, rule, _ in CANDIDATE.findall(stdout)]


@pytest.fixture
def inputs(tmp_path_factory):
    """A folder outside the run's root for the user's CSV files, so the root starts empty."""
    return tmp_path_factory.mktemp("inputs")


def small_frame(n=200, seed=0) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    return pd.DataFrame({
        "x1": rng.normal(size=n),
        "x2": rng.normal(size=n),
        "y": rng.integers(0, 2, size=n),
    })


def bad_csv(inputs, case: str) -> str:
    """A CSV with one thing wrong, as a user might hand it over."""
    frame = small_frame()
    if case == "string_target":
        frame["y"] = np.where(frame["y"] == 1, "high", "low")
    elif case == "single_class":
        frame["y"] = 1
    elif case == "nan_target":
        frame["y"] = frame["y"].astype(float)
        frame.loc[[3, 50, 77], "y"] = np.nan
    elif case == "bad_time":
        frame["when"] = pd.date_range("2024-01-01", periods=len(frame), freq="h").astype(str)
        frame.loc[17, "when"] = "sometime soon"
    elif case == "three_classes":
        frame["y"] = np.arange(len(frame)) % 3
    path = inputs / f"{case}.csv"
    frame.to_csv(path, index=False)
    return str(path)


# (overrides, text the one line must contain); every case runs stage=prepare, the stage that writes.
BRIEF_CASES = {
    "unknown task": (["problem=breast_cancer", "problem.task=foo"], "problem.task"),
    "unknown modality": (["problem=breast_cancer", "problem.modality=pictures"], "problem.modality"),
    "unknown problem option": (["problem=nope"], "no option 'nope' in conf/problem/"),
    "unknown stage": (["problem=breast_cancer", "stage=trian"], "stage"),
    "missing target": (["problem=breast_cancer", "problem.data.target=null"], "problem.data.target"),
    "target not in the data": (["problem=breast_cancer", "problem.data.target=diagnosis"], "problem.data.target: column 'diagnosis'"),
    "time column not in the data": (["problem=breast_cancer", "problem.data.time_column=when"], "problem.data.time_column: column 'when'"),
    "primary metric not fitting the task": (["problem=breast_cancer", "problem.metrics.primary=rmse"], "problem.metrics.primary"),
    "other metric not fitting the task": (["problem=diabetes", "problem.metrics.others=[mae,roc_auc]"], "problem.metrics.others"),
    "negative budget": (["problem=breast_cancer", "problem.constraints.budget_minutes=-5"], "problem.constraints.budget_minutes"),
    "too few CV folds": (["problem=breast_cancer", "selection.cv_folds=2"], "selection.cv_folds"),
    "bad increment id": (["problem=breast_cancer", "problem.increment=Breast_Cancer"], "problem.increment"),
    "wrong type": (["problem=breast_cancer", "problem.constraints.latency_p95_ms=fast"], "problem.constraints.latency_p95_ms"),
}

DATA_CASES = {
    # case: (brief and overrides, text the one line must contain)
    "string_target": (["problem=diabetes", "problem.data.target=y"], "column 'y'"),
    "single_class": (["problem=breast_cancer", "problem.data.target=y"], "column 'y'"),
    "nan_target": (["problem=breast_cancer", "problem.data.target=y"], "column 'y'"),
    "three_classes": (["problem=breast_cancer", "problem.data.target=y"], "column 'y'"),
    "bad_time": (["problem=breast_cancer", "problem.data.target=y", "problem.data.time_column=when"], "column 'when'"),
}


def assert_one_clean_error(result, names: str, root, files_under):
    assert result.returncode == 2, (result.returncode, result.stderr)
    assert "Traceback" not in result.stderr and "Traceback" not in result.stdout
    lines = result.stderr.splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("error: "), lines[0]
    assert names in lines[0], lines[0]
    assert "Fix: " in lines[0], "every message says how to fix it"
    assert not (root / "increments").exists()
    assert files_under(root) == set(), "a failed run leaves nothing behind"


@pytest.mark.parametrize("case", list(BRIEF_CASES))
def test_a_bad_brief_ends_in_one_line_and_exit_2(cli, tmp_path, files_under, case):
    overrides, names = BRIEF_CASES[case]
    result = cli(*overrides, "stage=prepare") if not any(o.startswith("stage=") for o in overrides) else cli(*overrides)
    assert_one_clean_error(result, names, tmp_path, files_under)


def test_a_missing_data_file_is_named(cli, tmp_path, inputs, files_under):
    missing = inputs / "nowhere.csv"
    result = cli("problem=breast_cancer", f"problem.data.source={missing}", "stage=prepare")
    assert_one_clean_error(result, "problem.data.source", tmp_path, files_under)
    assert str(missing) in result.stderr


def test_a_file_of_unknown_format_is_named(cli, tmp_path, inputs, files_under):
    path = inputs / "data.xlsx"
    path.write_text("x\n1\n")
    result = cli("problem=breast_cancer", f"problem.data.source={path}", "stage=prepare")
    assert_one_clean_error(result, "problem.data.source", tmp_path, files_under)


@pytest.mark.parametrize("case", list(DATA_CASES))
def test_bad_data_ends_in_one_line_naming_the_column(cli, tmp_path, inputs, files_under, case):
    overrides, names = DATA_CASES[case]
    source = bad_csv(inputs, case)
    result = cli(*overrides, f"problem.data.source={source}", "problem.metrics.others=[]", "stage=prepare")
    assert_one_clean_error(result, names, tmp_path, files_under)


def test_fraud_plan_picks_boosted_trees_with_a_time_split_and_writes_nothing(cli, tmp_path, files_under):
    result = cli("problem=fraud", "stage=plan")
    assert result.returncode == 0, result.stderr
    assert candidates(result.stdout) == [("xgboost", "tabular-medium"), ("lightgbm", "tabular-medium")]
    assert "from 10k to 1M rows" in result.stdout  # the rule's reason is shown
    assert "284,807 rows" in result.stdout
    assert re.search(r"^\s+split: time, 25% held out; CV: 5-fold expanding_window: 'Time' is declared", result.stdout, re.MULTILINE)
    assert "primary metric: pr_auc" in result.stdout
    assert "Traceback" not in result.stderr
    assert files_under(tmp_path) == set(), "stage=plan writes nothing"


def test_interpretability_required_changes_the_fraud_candidates(cli, tmp_path, files_under):
    result = cli("problem=fraud", "stage=plan", "problem.constraints.interpretability=required")
    assert result.returncode == 0, result.stderr
    assert candidates(result.stdout) == [
        ("linear", "interpretability-required"),
        ("decision_tree", "interpretability-required"),
        ("xgboost", "interpretability-required"),
    ]
    assert "interpretability: required" in result.stdout
    assert files_under(tmp_path) == set()


# No image brief ships (every shipped brief runs end to end); the bundled digits make one from the command line.
DIGITS = ("problem=wine", "problem.modality=image", "problem.increment=0005-digit-images", "problem.data.source=bundled:digits",
          "problem.constraints.interpretability=none")


def test_image_brief_plans_pixel_logistic_regression_then_a_cnn(cli):
    result = cli(*DIGITS, "stage=plan")
    assert result.returncode == 0, result.stderr
    assert candidates(result.stdout) == [("pixel_linear", "images"), ("cnn", "images")]
    assert "[not trainable yet]" not in result.stdout


IMAGE_REGRESSION = ("problem=diabetes", "problem.modality=image", "problem.increment=0005-image-regression")


def test_preparing_a_brief_no_family_trains_says_it_is_not_trainable_yet(cli, tmp_path, files_under):
    result = cli(*IMAGE_REGRESSION, "stage=prepare")  # images are classified; no family regresses on them
    assert_one_clean_error(result, "problem.modality", tmp_path, files_under)
    assert "cannot be trained yet" in result.stderr
    assert "stage=plan" in result.stderr


def test_prepare_from_a_csv_brief_writes_the_increment(cli, tmp_path, inputs):
    source = inputs / "good.csv"
    small_frame().to_csv(source, index=False)
    result = cli("problem=breast_cancer", f"problem.data.source={source}", "problem.data.target=y",
                 "problem.increment=0042-from-csv", "stage=prepare")
    assert result.returncode == 0, result.stderr
    assert "Traceback" not in result.stderr
    root = tmp_path / "increments" / "0042-from-csv"
    for name in ("spec.md", "plan.md", "tasks.md", "metadata.json", "reports/profile.json", "data/train.parquet",
                 "data/test.parquet", "data/split.json"):
        assert (root / name).is_file(), name
    assert sorted(p.name for p in tmp_path.iterdir()) == ["increments"], "no Hydra output folder, no stray files"
