"""SHAP explanations of text classifiers.

* the n-grams that drive a TF-IDF + logistic-regression model: exact linear SHAP values
  (``shap.LinearExplainer`` over the sparse TF-IDF matrix, an independent masker on training rows), averaged per
  class over holdout texts: a table and a bar chart per class;
* token-level explanations of any text model's predictions for a few holdout texts: SHAP's Partition explainer
  with a text masker (the encoder's own word-piece tokenizer, or words), ``max_evals`` bounded so each text takes
  seconds: a bar chart per text and its tokens with their SHAP values (towards the predicted class).
"""

from __future__ import annotations

import csv
from pathlib import Path

import numpy as np


def _plt():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def _per_class(values, n_classes: int) -> np.ndarray:
    """SHAP values as (classes, rows, features); a binary model's single output is the last class's (log-odds)."""
    v = np.asarray(values.toarray() if hasattr(values, "toarray") else values, dtype=float)
    if v.ndim == 2:
        return np.stack([-v, v]) if n_classes == 2 else v[None]
    return np.moveaxis(v, -1, 0)


def ngram_shap(bow, background_texts: list[str], texts: list[str], top: int, out_dir: Path) -> dict:
    """Linear SHAP of a fitted ``BagOfWords`` on ``texts``: the n-grams pushing towards each class."""
    import shap

    background, matrix = bow.transform(background_texts), bow.transform(texts)
    explainer = shap.LinearExplainer(bow.linear_, shap.maskers.Independent(background, max_samples=len(background_texts)))
    values = _per_class(explainer.shap_values(matrix), len(bow.classes_))
    names = bow.vocabulary
    mean_abs = np.abs(values).mean(axis=(0, 1)) if values.shape[0] > 1 else np.abs(values[0]).mean(0)
    order = np.argsort(-mean_abs, kind="stable")[:top]
    classes, drivers, plt = [str(c) for c in bow.classes_], {}, _plt()
    fig, axes = plt.subplots(1, len(classes), figsize=(3.6 * len(classes), 4.2))
    for k, (cls, ax) in enumerate(zip(classes, np.atleast_1d(axes))):
        mean = values[k].mean(0)
        best = np.argsort(-mean, kind="stable")[:12]
        drivers[cls] = [{"ngram": str(names[j]), "mean_shap": float(mean[j])} for j in best]
        ax.barh([str(names[j]) for j in best][::-1], mean[best][::-1], color="tab:blue")
        ax.set_title(f"towards '{cls}'", fontsize=9)
        ax.tick_params(labelsize=7)
        ax.set_xlabel("mean SHAP (log-odds)", fontsize=7)
    fig.suptitle(f"n-grams that drive the TF-IDF model ({len(texts)} holdout texts)", fontsize=9)
    fig.tight_layout()
    fig.savefig(out_dir / "ngrams.png", dpi=80)
    plt.close(fig)
    table = [{"feature": str(names[j]), "mean_abs_shap": float(mean_abs[j])} for j in order]
    with open(out_dir / "ngrams.csv", "w", newline="") as f:  # csv quotes class names and n-grams with , or "
        writer = csv.writer(f)
        writer.writerow(["class", "ngram", "mean_shap"])
        writer.writerows([cls, r["ngram"], f"{r['mean_shap']:.6g}"] for cls, rows in drivers.items() for r in rows)
    return {"top_features": table, "drivers": drivers, "files": ["ngrams.png", "ngrams.csv"]}


def token_shap(predict_proba, classes, texts: list[str], tokenizer, max_evals: int, seed: int, out_dir: Path,
               predicted=None) -> list[dict]:
    """Token-level SHAP (Partition explainer, text masker) of ``predict_proba`` on a few texts, towards the class the
    model decides for each (``predicted``: its labels, a two-class model's with its tuned threshold; else argmax)."""
    import shap

    masker = shap.maskers.Text(tokenizer) if tokenizer is not None else shap.maskers.Text(r"\W+")
    explainer = shap.Explainer(lambda batch: predict_proba(list(batch)), masker, output_names=[str(c) for c in classes],
                               seed=seed)
    explained = explainer(texts, max_evals=max_evals, batch_size=50, silent=True)
    plt, out = _plt(), []
    for i, text in enumerate(texts):
        proba = predict_proba([text])[0]
        k = int(np.argmax(proba)) if predicted is None else [str(c) for c in classes].index(str(predicted[i]))
        tokens = [str(t) for t in explained[i].data]
        values = np.asarray(explained[i].values)[:, k]
        keep = [j for j in np.argsort(-np.abs(values), kind="stable") if tokens[j].strip()][:12]
        name = f"tokens_{i + 1}.png"
        fig, ax = plt.subplots(figsize=(6, 3.4))
        ax.barh([tokens[j].strip() for j in keep][::-1], values[keep][::-1],
                color=["tab:red" if values[j] > 0 else "tab:blue" for j in keep][::-1])
        ax.set_xlabel(f"SHAP value towards '{classes[k]}' (probability)", fontsize=8)
        ax.set_title((text[:70] + "...") if len(text) > 70 else text, fontsize=8)
        ax.tick_params(labelsize=7)
        fig.tight_layout()
        fig.savefig(out_dir / name, dpi=80)
        plt.close(fig)
        out.append({"text": text, "predicted": str(classes[k]), "probability": float(proba[k]), "file": name,
                    "tokens": [{"token": tokens[j].strip(), "shap": float(values[j])} for j in keep]})
    return out
