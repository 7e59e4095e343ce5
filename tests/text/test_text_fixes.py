"""The text family's edges: stage=monitor refused up front, CSV texts read as texts, load-test texts the server takes,
problem.text limits validated, n-grams written as valid CSV, explanations towards the decided class, torch threads."""

from types import SimpleNamespace

import pandas as pd
import pytest
from omegaconf import OmegaConf

from specweave_ml.errors import ConfigError, NotTrainableYet
from specweave_ml.families.text import FAMILY


def test_stage_monitor_on_a_text_increment_is_refused_before_anything_is_read():
    from specweave_ml.steps import monitor

    ctx = SimpleNamespace(cfg=SimpleNamespace(input="batch.csv", serving=SimpleNamespace(drift=None)),
                          paths=SimpleNamespace(), trainable_family=lambda: FAMILY)  # no files: nothing may be read
    with pytest.raises(NotTrainableYet, match="drift monitoring of texts .* is not built yet"):
        monitor.run(ctx)


def test_a_csv_of_texts_keeps_numbers_and_na_words_as_texts(tmp_path):
    path = tmp_path / "in.csv"
    path.write_text('review\n1984\nNA\nnull\nNone\n"a, quoted one"\n')
    frame = FAMILY.read_input(path, model=None)
    assert frame["review"].tolist() == ["1984", "NA", "null", "None", "a, quoted one"]
    from specweave_ml.text import corpus

    assert corpus.texts(frame["review"], "input").tolist() == frame["review"].tolist()  # none refused


def test_load_test_requests_send_only_texts_the_server_takes():
    import json

    holdout = pd.DataFrame({"review": ["short", "x" * 30, "fine text", "y" * 11]})
    endpoint, bodies = FAMILY.requests(holdout, {"review": "string"}, {"max_chars": 10}, 100, 0)
    assert endpoint == "/predict" and sorted(json.loads(b)["text"] for b in bodies) == ["fine text", "short"]


@pytest.mark.parametrize("key", ["max_chars", "explain_samples", "explain_max_evals"])
def test_text_limits_must_be_positive(key):
    from specweave_ml.settings_check import _text

    problem = OmegaConf.create({"modality": "text", "text": {"max_chars": 5000, "explain_samples": 3,
                                                              "explain_max_evals": 200}})
    _text(problem)
    problem.text[key] = 0
    with pytest.raises(ConfigError, match=f"problem.text.{key}: must be at least 1"):
        _text(problem)


def test_one_default_max_chars():
    from specweave_ml.families import text
    from specweave_ml.schema import DEFAULT_MAX_CHARS, TextSchema
    from specweave_ml.serving import text_app

    assert TextSchema().max_chars == DEFAULT_MAX_CHARS and text.DEFAULT_MAX_CHARS is DEFAULT_MAX_CHARS
    assert not hasattr(text_app, "DEFAULT_MAX_CHARS")


def test_ngrams_csv_quotes_class_names_and_tokens_follow_the_decided_class(tmp_path):
    import csv

    import numpy as np

    from specweave_ml.text import explain as tx
    from specweave_ml.text.models import BagOfWords

    texts = ["a wonderful, moving film", "dull and far too long", "sharp, funny and warm", "a tedious mess"] * 4
    labels = ['fresh, "great"', "rotten"] * 8
    bow = BagOfWords(random_state=0).fit(texts, labels)
    tx.ngram_shap(bow, texts, texts[:4], 5, tmp_path)
    with open(tmp_path / "ngrams.csv", newline="") as f:
        rows = list(csv.reader(f))
    assert rows[0] == ["class", "ngram", "mean_shap"] and all(len(r) == 3 for r in rows)
    assert {r[0] for r in rows[1:]} == {'fresh, "great"', "rotten"}
    proba = lambda batch: np.tile([0.7, 0.3], (len(batch), 1))  # argmax says fresh ...
    out = tx.token_shap(proba, bow.classes_, ["a tedious mess"], None, 10, 0, tmp_path, predicted=["rotten"])
    assert out[0]["predicted"] == "rotten" and out[0]["probability"] == pytest.approx(0.3)  # ... the model decided rotten


def test_encoder_threads_follow_the_affinity_and_are_restored(monkeypatch):
    import os

    import numpy as np
    import torch

    from specweave_ml.text import encoder

    monkeypatch.setattr(os, "sched_getaffinity", lambda pid: {0}, raising=False)
    monkeypatch.setattr(os, "cpu_count", lambda: 64)
    assert encoder.threads() == 1 and encoder.threads(3) == 3
    seen = []
    fake = SimpleNamespace(encode=lambda texts, **kw: seen.append(torch.get_num_threads()) or np.zeros((len(texts), encoder.DIM)))
    monkeypatch.setattr(encoder, "load", lambda: fake)
    before = torch.get_num_threads()
    encoder._encode(["a"], 8, before + 1)
    assert seen == [before + 1] and torch.get_num_threads() == before
