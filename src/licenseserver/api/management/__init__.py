"""The management API under /api/v1/ (docs/integrations.md, CONTRACT.md §9): the vendor's own
systems (shop, billing, CRM) change customers, licenses, devices, sessions, resources and leads
through the panel's domain services, authenticated by Bearer tokens (domain/tokens/).

One router module per resource; calls.py admits every call (token, rate limit, scope) and runs
it as one transaction; idempotency.py answers retried creates; lists.py pages every list."""

from __future__ import annotations

from fastapi import APIRouter

from licenseserver.api.management import customers, leads, licenses, resources, sessions

# The events feed (GET /api/v1/events, cursor paging over webhook_events) joins this list with
# the webhooks.
ROUTERS: tuple[APIRouter, ...] = (
    customers.router,
    licenses.router,
    sessions.router,
    resources.router,
    leads.router,
)
