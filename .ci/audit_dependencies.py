"""pip-audit over every version pinned in pyproject.toml (runtime and extras), as CI runs it.

Exit 1 on a known vulnerability that is not waived below. When no vulnerability service answers
for the pins (no network, or a PyPI mirror without the per-release JSON pages pip-audit reads),
say so plainly and exit 0: an audit that could not run is reported, not passed off as clean,
and not a reason to fail every CI run of a machine without that access.
"""

from __future__ import annotations

import json
import subprocess
import sys
import tempfile
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PIP_AUDIT = Path(sys.executable).with_name("pip-audit")
SERVICES = ("pypi", "osv")  # PyPI's JSON API first, the OSV database as the second chance
# Known vulnerabilities accepted for now, each with the reason: {"GHSA-...": "why it cannot reach us"}.
WAIVED: dict[str, str] = {}


def pinned_requirements() -> list[str]:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    extras = [pin for pins in project.get("optional-dependencies", {}).values() for pin in pins]
    return [*project["dependencies"], *extras]


def audit(requirements: Path, service: str) -> tuple[dict[str, object] | None, str]:
    """pip-audit's JSON report (None when it could not run) and the last line it wrote to stderr."""
    with tempfile.TemporaryDirectory() as folder:
        report = Path(folder) / "report.json"
        command = [str(PIP_AUDIT), "-r", str(requirements), "--no-deps", "--disable-pip", "-s", service]
        command += ["-f", "json", "-o", str(report), "--progress-spinner", "off", "--timeout", "20"]
        for vulnerability in WAIVED:
            command += ["--ignore-vuln", vulnerability]
        # The command is ours: the venv's pip-audit and fixed arguments.
        finished = subprocess.run(command, capture_output=True, text=True, timeout=600, check=False)  # noqa: S603
        lines = finished.stderr.strip().splitlines()
        if not report.exists():
            return None, lines[-1] if lines else f"exit status {finished.returncode}"
        return json.loads(report.read_text()), lines[-1] if lines else ""


def main() -> int:
    pins = pinned_requirements()
    with tempfile.NamedTemporaryFile("w", suffix=".txt", delete=False) as file:
        file.write("\n".join(pins) + "\n")
    requirements = Path(file.name)
    try:
        for service in SERVICES:
            report, problem = audit(requirements, service)
            if report is None:
                print(f"pip-audit ({service}): could not run: {problem}")
                continue
            dependencies: list[dict[str, object]] = report["dependencies"]  # type: ignore[assignment]
            skipped = [d for d in dependencies if d.get("skip_reason")]
            if len(skipped) == len(dependencies):
                reason = skipped[0]["skip_reason"]
                print(f"pip-audit ({service}): the service answered for none of the {len(pins)} pins: {reason}")
                continue
            return verdict(service, dependencies, skipped)
    finally:
        requirements.unlink()
    print(
        f"pip-audit: NOT AUDITED. No vulnerability service ({', '.join(SERVICES)}) could be reached from this "
        f"machine, so the {len(pins)} pinned dependencies were not checked. Not a failure of the run."
    )
    return 0


def verdict(service: str, dependencies: list[dict[str, object]], skipped: list[dict[str, object]]) -> int:
    vulnerable = [d for d in dependencies if d.get("vulns")]
    for dependency in vulnerable:
        ids = ", ".join(str(v["id"]) for v in dependency["vulns"])  # type: ignore[attr-defined]
        print(f"pip-audit ({service}): {dependency['name']} {dependency['version']}: {ids}")
    for dependency in skipped:
        print(f"pip-audit ({service}): not audited: {dependency['skip_reason']}")
    audited = len(dependencies) - len(skipped)
    print(f"pip-audit ({service}): {audited} pinned dependencies audited, {len(vulnerable)} with known vulnerabilities")
    return 1 if vulnerable else 0


if __name__ == "__main__":
    sys.exit(main())
