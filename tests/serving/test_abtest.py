"""A/B tests: sticky assignment, the power calculation, the plan, and routing in a real app."""

import pytest
from omegaconf import OmegaConf

from specweave_ml.errors import ConfigError
from specweave_ml.fileio import read_json
from specweave_ml.serving import abtest
from specweave_ml.serving.settings import validate


def test_assignment_is_sticky_and_follows_the_split():
    keys = [f"customer-{i}" for i in range(20_000)]
    first = [abtest.assign(k, 0.2, "exp-1") for k in keys]
    assert first == [abtest.assign(k, 0.2, "exp-1") for k in keys]
    assert first.count("challenger") / len(keys) == pytest.approx(0.2, abs=0.01)
    reshuffled = [abtest.assign(k, 0.2, "exp-2") for k in keys]
    assert sum(a != b for a, b in zip(first, reshuffled)) > 1000  # a new salt is a new experiment
    assert abtest.assign(None, 0.99, "exp-1") == abtest.assign("", 0.99, "exp-1") == "champion"


def test_sample_sizes_match_the_textbook():
    # Two proportions 10% vs 12%, alpha 0.05 two-sided, power 0.8: 3,841 per group (normal approximation).
    assert abtest.n_two_proportions(0.10, 0.12, 0.05, 0.8) == 3841
    # Two means, a difference of half a standard deviation: 63 per group.
    assert abtest.n_two_means(1.0, 0.5, 0.05, 0.8) == 63


def test_an_uneven_split_needs_more_traffic_and_the_plan_says_how_long():
    metric = abtest.Metric("accuracy", "share right", "request", 1.0, 0.9, "proportion")
    even = abtest.plan(metric, 0.02, 0.05, 0.8, split=0.5, expected_rps=1.0, max_days=28, latency_budget_ms=50, psi_threshold=0.2)
    skewed = abtest.plan(metric, 0.02, 0.05, 0.8, split=0.1, expected_rps=1.0, max_days=28, latency_budget_ms=50, psi_threshold=0.2)
    assert even.n_champion == even.n_challenger
    total = lambda p: p.n_champion + p.n_challenger  # noqa: E731
    assert total(skewed) / total(even) == pytest.approx(1 / (4 * 0.1 * 0.9), rel=0.01)
    assert skewed.days == pytest.approx(total(skewed) / 86400, rel=0.01)
    text = abtest.render(skewed, "0009-x", "previous", "X-Request-Key")
    for heading in ("## Hypothesis", "## Metric", "## Design", "## Stopping rules"):
        assert heading in text


@pytest.mark.parametrize("key, value", [("ab.split", 1.5), ("ab.split", 0.0), ("ab.power", 1.2), ("drift.psi_threshold", -1),
                                        ("drift.window", 10), ("loadtest.rate", 0), ("port", 70000)])
def test_serving_settings_that_make_no_sense_are_refused_naming_the_key(composed, key, value):
    serving = OmegaConf.to_object(composed("problem=breast_cancer").serving)
    section, _, name = key.rpartition(".")
    setattr(getattr(serving, section) if section else serving, name, value)
    with pytest.raises(ConfigError, match=f"serving.{key}: must be"):
        validate(serving)


@pytest.mark.slow
def test_stage_abplan_writes_the_plan_and_the_checklist_sees_it(built, tmp_path, stage):
    project = built.copy(tmp_path / "root")  # the stages write: never into the shared increment
    out = stage(project.root, "abplan", "serving.ab.mde=0.05")
    assert project.paths.abplan_doc.exists() and read_json(project.paths.abplan)["n_champion"] == out["n_champion"]
    assert out["metric"]["name"] == "recall" and out["n_champion"] > 0 and out["days"] > 0
    assert "## Stopping rules" in project.paths.abplan_doc.read_text()
    items = {i["item"]: i for i in stage(project.root, "report").items}
    assert items["A/B test infrastructure ready"]["status"] == "PASS"


@pytest.mark.slow
def test_the_server_routes_keyed_requests_stickily_and_counts_each_variant(retrained, compose_at, holdout, scrape, in_process):
    from specweave_ml.serving.server import build_app
    from specweave_ml.serving.settings import server_config

    cfg = compose_at(retrained.root, "serving.ab.challenger=previous", "serving.ab.split=0.5")
    client = in_process(build_app(server_config(cfg.serving, retrained.paths)))
    health = client.get("/health").json()
    assert health["challenger"]["sha256"] == retrained.meta["previous_model"]["sha256"]
    row = holdout.iloc[0].to_dict()
    seen = {}
    for i in range(60):
        key = f"user-{i}"
        variants = {client.post("/predict", json=row, headers={"X-Request-Key": key}).json()["variant"] for _ in range(2)}
        assert len(variants) == 1  # sticky
        seen[key] = variants.pop()
    assert set(seen.values()) == {"champion", "challenger"}
    assert all(seen[k] == abtest.assign(k, 0.5, "0002-breast-cancer") for k in seen)
    assert client.post("/predict", json=row).json()["variant"] == "champion"  # no key: the champion
    metrics = client.get("/metrics").text
    n_challenger = 2 * list(seen.values()).count("challenger")
    assert scrape(metrics, "specweave_requests_total", endpoint="/predict", status="200", variant="challenger") == n_challenger
    assert scrape(metrics, "specweave_request_latency_seconds_count", endpoint="/predict", variant="challenger") == n_challenger
    assert scrape(metrics, "specweave_model_info", variant="challenger", sha256=health["challenger"]["sha256"]) == 1


@pytest.mark.slow
def test_a_challenger_that_is_not_an_increment_is_named(retrained, compose_at):
    from specweave_ml.serving.settings import server_config

    cfg = compose_at(retrained.root, "serving.ab.challenger=0099-nothing")
    with pytest.raises(ConfigError, match="serving.ab.challenger: '0099-nothing' is not another increment"):
        server_config(cfg.serving, retrained.paths)
