"""Webhooks: the events the server tells of, the outbox they are written to, the endpoints that receive them."""
