"""Where several worker processes keep the metrics `/metrics` merges."""

from __future__ import annotations

import contextlib
import os
import shutil
import tempfile
from collections.abc import Iterator

METRICS_DIR_VARIABLE = "PROMETHEUS_MULTIPROC_DIR"


@contextlib.contextmanager
def metrics_shared_by_workers(workers: int) -> Iterator[None]:
    """Several workers keep their metrics in files of one folder that /metrics merges. Called
    before anything imports prometheus_client, which reads the variable once. A folder we make is
    removed at exit; one the operator gives is theirs (it should be empty at start)."""
    if workers <= 1 or os.environ.get(METRICS_DIR_VARIABLE):
        yield
        return
    folder = tempfile.mkdtemp(prefix="licenseserver-metrics-")
    os.environ[METRICS_DIR_VARIABLE] = folder
    owner = os.getpid()
    try:
        yield
    finally:
        # A gunicorn worker is a fork that leaves through this block too: only the master cleans up.
        if os.getpid() == owner:
            shutil.rmtree(folder, ignore_errors=True)
