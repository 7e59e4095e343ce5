"""A small convolutional network in plain ``torch.nn``, as a scikit-learn classifier.

Two conv blocks (conv 3x3, batch norm, ReLU, max-pool 2x2) and a dense head with dropout, trained with Adam on
rows of pixels (``vision.images``: row-major, 0..max_value), with light augmentation (a random shift of up to
``shift`` of the image's side and a rotation of up to ``rotate`` degrees per image and batch, done with ``affine_grid`` /
``grid_sample``: torchvision cannot be used with the CPU torch here), and early stopping on a seeded, stratified
validation slice of the rows it is given. Seeded throughout (``torch.manual_seed``, a seeded ``torch.Generator``
for shuffling and augmentation, deterministic algorithms), with the thread count from the machine: two fits with
the same seed give the same weights. Progress is logged per epoch.

It follows the scikit-learn contract (``fit`` / ``predict`` / ``predict_proba``, ``classes_``, get/set_params,
``clone``): ``tests/vision/test_cnn.py`` runs ``parametrize_with_checks`` on it.
"""

from __future__ import annotations

import logging
import time
from typing import Optional

import numpy as np
from sklearn.base import BaseEstimator, ClassifierMixin
from sklearn.utils.multiclass import check_classification_targets
from sklearn.utils.validation import _check_sample_weight, check_is_fitted, validate_data

from specweave_ml.torchkit import ArrayWeights, EarlyStopping, torch_threads, usable_cpus
from specweave_ml.vision.images import Shape, to_array

log = logging.getLogger(__name__)


class CNNClassifier(ArrayWeights, ClassifierMixin, BaseEstimator):
    """A small CNN on rows of pixels.

    Parameters
    ----------
    height, width : int or None
        The image size; None: a square from the number of columns / channels (one row of pixels if none fits).
    channels : int
    max_value : float
        The brightest pixel value (inputs are divided by it).
    filters : int
        Channels of the first conv block (the second has twice as many).
    dense : int
        Units of the dense layer.
    dropout : float
    learning_rate : float
    batch_size : int
    max_epochs : int
    patience : int
        Epochs without a better validation loss before stopping (the best epoch's weights are kept).
    validation_fraction : float
        Share of the rows held out (stratified, seeded) for early stopping; 0 trains on all for ``max_epochs``.
    shift : float
        Largest random shift of the augmentation, as a share of the image's side (0.07: 2 pixels of 28; 0: none).
    rotate : float
        Largest random rotation, in degrees (0: none).
    threads : int or None
        Torch threads while fitting and predicting; None: the machine's cores.
    random_state : int
    verbose : bool
        Log one line per epoch.
    """

    def __init__(self, height: Optional[int] = None, width: Optional[int] = None, channels: int = 1,
                 max_value: float = 255.0, filters: int = 16, dense: int = 64, dropout: float = 0.25,
                 learning_rate: float = 0.002, batch_size: int = 64, max_epochs: int = 30, patience: int = 5,
                 validation_fraction: float = 0.1, shift: float = 0.07, rotate: float = 10.0, threads: Optional[int] = None,
                 random_state: int = 0, verbose: bool = True):
        self.height, self.width, self.channels, self.max_value = height, width, channels, max_value
        self.filters, self.dense, self.dropout = filters, dense, dropout
        self.learning_rate, self.batch_size, self.max_epochs, self.patience = learning_rate, batch_size, max_epochs, patience
        self.validation_fraction, self.shift, self.rotate = validation_fraction, shift, rotate
        self.threads, self.random_state, self.verbose = threads, random_state, verbose

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.input_tags.allow_nan = False
        return tags

    def _empty_net(self):  # ArrayWeights: the network a saved model's weights are loaded into
        return _net(self.shape_, self.filters, self.dense, self.dropout, len(self.classes_))

    def _shape(self, n_features: int) -> Shape:
        channels = int(self.channels)
        h, w = self.height, self.width
        if h is None or w is None:  # a square when the features make one, else one row of pixels
            side = int(round((n_features / channels) ** 0.5))
            h, w = (side, side) if side * side * channels == n_features else (1, max(n_features // channels, 1))
        shape = Shape(int(h), int(w), channels, float(self.max_value))
        if shape.pixels != n_features:
            raise ValueError(f"CNNClassifier: {n_features} features do not make {h}x{w}x{channels} images")
        return shape

    def _threads(self) -> int:
        return max(1, int(self.threads or usable_cpus()))

    def fit(self, X, y, sample_weight=None):
        import torch
        from torch import nn

        X, y = validate_data(self, X, y, dtype=np.float64, ensure_min_samples=2)
        check_classification_targets(y)
        self.classes_, codes = np.unique(y, return_inverse=True)
        weights = _check_sample_weight(sample_weight, X, dtype=np.float64)
        self.shape_ = shape = self._shape(X.shape[1])
        images = to_array(X, shape)
        train_idx, val_idx = self._validation_split(codes)
        deterministic = torch.are_deterministic_algorithms_enabled()
        torch.use_deterministic_algorithms(True)
        stopper = EarlyStopping(self.patience)
        with torch_threads(self._threads()):
            try:
                torch.manual_seed(self.random_state)
                generator = torch.Generator().manual_seed(int(self.random_state))
                self.net_ = net = _net(shape, self.filters, self.dense, self.dropout, len(self.classes_))
                opt = torch.optim.Adam(net.parameters(), lr=self.learning_rate)
                loss_fn = nn.CrossEntropyLoss(reduction="none")
                tx, ty = torch.from_numpy(images[train_idx]), torch.from_numpy(codes[train_idx].astype(np.int64))
                tw = torch.from_numpy(weights[train_idx].astype(np.float32))
                vx, vy = torch.from_numpy(images[val_idx]), torch.from_numpy(codes[val_idx].astype(np.int64))
                self.epochs_, self.history_ = 0, []
                for epoch in range(int(self.max_epochs)):
                    start = time.perf_counter()
                    net.train()
                    order = torch.randperm(len(tx), generator=generator)
                    total = 0.0
                    for i in range(0, len(tx), int(self.batch_size)):
                        idx = order[i:i + int(self.batch_size)]
                        if len(idx) < 2 and len(tx) > 1:  # batch norm cannot train on one image
                            continue
                        batch = _augment(tx[idx], self.shift, self.rotate, generator)
                        opt.zero_grad()
                        loss = (loss_fn(net(batch), ty[idx]) * tw[idx]).sum() / tw[idx].sum()
                        loss.backward()
                        opt.step()
                        total += float(loss.detach()) * len(idx)
                    record = {"epoch": epoch + 1, "train_loss": total / max(len(tx), 1)}  # no time: the same seed, the same bytes
                    if len(vx):
                        net.eval()
                        with torch.no_grad():
                            logits = net(vx)
                            record.update(val_loss=float(nn.functional.cross_entropy(logits, vy)),
                                          val_accuracy=float((logits.argmax(1) == vy).float().mean()))
                    self.history_.append(record)
                    self.epochs_ = epoch + 1
                    if self.verbose:
                        log.info("cnn epoch %d/%d: train loss %.4f%s (%.1fs)", epoch + 1, self.max_epochs, record["train_loss"],
                                 f", validation loss {record['val_loss']:.4f} accuracy {record['val_accuracy']:.4f}"
                                 if "val_loss" in record else "", time.perf_counter() - start)
                    if "val_loss" in record and stopper.stop(record["val_loss"], net):
                        break
                stopper.restore(net)
                net.eval()
                self.best_epoch_ = int(np.argmin([r["val_loss"] for r in self.history_]) + 1) if len(vx) else self.epochs_
            finally:
                torch.use_deterministic_algorithms(deterministic)
        return self

    def _validation_split(self, codes: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Seeded, stratified indices of the rows trained on and of the early-stopping slice (empty when too few)."""
        n = len(codes)
        everything = np.arange(n)
        n_val = int(round(n * float(self.validation_fraction)))
        counts = np.bincount(codes)
        if n_val < len(counts) or n - n_val < len(counts) or counts.min() < 2:
            return everything, everything[:0]
        from sklearn.model_selection import train_test_split

        train, val = train_test_split(everything, test_size=n_val, stratify=codes, random_state=int(self.random_state))
        return np.sort(train), np.sort(val)

    def logits(self, images: np.ndarray):
        """Raw class scores of images already in (n, channels, height, width) [0, 1] form (a torch tensor out)."""
        import torch

        return self.net_(torch.as_tensor(images, dtype=torch.float32))

    def predict_proba(self, X) -> np.ndarray:
        import torch

        check_is_fitted(self, "net_")
        X = validate_data(self, X, dtype=np.float64, reset=False)
        images = to_array(X, self.shape_)
        with torch_threads(self._threads()):
            self.net_.eval()
            out = []
            with torch.no_grad():
                for i in range(0, len(images), 512):
                    out.append(torch.softmax(self.logits(images[i:i + 512]), dim=1).numpy().astype(np.float64))
        return np.vstack(out) if out else np.zeros((0, len(self.classes_)))

    def predict(self, X) -> np.ndarray:
        proba = self.predict_proba(X)
        return self.classes_[np.argmax(proba, axis=1)]


def _augment(batch, shift: int, rotate: float, generator):
    """Each image shifted by up to ``shift`` of its side and turned by up to ``rotate`` degrees (one affine warp, zeros
    filled in), the amounts drawn from ``generator``: seeded, so the same fit sees the same images."""
    import math

    import torch
    from torch.nn import functional as F

    if (not shift and not rotate) or len(batch) == 0:
        return batch
    n = len(batch)
    angle = (torch.rand(n, generator=generator) * 2 - 1) * math.radians(float(rotate))
    dx = (torch.rand(n, generator=generator) * 2 - 1) * (2.0 * float(shift))  # affine_grid's units: [-1, 1] spans the image
    dy = (torch.rand(n, generator=generator) * 2 - 1) * (2.0 * float(shift))
    cos, sin = torch.cos(angle), torch.sin(angle)
    theta = torch.stack([torch.stack([cos, -sin, dx], 1), torch.stack([sin, cos, dy], 1)], 1)
    grid = F.affine_grid(theta, list(batch.shape), align_corners=False)
    return F.grid_sample(batch, grid, mode="bilinear", padding_mode="zeros", align_corners=False)


def _net(shape: Shape, filters: int, dense: int, dropout: float, n_classes: int):
    """conv-bn-relu-pool twice, then dropout, a dense layer and the class scores. Pools that would leave no pixel are
    skipped, so 8x8 digits work as well as 28x28 ones."""
    from torch import nn

    layers, size_h, size_w, channels = [], shape.height, shape.width, shape.channels
    for out in (int(filters), 2 * int(filters)):
        layers += [nn.Conv2d(channels, out, 3, padding=1), nn.BatchNorm2d(out), nn.ReLU()]
        if size_h >= 4 and size_w >= 4:
            layers.append(nn.MaxPool2d(2))
            size_h, size_w = size_h // 2, size_w // 2
        channels = out
    layers += [nn.Flatten(), nn.Dropout(float(dropout)), nn.Linear(channels * size_h * size_w, int(dense)), nn.ReLU(),
               nn.Dropout(float(dropout)), nn.Linear(int(dense), n_classes)]
    return nn.Sequential(*layers)
