"""Where several worker processes keep the metric totals `/metrics` adds up (kit/metrics.py)."""

from __future__ import annotations

import contextlib
import os
import shutil
import tempfile
from collections.abc import Iterator

from licenseserver.kit.metrics import METRICS_DIR_VARIABLE


@contextlib.contextmanager
def metrics_shared_by_workers(workers: int) -> Iterator[None]:
    """Several workers write their metric totals to files of one folder that /metrics adds up.
    Called before the workers start (they inherit the variable). A folder we make is removed at
    exit; one the operator gives is theirs (it should be empty at start)."""
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
