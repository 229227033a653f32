"""Fixtures of the webhook delivery tests (tests/webhooks_delivery/helpers.py)."""

from tests.webhooks_delivery.helpers import hooks, receiver

__all__ = ["hooks", "receiver"]
