"""The recommenders on a tiny matrix: seeded, seen items excluded, NeuMF early-stops; the family's plots are
exactly the files it declares to DVC."""

import numpy as np
import pandas as pd
import pytest
from scipy import sparse

from specweave_ml.recommendations import models as M


def tiny(seed=0, users=30, items=40):
    rng = np.random.default_rng(seed)
    X = (rng.random((users, items)) < 0.2).astype(np.float32)
    X[:, 0] = 1  # one item everyone has
    return sparse.csr_matrix(X)


@pytest.mark.parametrize("make", [lambda: M.ItemKNN(neighbours=5), lambda: M.ALS(factors=4, iterations=3),
                                  lambda: M.BPR(factors=4, iterations=5)])
def test_scorers_are_seeded_and_score_every_item(make):
    X = tiny()
    a, b = make().fit(X).scores(np.arange(5)), make().fit(X).scores(np.arange(5))
    assert a.shape == (5, 40)
    np.testing.assert_allclose(a, b)


def test_neumf_is_seeded_and_stops_early():
    from specweave_ml.recommendations.neumf import NeuMF

    X = tiny()
    a = NeuMF(factors=4, layers=(8, 4), epochs=30, patience=1, batch_size=64, random_state=3).fit(X)
    b = NeuMF(factors=4, layers=(8, 4), epochs=30, patience=1, batch_size=64, random_state=3).fit(X)
    np.testing.assert_allclose(a.scores(np.arange(3)), b.scores(np.arange(3)))
    assert a.epochs_run_ < 30  # the held-aside loss stopped improving
    assert a.scores_.shape == (30, 40) and a.scores_.dtype == np.float32  # served without torch


def test_the_family_writes_exactly_the_plots_it_declares(tmp_path):
    from specweave_ml.families import named
    from specweave_ml.recommendations import metrics as rm

    family = named("recommendations")
    lists = rm.top_k_frame(["a", "b"], np.array([[1, 2, 3], [4, 5, 6]]), np.ones((2, 3)), [{2}, {9}], 3)
    family.plots(lists, None, None, tmp_path / "plots", tmp_path / "curves")
    assert sorted(p.name for p in (tmp_path / "curves").iterdir()) == sorted(family.dvc_plots("ranking"))
    table = pd.read_csv(tmp_path / "curves" / "metric_at_k.csv")
    assert table["k"].tolist() == [1, 2, 3] and table["hit_rate"].tolist() == [0.0, 0.5, 0.5]
