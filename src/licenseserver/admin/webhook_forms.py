"""The webhook pages' form and words: the endpoint form read from the post (several event
checkboxes share one name, which `formdata.form_fields` would fold into one), the names of the
event types and delivery states, and the address rule's refusal in the staff member's language.

kit.safe_targets words its reasons as short English phrases for every caller; the panel says
them again here, phrase by phrase, so a refused URL reads German (or English) with its reason.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

from starlette.requests import Request

from licenseserver.admin.formdata import checked_form, form_text, parse_form
from licenseserver.admin.i18n import N_, gettext
from licenseserver.admin.i18n import lazy_gettext as _l
from licenseserver.domain.webhooks.endpoints import Endpoint, EndpointCreate
from licenseserver.domain.webhooks.events import EVENT_TYPES
from licenseserver.kit.errors import AppError, ErrorCode

LABELS: dict[str, Any] = {
    "url": _l("URL"),
    "description": _l("Beschreibung"),
    "event_types": _l("Ereignisse"),
    "enabled": _l("Aktiv"),
}
EVENT_DESCRIPTIONS: dict[str, Any] = {
    "license.created": _l("Lizenz angelegt"),
    "license.updated": _l("Lizenz geändert"),
    "license.deactivated": _l("Lizenz deaktiviert"),
    "license.expiring": _l("Lizenz läuft bald ab (einmal, einige Tage vorher)"),
    "license.expired": _l("Lizenz abgelaufen"),
    "activation.created": _l("Gerät aktiviert"),
    "activation.deactivated": _l("Gerät deaktiviert"),
    "activation.refused": _l("Aktivierung abgelehnt (Grenze erreicht)"),
    "session.started": _l("Sitzung gestartet"),
    "session.refused": _l("Sitzung abgelehnt"),
    "session.ended": _l("Sitzung beendet"),
    "api_key.regenerated": _l("System-API-Key neu erzeugt"),
    "lead.created": _l("Lead angelegt"),
}
DELIVERY_STATES: dict[str, tuple[Any, str]] = {
    "pending": (_l("ausstehend"), "warn"),
    "delivered": (_l("zugestellt"), "ok"),
    "failed": (_l("aufgegeben"), "bad"),
}
NO_EVENT = N_("Bitte mindestens ein Ereignis wählen.")

# kit.safe_targets.check_url's reasons, and the kinds of address refused_reason names.
URL_REFUSED = "Webhook URL refused: "
REASONS: dict[str, str] = {
    "not a valid URL": N_("keine gültige URL"),
    "the URL must start with http:// or https://": N_("die URL muss mit http:// oder https:// beginnen"),
    "the URL has no host": N_("die URL nennt keinen Host"),
}
ADDRESS_KINDS: dict[str, str] = {
    "IPv4-mapped IPv6 address": N_("IPv4-gemappte IPv6-Adresse"),
    "unspecified address": N_("unspezifizierte Adresse"),
    "loopback address": N_("Loopback-Adresse (dieser Rechner)"),
    "cloud metadata address": N_("Metadaten-Adresse der Cloud"),
    "link-local address": N_("Link-Local-Adresse"),
    "carrier-grade NAT address": N_("Adresse hinter Carrier-Grade-NAT"),
    "multicast address": N_("Multicast-Adresse"),
    "unique local address": N_("private IPv6-Adresse (Unique Local)"),
    "site-local address": N_("Site-Local-Adresse"),
    "private address": N_("private Adresse"),
    "reserved address": N_("reservierte Adresse"),
    "non-public address": N_("nicht öffentliche Adresse"),
}
DOES_NOT_RESOLVE = re.compile(r"the host (?P<host>.+) does not resolve")
RESOLVES_TO = re.compile(r"(?P<host>.+) resolves to (?P<address>\S+): (?P<kind>.+)")
IS_ADDRESS = re.compile(r"(?P<host>.+): (?P<kind>.+)")


@dataclass
class EndpointForm:
    """The form's values as posted, shown again when the form is refused."""

    url: str = ""
    description: str = ""
    event_types: list[str] = field(default_factory=list)
    enabled: bool = True

    @classmethod
    def of(cls, endpoint: Endpoint) -> EndpointForm:
        return cls(endpoint.url, endpoint.description, list(endpoint.event_types), endpoint.enabled)

    def as_data(self) -> dict[str, Any]:
        return {
            "url": self.url,
            "description": self.description,
            "event_types": self.event_types,
            "enabled": self.enabled,
        }


async def read_endpoint_form(request: Request) -> EndpointForm:
    form = await checked_form(request)
    chosen = [value for value in form.getlist("event_types") if isinstance(value, str)]
    return EndpointForm(form_text(form, "url"), form_text(form, "description"), chosen, "enabled" in form)


def checked_endpoint_form(form: EndpointForm) -> EndpointCreate:
    """The endpoint's fields validated (the address rule is the domain's, when it saves)."""
    if not form.event_types:
        raise AppError(400, ErrorCode.VALIDATION_ERROR, NO_EVENT)
    # The domain refuses unknown types too, in the API's English; only a forged form sends one.
    unknown = next((name for name in form.event_types if name not in EVENT_TYPES), None)
    if unknown is not None:
        message = gettext(N_("Unbekanntes Ereignis: %(name)s")) % {"name": unknown}
        raise AppError(400, ErrorCode.VALIDATION_ERROR, message)
    return parse_form(EndpointCreate, form.as_data(), LABELS)


def _kind(text: str) -> str:
    return gettext(ADDRESS_KINDS[text]) if text in ADDRESS_KINDS else text


def _reason(text: str) -> str:
    if text in REASONS:
        return gettext(REASONS[text])
    if match := DOES_NOT_RESOLVE.fullmatch(text):
        return gettext(N_("der Host %(host)s lässt sich nicht auflösen")) % match.groupdict()
    if (match := RESOLVES_TO.fullmatch(text)) and match["kind"] in ADDRESS_KINDS:
        values = {"host": match["host"], "address": match["address"], "kind": _kind(match["kind"])}
        return gettext(N_("%(host)s zeigt auf %(address)s, eine %(kind)s")) % values
    if (match := IS_ADDRESS.fullmatch(text)) and match["kind"] in ADDRESS_KINDS:
        return gettext(N_("%(host)s ist eine %(kind)s")) % {"host": match["host"], "kind": _kind(match["kind"])}
    return text


def url_refusal(exc: AppError) -> AppError:
    """The domain's URL refusal with its reason in the page's language; other refusals as they are."""
    if not exc.message.startswith(URL_REFUSED):
        return exc
    reason = _reason(exc.message.removeprefix(URL_REFUSED))
    message = gettext(N_("Die Webhook-URL wird abgelehnt: %(reason)s.")) % {"reason": reason}
    hint = gettext(
        N_(
            "Webhooks gehen nur an öffentliche Adressen; für Empfänger im eigenen Netz setzt der Betreiber"
            " WEBHOOK_ALLOW_PRIVATE=true."
        )
    )
    return AppError(exc.status, exc.code, f"{message} {hint}", **exc.extra)
