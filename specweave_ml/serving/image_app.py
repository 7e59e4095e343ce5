"""The app that serves an image classifier: ``POST /predict`` answers the class of one image with its probabilities.

An image comes as ``{"png": "<base64 PNG>"}`` or as ``{"pixels": [[...], ...]}`` (rows of the image, or one flat
list, values 0..max_value); ``POST /predict/batch`` takes ``{"images": [...]}`` of either. Anything else is a 4xx
naming the field: not base64, not an image, the wrong size, values out of range, both or neither of the fields.
``GET /health`` says what is served and the image size it takes, ``GET /metrics`` counts requests for Prometheus.
"""


import base64
import binascii
import time
from typing import Optional

import numpy as np

from specweave_ml.serving.settings import ServerConfig


class BadImage(Exception):
    def __init__(self, loc: list, msg: str, kind: str):
        super().__init__(msg)
        self.loc, self.msg, self.kind = loc, msg, kind


def image_row(png: Optional[str], pixels, shape, loc: list) -> np.ndarray:
    """One request image as a flat row of pixels in the model's layout, or ``BadImage`` naming the field."""
    from specweave_ml.errors import DataError
    from specweave_ml.vision.images import decode_png

    if (png is None) == (pixels is None):
        raise BadImage(loc, "give exactly one of 'png' (base64 PNG) and 'pixels' (an array)", "one_of_png_pixels")
    if png is not None:
        try:
            data = base64.b64decode(png, validate=True)
        except (binascii.Error, ValueError):
            raise BadImage([*loc, "png"], "is not base64", "not_base64") from None
        try:
            return decode_png(data, shape, "png")
        except DataError as err:
            raise BadImage([*loc, "png"], f"{err.problem}; {err.fix}", "bad_image") from None
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


def create_image_app(champion, config: ServerConfig):
    from fastapi import FastAPI
    from fastapi.exceptions import RequestValidationError
    from prometheus_client import CollectorRegistry, Counter, Histogram, generate_latest
    from prometheus_client.exposition import CONTENT_TYPE_LATEST
    from pydantic import BaseModel, Field
    from starlette.concurrency import run_in_threadpool
    from starlette.responses import JSONResponse, Response

    import pandas as pd

    from specweave_ml.vision.images import model_shape

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

    def _error(status: int, loc: list, msg: str, kind: str):
        requests.labels(str(status)).inc()
        return JSONResponse({"detail": [{"loc": loc, "msg": msg, "type": kind}]}, status_code=status)

    @app.exception_handler(RequestValidationError)
    async def invalid(request, exc):
        requests.labels("422").inc()
        return JSONResponse({"detail": [{"loc": list(e.get("loc", [])), "msg": e.get("msg", ""), "type": e.get("type", "")}
                                        for e in exc.errors()]}, status_code=422)

    def classify(rows: list[np.ndarray]) -> list[dict]:
        scores = model.scores(pd.DataFrame(np.vstack(rows), columns=columns))
        return [{"prediction": classes[int(np.argmax(p))], "probabilities": {str(c): float(v) for c, v in zip(classes, p)}}
                for p in np.atleast_2d(scores)]

    async def answer(images: list, locs: list):
        start = time.perf_counter()
        try:
            rows = [image_row(im.png, im.pixels, shape, loc) for im, loc in zip(images, locs)]
        except BadImage as err:
            return _error(422, err.loc, err.msg, err.kind)
        out = await run_in_threadpool(classify, rows)
        latency.observe(time.perf_counter() - start)
        requests.labels("200").inc()
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
