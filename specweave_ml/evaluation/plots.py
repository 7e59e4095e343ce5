"""Holdout plots as PNG, drawn by scikit-learn's displays from the saved predictions."""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from specweave_ml.evaluation.holdout import encoded


def curve_points(preds: pd.DataFrame, task: str, classes, out_dir: Path, max_points: int = 400) -> list[Path]:
    """ROC and precision-recall points as CSV (binary only), for ``dvc plots`` and anyone's own charts."""
    import numpy as np
    from sklearn.metrics import precision_recall_curve, roc_curve

    if task != "binary_classification":
        return []
    out_dir.mkdir(parents=True, exist_ok=True)
    y_true, _, scores = encoded(preds, task, classes)
    fpr, tpr, _ = roc_curve(y_true, scores)
    precision, recall, _ = precision_recall_curve(y_true, scores)
    written = []
    for name, frame in (("roc", pd.DataFrame({"fpr": fpr, "tpr": tpr})),
                        ("precision_recall", pd.DataFrame({"recall": recall, "precision": precision}))):
        keep = np.unique(np.linspace(0, len(frame) - 1, min(max_points, len(frame))).round().astype(int))
        path = out_dir / f"{name}.csv"
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
