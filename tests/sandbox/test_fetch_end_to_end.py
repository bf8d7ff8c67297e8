"""End to end: the service, given only fhirServer, reads each fixture patient from the sandbox FHIR server and
answers with the cards the full prefetch gives (compared by summary, indicator and rule, not by uuid)."""

from __future__ import annotations

import copy
import logging
from typing import Any

import pytest
import requests

from cds_hooks.gather import gather
from cds_hooks.ids import EXTENSION_KEY
from cds_hooks.knowledge import load_knowledge
from cds_hooks.order_check import needed
from cds_hooks.protocol import load_request
from cds_hooks.services import definitions, record_prefetch
from service.fhir.client import FAILURE_REASONS, FhirClient
from service.fhir.sandbox import fixture_requests, without_prefetch
from tests.sandbox.conftest import SANDBOX_TOKEN
from tests.scrape import scraped

pytestmark = pytest.mark.integration
FIXTURES = fixture_requests()
INCOMPLETE = ("Interaction check incomplete: medications, conditions, allergies and blood pressure readings could not "
              "be read from the EHR")


def cards(client, body: dict[str, Any]) -> list[dict[str, Any]]:
    response = client.post(f"/cds-services/ketamine-{body['hook']}", json=body)
    assert response.status_code == 200, response.get_json()
    return response.get_json()["cards"]


def outline(answer: list[dict[str, Any]]) -> list[tuple[str, str, str | None]]:
    return [(card["summary"], card["indicator"], card["extension"][EXTENSION_KEY].get("ruleId")) for card in answer]


def authorized(body: dict[str, Any], token: str) -> dict[str, Any]:
    return {**body, "fhirAuthorization": {"access_token": token, "token_type": "Bearer", "expires_in": 300,
                                          "scope": "patient/*.read", "subject": "ketamine-cds"}}


@pytest.mark.parametrize("name", FIXTURES)
def test_given_only_fhir_server_the_cards_match_those_of_full_prefetch(service_client, fhir_sandbox, name):
    full = cards(service_client, FIXTURES[name])
    fetched = cards(service_client, without_prefetch(FIXTURES[name], fhir_sandbox.base_url))
    assert outline(fetched) == outline(full)


def test_the_fixtures_cover_advice_cards_and_a_clean_answer(service_client):
    answers = {name: outline(cards(service_client, request)) for name, request in FIXTURES.items()}
    assert {card[1] for answer in answers.values() for card in answer} == {"critical", "warning", "info"}
    assert answers["order-sign-ketamine-no-interaction"] == []


@pytest.mark.parametrize("name", [name for name, request in FIXTURES.items() if request.get("prefetch")])
def test_paged_answers_behind_a_bearer_token_give_the_same_cards(service_client, strict_sandbox, name):
    full = cards(service_client, FIXTURES[name])
    body = authorized(without_prefetch(FIXTURES[name], strict_sandbox.base_url), SANDBOX_TOKEN)
    assert outline(cards(service_client, body)) == outline(full)


def test_partial_prefetch_is_completed_from_fhir_server(service_client, fhir_sandbox):
    request = FIXTURES["order-sign-esketamine-maoi"]
    partial = copy.deepcopy(request)
    del partial["prefetch"]["medicationRequests"]
    partial["fhirServer"] = fhir_sandbox.base_url
    assert outline(cards(service_client, partial)) == outline(cards(service_client, request))


def test_keys_sent_as_null_are_not_fetched_and_the_rest_is(service_client, fhir_sandbox):
    request = FIXTURES["order-sign-esketamine-maoi"]
    body = {**without_prefetch(request, fhir_sandbox.base_url), "prefetch": {"medicationStatements": None}}
    assert outline(cards(service_client, body)) == outline(cards(service_client, request))


def test_a_rejected_token_answers_with_the_incomplete_check_card(service_client, strict_sandbox):
    body = authorized(without_prefetch(FIXTURES["order-sign-esketamine-maoi"], strict_sandbox.base_url), "expired")
    answer = cards(service_client, body)
    assert [card["summary"] for card in answer] == [INCOMPLETE]
    assert "did not accept the access token the EHR sent (HTTP 401)" in answer[0]["detail"]


def test_a_fhir_server_that_is_not_listening_answers_with_the_incomplete_check_card(service_client, fhir_sandbox):
    stopped = fhir_sandbox.base_url.rsplit(":", 1)[0] + ":9/fhir"
    answer = cards(service_client, without_prefetch(FIXTURES["order-sign-esketamine-maoi"], stopped))
    assert [card["summary"] for card in answer] == [INCOMPLETE]


def test_a_medication_reference_is_resolved_with_the_include_the_core_asks_for(service_client, fhir_sandbox):
    base = fhir_sandbox.base_url
    medication = {"resourceType": "Medication", "id": "e2e-nardil",
                  "code": {"coding": [{"system": "http://www.nlm.nih.gov/research/umls/rxnorm", "code": "8123",
                                       "display": "phenelzine"}], "text": "Nardil 15 mg tablet"}}
    order = {"resourceType": "MedicationRequest", "id": "e2e-nardil-order", "status": "active", "intent": "order",
             "subject": {"reference": "Patient/e2e-reference"},
             "medicationReference": {"reference": "Medication/e2e-nardil"}}
    for resource in (medication, order):
        path = f"{base}/{resource['resourceType']}/{resource['id']}"
        requests.put(path, json=resource, timeout=10).raise_for_status()
    body = without_prefetch(FIXTURES["order-sign-esketamine-maoi"], base)
    body["context"] = {**body["context"], "patientId": "e2e-reference"}
    answer = cards(service_client, body)
    assert [(card["summary"], card["indicator"]) for card in answer] == [
        ("Avoid esketamine with phenelzine: MAOI, risk of hypertensive crisis", "critical")
    ]
    client = FhirClient(timeout_seconds=10)
    reads = []
    opened = client(load_request(body, "order-sign"))

    def run(queries):
        reads.append(sorted(queries))
        return opened(queries)

    kb = load_knowledge()
    service = needed(definitions(kb).by_id("ketamine-order-sign"), kb)  # no Patient: no rule reads it
    data = gather(load_request(body, "order-sign"), service, lambda request: run, kb.statuses)
    assert [(r["resourceType"], r["id"]) for r in data.resources["medicationRequests"]] == [
        ("MedicationRequest", "e2e-nardil-order"), ("Medication", "e2e-nardil")
    ]
    assert reads == [sorted(record_prefetch(kb.statuses))], "no second round was needed"


def test_the_token_and_patient_data_never_reach_the_logs(service_client, strict_sandbox, caplog):
    caplog.set_level(logging.DEBUG)
    request = FIXTURES["order-sign-esketamine-maoi"]
    good = authorized(without_prefetch(request, strict_sandbox.base_url), SANDBOX_TOKEN)
    bad = authorized(without_prefetch(request, strict_sandbox.base_url), "expired-token-5c1a")
    assert cards(service_client, good) and cards(service_client, bad)
    assert caplog.records, "the fetch path logs something, so the check below means something"
    for secret in (SANDBOX_TOKEN, "expired-token-5c1a", "fixture-maoi", "Nardil", "sertraline", "simvastatin"):
        assert secret not in caplog.text


def test_reads_from_the_sandbox_are_timed_per_resource_and_count_as_fetched_keys(service_client, strict_sandbox):
    resources = ("MedicationRequest", "MedicationStatement", "Condition")
    keys = ("medicationRequests", "medicationStatements", "conditions")
    body = authorized(without_prefetch(FIXTURES["order-sign-esketamine-maoi"], strict_sandbox.base_url), SANDBOX_TOKEN)

    def seen() -> tuple[list[float], list[float], float]:
        return ([scraped(service_client, "ketamine_cds_fhir_fetch_duration_seconds_count", resource=r)
                 for r in resources],
                [scraped(service_client, "ketamine_cds_prefetch_total", key=key, source="fetched") for key in keys],
                sum(scraped(service_client, "ketamine_cds_fhir_fetch_failures_total", resource=r, reason=reason)
                    for r in resources for reason in FAILURE_REASONS))

    reads, fetched, failures = seen()
    assert [card["summary"] for card in cards(service_client, body)] != [INCOMPLETE]

    assert seen() == ([count + 1 for count in reads], [count + 1 for count in fetched], failures)
