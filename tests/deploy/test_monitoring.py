"""The Prometheus alert rules, the Prometheus configuration and the Grafana dashboard: each query
is parsed by a PromQL parser, and every metric and label it names must be one the License API
really exports (read from the code's own registry and /metrics output, not from a list here)."""

from __future__ import annotations

import json
import re
from functools import cache
from typing import Any

import promql_parser
import pytest
from prometheus_client.parser import text_string_to_metric_families

from licenseserver.kit import metrics as project_metrics
from licenseserver.kit.errors import ErrorCode
from licenseserver.kit.tally import TallyMetric
from licenseserver.serving import DEFAULT_PORTS
from tests.deploy.files import COMPOSE, DEPLOYMENT_DOC, MONITORING, load_yaml
from tests.deploy.test_kubernetes import api_paths

ALERTS = MONITORING / "alerts.yml"
PROMETHEUS_CONFIG = MONITORING / "prometheus.yml"
DASHBOARD = MONITORING / "grafana-dashboard.json"
# Labels Prometheus itself puts on every scraped series.
TARGET_LABELS = {"job", "instance"}
# The series Prometheus writes about each scrape, not the application.
SCRAPE_SERIES = {"up": set[str]()}
SUFFIXES = {"counter": ("_total",), "gauge": ("",), "histogram": ("_bucket", "_sum", "_count")}
GRAFANA_VARIABLES = {"$__rate_interval": "5m", "$__interval": "1m", "$__range": "1h"}


@cache
def exported() -> dict[str, set[str]]:
    """Every series name the API's /metrics can carry, with the label names it can have."""
    labels_of: dict[str, set[str]] = {}
    for metric in vars(project_metrics).values():
        if isinstance(metric, TallyMetric):
            labels_of[metric.name.removesuffix("_total")] = set(metric.labelnames)
    text, _ = project_metrics.render_metrics(0)
    series: dict[str, set[str]] = {}
    for family in text_string_to_metric_families(text.decode()):
        if not family.name.startswith(project_metrics.PREFIX):
            continue  # the process and platform collectors are not ours to alert on
        for suffix in SUFFIXES[family.type]:
            extra = {"le"} if suffix == "_bucket" else set()
            series[family.name + suffix] = labels_of.get(family.name, set()) | extra
    return series


def selectors(expression: str) -> list[Any]:
    """Every vector selector in a PromQL expression; the parser raises on bad syntax."""
    for variable, value in GRAFANA_VARIABLES.items():
        expression = expression.replace(variable, value)
    found: list[Any] = []

    def visit(node: Any) -> bool:
        if isinstance(node, promql_parser.VectorSelector):
            found.append(node)
        return True

    promql_parser.walk(promql_parser.parse(expression), visit)
    return found


def check_expression(expression: str, jobs: set[str]) -> None:
    picked = selectors(expression)
    assert picked, f"no metric in {expression!r}"
    for selector in picked:
        known = {**exported(), **SCRAPE_SERIES}
        assert selector.name in known, f"{selector.name} is not exported by the License API"
        for matcher in selector.matchers.matchers:
            assert matcher.name in known[selector.name] | TARGET_LABELS, f"{selector.name} has no label {matcher.name}"
            if matcher.op != promql_parser.MatchOp.Equal:
                continue
            if matcher.name == "job":
                assert matcher.value in jobs, f"no scrape job {matcher.value}"
            if matcher.name == "route":
                assert matcher.value in api_paths(), f"no route {matcher.value}"
            if matcher.name == "code":
                assert matcher.value in ErrorCode.__members__, f"no error code {matcher.value}"


def rules() -> list[dict[str, Any]]:
    return [rule for group in load_yaml(ALERTS)["groups"] for rule in group["rules"]]


def scrape_jobs() -> dict[str, dict[str, Any]]:
    return {job["job_name"]: job for job in load_yaml(PROMETHEUS_CONFIG)["scrape_configs"]}


def test_the_catalogue_is_read_from_the_code() -> None:
    names = exported()
    assert "licenseserver_http_requests_total" in names
    assert names["licenseserver_http_request_duration_seconds_bucket"] >= {"route", "le"}
    assert "licenseserver_sessions_live" in names


def test_a_misspelt_metric_or_label_is_caught() -> None:
    with pytest.raises(AssertionError, match="not exported"):
        check_expression("rate(licenseserver_activation_total[5m])", set())
    with pytest.raises(AssertionError, match="no label"):
        check_expression('rate(licenseserver_activations_total{outcome="created"}[5m])', set())
    with pytest.raises(AssertionError, match="no route"):
        check_expression('rate(licenseserver_http_requests_total{route="/healthz"}[5m])', set())
    with pytest.raises(ValueError):
        selectors("sum(rate(licenseserver_activations_total[5m])")


def test_alert_rules_are_complete() -> None:
    names = [rule["alert"] for rule in rules()]
    assert len(names) == len(set(names)) >= 8
    for rule in rules():
        assert set(rule) == {"alert", "expr", "for", "labels", "annotations"}, rule["alert"]
        assert re.fullmatch(r"\d+[smh]", rule["for"])
        assert rule["labels"]["severity"] in ("critical", "warning")
        assert {"summary", "description"} <= set(rule["annotations"])
    assert {rule["labels"]["severity"] for rule in rules()} == {"critical", "warning"}


@pytest.mark.parametrize("rule", rules(), ids=lambda rule: rule["alert"])
def test_alert_expressions_parse_and_name_real_metrics(rule: dict[str, Any]) -> None:
    check_expression(rule["expr"], set(scrape_jobs()))


def families() -> set[str]:
    """The metric names as a person reads them: histograms without their series suffixes."""
    return {re.sub(r"_(bucket|sum|count)$", "", name) for name in exported()}


def test_alerts_watch_availability_errors_latency_and_the_database() -> None:
    watched = {selector.name for rule in rules() for selector in selectors(rule["expr"])}
    assert {
        "up",
        "licenseserver_http_requests_total",
        "licenseserver_http_request_duration_seconds_bucket",
        "licenseserver_sessions_live",
    } <= watched


def test_the_dashboard_shows_every_metric_the_api_exports() -> None:
    shown = {
        selector.name
        for panel in dashboard()["panels"]
        for target in panel["targets"]
        for selector in selectors(target["expr"])
    }
    missing = {name for name in families() if not any(used.startswith(name) for used in shown)}
    assert not missing, "add a panel for each new metric"


def test_the_guide_describes_every_metric_the_api_exports() -> None:
    guide = DEPLOYMENT_DOC.read_text(encoding="utf-8")
    missing = {name for name in families() if f"| `{name}` |" not in guide}
    assert not missing, "docs/deployment.md, What to monitor"


def test_prometheus_loads_the_rules_and_finds_every_api_container() -> None:
    config = load_yaml(PROMETHEUS_CONFIG)
    assert config["rule_files"] == [ALERTS.name]
    job = scrape_jobs()["licenseserver-api"]
    assert job["metrics_path"] == "/metrics"
    (discovery,) = job["dns_sd_configs"]
    assert discovery["names"] == ["api"] and discovery["type"] == "A"
    assert discovery["port"] == DEFAULT_PORTS["api"]
    compose = load_yaml(COMPOSE)
    prometheus = compose["services"]["prometheus"]
    assert f"./deploy/monitoring/{ALERTS.name}:/etc/prometheus/{ALERTS.name}:ro" in prometheus["volumes"]
    shared = set(prometheus["networks"]) & set(compose["services"]["api"]["networks"])
    assert shared, "Prometheus must reach the api containers"


def dashboard() -> dict[str, Any]:
    return dict(json.loads(DASHBOARD.read_text(encoding="utf-8")))


def test_dashboard_is_importable() -> None:
    board = dashboard()
    assert board["uid"] and board["title"] and isinstance(board["schemaVersion"], int)
    ids = [panel["id"] for panel in board["panels"]]
    assert len(ids) == len(set(ids))
    (variable,) = board["templating"]["list"]
    assert (variable["type"], variable["query"]) == ("datasource", "prometheus")
    for panel in board["panels"]:
        place = panel["gridPos"]
        assert place["x"] + place["w"] <= 24 and place["h"] > 0
        assert panel["datasource"]["uid"] == "${" + variable["name"] + "}"
        assert panel["targets"], panel["title"]


@pytest.mark.parametrize(
    "target",
    [target for panel in dashboard()["panels"] for target in panel["targets"]],
    ids=lambda target: target["expr"][:60],
)
def test_dashboard_queries_parse_and_name_real_metrics(target: dict[str, Any]) -> None:
    check_expression(target["expr"], set(scrape_jobs()))
