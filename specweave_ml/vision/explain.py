"""What the CNN looks at: SHAP GradientExplainer (expected gradients) attributions over sample holdout digits.

The explainer integrates the network's gradients from a seeded background of training images to each explained
image; each pixel's value says how much it pushed the predicted class's score up (red) or down (blue). The figure
draws them over the digits themselves; a second one maps the mean |SHAP| per pixel over every explained image.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from specweave_ml.vision.images import Shape, to_array

OVERLAY = "gradient_shap_over_holdout_digits.png"
MEAN_MAP = "mean_abs_shap_per_pixel.png"


def sample_rows(y_true: np.ndarray, y_pred: np.ndarray, n: int, seed: int) -> np.ndarray:
    """Up to ``n`` holdout positions, seeded: up to a third of them misread digits (where they exist), the rest read right."""
    rng = np.random.default_rng(seed)
    wrong, right = np.flatnonzero(y_true != y_pred), np.flatnonzero(y_true == y_pred)
    k_wrong = min(len(wrong), n // 3)
    picked = [*rng.choice(wrong, size=k_wrong, replace=False), *rng.choice(right, size=min(len(right), n - k_wrong), replace=False)]
    return np.sort(np.asarray(picked, dtype=int))


def gradient_shap(cnn, background: np.ndarray, rows: np.ndarray, seed: int,
                  positions: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
    """SHAP values (n, height, width, channels) of each row's class at ``positions`` (the model's decided classes;
    the network's argmax when None), and those class positions."""
    import shap
    import torch

    shape: Shape = cnn.shape_
    net = cnn.net_.eval()
    torch.manual_seed(seed)
    bg = torch.from_numpy(to_array(background, shape))
    x = torch.from_numpy(to_array(rows, shape))
    if positions is None:
        with torch.no_grad():
            positions = net(x).argmax(1).numpy()
    predicted = np.asarray(positions, dtype=int)
    explainer = shap.GradientExplainer(net, bg, batch_size=50)
    values = explainer.shap_values(x, nsamples=200, rseed=seed)
    values = np.asarray(values)
    if values.ndim == 5 and values.shape[-1] == len(cnn.classes_):  # (n, channels, h, w, classes)
        values = values[np.arange(len(rows)), ..., predicted]
    elif values.ndim == 5:  # (classes, n, channels, h, w): older SHAP
        values = values[predicted, np.arange(len(rows))]
    return values.transpose(0, 2, 3, 1), predicted


def explain_cnn(cnn, train_pixels: np.ndarray, test_pixels: np.ndarray, y_true: np.ndarray, y_pred: np.ndarray,
                names: list[str], settings, seed: int, out_dir: Path, n_images: int = 6, classes=None) -> dict:
    """``y_pred`` are the model's decided labels (a tuned threshold included) and ``classes`` its class order (the
    CNN's output positions): the misread rows, the labels shown and the class explained all follow them."""
    out_dir.mkdir(parents=True, exist_ok=True)
    for old in out_dir.glob("*.png"):
        old.unlink()
    rng = np.random.default_rng(seed)
    size = min(int(settings.background_rows), len(train_pixels), 100)
    background = train_pixels[np.sort(rng.choice(len(train_pixels), size=size, replace=False))]
    shown = sample_rows(y_true, y_pred, n_images, seed)
    # the mean map: more images than the overlay, still a few seconds on 2 cores
    extra = np.setdiff1d(np.arange(len(test_pixels)), shown)
    more = np.sort(rng.choice(extra, size=min(len(extra), max(0, min(int(settings.explain_rows), 60) - len(shown))), replace=False))
    rows = np.concatenate([shown, more])
    classes = np.asarray(cnn.classes_ if classes is None else classes)
    position = {c: i for i, c in enumerate(classes.tolist())}
    decided = np.asarray([position[c] for c in np.asarray(y_pred)[rows].tolist()], dtype=int)
    values, predicted = gradient_shap(cnn, background, test_pixels[rows], seed, decided)
    shape: Shape = cnn.shape_
    importance = np.abs(values).mean(axis=(0, 3)).reshape(-1)  # per pixel position (channels averaged)
    per_column = np.abs(values).mean(axis=0).reshape(-1)
    order = np.argsort(-per_column)
    top = [{"feature": names[i], "mean_abs_shap": float(per_column[i])} for i in order[:max(int(settings.top_features), 10)]]
    _overlay(test_pixels[shown], values[:len(shown)], y_true[shown], classes[predicted[:len(shown)]], shape, out_dir / OVERLAY)
    _mean_map(importance.reshape(shape.height, shape.width), out_dir / MEAN_MAP, len(rows))
    examples = [{"title": f"holdout image {int(r)}: true {t}, read as {p}",
                 "lines": [f"attribution to '{p}': {float(v[v > 0].sum()):.3f} for, {float(v[v < 0].sum()):.3f} against "
                           f"(sum of the positive and negative SHAP values over its {shape.pixels} pixels)"]}
                for r, t, p, v in zip(shown, y_true[shown], classes[predicted[:len(shown)]], values[:len(shown)])]
    return {"explainer": "gradient", "rows_explained": int(len(rows)), "top_features": top,
            "files": {"overlay": OVERLAY, "mean_map": MEAN_MAP}, "background_rows": int(size),
            "method": "shap.GradientExplainer (expected gradients) on the CNN's predicted class", "examples": examples,
            "shown_rows": [int(r) for r in shown]}


def _overlay(pixels, values, y_true, y_pred, shape: Shape, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    n = len(pixels)
    fig, axes = plt.subplots(2, n, figsize=(1.7 * n + 0.4, 3.9), squeeze=False)
    for i in range(n):
        image = np.asarray(pixels[i], float).reshape(shape.height, shape.width, shape.channels) / shape.max_value
        shown = image[:, :, 0] if shape.channels == 1 else image
        v = values[i].sum(axis=-1)
        limit = float(np.abs(v).max()) or 1.0
        axes[0, i].imshow(shown, cmap="gray_r" if shape.channels == 1 else None)
        axes[0, i].set_title(f"true {y_true[i]}\nread {y_pred[i]}", fontsize=9, color="black" if y_true[i] == y_pred[i] else "red")
        axes[1, i].imshow(shown if shape.channels == 3 else shown, cmap="gray_r", alpha=0.35)
        axes[1, i].imshow(v, cmap="bwr", vmin=-limit, vmax=limit, alpha=0.75)
        for ax in axes[:, i]:
            ax.set_xticks([])
            ax.set_yticks([])
    axes[1, 0].set_ylabel("SHAP", fontsize=9)
    fig.suptitle("GradientExplainer: pixels for (red) and against (blue) the class read", fontsize=10)
    fig.tight_layout()
    fig.savefig(path, dpi=80)
    plt.close(fig)


def _mean_map(importance: np.ndarray, path: Path, n: int) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(3.4, 3.2))
    shown = ax.imshow(importance, cmap="viridis")
    ax.set_xticks([])
    ax.set_yticks([])
    ax.set_title(f"mean |SHAP| per pixel ({n} holdout images)", fontsize=9)
    fig.colorbar(shown, ax=ax, fraction=0.046)
    fig.tight_layout()
    fig.savefig(path, dpi=80)
    plt.close(fig)
