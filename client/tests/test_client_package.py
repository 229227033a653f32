"""The distribution installs beside a program without the server: its code imports the standard
library, `cryptography` and itself only, and `cryptography` is its one declared dependency."""

from __future__ import annotations

import ast
import sys
import tomllib
from pathlib import Path

CLIENT = Path(__file__).resolve().parents[1]
PACKAGE = CLIENT / "src" / "licenseserver_client"
ALLOWED = {"cryptography", "licenseserver_client"}


def imported_roots(path: Path) -> set[str]:
    roots = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            roots |= {alias.name.split(".")[0] for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            roots.add(node.module.split(".")[0])
    return roots


def test_the_code_needs_nothing_but_the_standard_library_and_cryptography() -> None:
    modules = [*sorted(PACKAGE.glob("*.py")), CLIENT / "examples" / "desktop_app.py"]
    assert len(modules) > 10
    for module in modules:
        foreign = imported_roots(module) - set(sys.stdlib_module_names) - ALLOWED - {"__future__"}
        assert not foreign, f"{module.name} imports {sorted(foreign)}"


def test_cryptography_is_the_one_dependency() -> None:
    project = tomllib.loads((CLIENT / "pyproject.toml").read_text(encoding="utf-8"))["project"]
    [requirement] = project["dependencies"]
    assert requirement.startswith("cryptography==")
    assert "optional-dependencies" not in project
    assert (PACKAGE / "py.typed").exists()  # typed: mypy in a program checks its calls
