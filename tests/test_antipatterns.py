"""Each anti-pattern check in ``specweave_ml.antipatterns``: one case where it fires, one where it must stay silent."""

import numpy as np
import pandas as pd
import pytest
from sklearn.impute import SimpleImputer
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import Pipeline, make_pipeline
from sklearn.preprocessing import StandardScaler

from specweave_ml import antipatterns as ap
from specweave_ml.models.decision import DecisionModel
from specweave_ml.schema import ModelSchema
from specweave_ml.training.pipelines import build_pipeline


def severities(findings, kind):
    return [f.severity for f in findings if f.kind == kind]


# --- single-feature leakage: sure on many rows, only a warning on few --------------------------------------

@pytest.fixture
def strong_on_45_rows():
    """45 rows, 10 positives: 'x' misorders 3 of 350 pairs (ROC AUC 0.9914), as a real measurement can."""
    negatives, positives = np.arange(35.0), np.array([31.5, *np.arange(35.0, 44.0)])
    return pd.DataFrame({"x": np.concatenate([negatives, positives]), "noise": np.tile([1.0, 2.0, 3.0], 15),
                         "y": [0] * 35 + [1] * 10})


def test_a_copy_of_the_target_on_5000_rows_is_severe_leakage():
    rng = np.random.default_rng(0)
    y = (rng.random(5_000) < 0.3).astype(int)
    frame = pd.DataFrame({"copy": y + rng.normal(0, 0.01, 5_000), "noise": rng.normal(size=5_000), "y": y})
    [finding] = ap.single_feature_leakage(frame, ["copy", "noise"], "y", "binary_classification")
    assert (finding.kind, finding.severity, finding.evidence["feature"]) == ("leakage", "severe", "copy")
    assert finding.evidence["lower_bound"] > 0.999 and finding.evidence["rows_checked"] == 5_000
    assert "on 5,000 rows (95% lower bound" in finding.message


def test_a_strong_feature_on_45_rows_is_a_warning_not_leakage(strong_on_45_rows):
    [finding] = ap.single_feature_leakage(strong_on_45_rows, ["x", "noise"], "y", "binary_classification")
    assert finding.severity == "warning"
    assert finding.evidence["value"] == pytest.approx(347 / 350, abs=1e-6)
    assert finding.evidence["lower_bound"] < 0.99 and finding.evidence["rows_checked"] == 45
    assert "ROC AUC 0.9914 on 45 rows (95% lower bound 0.9" in finding.message and "too few rows" in finding.message


def test_the_bound_follows_the_direction_of_the_feature(strong_on_45_rows):
    flipped = strong_on_45_rows.assign(x=-strong_on_45_rows["x"])
    [finding] = ap.single_feature_leakage(flipped, ["x"], "y", "binary_classification")
    [same] = ap.single_feature_leakage(strong_on_45_rows, ["x"], "y", "binary_classification")
    assert finding.evidence["lower_bound"] == same.evidence["lower_bound"]


def test_an_ordinary_feature_raises_nothing():
    rng = np.random.default_rng(1)
    y = rng.integers(0, 2, 500)
    frame = pd.DataFrame({"x": y + rng.normal(0, 1, 500), "y": y})
    assert ap.single_feature_leakage(frame, ["x"], "y", "binary_classification") == []


@pytest.mark.parametrize("rows, severity", [(5_000, "severe"), (40, "warning")])
def test_a_correlation_of_0_99_is_sure_on_5000_rows_not_on_40(rows, severity):
    rng = np.random.default_rng(2)
    target = rng.normal(size=rows)
    frame = pd.DataFrame({"twice": 2 * target + rng.normal(0, 0.22, rows), "t": target})  # |r| about 0.993
    [found] = ap.single_feature_leakage(frame, ["twice"], "t", "regression")
    assert (found.severity, found.evidence["measure"], found.evidence["rows_checked"]) == (severity, "|correlation|", rows)


@pytest.mark.parametrize("rows, severity", [(5_000, "severe"), (40, "warning")])
def test_a_code_that_fixes_the_class_is_sure_on_5000_rows_not_on_40(rows, severity):
    classes = np.tile(["a", "b", "c"], rows // 3 + 1)[:rows]
    frame = pd.DataFrame({"code": pd.Series(classes).map({"a": 1, "b": 2, "c": 3}), "k": classes})
    [found] = ap.single_feature_leakage(frame, ["code"], "k", "multiclass_classification")
    assert (found.severity, found.evidence["measure"], found.evidence["value"]) == (severity, "purity", 1.0)


def test_auc_lower_bound_grows_with_the_rows():
    bounds = [ap.auc_lower_bound(1.0, n, n) for n in (5, 25, 500)]
    assert bounds == sorted(bounds) and bounds[0] < 0.99 < bounds[-1]


# --- a feature named after the target --------------------------------------------------------------------

def test_target_named_fires_on_a_feature_named_after_the_target():
    [finding] = ap.target_named(["age", "churn_flag"], "churn")
    assert (finding.severity, finding.evidence) == ("warning", {"feature": "churn_flag"})


def test_target_named_stays_silent_on_other_names_and_short_targets():
    assert ap.target_named(["age", "income"], "churn") == []
    assert ap.target_named(["year", "y_axis"], "y") == []  # a stem of one letter would match everything


# --- look-ahead --------------------------------------------------------------------------------------------

def test_look_ahead_fires_on_a_random_split_of_time_stamped_rows():
    [finding] = ap.look_ahead({"signup_date": "object", "x": "float64"}, None, "stratified")
    assert finding.severity == "warning" and finding.evidence["columns"] == ["signup_date"]
    assert "problem.data.time_column" in finding.message


def test_look_ahead_stays_silent_on_a_time_ordered_split_or_timeless_data():
    assert severities(ap.look_ahead({"ts": "datetime64[ns]"}, "ts", "time"), "look_ahead") == ["info"]
    assert ap.look_ahead({"x": "float64", "colour": "object"}, None, "stratified") == []


# --- duplicates across the split -----------------------------------------------------------------------------

def test_duplicates_across_fires_on_test_rows_seen_in_training():
    train = pd.DataFrame({"a": range(100), "b": range(100)})
    [many] = ap.duplicates_across(train, train.iloc[:20], ["a", "b"])
    assert (many.severity, many.evidence["rows"]) == ("severe", 20)
    test = pd.concat([train.iloc[:2], pd.DataFrame({"a": range(1_000, 1_050), "b": 0})])
    [few] = ap.duplicates_across(train, test, ["a", "b"])
    assert (few.severity, few.evidence["rows"]) == ("warning", 2)


def test_duplicates_across_stays_silent_on_distinct_rows():
    train = pd.DataFrame({"a": range(100), "b": range(100)})
    test = pd.DataFrame({"a": range(100), "b": range(1, 101)})  # each value seen, no row repeated
    assert ap.duplicates_across(train, test, ["a", "b"]) == []


# --- overfitting -------------------------------------------------------------------------------------------

def cv_with_gap(passed):
    check = {"name": "train_val_gap", "passed": passed, "value": 0.25 if not passed else 0.02, "limit": 0.1,
             "detail": "roc_auc train 1.0000 vs validation 0.7500", "advice": "regularise"}
    return {"candidates": [{"name": "random_forest", "checks": [check]}]}


def test_overfitting_fires_on_a_failed_gap_check():
    [finding] = ap.overfitting(cv_with_gap(passed=False))
    assert finding.severity == "warning" and finding.evidence == {"model": "random_forest", "gap": 0.25, "limit": 0.1}


def test_overfitting_stays_silent_when_the_gap_is_small():
    assert ap.overfitting(cv_with_gap(passed=True)) == []


# --- class imbalance ---------------------------------------------------------------------------------------

def test_imbalance_records_how_it_was_handled():
    [finding] = ap.imbalance(True, 0.0017, "sqrt", "f1", "pr_auc")
    assert finding.severity == "info" and "0.17%" in finding.message and "pr_auc" in finding.message


def test_imbalance_stays_silent_on_a_balanced_target():
    assert ap.imbalance(False, 0.48, "none", "", "roc_auc") == []


# --- findings of the data profile ----------------------------------------------------------------------------

def test_from_profile_reports_id_columns_left_out():
    profile = {"findings": [{"kind": "id_like", "column": "customer_id", "message": "'customer_id' looks like an ID"}]}
    [finding] = ap.from_profile(profile)
    assert (finding.kind, finding.severity, finding.evidence) == ("id_column", "info", {"column": "customer_id"})


def test_from_profile_stays_silent_without_id_columns():
    profile = {"findings": [{"kind": "constant_column", "column": "currency", "message": "constant"}]}
    assert ap.from_profile(profile) == [] and ap.from_profile({}) == []


# --- preprocessing inside the pipeline: inspected on the fitted model ------------------------------------------

@pytest.fixture(scope="module")
def raw():
    """Features that need imputation (gaps), scaling (spreads 0.01 to 1000) and, in 'colour', encoding."""
    rng = np.random.default_rng(3)
    y = rng.integers(0, 2, 300)
    frame = pd.DataFrame({"small": y * 0.01 + rng.normal(0, 0.01, 300), "large": y * 1_000 + rng.normal(0, 1_000, 300),
                          "colour": np.where(y == 1, "red", "blue")})
    frame.loc[::9, "large"] = np.nan
    return frame, y


def test_pipeline_guard_passes_the_framework_pipeline_and_names_what_it_fits(raw):
    frame, y = raw
    pipeline = build_pipeline(ModelSchema(name="linear"), "binary_classification", frame, list(frame.columns), 0)
    [finding] = ap.pipeline_guard(DecisionModel(pipeline).fit(frame, y), frame)
    assert finding.severity == "info"
    assert set(finding.evidence["needs"]) == {"encoding", "imputation", "scaling"} and finding.evidence["unmet"] == {}
    assert {"preprocess/numeric/SimpleImputer", "preprocess/numeric/StandardScaler"} <= set(finding.evidence["fitted_inside"])


def test_pipeline_guard_is_severe_when_imputation_was_fitted_outside_the_model(raw):
    numbers, y = raw[0][["small", "large"]], raw[1]
    outside = make_pipeline(SimpleImputer(), StandardScaler()).fit(numbers)  # fitted on every row, before any split
    model = DecisionModel(Pipeline([("model", LogisticRegression())])).fit(outside.transform(numbers), y)
    [finding] = ap.pipeline_guard(model, numbers)
    assert finding.severity == "severe" and {"imputation", "scaling"} <= set(finding.evidence["unmet"])
    assert "missing values in large reach the estimator" in finding.message


def test_pipeline_guard_is_severe_when_text_reaches_the_estimator(raw):
    frame, y = raw
    encoded = frame.assign(colour=(frame["colour"] == "red").astype(float), large=frame["large"].fillna(0))
    model = DecisionModel(Pipeline([("model", LogisticRegression())])).fit(encoded, y)
    [finding] = ap.pipeline_guard(model, frame)
    assert finding.severity == "severe" and "cannot turn the raw features into numbers" in finding.message


def test_pipeline_guard_warns_when_a_linear_model_gets_unscaled_inputs(raw):
    numbers, y = raw[0][["small", "large"]].fillna(0), raw[1]
    model = DecisionModel(Pipeline([("model", LogisticRegression())])).fit(numbers, y)
    [finding] = ap.pipeline_guard(model, numbers)
    assert (finding.severity, list(finding.evidence["unmet"])) == ("warning", ["scaling"])


def test_pipeline_guard_does_not_ask_trees_for_scaling_or_imputation(raw):
    from sklearn.ensemble import RandomForestClassifier

    numbers, y = raw[0][["small", "large"]], raw[1]  # gaps left in: random forests take NaN
    model = DecisionModel(Pipeline([("model", RandomForestClassifier(n_estimators=5, random_state=0))])).fit(numbers, y)
    [finding] = ap.pipeline_guard(model, numbers)
    assert (finding.severity, finding.evidence["needs"]) == ("info", {})


def test_pipeline_guard_warns_on_a_model_that_is_not_a_pipeline(raw):
    numbers, y = raw[0][["small", "large"]].fillna(0), raw[1]
    [finding] = ap.pipeline_guard(LogisticRegression().fit(numbers / numbers.std(), y), numbers)
    assert finding.severity == "warning" and "LogisticRegression without a fitted scikit-learn Pipeline" in finding.message
