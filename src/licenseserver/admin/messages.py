"""Messages shown in the panel, in the staff member's language.

The domain's refusals keep their wording: the License API answers with them and its wire format
is fixed by the contract. The panel translates them when it shows them: a message is looked up in
the catalog as it is, else matched against the templates below (msgid = the source's wording with
named placeholders); the values filled in are translated too where they are codes or messages.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from functools import cache

from licenseserver.admin.i18n import N_, gettext, has_translation, lazy_gettext
from licenseserver.admin.labels import RESOURCE_TYPES

_l = lazy_gettext

TEMPLATES = (
    # The License API's and the domain's refusals (English at the source).
    N_("Only %(available)s resources of type %(type)s are available, %(requested)s requested"),
    N_("Resources not available: %(ids)s"),
    N_("Resources not found: %(ids)s"),
    N_("Not every resource is of type %(type)s"),
    N_("Unknown resource type %(type)s; use one of %(allowed)s"),
    N_("Not a valid %(type)s: %(identifier)s"),
    N_("Already in the pool: %(identifiers)s"),
    N_("Resource is already %(status)s"),
    N_("License %(id)s not found"),
    N_("Customer %(id)s not found"),
    N_("Institution %(id)s not found"),
    N_("Contact %(id)s not found"),
    N_("Note %(id)s not found"),
    N_("Activation limit reached (%(limit)s devices)"),
    N_("No signing key %(kid)s"),
    N_("Password: at least %(count)s characters"),
    N_("Admin %(name)s already exists"),
    N_("Version %(version)s is no longer supported; please update"),
    N_("Invalid request: %(field)s: %(problem)s"),
    N_("Invalid request: %(name)s: use one of %(allowed)s"),
    N_("Value error, %(problem)s"),
    N_("must be at most %(limit)s characters"),
    # The panel's own and the domain's German refusals with values in them.
    N_("Client %(id)s nicht gefunden"),
    N_("Release %(id)s nicht gefunden"),
    N_("Version %(version)s ist bereits veröffentlicht."),
    N_("Ein Client namens %(name)s existiert bereits."),
    N_("Der Lizenzschlüssel %(key)s ist bereits vergeben."),
    N_("%(active)s Geräte sind aktiviert; bitte zuerst Geräte deaktivieren, bevor die Grenze auf %(limit)s sinkt."),
    N_("Ungültige Eingabe – %(field)s: %(problem)s"),
    N_("Ungültige Eingabe: %(name)s muss Text sein"),
    N_("Nichts importiert: %(count)s Problem(e) in der Datei."),
    N_("muss einer der Werte %(expected)s sein"),
    N_("muss 1 bis %(limit)s Zeichen lang sein"),
    N_("darf höchstens %(limit)s Zeichen lang sein"),
    N_("mehr als %(limit)s Datenzeilen"),
    N_("hat %(count)s Felder statt %(expected_count)s"),
    N_("Kunde %(id)s existiert nicht"),
    N_("fehlt, aber %(column)s ist ausgefüllt"),
    N_("weicht von Zeile %(line)s ab (dieselbe Referenz, andere Angaben)"),
    N_("muss mindestens %(ge)s sein"),
    N_("muss größer als %(gt)s sein"),
    N_("muss kleiner als %(lt)s sein"),
    N_("Bitte 1 bis %(limit)s Bezeichner angeben, einen je Zeile."),
    N_("Import abgeschlossen: %(count)s Institution(en) angelegt."),
    N_("Die Anfrage ist zu groß: höchstens %(limit)s KiB."),
    N_("Die Datei ist zu groß: höchstens %(limit)s MiB."),
    N_("%(n)s Lizenz(en) aktiviert."),
    N_("%(n)s Lizenz(en) deaktiviert."),
    N_("%(n)s Lizenz(en) gelöscht."),
    N_("darf höchstens %(le)s sein"),
    # A check of a whole form, without a field (after the template with a field, which is tried first).
    N_("Ungültige Eingabe – %(problem)s"),
    # The lead import's checks (domain/leads: csv_encoding, csv_format, import_check).
    N_("Die Datei wurde als %(encoding)s gelesen (nicht UTF-8)."),
    N_("erwartet sind die Spalten %(columns)s (getrennt durch %(delimiter)s)"),
    N_("es fehlen: %(columns)s"),
    N_("unbekannt: %(columns)s"),
    N_("ist kein gültiges CSV (%(problem)s)"),
)
# Single messages without values, English at the source (the API's and the panel's handlers').
PLAIN = (
    N_("License not found"),
    N_("License is inactive"),
    N_("License is not valid yet"),
    N_("License has expired"),
    N_("Resource not found"),
    N_("Already in the pool"),
    N_("The same identifier is listed twice"),
    N_("The same resource is listed twice"),
    N_("Session not found or already ended"),
    N_("Session has already ended"),
    N_("Device is not activated for this license"),
    N_("Device not found"),
    N_("Device is already deactivated"),
    N_("The current signing key cannot be retired; rotate first"),
    N_("This signing key is retired already"),
    N_("Username: 1-100 characters of A-Z a-z 0-9 @ . _ + -"),
    N_("No client application is configured"),
    N_("No release has been published yet"),
    N_("Not found"),
    N_("Method not allowed"),
    N_("Not logged in"),
    N_("CSRF token missing or wrong"),
    N_("Internal server error"),
    N_("Database temporarily unavailable, retry shortly"),
    N_("is not a valid e-mail address"),
    N_("is not a valid phone number (digits, spaces, + - / ( ) .)"),
    N_("must be a single line without NUL characters"),
    N_("must not contain NUL characters"),
    N_("must be a version such as 1.2.0"),
    N_("Field required"),
    N_("invalid"),
    # The lead import's problems and fields (German at the source).
    N_("darf nicht leer sein"),
    N_("muss eine ganze Zahl sein"),
    N_("ist nicht UTF-8"),
    N_("enthält ein NUL-Zeichen"),
    N_("Tipp: die Datei in Excel unter „Speichern unter“ als „CSV UTF-8“ speichern."),
    N_("fehlt, aber der Wert ist ausgefüllt"),
    N_("fehlt: die Datei ist leer"),
    N_("die Reihenfolge stimmt nicht"),
    N_("Datei"),
    N_("Kopfzeile"),
    N_("Zeile"),
    # The release notes of the seeded first release (migration 0001): shown in the reader's language.
    N_("Initial release"),
)
# Codes the refusals carry as values.
RESOURCE_STATES = {"available": _l("verfügbar"), "allocated": _l("zugewiesen"), "quarantine": _l("in Quarantäne")}
PLACEHOLDER = re.compile(r"%\((\w+)\)s")
# A message made of parts ("…; …" in a problem, "Sentence. Sentence." in a refusal with a hint):
# translated part by part when the whole is no msgid and matches no template.
PART_BREAK = re.compile(r"(; |(?<=\.) )")


def _or_list(value: str) -> str:
    return value.replace(" or ", " " + gettext("oder") + " ")


def _nested(value: str) -> str:
    return translate_message(value)


def _code(labels: dict[str, object]) -> Callable[[str], str]:
    def label(value: str) -> str:
        bare = value.strip("'")
        return str(labels[bare]) if bare in labels else value

    return label


VALUE_TRANSLATIONS: dict[str, Callable[[str], str]] = {
    "problem": _nested,
    "field": _nested,
    "name": _nested,
    "type": _code(RESOURCE_TYPES),
    "status": _code(RESOURCE_STATES),
    "expected": _or_list,
    "allowed": _or_list,
}


@cache
def _pattern(template: str) -> re.Pattern[str]:
    parts = PLACEHOLDER.split(template)
    # split gives text, name, text, name, …: the names become named groups, the text stays literal.
    regex = "".join(re.escape(part) if i % 2 == 0 else f"(?P<{part}>.+?)" for i, part in enumerate(parts))
    return re.compile(regex, re.DOTALL)


def translate_message(message: object) -> str:
    """The message in the page's language; a message the catalog does not know is shown as it is."""
    text = str(message)
    if has_translation(text):
        return gettext(text)
    for template in TEMPLATES:
        match = _pattern(template).fullmatch(text)
        if match is None:
            continue
        values = {name: VALUE_TRANSLATIONS.get(name, str)(value) for name, value in match.groupdict().items()}
        return gettext(template) % values
    return _by_parts(text)


def _by_parts(text: str) -> str:
    parts = PART_BREAK.split(text)
    if len(parts) == 1:
        return text
    # split keeps the separators at the odd places: they stay as they are.
    return "".join(part if i % 2 else translate_message(part) for i, part in enumerate(parts))
