"""The reviewer's guards (``specweave_ml.guards``) and the paired bootstrap: each fires on generated data built to
trip it and stays silent on data built not to (distinct rows, a genuinely strong feature, a stationary process);
severity follows the strength of the evidence for the rows there are."""

import numpy as np
import pandas as pd
import pytest
from scipy.stats import binom

from specweave_ml import antipatterns as ap
from specweave_ml.evaluation.bootstrap import interval, paired_difference
from specweave_ml.families.tabular import TabularFamily
from specweave_ml.gates import baseline_gate, holdout_resolution
from specweave_ml.guards import review
from specweave_ml.guards.leaks import encoding_leaks, missingness_leaks, outcome_names
from specweave_ml.guards.near_duplicates import chance_share, near_duplicates
from specweave_ml.guards.shift import adversarial_validation
from specweave_ml.plan import SplitPlan
from specweave_ml.report.readiness import guard_items
from specweave_ml.serving.abtest import offline_lines

ROW = "__row__"


def split(frame: pd.DataFrame, test_share=0.25, seed=0, shuffle=True):
    """A random (or, unshuffled, an in-order) split with the framework's ``__row__`` column."""
    frame = frame.reset_index(drop=True)
    frame.insert(0, ROW, np.arange(len(frame)))
    order = np.random.default_rng(seed).permutation(len(frame)) if shuffle else np.arange(len(frame))
    cut = int(len(frame) * (1 - test_share))
    return frame.iloc[order[:cut]].reset_index(drop=True), frame.iloc[order[cut:]].reset_index(drop=True)


def only(findings, kind):
    found = [f for f in findings if f.kind == kind]
    assert len(found) == 1, [f.kind for f in findings]
    return found[0]


# --- near-duplicates across the split -----------------------------------------------------------------------

def entities(n_entities=600, copies=3, noise=1e-3, dims=8, seed=0):
    """Each entity recorded ``copies`` times with a little noise; ``entity_id`` names it."""
    rng = np.random.default_rng(seed)
    base = np.repeat(rng.normal(size=(n_entities, dims)), copies, axis=0)
    frame = pd.DataFrame(base + rng.normal(scale=noise, size=base.shape), columns=[f"x{i}" for i in range(dims)])
    frame["entity_id"] = np.repeat(np.arange(n_entities) * 7 + 100, copies)
    return frame


def test_near_duplicates_fire_on_entities_recorded_twice_and_name_the_column_that_groups_them():
    train, test = split(entities())
    features = [c for c in train.columns if c != ROW]
    assert ap.duplicates_across(train, test, features) == []  # no row repeats exactly: the exact check is blind
    found = only(near_duplicates(train, test, features, "random"), "near_duplicates")
    assert (found.severity, found.confidence) == ("severe", "high")
    e = found.evidence
    assert e["lower_bound"] > 0.9 and e["identical_rows"] == 0 and e["explaining_column"]["column"] == "entity_id"
    assert "problem.data.group_column=entity_id" in found.action
    by_row = pd.concat([train, test]).set_index(ROW)["entity_id"]
    assert e["examples"] and all(by_row[x["holdout_row"]] == by_row[x["train_row"]] for x in e["examples"])


def test_near_duplicates_stay_silent_on_distinct_rows():
    rng = np.random.default_rng(1)
    train, test = split(pd.DataFrame(rng.normal(size=(4_000, 8)), columns=[f"x{i}" for i in range(8)]))
    found = only(near_duplicates(train, test, [f"x{i}" for i in range(8)], "random"), "near_duplicates")
    assert found.severity == "info" and found.evidence["near_rows"] == 0


def test_near_duplicates_allow_for_chance_on_data_along_a_line():
    """In one dimension distinct rows are often close; the chance share is subtracted, so it stays silent."""
    rng = np.random.default_rng(2)
    train, test = split(pd.DataFrame({"x": rng.normal(size=8_000)}))
    found = only(near_duplicates(train, test, ["x"], "random"), "near_duplicates")
    assert found.severity == "info" and found.evidence["share"] > 0.02  # close by chance, and said so
    assert found.evidence["chance_share"] == pytest.approx(chance_share(1.0), rel=0.01)


def test_a_few_near_duplicates_in_a_small_holdout_warn_without_blocking():
    rng = np.random.default_rng(3)
    train = pd.DataFrame(rng.normal(size=(300, 6)), columns=list("abcdef"))
    test = pd.concat([train.iloc[:5] + 1e-4, pd.DataFrame(rng.normal(size=(30, 6)), columns=list("abcdef"))])
    found = only(near_duplicates(train, test.reset_index(drop=True), list("abcdef"), "random"), "near_duplicates")
    assert found.evidence["share"] > 0.1 > found.evidence["lower_bound"]  # 5 of 35: the share is high, its bound is not
    assert (found.severity, found.confidence) == ("warning", "medium")


def test_near_duplicates_on_a_time_split_say_what_recurring_entities_mean():
    train, test = split(entities(seed=4), shuffle=True)
    found = only(near_duplicates(train, test, [c for c in train.columns if c != ROW], "time"), "near_duplicates")
    assert "recur" in found.message and "recur in production" in found.action


# --- missingness and encoding leaks, outcome names --------------------------------------------------------------

def fraud_like(n=4_000, seed=0):
    rng = np.random.default_rng(seed)
    y = (rng.random(n) < 0.1).astype(int)
    frame = pd.DataFrame({"amount": rng.gamma(2.0, 50.0, n) + 30 * y, "y": y})
    # Filled only once a chargeback is filed, i.e. (nearly) only for frauds; its *value* says nothing.
    filed = (y == 1) | (rng.random(n) < 0.002)
    frame["chargeback_amount"] = np.where(filed, rng.gamma(2.0, 40.0, n), np.nan)
    return frame


def test_a_column_present_only_after_the_outcome_is_severe_though_its_values_say_nothing():
    frame = fraud_like()
    assert [f for f in ap.single_feature_leakage(frame, ["chargeback_amount"], "y", "binary_classification")
            if f.severity == "severe"] == []  # its median-filled values hide the leak
    found = only(missingness_leaks(frame, ["amount", "chargeback_amount"], "y", "binary_classification"), "missingness_leak")
    assert (found.severity, found.confidence, found.evidence["feature"]) == ("severe", "high", "chargeback_amount")
    assert found.evidence["lower_bound"] > ap.LEAKAGE_LIMIT and "when 'chargeback_amount' is filled" in found.action


def test_informative_missingness_stays_silent():
    rng = np.random.default_rng(5)
    n = 4_000
    y = (rng.random(n) < 0.3).astype(int)
    income = np.where(rng.random(n) < np.where(y == 1, 0.3, 0.1), np.nan, rng.normal(50, 10, n))  # missing more often
    [found] = missingness_leaks(pd.DataFrame({"income": income, "y": y}), ["income"], "y", "binary_classification")
    assert found.severity == "info" and 0.55 < found.evidence["checked"]["income"]["value"] < 0.7


def test_missingness_on_few_rows_is_only_a_warning():
    frame = fraud_like(n=60, seed=1)
    found = only(missingness_leaks(frame, ["chargeback_amount"], "y", "binary_classification"), "missingness_leak")
    assert found.evidence["value"] >= ap.LEAKAGE_LIMIT > found.evidence["lower_bound"]
    assert (found.severity, found.confidence) == ("warning", "medium")


def test_missingness_in_regression_is_judged_by_correlation():
    rng = np.random.default_rng(6)
    n = 3_000
    claimed = rng.random(n) < 0.3
    cost = np.where(claimed, 1_000.0, 0.0) + rng.normal(0, 1, n)
    frame = pd.DataFrame({"claim_ref": np.where(claimed, 1.0, np.nan), "age": rng.normal(40, 10, n), "cost": cost})
    found = only(missingness_leaks(frame, ["claim_ref", "age"], "cost", "regression"), "missingness_leak")
    assert (found.severity, found.evidence["measure"]) == ("severe", "|correlation|")


def status_codes(n=3_000, seed=0, purity=1.0):
    """A code whose 30 levels (random names, so alphabetical order says nothing) each belong to one class."""
    rng = np.random.default_rng(seed)
    names = np.array([f"s{v:04d}" for v in rng.permutation(9_000)[:30]])
    level = rng.integers(0, 30, n)
    y = (level % 2).astype(int)
    flip = rng.random(n) > purity
    return pd.DataFrame({"status": names[level], "y": np.where(flip, 1 - y, y)})


def test_a_category_mapped_to_the_target_is_severe_though_its_codes_look_random():
    frame = status_codes()
    single = ap.single_feature_leakage(frame, ["status"], "y", "binary_classification")
    assert [f for f in single if f.severity == "severe"] == []  # category codes in alphabetical order hide it
    found = only(encoding_leaks(frame, ["status"], "y", "binary_classification"), "encoding_leak")
    assert (found.severity, found.confidence, found.evidence["levels"]) == ("severe", "high", 30)


def test_a_genuinely_strong_category_stays_silent():
    [found] = encoding_leaks(status_codes(purity=0.8), ["status"], "y", "binary_classification")
    assert found.severity == "info" and 0.75 < found.evidence["checked"]["status"]["value"] < 0.85


def test_an_id_like_category_says_nothing_out_of_fold():
    rng = np.random.default_rng(7)
    n = 2_000
    y = (rng.random(n) < 0.5).astype(int)
    frame = pd.DataFrame({"order_id": [f"o{i}" for i in range(n)], "y": y})  # in sample, every level is "pure"
    [found] = encoding_leaks(frame, ["order_id"], "y", "binary_classification")
    assert found.severity == "info" and found.evidence["checked"]["order_id"]["value"] < 0.6


def test_a_multiclass_category_mapped_to_the_class_is_severe():
    rng = np.random.default_rng(8)
    level = rng.integers(0, 12, 3_000)
    frame = pd.DataFrame({"code": [f"c{v}" for v in level], "y": np.array(["a", "b", "c"])[level % 3]})
    found = only(encoding_leaks(frame, ["code"], "y", "multiclass_classification"), "encoding_leak")
    assert (found.severity, found.evidence["measure"]) == ("severe", "out-of-fold purity")


def test_outcome_names_are_a_low_confidence_warning():
    [found] = outcome_names(["age", "refund_amount", "days_to_close"], "churned")[:1]
    assert (found.severity, found.confidence, found.evidence["feature"]) == ("warning", "low", "refund_amount")
    assert [f.evidence["feature"] for f in outcome_names(["age", "refund_amount", "days_to_close"], "y")] == \
        ["refund_amount", "days_to_close"]
    assert outcome_names(["age", "income", "tenure_months"], "churned") == []


def test_a_severe_finding_needs_high_confidence():
    with pytest.raises(ValueError):
        ap.Finding("leakage", "severe", "a hunch", confidence="medium")


# --- train/holdout shift -------------------------------------------------------------------------------------

def two_sides(shift=0.0, n=4_000, seed=0):
    rng = np.random.default_rng(seed)
    train = pd.DataFrame(rng.normal(size=(n, 4)), columns=list("abcd"))
    test = pd.DataFrame(rng.normal(size=(n // 3, 4)), columns=list("abcd"))
    test["c"] += shift
    return train, test


def test_a_shifted_holdout_under_a_random_split_is_severe_and_names_the_column():
    train, test = two_sides(shift=1.5)
    found = only(adversarial_validation(train, test, list("abcd"), "stratified"), "train_holdout_shift")
    assert (found.severity, found.confidence) == ("severe", "high")
    assert found.evidence["top_columns"][0]["column"] == "c" and found.evidence["lower_bound"] > 0.65
    assert "something differs" in found.message


def test_a_stationary_process_shows_no_shift():
    train, test = two_sides(shift=0.0)
    found = only(adversarial_validation(train, test, list("abcd"), "stratified"), "train_holdout_shift")
    assert found.severity == "info" and found.evidence["lower_bound"] < 0.55


def test_drift_on_a_time_split_is_expected_a_warning_with_what_to_monitor():
    rng = np.random.default_rng(9)
    n = 6_000
    t = np.arange(n)
    frame = pd.DataFrame({"t": t, "level": rng.normal(size=n) + t / n * 3, "noise": rng.normal(size=n)})
    train, test = split(frame, shuffle=False)
    found = only(adversarial_validation(train, test, ["level", "noise"], "time", "t"), "train_holdout_shift")
    assert (found.severity, found.evidence["top_columns"][0]["column"]) == ("warning", "level")
    assert "expected on a time split" in found.message and found.action.startswith("monitor level")
    assert found.evidence["time_column_excluded"] == "t"


def test_a_time_split_of_a_stationary_process_stays_silent():
    rng = np.random.default_rng(10)
    frame = pd.DataFrame({"t": np.arange(6_000), "x": rng.normal(size=6_000), "z": rng.normal(size=6_000)})
    train, test = split(frame, shuffle=False)
    found = only(adversarial_validation(train, test, ["x", "z"], "time", "t"), "train_holdout_shift")
    assert found.severity == "info"


def test_review_runs_every_guard_and_skips_encodings_already_called_leakage():
    frame = status_codes(seed=2)
    train, test = split(frame)
    plan = SplitPlan("stratified", "stratified_kfold", 5, 0.25, None, None, "")
    kinds = {f.kind for f in review(train, test, ["status"], "y", "binary_classification", plan)}
    assert {"near_duplicates", "missingness_leak", "encoding_leak", "train_holdout_shift"} <= kinds
    skipped = review(train, test, ["status"], "y", "binary_classification", plan, flagged=frozenset({"status"}))
    assert [f.severity for f in skipped if f.kind == "encoding_leak"] != ["severe"]


# --- the paired bootstrap --------------------------------------------------------------------------------------

def correlated_models(n=1_000, fixed=30, right=770):
    """Model b is right on ``right`` rows; model a is b plus ``fixed`` more rows right: accuracy differs by fixed / n."""
    y = np.zeros(n, dtype=int)
    b = np.where(np.arange(n) < right, 0, 1)
    a = np.where(np.arange(n) < right + fixed, 0, 1)
    return y, a, b


def test_paired_bootstrap_matches_the_binomial_count_of_rows_only_one_model_gets_right():
    """Each draw's difference is (draws of the 30 rows only a gets right) / 1000, a Binomial(1000, 0.03) / 1000."""
    y, a, b = correlated_models()
    out = paired_difference("accuracy", y, (a, None), (b, None), stratified=False, seed=0, resamples=4_000)
    assert out["difference"] == pytest.approx(0.03)
    assert out["low"] == pytest.approx(binom.ppf(0.025, 1_000, 0.03) / 1_000, abs=0.0015)
    assert out["high"] == pytest.approx(binom.ppf(0.975, 1_000, 0.03) / 1_000, abs=0.0015)
    assert (out["verdict"], out["not_better"]) == ("better", 0.0)
    # Unpaired, the two intervals overlap: they cannot tell 0.80 from 0.77, the paired one can.
    a_ci, b_ci = out["a_interval"], out["b_interval"]
    assert a_ci["low"] < b_ci["high"]


def test_paired_bootstrap_of_a_model_against_itself_is_zero_and_within_noise():
    y, a, _ = correlated_models()
    out = paired_difference("accuracy", y, (a, None), (a, None), stratified=False, seed=0, resamples=200)
    assert (out["low"], out["high"], out["verdict"]) == (0.0, 0.0, "within noise")


def test_paired_bootstrap_reads_the_metric_direction():
    rng = np.random.default_rng(11)
    y = rng.normal(size=2_000)
    good, poor = y + rng.normal(scale=0.5, size=2_000), y + rng.normal(scale=1.0, size=2_000)
    out = paired_difference("rmse", y, (good, None), (poor, None), stratified=False, seed=0, resamples=300)
    assert out["difference"] < 0 and out["high"] < 0 and out["verdict"] == "better"
    assert paired_difference("rmse", y, (poor, None), (good, None), stratified=False, seed=0, resamples=300)["verdict"] == "worse"


def test_each_side_of_a_pair_has_the_interval_it_has_alone():
    rng = np.random.default_rng(12)
    y = (rng.random(3_000) < 0.05).astype(int)
    s1, s2 = rng.normal(size=3_000) + 2 * y, rng.normal(size=3_000) + y
    out = paired_difference("pr_auc", y, (None, s1), (None, s2), stratified=True, seed=5, resamples=100)
    assert out["a_interval"] == interval("pr_auc", y, y_score=s1, stratified=True, seed=5, resamples=100)
    assert out["b_interval"] == interval("pr_auc", y, y_score=s2, stratified=True, seed=5, resamples=100)


def test_the_baseline_gate_cites_the_paired_bootstrap_without_changing_its_verdict():
    paired = {"difference": 0.12, "low": 0.07, "high": 0.17, "level": 0.95, "resamples": 500, "rows": 800,
              "stratified": True, "verdict": "better"}
    plain = baseline_gate("roc_auc", 0.62, "stratified", 0.5, 0.2)  # the margin asks for 0.6: +0.10
    cited = baseline_gate("roc_auc", 0.62, "stratified", 0.5, 0.2, paired)
    assert (plain.passed, cited.passed, cited.limit) == (True, True, plain.limit)
    assert cited.detail.startswith(plain.detail) and "larger than the noise" in cited.detail
    assert "+0.1000, inside the interval: another holdout could flip this gate" in cited.detail
    assert cited.evidence["paired_bootstrap"]["margin_difference"] == pytest.approx(0.1)
    firm = baseline_gate("roc_auc", 0.62, "stratified", 0.5, 0.2, {**paired, "low": 0.11, "high": 0.13})
    assert "the whole interval clears it" in firm.detail
    failed = baseline_gate("roc_auc", 0.52, "stratified", 0.5, 0.2, {**paired, "difference": 0.02, "low": -0.01,
                                                                      "high": 0.05, "verdict": "within noise"})
    assert not failed.passed and "within the noise" in failed.detail and "falls short of it" in failed.detail


def test_holdout_resolution_trusts_the_paired_difference_over_overlapping_intervals():
    model, base = {"low": 0.76, "high": 0.82}, {"name": "stratified", "low": 0.74, "high": 0.80}
    assert "overlaps" in holdout_resolution("accuracy", 0.8, model, base, 5_000)
    better = {"low": 0.01, "high": 0.03, "verdict": "better"}
    assert holdout_resolution("accuracy", 0.8, model, base, 5_000, paired=better) is None
    noise = {"low": -0.01, "high": 0.03, "verdict": "within noise"}
    assert "not shown better" in holdout_resolution("accuracy", 0.8, model, base, 5_000, paired=noise)


def test_champion_and_challenger_are_compared_on_the_rows_both_scored():
    rng = np.random.default_rng(13)
    n = 2_000
    y = (rng.random(n) < 0.2).astype(int)
    a = pd.DataFrame({ROW: np.arange(n), "y_true": y, "y_pred": y, "score": rng.normal(size=n) + 3 * y})
    b = a.assign(score=rng.normal(size=n) + 0.5 * y).sample(frac=1.0, random_state=0)  # another order
    out = TabularFamily().compare(a, b, "binary_classification", "roc_auc", [0, 1], seed=0)
    assert out["compared"] and out["rows"] == n and out["verdict"] == "better" and out["low"] > 0.2
    moved = b.assign(**{ROW: b[ROW] + n})
    assert TabularFamily().compare(a, moved, "binary_classification", "roc_auc", [0, 1], seed=0)["compared"] is False
    text = "\n".join(offline_lines({"a_name": "champion", **out}))
    assert "## Offline evidence" in text and "in the champion's favour" in text


# --- readiness: each guard a line, linked to its section ---------------------------------------------------------

def test_guard_items_fail_on_severe_warn_on_warnings_and_link_to_the_report():
    findings = [ap.Finding("near_duplicates", "severe", "copies", {}, "high", "group").to_dict(),
                ap.Finding("missingness_leak", "info", "checked", {}, "high").to_dict(),
                ap.Finding("train_holdout_shift", "warning", "drift", {}, "high", "monitor").to_dict()]
    metrics = {"intervals": {"difference": {"of": "m - b", "metric": "roc_auc", "difference": 0.1, "low": 0.05,
                                            "high": 0.15, "level": 0.95, "verdict": "better"}}}
    items = {g["key"]: g for g in guard_items(findings, metrics)}
    assert {k: g["status"] for k, g in items.items()} == {"duplicates": "FAIL", "leaks": "PASS", "shift": "WARN",
                                                          "uncertainty": "PASS"}
    assert items["duplicates"]["section"] == "reports/report.html#guard-duplicates"
    assert {g["status"] for g in guard_items(None, None)} == {"NOT YET"}


def test_small_data_is_not_judged_for_shift_and_measurements_are_not_taken_for_categories():
    rng = np.random.default_rng(14)
    train, test = two_sides(n=45)[0], two_sides(n=45)[1]
    [found] = adversarial_validation(train, test, list("abcd"), "stratified")
    assert found.severity == "info" and "not judged" in found.message
    frame = pd.DataFrame({"x": rng.normal(size=45), "y": rng.integers(0, 2, 45)})  # 45 distinct values, not a code
    [found] = encoding_leaks(frame, ["x"], "y", "binary_classification")
    assert found.evidence["checked"] == {}
