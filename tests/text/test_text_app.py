"""The text server in-process (a tiny TF-IDF model): answers, each bad request a 422 naming the field (a batch's bad
text by its position), a body over ``serving.max_body_bytes`` a 413, and the model run once per request."""

from types import SimpleNamespace

import pandas as pd
import pytest

from specweave_ml.serving.text_app import create_text_app
from specweave_ml.text.models import BagOfWords

TEXTS = ["a wonderful, moving film", "dull and far too long", "sharp, funny and warm", "a tedious mess",
         "beautifully acted", "the plot makes no sense", "a joy from start to finish", "boring and predictable"] * 3
LABELS = ["fresh", "rotten"] * 12


def _client(threshold=0.5, max_chars=40, challenger=None):
    from sklearn.pipeline import Pipeline
    from starlette.testclient import TestClient

    from specweave_ml.families.text import FAMILY
    from specweave_ml.models.decision import DecisionModel

    model = DecisionModel(Pipeline([("model", BagOfWords(random_state=0))]), task="binary_classification",
                          threshold=threshold)
    model.fit(pd.DataFrame({"review": TEXTS}), pd.Series(LABELS))
    bundle = SimpleNamespace(increment="0099-text", model_name="bag_of_words", sha256="cd" * 32, model=model,
                             columns={"review": "string"}, describe=lambda: {"increment": "0099-text"},
                             profile={"text": {"column": "review", "max_chars": max_chars}})
    config = SimpleNamespace(max_body_bytes=2_000, max_batch_rows=4)
    return TestClient(FAMILY.app(bundle, config, challenger)), model


@pytest.fixture(scope="module")
def served():
    return _client()


def test_a_text_and_a_batch_get_the_models_decided_class(served):
    client, model = served
    one = client.post("/predict", json={"text": "wonderful and warm"})
    assert one.status_code == 200 and one.json()["prediction"] == "fresh"
    assert sum(one.json()["probabilities"].values()) == pytest.approx(1.0)
    batch = client.post("/predict/batch", json={"texts": ["wonderful and warm", "tedious, boring mess"]})
    assert batch.status_code == 200
    assert [p["prediction"] for p in batch.json()["predictions"]] == ["fresh", "rotten"]
    assert client.get("/health").json()["max_chars"] == 40


def test_a_two_class_answer_uses_the_tuned_threshold_and_runs_the_model_once(monkeypatch):
    client, _ = _client(threshold=0.999)  # P(rotten) never reaches it: every text is decided 'fresh'
    calls = []
    real = BagOfWords.predict_proba
    monkeypatch.setattr(BagOfWords, "predict_proba", lambda self, X: calls.append(1) or real(self, X))
    out = client.post("/predict/batch", json={"texts": ["tedious, boring mess", "dull and far too long"]})
    assert out.status_code == 200 and [p["prediction"] for p in out.json()["predictions"]] == ["fresh", "fresh"]
    assert len(calls) == 1


@pytest.mark.parametrize("body, loc, words", [
    ({}, ["body", "text"], "Field required"),
    ({"text": 1984}, ["body", "text"], "valid string"),
    ({"text": "   "}, ["body", "text"], "the text is empty"),
    ({"text": "x" * 41}, ["body", "text"], "more than max_chars=40"),
])
def test_each_bad_text_is_a_422_naming_the_field(served, body, loc, words):
    client, _ = served
    out = client.post("/predict", json=body)
    assert out.status_code == 422
    detail = out.json()["detail"][0]
    assert detail["loc"] == loc and words in detail["msg"]


@pytest.mark.parametrize("texts, loc, words", [
    (["good", "ok", "  "], ["body", "texts", 2], "the text is empty"),
    (["good", 7], ["body", "texts", 1], "valid string"),
    (["good", "y" * 41], ["body", "texts", 1], "more than max_chars=40"),
    ([], ["body", "texts"], "at least 1"),
    (["a"] * 5, ["body", "texts"], "at most 4"),
])
def test_a_bad_text_of_a_batch_is_named_by_its_position(served, texts, loc, words):
    client, _ = served
    out = client.post("/predict/batch", json={"texts": texts})
    assert out.status_code == 422
    detail = out.json()["detail"][0]
    assert detail["loc"] == loc and words in detail["msg"]


def test_a_body_over_max_body_bytes_is_a_413_and_counted(served):
    client, _ = served
    out = client.post("/predict/batch", json={"texts": ["word " * 7] * 60})
    assert out.status_code == 413
    assert 'text_requests_total{endpoint="/predict/batch",status="413"}' in client.get("/metrics").text


def test_an_ab_challenger_is_refused_naming_the_setting():
    from specweave_ml.errors import ConfigError

    with pytest.raises(ConfigError, match="serving.ab.challenger.*not built yet for text models"):
        _client(challenger=object())
