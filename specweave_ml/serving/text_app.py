"""The app that serves a text classifier: ``POST /predict`` with ``{"text": "..."}``, ``POST /predict/batch`` with
``{"texts": [...]}``.

Each answer is the decided class and every class's probability. A missing, non-string, empty or too long text is a
422 naming the field (``text``, or ``texts`` and its position); longer than ``max_chars`` (``problem.text.max_chars``,
recorded in the reference profile at packaging) is refused; a batch holds at most ``serving.max_batch_rows`` texts.
``GET /health`` says what is served, ``GET /metrics`` counts requests, refusals and latency for Prometheus.
"""

import time

from specweave_ml.serving.settings import ServerConfig

DEFAULT_MAX_CHARS = 5000


def create_text_app(champion, config: ServerConfig):
    from fastapi import FastAPI
    from fastapi.exceptions import RequestValidationError
    from prometheus_client import CollectorRegistry, Counter, Histogram, generate_latest
    from prometheus_client.exposition import CONTENT_TYPE_LATEST
    from pydantic import BaseModel, Field, StrictStr, field_validator
    from starlette.concurrency import run_in_threadpool
    from starlette.responses import JSONResponse, Response

    import pandas as pd

    model = champion.model
    text = (champion.profile or {}).get("text", {})
    column = text.get("column") or next(iter(champion.columns))
    max_chars = int(text.get("max_chars") or DEFAULT_MAX_CHARS)
    max_batch = int(config.max_batch_rows)
    classes = [c.item() if hasattr(c, "item") else c for c in model.classes_]
    registry = CollectorRegistry()
    requests = Counter("text_requests", "text classification requests by endpoint and status", ["endpoint", "status"],
                       registry=registry)
    latency = Histogram("text_latency_seconds", "time to classify the texts of one request", registry=registry)

    def valid(value: str) -> str:
        if not value.strip():
            raise ValueError("the text is empty: send the text to classify")
        if len(value) > max_chars:
            raise ValueError(f"the text has {len(value)} characters, more than max_chars={max_chars}: shorten or split it")
        return value

    class TextRequest(BaseModel):
        text: StrictStr = Field(description=f"the text to classify (1 to {max_chars} characters)")
        _check = field_validator("text")(classmethod(lambda cls, v: valid(v)))

    class BatchRequest(BaseModel):
        texts: list[StrictStr] = Field(min_length=1, max_length=max_batch, description=f"1 to {max_batch} texts")
        _check = field_validator("texts")(classmethod(lambda cls, v: [valid(t) for t in v]))

    app = FastAPI(title=f"{champion.increment}: {champion.model_name} (text)", version=champion.sha256[:12],
                  description=f"Classifies texts into {', '.join(map(str, classes))} with the packaged model.")

    @app.exception_handler(RequestValidationError)
    async def invalid(request, exc):
        requests.labels(request.url.path, "422").inc()
        return JSONResponse({"detail": [{"loc": [p if isinstance(p, (int, str)) else str(p) for p in e.get("loc", ())],
                                         "msg": e.get("msg", ""), "type": e.get("type", "")} for e in exc.errors()[:20]]},
                            status_code=422)

    def answer(texts: list[str]) -> list[dict]:
        frame = pd.DataFrame({column: texts})
        proba = model.predict_proba(frame)
        decided = model.decide(model.scores(frame)) if model.task == "binary_classification" else None
        out = []
        for i, row in enumerate(proba):
            label = decided[i] if decided is not None else model.classes_[int(row.argmax())]
            out.append({"prediction": label.item() if hasattr(label, "item") else label,
                        "probabilities": {str(c): float(p) for c, p in zip(classes, row)}})
        return out

    async def timed(endpoint: str, texts: list[str]) -> list[dict]:
        start = time.perf_counter()
        out = await run_in_threadpool(answer, texts)
        latency.observe(time.perf_counter() - start)
        requests.labels(endpoint, "200").inc()
        return out

    @app.post("/predict", summary="Classify one text")
    async def predict(body: TextRequest):
        out = await timed("/predict", [body.text])
        return JSONResponse({"model": champion.sha256[:12], "increment": champion.increment, **out[0]})

    @app.post("/predict/batch", summary="Classify a batch of texts")
    async def predict_batch(body: BatchRequest):
        out = await timed("/predict/batch", body.texts)
        return JSONResponse({"model": champion.sha256[:12], "increment": champion.increment, "predictions": out})

    @app.get("/health", summary="What is served")
    async def health():
        return {"status": "ok", "increment": champion.increment, "model": champion.describe(), "classes": classes,
                "text_column": column, "max_chars": max_chars, "max_batch": max_batch}

    @app.get("/metrics", include_in_schema=False)
    async def prometheus():
        return Response(generate_latest(registry), media_type=CONTENT_TYPE_LATEST)

    return app
