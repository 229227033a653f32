"""The leads CSV file: its columns, the formula-injection guard and reading a file back into rows,
with every problem reported by line. docs/leads.md describes the format for staff.

- Written as UTF-8 with a byte order mark (spreadsheet programs then read umlauts right), `;` between
  cells (what spreadsheet programs with German settings expect), CRLF line ends.
- One row per contact detail; a contact without details and an institution without contacts
  each get one row with the rest empty. `institution_ref` and `contact_ref` tie the rows of one
  institution and one contact together (the export writes the ids; any text works).
- A cell that would start with `=`, `+`, `-`, `@`, tab or carriage return, also after leading
  apostrophes, gets one more apostrophe in front; reading removes exactly that one again. So
  every text survives export and import unchanged, and no cell starts as a formula.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass

from licenseserver.domain.leads.csv_encoding import BOM, UTF8, decode
from licenseserver.domain.leads.import_problems import FILE_FIELD, HEADER_FIELD, ImportRefusedError, Problem

COLUMNS = (
    "institution_ref",
    "institution_name",
    "institution_type",
    "customer_id",
    "contact_ref",
    "first_name",
    "last_name",
    "position",
    "detail_type",
    "detail_value",
    "detail_label",
)
DELIMITER = ";"
MAX_IMPORT_BYTES = 2 * 1024 * 1024
MAX_IMPORT_ROWS = 10_000
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")
GUARD = "'"


@dataclass(frozen=True, slots=True)
class CsvRow:
    line: int  # where the row starts in the file
    cells: dict[str, str]


def neutralise(cell: str) -> str:
    """The cell as written to the file: a formula start (after any apostrophes) gets one more
    apostrophe in front, so spreadsheet programs show it as text."""
    return GUARD + cell if cell.lstrip(GUARD).startswith(FORMULA_STARTS) else cell


def restore(cell: str) -> str:
    """The inverse of `neutralise`: exactly one apostrophe is removed, and only where the rest
    starts (after any further apostrophes) with a formula character. Other cells stay as they are."""
    if cell.startswith(GUARD) and cell.lstrip(GUARD).startswith(FORMULA_STARTS):
        return cell[1:]
    return cell


def write_csv(rows: Iterable[Sequence[str]]) -> bytes:
    """The file: BOM, header, then the rows, every cell neutralised."""
    buffer = io.StringIO(newline="")
    writer = csv.writer(buffer, delimiter=DELIMITER, lineterminator="\r\n")
    writer.writerow(COLUMNS)
    for row in rows:
        writer.writerow([neutralise(cell) for cell in row])
    return BOM + buffer.getvalue().encode(UTF8)


def _check_header(header: list[str] | None) -> None:
    if header is None:
        raise ImportRefusedError([Problem(1, HEADER_FIELD, "fehlt: die Datei ist leer")])
    names = [name.strip() for name in header]
    if tuple(names) == COLUMNS:
        return
    missing = [c for c in COLUMNS if c not in names]
    unknown = [n for n in names if n not in COLUMNS]
    parts = [f"erwartet sind die Spalten {DELIMITER.join(COLUMNS)} (getrennt durch {DELIMITER})"]
    if missing:
        parts.append("es fehlen: " + ", ".join(missing))
    if unknown:
        parts.append("unbekannt: " + ", ".join(unknown))
    if not missing and not unknown:
        parts.append("die Reihenfolge stimmt nicht")
    raise ImportRefusedError([Problem(1, HEADER_FIELD, "; ".join(parts))])


def _records(text: str) -> Iterator[tuple[int, list[str]]]:
    """(first line, cells) of every record; a quoted cell may span lines."""
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=DELIMITER, strict=True)
    start = 1
    while True:
        try:
            record = next(reader)
        except StopIteration:
            return
        except csv.Error as exc:
            raise ImportRefusedError([Problem(start, FILE_FIELD, f"ist kein gültiges CSV ({exc})")]) from None
        yield start, record
        start = reader.line_num + 1


def _is_blank_line(record: list[str]) -> bool:
    """An empty or whitespace-only line. A line of separators alone (`;;;`) is not blank: it is
    a row with the wrong number of cells or with empty required cells, and is reported."""
    return len(record) <= 1 and not "".join(record).strip()


@dataclass(frozen=True, slots=True)
class ReadFile:
    rows: list[CsvRow]
    problems: list[Problem]  # rows that could not be read
    encoding: str  # csv_encoding.UTF8 or CP1252


def read_rows(data: bytes) -> tuple[list[CsvRow], list[Problem]]:
    """`read_file` without the encoding."""
    read = read_file(data)
    return read.rows, read.problems


def read_file(data: bytes) -> ReadFile:
    """The data rows of a file, cells restored, blank lines skipped; and the rows that could not
    be read (wrong number of cells, broken quoting, beyond MAX_IMPORT_ROWS), for the caller to
    report with the problems of the content. A file in no encoding it can be read in
    (csv_encoding.py), with NUL bytes or with other columns is refused at once
    (ImportRefusedError): its rows cannot be trusted."""
    decoded = decode(data)
    records = _records(decoded.text)
    first = next(records, None)
    _check_header(first[1] if first else None)
    rows: list[CsvRow] = []
    problems: list[Problem] = []
    seen = 0
    try:
        for line, record in records:
            if _is_blank_line(record):
                continue
            seen += 1
            if seen > MAX_IMPORT_ROWS:
                problems.append(Problem(line, FILE_FIELD, f"mehr als {MAX_IMPORT_ROWS} Datenzeilen"))
                break
            if len(record) != len(COLUMNS):
                problems.append(Problem(line, "Zeile", f"hat {len(record)} Felder statt {len(COLUMNS)}"))
                continue
            rows.append(CsvRow(line, {name: restore(cell) for name, cell in zip(COLUMNS, record, strict=True)}))
    except ImportRefusedError as refusal:  # broken CSV: what was found before it still counts
        problems.extend(refusal.problems)
    return ReadFile(rows, problems, decoded.encoding)
