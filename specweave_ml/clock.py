"""When this run started, so that ``budget_minutes`` bounds the whole run (fetch to report), not only tuning.

``python -m specweave_ml`` marks the process's start before it imports anything heavy; the first run of the
process (the first Hydra job) counts from there, so interpreter start-up, imports and config composition are
inside the budget. Later jobs of a multirun, and runs started from Python (tests), count from when they start.
"""

from __future__ import annotations

import time
from typing import Optional

_marked: Optional[float] = None


def mark_process_start() -> None:
    global _marked
    _marked = time.perf_counter()


def run_started() -> float:
    """The ``time.perf_counter()`` this run started at: the marked process start, once, else now."""
    global _marked
    started, _marked = _marked, None
    return started if started is not None else time.perf_counter()
