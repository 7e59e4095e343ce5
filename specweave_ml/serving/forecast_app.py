"""The app that serves a forecasting model: ``POST /forecast`` answers the next steps with their intervals.

A request asks for ``steps`` (1 up to ``max_steps``) after the end of the series the model was fitted on, and
gives the future values of the exogenous columns for each of them when the model uses some; a missing one is a
422 naming the column. ``GET /health`` says what is served, ``GET /metrics`` counts requests for Prometheus.
"""



import time
from typing import Optional

from specweave_ml.serving.settings import ServerConfig


def _json(status: int, body: dict):
    from starlette.responses import JSONResponse

    return JSONResponse(body, status_code=status)


def create_forecast_app(champion, config: ServerConfig):
    from fastapi import FastAPI, Request
    from fastapi.exceptions import RequestValidationError
    from prometheus_client import CollectorRegistry, Counter, Histogram, generate_latest
    from prometheus_client.exposition import CONTENT_TYPE_LATEST
    from pydantic import BaseModel, Field
    from starlette.concurrency import run_in_threadpool
    from starlette.responses import Response

    import pandas as pd

    from specweave_ml.forecasting.estimator import MissingFuture

    model = champion.model
    max_steps = max(4 * int(model.horizon), 1)
    registry = CollectorRegistry()
    requests = Counter("forecast_requests", "forecast requests by status", ["status"], registry=registry)
    latency = Histogram("forecast_latency_seconds", "time to answer a forecast", registry=registry)

    class ForecastRequest(BaseModel):
        steps: int = Field(default=int(model.horizon), ge=1, le=max_steps, description="steps ahead, from the next one")
        exogenous: Optional[dict[str, list[float]]] = Field(
            default=None, description="each exogenous column's future values, one per step, from the next one")

    app = FastAPI(title=f"{champion.increment}: {champion.model_name} (forecast)", version=champion.sha256[:12],
                  description=f"Forecasts the next steps after {model.last_time_:%Y-%m-%d} with the packaged model.")

    @app.exception_handler(RequestValidationError)
    async def invalid(request, exc):
        requests.labels("422").inc()
        return _json(422, {"detail": [{"loc": list(e.get("loc", [])), "msg": e.get("msg", ""), "type": e.get("type", "")}
                                      for e in exc.errors()]})

    def answer(body: ForecastRequest):
        times = model.next_times(body.steps)
        rows = pd.DataFrame({model.time_column: times})
        for column, values in (body.exogenous or {}).items():
            if len(values) < body.steps:
                raise MissingFuture(column, f"'{column}' has {len(values)} future values for {body.steps} steps",
                                    f"give one value of '{column}' per step")
            rows[column] = values[:body.steps]
        out = model.forecast_frame(rows)
        return [{"time": f"{t:%Y-%m-%d %H:%M:%S}", "step": int(s), "forecast": float(f), "lower": float(lo), "upper": float(up)}
                for t, s, f, lo, up in zip(out[model.time_column], out["step"], out["forecast"], out["lower"], out["upper"])]

    @app.post("/forecast", summary="Forecast the next steps, with their intervals")
    async def forecast(body: ForecastRequest, request: Request):
        start = time.perf_counter()
        try:
            predictions = await run_in_threadpool(answer, body)
        except MissingFuture as err:
            requests.labels("422").inc()
            return _json(422, {"detail": [{"loc": ["body", "exogenous", err.column], "msg": f"{err.message}; {err.fix}",
                                           "type": "missing_future_values"}]})
        latency.observe(time.perf_counter() - start)
        requests.labels("200").inc()
        return _json(200, {"model": champion.sha256[:12], "increment": champion.increment, "level": model.level,
                           "predictions": predictions})

    @app.get("/health", summary="What is served")
    async def health():
        return {"status": "ok", "increment": champion.increment, "model": champion.describe(),
                "series_end": f"{model.last_time_:%Y-%m-%d}", "frequency": model.frequency, "max_steps": max_steps,
                "exogenous": list(model.exogenous) if model.uses_exogenous_ else []}

    @app.get("/metrics", include_in_schema=False)
    async def prometheus():
        return Response(generate_latest(registry), media_type=CONTENT_TYPE_LATEST)

    return app
