"""The dependency audit of .ci/run: a known vulnerability fails the run; a service that answers
for no pin is reported as "not audited", never as clean."""

from __future__ import annotations

import importlib.util
from pathlib import Path
from types import ModuleType

import pytest

SCRIPT = Path(__file__).resolve().parent.parent / ".ci" / "audit_dependencies.py"


@pytest.fixture(scope="module")
def audit() -> ModuleType:
    spec = importlib.util.spec_from_file_location("audit_dependencies", SCRIPT)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_every_pin_of_pyproject_is_audited_including_the_dev_tools(audit: ModuleType) -> None:
    pins = audit.pinned_requirements()
    assert "fastapi==0.163.2" in pins and "bandit==1.9.4" in pins and "pip-audit==2.10.1" in pins
    assert all("==" in pin for pin in pins)


def test_a_known_vulnerability_fails_the_run(audit: ModuleType, capsys: pytest.CaptureFixture[str]) -> None:
    dependencies = [
        {"name": "fastapi", "version": "0.163.2", "vulns": []},
        {"name": "jinja2", "version": "3.1.6", "vulns": [{"id": "GHSA-xxxx-yyyy-zzzz"}]},
    ]
    assert audit.verdict("pypi", dependencies, []) == 1
    assert "jinja2 3.1.6: GHSA-xxxx-yyyy-zzzz" in capsys.readouterr().out


def test_a_clean_audit_passes_and_names_what_it_could_not_audit(
    audit: ModuleType, capsys: pytest.CaptureFixture[str]
) -> None:
    skipped = {"name": "segno", "skip_reason": "Dependency not found on PyPI and could not be audited: segno (1.6.6)"}
    dependencies = [{"name": "fastapi", "version": "0.163.2", "vulns": []}, skipped]
    assert audit.verdict("pypi", dependencies, [skipped]) == 0
    out = capsys.readouterr().out
    assert "not audited: Dependency not found on PyPI" in out and "1 pinned dependencies audited, 0 with" in out
