"""Prometheus metrics of both apps. With several worker processes the `serve` command sets
PROMETHEUS_MULTIPROC_DIR before any worker starts, and `/metrics` merges every worker's files."""

from __future__ import annotations

import os
from collections.abc import Iterable

from prometheus_client import (
    CONTENT_TYPE_LATEST,
    CollectorRegistry,
    Counter,
    Histogram,
    disable_created_metrics,
    generate_latest,
)
from prometheus_client import multiprocess as prometheus_multiprocess
from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

PREFIX = "licenseserver"

# `_created` series double the output and no dashboard of ours reads them.
disable_created_metrics()  # type: ignore[no-untyped-call]

HTTP_REQUESTS = Counter(
    f"{PREFIX}_http_requests_total", "HTTP requests by route template and status", ["app", "method", "route", "status"]
)
HTTP_LATENCY = Histogram(
    f"{PREFIX}_http_request_duration_seconds",
    "Time to answer a request, by route template",
    ["app", "route"],
    buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0),
)
ACTIVATIONS = Counter(f"{PREFIX}_activations_total", "Activation requests by result", ["result"])
VERIFICATIONS = Counter(f"{PREFIX}_verifications_total", "Verify requests by result", ["result"])
SESSIONS_STARTED = Counter(f"{PREFIX}_sessions_started_total", "Sessions started")
SESSIONS_REFUSED = Counter(f"{PREFIX}_sessions_refused_total", "Session starts refused, by code", ["code"])
SESSIONS_ENDED = Counter(f"{PREFIX}_sessions_ended_total", "Sessions ended, by reason", ["reason"])
RATE_LIMITED = Counter(f"{PREFIX}_rate_limited_total", "Requests refused by a rate limit", ["scope"])
RATE_LIMIT_FALLBACKS = Counter(
    f"{PREFIX}_ratelimit_fallbacks_total",
    "Rate-limit decisions taken in-process because Redis did not answer in time",
    ["limiter"],
)


def render_metrics(live_sessions: int) -> tuple[bytes, str]:
    """The exposition text: every process's counters plus gauges read from the database now."""
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        registry = CollectorRegistry()
        prometheus_multiprocess.MultiProcessCollector(registry)  # type: ignore[no-untyped-call]
        counters = generate_latest(registry)
    else:
        from prometheus_client import REGISTRY

        counters = generate_latest(REGISTRY)
    scrape = CollectorRegistry()
    scrape.register(_ReadNow({f"{PREFIX}_sessions_live": ("Sessions live right now", live_sessions)}))
    return counters + generate_latest(scrape), CONTENT_TYPE_LATEST


class _ReadNow(Collector):
    """Gauges whose value is read from the database at scrape time, identical in every worker.
    (A plain Gauge would go through the multiprocess files and be summed per worker.)"""

    def __init__(self, values: dict[str, tuple[str, float]]) -> None:
        self._values = values

    def collect(self) -> Iterable[Metric]:
        for name, (documentation, value) in self._values.items():
            yield GaugeMetricFamily(name, documentation, value=value)


def count_request(app: str, method: str, route: str, status: int, seconds: float) -> None:
    """One answered request, by its route template (never the raw path)."""
    HTTP_REQUESTS.labels(app, method, route, str(status)).inc()
    HTTP_LATENCY.labels(app, route).observe(seconds)
