"""Reading the deployment files the way their tools would: YAML documents, compose's `${...}`
interpolation, the `.env` format, and the operator CLI's own argument parser."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import typer
import yaml

from licenseserver.cli import app as cli_app
from licenseserver.config import Settings

ROOT = Path(__file__).resolve().parents[2]
DOCKERFILE = ROOT / "Dockerfile"
DOCKERIGNORE = ROOT / ".dockerignore"
COMPOSE = ROOT / "compose.yaml"
ENV_EXAMPLE = ROOT / ".env.example"
DEPLOY = ROOT / "deploy"
KUBERNETES = DEPLOY / "kubernetes"
MONITORING = DEPLOY / "monitoring"
CADDYFILE = DEPLOY / "caddy" / "Caddyfile"
DEPLOYMENT_DOC = ROOT / "docs" / "deployment.md"

# Every setting of the server as its environment variable, straight from the Settings class.
SETTING_NAMES = frozenset(name.upper() for name in Settings.model_fields)


def settings_from(environment: dict[str, str]) -> Settings:
    """The server's settings from these environment variables alone (no .env file is read)."""
    values: dict[str, Any] = {name.lower(): value for name, value in environment.items() if name in SETTING_NAMES}
    return Settings(_env_file=None, **values)


def load_yaml(path: Path) -> Any:
    return yaml.safe_load(path.read_text(encoding="utf-8"))


def load_yaml_documents(path: Path) -> list[dict[str, Any]]:
    return [doc for doc in yaml.safe_load_all(path.read_text(encoding="utf-8")) if doc is not None]


# --- compose interpolation (https://compose-spec.io "Interpolation") -------------------------

_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")


class MissingVariableError(Exception):
    """A `${NAME:?message}` whose variable is unset or empty."""


def interpolate(text: str, env: dict[str, str]) -> str:
    """Resolve `$$`, `$NAME`, `${NAME}`, `${NAME:-default}`, `${NAME-default}`, `${NAME:?err}`
    and `${NAME?err}` as compose does; defaults may themselves hold `${...}`."""
    out: list[str] = []
    position = 0
    while position < len(text):
        char = text[position]
        if char != "$":
            out.append(char)
            position += 1
            continue
        following = text[position + 1 : position + 2]
        if following == "$":
            out.append("$")
            position += 2
        elif following == "{":
            end = _closing_brace(text, position + 2)
            out.append(_expand(text[position + 2 : end], env))
            position = end + 1
        else:
            match = _NAME.match(text, position + 1)
            if not match:
                out.append("$")
                position += 1
                continue
            out.append(env.get(match.group(), ""))
            position = match.end()
    return "".join(out)


def _closing_brace(text: str, start: int) -> int:
    depth = 1
    for index in range(start, len(text)):
        if text.startswith("${", index):
            depth += 1
        elif text[index] == "}":
            depth -= 1
            if depth == 0:
                return index
    raise ValueError(f"unclosed ${{ in {text!r}")


def _expand(body: str, env: dict[str, str]) -> str:
    match = _NAME.match(body)
    if not match:
        raise ValueError(f"bad variable reference ${{{body}}}")
    name, rest = match.group(), body[match.end() :]
    value = env.get(name)
    if rest == "":
        return value or ""
    for operator, empty_counts in ((":-", True), ("-", False), (":?", True), ("?", False)):
        if rest.startswith(operator):
            argument = rest[len(operator) :]
            missing = value is None or (empty_counts and value == "")
            if "?" in operator:
                if missing:
                    raise MissingVariableError(f"{name}: {argument}")
                return value or ""
            return interpolate(argument, env) if missing else (value or "")
    raise ValueError(f"unsupported interpolation ${{{body}}}")


def interpolate_tree(node: Any, env: dict[str, str]) -> Any:
    if isinstance(node, str):
        return interpolate(node, env)
    if isinstance(node, list):
        return [interpolate_tree(item, env) for item in node]
    if isinstance(node, dict):
        return {key: interpolate_tree(value, env) for key, value in node.items()}
    return node


def referenced_variables(text: str) -> set[str]:
    """The names a compose file interpolates (`$$` is a literal dollar, not a reference)."""
    return set(re.findall(r"(?<!\$)\$\{([A-Za-z_][A-Za-z0-9_]*)", text.replace("$$", "")))


# --- .env files ------------------------------------------------------------------------------

_ASSIGNMENT = re.compile(r"^(#\s*)?([A-Z][A-Z0-9_]*)=(.*)$")


def env_file_values(path: Path) -> dict[str, str]:
    """The active `NAME=value` lines (no quotes or `export` are used in our files)."""
    values: dict[str, str] = {}
    for line in path.read_text(encoding="utf-8").splitlines():
        match = _ASSIGNMENT.match(line.strip())
        if match and not match.group(1):
            values[match.group(2)] = match.group(3)
    return values


def env_file_examples(path: Path) -> dict[str, str]:
    """Every `NAME=value` the file shows, including those commented out (`# NAME=value`)."""
    values: dict[str, str] = {}
    for line in path.read_text(encoding="utf-8").splitlines():
        match = _ASSIGNMENT.match(line.strip())
        if match:
            values[match.group(2)] = match.group(3)
    return values


def env_file_names(path: Path) -> set[str]:
    return set(env_file_examples(path))


# --- the operator CLI ------------------------------------------------------------------------


def parse_cli(args: list[str]) -> list[Any]:
    """Parse `licenseserver ARGS` with the CLI's own parser, invoking nothing: the parsed contexts
    from the top command down. Raises the parser's usage error for anything the CLI refuses."""
    command: Any = typer.main.get_command(cli_app)
    contexts: list[Any] = []
    parent: Any = None
    name = "licenseserver"
    while True:
        context = command.make_context(name, list(args), parent=parent)
        contexts.append(context)
        if not hasattr(command, "resolve_command"):  # a leaf command, not a group
            return contexts
        remaining = [*context._protected_args, *context.args]
        if not remaining:
            raise ValueError(f"{name}: no sub-command given")
        name, command, args = command.resolve_command(context, remaining)
        parent = context
