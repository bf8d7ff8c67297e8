"""A value of the wrong JSON type where FHIR has a code, a severity or a resourceType is a data problem told on the
notice card, never a 500 that loses the whole answer (an MAOI Avoid card with it)."""

from __future__ import annotations

import json
import re
from typing import Any

import pytest
import responses

from tests.builders import bundle, hook_request, medication, ordered

SIGN = "/cds-services/ketamine-order-sign"
EHR = "https://ehr.example.org/fhir"
WRONG_TYPES = [["46713006"], {"code": "46713006"}, 46713006, True]


def maoi_request(*extra: dict[str, Any], order: dict[str, Any] | None = None) -> dict[str, Any]:
    return hook_request(order or ordered("esketamine"),
                        medications=[medication(code="8123", display="phenelzine 15 mg", ident="mao"), *extra])


def answered(client, body: dict[str, Any]) -> list[dict[str, Any]]:
    response = client.post(SIGN, json=body)
    assert response.status_code == 200, response.get_data(as_text=True)
    cards = response.get_json()["cards"]
    assert cards[0]["summary"].startswith("Avoid esketamine with phenelzine")
    return cards


def notice(cards: list[dict[str, Any]]) -> str:
    return next(card["detail"] for card in cards if card["summary"].startswith("Interaction check incomplete"))


def not_read(cards: list[dict[str, Any]]) -> list[str | None]:
    """The records the notice card names, by reference, from its extension (references are never on screen)."""
    card = next(card for card in cards if card["summary"].startswith("Interaction check incomplete"))
    return [item.get("reference") for item in card["extension"]["org.ketamine-cds"]["notRead"]]


def with_route_code(resource: dict[str, Any], code: object) -> dict[str, Any]:
    key = "dosageInstruction" if "dosageInstruction" in resource else "dosage"
    resource[key] = [{"route": {"coding": [{"system": "http://snomed.info/sct", "code": code}]}}]
    return resource


@pytest.mark.parametrize("code", WRONG_TYPES)
def test_a_route_code_of_another_type_on_the_draft_is_named_not_a_500(client, code):
    cards = answered(client, maoi_request(order=with_route_code(ordered("esketamine"), code)))
    assert "MedicationRequest/draft-esketamine" in not_read(cards)


@pytest.mark.parametrize("code", WRONG_TYPES)
def test_a_route_code_of_another_type_on_a_co_medication_is_named_not_a_500(client, code):
    sertraline = with_route_code(medication(code="36437", display="sertraline", ident="ssri"), code)
    cards = answered(client, maoi_request(sertraline))
    assert "MedicationRequest/ssri" in not_read(cards)


@pytest.mark.parametrize("severity", [["error"], {"value": "error"}, 3, None])
def test_an_operation_outcome_whose_severity_cannot_be_read_is_told_as_a_failure(client, severity):
    body = maoi_request()
    body["prefetch"]["conditions"] = bundle(
        [{"resourceType": "OperationOutcome", "issue": [{"severity": severity, "code": "exception"}]}]
    )
    cards = answered(client, body)
    assert "Conditions: the EHR reported a partial failure (exception)." in notice(cards)


@pytest.mark.parametrize("kind", [["MedicationRequest"], {"type": "MedicationRequest"}, 7, None])
def test_a_fetched_entry_whose_resource_type_is_not_a_string_is_an_unreadable_entry(client, kind):
    body = maoi_request()
    del body["prefetch"]
    body["fhirServer"] = EHR
    odd = {"resourceType": kind, "id": "odd", "status": "active",
           "medicationReference": {"reference": "Medication/m1"}}
    answers = {"MedicationRequest": bundle([medication(code="8123", display="phenelzine 15 mg", ident="mao"), odd]),
               "MedicationStatement": bundle([]), "Condition": bundle([])}
    with responses.RequestsMock(assert_all_requests_are_fired=False) as rsps:
        for kind_name, answer in answers.items():
            rsps.add(responses.GET, re.compile(f"{re.escape(EHR)}/{kind_name}.*"), body=json.dumps(answer),
                     content_type="application/fhir+json")
        cards = answered(client, body)
    assert "1 entry could not be read" in notice(cards)
