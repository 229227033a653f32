"""The words under each global-search hit on the panel, in the staff member's language.

The domain's hits carry the reference's subtitle (`"ACME Corp - Active"`, `"ipv4 - allocated -
KEY"`, `"Lead - university"`: the JSON endpoint's fixed format) and the codes in it; the panel names
the codes with its own labels (admin/labels.py, the catalogs) instead of keeping a second German
copy of them in the domain."""

from __future__ import annotations

from licenseserver.admin.i18n import format_number, gettext, ngettext
from licenseserver.admin.labels import INSTITUTION_TYPES, RESOURCE_TYPES, label
from licenseserver.admin.messages import RESOURCE_STATES
from licenseserver.domain.search.hits import SearchGroup, SearchHit

DASH = " – "


def _customer(hit: SearchHit) -> str:
    count = hit.license_count or 0
    return hit.subtitle + DASH + ngettext("%(num)s Lizenz", "%(num)s Lizenzen", count) % {"num": count}


def _license(hit: SearchHit) -> str:
    customer, _sep, state = hit.subtitle.rpartition(" - ")
    return customer + DASH + (gettext("aktiv") if state == "Active" else gettext("inaktiv"))


def _resource(hit: SearchHit) -> str:
    kind, status, *license_key = hit.subtitle.split(" - ", 2)
    words = label(RESOURCE_TYPES, kind) + DASH + label(RESOURCE_STATES, status)
    return f"{words} ({license_key[0]})" if license_key else words


def hit_words(hit: SearchHit) -> str:
    if hit.type == "customer":
        return _customer(hit)
    if hit.type == "license":
        return _license(hit)
    if hit.type == "device":
        return gettext("Lizenz %(key)s") % {"key": hit.subtitle}
    if hit.type == "lead":
        return label(INSTITUTION_TYPES, hit.subtitle.removeprefix("Lead - "))
    if hit.type == "resource":
        return _resource(hit)
    return hit.page_subtitle or hit.subtitle


def group_count(group: SearchGroup) -> str:
    """The count beside a kind's heading: "12", or "mehr als 1.000" when the count stopped there."""
    number = format_number(group.total)
    return gettext("mehr als %(num)s") % {"num": number} if group.capped else number
