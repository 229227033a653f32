"""The Dockerfile and its build context, checked without Docker: the stages, the user, the
health check (run for real against a live API), the absence of build tools and secrets, and that
the build context yields a package with its templates, static files and migrations.
(tests/deploy/test_image.py builds the image and runs it.)"""

from __future__ import annotations

import io
import json
import re
import shutil
import subprocess
import sys
import zipfile
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit

import pytest
from dockerfile_parse import DockerfileParser  # type: ignore[import-untyped]

from licenseserver.admin.i18n import BABEL_LOCALES
from licenseserver.serving import DEFAULT_PORTS
from tests.conftest import LiveServer, free_port
from tests.deploy.files import DOCKERFILE, DOCKERIGNORE, ROOT, SETTING_NAMES, parse_cli
from tests.support.world import TestWorld

SECRET_NAME = re.compile(r"PASSWORD|SECRET|TOKEN|PRIVATE|CREDENTIAL|API_KEY$")
CREDENTIALS_IN_URL = re.compile(r"://[^/@\s]+:[^/@\s]+@")
# A package installed, or a compiler run: neither belongs in a stage the runtime is made of.
INSTALLS = re.compile(r"\b(apt-get|apt|apk|yum|dnf|pip3?)\s+(-\S+\s+)*(install|add)\b|\bdpkg\s+(-i|--install)\b")
BUILD_TOOLS = re.compile(r"\b(gcc|g\+\+|cc|make|build-essential|git|strip)\b")


@dataclass
class Stage:
    name: str
    base: str
    instructions: list[dict[str, str]] = field(default_factory=list)

    def values(self, instruction: str) -> list[str]:
        return [item["value"] for item in self.instructions if item["instruction"] == instruction]


def parsed() -> DockerfileParser:
    return DockerfileParser(fileobj=io.BytesIO(DOCKERFILE.read_bytes()))


def stages() -> list[Stage]:
    parser = parsed()
    result: list[Stage] = []
    bases = iter(parser.parent_images)  # FROM lines with their ARGs resolved
    for item in parser.structure:
        if item["instruction"] == "FROM":
            words = item["value"].split()
            name = words[2] if len(words) == 3 and words[1].upper() == "AS" else str(len(result))
            result.append(Stage(name, next(bases)))
        elif result and item["instruction"] != "COMMENT":
            result[-1].instructions.append(item)
    return result


def runtime() -> Stage:
    return stages()[-1]


def exec_form(value: str) -> list[str]:
    words = json.loads(value)
    assert isinstance(words, list), f"not the exec (JSON) form: {value}"
    return [str(word) for word in words]


def healthcheck_command() -> list[str]:
    (value,) = runtime().values("HEALTHCHECK")
    _, command = value.split("CMD", 1)
    return exec_form(command.strip())


def stage(name: str) -> Stage:
    (found,) = [item for item in stages() if item.name == name]
    return found


def test_the_runtime_is_a_trimmed_slim_python_system_and_the_virtualenv() -> None:
    assert [item.name for item in stages()] == ["build", "system", "runtime"]
    # FROM scratch with the trimmed tree copied in: files deleted in `system` weigh nothing.
    assert runtime().base == "scratch"
    assert runtime().values("COPY") == ["--from=system / /", "--from=build /opt/venv /opt/venv"]
    # The virtualenv's python is the base's: both stages start from the same slim Python image.
    assert stage("build").base == stage("system").base
    assert re.fullmatch(r"python:3\.11-slim(-\w+)?", stage("system").base), stage("system").base


def test_the_stages_the_runtime_is_made_of_install_and_compile_nothing() -> None:
    assert runtime().values("RUN") == [], "the runtime is assembled from copies alone"
    assert runtime().values("ADD") == []
    for command in stage("system").values("RUN"):
        assert not INSTALLS.search(command), f"the runtime's system must not install: {command}"
        assert not BUILD_TOOLS.search(command), f"the runtime's system must not compile: {command}"
    assert stage("system").values("COPY") == [], "nothing from the build context reaches the runtime's system"


def test_the_build_stage_keeps_the_babel_locales_the_panel_formats_in() -> None:
    (declared,) = [value for value in stage("build").values("ARG") if value.startswith("BABEL_LOCALES=")]
    kept = set(declared.split("=", 1)[1].strip('"').split())
    # Babel reads a locale's file and every parent's: de_DE -> de -> root.
    needed = {name for locale in BABEL_LOCALES.values() for name in ("root", locale.language, str(locale))}
    assert needed <= kept, f"add {sorted(needed - kept)} to BABEL_LOCALES in the Dockerfile"


def test_runtime_runs_as_a_numeric_non_root_user() -> None:
    order = [item["instruction"] for item in runtime().instructions]
    users = runtime().values("USER")
    assert users, "the final stage must switch to a non-root user"
    uid, _, gid = users[-1].partition(":")
    assert uid.isdigit() and int(uid) > 0, "a numeric uid lets Kubernetes check runAsNonRoot"
    assert not gid or (gid.isdigit() and int(gid) > 0)
    last_user = max(index for index, name in enumerate(order) if name == "USER")
    assert last_user < order.index("ENTRYPOINT")
    (created,) = [command for command in stage("system").values("RUN") if "useradd" in command]
    assert f"--uid {uid}" in created


def test_default_command_serves_the_api_where_the_healthcheck_looks() -> None:
    (entrypoint,) = runtime().values("ENTRYPOINT")
    (command,) = runtime().values("CMD")
    assert exec_form(entrypoint) == ["licenseserver"]
    serve = parse_cli(exec_form(command))[-1]
    assert serve.params["service"].value == "api"
    assert serve.params["host"] == "0.0.0.0"
    url = urlsplit(parsed().envs["HEALTHCHECK_URL"])
    assert (url.hostname, url.port, url.path) == ("127.0.0.1", serve.params["port"], "/health")
    assert serve.params["port"] == DEFAULT_PORTS["api"]
    assert str(DEFAULT_PORTS["api"]) in runtime().values("EXPOSE")[0].split()


def test_healthcheck_needs_only_python() -> None:
    command = healthcheck_command()
    assert command[0] == "python", "the image has no curl or wget"
    (value,) = runtime().values("HEALTHCHECK")
    for option in ("--interval=", "--timeout=", "--start-period=", "--retries="):
        assert option in value


@pytest.mark.parametrize("backend", ["sqlite"])
def test_healthcheck_command_tells_a_healthy_api_from_a_dead_one(world: TestWorld) -> None:
    command = [sys.executable if word == "python" else word for word in healthcheck_command()]
    server = LiveServer(world)
    try:
        healthy = subprocess.run(
            command, env={"HEALTHCHECK_URL": f"{server.base_url}/health"}, capture_output=True, timeout=20
        )
        assert healthy.returncode == 0, healthy.stderr.decode()
    finally:
        server.stop()
    dead = subprocess.run(
        command, env={"HEALTHCHECK_URL": f"http://127.0.0.1:{free_port()}/health"}, capture_output=True, timeout=20
    )
    assert dead.returncode != 0


def test_no_secrets_in_env_arg_or_labels() -> None:
    named: dict[str, str] = {}
    for item in stages():
        for instruction in ("ENV", "ARG", "LABEL"):
            for value in item.values(instruction):
                named.update(assignments(value))
    assert "PATH" in named and "BABEL_LOCALES" in named, "every stage's ENV and ARG lines are read"
    for name, value in named.items():
        assert not SECRET_NAME.search(name.upper()), f"{name} would be baked into every image"
        assert not CREDENTIALS_IN_URL.search(value), f"{name} holds credentials"
        assert name.upper() not in SETTING_NAMES, f"{name} is a setting: give it at run time"
    assert not [item for item in parsed().structure if item["instruction"] == "ARG" and "=" not in item["value"]]


def assignments(value: str) -> dict[str, str]:
    """`NAME=value NAME2="value 2"` (ENV, ARG and LABEL lines) as a dictionary."""
    return {name: value.strip('"') for name, value in re.findall(r'([\w.-]+)=("[^"]*"|\S*)', value)}


# --- the build context (.dockerignore) -------------------------------------------------------


def _pattern(pattern: str) -> re.Pattern[str]:
    regex = ""
    index = 0
    while index < len(pattern):
        if pattern.startswith("**/", index):
            regex += "(?:.*/)?"
            index += 3
        elif pattern.startswith("**", index):
            regex += ".*"
            index += 2
        elif pattern[index] == "*":
            regex += "[^/]*"
            index += 1
        elif pattern[index] == "?":
            regex += "[^/]"
            index += 1
        else:
            regex += re.escape(pattern[index])
            index += 1
    return re.compile(regex)


def in_build_context(path: str) -> bool:
    """Docker's rule: the last pattern that matches the path, or one of its parent folders, wins."""
    rules = [
        (line.startswith("!"), _pattern(line.lstrip("!").strip("/")))
        for line in (raw.strip() for raw in DOCKERIGNORE.read_text(encoding="utf-8").splitlines())
        if line and not line.startswith("#")
    ]
    parts = path.split("/")
    prefixes = ["/".join(parts[: count + 1]) for count in range(len(parts))]
    included = True
    for negated, regex in rules:
        if any(regex.fullmatch(prefix) for prefix in prefixes):
            included = negated
    return included


def package_files() -> list[str]:
    source = ROOT / "src"
    return sorted(
        str(path.relative_to(ROOT))
        for path in source.rglob("*")
        if path.is_file() and "__pycache__" not in path.parts and ".egg-info" not in str(path) and path.suffix != ".pyc"
    )


@pytest.mark.parametrize(
    "path",
    [
        ".env",
        "deploy/.env",
        ".env.production",
        "licenseserver.db",
        "data/x.db-wal",
        ".git/config",
        ".venv/bin/python",
        "tests/conftest.py",
        "bench/run_bench.py",
        "docs/deployment.md",
        "compose.yaml",
        "src/licenseserver/x.pyc",
        "src/licenseserver/__pycache__/cli.cpython-311.pyc",
        "src/licenseserver/local.db",
    ],
)
def test_build_context_leaves_out(path: str) -> None:
    assert not in_build_context(path)


def test_build_context_holds_every_file_the_dockerfile_copies_and_the_whole_package() -> None:
    copied = [
        word
        for stage in stages()
        for value in stage.values("COPY")
        if "--from=" not in value
        for word in value.split()[:-1]
    ]
    assert copied, "the build stage copies the project in"
    for path in [*copied, *package_files()]:
        assert in_build_context(path.rstrip("/")), path


def test_the_build_context_builds_a_package_with_templates_static_files_and_migrations(tmp_path: Path) -> None:
    context = tmp_path / "context"
    for path in [*package_files(), "pyproject.toml", "README.md"]:
        if in_build_context(path):
            (context / path).parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(ROOT / path, context / path)
    # The same `pip install .` step as the image's build stage, as a wheel we can look into.
    built = subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--quiet", "--no-deps", "--wheel-dir", str(tmp_path / "out"), "."],
        cwd=context,
        capture_output=True,
        timeout=300,
    )
    assert built.returncode == 0, built.stderr.decode()[-2000:]
    (wheel,) = (tmp_path / "out").glob("licenseserver-*.whl")
    shipped = set(zipfile.ZipFile(wheel).namelist())
    # The template of new migration files serves `alembic revision` on a developer's machine only.
    expected = {path.removeprefix("src/") for path in package_files() if not path.endswith(".mako")}
    missing = sorted(expected - shipped)
    assert not missing, f"the image would lack: {missing[:10]}"
    assert any(name.startswith("licenseserver/admin/templates/") for name in shipped)
    assert any(name.startswith("licenseserver/db/migrations/versions/") for name in shipped)
