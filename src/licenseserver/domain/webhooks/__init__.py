"""Webhooks: the events the server tells of, the outbox they are written to, the endpoints that
subscribe to them, and the deliverer (CONTRACT.md §9)."""
