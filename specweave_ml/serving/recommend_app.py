"""The app that serves a recommender: ``GET /recommend?user=...&k=...`` (and the same as a JSON ``POST``).

It answers the user's top ``k`` items with their scores and reasons (the user's own items most similar to each);
items the user interacted with in training are never recommended; an unknown user gets the popularity list and
the response says so (``fallback``). ``GET /health`` says what is served, ``GET /metrics`` counts requests and
fallbacks for Prometheus.
"""


import time
from typing import Union

from specweave_ml.serving.settings import ServerConfig

MAX_K = 100


def create_recommend_app(champion, config: ServerConfig):
    from fastapi import FastAPI, Query
    from fastapi.exceptions import RequestValidationError
    from prometheus_client import CollectorRegistry, Counter, Histogram, generate_latest
    from prometheus_client.exposition import CONTENT_TYPE_LATEST
    from pydantic import BaseModel, Field
    from starlette.concurrency import run_in_threadpool
    from starlette.responses import JSONResponse, Response

    model = champion.model
    max_k = min(MAX_K, len(model.items_))
    registry = CollectorRegistry()
    requests = Counter("recommend_requests", "recommendation requests by status", ["status"], registry=registry)
    fallbacks = Counter("recommend_fallbacks", "requests answered with the popularity fallback (unknown user)", registry=registry)
    latency = Histogram("recommend_latency_seconds", "time to answer a recommendation", registry=registry)

    class RecommendRequest(BaseModel):
        user: Union[int, str] = Field(description="the user id")
        k: int = Field(default=int(model.k), ge=1, le=max_k, description="how many items")

    app = FastAPI(title=f"{champion.increment}: {champion.model_name} (recommendations)", version=champion.sha256[:12],
                  description="Top-k items for a user over the full catalogue, seen items excluded, with reasons.")

    @app.exception_handler(RequestValidationError)
    async def invalid(request, exc):
        requests.labels("422").inc()
        return JSONResponse({"detail": [{"loc": list(e.get("loc", [])), "msg": e.get("msg", ""), "type": e.get("type", "")}
                                        for e in exc.errors()]}, status_code=422)

    async def answer(user, k: int):
        start = time.perf_counter()
        out = await run_in_threadpool(model.recommend, user, k)
        latency.observe(time.perf_counter() - start)
        requests.labels("200").inc()
        if out["fallback"]:
            fallbacks.inc()
        return JSONResponse({"model": champion.sha256[:12], "increment": champion.increment, **out})

    @app.get("/recommend", summary="The user's top-k items, with scores and reasons")
    async def recommend(user: str = Query(description="the user id"),
                        k: int = Query(default=int(model.k), ge=1, le=max_k, description="how many items")):
        return await answer(user, k)

    @app.post("/recommend", summary="The same, with a JSON body {user, k}")
    async def recommend_post(body: RecommendRequest):
        return await answer(body.user, body.k)

    @app.get("/health", summary="What is served")
    async def health():
        return {"status": "ok", "increment": champion.increment, "model": champion.describe(),
                "users": len(model.users_), "items": len(model.items_), "max_k": max_k}

    @app.get("/metrics", include_in_schema=False)
    async def prometheus():
        return Response(generate_latest(registry), media_type=CONTENT_TYPE_LATEST)

    return app
