"""An open-loop load test: requests leave on a fixed schedule whatever the server answers.

A closed loop (send, wait, send) slows down with the server and hides its queueing; here request i is sent
at ``start + i / rate`` from its own task. Latency is measured from the moment a request is handed to the
client to its last byte; ``schedule_lag`` is how late the client itself sent, so a client that could not
keep up (two cores share it with the server) shows, rather than flattering the server.
"""

from __future__ import annotations

import asyncio
import logging
import time
from dataclasses import asdict, dataclass

import numpy as np


@dataclass
class LoadTestResult:
    target_rate: float
    duration_s: float
    sent: int
    ok: int
    errors: int
    error_rate: float
    achieved_rate: float  # successful answers per second of the sending window
    p50_ms: float
    p95_ms: float
    p99_ms: float
    max_ms: float
    schedule_lag_p95_ms: float
    status_counts: dict[str, int]

    def to_dict(self) -> dict:
        return asdict(self)


def _ms(values: list[float], q: float) -> float:
    return float(np.percentile(values, q) * 1000) if values else float("nan")


async def open_loop(url: str, payloads: list[bytes], rate: float, duration_s: float, timeout_s: float = 5.0,
                    headers: dict | None = None) -> LoadTestResult:
    """POST ``payloads`` (cycled) to ``url`` at ``rate`` requests/s for ``duration_s`` seconds."""
    import httpx

    logging.getLogger("httpx").setLevel(logging.WARNING)  # one INFO line per request otherwise

    n = max(1, int(round(rate * duration_s)))
    latencies, lags, statuses = [], [], {}
    limits = httpx.Limits(max_connections=512, max_keepalive_connections=512)
    hdrs = {"content-type": "application/json", **(headers or {})}

    async with httpx.AsyncClient(limits=limits, timeout=timeout_s) as client:
        async def one(i: int, scheduled: float) -> None:
            sent = time.perf_counter()
            lags.append(sent - scheduled)
            try:
                response = await client.post(url, content=payloads[i % len(payloads)], headers=hdrs)
                key = str(response.status_code)
                if response.status_code == 200:
                    latencies.append(time.perf_counter() - sent)
            except httpx.HTTPError as err:
                key = type(err).__name__
            statuses[key] = statuses.get(key, 0) + 1

        # Warm the connection pool and the server's first-call paths; not measured.
        await asyncio.gather(*(client.post(url, content=payloads[0], headers=hdrs) for _ in range(4)))
        tasks = []
        start = time.perf_counter()
        for i in range(n):
            scheduled = start + i / rate
            delay = scheduled - time.perf_counter()
            if delay > 0:
                await asyncio.sleep(delay)
            tasks.append(asyncio.create_task(one(i, scheduled)))
        window = max(time.perf_counter() - start, n / rate)
        await asyncio.gather(*tasks)

    ok = statuses.get("200", 0)
    return LoadTestResult(
        target_rate=rate, duration_s=duration_s, sent=n, ok=ok, errors=n - ok, error_rate=(n - ok) / n,
        achieved_rate=ok / window, p50_ms=_ms(latencies, 50), p95_ms=_ms(latencies, 95), p99_ms=_ms(latencies, 99),
        max_ms=_ms(latencies, 100), schedule_lag_p95_ms=_ms(lags, 95), status_counts=statuses,
    )


def run(url: str, payloads: list[bytes], rate: float, duration_s: float, timeout_s: float = 5.0,
        headers: dict | None = None) -> LoadTestResult:
    return asyncio.run(open_loop(url, payloads, rate, duration_s, timeout_s, headers))
