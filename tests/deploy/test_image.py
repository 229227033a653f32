"""The server's image, built and run for real: `scripts/build-image` builds it with podman (on a
base made of Debian's packages), then its containers run against this machine's PostgreSQL and
Redis as compose and Kubernetes run them (read-only root, no capabilities, /tmp in memory, the
image's own non-root user): `migrate`, two License API containers (one with two workers) behind
one Redis, the admin panel; a client's whole flow, a staff log-in, the image's health check, the
shared rate limit, and SIGTERM ending each container in time with status 0.

The containers share the host's network, so they listen on free ports of 127.0.0.1. The module
has its own PostgreSQL database and Redis key prefix. The tests run in file order: the last one
stops the containers the others use."""

from __future__ import annotations

import json
import os
import random
import re
import subprocess
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

import httpx2 as httpx
import pytest
import redis

from licenseserver.admin.i18n import BABEL_LOCALES
from licenseserver.serving.timeouts import GRACEFUL_SECONDS
from tests.conftest import free_port
from tests.deploy.containers import BUILD_SCRIPT, Container, podman, podman_env, podman_ok, require_podman, run_cli
from tests.support import database
from tests.support.redis_server import SHARED_REDIS_URL, require_shared_redis, unique_prefix

# The build, on a cold machine with the base to make, takes a few minutes: past the suite's 300 s.
pytestmark = [pytest.mark.slow, pytest.mark.timeout(1200)]

IMAGE = "licenseserver:test"
RATE_LIMIT = 20  # License API requests per client address and minute, set by `migrate` below
HARDWARE = "hw-image-1"
CSRF_META = re.compile(r'<meta name="csrf-token" content="([^"]*)"')
STAFF_USER, STAFF_PASSWORD = "chef", "image test password 1"


@dataclass
class Stack:
    api: Container  # serve api --workers 2: gunicorn over uvicorn workers
    api_2: Container  # serve api: one uvicorn process
    admin: Container
    env: dict[str, str]  # the settings every container of the installation gets

    @property
    def containers(self) -> tuple[Container, ...]:
        return (self.api, self.api_2, self.admin)


@pytest.fixture(scope="module")
def image() -> str:
    """The image, built by the script operators use; podman's layer cache and the base are reused."""
    require_podman()
    started = time.monotonic()
    built = subprocess.run(
        [str(BUILD_SCRIPT), "--tag", IMAGE], capture_output=True, text=True, timeout=1100, env=podman_env()
    )
    assert built.returncode == 0, f"scripts/build-image failed:\n{built.stdout}\n{built.stderr[-4000:]}"
    assert re.search(r"^size \S+: \d+ MB", built.stdout, re.MULTILINE), built.stdout
    assert re.search(r"^digest \S+: sha256:[0-9a-f]{64}$", built.stdout, re.MULTILINE), built.stdout
    print(f"\n{built.stdout.strip()}\n(scripts/build-image took {time.monotonic() - started:.0f} s)")
    return IMAGE


@pytest.fixture(scope="module")
def settings() -> Iterator[dict[str, str]]:
    """A fresh PostgreSQL database and Redis key prefix of this module, as the containers' settings."""
    require_shared_redis()
    name = f"licenseserver_test_image_{os.getpid()}"
    prefix = unique_prefix("image")
    env = {
        "DATABASE_URL": database.create_empty_pg_database(name),
        "REDIS_URL": SHARED_REDIS_URL,
        "REDIS_KEY_PREFIX": prefix,
        "RATE_LIMIT_API_PER_MINUTE": str(RATE_LIMIT),
    }
    try:
        yield env
    finally:
        database.drop_pg_database(name)
        client = redis.Redis.from_url(SHARED_REDIS_URL)
        for key in client.scan_iter(f"{prefix}*"):
            client.delete(key)
        client.close()


def serving(image: str, role: str, settings: dict[str, str], *serve: str) -> Container:
    """A container of `licenseserver serve ...` on a free port of the host's loopback."""
    port = free_port()
    return Container(image, role, port, ["serve", *serve, "--host", "127.0.0.1", "--port", str(port)], settings)


@pytest.fixture(scope="module")
def stack(image: str, settings: dict[str, str]) -> Iterator[Stack]:
    """`migrate` once, then two API containers and the panel; all removed at the end, also on failure."""
    run_cli(image, settings, "migrate")
    stack = Stack(
        api=serving(image, "api", settings, "api", "--workers", "2"),
        api_2=serving(image, "api-2", settings, "api"),
        admin=serving(image, "admin", settings, "admin"),
        env=settings,
    )
    try:
        for container in stack.containers:
            container.start()
        for container in stack.containers:
            container.wait_healthy()
        yield stack
    finally:
        for container in stack.containers:
            container.remove()


@pytest.fixture(scope="module")
def api_key(image: str, stack: Stack) -> str:
    return run_cli(image, stack.env, "api-key", "show").strip()


def in_container(image: str, script: str) -> dict[str, Any]:
    """Run a Python script in a throw-away container of the image; it prints one JSON object."""
    output = podman_ok("run", "--rm", "--network=none", "--read-only", "--entrypoint=python", image, "-c", script)
    result: dict[str, Any] = json.loads(output)
    return result


IMAGE_CONTENTS = """
import importlib, importlib.util, json, os, pathlib, shutil, sys, sysconfig
import psycopg  # psycopg_binary's modules load only through it
site = pathlib.Path(sysconfig.get_path("purelib"))
failed = {}
for path in sorted(site.rglob("*.so")):
    if any(part.endswith(".libs") or part in ("tests", "testing") for part in path.parts):
        continue
    module = ".".join(path.relative_to(site).with_suffix("").with_suffix("").parts)
    try:
        importlib.import_module(module)
    except Exception as exc:
        failed[module] = repr(exc)
docs = [str(p) for p in pathlib.Path("/usr/share/doc").rglob("*") if p.is_file() and p.name != "copyright"]
print(json.dumps({
    "uid": os.getuid(),
    "extension_modules": len(list(site.rglob("*.so"))),
    "extension_modules_failing": failed,
    "psycopg": psycopg.pq.__impl__,
    "python_packages": sorted(n for n in ("pip", "setuptools", "wheel", "ensurepip") if importlib.util.find_spec(n)),
    "tools": sorted(n for n in ("pip", "pip3", "gcc", "cc", "c++", "ld", "strip", "make") if shutil.which(n)),
    "docs": docs[:5],
    "babel_locales": sorted(p.stem for p in (site / "babel" / "locale-data").glob("*.dat")),
}))
"""


def test_the_image_holds_no_build_tools_and_every_extension_module_loads(image: str) -> None:
    contents = in_container(image, IMAGE_CONTENTS)
    assert contents["uid"] == 10001, "the image's user is the non-root 10001"
    # The debug sections were stripped from these: each must still load.
    assert contents["extension_modules"], "no extension module found: the image lacks the virtualenv?"
    assert contents["extension_modules_failing"] == {}
    assert contents["psycopg"] == "binary"
    assert contents["python_packages"] == [], "pip, setuptools and ensurepip stay out of the runtime"
    assert contents["tools"] == [], "no compiler, linker or pip in the runtime"
    assert contents["docs"] == [], "documentation other than the copyright files stays out"
    needed = {name for locale in BABEL_LOCALES.values() for name in ("root", locale.language, str(locale))}
    assert needed <= set(contents["babel_locales"])
    healthcheck = podman_ok("image", "inspect", "--format={{json .Config.Healthcheck}}", image)
    assert "HEALTHCHECK_URL" in healthcheck, "built in docker format, the image keeps its HEALTHCHECK"


def test_a_client_flow_through_the_api_containers(image: str, stack: Stack, api_key: str) -> None:
    customer = json.loads(run_cli(image, stack.env, "customer", "create", "--name", "Image", "--email", "i@x.example"))
    license_ = json.loads(run_cli(image, stack.env, "license", "create", "--customer-id", str(customer["id"])))
    key = license_["key"]
    with httpx.Client(base_url=stack.api.base_url, headers={"X-API-Key": api_key}, timeout=15) as api:
        device = {"license_key": key, "hardware_hash": HARDWARE}
        activated = api.post("/api/license/activate", json={**device, "machine_name": "PC-1", "app_version": "1.0.0"})
        assert activated.status_code == 200, activated.text
        verified = api.post("/api/license/verify", json={**device, "app_version": "1.0.0"})
        assert verified.status_code == 200 and verified.json()["valid"] is True, verified.text
        started = api.post("/api/license/session/start", json={**device, "machine_id": "PC-1", "version": "1.0.0"})
        assert started.status_code == 200, started.text
        token = started.json()["session_token"]
        beat = api.post("/api/license/session/heartbeat", json={"session_token": token, "license_key": key})
        assert beat.status_code == 200, beat.text
        ended = api.post("/api/license/session/end", json={"session_token": token})
        assert ended.status_code == 200 and ended.json()["end_reason"] == "normal", ended.text
    # The other container answers from the same database.
    other = httpx.post(
        f"{stack.api_2.base_url}/api/license/verify", json=device, headers={"X-API-Key": api_key}, timeout=15
    )
    assert other.status_code == 200 and other.json()["valid"] is True, other.text


def test_staff_log_in_to_the_panel_container(image: str, stack: Stack) -> None:
    run_cli(image, stack.env, "admin", "create", STAFF_USER, "--password-stdin", stdin=f"{STAFF_PASSWORD}\n")
    with httpx.Client(base_url=stack.admin.base_url, timeout=15) as panel:
        page = panel.get("/login")
        assert page.status_code == 200 and 'name="password"' in page.text, page.text[:500]
        token = CSRF_META.search(page.text)
        assert token, "the log-in page carries its CSRF token"
        form = {"username": STAFF_USER, "password": STAFF_PASSWORD, "csrf_token": token.group(1)}
        logged_in = panel.post("/login", data=form)
        assert logged_in.status_code == 303, logged_in.text[:500]
        dashboard = panel.get("/")
        assert dashboard.status_code == 200 and "Dashboard" in dashboard.text


PROCESS_FACTS = """
import json, os, tempfile
status = dict(line.split(":\\t", 1) for line in open("/proc/1/status").read().splitlines())
mounts = {fields[1]: fields[3].split(",") for fields in (line.split() for line in open("/proc/self/mounts"))}
with tempfile.NamedTemporaryFile(dir="/tmp") as scratch:
    scratch.write(b"the workers share their metrics here")
print(json.dumps({"uid": os.getuid(), "caps": status["CapEff"].strip(), "root": mounts["/"][0]}))
"""


def test_the_containers_run_as_10001_on_a_read_only_root_without_capabilities(stack: Stack) -> None:
    for container in stack.containers:
        facts = json.loads(podman_ok("exec", container.name, "python", "-c", PROCESS_FACTS))
        assert facts == {"uid": 10001, "caps": "0000000000000000", "root": "ro"}, container.role


def test_the_image_health_check_passes_for_the_api_and_the_panel(stack: Stack) -> None:
    for container in stack.containers:
        check = podman("healthcheck", "run", container.name)
        assert check.returncode == 0, f"{container.role}: {check.stdout} {check.stderr[-1000:]}"


def test_two_api_containers_share_the_rate_limit_through_redis(
    stack: Stack, api_key: str, inside_one_minute: None
) -> None:
    # A loopback address of this test alone: its count starts at zero in Redis.
    address = f"127.{random.randint(1, 254)}.{random.randint(1, 254)}.{random.randint(2, 254)}"
    transport = httpx.HTTPTransport(local_address=address)
    allowed: list[int] = []
    refused: set[int] = set()
    with httpx.Client(transport=transport, headers={"X-API-Key": api_key}, timeout=15) as client:
        for request in range(3 * RATE_LIMIT):
            container = (stack.api, stack.api_2)[request % 2]
            answer = client.get(f"{container.base_url}/api/version/latest")
            assert answer.status_code in (200, 429), answer.text
            if answer.status_code == 200:
                allowed.append(container.port)
            else:
                refused.add(container.port)
    assert len(allowed) == RATE_LIMIT, "each container counted alone" if len(allowed) > RATE_LIMIT else allowed
    assert set(allowed) == refused == {stack.api.port, stack.api_2.port}


def test_sigterm_ends_each_container_within_the_graceful_window_with_status_0(stack: Stack) -> None:
    """Last: it stops the containers the tests above use."""

    def stop(container: Container) -> float:
        started = time.monotonic()
        # `podman stop` sends SIGTERM and would SIGKILL only past --time.
        podman_ok("stop", f"--time={GRACEFUL_SECONDS + 15}", container.name, timeout=GRACEFUL_SECONDS + 60)
        return time.monotonic() - started

    with ThreadPoolExecutor(len(stack.containers)) as pool:
        took = list(pool.map(stop, stack.containers))
    for container, seconds in zip(stack.containers, took, strict=True):
        assert seconds < GRACEFUL_SECONDS, f"{container.role} took {seconds:.1f} s"
        assert container.exit_code() == 0, f"{container.role}:\n{container.logs()}"
        assert "Traceback" not in container.logs(), container.role
