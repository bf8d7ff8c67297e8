"""The sandbox FHIR server itself: the FHIR behaviour the service relies on (the prefetch queries, _include,
paging, reads, validated writes, the bearer token)."""

from __future__ import annotations

from typing import Any

import pytest
import requests

from cds_hooks.knowledge import load_knowledge
from cds_hooks.prefetch import render
from cds_hooks.services import record_prefetch
from cds_hooks.statuses import CURRENT, ENDED, MEDICATION_RECORDS
from service.fhir.sandbox import fixture_requests
from tests.sandbox.conftest import SANDBOX_TOKEN

FIXTURES = fixture_requests()
STATUSES = load_knowledge().statuses
pytestmark = pytest.mark.integration


def get(url: str, **kwargs: Any) -> dict[str, Any]:
    response = requests.get(url, timeout=10, **kwargs)
    response.raise_for_status()
    assert response.headers["Content-Type"].startswith("application/fhir+json")
    return response.json()


def match_ids(bundle: dict[str, Any]) -> list[str]:
    return [e["resource"]["id"] for e in bundle.get("entry", []) if e["search"]["mode"] == "match"]


def test_the_capability_statement_lists_the_medication_includes(fhir_sandbox):
    statement = get(f"{fhir_sandbox.base_url}/metadata")
    assert statement["resourceType"] == "CapabilityStatement" and statement["fhirVersion"] == "4.0.1"
    resources = {resource["type"]: resource for resource in statement["rest"][0]["resource"]}
    assert "MedicationRequest:medication" in resources["MedicationRequest"]["searchInclude"]
    assert "MedicationStatement:medication" in resources["MedicationStatement"]["searchInclude"]


@pytest.mark.parametrize("name", [name for name, request in FIXTURES.items() if request.get("prefetch")])
def test_the_prefetch_queries_find_each_fixture_patients_records(fhir_sandbox, name):
    request = FIXTURES[name]
    patient = request["context"]["patientId"]
    for key, template in record_prefetch(STATUSES).items():
        found = get(f"{fhir_sandbox.base_url}/{render(template, {'context.patientId': patient})}")
        sent = [entry["resource"] for entry in request["prefetch"][key]["entry"]]
        kind = sent[0]["resourceType"] if sent else None
        counted = STATUSES.having(f"{kind}.status", CURRENT, ENDED) if kind in MEDICATION_RECORDS else None
        expected = [r["id"] for r in sent if counted is None or r["status"] in counted]
        renamed = {f"{identifier}-{patient}": identifier for identifier in expected}
        assert [renamed.get(identifier, identifier) for identifier in match_ids(found)] == expected, key


def test_include_adds_the_referenced_medication_once(fhir_sandbox):
    base = fhir_sandbox.base_url
    medication = {"resourceType": "Medication", "id": "sandbox-nardil", "code": {"text": "Nardil 15 mg tablet"}}
    requests.put(f"{base}/Medication/sandbox-nardil", json=medication, timeout=10).raise_for_status()
    for ident in ("sandbox-ref-1", "sandbox-ref-2"):
        order = {"resourceType": "MedicationRequest", "id": ident, "status": "active", "intent": "order",
                 "subject": {"reference": "Patient/sandbox-include"},
                 "medicationReference": {"reference": "Medication/sandbox-nardil"}}
        requests.put(f"{base}/MedicationRequest/{ident}", json=order, timeout=10).raise_for_status()
    found = get(f"{base}/MedicationRequest?patient=sandbox-include&_include=MedicationRequest:medication")
    modes = [(e["resource"]["resourceType"], e["search"]["mode"]) for e in found["entry"]]
    assert modes == [("MedicationRequest", "match"), ("MedicationRequest", "match"), ("Medication", "include")]


def test_count_pages_the_results_with_next_links(fhir_sandbox):
    url, pages, ids = f"{fhir_sandbox.base_url}/MedicationRequest?patient=fixture-clean&_count=1", 0, []
    while url:
        page = get(url)
        ids += match_ids(page)
        pages += 1
        url = next((link["url"] for link in page["link"] if link["relation"] == "next"), None)
    assert pages == 4
    assert ids == ["cephalexin-fixture-clean", "rosuvastatin", "old-alprazolam", "cancelled-nardil"]


def test_a_resource_is_read_by_id_and_a_missing_one_is_404(fhir_sandbox):
    found = get(f"{fhir_sandbox.base_url}/MedicationRequest/xanax")
    assert found["medicationCodeableConcept"]["coding"][0]["code"] == "141928"
    missing = requests.get(f"{fhir_sandbox.base_url}/MedicationRequest/no-such-order", timeout=10)
    assert missing.status_code == 404
    assert missing.json()["resourceType"] == "OperationOutcome"


def test_an_invalid_resource_is_refused_on_write(fhir_sandbox):
    invalid = {"resourceType": "MedicationRequest", "id": "invalid", "status": "taken"}
    response = requests.put(f"{fhir_sandbox.base_url}/MedicationRequest/invalid", json=invalid, timeout=10)
    assert response.status_code == 400
    assert response.json()["resourceType"] == "OperationOutcome"
    assert requests.get(f"{fhir_sandbox.base_url}/MedicationRequest/invalid", timeout=10).status_code == 404


def test_a_sandbox_with_a_token_refuses_requests_without_it_but_serves_metadata(strict_sandbox):
    base = strict_sandbox.base_url
    assert requests.get(f"{base}/MedicationRequest?patient=fixture-maoi", timeout=10).status_code == 401
    wrong = {"Authorization": "Bearer wrong"}
    assert requests.get(f"{base}/MedicationRequest?patient=fixture-maoi", headers=wrong, timeout=10).status_code == 401
    right = {"Authorization": f"Bearer {SANDBOX_TOKEN}"}
    assert match_ids(get(f"{base}/MedicationRequest?patient=fixture-maoi", headers=right)) == ["nardil", "sertraline"]
    assert get(f"{base}/metadata")["resourceType"] == "CapabilityStatement"
