"""Management API tokens: made and revoked by staff (panel, CLI), checked on every call of the
management API (docs/integrations.md, CONTRACT.md §9)."""
