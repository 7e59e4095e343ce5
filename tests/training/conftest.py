"""Fixtures for the training tests: generated briefs (a CSV plus overrides) and stages run in-process."""

import os

os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")


import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
import pytest  # noqa: E402

from _compose import compose_at  # noqa: E402
from specweave_ml.stages import run_stage  # noqa: E402




def _csv_brief(path, frame, target, increment, task="binary_classification", *extra):
    frame.to_csv(path, index=False)
    return [
        "problem=breast_cancer",  # a tabular template; every field that matters is overridden
        f"problem.increment={increment}",
        f"problem.title={increment}",
        f"problem.task={task}",
        f"problem.data.source={path}",
        f"problem.data.target={target}",
        "problem.metrics.primary=null",
        "problem.metrics.others=[]",
        *extra,
    ]


@pytest.fixture
def csv_brief():
    """``csv_brief(path, frame, target, increment, task, *extra)``: write the CSV, return a brief's overrides."""
    return _csv_brief


@pytest.fixture
def config(tmp_path):
    """``config(overrides)``: the composed config writing under ``tmp_path`` (the one ``stages`` uses)."""
    return lambda overrides: compose_at(tmp_path, overrides)


@pytest.fixture
def stages(tmp_path):
    """``stages(overrides, "prepare", "train")``: run those stages in this process; the increment's folder."""

    def _run(overrides, *names):
        for name in names:
            cfg = compose_at(tmp_path, [*overrides, f"stage={name}"])
            run_stage(cfg)
        return tmp_path / "increments" / cfg.problem.increment

    return _run


@pytest.fixture
def imbalanced_frame():
    """2,000 rows, 4% positives labelled "yes" (the rest "no"), two informative features and one of noise."""
    rng = np.random.default_rng(21)
    n = 2000
    positive = rng.random(n) < 0.04
    return pd.DataFrame({
        "a": rng.normal(size=n) + 1.5 * positive,
        "b": rng.normal(size=n) + 1.0 * positive,
        "noise": rng.normal(size=n),
        "label": np.where(positive, "yes", "no"),
    })


@pytest.fixture
def timed_frame():
    """Rows in shuffled time order; the latest quarter carries huge values and the earlier rows some gaps in ``x``."""
    n = 400
    rng = np.random.default_rng(3)
    t = rng.permutation(n)  # time of each row, not sorted in the file
    x = rng.normal(10.0, 2.0, size=n)
    late = t >= int(n * 0.75)
    x[late] = rng.normal(1e6, 1e3, size=late.sum())  # the rows that become the holdout
    x[(~late) & (rng.random(n) < 0.1)] = np.nan
    z = rng.normal(size=n)
    y = ((z + rng.normal(scale=0.5, size=n)) > 0).astype(int)
    return pd.DataFrame({"t": t, "x": x, "z": z, "y": y})
