"""Webhooks: the event outbox, the endpoints that subscribe to it, and the deliverer (CONTRACT.md §9)."""
