"""What drives a forecast: SHAP values of the lag model's features (which lags, rolling means, calendar and
exogenous columns), or the fitted components of a statistical model (level, trend, season and its parameters)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd


def explain_forecaster(forecaster, history: pd.DataFrame, settings, out_dir: Path) -> dict:
    out_dir.mkdir(parents=True, exist_ok=True)
    if hasattr(forecaster, "design"):
        return _shap(forecaster, settings, out_dir)
    if hasattr(forecaster, "lag_importance"):
        return _occlusion(forecaster, out_dir)
    return _components(forecaster, history, out_dir)


def _occlusion(forecaster, out_dir: Path) -> dict:
    """A neural forecaster: the importance of each position of its input window by occlusion."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    importance = forecaster.lag_importance()
    top = [{"feature": k, "magnitude": v} for k, v in sorted(importance.items(), key=lambda kv: -kv[1])]
    fig, ax = plt.subplots(figsize=(6, 3.2))
    lags = sorted(importance, key=lambda k: int(k.split("_")[1]))
    ax.bar([int(k.split("_")[1]) for k in lags], [importance[k] for k in lags], color="tab:purple")
    ax.set_xlabel("lag (steps before the forecast)")
    ax.set_ylabel("mean |change| of the next step")
    ax.set_title("What drives the LSTM: occlusion of each lag")
    fig.tight_layout()
    fig.savefig(out_dir / "lag_occlusion.png", dpi=80)
    plt.close(fig)
    return {"explainer": "occlusion", "rows_explained": int(max(min(200, len(forecaster.y_) - forecaster.window_ - 1), 0)),
            "top_features": top[:10], "files": {"occlusion": "lag_occlusion.png"}, "components": forecaster.components()}


def _shap(forecaster, settings, out_dir: Path) -> dict:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import shap

    design, booster = forecaster.design()
    rows = design.tail(settings.explain_rows)
    values = np.asarray(shap.TreeExplainer(booster).shap_values(rows))
    importance = np.abs(values).mean(axis=0)
    order = np.argsort(-importance)
    top = [{"feature": design.columns[i], "mean_abs_shap": float(importance[i])} for i in order]
    fig, ax = plt.subplots(figsize=(6, 0.3 * min(len(order), 15) + 1.2))
    shown = order[:15][::-1]
    ax.barh([design.columns[i] for i in shown], importance[shown], color="tab:blue")
    ax.set_xlabel(f"mean |SHAP| (on the {forecaster.transform_} target)")
    ax.set_title("What drives the lag model's one-step forecasts")
    fig.tight_layout()
    fig.savefig(out_dir / "shap_importance.png", dpi=80)
    plt.close(fig)
    return {"explainer": "tree", "rows_explained": int(len(rows)), "top_features": top[:max(settings.top_features, 3)],
            "files": {"importance": "shap_importance.png"}, "all_features": top, "target_transform": forecaster.transform_}


def _components(forecaster, history: pd.DataFrame, out_dir: Path) -> dict:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    parts = forecaster.components()
    series = parts.pop("series", {})
    times = pd.to_datetime(history["time"])
    top, files = [], {}
    if series:
        fig, axes = plt.subplots(len(series), 1, figsize=(7, 1.8 * len(series) + 0.6), sharex=True)
        for ax, (name, values) in zip(np.atleast_1d(axes), series.items()):
            ax.plot(times[-len(values):], values, lw=1)
            ax.set_ylabel(name)
        np.atleast_1d(axes)[0].set_title(f"Fitted components: {forecaster.describe()}")
        fig.tight_layout()
        fig.savefig(out_dir / "components.png", dpi=80)
        plt.close(fig)
        files["components"] = "components.png"
        spread = {name: float(np.nanstd(values)) for name, values in series.items()}
        top = [{"feature": name, "magnitude": s} for name, s in sorted(spread.items(), key=lambda kv: -kv[1])]
    else:  # SARIMAX: its coefficients, largest first
        params = parts.get("params", {})
        top = [{"feature": k, "magnitude": v} for k, v in sorted(params.items(), key=lambda kv: -abs(kv[1]))]
    return {"explainer": "components", "rows_explained": int(len(history)), "top_features": top,
            "files": files, "components": parts}
