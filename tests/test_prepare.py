"""``stage=prepare``: the increment's documents, the data profile and a saved, leakage-safe split."""

import json

import numpy as np
import pandas as pd
import pytest

from specweave_ml.data.split import FOLD, ROW, fingerprint
from specweave_ml.errors import DataError
from specweave_ml.stages import run_stage

DOCUMENTS = ("spec.md", "plan.md", "tasks.md", "metadata.json")
DATA = ("reports/profile.json", "data/train.parquet", "data/test.parquet", "data/split.json")
NOTES_START = "<!-- specweave:notes:start (your notes below survive regeneration) -->"
NOTES_END = "<!-- specweave:notes:end -->"


def read_json(path):
    return json.loads(path.read_text())


@pytest.fixture
def prepare(compose, tmp_path):
    """``prepare(*overrides)``: run stage=prepare in this process; returns the increment's folder."""

    def _prepare(*overrides):
        cfg = compose([*overrides, "stage=prepare"])
        run_stage(cfg)
        return tmp_path / "increments" / cfg.problem.increment

    return _prepare


def snapshot(root):
    return {str(p.relative_to(root)): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()}


@pytest.fixture(scope="module")
def timed_csv(tmp_path_factory):
    """Card-like data with a time column, shuffled, plus the columns a careless export brings along."""
    n = 400
    rng = np.random.default_rng(7)
    order = rng.permutation(n)
    ts = pd.date_range("2024-01-01", periods=n, freq="37min")[order]
    frame = pd.DataFrame({
        "customer_id": rng.permutation(np.arange(10_000, 10_000 + n)),  # unique, named like an ID
        "seq": np.arange(n),  # unique and monotonic: an export's row number
        "ts": ts.strftime("%Y-%m-%d %H:%M:%S"),
        "amount": rng.gamma(2.0, 30.0, size=n).round(2),
        "x1": rng.normal(size=n),
        "x2": rng.normal(size=n),
        "currency": "EUR",  # constant
        "comment": np.nan,  # empty
        "fraud": (rng.random(n) < 0.2).astype(int),
    })
    path = tmp_path_factory.mktemp("timed") / "cards.csv"
    frame.to_csv(path, index=False)
    return path


def csv_brief(path, target, increment="0042-csv-brief", *extra):
    return ["problem=breast_cancer", f"problem.data.source={path}", f"problem.data.target={target}",
            f"problem.increment={increment}", "problem.metrics.others=[]", *extra]


# --- what prepare writes ---------------------------------------------------------------------------

def test_prepare_writes_documents_profile_and_split(prepare):
    root = prepare("problem=breast_cancer")
    for name in DOCUMENTS + DATA:
        assert (root / name).is_file(), name

    meta = read_json(root / "metadata.json")
    assert meta["id"] == "0002-breast-cancer"
    assert meta["status"] == "prepared"
    assert meta["created"] and meta["last_activity"] and len(meta["config_hash"]) == 16
    assert meta["tasks"]["T-001"]["status"] == "done"
    assert meta["tasks"]["T-002"]["status"] == "done"
    assert meta["tasks"]["T-004"]["status"] == "todo"

    prof = read_json(root / "reports" / "profile.json")
    assert (prof["rows"], prof["columns"]) == (569, 31)
    assert set(prof["class_balance"]) == {"0", "1"}
    assert sum(c["rows"] for c in prof["class_balance"].values()) == 569
    assert prof["minority_share"] == pytest.approx(212 / 569)
    assert len(prof["features"]) == 30 and "target" not in prof["features"]

    split = read_json(root / "data" / "split.json")
    assert split["strategy"] == "stratified" and split["cv_strategy"] == "stratified_kfold"
    assert split["rows_train"] + split["rows_test"] == 569
    assert split["rows_test"] == pytest.approx(569 * 0.25, abs=1)
    assert sum(split["rows_validated_per_fold"]) == split["rows_train"]

    spec = (root / "spec.md").read_text()
    for heading in ("## Problem", "## Input and output", "## Success criteria", "## Data requirements", "## Constraints",
                    "## Baseline plan", "## Metrics", "## Deployment considerations"):
        assert heading in spec, heading
    plan = (root / "plan.md").read_text()
    assert "| linear | tabular-small |" in plan and "| random_forest | tabular-small |" in plan
    for heading in ("## Data strategy", "## Candidates", "## Tuning strategy", "## Evaluation method", "## Deployment architecture"):
        assert heading in plan, heading
    tasks = (root / "tasks.md").read_text()
    assert "| T-001 | Data exploration and quality assessment | done |" in tasks
    assert "| T-002 |" in tasks and "| T-011 |" in tasks


def test_prepare_twice_changes_nothing_but_last_activity(prepare):
    root = prepare("problem=breast_cancer")
    first = snapshot(root)
    prepare("problem=breast_cancer")
    second = snapshot(root)
    assert set(first) == set(second)
    changed = [name for name in first if first[name] != second[name]]
    assert set(changed) <= {"metadata.json"}, changed
    before, after = json.loads(first["metadata.json"]), json.loads(second["metadata.json"])
    before.pop("last_activity"), after.pop("last_activity")
    assert before == after


@pytest.mark.parametrize("document", ["spec.md", "plan.md", "tasks.md"])
def test_user_notes_survive_regeneration(prepare, document):
    root = prepare("problem=breast_cancer")
    path = root / document
    text = path.read_text()
    assert text.count(NOTES_START) == 1 and text.count(NOTES_END) == 1
    notes = "Reviewed with the clinic on 3 March.\n\n- ask about the 2019 batch\n"
    path.write_text(text.replace(NOTES_START + "\n", NOTES_START + "\n" + notes))
    prepare("problem=breast_cancer")
    regenerated = path.read_text()
    assert regenerated.count(notes) == 1
    assert regenerated.index(NOTES_START) < regenerated.index(notes) < regenerated.index(NOTES_END)
    prepare("problem=breast_cancer")
    assert path.read_text() == regenerated, "regenerating with notes is idempotent too"


def test_a_changed_brief_regenerates_the_documents(prepare):
    root = prepare("problem=breast_cancer")
    old = read_json(root / "metadata.json")
    prepare("problem=breast_cancer", "problem.constraints.interpretability=required")
    new = read_json(root / "metadata.json")
    assert new["config_hash"] != old["config_hash"]
    assert new["created"] == old["created"]
    assert "| decision_tree | interpretability-required |" in (root / "plan.md").read_text()


# --- the split ------------------------------------------------------------------------------------

def test_time_column_split_trains_on_the_past_only(prepare, timed_csv):
    root = prepare(*csv_brief(timed_csv, "fraud", "0042-csv-brief", "problem.data.time_column=ts"))
    train = pd.read_parquet(root / "data" / "train.parquet")
    test = pd.read_parquet(root / "data" / "test.parquet")
    split = read_json(root / "data" / "split.json")
    assert (split["strategy"], split["cv_strategy"]) == ("time", "expanding_window")
    assert pd.to_datetime(train["ts"]).max() <= pd.to_datetime(test["ts"]).min()
    assert len(test) == 100 and len(train) == 300
    # Expanding window: every fold validates on rows later than all rows trained on before it.
    times = pd.to_datetime(train["ts"])
    for k in range(split["cv_folds"]):
        seen = times[(train[FOLD] < k)]
        assert len(seen) and times[train[FOLD] == k].min() > seen.max()
    # The time column orders the data; it is not a feature unless the brief asks.
    assert "ts" not in split["features"]


@pytest.mark.parametrize("brief", ["bundled", "csv with a date-time column"])
def test_saved_fingerprints_match_the_saved_frames(prepare, timed_csv, brief):
    """Later stages refuse a split whose fingerprint does not match, so the saved one must match as read back."""
    if brief == "bundled":
        root = prepare("problem=breast_cancer")
    else:
        root = prepare(*csv_brief(timed_csv, "fraud", "0042-csv-brief", "problem.data.time_column=ts"))
    split = read_json(root / "data" / "split.json")
    assert fingerprint(pd.read_parquet(root / "data" / "train.parquet")) == split["train_fingerprint"]
    assert fingerprint(pd.read_parquet(root / "data" / "test.parquet")) == split["test_fingerprint"]


def test_source_fingerprint_is_the_loaded_data(prepare, timed_csv):
    root = prepare(*csv_brief(timed_csv, "fraud", "0042-csv-brief", "problem.data.time_column=ts"))
    source = pd.read_csv(timed_csv, engine="pyarrow")
    assert read_json(root / "data" / "split.json")["source_fingerprint"] == fingerprint(source)
    assert read_json(root / "reports" / "profile.json")["fingerprint"] == fingerprint(source)
    assert read_json(root / "metadata.json")["data_fingerprint"] == fingerprint(source)
    assert read_json(root / "reports" / "prepare.json")["fingerprint"] == fingerprint(source)


def test_saved_rows_trace_back_to_the_source(prepare, timed_csv):
    root = prepare(*csv_brief(timed_csv, "fraud", "0042-csv-brief", "problem.data.time_column=ts"))
    source = pd.read_csv(timed_csv, engine="pyarrow")
    train = pd.read_parquet(root / "data" / "train.parquet")
    test = pd.read_parquet(root / "data" / "test.parquet")
    rows = pd.concat([train[ROW], test[ROW]])
    assert sorted(rows) == list(range(len(source))), "every source row lands in exactly one part"
    for part in (train, test):
        back = source.iloc[part[ROW]].reset_index(drop=True)
        np.testing.assert_array_equal(part["amount"].to_numpy(), back["amount"].to_numpy())
        np.testing.assert_array_equal(part["fraud"].to_numpy(), back["fraud"].to_numpy())


# --- findings ---------------------------------------------------------------------------------------

def test_id_like_constant_and_empty_columns_are_excluded_with_findings(prepare, timed_csv):
    root = prepare(*csv_brief(timed_csv, "fraud", "0042-csv-brief", "problem.data.time_column=ts"))
    prof = read_json(root / "reports" / "profile.json")
    findings = {(f["kind"], f["column"]) for f in prof["findings"]}
    assert ("id_like", "customer_id") in findings
    assert ("id_like", "seq") in findings
    assert ("constant_column", "currency") in findings
    assert ("empty_column", "comment") in findings
    features = read_json(root / "data" / "split.json")["features"]
    assert sorted(features) == ["amount", "x1", "x2"]
    train = pd.read_parquet(root / "data" / "train.parquet")
    for dropped in ("customer_id", "seq", "currency", "comment"):
        assert dropped not in train.columns
    spec = (root / "spec.md").read_text()
    assert "column 'customer_id' looks like an ID" in spec
    meta = read_json(root / "metadata.json")
    assert "4 findings" in meta["tasks"]["T-001"]["note"]


def test_declared_features_keep_a_unique_integer_column(prepare, timed_csv):
    root = prepare(*csv_brief(timed_csv, "fraud", "0042-csv-brief", "problem.data.time_column=ts",
                              "problem.data.features=[seq,amount,x1]"))
    assert read_json(root / "data" / "split.json")["features"] == ["seq", "amount", "x1"]


def test_duplicate_rows_are_reported(prepare, tmp_path_factory):
    rng = np.random.default_rng(3)
    frame = pd.DataFrame({"a": rng.integers(0, 4, 120), "b": rng.normal(size=120).round(1), "y": rng.integers(0, 2, 120)})
    frame = pd.concat([frame, frame.iloc[:9]], ignore_index=True)
    expected = int(frame.duplicated().sum())
    assert expected >= 9
    path = tmp_path_factory.mktemp("dups") / "dups.csv"
    frame.to_csv(path, index=False)
    root = prepare(*csv_brief(path, "y"))
    prof = read_json(root / "reports" / "profile.json")
    assert prof["duplicate_rows"] == expected
    dup = [f for f in prof["findings"] if f["kind"] == "duplicate_rows"]
    assert len(dup) == 1 and f"{expected} rows are exact duplicates" in dup[0]["message"]


def test_regression_profile_summarises_the_target(prepare):
    root = prepare("problem=diabetes")
    prof = read_json(root / "reports" / "profile.json")
    assert "class_balance" not in prof
    assert prof["target_summary"]["count"] == 442
    assert read_json(root / "data" / "split.json")["strategy"] == "random"


# --- failures write nothing --------------------------------------------------------------------------

def test_bad_data_found_during_prepare_writes_nothing(compose, tmp_path, tmp_path_factory):
    frame = pd.DataFrame({"x": np.arange(100.0), "y": np.arange(100) % 2,
                          "when": ["2024-01-01"] * 99 + ["not a date"]})
    path = tmp_path_factory.mktemp("bad") / "bad.csv"
    frame.to_csv(path, index=False)
    cfg = compose([*csv_brief(path, "y", "0042-csv-brief", "problem.data.time_column=when"), "stage=prepare"])
    with pytest.raises(DataError, match=r"^column 'when': 1 values of the time column are not dates"):
        run_stage(cfg)
    assert list(tmp_path.iterdir()) == []
