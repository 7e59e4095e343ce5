"""``benchmarks/scale_data.py``: generated rows keep the real columns, the fraud rate, increasing time and each
class's marginals (checked on a small stand-in for the real data, so the test needs no download)."""

import sys
from pathlib import Path

import numpy as np
import pandas as pd

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "benchmarks"))
import scale_data  # noqa: E402


def real_like(n=4000, seed=0):
    rng = np.random.default_rng(seed)
    y = (rng.random(n) < 0.05).astype("int64")
    v1 = rng.normal(size=n) - 4 * y
    return pd.DataFrame({"Time": np.sort(rng.uniform(0, 1000, n)), "V1": v1, "V2": v1 + rng.normal(size=n),
                         "Amount": rng.exponential(50, n).round(2), "Class": y})


def test_chunks_keep_columns_rate_increasing_time_and_per_class_marginals():
    real = real_like()
    model = scale_data.fit(real)
    rng = np.random.default_rng(1)
    parts = [scale_data.chunk(model, 20000, k / 3, (k + 1) / 3, rng) for k in range(3)]
    out = pd.concat(parts, ignore_index=True)
    assert list(out.columns) == list(real.columns) and out["Class"].dtype == np.int64
    assert out["Time"].is_monotonic_increasing and out["Time"].between(real["Time"].min(), real["Time"].max()).all()
    assert abs(out["Class"].mean() - real["Class"].mean()) < 0.01
    for label in (0, 1):  # each class's marginal is the real one: medians agree, values stay within the real range
        fake, true = out.loc[out["Class"] == label, "V1"], real.loc[real["Class"] == label, "V1"]
        assert abs(fake.median() - true.median()) < 0.2 and fake.between(true.min(), true.max()).all()
    fraud = out[out["Class"] == 1]  # the dependence within a class survives (the copula)
    assert np.corrcoef(fraud["V1"], fraud["V2"])[0, 1] > 0.5
