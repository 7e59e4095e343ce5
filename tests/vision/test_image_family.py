"""The image family's glue: load-test requests at the model's real size, the CNN's thread count, and the
explanation labelled with the model's decided classes."""

import json
from types import SimpleNamespace

import numpy as np
import pandas as pd
import pytest

from specweave_ml.families.image import FAMILY
from specweave_ml.vision.images import Shape, decode_png


def test_load_test_requests_use_the_recorded_image_size_not_a_guess():
    import base64

    names = [f"p{i}" for i in range(24)]
    holdout = pd.DataFrame(np.full((4, 24), 3.0), columns=names)  # 4x2x3 RGB, values to 3: no square, no 255
    info = {"image": {"height": 4, "width": 2, "channels": 3, "max_value": 3.0}}
    endpoint, bodies = FAMILY.requests(holdout, {n: "double" for n in names}, info, 4, seed=0)
    first, second = json.loads(bodies[0]), json.loads(bodies[1])
    assert endpoint == "/predict" and np.allclose(decode_png(base64.b64decode(first["png"]), Shape(4, 2, 3, 3.0), "png"), 3.0)
    assert np.asarray(second["pixels"]).shape == (4, 2, 3)
    # prepared before the size was recorded: flat pixel lists, which fit any size
    _, bodies = FAMILY.requests(holdout, {n: "double" for n in names}, {}, 4, seed=0)
    assert all(json.loads(b)["pixels"] == [3.0] * 24 for b in bodies)


def test_torch_models_use_the_cpus_this_process_may_use_and_put_the_thread_count_back(monkeypatch):
    import os

    import torch

    from specweave_ml import torchkit

    monkeypatch.setattr(os, "sched_getaffinity", lambda pid: {0, 1, 2}, raising=False)
    monkeypatch.setattr(os, "cpu_count", lambda: 64)
    assert torchkit.usable_cpus() == 3
    monkeypatch.delattr(os, "sched_getaffinity")
    assert torchkit.usable_cpus() == 64
    before = torch.get_num_threads()
    with torchkit.torch_threads(before + 1):
        assert torch.get_num_threads() == before + 1
    assert torch.get_num_threads() == before


def test_the_explanation_labels_and_explains_the_models_decided_classes(tmp_path):
    from sklearn.datasets import load_digits

    from specweave_ml.vision.cnn import CNNClassifier
    from specweave_ml.vision.explain import explain_cnn

    X, y = load_digits(return_X_y=True)
    encoded = (y == 3).astype(int)
    cnn = CNNClassifier(max_value=16.0, max_epochs=1, patience=1, threads=1, verbose=False).fit(X[:200], encoded[:200])
    test = X[200:240]
    argmax = cnn.predict_proba(test).argmax(1)
    classes = np.array(["other", "three"])
    decided = classes[1 - argmax]  # a threshold can disagree with argmax: here on every row
    settings = SimpleNamespace(background_rows=20, explain_rows=6, top_features=5)
    summary = explain_cnn(cnn, X[:200], test, classes[encoded[200:240]], decided, [f"p{i}" for i in range(64)],
                          settings, 0, tmp_path, n_images=3, classes=classes)
    for row, example in zip(summary["shown_rows"], summary["examples"]):
        assert example["title"].endswith(f"read as {decided[row]}")
