"""Turn the saved ``__fold__`` column back into (train rows, validation rows) pairs."""

from __future__ import annotations

from typing import Iterator

import numpy as np


def fold_indices(fold: np.ndarray, cv_strategy: str) -> Iterator[tuple[np.ndarray, np.ndarray]]:
    """Yield positional indices per fold.

    Expanding window: a fold trains on every row before its validation block (no look-ahead);
    otherwise a fold trains on every row that is not in its validation block.
    """
    fold = np.asarray(fold)
    positions = np.arange(len(fold))
    for i in range(int(fold.max()) + 1):
        val = positions[fold == i]
        train = positions[: val.min()] if cv_strategy == "expanding_window" else positions[fold != i]
        yield train, val
