"""Prometheus metrics of both apps, counted in-process (kit/tally.py) and exported at scrape.
With several worker processes the `serve` command sets PROMETHEUS_MULTIPROC_DIR before any
worker starts; each worker writes its totals there once a second and `/metrics` adds them up."""

from __future__ import annotations

import asyncio
import atexit
import contextlib
import os
from collections.abc import AsyncIterator, Iterable

from prometheus_client import CONTENT_TYPE_LATEST, REGISTRY, CollectorRegistry, generate_latest
from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

from licenseserver.kit.tally import SnapshotCollector, TallyCounter, TallyFiles, TallyHistogram, snapshot

METRICS_DIR_VARIABLE = "PROMETHEUS_MULTIPROC_DIR"
# How often a worker writes its totals for the others' scrapes to add up.
TALLY_WRITE_SECONDS = 1.0
PREFIX = "licenseserver"

HTTP_REQUESTS = TallyCounter(
    f"{PREFIX}_http_requests_total", "HTTP requests by route template and status", ["app", "method", "route", "status"]
)
HTTP_LATENCY = TallyHistogram(
    f"{PREFIX}_http_request_duration_seconds",
    "Time to answer a request, by route template",
    ["app", "route"],
    buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0),
)
ACTIVATIONS = TallyCounter(f"{PREFIX}_activations_total", "Activation requests by result", ["result"])
VERIFICATIONS = TallyCounter(f"{PREFIX}_verifications_total", "Verify requests by result", ["result"])
SESSIONS_STARTED = TallyCounter(f"{PREFIX}_sessions_started_total", "Sessions started")
SESSIONS_REFUSED = TallyCounter(f"{PREFIX}_sessions_refused_total", "Session starts refused, by code", ["code"])
SESSIONS_ENDED = TallyCounter(f"{PREFIX}_sessions_ended_total", "Sessions ended, by reason", ["reason"])
RATE_LIMITED = TallyCounter(f"{PREFIX}_rate_limited_total", "Requests refused by a rate limit", ["scope"])
RATE_LIMIT_FALLBACKS = TallyCounter(
    f"{PREFIX}_ratelimit_fallbacks_total",
    "Rate-limit decisions taken in-process because Redis did not answer in time",
    ["limiter"],
)


def render_metrics(live_sessions: int) -> tuple[bytes, str]:
    """The exposition text: every process's counters plus gauges read from the database now."""
    files = _tally_files()
    if files is not None:
        registry = CollectorRegistry()
        registry.register(SnapshotCollector(files.read_all))
        counters = generate_latest(registry)
    else:
        counters = generate_latest(REGISTRY)
    scrape = CollectorRegistry()
    scrape.register(_ReadNow({f"{PREFIX}_sessions_live": ("Sessions live right now", live_sessions)}))
    return counters + generate_latest(scrape), CONTENT_TYPE_LATEST


_files: list[TallyFiles] = []


def _tally_files() -> TallyFiles | None:
    """This worker's file in the shared folder, when there is one (made in the worker, after
    the fork, so it is named by the worker's pid)."""
    folder = os.environ.get(METRICS_DIR_VARIABLE)
    if not folder:
        return None
    if not _files:
        _files.append(TallyFiles(folder))
        atexit.register(_files[0].write)
    return _files[0]


async def _keep_writing(files: TallyFiles) -> None:
    while True:
        await asyncio.sleep(TALLY_WRITE_SECONDS)
        with contextlib.suppress(OSError):  # a full or vanished folder costs metrics, never requests
            files.write()


@contextlib.asynccontextmanager
async def tally_written() -> AsyncIterator[None]:
    """While an app serves: with several workers, write this one's totals for the others'
    scrapes every TALLY_WRITE_SECONDS, and once more when it stops."""
    files = _tally_files()
    if files is None:
        yield
        return
    writer = asyncio.create_task(_keep_writing(files))
    try:
        yield
    finally:
        writer.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await writer
        with contextlib.suppress(OSError):
            files.write()


REGISTRY.register(SnapshotCollector(snapshot))


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
