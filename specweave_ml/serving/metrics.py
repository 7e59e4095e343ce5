"""Prometheus metrics of one app, in a registry of its own (several apps can live in one process: tests).

* ``specweave_requests_total{endpoint, status, variant}`` and ``specweave_request_latency_seconds{endpoint, variant}``;
* ``specweave_rows_scored_total{variant}`` and ``specweave_score{variant, output}``: the score distribution
  (a histogram kept in numpy, so a 5,000-row batch costs one ``searchsorted``, not 5,000 ``observe`` calls);
* ``specweave_drift_psi{column}``, ``specweave_drift_columns_alerting``, ``specweave_drift_window_rows``:
  PSI of the champion's recent traffic against the reference profile, computed when scraped;
* ``specweave_model_info{variant, increment, model, sha256, version}`` = 1.
"""

from __future__ import annotations

import threading
from typing import Optional

import numpy as np

LATENCY_BUCKETS = (0.0005, 0.001, 0.002, 0.003, 0.005, 0.0075, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0)
PROBABILITY_BUCKETS = tuple(round(0.05 * i, 2) for i in range(1, 20)) + (1.0,)


class ScoreHistogram:
    """A Prometheus histogram fed with whole arrays."""

    def __init__(self, name: str, documentation: str, buckets: dict[str, tuple[float, ...]]):
        self.name, self.documentation = name, documentation
        self.buckets = {output: np.asarray(b, dtype=float) for output, b in buckets.items()}
        self.state: dict[tuple[str, str], list] = {}
        self.lock = threading.Lock()

    def observe(self, variant: str, columns: dict[str, np.ndarray]) -> None:
        for output, values in columns.items():
            values = np.asarray(values, dtype=float)
            edges = self.buckets[output]
            counts = np.bincount(np.searchsorted(edges, values, side="left"), minlength=len(edges) + 1)
            with self.lock:
                state = self.state.setdefault((variant, output), [np.zeros(len(edges) + 1), 0.0])
                state[0] += counts
                state[1] += float(values.sum())

    def collect(self):
        from prometheus_client.core import HistogramMetricFamily

        family = HistogramMetricFamily(self.name, self.documentation, labels=["variant", "output"])
        with self.lock:
            items = [(k, v[0].copy(), v[1]) for k, v in self.state.items()]
        for (variant, output), counts, total in items:
            cumulative = np.cumsum(counts)
            edges = [*map(str, self.buckets[output]), "+Inf"]
            family.add_metric([variant, output], list(zip(edges, cumulative.tolist())), sum_value=total)
        yield family


class DriftCollector:
    """Drift gauges computed from the window when Prometheus scrapes."""

    def __init__(self, window, threshold: float, min_rows: int):
        self.window, self.threshold, self.min_rows = window, threshold, min_rows

    def collect(self):
        from prometheus_client.core import GaugeMetricFamily

        rows, values = self.window.psi()
        yield GaugeMetricFamily("specweave_drift_window_rows", "Rows in the drift window (champion traffic)", value=rows)
        psi = GaugeMetricFamily("specweave_drift_psi", "PSI of the window against the reference profile", labels=["column"])
        alerting = 0
        if rows >= self.min_rows:
            for column, value in values.items():
                psi.add_metric([column], value)
                alerting += value > self.threshold
        yield psi
        yield GaugeMetricFamily("specweave_drift_columns_alerting", f"Columns with PSI above {self.threshold:g}", value=alerting)


class ServingMetrics:
    def __init__(self, score_buckets: dict[str, tuple[float, ...]], window=None, threshold: float = 0.2, min_rows: int = 100):
        from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram

        self.registry = CollectorRegistry()
        self.requests = Counter("specweave_requests", "HTTP requests", ["endpoint", "status", "variant"], registry=self.registry)
        self.latency = Histogram("specweave_request_latency_seconds", "Time from request to response", ["endpoint", "variant"],
                                 buckets=LATENCY_BUCKETS, registry=self.registry)
        self.rows = Counter("specweave_rows_scored", "Rows scored", ["variant"], registry=self.registry)
        self.info = Gauge("specweave_model_info", "The models being served", ["variant", "increment", "model", "sha256", "version"],
                          registry=self.registry)
        self.scores = ScoreHistogram("specweave_score", "Distribution of the model's scores", score_buckets)
        self.registry.register(self.scores)
        if window is not None:
            self.registry.register(DriftCollector(window, threshold, min_rows))

    def request(self, endpoint: str, status: int, variant: Optional[str], seconds: float) -> None:
        variant = variant or "none"
        self.requests.labels(endpoint, str(status), variant).inc()
        self.latency.labels(endpoint, variant).observe(seconds)

    def scored(self, variant: str, columns: dict[str, np.ndarray]) -> None:
        self.rows.labels(variant).inc(len(next(iter(columns.values()))))
        self.scores.observe(variant, columns)

    def render(self) -> tuple[bytes, str]:
        from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

        return generate_latest(self.registry), CONTENT_TYPE_LATEST


def score_buckets(profile: Optional[dict], names: list[str], task: str) -> dict[str, tuple[float, ...]]:
    """Probability buckets for classifiers; the reference deciles (or Prometheus' defaults) for regression."""
    if task != "regression":
        return {n: PROBABILITY_BUCKETS for n in names}
    edges = ((profile or {}).get("scores", {}).get("prediction") or {}).get("edges") or [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10]
    return {n: tuple(sorted(set(edges))) for n in names}
