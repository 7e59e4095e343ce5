"""The app that serves an image classifier: ``POST /predict`` answers the class of one image with its probabilities.

An image comes as ``{"png": "<base64 PNG>"}`` or as ``{"pixels": [[...], ...]}`` (rows of the image, or one flat
list, values 0..max_value); ``POST /predict/batch`` takes ``{"images": [...]}`` of either. Anything else is a 4xx
naming the field: not base64, not an image, the wrong size, values out of range or not numbers, both or neither of
the fields; a body over ``serving.max_body_bytes`` is a 413 (the tabular app's ``Guard``). Base64 may be line-wrapped
or a ``data:image/png;base64,`` URL. Colour, transparency and 16-bit PNGs follow ``vision.images.image_pixels``.
Labels are the model's decided classes (a two-class model's tuned threshold included), as ``stage=predict`` gives.
``GET /health`` says what is served and the image size it takes, ``GET /metrics`` counts requests for Prometheus.
"""


import base64
import binascii
import re
import time
from typing import Optional

import numpy as np

from specweave_ml.serving.settings import ServerConfig


class BadImage(Exception):
    def __init__(self, loc: list, msg: str, kind: str):
        super().__init__(msg)
        self.loc, self.msg, self.kind = loc, msg, kind


def _numbers_only(value, depth: int = 0) -> bool:
    """Nested lists (at most three deep) of JSON numbers: no strings, no booleans, no nulls."""
    if isinstance(value, list):
        return depth < 3 and all(_numbers_only(v, depth + 1) for v in value)
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def b64_bytes(png: str) -> bytes:
    """Base64 text -> bytes: a ``data:...;base64,`` prefix and whitespace (line-wrapped base64) are allowed."""
    text = png.strip()
    if text[:5].lower() == "data:" and "," in text:
        text = text.split(",", 1)[1]
    return base64.b64decode(re.sub(r"\s+", "", text), validate=True)


def image_row(png: Optional[str], pixels, shape, loc: list) -> np.ndarray:
    """One request image as a flat row of pixels in the model's layout, or ``BadImage`` naming the field."""
    from specweave_ml.errors import DataError
    from specweave_ml.vision.images import decode_png

    if (png is None) == (pixels is None):
        raise BadImage(loc, "give exactly one of 'png' (base64 PNG) and 'pixels' (an array)", "one_of_png_pixels")
    if png is not None:
        try:
            data = b64_bytes(png)
        except (binascii.Error, ValueError):
            raise BadImage([*loc, "png"], "is not base64", "not_base64") from None
        try:
            return decode_png(data, shape, "png")
        except DataError as err:
            raise BadImage([*loc, "png"], f"{err.problem}; {err.fix}", "bad_image") from None
    if not _numbers_only(pixels):
        raise BadImage([*loc, "pixels"], "must hold numbers only (no strings, booleans or nulls), in rows of equal length",
                       "not_numbers")
    try:
        a = np.asarray(pixels, dtype=float)
    except (ValueError, TypeError):
        raise BadImage([*loc, "pixels"], "must be a rectangular array of numbers (rows of equal length)", "bad_array") from None
    expected = {(shape.pixels,), (shape.height, shape.width, shape.channels)}
    if shape.channels == 1:
        expected.add((shape.height, shape.width))
    if a.shape not in expected:
        raise BadImage([*loc, "pixels"], f"has shape {list(a.shape)}; the model takes {shape.height} rows of {shape.width} "
                       f"pixels{'' if shape.channels == 1 else f' x {shape.channels} channels'} (or {shape.pixels} values in one list)",
                       "wrong_size")
    if not np.isfinite(a).all() or a.min() < 0 or a.max() > shape.max_value:
        raise BadImage([*loc, "pixels"], f"values must be finite numbers from 0 to {shape.max_value:g}", "out_of_range")
    return a.reshape(-1)


class _GuardCounts:
    """What the shared ``Guard`` middleware reports, counted on the image app's own request counter."""

    def __init__(self, counter):
        self.counter = counter

    def request(self, endpoint: str, status: int, variant, seconds: float) -> None:
        if endpoint in ("/predict", "/predict/batch"):
            self.counter.labels(str(status)).inc()


def create_image_app(champion, config: ServerConfig, challenger=None):
    from fastapi import FastAPI
    from fastapi.exceptions import RequestValidationError
    from prometheus_client import CollectorRegistry, Counter, Histogram, generate_latest
    from prometheus_client.exposition import CONTENT_TYPE_LATEST
    from pydantic import BaseModel, Field
    from starlette.concurrency import run_in_threadpool
    from starlette.responses import JSONResponse, Response

    import pandas as pd

    from specweave_ml.errors import ConfigError
    from specweave_ml.serving.app import Guard
    from specweave_ml.vision.images import model_shape

    if challenger is not None:
        raise ConfigError("serving.ab.challenger", "A/B tests are not built yet for image models",
                          "serve the image model alone: set serving.ab.challenger to null")
    model = champion.model
    shape = model_shape(model)
    columns = list(champion.columns)
    classes = [c.item() if hasattr(c, "item") else c for c in np.asarray(model.classes_)]
    registry = CollectorRegistry()
    requests = Counter("image_requests", "image requests by status", ["status"], registry=registry)
    latency = Histogram("image_latency_seconds", "time to classify the images of a request", registry=registry)

    class Image(BaseModel):
        png: Optional[str] = Field(default=None, max_length=config.max_body_bytes,
                                   description=f"a base64 PNG of {shape.width}x{shape.height} pixels")
        pixels: Optional[list] = Field(default=None, description=f"{shape.height} rows of {shape.width} values 0..{shape.max_value:g}")

    class Batch(BaseModel):
        images: list[Image] = Field(min_length=1, max_length=config.max_batch_rows)

    app = FastAPI(title=f"{champion.increment}: {champion.model_name} (images)", version=champion.sha256[:12],
                  description=f"Classifies {shape.describe()} images with the packaged model.")
    app.add_middleware(Guard, max_body_bytes=config.max_body_bytes, metrics=_GuardCounts(requests))

    def _error(status: int, loc: list, msg: str, kind: str):
        return JSONResponse({"detail": [{"loc": loc, "msg": msg, "type": kind}]}, status_code=status)

    @app.exception_handler(RequestValidationError)
    async def invalid(request, exc):
        return JSONResponse({"detail": [{"loc": list(e.get("loc", [])), "msg": e.get("msg", ""), "type": e.get("type", "")}
                                        for e in exc.errors()]}, status_code=422)

    binary = getattr(model, "task", None) == "binary_classification"

    def classify(images: list, locs: list) -> list[dict]:
        """Decode and classify (in the thread pool): probabilities from predict_proba, the label from decide."""
        rows = [image_row(im.png, im.pixels, shape, loc) for im, loc in zip(images, locs)]
        proba = np.asarray(model.predict_proba(pd.DataFrame(np.vstack(rows), columns=columns)))
        labels = model.decide(proba[:, -1] if binary else proba)
        return [{"prediction": label.item() if hasattr(label, "item") else label,
                 "probabilities": {str(c): float(v) for c, v in zip(classes, p)}} for label, p in zip(labels, proba)]

    async def answer(images: list, locs: list):
        start = time.perf_counter()
        try:
            out = await run_in_threadpool(classify, images, locs)
        except BadImage as err:
            return _error(422, err.loc, err.msg, err.kind)
        latency.observe(time.perf_counter() - start)
        return JSONResponse({"model": champion.sha256[:12], "increment": champion.increment, "predictions": out})

    @app.post("/predict", summary="The class of one image (base64 PNG or pixel array), with probabilities")
    async def predict(body: Image):
        response = await answer([body], [["body"]])
        if response.status_code != 200:
            return response
        import json

        content = json.loads(response.body)
        return JSONResponse({"model": content["model"], "increment": content["increment"], **content["predictions"][0]})

    @app.post("/predict/batch", summary="The classes of several images")
    async def predict_batch(body: Batch):
        return await answer(body.images, [["body", "images", i] for i in range(len(body.images))])

    @app.get("/health", summary="What is served")
    async def health():
        return {"status": "ok", "increment": champion.increment, "model": champion.describe(), "image": shape.as_dict(),
                "classes": [str(c) for c in classes]}

    @app.get("/metrics", include_in_schema=False)
    async def prometheus():
        return Response(generate_latest(registry), media_type=CONTENT_TYPE_LATEST)

    return app
