"""``stage=init``: a brief from a data file, each inferred value with its evidence, and the plan it resolves to.

The written brief lands under ``<paths.root>/conf/problem/`` (here ``tmp_path``), which ``__main__`` adds to
Hydra's search path, so ``problem=<name>`` composes it like a shipped brief and nothing is written to the repo.
"""

import dataclasses
import re
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from omegaconf import OmegaConf

from _compose import compose_at
from specweave_ml import brief
from specweave_ml.brief_writer import brief_name, brief_text, name_from, next_increment, scalar
from specweave_ml.context import Context
from specweave_ml.data.infer import infer
from specweave_ml.data.sample import read_sample
from specweave_ml.errors import ConfigError, DataError
from specweave_ml.schema import DataSchema, ProblemSchema

N = 200
# stage=init numbers a new brief one past the shipped briefs' highest increment (the temp root has none of its own)
NEXT = next_increment([Path(__file__).resolve().parent.parent / "conf" / "problem"], Path("/nonexistent"))


def frame_with(**columns) -> pd.DataFrame:
    rng = np.random.default_rng(0)
    return pd.DataFrame({"x1": rng.normal(size=N), "x2": rng.normal(size=N), **columns})


# --- infer.py on small frames ------------------------------------------------------------------------------

def test_two_values_make_a_binary_task_and_the_evidence_shows_their_shares():
    y = np.r_[np.zeros(150, int), np.ones(50, int)]
    inf = infer(frame_with(y=y), "y")
    assert (inf.task.value, inf.modality.value) == ("binary_classification", "tabular")
    assert inf.task.evidence == "'y' has 2 values: 0 (75.00%), 1 (25.00%)"


@pytest.mark.parametrize("labels", [np.arange(N) % 3, np.array(["red", "green", "blue", "grey"])[np.arange(N) % 4]],
                         ids=["three whole numbers", "four words"])
def test_a_few_whole_numbers_or_words_make_a_multiclass_task(labels):
    assert infer(frame_with(y=labels), "y").task.value == "multiclass_classification"


def test_words_with_two_values_make_a_binary_task():
    assert infer(frame_with(y=np.where(np.arange(N) % 2, "yes", "no")), "y").task.value == "binary_classification"


@pytest.mark.parametrize("values", [np.linspace(0, 1, N), np.arange(N) % 25], ids=["floats", "25 whole numbers"])
def test_a_numeric_target_with_many_values_makes_a_regression(values):
    inf = infer(frame_with(y=values), "y")
    assert inf.task.value == "regression"
    assert inf.task.evidence.startswith("'y' is numeric with")
    assert inf.imbalance.value is None and not inf.imbalanced


def test_a_target_with_one_value_is_refused_naming_it():
    with pytest.raises(DataError, match=r"^target: column 'y' has a single value"):
        infer(frame_with(y=np.ones(N)), "y")


def test_a_datetime_column_is_the_time_column():
    inf = infer(frame_with(when=pd.date_range("2024-01-01", periods=N, freq="h"), y=np.arange(N) % 2), "y")
    assert inf.time_column.value == "when"
    assert "datetime" in inf.time_column.evidence


def test_a_time_column_with_missing_values_is_not_picked():
    when = pd.Series(pd.date_range("2024-01-01", periods=N, freq="h"))
    when[5] = pd.NaT  # the data checks would refuse it as a time column
    assert infer(frame_with(when=when, y=np.arange(N) % 2), "y").time_column.value is None


def test_a_text_column_of_dates_is_the_time_column():
    dates = pd.date_range("2024-01-01", periods=N, freq="D").strftime("%Y-%m-%d")
    inf = infer(frame_with(day=dates, y=np.arange(N) % 2), "y")
    assert inf.time_column.value == "day"
    assert "parses as dates (2024-01-01 to" in inf.time_column.evidence


def test_a_numeric_column_named_like_a_time_is_the_time_column_only_when_it_is_monotonic():
    seconds = np.sort(np.random.default_rng(1).uniform(0, 1e5, N))
    assert infer(frame_with(Time=seconds, y=np.arange(N) % 2), "y").time_column.value == "Time"
    shuffled = infer(frame_with(Time=np.random.default_rng(2).permutation(seconds), y=np.arange(N) % 2), "y")
    assert shuffled.time_column.value is None
    unnamed = infer(frame_with(amount=seconds, y=np.arange(N) % 2), "y")  # monotonic, but not named like a time
    assert unnamed.time_column.value is None


def test_a_column_unique_per_row_and_named_like_an_id_is_an_id_column():
    inf = infer(frame_with(customer_id=np.arange(N), batch_id=np.arange(N) % 7, y=np.arange(N) % 2), "y")
    assert inf.id_columns.value == ["customer_id"]  # batch_id repeats: a feature
    assert "'customer_id': unique in each of 200 rows" in inf.id_columns.evidence


def test_the_minority_share_is_evidence_of_imbalance():
    y = np.r_[np.zeros(N - 4, int), np.ones(4, int)]
    inf = infer(frame_with(y=y), "y")
    assert inf.imbalanced and inf.imbalance.value == pytest.approx(0.02)
    assert inf.imbalance.evidence == "minority class 1 is 2.00% of 200 rows: imbalanced (under 10%)"
    balanced = infer(frame_with(y=np.arange(N) % 2), "y")
    assert not balanced.imbalanced and "balanced enough" in balanced.imbalance.evidence


def test_user_and_item_columns_make_an_interactions_ranking_task():
    rng = np.random.default_rng(3)
    frame = pd.DataFrame({"user_id": rng.integers(0, 20, N), "movie": rng.integers(0, 50, N),
                          "rating": rng.integers(1, 6, N)})
    inf = infer(frame, "rating")
    assert (inf.task.value, inf.modality.value) == ("ranking", "interactions")
    assert (inf.user_column.value, inf.item_column.value, inf.rating_column.value) == ("user_id", "movie", "rating")


def test_a_numeric_target_over_time_with_nothing_else_is_a_forecast():
    frame = pd.DataFrame({"date": pd.date_range("2024-01-01", periods=N, freq="D").astype(str),
                          "sales": np.random.default_rng(4).normal(100, 10, N)})
    inf = infer(frame, "sales")
    assert (inf.task.value, inf.modality.value, inf.time_column.value) == ("forecasting", "time_series", "date")


def test_the_whole_files_row_count_and_target_override_the_sample():
    sample = frame_with(y=np.arange(N) % 2)
    whole = pd.Series(np.r_[np.zeros(990, int), np.ones(10, int)], name="y")
    sample["Time"] = np.arange(N)
    inf = infer(sample, "y", n_rows=1000, target_values=whole)
    assert inf.n_rows == 1000 and inf.imbalanced and "1.00% of 1,000 rows" in inf.imbalance.evidence
    assert inf.time_column.evidence.startswith("'Time' is numeric, named like a time, and never decreases over the first 200 of 1,000 rows")


@pytest.mark.parametrize("suffix", ["csv", "parquet"])
def test_a_big_file_is_sampled_but_its_rows_and_target_are_counted_whole(tmp_path, suffix):
    frame = frame_with(y=np.r_[np.zeros(N - 3, int), np.ones(3, int)])
    path = tmp_path / f"big.{suffix}"
    frame.to_csv(path, index=False) if suffix == "csv" else frame.to_parquet(path, index=False)
    sample = read_sample(str(path), "y", rows=50)
    assert (len(sample.frame), sample.n_rows, int(sample.target.sum())) == (50, N, 3)


# --- brief_writer.py ---------------------------------------------------------------------------------------

def test_a_file_stem_becomes_a_brief_name():
    assert name_from("Credit Card-2024") == "credit_card_2024"
    assert name_from("creditcard") == "creditcard"
    assert name_from("***") == "brief"
    assert brief_name(None, "data/Credit Card.csv") == "credit_card"
    assert brief_name("churn-v2", "x.csv") == "churn-v2"
    with pytest.raises(ConfigError, match=r"^name: 'My Brief' is not a brief name.*name=my_brief"):
        brief_name("My Brief", "x.csv")


def test_the_next_increment_is_past_every_brief_and_increment_folder(tmp_path):
    briefs, increments = tmp_path / "conf" / "problem", tmp_path / "increments"
    briefs.mkdir(parents=True)
    (briefs / "a.yaml").write_text("increment: 0007-a\ntask: regression\n")
    assert next_increment([briefs], increments) == 8
    (increments / "0011-old-run").mkdir(parents=True)
    (increments / "README.md").write_text("")
    assert next_increment([briefs], increments) == 12


@pytest.mark.parametrize("text", ["Class", "a: b", "x #y", "null", "1", "/tmp/a b/c.csv", " padded"])
def test_scalars_read_back_as_written(text):
    assert OmegaConf.create(f"k: {scalar(text)}").k == text


def test_the_written_text_is_a_valid_brief_with_a_comment_on_every_inferred_value(composed):
    frame = frame_with(Time=np.arange(N, dtype=float), record_id=np.arange(N), y=np.r_[np.zeros(N - 4, int), np.ones(4, int)])
    text = brief_text(infer(frame, "y"), "data/my file.csv", "0009-my-file")
    problem = OmegaConf.to_object(OmegaConf.merge(OmegaConf.structured(ProblemSchema), OmegaConf.create(text)))
    brief.validate(problem, brief.selection_of(composed()))
    assert (problem.data.source, problem.data.time_column, problem.data.id_columns) == ("data/my file.csv", "Time", ["record_id"])
    assert problem.metrics.primary is None  # the resolver decides, from the evidence
    for key in ("task", "modality", "time_column", "id_columns", "primary"):
        line = next(li for li in text.splitlines() if li.strip().startswith(f"{key}:"))
        assert " # " in line, f"{key} has no evidence: {line}"
    assert re.search(r"^  primary: null +# the resolver picks pr_auc: minority class 1 is 2\.00%", text, re.MULTILINE)


# --- the command line --------------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def fraud_head(tmp_path_factory):
    """The first 20,000 rows of the bundled fraud CSV (0.43% fraud): fast, and still over the 10k-row bound."""
    from specweave_ml.data import sources

    path = tmp_path_factory.mktemp("fraud") / "creditcard.csv"
    pd.read_csv(sources.locate(DataSchema(source="bundled:creditcard_fraud")), nrows=20000).to_csv(path, index=False)
    return path


def sklearn_csv(folder, loader: str, file: str):
    from sklearn import datasets

    path = folder / file
    getattr(datasets, f"load_{loader}")(as_frame=True).frame.to_csv(path, index=False)
    return path


def plan_of(overrides, root=None):
    ctx = Context.from_cfg(compose_at(root, overrides))
    return ctx.plan(ctx.facts())


def assert_same_plan(written, shipped):
    """Field by field; the increment id and title differ, and so does why the primary metric was chosen (the
    shipped brief names it, the written one leaves it to the resolver), the order of the other metrics and the
    latency target (the data cannot tell it)."""
    def comparable(plan):
        return dataclasses.replace(plan, increment="", title="", primary_why="", secondary_metrics=tuple(sorted(plan.secondary_metrics)),
                                   gates=dataclasses.replace(plan.gates, latency_p95_ms=0))

    assert comparable(written) == comparable(shipped)
    assert (written.candidates, written.primary_metric, written.split) == (shipped.candidates, shipped.primary_metric, shipped.split)


CASES = {
    # data set: (how the test writes the file, target, extra arguments, the brief's name, shipped brief and overrides)
    "fraud": (None, "Class", [], "creditcard", ["problem=fraud", "problem.data.sample_rows=20000"]),
    "breast_cancer": (("breast_cancer", "wdbc.csv"), "target", [], "wdbc", ["problem=breast_cancer"]),
    "diabetes": (("diabetes", "diabetes.csv"), "target", ["name=diabetes_from_csv"], "diabetes_from_csv", ["problem=diabetes"]),
}


@pytest.mark.slow
@pytest.mark.parametrize("case", list(CASES))
def test_init_writes_a_brief_that_composes_and_plans_like_the_shipped_one(cli, tmp_path, monkeypatch, fraud_head, case):
    made, target, extra, name, shipped = CASES[case]
    if made is None:
        (tmp_path / fraud_head.name).write_bytes(fraud_head.read_bytes())
        data = fraud_head.name
    else:
        data = sklearn_csv(tmp_path, *made).name
    result = cli("stage=init", f"data={data}", f"target={target}", *extra)  # as a user types it, the path relative
    assert result.returncode == 0, result.stderr
    written = tmp_path / "conf" / "problem" / f"{name}.yaml"
    assert written.exists() and f"problem={name}" in result.stderr
    assert re.search(rf"^increment: {NEXT:04d}-{name.replace('_', '-')} ", written.read_text(), re.MULTILINE)
    replanned = cli(f"problem={name}", "stage=plan")  # composes from <paths.root>/conf like a shipped brief
    assert replanned.returncode == 0, replanned.stderr
    assert replanned.stdout == result.stdout, "stage=init prints the plan that stage=plan prints"
    monkeypatch.chdir(tmp_path)  # data.source is the path as given: relative to where the user runs
    mine = plan_of([f"problem={name}", f"hydra.searchpath=[file://{tmp_path / 'conf'}]"], root=tmp_path)
    assert_same_plan(mine, plan_of(shipped))


@pytest.mark.slow
def test_the_fraud_brief_carries_its_evidence_and_passes_the_data_checks(cli, tmp_path, fraud_head):
    result = cli("stage=init", f"data={fraud_head}", "target=Class", "name=fraud_head")
    assert result.returncode == 0, result.stderr
    text = (tmp_path / "conf" / "problem" / "fraud_head.yaml").read_text()
    assert re.search(r"^task: binary_classification +# 'Class' has 2 values: 0 \(99\.\d\d%\), 1 \(0\.43%\)$", text, re.MULTILINE)
    assert re.search(r"^  time_column: Time +# 'Time' is numeric, named like a time, and never decreases", text, re.MULTILINE)
    assert f"  source: {fraud_head}\n" in text
    prepared = cli("problem=fraud_head", "stage=prepare")
    assert prepared.returncode == 0, prepared.stderr
    assert (tmp_path / "increments" / f"{NEXT:04d}-fraud-head" / "data" / "split.json").exists()
    second = cli("stage=init", f"data={fraud_head}", "target=Class", "name=fraud_again")
    assert second.returncode == 0, second.stderr
    assert f"Plan for increment {NEXT + 1:04d}-fraud-again" in second.stdout  # past the brief and the increment folder


def assert_one_clean_error(result, key: str):
    assert result.returncode == 2, (result.returncode, result.stderr)
    assert "Traceback" not in result.stderr + result.stdout
    lines = result.stderr.splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith(f"error: {key}: ") and "Fix: " in lines[0], lines[0]
    return lines[0]


@pytest.fixture
def inputs(tmp_path_factory):
    """A folder outside the run's root for the user's files, so a failed run must leave the root empty."""
    return tmp_path_factory.mktemp("inputs")


@pytest.mark.slow
def test_a_missing_file_is_named(cli, tmp_path, inputs, files_under):
    line = assert_one_clean_error(cli("stage=init", f"data={inputs / 'nowhere.csv'}", "target=y"), "data")
    assert "nowhere.csv' does not exist" in line
    assert files_under(tmp_path) == set()


@pytest.mark.slow
def test_a_target_not_in_the_file_is_named(cli, tmp_path, inputs, files_under):
    path = sklearn_csv(inputs, "diabetes", "clinic.csv")
    line = assert_one_clean_error(cli("stage=init", f"data={path}", "target=progression"), "target")
    assert "column 'progression' is not in" in line and "age, sex, bmi" in line
    assert files_under(tmp_path) == set()


@pytest.mark.slow
def test_an_unreadable_file_is_named(cli, tmp_path, inputs, files_under):
    path = inputs / "broken.parquet"
    path.write_bytes(b"not parquet at all")
    line = assert_one_clean_error(cli("stage=init", f"data={path}", "target=y"), "data")
    assert "could not read" in line and "broken.parquet" in line
    assert files_under(tmp_path) == set()


@pytest.mark.slow
def test_stage_init_asks_for_its_arguments(cli, tmp_path, files_under):
    assert "add target=<column>" in assert_one_clean_error(cli("stage=init", "data=x.csv"), "target")
    assert files_under(tmp_path) == set()


@pytest.mark.slow
def test_an_existing_brief_is_never_overwritten(cli, tmp_path, inputs, files_under):
    path = sklearn_csv(inputs, "diabetes", "progression.csv")
    assert cli("stage=init", f"data={path}", "target=target").returncode == 0
    brief_file = tmp_path / "conf" / "problem" / "progression.yaml"
    before, files = brief_file.read_text(), files_under(tmp_path)
    line = assert_one_clean_error(cli("stage=init", f"data={path}", "target=bmi"), "name")
    assert str(brief_file) in line and "already exists" in line and "name=" in line
    assert brief_file.read_text() == before and files_under(tmp_path) == files


@pytest.mark.slow
def test_a_shipped_brief_is_never_shadowed(cli, tmp_path, inputs, files_under):
    path = sklearn_csv(inputs, "diabetes", "diabetes.csv")  # its stem names the shipped brief
    line = assert_one_clean_error(cli("stage=init", f"data={path}", "target=target"), "name")
    assert "conf/problem/diabetes.yaml already exists" in line
    assert files_under(tmp_path) == set()
