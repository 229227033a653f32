"""The Kubernetes manifests, checked without a cluster: each object against the Kubernetes JSON
schema of kubernetes-validate (strict: unknown fields fail), then what matters for running the
server: probes on paths the apps really answer, non-root pods, resources, the migration Job, the
HPA, the Ingress routes, and settings that are complete, valid and secret where they should be."""

from __future__ import annotations

import ipaddress
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import kubernetes_validate  # type: ignore[import-untyped]
import pytest
from starlette.testclient import TestClient

from licenseserver.admin.app import create_admin_app
from licenseserver.api.app import create_api_app
from licenseserver.serving import DEFAULT_PORTS, uvicorn_options
from tests.deploy.files import KUBERNETES, SETTING_NAMES, load_yaml, load_yaml_documents, parse_cli, settings_from
from tests.deploy.test_dockerfile import runtime
from tests.support.world import TestWorld

KUBERNETES_VERSION = "1.30.0"
KUSTOMIZATION = KUBERNETES / "kustomization.yaml"
IMAGE = "licenseserver"  # kustomization.yaml sets the registry and tag of this name
SERVER_DEPLOYMENTS = {"api": "licenseserver-api", "admin": "licenseserver-admin"}


def manifest_files() -> list[Path]:
    return sorted(path for path in KUBERNETES.glob("*.yaml") if path != KUSTOMIZATION)


def objects() -> list[dict[str, Any]]:
    return [doc for path in manifest_files() for doc in load_yaml_documents(path)]


def find(kind: str, name: str) -> dict[str, Any]:
    (found,) = [doc for doc in objects() if doc["kind"] == kind and doc["metadata"]["name"] == name]
    return found


def pod_specs() -> Iterator[tuple[str, dict[str, Any]]]:
    for doc in objects():
        if doc["kind"] in ("Deployment", "StatefulSet", "Job"):
            yield doc["metadata"]["name"], doc["spec"]["template"]["spec"]


def server_containers() -> Iterator[tuple[str, dict[str, Any], dict[str, Any]]]:
    for name, spec in pod_specs():
        for container in spec["containers"]:
            if container["image"] == IMAGE:
                yield name, spec, container


def container_of(deployment: str) -> dict[str, Any]:
    (container,) = find("Deployment", deployment)["spec"]["template"]["spec"]["containers"]
    return dict(container)


@pytest.mark.parametrize("path", manifest_files(), ids=lambda path: path.name)
def test_every_object_matches_the_kubernetes_schema(path: Path) -> None:
    for doc in load_yaml_documents(path):
        kubernetes_validate.validate(doc, KUBERNETES_VERSION, strict=True)


def test_the_schema_check_would_catch_a_mistake() -> None:
    deployment = find("Deployment", SERVER_DEPLOYMENTS["api"])
    deployment["spec"]["template"]["spec"]["containers"][0]["readinesProbe"] = {}
    with pytest.raises(kubernetes_validate.ValidationError):
        kubernetes_validate.validate(deployment, KUBERNETES_VERSION, strict=True)


def test_kustomization_applies_every_manifest_and_pins_the_image() -> None:
    kustomization = load_yaml(KUSTOMIZATION)
    assert sorted(kustomization["resources"]) == [path.name for path in manifest_files()]
    (image,) = kustomization["images"]
    assert image["name"] == IMAGE
    assert image["newTag"] not in ("", "latest")
    namespaces = [doc["metadata"]["name"] for doc in objects() if doc["kind"] == "Namespace"]
    assert namespaces == [kustomization["namespace"]]


def test_pods_run_as_non_root_with_nothing_to_escalate() -> None:
    uid = int(runtime().values("USER")[-1].split(":")[0])
    for name, spec in pod_specs():
        context = spec["securityContext"]
        assert context["runAsNonRoot"] is True, name
        assert context["runAsUser"] > 0, name
        assert context["seccompProfile"]["type"] == "RuntimeDefault", name
        assert spec["automountServiceAccountToken"] is False, name
        for container in spec["containers"]:
            security = container["securityContext"]
            assert security["allowPrivilegeEscalation"] is False, name
            assert security["capabilities"]["drop"] == ["ALL"], name
            assert "privileged" not in security
    for name, spec, container in server_containers():
        assert spec["securityContext"]["runAsUser"] == uid, f"{name}: the image's own user"
        assert container["securityContext"]["readOnlyRootFilesystem"] is True
        mounts = {mount["mountPath"] for mount in container["volumeMounts"]}
        assert "/tmp" in mounts, f"{name}: the workers' metric files need a writable /tmp"


def test_every_container_requests_resources_and_has_a_memory_limit() -> None:
    for name, spec in pod_specs():
        for container in spec["containers"]:
            resources = container["resources"]
            assert {"cpu", "memory"} <= set(resources["requests"]), name
            assert "memory" in resources["limits"], name


@pytest.mark.parametrize("service", sorted(SERVER_DEPLOYMENTS))
def test_server_deployments_run_their_app_on_its_port(service: str) -> None:
    container = container_of(SERVER_DEPLOYMENTS[service])
    serve = parse_cli(container["args"])[-1]
    assert serve.params["service"].value == service
    assert serve.params["host"] == "0.0.0.0"
    (port,) = container["ports"]
    assert port["containerPort"] == serve.params["port"] == DEFAULT_PORTS[service]


def probes(deployment: str) -> dict[str, dict[str, Any]]:
    container = container_of(deployment)
    return {kind: container[kind] for kind in ("startupProbe", "readinessProbe", "livenessProbe") if kind in container}


@pytest.mark.parametrize("service", sorted(SERVER_DEPLOYMENTS))
def test_probes_ask_health(service: str) -> None:
    found = probes(SERVER_DEPLOYMENTS[service])
    assert {"readinessProbe", "livenessProbe"} <= set(found)
    for probe in found.values():
        assert probe["httpGet"]["path"] == "/health"
    # Liveness gives up much later than readiness: a database outage takes pods out of the
    # Service at once but restarts them only if it lasts.
    readiness, liveness = found["readinessProbe"], found["livenessProbe"]
    assert liveness["periodSeconds"] * liveness["failureThreshold"] > 3 * (
        readiness["periodSeconds"] * readiness["failureThreshold"]
    )


@pytest.mark.parametrize("backend", ["sqlite"])
@pytest.mark.parametrize("service", sorted(SERVER_DEPLOYMENTS))
def test_probes_ask_paths_the_app_answers_with_200(service: str, world: TestWorld) -> None:
    found = probes(SERVER_DEPLOYMENTS[service])
    assert {"readinessProbe", "livenessProbe"} <= set(found)
    ports = {port["name"] for port in container_of(SERVER_DEPLOYMENTS[service])["ports"]}
    settings = world.settings(secret_key="a-test-secret-key-that-is-long-enough")
    app = create_api_app(settings) if service == "api" else create_admin_app(settings)
    with TestClient(app, raise_server_exceptions=False) as client:
        for probe in found.values():
            assert probe["httpGet"]["port"] in ports
            assert client.get(probe["httpGet"]["path"], follow_redirects=False).status_code == 200


def test_the_migration_job_runs_migrate_with_the_servers_image_and_settings() -> None:
    job = find("Job", "licenseserver-migrate")
    spec = job["spec"]["template"]["spec"]
    (container,) = spec["containers"]
    assert parse_cli(container["args"])[-1].info_name == "migrate"
    assert spec["restartPolicy"] in ("Never", "OnFailure")
    assert job["spec"]["backoffLimit"] >= 1
    for deployment in SERVER_DEPLOYMENTS.values():
        server = container_of(deployment)
        assert server["image"] == container["image"] == IMAGE
        assert server["envFrom"] == container["envFrom"]


def test_the_autoscaler_owns_the_api_replicas() -> None:
    hpa = find("HorizontalPodAutoscaler", "licenseserver-api")
    target = hpa["spec"]["scaleTargetRef"]
    deployment = find("Deployment", target["name"])
    assert (target["kind"], target["apiVersion"]) == ("Deployment", deployment["apiVersion"])
    assert target["name"] == SERVER_DEPLOYMENTS["api"]
    assert "replicas" not in deployment["spec"], "a fixed count would fight the autoscaler on every apply"
    assert 2 <= hpa["spec"]["minReplicas"] < hpa["spec"]["maxReplicas"]
    (metric,) = hpa["spec"]["metrics"]
    assert metric["resource"]["name"] == "cpu"
    assert "cpu" in container_of(target["name"])["resources"]["requests"], "utilization is measured against it"


def selects(selector: dict[str, str], labels: dict[str, str]) -> bool:
    return all(labels.get(key) == value for key, value in selector.items())


def test_services_and_budgets_select_their_pods() -> None:
    for doc in objects():
        if doc["kind"] not in ("Service", "PodDisruptionBudget"):
            continue
        selector = doc["spec"]["selector"]
        selector = selector.get("matchLabels", selector)
        matched = [
            owner
            for owner in objects()
            if owner["kind"] in ("Deployment", "StatefulSet")
            and selects(selector, owner["spec"]["template"]["metadata"]["labels"])
        ]
        assert len(matched) == 1, doc["metadata"]["name"]
        if doc["kind"] == "Service":
            ports = {port["name"] for c in matched[0]["spec"]["template"]["spec"]["containers"] for port in c["ports"]}
            assert {port["targetPort"] for port in doc["spec"]["ports"]} <= ports


def ingress_routes() -> dict[str, list[dict[str, Any]]]:
    ingress = find("Ingress", "licenseserver")
    return {rule["host"]: rule["http"]["paths"] for rule in ingress["spec"]["rules"]}


def routed(paths: list[dict[str, Any]], path: str) -> bool:
    """Kubernetes' matching: Exact is equality, Prefix matches whole path elements."""
    for entry in paths:
        if entry["pathType"] == "Exact" and entry["path"] == path:
            return True
        if entry["pathType"] == "Prefix":
            prefix = [part for part in entry["path"].split("/") if part]
            if [part for part in path.split("/") if part][: len(prefix)] == prefix:
                return True
    return False


def test_ingress_terminates_tls_for_both_hosts_and_targets_real_services() -> None:
    ingress = find("Ingress", "licenseserver")
    routes = ingress_routes()
    assert len(routes) == 2
    (tls,) = ingress["spec"]["tls"]
    assert sorted(tls["hosts"]) == sorted(routes)
    for paths in routes.values():
        for entry in paths:
            backend = entry["backend"]["service"]
            service = find("Service", backend["name"])
            assert backend["port"]["name"] in {port["name"] for port in service["spec"]["ports"]}


def api_paths() -> set[str]:
    app = create_api_app(settings_from({"DATABASE_URL": "sqlite:////nonexistent/unused.db"}))
    documented = {path.replace("{license_key}", "SOME-KEY") for path in app.openapi()["paths"]}
    return documented | {app.docs_url or "", app.redoc_url or "", app.openapi_url or ""} - {""}


def test_ingress_serves_every_public_api_path_but_metrics() -> None:
    (api_host,) = [host for host, paths in ingress_routes().items() if "api" in host]
    paths = ingress_routes()[api_host]
    assert {entry["backend"]["service"]["name"] for entry in paths} == {"licenseserver-api"}
    public = api_paths()
    assert "/metrics" in public and "/api/license/verify" in public
    for path in public - {"/metrics"}:
        assert routed(paths, path), path
    assert not routed(paths, "/metrics"), "Prometheus scrapes the pods inside the cluster"


def test_admin_host_serves_the_whole_panel() -> None:
    (admin_host,) = [host for host in ingress_routes() if "admin" in host]
    paths = ingress_routes()[admin_host]
    assert routed(paths, "/login") and routed(paths, "/licenses/1")
    assert {entry["backend"]["service"]["name"] for entry in paths} == {"licenseserver-admin"}


def server_environment() -> tuple[dict[str, str], dict[str, str]]:
    (first, second) = container_of(SERVER_DEPLOYMENTS["api"])["envFrom"]
    config = find("ConfigMap", first["configMapRef"]["name"])["data"]
    secret = find("Secret", second["secretRef"]["name"])["stringData"]
    return config, secret


def test_configmap_and_secret_hold_every_setting_once() -> None:
    config, secret = server_environment()
    assert not set(config) & set(secret)
    assert set(config) | set(secret) == SETTING_NAMES


def test_secrets_are_not_in_the_configmap() -> None:
    config, _ = server_environment()
    for name, value in config.items():
        assert not any(word in name for word in ("PASSWORD", "SECRET", "DATABASE_URL", "REDIS_URL")), name
        assert "://" not in value, name


def test_the_secret_holds_placeholders_only() -> None:
    for doc in objects():
        if doc["kind"] != "Secret":
            continue
        assert "data" not in doc, "base64 data would hide a real value from review"
        for name, value in doc["stringData"].items():
            if "://" in value:
                assert urlsplit(value).password in (None, "CHANGE-ME"), name
            elif any(word in name for word in ("PASSWORD", "SECRET")):
                assert value in ("", "CHANGE-ME"), name


def test_the_server_accepts_the_manifests_settings() -> None:
    config, secret = server_environment()
    settings = settings_from({**config, **secret})
    assert urlsplit(settings.database_url).hostname == find("Service", "postgres")["metadata"]["name"]
    assert settings.redis_url is not None
    assert urlsplit(settings.redis_url).hostname == find("Service", "redis")["metadata"]["name"]
    assert all(ipaddress.ip_network(entry).is_private for entry in settings.trusted_proxies)


def test_the_namespace_enforces_the_restricted_pod_security_standard() -> None:
    (namespace,) = [doc for doc in objects() if doc["kind"] == "Namespace"]
    assert namespace["metadata"]["labels"]["pod-security.kubernetes.io/enforce"] == "restricted"


@pytest.mark.parametrize("service", sorted(SERVER_DEPLOYMENTS))
def test_pods_get_time_to_finish_requests_in_flight(service: str) -> None:
    spec = find("Deployment", SERVER_DEPLOYMENTS[service])["spec"]["template"]["spec"]
    (container,) = spec["containers"]
    pause = int(container["lifecycle"]["preStop"]["exec"]["command"][-1])
    graceful = int(uvicorn_options("127.0.0.1", DEFAULT_PORTS[service])["timeout_graceful_shutdown"])
    assert spec["terminationGracePeriodSeconds"] > pause + graceful
