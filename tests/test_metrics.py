"""Prometheus metrics: the recording functions, the request and card counts the routes record, and /metrics."""

from __future__ import annotations

import subprocess
import sys

import pytest
import requests
import responses
from prometheus_client import REGISTRY
from prometheus_client.parser import text_string_to_metric_families

from cds_hooks.card_types import NOTICE_DATA_INCOMPLETE, Card, FindingOrigin, Origin, Source
from service import metrics
from tests.scrape import closed_port, scraped


def sample(name: str, **labels: str) -> float:
    """The current value of one sample in this process's registry (0 when it was never recorded)."""
    return REGISTRY.get_sample_value(name, labels) or 0.0


def total(name: str) -> float:
    """The sum of a sample over all its label values."""
    return sum(s.value for family in REGISTRY.collect() for s in family.samples if s.name == name)


def card(origin: Origin) -> Card:
    return Card("u", "Avoid", "critical", "detail", Source("ketamine-cds knowledge base"), origin)


def test_cards_are_counted_by_advice_and_rule():
    before = sample("ketamine_cds_cards_total", advice="avoid", rule="maoi")
    maoi = FindingOrigin("maoi", "avoid", "maoi|ketamine|avoid|phenelzine", "policy", "e", (), ())
    metrics.observe_cards([card(Origin("2026.1", advice="avoid", findings=(maoi,)))] * 2)

    assert sample("ketamine_cds_cards_total", advice="avoid", rule="maoi") == before + 2


def test_a_combined_monitor_card_counts_each_of_its_rules():
    before = [sample("ketamine_cds_cards_total", advice="monitor", rule=rule) for rule in ("ssri", "bupropion")]
    findings = tuple(FindingOrigin(rule, "monitor", f"{rule}|esketamine|monitor", "weak", "e", (), ())
                     for rule in ("ssri", "bupropion"))
    metrics.observe_cards([card(Origin("2026.1", advice="monitor", findings=findings))])

    after = [sample("ketamine_cds_cards_total", advice="monitor", rule=rule) for rule in ("ssri", "bupropion")]
    assert after == [count + 1 for count in before]


def test_a_data_notice_card_is_counted_as_a_notice_of_its_kind():
    before = sample("ketamine_cds_cards_total", advice="notice", rule="data-incomplete")

    metrics.observe_cards([card(Origin("2026.1", notice=NOTICE_DATA_INCOMPLETE))])

    assert sample("ketamine_cds_cards_total", advice="notice", rule="data-incomplete") == before + 1


def test_a_fhir_fetch_records_its_latency_and_a_failure_its_reason():
    count = sample("ketamine_cds_fhir_fetch_duration_seconds_count", resource="Condition")
    failures = sample("ketamine_cds_fhir_fetch_failures_total", resource="Condition", reason="timeout")

    metrics.fhir_fetch("Condition", 0.2)
    metrics.fhir_fetch("Condition", 5.0, failure="timeout")

    assert sample("ketamine_cds_fhir_fetch_duration_seconds_count", resource="Condition") == count + 2
    assert sample("ketamine_cds_fhir_fetch_failures_total", resource="Condition", reason="timeout") == failures + 1


def test_prefetch_keys_are_counted_as_used_or_fetched():
    used = sample("ketamine_cds_prefetch_total", key="conditions", source="used")
    fetched = sample("ketamine_cds_prefetch_total", key="conditions", source="fetched")

    metrics.prefetch("conditions", "used")
    metrics.prefetch("conditions", "fetched")

    assert sample("ketamine_cds_prefetch_total", key="conditions", source="used") == used + 1
    assert sample("ketamine_cds_prefetch_total", key="conditions", source="fetched") == fetched + 1


def test_a_prefetch_source_other_than_used_or_fetched_is_refused():
    with pytest.raises(ValueError, match="used"):
        metrics.prefetch("conditions", "cached")


def test_authentication_failures_are_counted_by_reason():
    before = sample("ketamine_cds_auth_failures_total", reason="expired")

    metrics.auth_failure("expired")

    assert sample("ketamine_cds_auth_failures_total", reason="expired") == before + 1


def test_a_service_call_is_counted_with_its_latency_and_its_cards(client, fixture):
    requests = sample("ketamine_cds_requests_total", service="ketamine-order-sign", hook="order-sign", status="200")
    latency = sample("ketamine_cds_request_duration_seconds_count", service="ketamine-order-sign", hook="order-sign")
    avoid = sample("ketamine_cds_cards_total", advice="avoid", rule="maoi")

    response = client.post("/cds-services/ketamine-order-sign", json=fixture("order-sign-esketamine-maoi"))

    assert response.status_code == 200
    assert (
        sample("ketamine_cds_requests_total", service="ketamine-order-sign", hook="order-sign", status="200")
        == requests + 1
    )
    assert (
        sample("ketamine_cds_request_duration_seconds_count", service="ketamine-order-sign", hook="order-sign")
        == latency + 1
    )
    assert sample("ketamine_cds_cards_total", advice="avoid", rule="maoi") == avoid + 1


def test_a_refused_call_is_counted_with_its_status(client):
    before = sample("ketamine_cds_requests_total", service="ketamine-order-select", hook="order-select", status="400")

    response = client.post("/cds-services/ketamine-order-select", json={"hook": "order-select"})

    assert response.status_code == 400
    assert (
        sample("ketamine_cds_requests_total", service="ketamine-order-select", hook="order-select", status="400")
        == before + 1
    )


def test_an_unknown_service_id_is_counted_under_one_label_not_its_own(client):
    before = sample("ketamine_cds_requests_total", service="unknown", hook="", status="404")

    client.post("/cds-services/made-up-service", json={})

    assert sample("ketamine_cds_requests_total", service="unknown", hook="", status="404") == before + 1
    assert sample("ketamine_cds_requests_total", service="made-up-service", hook="", status="404") == 0


def test_discovery_is_counted_and_probes_are_not(client):
    discovery = sample("ketamine_cds_requests_total", service="discovery", hook="", status="200")
    requests = total("ketamine_cds_requests_total")

    client.get("/cds-services")
    client.get("/healthz")
    client.get("/readyz")

    assert sample("ketamine_cds_requests_total", service="discovery", hook="", status="200") == discovery + 1
    assert total("ketamine_cds_requests_total") == requests + 1


def test_the_metrics_endpoint_serves_prometheus_text_with_every_metric(client):
    client.get("/cds-services")

    response = client.get("/metrics")

    assert response.status_code == 200
    assert response.mimetype == "text/plain"
    names = {family.name for family in text_string_to_metric_families(response.get_data(as_text=True))}
    assert {
        "ketamine_cds_requests",
        "ketamine_cds_request_duration_seconds",
        "ketamine_cds_cards",
        "ketamine_cds_fhir_fetch_duration_seconds",
        "ketamine_cds_fhir_fetch_failures",
        "ketamine_cds_prefetch",
        "ketamine_cds_auth_failures",
    } <= names


def test_metrics_from_several_processes_are_added_up_from_the_multiprocess_folder(tmp_path, monkeypatch):
    """Two worker processes' files in one folder read as one total (what /metrics does under gunicorn)."""
    script = "from service import metrics; metrics.auth_failure('bad-signature')"
    for _ in range(2):
        subprocess.run(
            [sys.executable, "-c", script], env={"PROMETHEUS_MULTIPROC_DIR": str(tmp_path)}, check=True, timeout=60
        )
    monkeypatch.setenv("PROMETHEUS_MULTIPROC_DIR", str(tmp_path))

    body, content_type = metrics.exposition()

    assert content_type.startswith("text/plain")
    families = {family.name: family for family in text_string_to_metric_families(body.decode())}
    values = {
        s.labels["reason"]: s.value
        for s in families["ketamine_cds_auth_failures"].samples
        if s.name == "ketamine_cds_auth_failures_total"
    }
    assert values == {"bad-signature": 2.0}


# What the app records as it serves calls, read back from /metrics.

PREFETCH_KEYS = ("medicationRequests", "medicationStatements", "conditions")
RESOURCES = {
    "medicationRequests": "MedicationRequest",
    "medicationStatements": "MedicationStatement",
    "conditions": "Condition",
}
SIGN = "/cds-services/ketamine-order-sign"


def counts(client, name: str, label: str, values, **labels: str) -> dict[str, float]:
    return {value: scraped(client, name, **{label: value}, **labels) for value in values}


def plus(before: dict[str, float], added: dict[str, float]) -> dict[str, float]:
    return {key: value + added.get(key, 0) for key, value in before.items()}


def test_prefetch_keys_the_ehr_sent_are_counted_as_used_and_none_as_fetched(client, fixture):
    used = counts(client, "ketamine_cds_prefetch_total", "key", PREFETCH_KEYS, source="used")
    fetched = counts(client, "ketamine_cds_prefetch_total", "key", PREFETCH_KEYS, source="fetched")

    assert client.post(SIGN, json=fixture("order-sign-esketamine-maoi")).status_code == 200

    assert counts(client, "ketamine_cds_prefetch_total", "key", PREFETCH_KEYS, source="used") == plus(
        used, dict.fromkeys(PREFETCH_KEYS, 1)
    )
    assert counts(client, "ketamine_cds_prefetch_total", "key", PREFETCH_KEYS, source="fetched") == fetched


def test_an_order_without_ketamine_counts_no_prefetch_key(client, fixture):
    used = counts(client, "ketamine_cds_prefetch_total", "key", PREFETCH_KEYS, source="used")

    client.post(SIGN, json=fixture("order-sign-non-ketamine"))

    assert counts(client, "ketamine_cds_prefetch_total", "key", PREFETCH_KEYS, source="used") == used


def test_a_key_the_ehr_left_out_is_counted_as_fetched_with_the_read_and_its_failure(client, fixture):
    body = fixture("order-sign-esketamine-maoi") | {"fhirServer": f"http://127.0.0.1:{closed_port()}/fhir"}
    del body["prefetch"]["conditions"]
    used = counts(client, "ketamine_cds_prefetch_total", "key", PREFETCH_KEYS, source="used")
    fetched = counts(client, "ketamine_cds_prefetch_total", "key", PREFETCH_KEYS, source="fetched")
    reads = scraped(client, "ketamine_cds_fhir_fetch_duration_seconds_count", resource="Condition")
    failures = scraped(client, "ketamine_cds_fhir_fetch_failures_total", resource="Condition", reason="unreachable")

    response = client.post(SIGN, json=body)

    assert response.status_code == 200
    assert counts(client, "ketamine_cds_prefetch_total", "key", PREFETCH_KEYS, source="used") == plus(
        used, {"medicationRequests": 1, "medicationStatements": 1}
    )
    assert counts(client, "ketamine_cds_prefetch_total", "key", PREFETCH_KEYS, source="fetched") == plus(
        fetched, {"conditions": 1}
    )
    assert scraped(client, "ketamine_cds_fhir_fetch_duration_seconds_count", resource="Condition") == reads + 1
    assert (
        scraped(client, "ketamine_cds_fhir_fetch_failures_total", resource="Condition", reason="unreachable")
        == failures + 1
    )


@pytest.mark.parametrize(
    ("answer", "reason"),
    [
        ({"status": 503, "json": {"resourceType": "OperationOutcome"}}, "http-5xx"),
        ({"status": 401, "json": {"resourceType": "OperationOutcome"}}, "http-4xx"),
        ({"status": 200, "body": "<html>login</html>", "content_type": "text/html"}, "not-fhir"),
        ({"body": requests.Timeout()}, "timeout"),
    ],
    ids=lambda item: item if isinstance(item, str) else None,
)
def test_each_resource_read_from_the_fhir_server_is_timed_and_its_failure_counted_by_reason(
    client, fixture, answer, reason
):
    body = fixture("order-sign-esketamine-maoi") | {"fhirServer": "https://ehr.example.org/fhir"}
    del body["prefetch"]
    before = {
        resource: scraped(client, "ketamine_cds_fhir_fetch_duration_seconds_count", resource=resource)
        for resource in RESOURCES.values()
    }
    failed = {
        resource: scraped(client, "ketamine_cds_fhir_fetch_failures_total", resource=resource, reason=reason)
        for resource in RESOURCES.values()
    }

    with responses.RequestsMock() as mock:
        for resource in RESOURCES.values():
            mock.add(responses.GET, f"https://ehr.example.org/fhir/{resource}", **answer)
        response = client.post(SIGN, json=body)

    assert response.status_code == 200
    for resource in RESOURCES.values():
        assert (
            scraped(client, "ketamine_cds_fhir_fetch_duration_seconds_count", resource=resource) == before[resource] + 1
        )
        assert (
            scraped(client, "ketamine_cds_fhir_fetch_failures_total", resource=resource, reason=reason)
            == failed[resource] + 1
        )


def test_a_read_that_succeeds_is_timed_and_counts_no_failure(client, fixture):
    body = fixture("order-sign-esketamine-maoi") | {"fhirServer": "https://ehr.example.org/fhir"}
    del body["prefetch"]["conditions"]
    reads = scraped(client, "ketamine_cds_fhir_fetch_duration_seconds_count", resource="Condition")
    failures = total("ketamine_cds_fhir_fetch_failures_total")

    with responses.RequestsMock() as mock:
        mock.add(
            responses.GET,
            "https://ehr.example.org/fhir/Condition",
            content_type="application/fhir+json",
            json={"resourceType": "Bundle", "type": "searchset", "entry": []},
        )
        assert client.post(SIGN, json=body).status_code == 200

    assert scraped(client, "ketamine_cds_fhir_fetch_duration_seconds_count", resource="Condition") == reads + 1
    assert total("ketamine_cds_fhir_fetch_failures_total") == failures


def test_a_plain_http_fhir_server_is_counted_as_a_failure_without_a_read(client, fixture):
    body = fixture("order-sign-esketamine-maoi") | {"fhirServer": "http://ehr.example.org/fhir"}
    del body["prefetch"]["conditions"]
    reads = scraped(client, "ketamine_cds_fhir_fetch_duration_seconds_count", resource="Condition")
    failures = scraped(client, "ketamine_cds_fhir_fetch_failures_total", resource="Condition", reason="not-https")

    assert client.post(SIGN, json=body).status_code == 200

    assert (
        scraped(client, "ketamine_cds_fhir_fetch_failures_total", resource="Condition", reason="not-https")
        == failures + 1
    )
    assert scraped(client, "ketamine_cds_fhir_fetch_duration_seconds_count", resource="Condition") == reads


def test_a_resource_type_outside_those_the_service_reads_is_counted_as_other():
    before = sample("ketamine_cds_fhir_fetch_failures_total", resource="other", reason="page-loop")

    metrics.fhir_fetch("fhir", 0.1, "page-loop")

    assert sample("ketamine_cds_fhir_fetch_failures_total", resource="other", reason="page-loop") == before + 1
    assert sample("ketamine_cds_fhir_fetch_failures_total", resource="fhir", reason="page-loop") == 0
