"""What the framework's torch models share (the CNN, the LSTM forecaster, NeuMF, the sentence encoder's threads).

* ``EarlyStopping``: watches a validation loss per epoch, keeps a copy of the best epoch's weights, and says when
  ``patience`` epochs went by without improving by more than ``min_delta``;
* ``ArrayWeights``: a model's network pickled as numpy arrays. A pickled torch tensor differs from run to run, the
  arrays do not, so the same seed gives the same model bytes (and the same hash for DVC and the registry);
* ``usable_cpus`` and ``torch_threads``: the thread count from the CPUs this process may use, set for a block and
  restored after it.

torch itself is imported inside the functions: importing this module costs nothing.
"""

from __future__ import annotations

import os
from contextlib import contextmanager
from typing import Iterator

import numpy as np


class EarlyStopping:
    def __init__(self, patience: int, min_delta: float = 1e-6):
        self.patience, self.min_delta = int(patience), float(min_delta)
        self.best, self.best_state, self.waited = float("inf"), None, 0

    def stop(self, loss: float, net) -> bool:
        """Record one epoch's validation loss (copying the weights when it is the best yet); True: stop training."""
        if loss < self.best - self.min_delta:
            self.best, self.waited = loss, 0
            self.best_state = {k: v.clone() for k, v in net.state_dict().items()}
            return False
        self.waited += 1
        return self.waited >= self.patience

    def restore(self, net) -> None:
        """Load the best epoch's weights back into ``net`` (nothing when no epoch was watched)."""
        if self.best_state is not None:
            net.load_state_dict(self.best_state)


class ArrayWeights:
    """Mixin for an estimator whose fitted network is ``net_``: it pickles as numpy arrays and is rebuilt on
    loading by ``_empty_net()``, which the estimator defines from its fitted attributes."""

    def _empty_net(self):
        raise NotImplementedError

    def __getstate__(self):
        state = self.__dict__.copy()
        if "net_" in state:
            state["net_"] = {k: v.detach().cpu().numpy() for k, v in self.net_.state_dict().items()}
        return state

    def __setstate__(self, state):
        weights = state.get("net_")
        self.__dict__.update(state)
        if isinstance(weights, dict):
            import torch

            net = self._empty_net()
            net.load_state_dict({k: torch.from_numpy(np.array(v)) for k, v in weights.items()})
            net.eval()
            self.net_ = net


def usable_cpus() -> int:
    """The CPUs this process may run on (its affinity, which cgroup cpusets set), not the machine's count."""
    try:
        return len(os.sched_getaffinity(0)) or 1
    except (AttributeError, OSError):  # no sched_getaffinity (macOS, Windows)
        return os.cpu_count() or 1


@contextmanager
def torch_threads(n: int) -> Iterator[None]:
    """torch's intra-op thread count set to ``n`` for the block, then put back."""
    import torch

    before = torch.get_num_threads()
    torch.set_num_threads(max(1, int(n)))
    try:
        yield
    finally:
        torch.set_num_threads(before)
