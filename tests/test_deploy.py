"""The Kubernetes manifests and the Grafana dashboard, checked from their files.

No cluster (nor kubeconform) runs on the CI machines, so the manifests are loaded and
checked for what the operations docs promise: probes, security context, resources,
replicas, disruption budget and autoscaler.
"""

from __future__ import annotations

import json
import re
import textwrap
from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml
from prometheus_client.metrics import MetricWrapperBase

from scim_proxy.http.app import create_app
from scim_proxy.ops import metrics
from scim_proxy.ops.config import ConfigError, Settings, load_settings
from scim_proxy.ops.tracing import turned_on_by

DEPLOY = Path(__file__).parents[1] / "deploy"


def _documents() -> list[dict[str, Any]]:
    documents = []
    for path in sorted((DEPLOY / "kubernetes").glob("*.yaml")):
        for document in yaml.safe_load_all(path.read_text()):
            assert {"apiVersion", "kind"} <= set(document), path
            documents.append(document)
    return documents


def _manifests(name: str = "scim-proxy") -> dict[str, dict[str, Any]]:
    """The objects named ``name`` (and the kustomization), by kind."""
    return {d["kind"]: d for d in _documents() if d.get("metadata", {}).get("name", name) == name}


def test_the_deployment_is_probed_non_root_read_only_and_sized() -> None:
    deployment = _manifests()["Deployment"]
    spec = deployment["spec"]
    assert spec["replicas"] >= 2
    pod = spec["template"]["spec"]
    assert pod["securityContext"]["runAsNonRoot"] is True
    [container] = pod["containers"]
    # Readiness must not follow TelemetryTV: an outage would take every pod out of the
    # Service, and the IdP would get the ingress's own, non-SCIM error.
    assert container["readinessProbe"]["httpGet"]["path"] == "/healthz"
    assert container["livenessProbe"]["httpGet"]["path"] == "/healthz"
    security = container["securityContext"]
    assert security["readOnlyRootFilesystem"] is True
    assert security["allowPrivilegeEscalation"] is False
    assert security["capabilities"]["drop"] == ["ALL"]
    requests = container["resources"]["requests"]
    assert re.fullmatch(r"\d+m", requests["cpu"])
    assert re.fullmatch(r"\d+Mi", requests["memory"])
    assert "memory" in container["resources"]["limits"]
    grace = int(
        next(
            e["value"]
            for e in container["env"]
            if e["name"] == "SCIM_PROXY_SERVER_SHUTDOWN_GRACE_SECONDS"
        )
    )
    assert pod["terminationGracePeriodSeconds"] > grace
    assert any(m["mountPath"] == "/tmp" for m in container["volumeMounts"])  # noqa: S108


def test_service_autoscaler_and_disruption_budget_point_at_the_deployment() -> None:
    manifests = _manifests()
    labels = manifests["Deployment"]["spec"]["selector"]["matchLabels"]
    assert manifests["Service"]["spec"]["selector"] == labels
    assert manifests["PodDisruptionBudget"]["spec"]["selector"]["matchLabels"] == labels
    assert manifests["PodDisruptionBudget"]["spec"]["minAvailable"] >= 1
    hpa = manifests["HorizontalPodAutoscaler"]["spec"]
    assert hpa["scaleTargetRef"]["name"] == manifests["Deployment"]["metadata"]["name"]
    assert hpa["minReplicas"] >= 2


def test_the_dashboard_only_charts_metrics_the_proxy_exports() -> None:
    dashboard = json.loads((DEPLOY / "grafana" / "scim-proxy-dashboard.json").read_text())
    exported = {
        name
        for value in vars(metrics).values()
        if isinstance(value, MetricWrapperBase)
        for family in value.describe()
        for name in (family.name, f"{family.name}_total", f"{family.name}_bucket")
    }
    queried = {
        name
        for panel in dashboard["panels"]
        for target in panel["targets"]
        for name in re.findall(r"scim_proxy_[a-z_]+", target["expr"])
    }
    assert queried
    assert queried <= exported, queried - exported


def _env(container: dict[str, Any]) -> dict[str, str]:
    return {e["name"]: e.get("value", "") for e in container["env"]}


def test_redis_runs_without_persistence_limited_and_reachable_only_from_the_proxy() -> None:
    redis = _manifests("scim-proxy-redis")
    kustomization = _manifests()["Kustomization"]
    assert "redis.yaml" in kustomization["resources"]
    pod = redis["Deployment"]["spec"]["template"]["spec"]
    [container] = pod["containers"]
    args = container["args"]
    assert args[args.index("--save") + 1] == ""
    assert args[args.index("--appendonly") + 1] == "no"
    assert {"cpu", "memory"} <= set(container["resources"]["limits"])
    assert pod["securityContext"]["runAsNonRoot"] is True
    assert container["securityContext"]["readOnlyRootFilesystem"] is True
    labels = redis["Deployment"]["spec"]["selector"]["matchLabels"]
    assert redis["Service"]["spec"]["selector"] == labels
    policy = redis["NetworkPolicy"]["spec"]
    assert policy["podSelector"]["matchLabels"] == labels
    assert policy["policyTypes"] == ["Ingress"]
    [rule] = policy["ingress"]
    proxy_labels = _manifests()["Deployment"]["spec"]["template"]["metadata"]["labels"]
    [source] = rule["from"]
    assert source["podSelector"]["matchLabels"].items() <= proxy_labels.items()
    assert rule["ports"] == [{"protocol": "TCP", "port": 6379}]


def test_the_proxy_coordinates_through_the_manifests_redis() -> None:
    [container] = _manifests()["Deployment"]["spec"]["template"]["spec"]["containers"]
    env = _env(container)
    assert env["SCIM_PROXY_GROUPS_COORDINATION"] == "redis"
    service = _manifests("scim-proxy-redis")["Service"]
    port = service["spec"]["ports"][0]["port"]
    assert env["SCIM_PROXY_GROUPS_REDIS_URL"] == f"redis://{service['metadata']['name']}:{port}/0"


def _alert_rules() -> dict[str, dict[str, Any]]:
    document = yaml.safe_load((DEPLOY / "prometheus" / "scim-proxy-alerts.yaml").read_text())
    return {rule["alert"]: rule for group in document["groups"] for rule in group["rules"]}


def _exported_metric_names() -> set[str]:
    return {
        name
        for value in vars(metrics).values()
        if isinstance(value, MetricWrapperBase)
        for family in value.describe()
        for name in (family.name, f"{family.name}_total", f"{family.name}_bucket")
    }


def test_an_alert_covers_the_upstream_now_readiness_does_not() -> None:
    rules = _alert_rules()
    upstream = [r for r in rules.values() if "scim_proxy_breaker_state" in r["expr"]]
    assert upstream, "no alert fires while TelemetryTV is down"
    assert upstream[0]["labels"]["severity"] == "critical"
    for name, rule in rules.items():
        assert rule["for"], name
        assert rule["annotations"]["summary"], name
        queried = set(re.findall(r"scim_proxy_[a-z_]+", rule["expr"]))
        assert queried, name
        assert queried <= _exported_metric_names(), (name, queried - _exported_metric_names())


@pytest.mark.anyio
async def test_readyz_still_checks_the_upstream_for_operators() -> None:
    closed = "http://127.0.0.1:9"  # discard port: nothing listens
    app = create_app(Settings().replace("upstream", base_url=closed))
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app), base_url="http://proxy.test"
    ) as client:
        ready = await client.get("/readyz")
        alive = await client.get("/healthz")
    assert ready.status_code == 503
    assert alive.status_code == 200


def test_the_proxy_cannot_start_without_its_token_allowlist() -> None:
    # Reachable from the internet: a missing Secret or an empty digest list must stop the
    # rollout, not forward every stranger's token to TelemetryTV.
    [container] = _manifests()["Deployment"]["spec"]["template"]["spec"]["containers"]
    [allowlist] = [
        e for e in container["env"] if e["name"] == "SCIM_PROXY_AUTH_ALLOWED_TOKEN_SHA256"
    ]
    reference = allowlist["valueFrom"]["secretKeyRef"]
    assert reference["key"] == "allowed-token-sha256"
    assert reference.get("optional", False) is False
    assert _env(container)["SCIM_PROXY_AUTH_REQUIRE_ALLOWLIST"] == "true"
    # The manifest's own settings, an empty secret value in place of the digests: refused.
    environ = {k: v for k, v in _env(container).items() if k.startswith("SCIM_PROXY_")}
    with pytest.raises(ConfigError, match="SCIM_PROXY_AUTH_ALLOWED_TOKEN_SHA256 is set but"):
        load_settings(environ=environ)
    del environ["SCIM_PROXY_AUTH_ALLOWED_TOKEN_SHA256"]
    with pytest.raises(ConfigError, match=r"auth\.require_allowlist is on"):
        load_settings(environ=environ)


def test_the_manifest_names_its_public_base_url() -> None:
    # Listening on 0.0.0.0 without it, Locations would follow each request's Host header.
    [container] = _manifests()["Deployment"]["spec"]["template"]["spec"]["containers"]
    env = _env(container)
    assert env["SCIM_PROXY_SERVER_HOST"] == "0.0.0.0"  # noqa: S104
    assert env["SCIM_PROXY_SERVER_PUBLIC_BASE_URL"].startswith("https://")


def _size(text: str) -> int:
    number, unit = re.fullmatch(r"(\d+)([km]?)", text.lower()).groups()  # type: ignore[union-attr]
    return int(number) * {"": 1, "k": 1024, "m": 1_048_576}[unit]


def test_the_ingress_exposes_only_the_scim_api_with_the_edge_limits() -> None:
    # What the proxy cannot hold itself (per-address limits over all replicas, TLS, and
    # keeping /metrics, /healthz and /readyz off the internet) is the ingress's job.
    manifests = _manifests()
    assert "ingress.yaml" in manifests["Kustomization"]["resources"]
    ingress = manifests["Ingress"]
    [rule] = ingress["spec"]["rules"]
    [path] = rule["http"]["paths"]
    assert (path["path"], path["pathType"]) == ("/scim/v2", "Prefix")
    service = manifests["Service"]
    assert path["backend"]["service"]["name"] == service["metadata"]["name"]
    assert path["backend"]["service"]["port"]["name"] == service["spec"]["ports"][0]["name"]
    assert ingress["spec"]["tls"][0]["hosts"] == [rule["host"]]
    [container] = manifests["Deployment"]["spec"]["template"]["spec"]["containers"]
    assert _env(container)["SCIM_PROXY_SERVER_PUBLIC_BASE_URL"] == f"https://{rule['host']}/scim/v2"
    annotations = ingress["metadata"]["annotations"]
    server = Settings().server
    assert (
        _size(annotations["nginx.ingress.kubernetes.io/proxy-body-size"]) <= server.max_body_bytes
    )
    assert int(annotations["nginx.ingress.kubernetes.io/limit-connections"]) > 0
    assert int(annotations["nginx.ingress.kubernetes.io/limit-rps"]) > 0
    # Longer than the proxy's budget (so its own answer arrives), within Okta's 60 s.
    read_timeout = int(annotations["nginx.ingress.kubernetes.io/proxy-read-timeout"])
    assert server.request_budget_seconds < read_timeout <= 60


def test_the_edge_holds_header_blocks_to_what_the_proxy_accepts() -> None:
    document = yaml.safe_load((DEPLOY / "kubernetes" / "ingress-nginx-settings.yaml").read_text())
    assert document["kind"] == "ConfigMap"
    data = document["data"]
    server = Settings().server
    count, size = data["large-client-header-buffers"].split()
    # nginx refuses a header line longer than one buffer, and a block beyond them all.
    assert int(count) * _size(size) <= 4 * server.max_header_bytes
    assert _size(size) <= server.max_header_bytes
    assert int(data["client-header-timeout"]) <= server.header_timeout_seconds
    assert int(data["client-body-timeout"]) <= server.body_timeout_seconds


def _commented_tracing_env() -> list[dict[str, Any]]:
    """The manifest's commented-out tracing variables, uncommented."""
    text = (DEPLOY / "kubernetes" / "deployment.yaml").read_text()
    block = [
        line.replace("# ", "", 1)
        for line in text.splitlines()
        if re.match(r"\s+# (- name: OTEL_|  value|  valueFrom|    secretKeyRef|      )", line)
    ]
    entries: list[dict[str, Any]] = yaml.safe_load(textwrap.dedent("\n".join(block)))
    return entries


def test_tracing_is_off_as_deployed_and_the_commented_variables_turn_it_on() -> None:
    # As shipped, nothing is exported (no collector is assumed); uncommented, the
    # endpoint variable turns tracing on, at an OTLP/HTTP port.
    [container] = _manifests()["Deployment"]["spec"]["template"]["spec"]["containers"]
    deployed = _env(container)
    assert turned_on_by(Settings(), deployed) == []
    assert deployed["OTEL_SERVICE_NAME"] == "scim-proxy"
    commented = {e["name"]: e for e in _commented_tracing_env()}
    assert set(commented) == {
        "OTEL_EXPORTER_OTLP_ENDPOINT",
        "OTEL_TRACES_SAMPLER",
        "OTEL_TRACES_SAMPLER_ARG",
        "OTEL_EXPORTER_OTLP_HEADERS",
    }
    endpoint = commented["OTEL_EXPORTER_OTLP_ENDPOINT"]["value"]
    assert endpoint.endswith(":4318")
    on = {**deployed, "OTEL_EXPORTER_OTLP_ENDPOINT": endpoint}
    assert turned_on_by(Settings(), on) == ["OTEL_EXPORTER_OTLP_ENDPOINT"]
    # A collector's key comes from a Secret, never a literal.
    assert "value" not in commented["OTEL_EXPORTER_OTLP_HEADERS"]
    assert commented["OTEL_EXPORTER_OTLP_HEADERS"]["valueFrom"]["secretKeyRef"]["name"] == (
        "scim-proxy"
    )
