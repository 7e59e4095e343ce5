"""Drift: PSI and KS against the reference profile, in stage=monitor and in the server's gauges."""

import numpy as np
import pandas as pd
import pytest

from specweave_ml.errors import ConfigError, DataError
from specweave_ml.fileio import read_json
from specweave_ml.serving import drift


def normal_frame(n, seed, shift=0.0):
    rng = np.random.default_rng(seed)
    return pd.DataFrame({"a": rng.normal(shift, 1, n), "b": rng.exponential(1, n) + shift,
                         "city": rng.choice(["Oslo", "Lima", "Pune"], n, p=[0.5, 0.3, 0.2])})


def test_psi_is_zero_for_equal_shares_and_grows_with_the_difference():
    assert drift.psi([0.5, 0.5], [0.5, 0.5]) == 0
    assert 0 < drift.psi([0.5, 0.5], [0.6, 0.4]) < drift.psi([0.5, 0.5], [0.9, 0.1])
    assert np.isfinite(drift.psi([0.5, 0.5, 0.0], [0.4, 0.4, 0.2]))  # an empty bin does not make it infinite


def test_a_same_distribution_sample_does_not_alert_and_a_shifted_one_does():
    reference = normal_frame(20_000, seed=0)
    profile = drift.build_profile(reference, {"score": reference["a"].to_numpy()}, bins=10)
    same = normal_frame(5_000, seed=1)
    moved = normal_frame(5_000, seed=2, shift=0.5)
    quiet = drift.report(profile, same, {"score": same["a"].to_numpy()}, psi_threshold=0.2, ks_alpha=0.01)
    loud = drift.report(profile, moved, {"score": moved["a"].to_numpy()}, psi_threshold=0.2, ks_alpha=0.01)
    assert not quiet["alert"] and quiet["warnings"] == []
    assert not any(r.get("ks_shift") for r in quiet["features"])
    assert loud["alert"] and {"a", "b", "score"} <= set(loud["alerts"])
    assert all(r["ks_shift"] for r in loud["features"] if r["kind"] == "numeric")
    assert "city" not in loud["alerts"]  # categories did not move


def test_categories_and_missing_values_have_their_own_bins():
    reference = normal_frame(5_000, seed=0)
    profile = drift.build_profile(reference, {}, bins=10)
    batch = normal_frame(2_000, seed=1)
    batch["city"] = "Tromso"  # a category never seen
    batch.loc[:999, "a"] = np.nan  # half missing
    report = drift.report(profile, batch, {}, psi_threshold=0.2, ks_alpha=0.01)
    assert {"a", "city"} == set(report["alerts"])
    city = next(r for r in report["features"] if r["name"] == "city")
    assert city["ks_statistic"] is None  # KS is for numbers only


def test_a_small_batch_is_reported_as_noisy():
    reference = normal_frame(400, seed=0)
    profile = drift.build_profile(reference, {}, bins=10)
    report = drift.report(profile, normal_frame(60, seed=1), {}, psi_threshold=0.2, ks_alpha=0.01)
    assert report["chance_psi_99"] > 0.2
    assert "chance alone" in report["warnings"][0]


def test_the_window_keeps_the_last_rows_and_bins_them_like_the_report():
    reference = normal_frame(5_000, seed=0)[["a", "b"]]
    profile = drift.build_profile(reference, {"score": reference["a"].to_numpy()}, bins=10)
    window = drift.DriftWindow(profile, ["a", "b"], ["score"], size=500)
    batch = normal_frame(800, seed=3, shift=2.0)[["a", "b"]]
    for start in range(0, 800, 100):  # 800 rows through a 500-row window
        part = batch.iloc[start:start + 100]
        window.add(part.to_numpy().tolist(), {"score": part["a"].to_numpy()})
    rows, psi = window.psi()
    last = batch.tail(500)
    expected = drift.psi(profile["features"]["a"]["expected"], drift.shares(profile["features"]["a"], last["a"].to_numpy()))
    assert rows == 500 and psi["a"] == pytest.approx(expected)
    assert psi["score"] == pytest.approx(psi["a"])


# --- stage=monitor and the server's gauges on a real increment ----------------------------------------

@pytest.mark.slow
def test_monitor_flags_a_shifted_batch_but_not_the_holdout(built, holdout, tmp_path, stage, shifted):
    project = built.copy(tmp_path / "root")  # monitor writes its report: never into the shared increment
    holdout.to_csv(tmp_path / "holdout.csv", index=False)
    shifted(holdout).to_parquet(tmp_path / "shifted.parquet")

    quiet = stage(project.root, "monitor", f"input={tmp_path / 'holdout.csv'}")
    assert not quiet["alert"], [(r["name"], r["psi"]) for r in quiet["features"] if r["alert"]]
    assert read_json(project.paths.drift_report)["alert"] is False

    loud = stage(project.root, "monitor", f"input={tmp_path / 'shifted.parquet'}")
    assert loud["alert"] and "score" in loud["alerts"]
    assert len(loud["alerts"]) >= 0.9 * (len(holdout.columns) + 1)
    assert read_json(project.paths.drift_report)["alert"] is True


@pytest.mark.slow
def test_monitor_explains_what_is_missing(built, tmp_path, stage):
    project = built.copy(tmp_path / "root")  # a stage that fails must change nothing, but not in the shared one
    with pytest.raises(ConfigError, match="input"):
        stage(project.root, "monitor")
    (tmp_path / "few.csv").write_text("mean radius\n12.0\n")
    with pytest.raises(DataError, match="missing column"):
        stage(project.root, "monitor", f"input={tmp_path / 'few.csv'}")


@pytest.mark.slow
def test_the_server_drift_gauges_move_when_traffic_shifts(built, holdout, compose_at, shifted, scrape, in_process):
    from specweave_ml.serving.server import build_app
    from specweave_ml.serving.settings import server_config

    config = server_config(compose_at(built.root).serving, built.paths)
    client = in_process(build_app(config))  # an app of its own: its own registry and window
    assert client.post("/predict/batch", json={"rows": holdout.to_dict(orient="records")}).status_code == 200
    calm = client.get("/metrics").text
    assert scrape(calm, "specweave_drift_window_rows") == len(holdout)
    assert scrape(calm, "specweave_drift_columns_alerting") == 0
    assert client.post("/predict/batch", json={"rows": shifted(holdout).to_dict(orient="records")}).status_code == 200
    stormy = client.get("/metrics").text
    assert scrape(stormy, "specweave_drift_columns_alerting") >= 10
    assert scrape(stormy, "specweave_drift_psi", column="score") > 0.2
