"""The packaged model: MLflow model format under ``models/champion/``, guarded by a content hash.

The hash covers every file of the model directory and is recorded in ``metadata.json``; loading
refuses a model whose files no longer match it.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import pandas as pd

from specweave_ml.errors import SpecweaveError
from specweave_ml.fileio import directory_hash



class ModelIntegrityError(SpecweaveError):
    """The packaged model is missing or its files changed since packaging."""


def quiet_pickle_warning() -> None:
    """MLflow warns on every cloudpickle save; our guard is the content hash checked before every load."""
    import logging

    logging.getLogger("mlflow.sklearn").setLevel(logging.ERROR)


def save_model(model, path: Path, example: pd.DataFrame, requirements: list[str]) -> str:
    """Save ``model`` in MLflow format at ``path`` (replacing what was there); return its hash.

    cloudpickle, not skops: the pipeline holds XGBoost/LightGBM boosters and our DecisionModel, which
    skops would need a long list of trusted types for. Integrity comes from the recorded hash instead.
    """
    import mlflow.sklearn

    quiet_pickle_warning()
    from mlflow.models import infer_signature

    example = example.head(5)
    signature = infer_signature(example, model.predict(example))
    tmp = path.with_name(f".{path.name}.tmp")
    shutil.rmtree(tmp, ignore_errors=True)
    mlflow.sklearn.save_model(
        model, str(tmp), serialization_format="cloudpickle", signature=signature,
        input_example=example, pip_requirements=requirements,
    )
    _deterministic(tmp)
    if path.exists():
        shutil.rmtree(path)
    tmp.rename(path)
    return directory_hash(path)


def _deterministic(model_dir: Path) -> None:
    """The same fitted model gives the same bytes: MLflow's MLmodel carries a random ``model_uuid`` and the
    save time; the id becomes a hash of the model's other files and the time goes (the increment's metadata
    records when it was trained). The pickles themselves are already byte-identical for the same seed."""
    import hashlib
    import re

    mlmodel = model_dir / "MLmodel"
    digest = hashlib.sha256()
    for file in sorted(p for p in model_dir.rglob("*") if p.is_file() and p != mlmodel):
        digest.update(str(file.relative_to(model_dir)).encode() + file.read_bytes())
    text = re.sub(r"^utc_time_created: .*\n", "", mlmodel.read_text(), flags=re.MULTILINE)
    text = re.sub(r"^model_uuid: .*$", f"model_uuid: {digest.hexdigest()[:32]}", text, flags=re.MULTILINE)
    mlmodel.write_text(text)


def load_model(path: Path, expected_hash: str | None):
    """Load a packaged model after checking its hash against the one recorded at packaging."""
    import mlflow.sklearn

    if not path.exists() or expected_hash is None:
        raise ModelIntegrityError(str(path), "no packaged model here", "run stage=train (or dvc repro) first")
    actual = directory_hash(path)
    if actual != expected_hash:
        raise ModelIntegrityError(
            str(path), f"the model's files changed since packaging (hash {actual[:12]}, recorded {expected_hash[:12]})",
            "rerun stage=train to rebuild it, or restore the recorded version with dvc checkout",
        )
    return mlflow.sklearn.load_model(str(path))


def signature_columns(path: Path) -> dict[str, str]:
    """Input column -> MLflow type, from the packaged model's signature."""
    from mlflow.models import Model

    schema = Model.load(str(path)).signature.inputs
    return {col.name: col.type.name for col in schema.inputs}
