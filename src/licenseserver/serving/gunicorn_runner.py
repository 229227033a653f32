"""`serve api|admin --workers N`: gunicorn's master supervises N uvicorn workers.

The master binds the port, forks the workers (each builds its own app after the fork, so no
database pool or event loop is shared), replaces a worker that dies or whose event loop stays
blocked for WORKER_SILENT_TIMEOUT, and on SIGTERM closes the port, asks every worker to finish
its in-flight requests within GRACEFUL_SECONDS and exits 0. Each worker is the same uvicorn
server (uvloop, httptools) that `--workers 1` runs, so a request costs the same.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

from gunicorn import glogging  # type: ignore[import-untyped]
from gunicorn.app.base import BaseApplication  # type: ignore[import-untyped]
from uvicorn_worker import UvicornWorker  # type: ignore[import-untyped]

from licenseserver.kit.logs import SERVER_LOGGERS
from licenseserver.serving.timeouts import GRACEFUL_SECONDS, WORKER_GRACEFUL_SECONDS, WORKER_SILENT_TIMEOUT


class AppWorker(UvicornWorker):  # type: ignore[misc]
    CONFIG_KWARGS: dict[str, Any] = {  # noqa: RUF012 (the base class declares it this way)
        "loop": "uvloop",
        "http": "httptools",
        "proxy_headers": False,  # the app alone believes X-Forwarded-For, from TRUSTED_PROXIES
        "server_header": False,
        "access_log": False,  # the app writes its own access line with the request id
        "timeout_graceful_shutdown": WORKER_GRACEFUL_SECONDS,
    }

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        # The base class hands uvicorn gunicorn's handlers; ours on the root logger format every line.
        for name in SERVER_LOGGERS:
            logging.getLogger(name).handlers.clear()
        logging.getLogger("uvicorn.error").propagate = True


class RootLogger(glogging.Logger):  # type: ignore[misc]
    """gunicorn's logger without handlers of its own: its lines go to the root logger's handler
    (JSON or text, kit/logs.py). Its access log stays off: the app writes one line per request."""

    def setup(self, cfg: Any) -> None:
        self.error_log.handlers.clear()
        self.error_log.propagate = True
        self.error_log.setLevel(self.LOG_LEVELS.get(cfg.loglevel.lower(), logging.INFO))
        self.access_log.handlers.clear()
        self.access_log.propagate = False
        self.access_log.disabled = True


class GunicornApp(BaseApplication):  # type: ignore[misc]
    def __init__(self, factory: Callable[[], Any], options: dict[str, Any]) -> None:
        self.factory = factory
        self.options = options
        super().__init__()

    def load_config(self) -> None:
        for name, value in self.options.items():
            self.cfg.set(name, value)

    def load(self) -> Any:
        return self.factory()  # in each worker, after the fork


def run_gunicorn(factory: Callable[[], Any], host: str, port: int, workers: int, log_level: str) -> None:
    options = {
        "bind": [f"[{host}]:{port}" if ":" in host else f"{host}:{port}"],
        "workers": workers,
        "worker_class": AppWorker,
        "graceful_timeout": GRACEFUL_SECONDS,
        "timeout": WORKER_SILENT_TIMEOUT,
        "keepalive": 5,
        "logger_class": RootLogger,
        "loglevel": log_level.lower(),
        "proc_name": "licenseserver",
        "control_socket_disable": True,
    }
    GunicornApp(factory, options).run()
