"""Running the web apps: uvicorn (uvloop + httptools: see docs/performance.md) in this process
for one worker and for `serve all`; gunicorn's master over uvicorn workers for `--workers N`.

Why two ways: a single process needs no supervisor, so `--workers 1` and `serve all` cost nothing
extra. Several workers need one that restarts a crashed or stuck worker and shuts them all down
gracefully; gunicorn does that, and each of its workers is the same uvicorn server, so a request
costs the same either way. SIGTERM stops accepting connections, lets in-flight requests finish
(at most GRACEFUL_SECONDS) and exits 0.

The modules, each importing only those above it: `timeouts` and `apps` (names, ports, factories),
`metrics_dir`, `uvicorn_runner`, `gunicorn_runner`, and `services` (what `serve` runs).
"""

from __future__ import annotations

from licenseserver.serving.apps import DEFAULT_PORTS
from licenseserver.serving.metrics_dir import metrics_shared_by_workers
from licenseserver.serving.services import serve_services
from licenseserver.serving.uvicorn_runner import uvicorn_options

__all__ = ["DEFAULT_PORTS", "metrics_shared_by_workers", "serve_services", "uvicorn_options"]
