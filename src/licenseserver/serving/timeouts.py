"""How long a server waits at shutdown and for a stuck worker; both runners read them."""

from __future__ import annotations

GRACEFUL_SECONDS = 25  # in-flight requests get this long after SIGTERM; then the process exits
# A gunicorn worker's own server gives up a little earlier, so it still ends its lifespan cleanly.
WORKER_GRACEFUL_SECONDS = GRACEFUL_SECONDS - 3
WORKER_SILENT_TIMEOUT = 30  # gunicorn replaces a worker whose event loop is blocked this long
