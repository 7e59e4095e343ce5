"""Write an explanation: global importance (CSV, bar), beeswarm, top dependence plots, local waterfalls."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from specweave_ml.explain.shap_values import Explained


def write(exp: Explained, out_dir: Path, local_rows: dict[str, int], top_features: int) -> dict:
    """Files under ``out_dir``; ``local_rows`` maps a label (e.g. 'top-1') to a row of ``exp``."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import shap

    out_dir.mkdir(parents=True, exist_ok=True)
    for old in out_dir.glob("*.png"):
        old.unlink()
    importance = exp.importance()
    importance.rename("mean_abs_shap").rename_axis("feature").to_csv(out_dir / "importance.csv")
    values, base = exp.for_class()
    full = shap.Explanation(values=values, base_values=base, data=exp.data, feature_names=exp.features)
    files = {"importance_csv": "importance.csv"}

    def save(name: str) -> str:
        fig = plt.gcf()
        fig.set_size_inches(7, 4.5)
        fig.tight_layout()
        fig.savefig(out_dir / name, dpi=80)
        plt.close("all")
        return name

    top = list(importance.index[: min(15, len(importance))])
    plt.figure()
    plt.barh(top[::-1], importance[top][::-1].to_numpy())
    plt.xlabel("mean |SHAP value|")
    plt.title("global feature importance")
    files["importance_png"] = save("importance.png")
    shap.plots.beeswarm(full, max_display=15, show=False)
    files["beeswarm"] = save("beeswarm.png")
    files["dependence"] = []
    for feat in importance.index[:top_features]:
        shap.plots.scatter(full[:, exp.features.index(feat)], show=False)
        files["dependence"].append(save(f"dependence_{_safe(feat)}.png"))
    files["local"] = {}
    for label, row in local_rows.items():
        shap.plots.waterfall(full[row], max_display=12, show=False)
        files["local"][label] = save(f"waterfall_{label}.png")
    return {"explainer": exp.explainer, "rows_explained": int(len(exp.data)), "files": files,
            "top_features": [{"feature": f, "mean_abs_shap": float(v)} for f, v in importance.head(10).items()]}


def _safe(name: str) -> str:
    return "".join(ch if ch.isalnum() or ch in "-_" else "_" for ch in str(name))[:60]


def choose_rows(scores: np.ndarray, n_top: int, n_random: int, seed: int) -> dict[str, int]:
    """The highest-scored rows and a few random others (positions in the explained sample)."""
    s = np.asarray(scores)
    s = s.max(axis=1) if s.ndim == 2 else s
    order = np.argsort(-s, kind="stable")
    rows = {f"top-{i + 1}": int(r) for i, r in enumerate(order[:n_top])}
    rest = np.setdiff1d(np.arange(len(s)), order[:n_top])
    rng = np.random.default_rng(seed)
    for i, r in enumerate(rng.choice(rest, size=min(n_random, len(rest)), replace=False)):
        rows[f"random-{i + 1}"] = int(r)
    return rows


def sample_for_explanation(test: pd.DataFrame, scores: np.ndarray, n: int, seed: int) -> np.ndarray:
    """Positions of up to ``n`` test rows: the top-scored ones always included, the rest at random."""
    s = np.asarray(scores)
    s = s.max(axis=1) if s.ndim == 2 else s
    if len(test) <= n:
        return np.arange(len(test))
    top = np.argsort(-s, kind="stable")[: max(1, n // 20)]
    rng = np.random.default_rng(seed)
    rest = rng.choice(np.setdiff1d(np.arange(len(test)), top), size=n - len(top), replace=False)
    return np.sort(np.concatenate([top, rest]))
