"""The FastAPI app of a packaged increment: ``/predict``, ``/predict/batch``, ``/explain``, ``/health``, ``/metrics``.

Every bad request is a 4xx that names the field: 422 with pydantic's ``loc`` for schema errors (the
default handler would fail with a 500 on a NaN it echoes back, so ours drops the input), 413 for a body
over ``max_body_bytes``, 400 for an unreadable one. With a challenger, requests carrying the key header
are routed by ``abtest.assign``; every count, latency and score on ``/metrics`` carries its variant.
"""

# No `from __future__ import annotations`: FastAPI must see the generated Row and Batch classes, not their names.
import logging
import time
from typing import Optional

import numpy as np

from specweave_ml import units
from specweave_ml.serving.abtest import CHALLENGER, assign
from specweave_ml.serving.bundle import Bundle, Unscorable
from specweave_ml.serving.drift import DriftWindow, score_columns
from specweave_ml.serving.metrics import ServingMetrics, score_buckets
from specweave_ml.serving.schemas import BatchResponse, ExplainResponse, PredictResponse, batch_model, row_model, values
from specweave_ml.serving.settings import ServerConfig

log = logging.getLogger(__name__)
ENDPOINTS = ("/predict", "/predict/batch", "/explain", "/health", "/metrics", "/docs", "/openapi.json")
MAX_ERRORS = 50  # a 5,000-row batch of bad rows answers with the first 50 errors and the total


def _json(status: int, body: dict):
    from starlette.responses import JSONResponse

    return JSONResponse(body, status_code=status)


class Guard:
    """Pure ASGI middleware: refuses oversized bodies (413) before parsing, and times every request."""

    def __init__(self, app, max_body_bytes: int, metrics: ServingMetrics):
        self.app, self.max_body, self.metrics = app, max_body_bytes, metrics

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        start, status = time.perf_counter(), [500]
        endpoint = scope["path"] if scope["path"] in ENDPOINTS else "other"
        state = scope.setdefault("state", {})

        async def send_timed(message):
            if message["type"] == "http.response.start":
                status[0] = message["status"]
            await send(message)

        try:
            if scope["method"] in ("POST", "PUT", "PATCH"):
                body = await self._read(scope, receive, send_timed)
                if body is None:
                    return
                delivered = False

                async def replay():
                    nonlocal delivered
                    if delivered:
                        return await receive()
                    delivered = True
                    return {"type": "http.request", "body": body, "more_body": False}

                await self.app(scope, replay, send_timed)
            else:
                await self.app(scope, receive, send_timed)
        finally:
            self.metrics.request(endpoint, status[0], state.get("variant"), time.perf_counter() - start)

    async def _read(self, scope, receive, send) -> Optional[bytes]:
        declared = dict(scope["headers"]).get(b"content-length")
        if declared is not None and (not declared.isdigit() or int(declared) > self.max_body):
            await self._refuse(scope, send, declared.decode("latin-1"))
            return None
        chunks, size = [], 0
        while True:
            message = await receive()
            if message["type"] == "http.disconnect":
                return None
            chunks.append(message.get("body", b""))
            size += len(chunks[-1])
            if size > self.max_body:
                await self._refuse(scope, send, f"more than {size}")
                return None
            if not message.get("more_body"):
                return b"".join(chunks)

    async def _refuse(self, scope, send, size: str) -> None:
        status = 413 if size.isdigit() or size.startswith("more") else 400
        problem = (f"the request body ({size} bytes) exceeds max_body_bytes={self.max_body} ({units.size(self.max_body)})" if status == 413
                   else f"Content-Length '{size}' is not a number of bytes")
        detail = [{"loc": ["body"], "msg": problem, "type": "body_too_large" if status == 413 else "bad_content_length"}]
        await _json(status, {"detail": detail})(scope, None, send)


def _safe_errors(errors) -> dict:
    """Validation errors without the offending input (NaN cannot be written as JSON), capped."""
    detail = [{"loc": [p if isinstance(p, (int, str)) else str(p) for p in e.get("loc", ())], "msg": e.get("msg", ""),
               "type": e.get("type", "")} for e in list(errors)[:MAX_ERRORS]]
    return {"detail": detail, "errors_total": len(errors)}


def _unscorable(err: Unscorable, batch: bool = False):
    detail = [{"loc": ["body", "rows", row, column] if batch else ["body", column], "type": "value_out_of_range",
               "msg": f"the model cannot score this value: {distance:.3g} standard deviations from the training mean"}
              for row, column, distance in err.blame]
    return _json(422, {"detail": detail, "errors_total": len(detail)})


def _predictions(bundle: Bundle, scores: np.ndarray) -> list[dict]:
    model = bundle.model
    decisions = model.decide(scores).tolist() if model.task != "regression" else None
    if model.task == "binary_classification":
        return [{"score": s, "decision": d} for s, d in zip(scores.tolist(), decisions)]
    if model.task == "multiclass_classification":
        names = [str(c) for c in model.classes_]
        return [{"probabilities": dict(zip(names, p)), "decision": d} for p, d in zip(scores.tolist(), decisions)]
    return [{"prediction": v} for v in scores.tolist()]


class _Serving:
    """What the routes share: the bundles, A/B routing, scoring, the drift window and the metrics."""

    def __init__(self, champion: Bundle, config: ServerConfig, challenger: Optional[Bundle]):
        self.champion, self.config, self.challenger = champion, config, challenger
        self.task = task = champion.model.task
        self.classes = np.asarray(getattr(champion.model, "classes_", [])).tolist()
        names = list(score_columns(np.zeros((1, max(len(self.classes), 1))) if task == "multiclass_classification" else np.zeros(1),
                                   task, self.classes))
        self.window = None
        if champion.profile is not None:
            self.window = DriftWindow(champion.profile, list(champion.columns), names, config.drift_window)
        self.metrics = ServingMetrics(score_buckets(champion.profile, names, task), self.window, config.psi_threshold,
                                      config.drift_min_rows)
        for b in filter(None, (champion, challenger)):
            self.metrics.info.labels(b.variant, b.increment, b.model_name, b.sha256, b.version or "").set(1)
        self.threshold = getattr(champion.model, "threshold", None) if task == "binary_classification" else None
        self.header = config.key_header.lower()

    def route(self, request) -> Bundle:
        """The bundle answering ``request`` (the challenger on its share of keyed traffic), noted on its state."""
        bundle = self.champion
        if self.challenger is not None and assign(request.headers.get(self.header), self.config.split, self.config.salt) == CHALLENGER:
            bundle = self.challenger
        request.state.variant = bundle.variant
        return bundle

    def score(self, bundle: Bundle, rows: list[list]) -> dict:
        scores = bundle.checked_scores(rows)
        columns = score_columns(scores, self.task, self.classes)
        self.metrics.scored(bundle.variant, columns)
        if self.window is not None and bundle is self.champion:
            self.window.add(rows, columns)
        t = getattr(bundle.model, "threshold", None) if self.task == "binary_classification" else None
        return {"variant": bundle.variant, "model": bundle.sha256[:12], "threshold": t, "predictions": _predictions(bundle, scores)}

    def explain(self, row, request):
        """The champion's SHAP values for one row, or the 409/422 that says why not."""
        from specweave_ml.explain.shap_values import NEEDS_BACKGROUND, explain
        from specweave_ml.serving.reference import background_frame

        champion, task = self.champion, self.task
        request.state.variant = champion.variant
        frame = champion.frame([values(row)])
        if champion.profile is None and champion.explainer in NEEDS_BACKGROUND:
            return _json(409, {"detail": [{"loc": [], "type": "no_reference_profile",
                                           "msg": "explaining this model needs the background rows of its reference profile: run stage=package"}]})
        background = background_frame(champion.profile) if champion.profile else frame  # tree explainers ignore it
        try:
            scores = champion.checked_scores([values(row)])
        except Unscorable as err:
            return _unscorable(err)
        with np.errstate(all="ignore"):
            result = explain(champion.model, background, frame, task, champion.explainer)
        scale = getattr(champion.model, "class_scale", None)  # the class it decides, its weighted probability the highest
        cls = (int(np.argmax(np.asarray(scores[0]) * (1.0 if scale is None else np.asarray(scale, dtype=float))))
               if task == "multiclass_classification" else None)
        shap_values, base = result.for_class(None if cls is None else np.array([cls]))
        if not (np.isfinite(shap_values).all() and np.isfinite(base).all()):
            return _unscorable(Unscorable(champion.blame(0, values(row))))
        return _json(200, {
            "variant": champion.variant, "model": champion.sha256[:12], "explainer": result.explainer,
            "base_value": float(base[0]), "values": dict(zip(result.features, map(float, shap_values[0]))),
            "explained_class": None if cls is None else self.classes[cls], "prediction": _predictions(champion, scores)[0],
        })

    def health(self) -> dict:
        champion, challenger = self.champion, self.challenger
        return {"status": "ok", "increment": champion.increment, "model": champion.describe(),
                "challenger": challenger.describe() if challenger else None,
                "split": self.config.split if challenger else None, "threshold": self.threshold,
                "drift_reference": champion.profile is not None}


def create_app(champion: Bundle, config: ServerConfig, challenger: Optional[Bundle] = None):
    """The app serving ``champion`` (and ``challenger`` on its share of keyed traffic)."""
    from fastapi import FastAPI
    from fastapi.exceptions import RequestValidationError

    serving = _Serving(champion, config, challenger)
    Row = row_model(champion.columns)
    Batch = batch_model(Row, config.max_batch_rows)

    app = FastAPI(
        title=f"{champion.increment}: {champion.model_name}", version=champion.sha256[:12],
        description=f"Scores rows with the packaged model of {champion.increment}. "
                    f"A/B: requests with a `{config.key_header}` header are routed stickily by it.",
    )
    app.add_middleware(Guard, max_body_bytes=config.max_body_bytes, metrics=serving.metrics)

    @app.exception_handler(RequestValidationError)
    async def invalid(request, exc):
        return _json(422, _safe_errors(exc.errors()))

    _add_predict_routes(app, serving, Row, Batch)
    _add_explain_route(app, serving, Row)
    _add_info_routes(app, serving)
    app.state.metrics = serving.metrics
    return app


def _add_predict_routes(app, serving: _Serving, Row, Batch) -> None:
    """``/predict`` and ``/predict/batch``, routed between champion and challenger."""
    from fastapi import Request
    from starlette.concurrency import run_in_threadpool

    @app.post("/predict", response_model=PredictResponse, summary="Score one row")
    async def predict(row: Row, request: Request):  # type: ignore[valid-type]
        try:
            out = serving.score(serving.route(request), [values(row)])
        except Unscorable as err:
            return _unscorable(err)
        return _json(200, {"variant": out["variant"], "model": out["model"], "threshold": out["threshold"], **out["predictions"][0]})

    @app.post("/predict/batch", response_model=BatchResponse, summary="Score a batch of rows")
    async def predict_batch(batch: Batch, request: Request):  # type: ignore[valid-type]
        bundle = serving.route(request)
        try:
            return _json(200, await run_in_threadpool(serving.score, bundle, [values(r) for r in batch.rows]))
        except Unscorable as err:
            return _unscorable(err, batch=True)


def _add_explain_route(app, serving: _Serving, Row) -> None:
    """``/explain``: SHAP values of the champion (a sync route: FastAPI runs it in its thread pool)."""
    from fastapi import Request

    @app.post("/explain", response_model=ExplainResponse, summary="SHAP values of the champion for one row")
    def explain_row(row: Row, request: Request):  # type: ignore[valid-type]
        return serving.explain(row, request)


def _add_info_routes(app, serving: _Serving) -> None:
    """``/health`` and the Prometheus ``/metrics``."""
    from starlette.responses import Response

    @app.get("/health", summary="What is served")
    async def health():
        return serving.health()

    @app.get("/metrics", include_in_schema=False)
    async def prometheus():
        body, content_type = serving.metrics.render()
        return Response(body, media_type=content_type)
