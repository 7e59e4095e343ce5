"""Fixtures for the evaluation tests: shipped briefs prepared, trained and evaluated once per module."""

import os

os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")


import pytest  # noqa: E402

from _compose import compose_at  # noqa: E402
from specweave_ml.stages import run_stage  # noqa: E402




@pytest.fixture(scope="module")
def evaluated(tmp_path_factory):
    """``evaluated("wine")``: the brief's increment folder after prepare, train and evaluate (cached per module).

    One fast candidate (``model=linear``) and no tracking: these tests are about the holdout numbers.
    """
    done = {}

    def _evaluated(brief):
        if brief not in done:
            root = tmp_path_factory.mktemp(brief)
            for stage in ("prepare", "train", "evaluate"):
                cfg = compose_at(root, [f"problem={brief}", "model=linear", "tracking=off", f"stage={stage}"])
                run_stage(cfg)
            done[brief] = root / "increments" / cfg.problem.increment
        return done[brief]

    return _evaluated
