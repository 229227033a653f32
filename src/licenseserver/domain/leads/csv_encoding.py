"""Which encoding an imported leads file is in: UTF-8 (with or without BOM) first, else
Windows-1252 (what Excel with German settings writes as plain "CSV"), else a refusal with the
tip to save the file as "CSV UTF-8". docs/leads.md describes the rule for staff.

Windows-1252 assigns a character to all but five bytes, so almost any file "decodes"; the
decoded text is only taken when it is plausible: no control characters besides tab and line
ends (a UTF-16 file is full of NUL bytes) and no line that is valid UTF-8 with non-ASCII
characters (a file with both is mixed, and either reading would garble some lines).
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from licenseserver.domain.leads.import_problems import FILE_FIELD, ImportRefusedError, Problem

BOM = b"\xef\xbb\xbf"
UTF8 = "utf-8"
CP1252 = "cp1252"
NOT_UTF8 = "ist nicht UTF-8"
HAS_NUL = "enthält ein NUL-Zeichen"
ENCODING_NAMES = {UTF8: "UTF-8", CP1252: "Windows-1252"}
SAVE_AS_UTF8_TIP = "Tipp: die Datei in Excel unter „Speichern unter“ als „CSV UTF-8“ speichern."
# C0 controls other than tab, LF and CR, and DEL: never in a spreadsheet's text.
IMPLAUSIBLE = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")


@dataclass(frozen=True, slots=True)
class DecodedFile:
    text: str
    encoding: str  # UTF8 or CP1252


def _utf8_problems(data: bytes) -> tuple[list[Problem], bool]:
    """Every line that is not UTF-8 or holds a NUL byte (a UTF-8 character never contains the
    newline byte, so line numbers are exact); and whether some other line is non-ASCII UTF-8."""
    problems: list[Problem] = []
    non_ascii_utf8 = False
    for number, line in enumerate(data.split(b"\n"), start=1):
        try:
            line.decode(UTF8)
            non_ascii_utf8 = non_ascii_utf8 or not line.isascii()
        except UnicodeDecodeError as exc:
            reason = f"{NOT_UTF8} (Byte 0x{line[exc.start]:02x} an Stelle {exc.start + 1})"
            problems.append(Problem(number, FILE_FIELD, reason))
        if b"\x00" in line:
            problems.append(Problem(number, FILE_FIELD, HAS_NUL))
    return problems, non_ascii_utf8


def _as_cp1252(data: bytes) -> str | None:
    try:
        text = data.decode(CP1252)
    except UnicodeDecodeError:  # one of the five bytes Windows-1252 leaves undefined
        return None
    return None if IMPLAUSIBLE.search(text) else text


def decode(data: bytes) -> DecodedFile:
    """The file as text and the encoding it was read in, or ImportRefusedError naming every bad
    line, with the tip to save the file as "CSV UTF-8"."""
    has_bom = data.startswith(BOM)
    data = data.removeprefix(BOM)
    problems, non_ascii_utf8 = _utf8_problems(data)
    if not problems:
        return DecodedFile(data.decode(UTF8), UTF8)
    not_utf8 = any(p.reason.startswith(NOT_UTF8) for p in problems)
    has_nul = any(p.reason == HAS_NUL for p in problems)
    # A BOM says UTF-8, and a NUL byte is never text: neither file is read as Windows-1252.
    if not_utf8 and not has_bom and not has_nul and not non_ascii_utf8:
        text = _as_cp1252(data)
        if text is not None:
            return DecodedFile(text, CP1252)
    raise ImportRefusedError(problems, hint=SAVE_AS_UTF8_TIP if not_utf8 else "")


def read_as_note(encoding: str) -> str:
    """What the import report says about a file that was not UTF-8 ("" for UTF-8)."""
    return "" if encoding == UTF8 else f"Die Datei wurde als {ENCODING_NAMES[encoding]} gelesen (nicht UTF-8)."
