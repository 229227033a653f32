"""The worked example of docs/signatures.md ("Verifying a license file with a stock library") runs
as printed against a live server: only its address, the file's name and the program's own
`this_machines_hardware_hash` are supplied."""

from __future__ import annotations

import contextlib
import io
import re
from pathlib import Path
from typing import Any

import httpx2 as httpx
import jwt
import pytest

from tests.api.helpers import activate, served_api
from tests.signing.helpers import CHECKOUT
from tests.support.world import TestWorld

DOC = Path(__file__).resolve().parents[2] / "docs" / "signatures.md"
SECTION = "## Verifying a license file with a stock library"
EXAMPLE_URL = "https://licenses.example.com"
EXAMPLE_FILE = "ABCD-EFGH-JKLM-NPQR.lic"
DEVICE = "hw-docs-1"


def example_code() -> str:
    section = DOC.read_text(encoding="utf-8").split(SECTION, 1)[1]
    found = re.search(r"```python\n(.*?)```", section, re.DOTALL)
    assert found, "the section holds no Python example"
    code = found.group(1)
    assert EXAMPLE_URL in code and EXAMPLE_FILE in code
    return code


def run_example(base_url: str, license_file: Path, device: str) -> str:
    code = example_code().replace(EXAMPLE_URL, base_url).replace(EXAMPLE_FILE, str(license_file))
    scope: dict[str, Any] = {"this_machines_hardware_hash": lambda: device}
    printed = io.StringIO()
    with contextlib.redirect_stdout(printed):
        exec(compile(code, str(DOC), "exec"), scope)  # our own document's example
    return printed.getvalue()


@pytest.mark.slow
def test_the_worked_example_runs_as_printed(world: TestWorld, tmp_path: Path) -> None:
    key = world.license(max_users=4)
    with served_api(world) as base_url, httpx.Client(base_url=base_url, headers={"X-API-Key": world.api_key}) as api:
        assert activate(api, key, DEVICE).status_code == 200
        answer = api.post(CHECKOUT, json={"license_key": key, "hardware_hash": DEVICE})
        assert answer.status_code == 200, answer.text
        token = answer.json()["license_file"]
        good = tmp_path / f"{key}.lic"
        good.write_text(token + "\n", encoding="ascii")

        printed = run_example(base_url, good, DEVICE)
        assert printed.startswith("licensed until ") and printed.strip().endswith("for 4 users")

        with pytest.raises(SystemExit, match="another device"):
            run_example(base_url, good, "hw-somewhere-else")

        header, payload, signature = token.split(".")
        spoiled = tmp_path / "spoiled.lic"
        spoiled.write_text(f"{header}.{payload}.{signature[:-2]}{'A' if signature[-2] != 'A' else 'B'}{signature[-1]}")
        with pytest.raises(jwt.InvalidSignatureError):
            run_example(base_url, spoiled, DEVICE)
