"""Dates become calendar features and boosted trees read categories natively, all inside the fitted pipeline."""

import pickle
from dataclasses import replace

import numpy as np
import pandas as pd
import pytest
from omegaconf import OmegaConf
from sklearn.preprocessing import OneHotEncoder, OrdinalEncoder, StandardScaler

from specweave_ml.data.checks import check_frame
from specweave_ml.models.decision import DecisionModel
from specweave_ml.schema import DataSchema, ProblemSchema, Task
from specweave_ml.training.calendar import CalendarFeatures, is_date_column, to_dates
from specweave_ml.training.pipelines import NativeCategories, as_numbers, build_pipeline, encoding_findings

BOOSTED = ("lightgbm", "xgboost")
DAY_PARTS = ["year", "month", "day", "day_of_week", "day_of_year"]


@pytest.fixture(scope="module")
def specs(composed):
    cfg = composed()
    return {name: OmegaConf.to_object(cfg.models[name]) for name in ("linear", "random_forest", *BOOSTED)}


def small(spec, **params):
    """The configured model with fewer rounds: these tests check plumbing, not fit quality."""
    return replace(spec, params={**spec.params, "n_estimators": 30, **params})


def dated_frame(n=300, seed=0):
    """A category, a text date column and a number; the target depends on all three."""
    rng = np.random.default_rng(seed)
    days = pd.date_range("2021-01-01", periods=n, freq="D")
    frame = pd.DataFrame({
        "num": rng.normal(size=n),
        "colour": rng.choice(["red", "green", "blue"], size=n),
        "signup_date": days.strftime("%Y-%m-%d"),
    })
    frame.loc[::13, "colour"] = None
    y = ((frame["num"] > 0) ^ (frame["colour"] == "red") ^ (days.day_of_week >= 5)).astype(int).to_numpy()
    return frame, y


def fitted(spec, frame, y, stop=None):
    return DecisionModel(build_pipeline(spec, "binary_classification", frame, list(frame.columns), 0),
                         early_stopping_rounds=stop).fit(frame, y)


# --- calendar features ------------------------------------------------------------------------------

def test_a_datetime_column_gives_its_calendar_parts_without_hour_when_all_midnight():
    X = pd.DataFrame({"d": pd.to_datetime(["2021-03-14", "2024-12-31"])})
    cal = CalendarFeatures().fit(X)
    assert list(cal.get_feature_names_out()) == [f"d.{p}" for p in DAY_PARTS]
    np.testing.assert_array_equal(cal.transform(X), [[2021, 3, 14, 6, 73], [2024, 12, 31, 1, 366]])


def test_text_dates_in_mixed_formats_parse_and_times_add_the_hour():
    X = pd.DataFrame({"when": ["2021-03-14 08:30", "15/03/2021 17:00", "2021-03-16T00:00:00"]})
    cal = CalendarFeatures().fit(X)
    assert list(cal.get_feature_names_out()) == [f"when.{p}" for p in (*DAY_PARTS, "hour")]
    out = cal.transform(X)
    np.testing.assert_array_equal(out[:, 1], [3, 3, 3])
    np.testing.assert_array_equal(out[:, -1], [8, 17, 0])


def test_missing_and_unparseable_dates_at_predict_time_are_nan_never_an_error():
    cal = CalendarFeatures().fit(pd.DataFrame({"d": ["2021-01-01", "2021-06-01"]}))
    new = pd.DataFrame({"d": ["not a date", None, np.nan, "2021-13-45", 42, "2022-02-02T10:00+02:00", "2022-02-02",
                        "2500-06-01T00:00+01:00"]})
    out = cal.transform(new)
    assert np.isnan(out[:5]).all()
    np.testing.assert_array_equal(out[5:, 0], [2022, 2022, 2500])  # mixed time zones: parsed one by one, wall-clock time


def test_zoned_times_keep_their_wall_clock_hour():
    dates = to_dates(pd.Series(pd.to_datetime(["2021-01-01 10:00"]).tz_localize("Europe/Paris")))
    assert dates.dt.hour.tolist() == [10]


@pytest.mark.parametrize(("values", "dates"), [
    (pd.to_datetime(["2021-01-01", "2021-01-02"]), True),
    (["2021-01-01", "03/02/2021"], True),
    (["12", "13"], False),  # numbers stored as text stay text, as in the data contract
    (["red", "2021-01-01"], False),
    ([None, None], False),
])
def test_which_columns_hold_dates(values, dates):
    series = pd.Series(values) if isinstance(values, pd.DatetimeIndex) else pd.Series(values, dtype=object)
    assert is_date_column(series) is dates


# --- pipelines: dates ---------------------------------------------------------------------------------

@pytest.mark.parametrize("name", ["linear", "random_forest", *BOOSTED])
def test_without_dates_or_categories_the_pipeline_is_unchanged(specs, name):
    X = pd.DataFrame({"a": [1.0, 2.0, np.nan, 4.0], "b": [0, 1, 0, 1]})
    pipeline = build_pipeline(specs[name], "binary_classification", X, ["a", "b"], 0)
    pre = pipeline.named_steps["preprocess"]
    assert [s for s, _ in pipeline.steps] == ["preprocess", "model"]
    assert [t for t, _, _ in pre.transformers] == ["numeric"]
    assert getattr(pre, "_sklearn_output_config", {}).get("transform") in (None, "default")


def test_a_date_column_is_calendar_numbers_not_a_category(specs):
    frame, _ = dated_frame(40)
    pre = build_pipeline(specs["linear"], "binary_classification", frame, list(frame.columns), 0).named_steps["preprocess"]
    kinds = {n: cols for n, _, cols in pre.transformers}
    assert kinds["categorical"] == ["colour"] and kinds["dates"] == ["signup_date"]
    dates = dict((n, t) for n, t, _ in pre.transformers)["dates"]
    assert [type(s) for _, s in dates.steps][0] is CalendarFeatures
    assert isinstance(dates.steps[-1][1].steps[-1][1], StandardScaler)  # scaled like the other numbers


def test_linear_models_still_one_hot_their_categories(specs):
    frame, y = dated_frame(80)
    model = fitted(specs["linear"], frame, y)
    encoder = model.pipeline_.named_steps["preprocess"].named_transformers_["categorical"].steps[-1][1]
    assert isinstance(encoder, OneHotEncoder)
    names = list(model.pipeline_[:-1].get_feature_names_out())
    assert "colour_red" in names and "signup_date.month" in names


# --- pipelines: native categories in boosted trees -----------------------------------------------------

@pytest.mark.parametrize("name", BOOSTED)
def test_boosted_trees_receive_category_columns_and_score_unseen_ones(specs, name):
    frame, y = dated_frame()
    model = fitted(small(specs[name]), frame, y, stop=5)  # early stopping transforms its tail with the same levels
    prep = model.pipeline_[:-1]
    new = frame.head(3).copy()
    new["colour"] = ["purple", None, "red"]
    new["signup_date"] = ["junk", None, "2030-05-05"]
    seen = prep.transform(new)
    assert isinstance(seen["f1"].dtype, pd.CategoricalDtype)
    assert list(seen["f1"].cat.categories) == ["blue", "green", "red"]  # fixed at fit: an unseen level is missing
    assert seen["f1"].isna().tolist() == [True, True, False]
    assert list(prep.get_feature_names_out()) == ["num", "colour", *[f"signup_date.{p}" for p in DAY_PARTS]]
    scores = model.scores(new)
    assert scores.shape == (3,) and np.all((scores >= 0) & (scores <= 1))


def test_xgboost_without_enable_categorical_keeps_ordinal_codes(specs):
    frame, _ = dated_frame(40)
    pipeline = build_pipeline(small(specs["xgboost"], enable_categorical=False), "binary_classification", frame,
                              list(frame.columns), 0)
    categorical = dict((n, t) for n, t, _ in pipeline.named_steps["preprocess"].transformers)["categorical"]
    assert isinstance(categorical.steps[-1][1], OrdinalEncoder)
    assert [s for s, _ in pipeline.steps] == ["preprocess", "model"]


def test_a_column_with_too_many_levels_gets_codes_and_an_empty_one_does_not_break():
    X = pd.DataFrame({"few": ["a", "b", "a", None], "many": ["p", "q", "r", "s"], "none": [None] * 4})
    enc = NativeCategories(max_levels=3).fit(X)
    out = enc.transform(pd.DataFrame({"few": ["b", "z"], "many": ["q", "zz"], "none": ["x", None]}))
    assert isinstance(out["few"].dtype, pd.CategoricalDtype) and out["few"].isna().tolist() == [False, True]
    assert out["many"].dtype == "float64" and out["many"].tolist()[0] == 1.0 and np.isnan(out["many"].iloc[1])
    assert out["none"].dtype == "float64" and out["none"].isna().all()


@pytest.mark.parametrize("name", BOOSTED)
def test_feature_names_boosting_libraries_refuse_still_train(specs, name):
    frame, y = dated_frame(120)
    frame = frame.rename(columns={"num": "x[1]", "colour": "a:b"})
    model = fitted(small(specs[name]), frame, y)
    assert list(model.pipeline_[:-1].get_feature_names_out())[:2] == ["x[1]", "a:b"]


@pytest.mark.parametrize("name", BOOSTED)
def test_a_pickled_pipeline_predicts_on_raw_rows(specs, name):
    frame, y = dated_frame(150)
    model = fitted(small(specs[name]), frame, y)
    again = pickle.loads(pickle.dumps(model))
    rows = pd.DataFrame({"num": [0.3, -1.0], "colour": ["red", "mauve"], "signup_date": ["2021-02-03", "3 March 2021"]})
    np.testing.assert_allclose(again.scores(rows), model.scores(rows))


# --- SHAP -------------------------------------------------------------------------------------------------

@pytest.mark.parametrize("name", BOOSTED)
def test_tree_shap_on_category_and_date_columns_gives_named_additive_values(specs, name):
    shap = pytest.importorskip("shap")
    frame, y = dated_frame()
    model = fitted(small(specs[name]), frame, y)
    prep, est = model.pipeline_[:-1], model.pipeline_.named_steps["model"]
    rows = frame.head(20)
    data = as_numbers(prep.transform(rows))  # what specweave_ml.explain.shap_values hands the explainer
    result = shap.TreeExplainer(est)(data, check_additivity=False)
    names = list(prep.get_feature_names_out())
    assert "colour" in names and "signup_date.day_of_week" in names and len(names) == result.values.shape[1]
    transformed = prep.transform(rows)
    raw = est.predict(transformed, output_margin=True) if name == "xgboost" else est.predict(transformed, raw_score=True)
    np.testing.assert_allclose(result.values.sum(axis=1) + result.base_values, raw, atol=1e-4)
    assert np.abs(result.values[:, names.index("colour")]).mean() > 0  # the category column is used and explained


# --- findings -------------------------------------------------------------------------------------------

def problem(**data):
    return ProblemSchema(increment="0099-dates", task=Task("binary_classification"),
                         data=DataSchema(**{"source": "data.csv", "target": "y", **data}))


def test_the_report_says_a_column_holds_dates_and_what_it_becomes():
    frame, _ = dated_frame(600)
    frame["signup_date"] = frame["signup_date"].where(np.arange(600) != 599, "soon")  # past the contract's 500-value probe
    found = encoding_findings(frame, list(frame.columns))
    assert [(f.kind, f.column) for f in found] == [("date_features", "signup_date")]
    assert "calendar features year, month, day, day of week, day of year" in found[0].message
    assert "1 values are not dates" in found[0].message and "hour" not in found[0].message


def test_dates_unique_per_row_are_features_not_ids():
    frame, y = dated_frame(60)
    checked = check_frame(frame.assign(y=y), problem(), 5)
    assert "signup_date" in checked.features
    assert not [f for f in checked.findings if f.kind == "id_like"]
    ids = check_frame(frame.assign(y=y, ref=[f"r{i}" for i in range(60)]), problem(), 5)  # a text ID still is one
    assert [f.column for f in ids.findings if f.kind == "id_like"] == ["ref"]


def test_no_findings_for_plain_numbers_and_categories():
    frame, _ = dated_frame(60)
    assert encoding_findings(frame.drop(columns="signup_date").assign(flag=True), ["num", "colour", "flag"]) == []


def test_the_report_says_when_a_category_has_too_many_levels_for_native_splits():
    frame = pd.DataFrame({"x": np.arange(1200) % 7, "code": [f"c{i % 1100}" for i in range(1200)]})
    found = encoding_findings(frame, ["x", "code"])
    assert [(f.kind, f.column) for f in found] == [("many_levels", "code")] and "1,100 distinct values" in found[0].message
