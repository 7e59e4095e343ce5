"""The text classifiers on the scikit-learn contract: fit/predict/predict_proba on raw texts, sample weights,
determinism for a seed, and a packaged encoder model that does not carry the encoder's weights."""

import pickle

import numpy as np
import pandas as pd
import pytest
from sklearn.base import clone

from specweave_ml.text.models import BagOfWords, EncoderClassifier, HybridClassifier, as_texts

TEXTS = ["a wonderful, moving film", "dull and far too long", "sharp, funny and warm", "a tedious mess",
         "beautifully acted", "the plot makes no sense", "a joy from start to finish", "boring and predictable"] * 3
LABELS = ["fresh", "rotten"] * 12


def test_texts_come_in_any_shape_the_pipeline_hands_over():
    frame = pd.DataFrame({"review": ["a", "b"]})
    assert as_texts(frame) == as_texts(frame.to_numpy()) == as_texts(frame["review"]) == as_texts(["a", "b"]) == ["a", "b"]
    with pytest.raises(ValueError, match="one column of texts"):
        as_texts(np.array([["a", "b"]], dtype=object))


def test_bag_of_words_learns_words_and_follows_the_estimator_contract():
    model = BagOfWords(random_state=0).fit(TEXTS, LABELS)
    assert list(model.classes_) == ["fresh", "rotten"]
    assert list(model.predict(["wonderful and warm", "tedious, boring mess"])) == ["fresh", "rotten"]
    proba = model.predict_proba(TEXTS)
    assert proba.shape == (24, 2) and np.allclose(proba.sum(1), 1)
    assert model.score(TEXTS, LABELS) == 1.0
    assert clone(model).get_params() == model.get_params()
    weighted = BagOfWords(random_state=0).fit(TEXTS, LABELS, sample_weight=np.r_[np.full(12, 5.0), np.ones(12)])
    assert not np.allclose(weighted.predict_proba(TEXTS), proba)  # the weights are used


def test_a_single_class_is_refused():
    with pytest.raises(ValueError, match="at least two classes"):
        BagOfWords().fit(TEXTS[:4], ["fresh"] * 4)


def test_the_estimator_checks_of_scikit_learn_that_apply():
    from sklearn.utils.estimator_checks import check_get_params_invariance, check_no_attributes_set_in_init, check_parameters_default_constructible

    for est in (BagOfWords(), EncoderClassifier(), HybridClassifier()):
        name = type(est).__name__
        check_no_attributes_set_in_init(name, est)
        check_parameters_default_constructible(name, est)
        check_get_params_invariance(name, est)


@pytest.mark.slow
def test_the_encoder_model_is_deterministic_offline_and_pickles_without_its_weights(tmp_path, monkeypatch):
    from specweave_ml.text import encoder

    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    with encoder.caching(tmp_path) as cache:
        a = EncoderClassifier(random_state=0, threads=1).fit(TEXTS, LABELS)
        first = cache.encoded
        b = EncoderClassifier(random_state=0, threads=1).fit(TEXTS, LABELS)
        assert cache.encoded == first == len(set(TEXTS))  # the second fit encoded nothing
    assert list((tmp_path / encoder.encoder_id()).glob("*.npz"))  # the cache is on disk, keyed by encoder version
    assert np.array_equal(a.predict_proba(TEXTS), b.predict_proba(TEXTS))
    with encoder.caching(tmp_path) as again:  # a new run reads the disk cache
        EncoderClassifier(random_state=0).fit(TEXTS[:5], LABELS[:5])
        assert again.encoded == 0
    assert a.score(TEXTS, LABELS) >= 0.75
    blob = pickle.dumps(a)
    assert len(blob) < 100_000  # the head and the encoder's name and version, not 90 MB of weights
    restored = pickle.loads(blob)
    assert restored.encoder_["package"] == encoder.REQUIREMENT
    assert np.allclose(restored.predict_proba(TEXTS[:3]), a.predict_proba(TEXTS[:3]))
    mlp = EncoderClassifier(head="mlp", hidden=16, random_state=0, max_iter=50).fit(TEXTS, LABELS)
    assert mlp.predict_proba(TEXTS).shape == (24, 2)
    with pytest.raises(ValueError, match="head must be"):
        EncoderClassifier(head="svm").fit(TEXTS, LABELS)


@pytest.mark.slow
def test_the_hybrid_model_uses_both_the_words_and_the_embeddings(tmp_path):
    from specweave_ml.text import encoder

    with encoder.caching(tmp_path):
        words_only = HybridClassifier(embedding_weight=0.0, random_state=0, threads=1).fit(TEXTS, LABELS)
        both = HybridClassifier(random_state=0, threads=1).fit(TEXTS, LABELS)
        again = HybridClassifier(random_state=0, threads=1).fit(TEXTS, LABELS)
    vocabulary = len(both.vectorizer_.vocabulary_)
    assert both.head_.coef_.shape[1] == vocabulary + encoder.DIM  # one weight per n-gram, then per embedding dimension
    assert np.any(both.head_.coef_[:, vocabulary:] != 0) and np.all(words_only.head_.coef_[:, vocabulary:] == 0)
    assert not np.allclose(both.predict_proba(TEXTS), words_only.predict_proba(TEXTS))
    assert np.array_equal(both.predict_proba(TEXTS), again.predict_proba(TEXTS))  # the same seed, the same model
    assert list(both.predict(["wonderful and warm", "tedious, boring mess"])) == ["fresh", "rotten"]
    assert len(pickle.dumps(both)) < 1_000_000  # the vocabulary and the head, not the encoder's weights
