"""How images live in a frame, and how they get there: one row per image, its pixels in the feature columns.

Pixels are stored row-major (row, column, channel) as plain numbers between 0 and the brief's
``image.max_value``, so the split files stay Parquet that DVC can hash and a CSV of pixel columns scores like any
table. A user's own images come in as a folder of PNGs (one subfolder per class, or loose files to score), a
``.npy`` array of shape (n, height, width[, channels]), or base64 PNGs sent to the server; each is decoded,
checked against the model's size and turned into the same row. Mixed sizes, non-image bytes and values out of
range are one ``DataError`` each, naming the file or the column, before anything is written.
"""

from __future__ import annotations

import io
from dataclasses import dataclass
from pathlib import Path
from typing import Optional

import numpy as np
import pandas as pd

from specweave_ml.errors import ConfigError, DataError

PNG_SUFFIXES = (".png",)
FILE_COLUMN, LABEL_COLUMN = "file", "label"
SHAPE_ATTRIBUTE = "image_shape_"  # set on the fitted model by the family: the image size it takes (predict, the server)


@dataclass(frozen=True)
class Shape:
    height: int
    width: int
    channels: int = 1
    max_value: float = 255.0

    @property
    def pixels(self) -> int:
        return self.height * self.width * self.channels

    def as_dict(self) -> dict:
        return {"height": self.height, "width": self.width, "channels": self.channels, "max_value": self.max_value}

    def describe(self) -> str:
        return f"{self.height}x{self.width}" + (f"x{self.channels}" if self.channels > 1 else "")


def pixel_columns(frame_columns, problem) -> list[str]:
    """The pixel columns of a brief: ``data.features`` when listed, else every column but the target and exclusions."""
    d = problem.data
    if d.features:
        missing = [c for c in d.features if c not in frame_columns]
        if missing:
            raise DataError("problem.data.features", f"pixel column(s) {', '.join(missing[:5])} are not in the data",
                            "list pixel columns the data has, or leave data.features null to take every other column")
        return list(d.features)
    skip = {d.target, *d.exclude, *d.id_columns}
    return [c for c in frame_columns if c not in skip]


def shape_of(problem, n_pixels: int) -> Shape:
    """The image shape from the brief's ``image`` section and the number of pixel columns (a square when not given)."""
    im = problem.image
    channels = int(im.channels)
    if channels not in (1, 3):
        raise ConfigError("problem.image.channels", f"must be 1 (grey) or 3 (RGB), got {channels}", "set 1 or 3")
    if im.max_value is None or float(im.max_value) <= 0:
        raise ConfigError("problem.image.max_value", f"must be a positive number, got {im.max_value}",
                          "set the brightest pixel value (255 for 8-bit images)")
    h, w = im.height, im.width
    for key, value in (("height", h), ("width", w)):
        if value is not None and int(value) <= 0:
            raise ConfigError(f"problem.image.{key}", f"must be a positive number of pixels, got {value}",
                              f"set image.{key} to the images' {key} (or leave height and width null for squares)")
    if h is None and w is None:
        side = int(round((n_pixels / channels) ** 0.5))
        h = w = side
    elif h is None or w is None:
        raise ConfigError("problem.image", "sets only one of height and width", "set both, or neither for square images")
    shape = Shape(int(h), int(w), channels, float(im.max_value))
    if shape.pixels != n_pixels:
        raise DataError("problem.image", f"{n_pixels} pixel columns do not make {shape.describe()} images "
                        f"({shape.pixels} values each)",
                        "set image.height, image.width and image.channels to the images' size, or list the pixel "
                        "columns in data.features (the target and data.exclude are left out)")
    return shape


def check_pixels(frame: pd.DataFrame, columns: list[str], shape: Shape, where: str = "column") -> None:
    """Pixel columns must be numbers, complete, and within [0, max_value]: else one error naming the column."""
    bad = [c for c in columns if not pd.api.types.is_numeric_dtype(frame[c]) or pd.api.types.is_bool_dtype(frame[c])]
    if bad:
        raise DataError(f"{where} '{bad[0]}'", f"pixels must be numbers, found {frame[bad[0]].dtype} "
                        f"({len(bad)} such column(s))", "store each pixel as a number between 0 and image.max_value")
    values = frame[columns].to_numpy(dtype=float)
    if not np.isfinite(values).all():
        rows, cols = np.nonzero(~np.isfinite(values))
        raise DataError(f"{where} '{columns[cols[0]]}'", f"{len(rows)} pixel value(s) are missing or not finite "
                        f"(first at row {int(rows[0])})", "images have no missing pixels: fix or drop those rows")
    low, high = values.min(initial=0.0), values.max(initial=0.0)
    if low < 0 or high > shape.max_value:
        col = columns[int(np.argmax((values < 0).any(axis=0) | (values > shape.max_value).any(axis=0)))]
        raise DataError(f"{where} '{col}'", f"pixel values run from {low:g} to {high:g}, outside 0..{shape.max_value:g}",
                        "set problem.image.max_value to the brightest value, or rescale the pixels")


def to_array(X, shape: Shape) -> np.ndarray:
    """Rows of pixels -> float32 (n, channels, height, width) scaled to [0, 1] (what the CNN takes)."""
    a = np.asarray(X, dtype=np.float32).reshape(-1, shape.height, shape.width, shape.channels)
    return np.ascontiguousarray(a.transpose(0, 3, 1, 2)) / np.float32(shape.max_value)


def model_shape(model) -> Shape:
    """The image size a fitted model takes (recorded on it at training; a grey square of its inputs otherwise)."""
    sizes = getattr(model, SHAPE_ATTRIBUTE, None)
    if sizes is None:
        side = int(round(int(getattr(model, "n_features_in_", 0)) ** 0.5))
        return Shape(side, side, 1, 255.0)
    return Shape(int(sizes["height"]), int(sizes["width"]), int(sizes["channels"]), float(sizes["max_value"]))


# -- decoding: PNG bytes, files, folders, arrays ----------------------------------------------------------------
FULL_SCALE = {"1": 1.0, "L": 255.0, "LA": 255.0, "RGB": 255.0, "RGBA": 255.0,
              "I": 65535.0, "I;16": 65535.0, "I;16B": 65535.0, "I;16L": 65535.0, "I;16N": 65535.0}  # PNG's bit depths


def open_image(data: bytes, where: str):
    """PNG (or any image Pillow reads) bytes -> an image whose header is read but whose pixels are not decoded yet;
    a header claiming a size past Pillow's decompression-bomb limit is a ``DataError`` too, never decoded."""
    import warnings

    from PIL import Image, UnidentifiedImageError

    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)
            return Image.open(io.BytesIO(data))
    except Image.DecompressionBombError as err:
        raise DataError(where, f"claims a size too large to decode ({str(err)[:80]})",
                        "send an image at the model's size") from None
    except (UnidentifiedImageError, OSError, ValueError, SyntaxError) as err:
        raise DataError(where, f"is not an image ({type(err).__name__}: {str(err)[:80]})",
                        "send PNG bytes (base64 in JSON), or pixel arrays") from None


def wrong_size(image, shape: Shape, where: str) -> Optional[DataError]:
    if image.size == (shape.width, shape.height):
        return None
    return DataError(where, f"is {image.size[0]}x{image.size[1]} (width x height), the model takes "
                     f"{shape.width}x{shape.height}", f"resize the image to {shape.width}x{shape.height}")


def image_pixels(image, shape: Shape, where: str) -> np.ndarray:
    """An opened image of the model's size -> one flat row in the model's layout (decoded only now).

    Values are scaled by the image's real bit depth (65535 for a 16-bit PNG, 255 for 8-bit) to 0..max_value. A grey
    image for an RGB model is repeated into the three channels; a colour image for a grey model is refused unless its
    channels are equal (a grey picture saved as RGB). Transparency is refused rather than guessed: an opaque alpha
    channel is dropped, but any transparent pixel is an error, since the right background (black for light-on-dark
    digits, white for ink on paper) is the training images' and not knowable from the PNG."""
    if image.mode in ("P", "PA"):
        image = image.convert("RGBA" if "transparency" in image.info or image.mode == "PA" else "RGB")
    if image.mode not in FULL_SCALE:
        raise DataError(where, f"has pixel mode {image.mode}", "send a grey, RGB or RGBA PNG (8 or 16 bits)")
    full = FULL_SCALE[image.mode]
    try:
        image.load()
        a = np.asarray(image, dtype=np.float64)
    except (OSError, ValueError, SyntaxError) as err:
        raise DataError(where, f"is not an image ({type(err).__name__}: {str(err)[:80]})",
                        "send PNG bytes (base64 in JSON), or pixel arrays") from None
    a = a.reshape(shape.height, shape.width, -1)
    if image.mode in ("LA", "RGBA"):
        if (a[..., -1] < full).any():
            raise DataError(where, f"has transparent pixels (mode {image.mode})",
                            "flatten it onto the background of the training images (black for light-on-dark digits) "
                            "and send it without transparency")
        a = a[..., :-1]
    if shape.channels == 1 and a.shape[2] == 3:
        if not ((a[..., 0] == a[..., 1]) & (a[..., 1] == a[..., 2])).all():
            raise DataError(where, f"is a colour image ({image.mode}), the model takes grey images",
                            "convert it to greyscale the way the training images were")
        a = a[..., :1]
    elif shape.channels == 3 and a.shape[2] == 1:
        a = np.repeat(a, 3, axis=2)
    return (a / full * shape.max_value).reshape(-1)


def decode_png(data: bytes, shape: Shape, where: str) -> np.ndarray:
    """PNG (or any image Pillow reads) bytes -> one flat row of pixels in the model's layout; errors name ``where``.
    The size is compared with the model's from the header, before any pixel is decoded."""
    image = open_image(data, where)
    err = wrong_size(image, shape, where)
    if err is not None:
        raise err
    return image_pixels(image, shape, where)


def encode_png(row, shape: Shape) -> bytes:
    """One row of pixels -> PNG bytes (8-bit): for load-test requests and tests."""
    from PIL import Image

    a = np.asarray(row, dtype=float).reshape(shape.height, shape.width, shape.channels) / shape.max_value * 255.0
    a = np.clip(np.rint(a), 0, 255).astype(np.uint8)
    buffer = io.BytesIO()
    Image.fromarray(a[:, :, 0] if shape.channels == 1 else a, mode="L" if shape.channels == 1 else "RGB").save(buffer, "PNG")
    return buffer.getvalue()


def read_folder(path: Path, shape: Shape, names: list[str]) -> pd.DataFrame:
    """A folder of PNGs (loose, or one subfolder per class) -> a frame of pixel rows, with ``file`` (and ``label``)."""
    files = sorted(p for p in path.rglob("*") if p.is_file() and not p.name.startswith("."))
    if not files:
        raise DataError("input", f"folder '{path}' holds no file", "put PNG images in it (or one subfolder per class)")
    sizes: dict[tuple, list[str]] = {}
    rows, files_read, labels = [], [], []
    for f in files:
        rel = str(f.relative_to(path))
        image = open_image(f.read_bytes(), f"input file '{rel}'")
        sizes.setdefault(image.size, []).append(rel)
        if wrong_size(image, shape, rel) is not None:
            continue  # every size is gathered first: one message for the whole folder
        rows.append(image_pixels(image, shape, f"input file '{rel}'"))
        files_read.append(rel)
        labels.append(f.parent.name if f.parent != path else None)
    model_size = (shape.width, shape.height)
    if len(sizes) == 1 and model_size not in sizes:
        (w, h), fs = next(iter(sizes.items()))
        raise DataError("input", f"the images in '{path}' are {w}x{h} ({len(fs)} file(s), e.g. {fs[0]}); the model takes "
                        f"{shape.width}x{shape.height}", f"resize every image to {shape.width}x{shape.height}")
    if len(sizes) > 1:
        seen = "; ".join(f"{w}x{h}: {len(fs)} file(s), e.g. {fs[0]}" for (w, h), fs in sorted(sizes.items()))
        raise DataError("input", f"images of mixed sizes in '{path}' ({seen}); the model takes {shape.width}x{shape.height}",
                        f"resize every image to {shape.width}x{shape.height}")
    frame = pd.DataFrame(np.vstack(rows), columns=names)
    frame.insert(0, FILE_COLUMN, files_read)
    if any(label is not None for label in labels):
        frame.insert(1, LABEL_COLUMN, labels)
    return frame


def read_array(path: Path, shape: Shape, names: list[str]) -> pd.DataFrame:
    """A ``.npy`` array of images, (n, height, width) or (n, height, width, channels) -> pixel rows."""
    try:
        a = np.load(path, allow_pickle=False)
    except (ValueError, OSError) as err:
        raise DataError("input", f"could not read '{path}' as a numpy array: {err}", "save it with numpy.save") from None
    found = a.shape
    if a.ndim == 3 and shape.channels == 1:
        a = a[..., None]
    if a.ndim != 4 or a.shape[1:] != (shape.height, shape.width, shape.channels):
        raise DataError("input", f"'{path}' holds an array of shape {found}, the model takes "
                        f"(n, {shape.height}, {shape.width}{', ' + str(shape.channels) if shape.channels > 1 else ''})",
                        "give one image per first index, at the model's size")
    if not np.issubdtype(a.dtype, np.number):
        raise DataError("input", f"'{path}' holds {a.dtype} values, not numbers", "save the pixels as numbers")
    return pd.DataFrame(a.reshape(len(a), -1).astype(float), columns=names)


def read_images(path: Path, shape: Shape, names: list[str]) -> Optional[pd.DataFrame]:
    """A folder, a ``.npy`` file or one PNG as pixel rows in the columns ``names`` (the model's), or None for anything
    else (a CSV / Parquet of pixel columns)."""
    if not path.exists():
        raise DataError("input", f"'{path}' does not exist", "give a folder of PNGs, a .npy array, or a CSV/Parquet of pixels")
    if path.is_dir():
        return read_folder(path, shape, names)
    if path.suffix.lower() == ".npy":
        return read_array(path, shape, names)
    if path.suffix.lower() in PNG_SUFFIXES:
        frame = pd.DataFrame([decode_png(path.read_bytes(), shape, f"input file '{path.name}'")], columns=names)
        frame.insert(0, FILE_COLUMN, [path.name])
        return frame
    return None
