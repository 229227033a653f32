"""All tables, imported in one place so that Alembic and the tests see the whole schema."""

from licenseserver.db.models.base import Base
from licenseserver.db.models.clients import ClientConfig, ClientRelease
from licenseserver.db.models.integrations import (
    ApiToken,
    IdempotentAnswer,
    WebhookAttempt,
    WebhookDelivery,
    WebhookEndpoint,
    WebhookEvent,
)
from licenseserver.db.models.leads import LeadContact, LeadContactDetail, LeadInstitution, LeadNote, LeadNoteVersion
from licenseserver.db.models.licensing import Activation, Customer, License
from licenseserver.db.models.resources import Resource, ResourceHistory
from licenseserver.db.models.sessions import ClientSession
from licenseserver.db.models.signing import SigningKey
from licenseserver.db.models.staff import AdminRecoveryCode, AdminSession, AdminUser, AppSecret, AuditEntry
from licenseserver.db.models.system import RateLimitSettings, SystemApiKey

__all__ = [
    "Activation",
    "AdminRecoveryCode",
    "AdminSession",
    "AdminUser",
    "ApiToken",
    "AppSecret",
    "AuditEntry",
    "Base",
    "ClientConfig",
    "ClientRelease",
    "ClientSession",
    "Customer",
    "IdempotentAnswer",
    "LeadContact",
    "LeadContactDetail",
    "LeadInstitution",
    "LeadNote",
    "LeadNoteVersion",
    "License",
    "RateLimitSettings",
    "Resource",
    "ResourceHistory",
    "SigningKey",
    "SystemApiKey",
    "WebhookAttempt",
    "WebhookDelivery",
    "WebhookEndpoint",
    "WebhookEvent",
]
