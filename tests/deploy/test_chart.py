"""The Helm chart, rendered and linted by Helm itself (its Go SDK) and validated against Kubernetes' schemas."""

from __future__ import annotations

import importlib.metadata
import re
import subprocess
import sys
import threading
from pathlib import Path
from typing import Any

import jwt
import pytest
import yaml
from cryptography.hazmat.primitives.asymmetric import ec
from werkzeug.serving import make_server

from cds_hooks.knowledge import load_knowledge
from service import create_app
from service.auth.trust import load_issuers
from service.config import Settings
from tests.envvars import read_by_the_service
from tests.scrape import closed_port

try:
    import helm_python as helm
except Exception as error:  # the SDK loads a native library at import; anything it raises means no Helm here
    pytest.skip(
        f"helm-python-sdk cannot be loaded on this machine ({error}); the chart is not rendered",
        allow_module_level=True,
    )
import itertools

import kubernetes_validate
from kubernetes_validate.utils import SchemaNotFoundError

CHART = Path(__file__).resolve().parents[2] / "helm" / "ketamine-cds"
RELEASE, NAMESPACE = "cds", "clinical"
KUBERNETES_VERSIONS = ("1.27.0", "1.33.0")
"""The oldest version the chart supports (Chart.yaml kubeVersion) and a recent one."""
CUSTOM_KINDS = {"ServiceMonitor"}
"""Prometheus Operator resources: no schema ships with Kubernetes, so their fields are asserted below instead."""

ISSUERS = [
    {
        "iss": "https://ehr.example.org",
        "jwks_url": "https://ehr.example.org/.well-known/jwks.json",
        "jku_allowlist": ["https://ehr.example.org/jwks/rotating.json"],
        "tenants": ["hospital-a"],
        "fhir_servers": ["https://ehr.example.org/fhir"],
    }
]
REQUIRED = {
    "patientHashKey": {"existingSecret": "ketamine-cds-patient-hash", "secretKey": "key"},
    "database": {"existingSecret": "ketamine-cds-database", "secretKey": "url"},
}
"""What every install must name: the Secrets holding the patient hash key and the PostgreSQL URL."""
AUTH = {"trustedIssuers": ISSUERS, "publicBaseUrl": "https://cds.example.org"}
SHARED_REPLAY = {"redis": {"existingSecret": "ketamine-cds-redis", "secretKey": "redis-url"}}
"""With auth on and more than one pod or worker, used token ids must be shared."""
SITE_OVERRIDES = """\
site: Example General Hospital
rules:
  ssri:
    enabled: false
    approved_by: P&T committee
    approved_on: 2026-11-30
    reason: Minutes 2026-11, item 5
"""
VALUE_SETS: dict[str, dict[str, Any]] = {
    "defaults-with-issuers": {**REQUIRED, **SHARED_REPLAY, "auth": AUTH},
    "production-like": {
        **REQUIRED,
        "image": {"repository": "registry.example.org/clinical/ketamine-cds", "tag": "0.1.0", "pullPolicy": "Always"},
        "imagePullSecrets": ["registry-credentials"],
        "auth": AUTH,
        "knowledge": {"siteOverrides": SITE_OVERRIDES},
        "console": {"enabled": True, "existingSecret": "ketamine-cds-console", "secretKey": "token"},
        "logLevel": "WARNING",
        "server": {"workers": 4, "threads": 8},
        "database": {"existingSecret": "clinical-postgres", "secretKey": "database-url"},
        "redis": {"existingSecret": "ketamine-cds-redis", "secretKey": "redis-url"},
        "autoscaling": {"minReplicas": 3, "maxReplicas": 10},
        "ingress": {
            "enabled": True,
            "className": "nginx",
            "host": "cds.example.org",
            "tls": {"enabled": True, "secretName": "cds-example-org-tls"},
        },
        "networkPolicy": {
            "ehrNamespaces": ["ehr"],
            "ingressControllerNamespaces": ["ingress-nginx"],
            "monitoringNamespaces": ["monitoring"],
            "egress": {
                "fhirServers": {"cidrs": ["10.20.0.0/16"], "ports": [443, 8443]},
                "jwks": {"cidrs": ["203.0.113.10/32"], "ports": [443]},
                "database": {"cidrs": ["10.30.0.5/32"], "peers": [], "port": 5432},
                "redis": {
                    "cidrs": [],
                    "port": 6379,
                    "peers": [{"namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": "redis"}}}],
                },
            },
        },
        "metrics": {"serviceMonitor": {"enabled": True, "labels": {"release": "prometheus"}}},
        "topologySpreadConstraints": [
            {
                "maxSkew": 1,
                "topologyKey": "kubernetes.io/hostname",
                "whenUnsatisfiable": "ScheduleAnyway",
                "labelSelector": {"matchLabels": {"app.kubernetes.io/name": "ketamine-cds"}},
            }
        ],
    },
    "autoscaling-off": {**REQUIRED, **SHARED_REPLAY, "auth": AUTH, "autoscaling": {"enabled": False},
                        "replicaCount": 3},
    "ingress-on": {
        **REQUIRED,
        **SHARED_REPLAY,
        "auth": {"trustedIssuers": ISSUERS},
        "ingress": {"enabled": True, "host": "cds.example.org", "tls": {"secretName": "cds-tls"}},
    },
    "authentication-off": {**REQUIRED, "auth": {"enabled": False}},
}


def render(values: dict[str, Any]) -> list[dict[str, Any]]:
    """Every Kubernetes object the chart renders for these values (NOTES.txt and empty templates left out)."""
    with helm.Chart.load(CHART) as chart:
        manifests = chart.render(values, name=RELEASE, namespace=NAMESPACE, is_install=True)
    return [
        document
        for path, text in sorted(manifests.items())
        if path.endswith(".yaml")
        for document in yaml.safe_load_all(text)
        if document
    ]


def only(objects: list[dict[str, Any]], kind: str) -> dict[str, Any]:
    [found] = [item for item in objects if item["kind"] == kind]
    return found


def kinds(objects: list[dict[str, Any]]) -> set[str]:
    return {item["kind"] for item in objects}


def service_container(objects: list[dict[str, Any]]) -> dict[str, Any]:
    return only(objects, "Deployment")["spec"]["template"]["spec"]["containers"][0]


def env_of(container: dict[str, Any]) -> dict[str, Any]:
    return {item["name"]: item.get("value", item.get("valueFrom")) for item in container["env"]}


def materialised(objects: list[dict[str, Any]], folder: Path, secrets: dict[tuple[str, str], str]) -> dict[str, str]:
    """The service container's environment as the pod would see it: Secret references replaced by ``secrets``
    (by name and key), and the ConfigMap's files written under ``folder``, with the paths pointing there."""
    container = service_container(objects)
    mounts = [mount["mountPath"] for mount in container["volumeMounts"]]
    config = next((item["data"] for item in objects if item["kind"] == "ConfigMap"), {})
    env = {}
    for name, value in env_of(container).items():
        if isinstance(value, dict):
            reference = value["secretKeyRef"]
            value = secrets[(reference["name"], reference["key"])]
        elif any(value.startswith(mount + "/") for mount in mounts) and Path(value).name in config:
            local = folder / Path(value).name
            local.write_text(config[Path(value).name], encoding="utf-8")
            value = str(local)
        env[name] = value
    return env


@pytest.mark.parametrize("values", VALUE_SETS.values(), ids=VALUE_SETS.keys())
def test_the_chart_passes_strict_lint(values):
    report = helm.lint(CHART, values, strict=True)

    problems = [message for message in report["messages"] if message["severity"] >= 2]
    assert problems == []
    assert report["errors"] == []


@pytest.mark.parametrize("version", KUBERNETES_VERSIONS)
@pytest.mark.parametrize("values", VALUE_SETS.values(), ids=VALUE_SETS.keys())
def test_every_rendered_object_is_valid_for_kubernetes(values, version):
    objects = render(values)

    checked = set()
    for item in objects:
        try:
            kubernetes_validate.validate(item, version, strict=True)
        except SchemaNotFoundError:
            assert item["kind"] in CUSTOM_KINDS
            continue
        checked.add(item["kind"])
    assert {"Deployment", "Service", "ServiceAccount", "NetworkPolicy", "PodDisruptionBudget", "Pod"} <= checked


def test_the_validator_refuses_an_object_with_a_misspelt_field():
    deployment = only(render(VALUE_SETS["defaults-with-issuers"]), "Deployment")
    deployment["spec"]["template"]["spec"]["containers"][0]["readinesProbe"] = {"httpGet": {"path": "/readyz"}}

    with pytest.raises(kubernetes_validate.ValidationError):
        kubernetes_validate.validate(deployment, KUBERNETES_VERSIONS[0], strict=True)


@pytest.mark.parametrize("values", VALUE_SETS.values(), ids=VALUE_SETS.keys())
def test_probes_call_the_apps_health_routes_on_the_port_gunicorn_binds(values, routes):
    container = service_container(render(values))
    [port] = container["ports"]

    assert container["livenessProbe"]["httpGet"]["path"] == routes["health.healthz"]
    assert container["startupProbe"]["httpGet"]["path"] == routes["health.healthz"]
    assert container["readinessProbe"]["httpGet"]["path"] == routes["health.readyz"]
    for probe in ("livenessProbe", "readinessProbe", "startupProbe"):
        assert container[probe]["httpGet"]["port"] == port["name"]
    assert env_of(container)["CDS_BIND"] == f"0.0.0.0:{port['containerPort']}"


@pytest.mark.parametrize("values", VALUE_SETS.values(), ids=VALUE_SETS.keys())
def test_every_pod_runs_locked_down(values):
    objects = render(values)
    pods = [only(objects, "Deployment")["spec"]["template"]["spec"], only(objects, "Pod")["spec"]]

    for pod in pods:
        assert pod["securityContext"]["runAsNonRoot"] is True
        assert pod["securityContext"]["seccompProfile"] == {"type": "RuntimeDefault"}
        assert pod["automountServiceAccountToken"] is False
        for container in pod["containers"]:
            context = container["securityContext"]
            assert context["readOnlyRootFilesystem"] is True
            assert context["allowPrivilegeEscalation"] is False
            assert context["privileged"] is False
            assert context["capabilities"] == {"drop": ["ALL"]}
            assert context["seccompProfile"] == {"type": "RuntimeDefault"}
            assert container["resources"]["requests"] and container["resources"]["limits"]


def test_tmp_and_the_metrics_folder_are_writable_empty_dirs_matching_the_image(dockerfile):
    deployment = only(render(VALUE_SETS["defaults-with-issuers"]), "Deployment")["spec"]["template"]["spec"]
    container = deployment["containers"][0]
    mounts = {mount["mountPath"]: mount["name"] for mount in container["volumeMounts"]}
    empty_dirs = {volume["name"] for volume in deployment["volumes"] if "emptyDir" in volume}
    metrics_dir = env_of(container)["PROMETHEUS_MULTIPROC_DIR"]
    image_env = [i.arguments for i in dockerfile[-1] if i.keyword == "ENV"]

    assert mounts["/tmp"] in empty_dirs
    assert mounts[metrics_dir] in empty_dirs
    assert mounts["/tmp"] != mounts[metrics_dir]
    assert any(f"PROMETHEUS_MULTIPROC_DIR={metrics_dir}" in text for text in image_env)


def test_database_and_redis_urls_and_the_patient_hash_key_come_from_existing_secrets_only():
    objects = render(VALUE_SETS["production-like"])
    env = env_of(service_container(objects))

    assert env["DATABASE_URL"] == {"secretKeyRef": {"name": "clinical-postgres", "key": "database-url"}}
    assert env["REDIS_URL"] == {"secretKeyRef": {"name": "ketamine-cds-redis", "key": "redis-url"}}
    assert env["CDS_PATIENT_HASH_KEY"] == {"secretKeyRef": {"name": "ketamine-cds-patient-hash", "key": "key"}}
    assert "Secret" not in kinds(objects)


def test_the_console_is_off_by_default_and_on_only_with_its_credential_from_a_secret():
    default = env_of(service_container(render(VALUE_SETS["defaults-with-issuers"])))
    assert default["CDS_CONSOLE"] == "false" and "CDS_CONSOLE_TOKEN" not in default
    enabled = env_of(service_container(render(VALUE_SETS["production-like"])))
    assert enabled["CDS_CONSOLE"] == "true"
    assert enabled["CDS_CONSOLE_TOKEN"] == {"secretKeyRef": {"name": "ketamine-cds-console", "key": "token"}}
    with pytest.raises(Exception, match=r"the console's own credential.*--set console\.existingSecret="):
        render({**VALUE_SETS["defaults-with-issuers"], "console": {"enabled": True, "existingSecret": "",
                                                                     "secretKey": "token"}})


def test_without_redis_its_url_is_not_set():
    single = {**REQUIRED, "auth": AUTH, "replicaCount": 1, "server": {"workers": 1}, "autoscaling": {"enabled": False}}
    env = env_of(service_container(render(single)))

    assert "REDIS_URL" not in env


@pytest.mark.parametrize("scale", [{}, {"replicaCount": 1}, {"replicaCount": 1, "autoscaling": {"enabled": True}}])
def test_auth_with_several_pods_or_workers_and_no_redis_fails_with_a_message(scale):
    with pytest.raises(Exception, match=r"the Redis URL, since with auth on and more than one pod or worker"):
        render({**REQUIRED, "auth": AUTH, **scale})


@pytest.mark.parametrize(
    ("missing", "command"),
    [
        ("patientHashKey", "create secret generic ketamine-cds-patient-hash --from-literal=key="),
        ("database", "create secret generic ketamine-cds-database --from-literal=key="),
    ],
)
def test_an_install_without_the_patient_hash_key_or_database_secret_is_refused_naming_the_command(missing, command):
    values = {**VALUE_SETS["defaults-with-issuers"], missing: {"existingSecret": "", "secretKey": "key"}}

    with pytest.raises(helm.HelmRenderError, match=re.escape(command)):
        render(values)


def test_an_install_with_the_defaults_is_told_in_one_sentence_which_secrets_to_create_and_how():
    with pytest.raises(helm.HelmRenderError) as refused:
        render({})

    message = str(refused.value)
    assert "schema" not in message and "pattern" not in message
    for secret in ("ketamine-cds-patient-hash", "ketamine-cds-database", "ketamine-cds-redis"):
        assert f"kubectl -n {NAMESPACE} create secret generic {secret}" in message
    assert message.count("Create the Secrets") == 1


def test_server_settings_reach_gunicorn_through_the_environment():
    env = env_of(service_container(render(VALUE_SETS["production-like"])))

    assert (env["CDS_WORKERS"], env["CDS_THREADS"], env["CDS_LOG_LEVEL"]) == ("4", "8", "WARNING")
    assert env["CDS_MAX_REQUEST_BYTES"] == "5242880"


def test_card_settings_reach_the_app_through_the_environment():
    names = ("CDS_MONITOR_CARDS", "CDS_REPEAT_FILTER", "CDS_REPEAT_FILTER_SECONDS", "CDS_QUIET_AFTER_OVERRIDE_HOURS")

    def settings(values: dict[str, Any]) -> Settings:
        env = env_of(service_container(render(values)))
        return Settings.from_env({name: env[name] for name in names})

    defaults = settings(VALUE_SETS["defaults-with-issuers"])
    chosen = settings({**VALUE_SETS["defaults-with-issuers"], "cards": {
        "monitorCards": "per-rule", "repeatFilter": True, "repeatFilterSeconds": 600, "quietAfterOverrideHours": 24}})

    assert (defaults.monitor_cards, defaults.repeat_filter, defaults.quiet_hours) == ("combined", False, 0)
    assert (chosen.monitor_cards, chosen.repeat_filter, chosen.repeat_filter_seconds, chosen.quiet_hours) == (
        "per-rule", True, 600, 24)


def test_the_pod_outlives_the_graceful_timeout_when_stopped():
    objects = render(VALUE_SETS["defaults-with-issuers"])
    pod = only(objects, "Deployment")["spec"]["template"]["spec"]
    env = env_of(pod["containers"][0])
    pre_stop = int(pod["containers"][0]["lifecycle"]["preStop"]["exec"]["command"][-1])

    assert pod["terminationGracePeriodSeconds"] > int(env["CDS_GRACEFUL_TIMEOUT"]) + pre_stop


def test_a_changed_config_map_rolls_the_pods():
    def checksum(overrides: str) -> str:
        values = {**VALUE_SETS["defaults-with-issuers"], "knowledge": {"siteOverrides": overrides}}
        return only(render(values), "Deployment")["spec"]["template"]["metadata"]["annotations"]["checksum/config"]

    assert checksum(SITE_OVERRIDES) == checksum(SITE_OVERRIDES)
    assert checksum(SITE_OVERRIDES) != checksum(SITE_OVERRIDES.replace("false", "true"))


def test_site_overrides_are_mounted_where_the_app_is_told_and_load(tmp_path):
    objects = render(VALUE_SETS["production-like"])
    container = service_container(objects)
    path = Path(env_of(container)["CDS_KNOWLEDGE_OVERRIDES"])
    [mount] = [m for m in container["volumeMounts"] if path.is_relative_to(m["mountPath"])]
    config = only(objects, "ConfigMap")
    override_file = tmp_path / path.name
    override_file.write_text(config["data"][path.name], encoding="utf-8")

    assert mount["readOnly"] is True
    knowledge = load_knowledge(overrides=override_file)
    assert knowledge.site == "Example General Hospital"


def test_trusted_issuers_are_written_to_the_file_the_app_is_told_to_read():
    objects = render(VALUE_SETS["defaults-with-issuers"])
    env = env_of(service_container(objects))
    name = Path(env["CDS_TRUSTED_ISSUERS_FILE"]).name

    assert env["CDS_AUTH_MODE"] == "jwt"
    assert yaml.safe_load(only(objects, "ConfigMap")["data"][name]) == {"issuers": ISSUERS}


def test_rendering_without_trusted_issuers_fails_with_a_clear_message():
    with pytest.raises(helm.HelmRenderError, match=r"auth.trustedIssuers is empty.*auth.enabled=false"):
        render({**REQUIRED, **SHARED_REPLAY})


def test_authentication_without_a_public_base_url_fails_with_a_clear_message():
    """The audience of the EHRs' JWTs must be the address they call, not whatever Host reached the pod."""
    with pytest.raises(helm.HelmRenderError, match=r"auth.publicBaseUrl is empty"):
        render({**REQUIRED, **SHARED_REPLAY, "auth": {"trustedIssuers": ISSUERS}})


def test_authentication_is_off_only_when_switched_off_explicitly():
    objects = render(VALUE_SETS["authentication-off"])
    env = env_of(service_container(objects))

    assert env["CDS_AUTH_MODE"] == "off"
    assert "CDS_TRUSTED_ISSUERS_FILE" not in env
    assert "ConfigMap" not in kinds(objects)


@pytest.mark.parametrize(
    ("bad", "where"),
    [
        ({"server": {"workers": 0}}, "/server/workers"),
        ({"server": {"port": 80}}, "/server/port"),
        ({"logLevel": "LOUD"}, "/logLevel"),
        ({"image": {"pullPolicy": "Sometimes"}}, "/image/pullPolicy"),
        ({"replicas": 3}, "replicas"),
        ({"database": {"existingSecret": "Not A Secret Name"}}, "/database/existingSecret"),
        (
            {"networkPolicy": {"egress": {"fhirServers": {"cidrs": ["10.0.0.0"]}}}},
            "/networkPolicy/egress/fhirServers/cidrs/0",
        ),
        ({"auth": {"trustedIssuers": [{"iss": "https://ehr.example.org"}]}}, "/auth/trustedIssuers/0"),
        ({"auth": {"trustedIssuers": [{**ISSUERS[0], "issuer": "https://ehr.example.org"}]}}, "/auth/trustedIssuers/0"),
        ({"auth": {"trustedIssuers": [{**ISSUERS[0], "jku": []}]}}, "/auth/trustedIssuers/0"),
        ({"auth": {"trustedIssuers": [{**ISSUERS[0], "tenants": []}]}}, "/auth/trustedIssuers/0/tenants"),
        (
            {"auth": {"trustedIssuers": [{k: v for k, v in ISSUERS[0].items() if k != "fhir_servers"}]}},
            "/auth/trustedIssuers/0",
        ),
        ({"podDisruptionBudget": {"maxUnavailable": 0}}, "/podDisruptionBudget/maxUnavailable"),
    ],
    ids=lambda item: item if isinstance(item, str) else None,
)
def test_the_schema_rejects_bad_values_naming_where(bad, where):
    values = {**VALUE_SETS["defaults-with-issuers"], **bad}

    with pytest.raises(helm.HelmValuesError, match=re.escape(where)):
        render(values)


def test_autoscaling_owns_the_replica_count_when_on():
    objects = render(VALUE_SETS["production-like"])
    hpa = only(objects, "HorizontalPodAutoscaler")

    assert "replicas" not in only(objects, "Deployment")["spec"]
    assert (hpa["spec"]["minReplicas"], hpa["spec"]["maxReplicas"]) == (3, 10)
    assert hpa["spec"]["scaleTargetRef"]["name"] == only(objects, "Deployment")["metadata"]["name"]


def test_with_autoscaling_off_the_deployment_sets_the_replicas():
    objects = render(VALUE_SETS["autoscaling-off"])

    assert only(objects, "Deployment")["spec"]["replicas"] == 3
    assert "HorizontalPodAutoscaler" not in kinds(objects)


def test_autoscaling_with_fewer_maximum_than_minimum_replicas_is_refused():
    values = {**VALUE_SETS["defaults-with-issuers"], "autoscaling": {"minReplicas": 5, "maxReplicas": 2}}

    with pytest.raises(helm.HelmRenderError, match=r"minReplicas"):
        render(values)


def test_the_ingress_serves_only_the_cds_routes_over_tls(routes):
    objects = render(VALUE_SETS["ingress-on"])
    ingress = only(objects, "Ingress")["spec"]
    [rule] = ingress["rules"]
    [path] = rule["http"]["paths"]

    assert ingress["tls"] == [{"hosts": ["cds.example.org"], "secretName": "cds-tls"}]
    assert routes["cds.discovery"].startswith(path["path"])
    assert not routes["health.healthz"].startswith(path["path"])
    assert not routes["metrics.scrape"].startswith(path["path"])
    assert path["backend"]["service"]["name"] == only(objects, "Service")["metadata"]["name"]
    assert env_of(service_container(objects))["CDS_PUBLIC_BASE_URL"] == "https://cds.example.org"


def test_an_ingress_without_a_host_is_refused():
    values = {**VALUE_SETS["defaults-with-issuers"], "ingress": {"enabled": True, "tls": {"secretName": "x"}}}

    with pytest.raises(helm.HelmRenderError, match=r"ingress\.host"):
        render(values)


def test_the_network_policy_lets_in_the_ehrs_and_out_only_to_what_is_configured():
    policy = only(render(VALUE_SETS["production-like"]), "NetworkPolicy")["spec"]
    callers = policy["ingress"][0]["from"][0]["namespaceSelector"]["matchExpressions"][0]
    egress = [([(port["port"], port["protocol"]) for port in rule["ports"]], rule["to"]) for rule in policy["egress"]]
    redis = [{"namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": "redis"}}}]

    assert policy["policyTypes"] == ["Ingress", "Egress"]
    assert callers["values"] == ["ehr", "ingress-nginx", "monitoring"]
    assert policy["ingress"][0]["ports"] == [{"port": "http", "protocol": "TCP"}]
    dns_ports, dns_peers = egress[0]
    assert dns_ports == [(53, "UDP"), (53, "TCP")]
    assert dns_peers[0]["namespaceSelector"]["matchLabels"] == {"kubernetes.io/metadata.name": "kube-system"}
    assert egress[1:] == [
        ([(443, "TCP"), (8443, "TCP")], [{"ipBlock": {"cidr": "10.20.0.0/16"}}]),
        ([(443, "TCP")], [{"ipBlock": {"cidr": "203.0.113.10/32"}}]),
        ([(5432, "TCP")], [{"ipBlock": {"cidr": "10.30.0.5/32"}}]),
        ([(6379, "TCP")], redis),
    ]


def test_with_nothing_configured_the_network_policy_allows_only_dns_out():
    policy = only(render(VALUE_SETS["defaults-with-issuers"]), "NetworkPolicy")["spec"]

    assert [rule["ports"][0]["port"] for rule in policy["egress"]] == [53]


def test_the_service_monitor_scrapes_the_apps_metrics_route(routes):
    objects = render(VALUE_SETS["production-like"])
    monitor = only(objects, "ServiceMonitor")
    [endpoint] = monitor["spec"]["endpoints"]

    assert monitor["apiVersion"] == "monitoring.coreos.com/v1"
    assert monitor["metadata"]["labels"]["release"] == "prometheus"
    assert endpoint["path"] == routes["metrics.scrape"]
    assert endpoint["port"] == only(objects, "Service")["spec"]["ports"][0]["name"]
    assert monitor["spec"]["selector"]["matchLabels"] == only(objects, "Service")["spec"]["selector"]


def test_the_helm_test_pod_calls_discovery_through_the_service_and_is_let_in(routes):
    objects = render(VALUE_SETS["production-like"])
    pod = only(objects, "Pod")
    service = only(objects, "Service")
    [container] = pod["spec"]["containers"]
    url = env_of(container)["DISCOVERY_URL"]
    policy = only(objects, "NetworkPolicy")["spec"]

    assert pod["metadata"]["annotations"]["helm.sh/hook"] == "test"
    assert url == f"http://{service['metadata']['name']}:{service['spec']['ports'][0]['port']}{routes['cds.discovery']}"
    assert container["image"] == service_container(objects)["image"]
    selectors = [
        peer["podSelector"]["matchLabels"]
        for rule in policy["ingress"]
        for peer in rule["from"]
        if "podSelector" in peer
    ]
    assert any(labels.items() <= pod["metadata"]["labels"].items() for labels in selectors)
    assert not service["spec"]["selector"].items() <= pod["metadata"]["labels"].items()


def test_the_chart_deploys_this_version_of_the_app():
    with helm.Chart.load(CHART) as chart:
        metadata = chart.metadata

    assert metadata["appVersion"] == importlib.metadata.version("ketamine-cds")
    image = service_container(render(VALUE_SETS["defaults-with-issuers"]))["image"]
    assert image.endswith(f":{metadata['appVersion']}")


def public_jwk(kid: str) -> dict[str, Any]:
    key = ec.generate_private_key(ec.SECP256R1()).public_key()
    return {**jwt.algorithms.ECAlgorithm.to_jwk(key, as_dict=True), "kid": kid, "use": "sig"}


def test_the_rendered_trusted_issuers_file_is_read_by_the_apps_own_loader(tmp_path):
    inline = {"iss": "https://other-ehr.example.org", "jwks": {"keys": [public_jwk("ehr-2")]},
              "fhir_servers": ["https://other-ehr.example.org/fhir/"]}
    values = {**VALUE_SETS["defaults-with-issuers"], "auth": {**AUTH, "trustedIssuers": [*ISSUERS, inline]}}
    objects = render(values)
    name = Path(env_of(service_container(objects))["CDS_TRUSTED_ISSUERS_FILE"]).name
    path = tmp_path / name
    path.write_text(only(objects, "ConfigMap")["data"][name], encoding="utf-8")

    issuers = load_issuers(path)

    assert set(issuers) == {"https://ehr.example.org", "https://other-ehr.example.org"}
    listed = issuers["https://ehr.example.org"]
    assert listed.jku_allowlist == frozenset(ISSUERS[0]["jku_allowlist"])
    assert listed.tenants == frozenset(ISSUERS[0]["tenants"])
    assert issuers["https://other-ehr.example.org"].keys.key("ehr-2")["kid"] == "ehr-2"
    assert issuers["https://other-ehr.example.org"].tenants is None
    assert listed.fhir_servers == frozenset({"https://ehr.example.org/fhir"})


@pytest.fixture
def secrets() -> dict[tuple[str, str], str]:
    """What the Secrets named in the value sets would hold; the database is one nothing answers on."""
    database = f"postgresql://cds:secret@127.0.0.1:{closed_port()}/cds"
    return {
        ("ketamine-cds-patient-hash", "key"): "k" * 64,
        ("ketamine-cds-console", "token"): "t" * 64,
        ("ketamine-cds-database", "url"): database,
        ("clinical-postgres", "database-url"): database,
        ("ketamine-cds-redis", "redis-url"): f"redis://127.0.0.1:{closed_port()}/0",
    }


@pytest.mark.parametrize("values", VALUE_SETS.values(), ids=VALUE_SETS.keys())
def test_the_app_accepts_the_environment_the_chart_gives_its_pods(values, secrets, tmp_path):
    env = materialised(render(values), tmp_path, secrets)

    settings = Settings.from_env(env)
    app = create_app(settings)

    assert settings.env == "production"
    assert settings.auth_mode == ("jwt" if values["auth"].get("enabled", True) else "off")
    assert settings.patient_hash_key == "k" * 64
    assert settings.database_url == secrets[("ketamine-cds-database", "url")]
    assert app.test_client().get("/healthz").status_code == 200


def test_every_variable_the_chart_sets_is_one_the_service_reads():
    objects = render(VALUE_SETS["production-like"])

    assert set(env_of(service_container(objects))) <= read_by_the_service()


@pytest.mark.parametrize("values", ["defaults-with-issuers", "authentication-off"])
def test_the_helm_test_pods_check_passes_against_the_service_as_configured(values, secrets, tmp_path):
    objects = render(VALUE_SETS[values])
    app = create_app(Settings.from_env(materialised(objects, tmp_path, secrets)))
    [container] = only(objects, "Pod")["spec"]["containers"]
    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        env = env_of(container) | {"DISCOVERY_URL": f"http://127.0.0.1:{server.server_port}/cds-services"}
        check = subprocess.run(
            container["command"], executable=sys.executable, env=env, capture_output=True, text=True, timeout=60
        )
    finally:
        server.shutdown()
        thread.join(timeout=10)

    assert check.returncode == 0, check.stdout + check.stderr
    assert ("401" in check.stdout) == (values == "defaults-with-issuers")


def readme_values() -> list[dict[str, Any]]:
    """The values files the operations guide's Kubernetes section shows, in order."""
    text = (CHART.parents[1] / "docs" / "operations.md").read_text(encoding="utf-8")
    section = text.split("\n## Operating on Kubernetes\n", 1)[1].split("\n## ", 1)[0]
    return [yaml.safe_load(block) for block in re.findall(r"```yaml\n(.*?)```", section, re.DOTALL)]


def merged(base: dict[str, Any], extra: dict[str, Any]) -> dict[str, Any]:
    out = dict(base)
    for key, value in extra.items():
        out[key] = merged(base[key], value) if isinstance(value, dict) and isinstance(base.get(key), dict) else value
    return out


def test_the_values_the_operations_guide_shows_install_and_scale_out():
    production, scaling_out = readme_values()

    for values in (production, merged(production, scaling_out)):
        objects = render(values)
        env = env_of(service_container(objects))
        assert env["CDS_ENV"] == "production"
        assert env["CDS_PUBLIC_BASE_URL"] == "https://cds.example.org"
        assert "REDIS_URL" in env
        # With auth on and REDIS_URL set, /readyz asks Redis: the policy must let the pods reach it.
        egress = only(objects, "NetworkPolicy")["spec"]["egress"]
        assert any({"port": 6379, "protocol": "TCP"} in rule["ports"] and rule["to"] for rule in egress), egress


def _set(values: dict[str, Any], path: str, value: str) -> None:
    """One ``helm --set path=value`` (dotted keys, ``[n]`` list indices) applied to ``values``."""
    steps: list[str | int] = []
    for part in path.split("."):
        name, *indices = re.split(r"\[(\d+)\]", part)
        steps += [name, *[int(index) for index in indices if index]]
    target: Any = values
    for step, following in itertools.pairwise(steps):
        if isinstance(step, int):
            while len(target) <= step:
                target.append({} if isinstance(following, str) else [])
            target = target[step]
        else:
            target = target.setdefault(step, [] if isinstance(following, int) else {})
    last = steps[-1]
    parsed: Any = {"true": True, "false": False}.get(value, int(value) if value.isdigit() else value)
    if isinstance(last, int):
        while len(target) <= last:
            target.append(None)
    target[last] = parsed


def test_the_charts_readme_shows_a_minimal_install_that_renders_and_starts(secrets, tmp_path):
    text = (CHART / "README.md").read_text(encoding="utf-8")
    install = next(block for block in re.findall(r"```sh\n(.*?)```", text, re.DOTALL) if "--set" in block)
    values: dict[str, Any] = {}
    for path, value in re.findall(r"--set '?([^=\s]+)=([^'\s]+)'?", install):
        _set(values, path, value)
    objects = render(values)
    app = create_app(Settings.from_env(materialised(objects, tmp_path, secrets)))
    assert app.test_client().get("/healthz").status_code == 200
