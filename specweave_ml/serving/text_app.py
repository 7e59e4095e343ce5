"""The app that serves a text classifier: ``POST /predict`` with ``{"text": "..."}``, ``POST /predict/batch`` with
``{"texts": [...]}``.

Each answer is the decided class and every class's probability. A missing, non-string, empty or too long text is a
422 naming the field (``text``, or ``texts`` and its position); longer than ``max_chars`` (``problem.text.max_chars``,
recorded in the reference profile at packaging) is refused; a batch holds at most ``serving.max_batch_rows`` texts;
a body over ``serving.max_body_bytes`` is a 413 (the tabular app's ``Guard``). Single texts that arrive while the
model is busy are encoded together (``serving.batching.MicroBatcher``): one encoder call a text caps a 2-core
server near 60 requests/s.
``GET /health`` says what is served, ``GET /metrics`` counts requests, refusals and latency for Prometheus.
"""

from specweave_ml.serving.settings import ServerConfig


class _GuardCounts:
    """What the shared ``Guard`` middleware reports (every request, 413s included), on the text app's own metrics."""

    def __init__(self, requests, latency):
        self.requests, self.latency = requests, latency

    def request(self, endpoint: str, status: int, variant, seconds: float) -> None:
        self.requests.labels(endpoint, str(status)).inc()
        if status == 200 and endpoint.startswith("/predict"):
            self.latency.observe(seconds)


def create_text_app(champion, config: ServerConfig):
    from typing import Annotated

    from fastapi import FastAPI
    from fastapi.exceptions import RequestValidationError
    from prometheus_client import CollectorRegistry, Counter, Histogram, generate_latest
    from prometheus_client.exposition import CONTENT_TYPE_LATEST
    from pydantic import AfterValidator, BaseModel, Field, StrictStr
    from starlette.concurrency import run_in_threadpool
    from starlette.responses import JSONResponse, Response

    import pandas as pd

    from specweave_ml.schema import DEFAULT_MAX_CHARS
    from specweave_ml.serving.app import Guard
    from specweave_ml.serving.batching import MicroBatcher

    model = champion.model
    text = (champion.profile or {}).get("text", {})
    column = text.get("column") or next(iter(champion.columns))
    max_chars = DEFAULT_MAX_CHARS if text.get("max_chars") is None else int(text["max_chars"])
    max_batch = int(config.max_batch_rows)
    classes = [c.item() if hasattr(c, "item") else c for c in model.classes_]
    registry = CollectorRegistry()
    requests = Counter("text_requests", "text classification requests by endpoint and status", ["endpoint", "status"],
                       registry=registry)
    latency = Histogram("text_latency_seconds", "time to answer one classification request", registry=registry)

    def valid(value: str) -> str:
        if not value.strip():
            raise ValueError("the text is empty: send the text to classify")
        if len(value) > max_chars:
            raise ValueError(f"the text has {len(value)} characters, more than max_chars={max_chars}: shorten or split it")
        return value

    Text = Annotated[StrictStr, AfterValidator(valid)]  # checked one by one: a bad text of a batch is named by position

    class TextRequest(BaseModel):
        text: Text = Field(description=f"the text to classify (1 to {max_chars} characters)")

    class BatchRequest(BaseModel):
        texts: list[Text] = Field(min_length=1, max_length=max_batch, description=f"1 to {max_batch} texts")

    app = FastAPI(title=f"{champion.increment}: {champion.model_name} (text)", version=champion.sha256[:12],
                  description=f"Classifies texts into {', '.join(map(str, classes))} with the packaged model.")
    app.add_middleware(Guard, max_body_bytes=config.max_body_bytes, metrics=_GuardCounts(requests, latency))

    @app.exception_handler(RequestValidationError)
    async def invalid(request, exc):
        return JSONResponse({"detail": [{"loc": [p if isinstance(p, (int, str)) else str(p) for p in e.get("loc", ())],
                                         "msg": e.get("msg", ""), "type": e.get("type", "")} for e in exc.errors()[:20]]},
                            status_code=422)

    def answer(texts: list[str]) -> list[dict]:
        proba = model.predict_proba(pd.DataFrame({column: texts}))  # the model runs once per request
        decided = model.decide(proba[:, 1] if model.task == "binary_classification" else proba)
        out = []
        for label, row in zip(decided, proba):
            out.append({"prediction": label.item() if hasattr(label, "item") else label,
                        "probabilities": {str(c): float(p) for c, p in zip(classes, row)}})
        return out

    batcher = MicroBatcher(answer, max_batch)  # texts that arrive while the encoder is busy are encoded together

    @app.post("/predict", summary="Classify one text")
    async def predict(body: TextRequest):
        out = await batcher(body.text)
        return JSONResponse({"model": champion.sha256[:12], "increment": champion.increment, **out})

    @app.post("/predict/batch", summary="Classify a batch of texts")
    async def predict_batch(body: BatchRequest):
        out = await run_in_threadpool(answer, body.texts)
        return JSONResponse({"model": champion.sha256[:12], "increment": champion.increment, "predictions": out})

    @app.get("/health", summary="What is served")
    async def health():
        return {"status": "ok", "increment": champion.increment, "model": champion.describe(), "classes": classes,
                "text_column": column, "max_chars": max_chars, "max_batch": max_batch}

    @app.get("/metrics", include_in_schema=False)
    async def prometheus():
        return Response(generate_latest(registry), media_type=CONTENT_TYPE_LATEST)

    return app
