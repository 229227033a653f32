"""The worked shop example of docs/integrations.md ("A worked example: a sale in the web shop")
runs as printed against the app: each curl command's method, path, headers and body are sent
with the example's variables filled in, and each documented answer (`# 201 {...}`) matches the
real one in status, fields and every value that does not depend on the day or the database's ids."""

from __future__ import annotations

import json
import re
import shlex
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from starlette.testclient import TestClient

from tests.management.conftest import Management, make_token
from tests.support.world import TestWorld

DOC = Path(__file__).resolve().parents[2] / "docs" / "integrations.md"
SECTION = "## A worked example: a sale in the web shop"
BASE = "https://licenses.example.com"
# Values the server makes: they differ from the document's in every run.
MADE_BY_THE_SERVER = {"id", "created_at", "license_key", "valid_from", "state"}
EXAMPLE_CUSTOMER_ID = "42"
EXAMPLE_LICENSE_ID = "7"


@dataclass
class Command:
    method: str
    url: str
    headers: dict[str, str] = field(default_factory=dict)
    body: str | None = None
    answer_status: int | None = None
    answer: dict[str, Any] | None = None


def _parse_curl(line: str) -> Command:
    words = shlex.split(line)
    assert words[0] == "curl", line
    command = Command("GET", "")
    rest = iter(words[1:])
    for word in rest:
        if word == "-X":
            command.method = next(rest)
        elif word == "-H":
            name, _, value = next(rest).partition(": ")
            command.headers[name] = value
        elif word == "-d":
            command.body = next(rest)
            command.method = "POST" if command.method == "GET" else command.method
        elif word.startswith("-"):
            assert word == "-sS", word
        else:
            command.url = word
    return command


def example_commands() -> list[Command]:
    section = DOC.read_text(encoding="utf-8").split(SECTION, 1)[1].split("\n## ", 1)[0]
    blocks = re.findall(r"```sh\n(.*?)```", section, re.DOTALL)
    assert blocks, "the worked example holds no shell code"
    commands: list[Command] = []
    for block in blocks:
        answer: list[str] = []
        for line in block.replace("\\\n", " ").splitlines():
            if line.startswith("curl "):
                commands.append(_parse_curl(line))
            elif re.match(r"# \d{3} \{", line) or (answer and line.startswith("#  ")):
                answer.append(line[2:].strip())
                text = " ".join(answer)
                status, _, body = text.partition(" ")
                commands[-1].answer_status = int(status)
                try:
                    commands[-1].answer = json.loads(body)
                except json.JSONDecodeError:
                    continue  # the answer goes on on the next comment line
            else:
                answer = []
    return commands


def _send(api: TestClient, command: Command, variables: dict[str, str]) -> Any:
    def fill(text: str) -> str:
        for name, value in variables.items():
            text = text.replace(name, value)
        return text

    url = fill(command.url)
    assert url.startswith(BASE), url
    return api.request(
        command.method,
        url.removeprefix(BASE),
        headers={name: fill(value) for name, value in command.headers.items()},
        content=None if command.body is None else fill(command.body).encode(),
    )


def _check(command: Command, response: Any) -> dict[str, Any]:
    assert response.status_code == (command.answer_status or 200), (command.url, response.text)
    real: dict[str, Any] = response.json()
    if command.answer is not None:
        assert set(real) == set(command.answer), command.url
        for name, documented in command.answer.items():
            if name not in MADE_BY_THE_SERVER and not name.endswith("_id"):
                assert real[name] == documented, (command.url, name)
    return real


def test_the_worked_example_runs_as_printed(world: TestWorld, shop: Management) -> None:
    commands = example_commands()
    assert [(c.method, c.url.split("?")[0]) for c in commands] == [
        ("POST", "$BASE/api/v1/customers"),
        ("POST", "$BASE/api/v1/licenses"),
        ("PATCH", "$BASE/api/v1/licenses/7"),
        ("PATCH", "$BASE/api/v1/licenses/7"),
        ("GET", "$BASE/api/v1/licenses"),
    ]
    variables = {
        "$BASE": BASE,
        "$TOKEN": shop.token.token,
        "$READ_TOKEN": make_token(world, "crm", "read").token,
        "$ORDER": "10045",
    }
    customer = _check(commands[0], _send(shop.client, commands[0], variables))
    # The example's ids stand for the ones this database hands out.
    commands[1].body = (commands[1].body or "").replace(EXAMPLE_CUSTOMER_ID, str(customer["id"]))
    license_ = _check(commands[1], _send(shop.client, commands[1], variables))
    assert license_["customer_id"] == customer["id"]
    assert re.fullmatch(r"[A-Z0-9]{4}(-[A-Z0-9]{4}){3}", license_["license_key"])

    # Sent again with the same keys, both answer exactly as before and nothing is made twice.
    assert _send(shop.client, commands[0], variables).json() == customer
    assert _send(shop.client, commands[1], variables).json() == license_
    assert (world.scalar("SELECT COUNT(*) FROM customers"), world.scalar("SELECT COUNT(*) FROM licenses")) == (1, 1)

    for command in commands[2:]:
        command.url = command.url.replace(f"/licenses/{EXAMPLE_LICENSE_ID}", f"/licenses/{license_['id']}")
        command.url = command.url.replace(f"customer_id={EXAMPLE_CUSTOMER_ID}", f"customer_id={customer['id']}")
        _check(command, _send(shop.client, command, variables))
    row = world.rows("SELECT max_activations, valid_until FROM licenses")[0]
    assert row["max_activations"] == 5 and str(row["valid_until"]).startswith("2028-11-28")

    deactivated = shop.post(f"/licenses/{license_['id']}/deactivate")
    assert deactivated.status_code == 200 and deactivated.json()["is_active"] is False
