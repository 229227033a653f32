"""Names of the codes the panel shows: audit actions and object types, session end reasons,
resource types and lead institution types. The codes stay in the database and in filters; the operator reads these."""

from __future__ import annotations

from typing import Any

from licenseserver.admin.i18n import lazy_gettext as _l
from licenseserver.domain.licensing.staff_edits import LICENSE_TYPES

AUDIT_ACTIONS: dict[str, Any] = {
    "login": _l("Anmeldung"),
    "login_failed": _l("Anmeldung fehlgeschlagen"),
    "login_throttled": _l("Anmeldung gebremst"),
    "logout": _l("Abmeldung"),
    "password_changed": _l("Passwort geändert"),
    "totp_enabled": _l("Zwei-Faktor-Anmeldung eingerichtet"),
    "totp_disabled": _l("Zwei-Faktor-Anmeldung ausgeschaltet"),
    "recovery_codes_generated": _l("Wiederherstellungscodes erzeugt"),
    "recovery_code_used": _l("Mit Wiederherstellungscode angemeldet"),
    "language_changed": _l("Sprache geändert"),
    "create": _l("Angelegt"),
    "update": _l("Geändert"),
    "delete": _l("Gelöscht"),
    "activate": _l("Aktiviert"),
    "deactivate": _l("Deaktiviert"),
    "import": _l("Importiert"),
    "device_register": _l("Gerät registriert"),
    "device_deactivate": _l("Gerät deaktiviert"),
    "session_end": _l("Sitzung beendet"),
    "offline_file_issued": _l("Offline-Lizenzdatei ausgestellt"),
    "resource_create": _l("Ressourcen angelegt"),
    "resource_allocate": _l("Ressourcen zugewiesen"),
    "resource_release": _l("Ressource freigegeben"),
    "resource_quarantine": _l("Ressource in Quarantäne"),
    "api_key_regenerated": _l("System-API-Key neu erzeugt"),
    "rate_limits_updated": _l("Rate-Limits geändert"),
    "client_created": _l("Client angelegt"),
    "client_updated": _l("Client geändert"),
    "release_added": _l("Release hinzugefügt"),
    "release_deleted": _l("Release gelöscht"),
    "signing_key_rotated": _l("Signaturschlüssel erneuert"),
    "signing_key_retired": _l("Signaturschlüssel zurückgezogen"),
    "revoke": _l("Widerrufen"),
    "webhook_secret_rotated": _l("Webhook-Secret erneuert"),
    "webhook_redelivered": _l("Webhook erneut gesendet"),
}
AUDIT_ENTITY_TYPES: dict[str, Any] = {
    "license": _l("Lizenz"),
    "customer": _l("Kunde"),
    "device": _l("Gerät"),
    "session": _l("Sitzung"),
    "resource": _l("Ressource"),
    "admin_user": _l("Mitarbeiterkonto"),
    "lead_institution": _l("Lead-Institution"),
    "lead_contact": _l("Lead-Kontakt"),
    "lead_contact_detail": _l("Lead-Kontaktangabe"),
    "lead_note": _l("Lead-Notiz"),
    "system_api_key": _l("System-API-Key"),
    "rate_limit_settings": _l("Rate-Limits"),
    "client_config": _l("Client"),
    "client_release": _l("Client-Release"),
    "signing_key": _l("Signaturschlüssel"),
    "api_token": _l("API-Zugang"),
    "webhook_endpoint": _l("Webhook-Endpunkt"),
    "webhook_delivery": _l("Webhook-Zustellung"),
}
END_REASONS: dict[str, Any] = {
    "normal": _l("vom Client beendet"),
    "admin": _l("durch Mitarbeiter beendet"),
    "timeout": _l("Zeitüberschreitung"),
}
RESOURCE_TYPES: dict[str, Any] = {
    "domain": _l("Domain"),
    "ipv4": _l("IPv4-Adresse"),
    "phone": _l("Telefonnummer"),
    "server": _l("Server"),
}

# The lead pages' names (domain/leads/schemas.py keeps the German ones for the domain's messages).
INSTITUTION_TYPES: dict[str, Any] = {
    "university": _l("Universität"),
    "company": _l("Unternehmen"),
    "government": _l("Behörde"),
    "other": _l("Sonstige"),
}
DETAIL_TYPES: dict[str, Any] = {"email": _l("E-Mail"), "phone": _l("Telefon")}
# The license pages' names of a license's state (domain/licensing/rules.py) and type.
LICENSE_STATES: dict[str, Any] = {
    "active": _l("Aktiv"),
    "inactive": _l("Inaktiv"),
    "expired": _l("Abgelaufen"),
    "expiring": _l("Läuft bald ab"),
    "not_yet_valid": _l("Noch nicht gültig"),
}
LICENSE_TYPE_NAMES: dict[str, Any] = {
    "perpetual": _l("Unbefristet"),
    "subscription": _l("Abonnement"),
    "trial": _l("Testversion"),
}


def license_labels() -> dict[str, Any]:
    """The license list's, row's and form's template names for states and types."""
    return {"state_labels": LICENSE_STATES, "type_labels": LICENSE_TYPE_NAMES, "license_types": LICENSE_TYPES}


def label(labels: dict[str, Any], code: str | None) -> str:
    """The code's name; an unknown code (a newer release wrote it) is shown as it is."""
    if code is None:
        return "–"
    return str(labels.get(code, code))


def template_globals() -> dict[str, Any]:
    return {
        "audit_actions": AUDIT_ACTIONS,
        "audit_entity_types": AUDIT_ENTITY_TYPES,
        "end_reasons": END_REASONS,
        "resource_type_labels": RESOURCE_TYPES,
        "label": label,
    }
