"""The management API under /api/v1/ (docs/integrations.md, CONTRACT.md §9): the vendor's own
systems (shop, billing, CRM) change customers, licenses, devices, sessions, resources and leads
through the panel's domain services, authenticated by Bearer tokens (domain/tokens/).

One router module per resource; calls.py admits every call (token, rate limit, scope) and runs
it as one transaction; idempotency.py answers retried creates; lists.py pages every list."""

from __future__ import annotations

from fastapi import APIRouter

from licenseserver.api.management import customers, leads, licenses, resources, sessions
from licenseserver.api.management.methods import method_refusals

# The events feed (GET /api/v1/events, cursor paging over webhook_events) joins this list with
# the webhooks.
RESOURCE_ROUTERS: tuple[APIRouter, ...] = (
    customers.router,
    licenses.router,
    sessions.router,
    resources.router,
    leads.router,
)
# The 405 answers last: they take only the methods no route above takes.
ROUTERS = (*RESOURCE_ROUTERS, method_refusals(RESOURCE_ROUTERS))
