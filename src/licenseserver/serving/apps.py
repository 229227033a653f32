"""The two web apps by name: their default ports and the factories that build them."""

from __future__ import annotations

from collections.abc import Callable
from importlib import import_module
from typing import Any

DEFAULT_PORTS = {"api": 8000, "admin": 8001}
# Import strings, not the factories: importing an app here would load prometheus_client before
# `metrics_shared_by_workers` has told it where the workers keep their files.
FACTORIES = {"api": "licenseserver.api.app:create_api_app", "admin": "licenseserver.admin.app:create_admin_app"}


def load_factory(service: str) -> Callable[[], Any]:
    module, name = FACTORIES[service].split(":")
    factory: Callable[[], Any] = getattr(import_module(module), name)
    return factory
