"""Holdout plots as PNG, drawn by scikit-learn's displays from the saved predictions."""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from specweave_ml.evaluation.holdout import encoded


# What curve_points writes for each task, and how `dvc plots` draws it (the family declares these in the
# increment's dvc.yaml): the file under reports/curves/ and DVC's plot properties.
CURVES: dict[str, dict[str, dict]] = {
    "binary_classification": {
        "roc.csv": {"x": "fpr", "y": "tpr", "title": "ROC (holdout)"},
        "precision_recall.csv": {"x": "recall", "y": "precision", "title": "Precision-recall (holdout)"},
    },
    "multiclass_classification": {
        "confusion.csv": {"template": "confusion", "x": "actual", "y": "predicted", "title": "Confusion (holdout)"},
    },
    "regression": {
        "prediction_error.csv": {"template": "scatter", "x": "actual", "y": "predicted",
                                 "title": "Predicted against actual (holdout)"},
    },
}


def curve_points(preds: pd.DataFrame, task: str, classes, out_dir: Path, max_points: int = 400,
                 max_rows: int = 5000) -> list[Path]:
    """The holdout's curves as small CSV files (CURVES), for ``dvc plots`` and anyone's own charts: ROC and
    precision-recall points (at most ``max_points`` each), or one row per holdout row (the confusion matrix,
    predicted against actual: at most ``max_rows``, evenly spaced through the rows sorted by the actual
    value, so a sample keeps the whole range)."""
    import numpy as np
    from sklearn.metrics import precision_recall_curve, roc_curve

    if task not in CURVES:
        return []
    out_dir.mkdir(parents=True, exist_ok=True)
    y_true, y_pred, scores = encoded(preds, task, classes)
    if task == "binary_classification":
        fpr, tpr, _ = roc_curve(y_true, scores)
        precision, recall, _ = precision_recall_curve(y_true, scores)
        frames = {"roc.csv": pd.DataFrame({"fpr": fpr, "tpr": tpr}),
                  "precision_recall.csv": pd.DataFrame({"recall": recall, "precision": precision})}
        limit = max_points
    elif task == "multiclass_classification":
        names = np.asarray([str(c) for c in classes], dtype=object)
        frames = {"confusion.csv": pd.DataFrame({"actual": names[y_true], "predicted": names[y_pred]})}
        limit = max_rows
    else:
        frames = {"prediction_error.csv": pd.DataFrame({"actual": y_true, "predicted": y_pred})
                  .sort_values("actual", kind="stable").reset_index(drop=True)}
        limit = max_rows
    written = []
    for name, frame in frames.items():
        keep = np.unique(np.linspace(0, len(frame) - 1, min(limit, len(frame))).round().astype(int))
        path = out_dir / name
        frame.iloc[keep].round(6).to_csv(path, index=False)
        written.append(path)
    return written


def draw(preds: pd.DataFrame, task: str, classes, out_dir: Path) -> list[Path]:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from sklearn.calibration import CalibrationDisplay
    from sklearn.metrics import ConfusionMatrixDisplay, PrecisionRecallDisplay, PredictionErrorDisplay, RocCurveDisplay

    out_dir.mkdir(parents=True, exist_ok=True)
    y_true, y_pred, scores = encoded(preds, task, classes)
    written = []

    def save(name: str, fig) -> None:
        path = out_dir / f"{name}.png"
        fig.tight_layout()
        fig.savefig(path, dpi=90)
        plt.close(fig)
        written.append(path)

    if task == "binary_classification":
        for name, display in (("roc", RocCurveDisplay), ("precision_recall", PrecisionRecallDisplay)):
            fig, ax = plt.subplots(figsize=(5, 4))
            display.from_predictions(y_true, scores, ax=ax, name="holdout", plot_chance_level=True)
            ax.set_title(f"{name.replace('_', '-')} curve (holdout)")
            save(name, fig)
        fig, ax = plt.subplots(figsize=(5, 4))
        CalibrationDisplay.from_predictions(y_true, scores, n_bins=10, strategy="quantile", ax=ax, name="holdout")
        ax.set_title("calibration (holdout, quantile bins)")
        save("calibration", fig)
    if task in ("binary_classification", "multiclass_classification"):
        fig, ax = plt.subplots(figsize=(5, 4))
        ConfusionMatrixDisplay.from_predictions(y_true, y_pred, display_labels=[str(c) for c in classes], ax=ax, colorbar=False)
        ax.set_title("confusion matrix (holdout, tuned threshold)" if task == "binary_classification" else "confusion matrix (holdout)")
        save("confusion_matrix", fig)
    else:
        for name, kind in (("residuals", "residual_vs_predicted"), ("predicted_vs_actual", "actual_vs_predicted")):
            fig, ax = plt.subplots(figsize=(5, 4))
            PredictionErrorDisplay.from_predictions(y_true, y_pred, kind=kind, ax=ax, subsample=2000, random_state=0)
            ax.set_title(name.replace("_", " ") + " (holdout)")
            save(name, fig)
    return written
