"""patient-view and the order rules against the sandbox FHIR server: the patient's orders, co-medications and
Patient record read from fhirServer give the cards the full prefetch gives."""

from __future__ import annotations

import pytest

from cds_hooks.ids import EXTENSION_KEY
from service import create_app
from service.config import Settings
from service.fhir.sandbox import fixture_requests, without_prefetch
from tests.conftest import NOW

pytestmark = pytest.mark.integration
FIXTURES = fixture_requests()
SITE = ("site: Test\nrules:\n  esketamine-older-adult-start:\n    enabled: true\n    approved_by: P&T\n"
        "    approved_on: 2026-11-30\n    reason: minutes\n")


def answer(client, body):
    response = client.post(f"/cds-services/ketamine-{body['hook']}", json=body)
    assert response.status_code == 200, response.get_json()
    return response.get_json()["cards"]


@pytest.mark.parametrize("mode", ["prefetch", "fetch"])
def test_patient_view_finds_the_active_spravato_order_and_the_maoi(service_client, fhir_sandbox, mode):
    body = FIXTURES["patient-view-esketamine-maoi"]
    if mode == "fetch":
        body = without_prefetch(body, fhir_sandbox.base_url)
    [card] = answer(service_client, body)
    assert card["summary"] == "Avoid esketamine with Nardil (phenelzine): MAOI, risk of hypertensive crisis"
    assert card["extension"][EXTENSION_KEY]["orderedDrug"]["reference"] == "MedicationRequest/spravato-active"
    assert "suggestions" not in card and "Review the active esketamine order" in card["detail"]


@pytest.mark.parametrize("mode", ["prefetch", "fetch"])
def test_patient_view_without_ketamine_answers_no_cards(service_client, fhir_sandbox, mode):
    body = FIXTURES["patient-view-no-ketamine"]
    if mode == "fetch":
        body = without_prefetch(body, fhir_sandbox.base_url)
    assert answer(service_client, body) == []


@pytest.mark.parametrize("hook", ["order-sign", "patient-view"])
@pytest.mark.parametrize("mode", ["prefetch", "fetch"])
def test_a_site_that_switches_the_first_dose_rule_on_reads_the_birth_date(tmp_path, fhir_sandbox, hook, mode):
    site = tmp_path / "site.yaml"
    site.write_text(SITE, encoding="utf-8")
    client = create_app(Settings(fhir_timeout_seconds=10, knowledge_overrides=site,
                                 database_url=f"sqlite:///{tmp_path}/cds.sqlite3"), clock=lambda: NOW).test_client()
    body = FIXTURES["order-sign-esketamine-older-adult-start"]
    if hook == "patient-view":
        draft = body["context"]["draftOrders"]["entry"][0]["resource"]
        body = {"hookInstance": body["hookInstance"], "hook": hook,
                "context": {"userId": body["context"]["userId"], "patientId": body["context"]["patientId"]},
                "prefetch": {**body["prefetch"], "medicationRequests": {
                    "resourceType": "Bundle", "type": "searchset", "entry": [{"resource": draft}]}}}
        if mode == "fetch":  # the sandbox holds no draft of this patient's: read the orders from the prefetch
            body = {**without_prefetch(body, fhir_sandbox.base_url),
                    "prefetch": {"medicationRequests": body["prefetch"]["medicationRequests"]}}
    elif mode == "fetch":
        body = without_prefetch(body, fhir_sandbox.base_url)
    [card] = answer(client, body)
    assert card["summary"] == ("Hold esketamine 56 mg as a first dose at 72: first dose at 65 or older; start at "
                               "28 mg")
