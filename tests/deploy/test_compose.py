"""compose.yaml and .env.example, checked without Docker: the compose-spec schema (vendored by
check-jsonschema), then what matters for running it: a one-shot migration before the apps, a
named volume and health checks for PostgreSQL, a scalable API, settings that the server accepts,
and a proxy whose address is the one the apps trust."""

from __future__ import annotations

import ipaddress
import json
from importlib import resources
from typing import Any
from urllib.parse import urlsplit

import jsonschema  # type: ignore[import-untyped]
import pytest
from pydantic import ValidationError
from starlette.testclient import TestClient

from licenseserver.admin.app import create_admin_app
from licenseserver.api.app import create_api_app
from licenseserver.config import Settings
from licenseserver.serving import DEFAULT_PORTS, uvicorn_options
from tests.deploy.files import (
    COMPOSE,
    ENV_EXAMPLE,
    ROOT,
    SETTING_NAMES,
    MissingVariableError,
    env_file_examples,
    env_file_names,
    env_file_values,
    interpolate_tree,
    load_yaml,
    parse_cli,
    referenced_variables,
    settings_from,
)
from tests.support.world import TestWorld

APP_SERVICES = ("migrate", "api", "admin")
SETTINGS_ANCHOR = "x-licenseserver-settings"


def compose_schema() -> dict[str, Any]:
    vendored = resources.files("check_jsonschema.builtin_schemas.vendor") / "compose-spec.json"
    return dict(json.loads(vendored.read_text(encoding="utf-8")))


def raw() -> dict[str, Any]:
    return dict(load_yaml(COMPOSE))


def resolved(**overrides: str) -> dict[str, Any]:
    """The file as `docker compose config` sees it with .env copied from .env.example."""
    return dict(interpolate_tree(raw(), {**env_file_values(ENV_EXAMPLE), **overrides}))


def container_settings(service: str, **overrides: str) -> Settings:
    """The settings a server container starts with: .env (env_file), then `environment`."""
    env_file = {**env_file_values(ENV_EXAMPLE), **overrides}
    environment = {**env_file, **resolved(**overrides)["services"][service]["environment"]}
    return settings_from(environment)


def services() -> dict[str, Any]:
    return dict(resolved()["services"])


def test_matches_the_compose_specification() -> None:
    jsonschema.validate(raw(), compose_schema())
    jsonschema.validate(resolved(), compose_schema())


def test_the_schema_check_would_catch_a_mistake() -> None:
    broken = raw()
    broken["services"]["api"]["depends_on"]["migrate"]["condition"] = "service_finished"
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate(broken, compose_schema())


def test_required_values_stop_compose_when_missing() -> None:
    with pytest.raises(MissingVariableError, match="POSTGRES_PASSWORD"):
        interpolate_tree(raw(), {})


def test_postgres_keeps_its_data_in_a_named_volume_and_reports_health() -> None:
    compose = resolved()
    postgres = compose["services"]["postgres"]
    mounts = {mount.split(":")[1]: mount.split(":")[0] for mount in postgres["volumes"]}
    volume = mounts["/var/lib/postgresql/data"]
    assert volume in compose["volumes"], "a named volume survives `docker compose down`"
    assert "pg_isready" in postgres["healthcheck"]["test"]
    assert "ports" not in postgres, "the database is reachable from its own network only"


def test_redis_reports_health_and_is_not_published() -> None:
    redis = services()["redis"]
    assert redis["healthcheck"]["test"][-2:] == ["redis-cli", "ping"]
    assert "ports" not in redis


def test_migration_runs_once_before_the_apps() -> None:
    all_services = services()
    migrate = all_services["migrate"]
    assert parse_cli(migrate["command"])[-1].info_name == "migrate"
    assert migrate["restart"] == "no"
    assert migrate["depends_on"]["postgres"]["condition"] == "service_healthy"
    for name in ("api", "admin"):
        assert all_services[name]["depends_on"]["migrate"]["condition"] == "service_completed_successfully"


def test_every_container_of_the_server_runs_the_same_image_locked_down() -> None:
    all_services = services()
    images = {all_services[name]["image"] for name in APP_SERVICES}
    assert len(images) == 1, "the migration must match the code that serves"
    for name in APP_SERVICES:
        service = all_services[name]
        assert service["build"]["context"] == "."
        assert service.get("user") in (None, ""), "the image's non-root user stays"
        assert service["read_only"] is True
        assert service["cap_drop"] == ["ALL"]
        assert "/tmp" in service["tmpfs"], "the workers' metric files need a writable /tmp"


@pytest.mark.parametrize("service", ["api", "admin"])
def test_apps_listen_where_the_proxy_and_their_healthcheck_look(service: str) -> None:
    definition = services()[service]
    serve = parse_cli(definition["command"])[-1]
    assert serve.params["service"].value == service
    assert serve.params["host"] == "0.0.0.0"
    assert serve.params["port"] == DEFAULT_PORTS[service]
    assert definition["expose"] == [str(DEFAULT_PORTS[service])]
    health = urlsplit(definition["environment"]["HEALTHCHECK_URL"])
    assert (health.hostname, health.port) == ("127.0.0.1", DEFAULT_PORTS[service])


def test_the_api_can_be_scaled() -> None:
    api = services()["api"]
    assert "container_name" not in api, "--scale needs generated names"
    assert "ports" not in api, "replicas cannot share a host port; the proxy reaches them"
    assert "front" in api["networks"]


def test_proxy_publishes_https_and_is_the_only_trusted_forwarder() -> None:
    compose = resolved()
    proxy = compose["services"]["proxy"]
    assert {"80:80", "443:443"} <= set(proxy["ports"])
    address = ipaddress.ip_address(proxy["networks"]["front"]["ipv4_address"])
    (subnet,) = (ipaddress.ip_network(entry["subnet"]) for entry in compose["networks"]["front"]["ipam"]["config"])
    assert address in subnet
    for name in ("api", "admin"):
        trusted = container_settings(name).trusted_proxies
        assert any(address in ipaddress.ip_network(entry) for entry in trusted)
        assert not any(ipaddress.ip_network(entry).num_addresses > 1 for entry in trusted), "trust the proxy alone"
    assert set(compose["services"]) - {"proxy", "prometheus"} >= {"postgres", "redis", *APP_SERVICES}
    published = {name for name, service in compose["services"].items() if "ports" in service}
    assert published <= {"proxy", "prometheus"}


def test_only_the_proxy_and_the_apps_leave_the_internal_network() -> None:
    compose = resolved()
    assert compose["networks"]["back"]["internal"] is True
    for name in ("postgres", "redis", "migrate"):
        assert compose["services"][name]["networks"] == ["back"]


def test_every_setting_in_env_reaches_the_server_containers() -> None:
    assert set(raw()[SETTINGS_ANCHOR]) <= SETTING_NAMES
    for name in APP_SERVICES:
        assert services()[name]["env_file"] == ".env"
        assert set(services()[name]["environment"]) >= set(raw()[SETTINGS_ANCHOR])


@pytest.mark.parametrize("service", APP_SERVICES)
def test_the_server_accepts_the_settings_compose_gives_it(service: str) -> None:
    settings = container_settings(service)
    assert settings.database_url.startswith("postgresql://licenseserver:")
    assert urlsplit(settings.database_url).hostname == "postgres"
    assert settings.redis_url is not None and urlsplit(settings.redis_url).hostname == "redis"


def test_the_values_env_example_shows_commented_out_are_accepted() -> None:
    shown = {name: value for name, value in env_file_examples(ENV_EXAMPLE).items() if "$" not in value}
    settings_from(shown)


def test_a_bad_value_in_env_would_be_refused_at_start() -> None:
    with pytest.raises(ValidationError):
        container_settings("api", RATE_LIMIT_API_PER_MINUTE="zero")


def test_env_example_names_every_setting_and_every_compose_variable() -> None:
    compose_variables = referenced_variables(COMPOSE.read_text(encoding="utf-8"))
    assert env_file_names(ENV_EXAMPLE) == SETTING_NAMES | compose_variables


def test_env_example_holds_no_real_secret() -> None:
    values = env_file_values(ENV_EXAMPLE)
    for name, value in values.items():
        if any(word in name for word in ("PASSWORD", "SECRET")):
            assert value in ("", "CHANGE-ME"), f"{name} must be a placeholder"


def test_env_files_stay_out_of_git() -> None:
    assert ".env" in (ROOT / ".gitignore").read_text(encoding="utf-8").splitlines()


def graceful_seconds() -> int:
    return int(uvicorn_options("127.0.0.1", DEFAULT_PORTS["api"])["timeout_graceful_shutdown"])


@pytest.mark.parametrize("service", ["api", "admin"])
def test_compose_waits_for_requests_in_flight_before_killing(service: str) -> None:
    grace = services()[service]["stop_grace_period"]
    assert grace.endswith("s") and int(grace[:-1]) > graceful_seconds()


@pytest.mark.parametrize("backend", ["sqlite"])
@pytest.mark.parametrize("service", ["api", "admin"])
def test_the_container_healthcheck_asks_a_path_the_app_answers_with_200(service: str, world: TestWorld) -> None:
    path = urlsplit(services()[service]["environment"]["HEALTHCHECK_URL"]).path
    settings = world.settings(secret_key="a-test-secret-key-that-is-long-enough")
    app = create_api_app(settings) if service == "api" else create_admin_app(settings)
    with TestClient(app, raise_server_exceptions=False) as client:
        assert client.get(path, follow_redirects=False).status_code == 200
