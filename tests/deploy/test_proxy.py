"""The Caddyfile of the compose installation, adapted to Caddy's JSON by Caddy itself and then
checked: TLS for both host names, each name routed to its compose service and port, /metrics kept
off the internet, and no client-supplied X-Forwarded-For believed."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import time
from collections.abc import Iterator
from functools import cache
from pathlib import Path
from typing import Any

import httpx2 as httpx
import pytest

from licenseserver.serving import DEFAULT_PORTS
from tests.conftest import LiveServer, free_port
from tests.deploy.files import CADDYFILE, COMPOSE, ROOT, load_yaml
from tests.support.world import TestWorld

HOSTS = {"API_HOST": "api.example.test", "ADMIN_HOST": "admin.example.test", "ACME_EMAIL": "ops@example.test"}


def caddy_binary() -> str:
    """Debian's caddy, installed on first use where we may (as scripts/test does with Chromium)."""
    found = shutil.which("caddy")
    if found is None and os.geteuid() == 0:
        install = ["apt-get", "install", "-y", "-qq", "caddy"]
        env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
        if subprocess.run(install, env=env, capture_output=True, timeout=600, check=False).returncode != 0:
            subprocess.run(["apt-get", "update", "-qq"], env=env, capture_output=True, timeout=600, check=False)
            subprocess.run(install, env=env, capture_output=True, timeout=600, check=False)
        found = shutil.which("caddy")
    if found is None:
        pytest.fail("the proxy tests need Caddy: apt-get install caddy")
    return found


@cache
def adapted() -> tuple[dict[str, Any], str]:
    result = subprocess.run(
        [caddy_binary(), "adapt", "--config", str(CADDYFILE), "--adapter", "caddyfile"],
        env={**os.environ, **HOSTS},
        capture_output=True,
        timeout=60,
    )
    assert result.returncode == 0, result.stderr.decode()
    return json.loads(result.stdout), result.stderr.decode()


def server() -> dict[str, Any]:
    (only,) = adapted()[0]["apps"]["http"]["servers"].values()
    return dict(only)


def site(host: str) -> dict[str, Any]:
    (route,) = [route for route in server()["routes"] if route["match"] == [{"host": [host]}]]
    return dict(route)


def handlers(node: Any) -> Iterator[tuple[dict[str, Any], list[dict[str, Any]]]]:
    """Every handler in a route tree, with the matchers of the routes around it."""
    yield from _walk(node, [])


def _walk(node: Any, matchers: list[dict[str, Any]]) -> Iterator[tuple[dict[str, Any], list[dict[str, Any]]]]:
    if isinstance(node, dict):
        here = matchers + list(node.get("match", []))
        if "handler" in node:
            yield node, here
        for value in node.values():
            yield from _walk(value, here)
    elif isinstance(node, list):
        for item in node:
            yield from _walk(item, matchers)


def proxies(host: str) -> list[dict[str, Any]]:
    return [handler for handler, _ in handlers(site(host)) if handler["handler"] == "reverse_proxy"]


def compose_proxy() -> dict[str, Any]:
    return dict(load_yaml(COMPOSE)["services"]["proxy"])


def test_caddy_accepts_the_file_as_formatted() -> None:
    _, warnings = adapted()
    assert "not formatted" not in warnings, "run `caddy fmt --overwrite deploy/caddy/Caddyfile`"


def test_https_for_exactly_the_two_host_names() -> None:
    assert server()["listen"] == [":443"]
    assert "automatic_https" not in server(), "Caddy redirects HTTP and renews certificates by default"
    (policy,) = adapted()[0]["apps"]["tls"]["automation"]["policies"]
    assert sorted(policy["subjects"]) == sorted([HOSTS["API_HOST"], HOSTS["ADMIN_HOST"]])
    assert {issuer["email"] for issuer in policy["issuers"]} == {HOSTS["ACME_EMAIL"]}


def test_the_api_host_reaches_every_api_container() -> None:
    (proxy,) = proxies(HOSTS["API_HOST"])
    upstreams = proxy["dynamic_upstreams"]
    compose_services = load_yaml(COMPOSE)["services"]
    # An A-record lookup of the service name finds every container that `--scale api=N` started.
    assert upstreams["source"] == "a"
    assert upstreams["name"] == "api" and "api" in compose_services
    assert int(upstreams["port"]) == DEFAULT_PORTS["api"]
    assert proxy["load_balancing"]["try_duration"] > 0, "a request to a stopping container tries another"


def test_the_admin_host_reaches_the_panel() -> None:
    (proxy,) = proxies(HOSTS["ADMIN_HOST"])
    assert proxy["upstreams"] == [{"dial": f"admin:{DEFAULT_PORTS['admin']}"}]


def test_metrics_are_not_served_to_the_internet() -> None:
    blocked = [
        handler
        for handler, matchers in handlers(site(HOSTS["API_HOST"]))
        if handler["handler"] == "static_response" and any("/metrics*" in m.get("path", []) for m in matchers)
    ]
    assert [handler["status_code"] for handler in blocked] == [404]


def test_clients_cannot_choose_their_address() -> None:
    # Without trusted_proxies Caddy replaces X-Forwarded-For with the address it saw itself.
    assert "trusted_proxies" not in server()
    for host in (HOSTS["API_HOST"], HOSTS["ADMIN_HOST"]):
        for proxy in proxies(host):
            assert "X-Forwarded-For" not in json.dumps(proxy.get("headers", {}))


def test_compose_gives_caddy_its_file_and_every_variable_it_reads() -> None:
    proxy = compose_proxy()
    mount = f"./{CADDYFILE.relative_to(ROOT)}:/etc/caddy/Caddyfile:ro"
    assert mount in proxy["volumes"]
    needed = set(re.findall(r"\{\$([A-Z_]+)", CADDYFILE.read_text(encoding="utf-8")))
    assert needed == set(HOSTS)
    assert set(proxy["environment"]) == needed


# --- the same route tree served by a real Caddy in front of a real License API ---------------


def local_config(api_port: int, listen_port: int) -> dict[str, Any]:
    """Our adapted configuration with only what a test machine must change: plain HTTP on a free
    local port, and the api upstream looked up as 127.0.0.1 instead of the compose service name."""
    api_route: dict[str, Any] = json.loads(json.dumps(site(HOSTS["API_HOST"])))
    del api_route["match"]  # any host name: the test calls 127.0.0.1
    for handler, _ in handlers(api_route):
        if handler["handler"] == "reverse_proxy":
            handler["dynamic_upstreams"].update(name="127.0.0.1", port=str(api_port))
    local_server = {"listen": [f"127.0.0.1:{listen_port}"], "routes": [api_route], "automatic_https": {"disable": True}}
    return {"admin": {"disabled": True}, "apps": {"http": {"servers": {"local": local_server}}}}


@pytest.fixture
def caddy_in_front(world: TestWorld, tmp_path: Path) -> Iterator[tuple[str, str]]:
    """(the proxy's URL, the API's own URL): Caddy on our routes, the API trusting only it."""
    world.execute("UPDATE rate_limit_settings SET api_per_minute = 3")
    api = LiveServer(world, {"TRUSTED_PROXIES": "127.0.0.1"})
    port = free_port()
    config = tmp_path / "caddy.json"
    config.write_text(json.dumps(local_config(api.port, port)), encoding="utf-8")
    home = {"HOME": str(tmp_path), "XDG_DATA_HOME": str(tmp_path), "XDG_CONFIG_HOME": str(tmp_path)}
    caddy = subprocess.Popen(
        [caddy_binary(), "run", "--config", str(config)],
        env={**os.environ, **home},
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        proxy_url = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            try:
                if httpx.get(f"{proxy_url}/health", timeout=2).status_code == 200:
                    break
            except httpx.HTTPError:
                time.sleep(0.1)
        yield proxy_url, api.base_url
    finally:
        caddy.terminate()
        caddy.wait(timeout=15)
        api.stop()


def latest_version_statuses(base_url: str, api_key: str, count: int) -> list[int]:
    """One request per claimed client address, each naming a different one in X-Forwarded-For."""
    return [
        httpx.get(
            f"{base_url}/api/version/latest",
            headers={"X-API-Key": api_key, "X-Forwarded-For": f"203.0.113.{number}"},
            timeout=10,
        ).status_code
        for number in range(1, count + 1)
    ]


@pytest.mark.parametrize("backend", ["sqlite"])
def test_through_caddy_health_answers_metrics_do_not_and_clients_cannot_dodge_limits(
    world: TestWorld, caddy_in_front: tuple[str, str]
) -> None:
    proxy_url, api_url = caddy_in_front
    assert httpx.get(f"{proxy_url}/health", timeout=10).json()["status"] == "healthy"
    assert httpx.get(f"{proxy_url}/metrics", timeout=10).status_code == 404
    assert httpx.get(f"{api_url}/metrics", timeout=10).status_code == 200
    # Straight to the API from a trusted address, each claimed address has a bucket of its own...
    assert latest_version_statuses(api_url, world.api_key, 5) == [200] * 5
    # ...through Caddy the claims are replaced by the address Caddy saw: one bucket of 3.
    assert latest_version_statuses(proxy_url, world.api_key, 5) == [200, 200, 200, 429, 429]
