"""What an import that is refused reports: every problem with its line, and an optional hint
for the whole file (csv_format.py and csv_encoding.py both raise it)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

FILE_FIELD = "Datei"
HEADER_FIELD = "Kopfzeile"


@dataclass(frozen=True, slots=True)
class Problem:
    """Why a file is refused: the line (1 = the header), the column or part, the reason."""

    line: int
    field: str
    reason: str


class ImportRefusedError(Exception):
    """A file that is not imported, with every problem found and, where one helps, a hint on
    how to fix the whole file."""

    def __init__(self, problems: Sequence[Problem], hint: str = "") -> None:
        super().__init__(f"{len(problems)} problem(s)")
        self.problems = list(problems)
        self.hint = hint
