"""No module of the package grows past 300 lines: a longer one is split by meaning
(docs/architecture.md, "Module size")."""

from __future__ import annotations

from pathlib import Path

import licenseserver

MAX_LINES = 300
PACKAGE = Path(licenseserver.__file__).parent

# Alembic migrations are written once and never edited afterwards (a change is a new migration), so
# their length costs no reader anything later; they are exempt. Nothing else is.
EXEMPT_PATTERNS = ("db/migrations/versions/*.py",)


def exempt(module: Path) -> bool:
    return any(module.relative_to(PACKAGE).match(pattern) for pattern in EXEMPT_PATTERNS)


def package_modules() -> list[Path]:
    # Only Python sources: the vendored static files (admin/static, api/static) are not ours to split.
    return sorted(PACKAGE.rglob("*.py"))


def test_no_module_is_over_the_limit() -> None:
    modules = package_modules()
    assert len(modules) > 50, f"found only {len(modules)} modules under {PACKAGE}"
    too_long = {
        str(module.relative_to(PACKAGE)): count
        for module in modules
        if not exempt(module) and (count := len(module.read_text(encoding="utf-8").splitlines())) > MAX_LINES
    }
    assert too_long == {}, f"modules over {MAX_LINES} lines (split them by meaning): {too_long}"


def test_every_exemption_still_matches_a_module() -> None:
    for pattern in EXEMPT_PATTERNS:
        assert any(module.relative_to(PACKAGE).match(pattern) for module in package_modules()), pattern
