"""What the torch models share: early stopping that keeps the best epoch's weights, and networks pickled as arrays."""

import pickle

import numpy as np
import pytest

torch = pytest.importorskip("torch")

from specweave_ml.torchkit import ArrayWeights, EarlyStopping  # noqa: E402


def test_early_stopping_waits_patience_epochs_and_restores_the_best_weights():
    net = torch.nn.Linear(2, 1)
    stopper = EarlyStopping(patience=2)
    with torch.no_grad():
        net.weight.fill_(1.0)
    assert not stopper.stop(0.5, net)  # the best so far: its weights are copied
    with torch.no_grad():
        net.weight.fill_(9.0)
    assert not stopper.stop(0.5, net)  # no better (within min_delta): one epoch waited
    assert stopper.stop(0.7, net)  # two epochs without improving: stop
    stopper.restore(net)
    assert torch.equal(net.weight, torch.ones_like(net.weight)) and stopper.best == 0.5


def test_an_improvement_smaller_than_min_delta_does_not_reset_the_wait():
    net = torch.nn.Linear(1, 1)
    stopper = EarlyStopping(patience=1, min_delta=0.1)
    assert not stopper.stop(1.0, net)
    assert stopper.stop(0.95, net)


def test_restore_without_a_watched_epoch_leaves_the_network_as_it_is():
    net = torch.nn.Linear(1, 1)
    before = net.weight.clone()
    EarlyStopping(patience=1).restore(net)
    assert torch.equal(net.weight, before)


class _Tiny(ArrayWeights):
    def fit(self):
        torch.manual_seed(0)
        self.net_ = self._empty_net()
        return self

    def _empty_net(self):
        return torch.nn.Linear(3, 2)


def test_a_network_pickles_as_arrays_to_the_same_bytes_and_loads_back():
    a, b = _Tiny().fit(), _Tiny().fit()
    blob = pickle.dumps(a)
    assert blob == pickle.dumps(b)  # the same seed, the same bytes
    restored = pickle.loads(blob)
    x = torch.ones(1, 3)
    assert np.allclose(restored.net_(x).detach().numpy(), a.net_(x).detach().numpy())
    assert not restored.net_.training  # loaded ready to predict
