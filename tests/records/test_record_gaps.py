"""A type the EHR cannot serve is named on the "check incomplete" card, never a 5xx and never silence: a key
missing with no fhirServer, an OperationOutcome in its place, or a fetch that fails (404). The service's own
queries are narrowed by date; the EHR's prefetch is filtered in the service."""

from __future__ import annotations

from collections.abc import Mapping

import pytest

from cds_hooks.fetch import FetchResult, QueryRunner
from cds_hooks.knowledge import load_knowledge
from cds_hooks.order_check import answer
from cds_hooks.protocol import HookRequest, load_request
from cds_hooks.services import definitions
from tests.builders import advice_by_rule, allergy, blood_pressure, bundle, hook_request, ordered, run
from tests.conftest import NOW

KB = load_knowledge()
SIGN = definitions(KB).by_id("ketamine-order-sign")
WHAT = {"medicationAdministrations": "Medication administrations", "medicationDispenses": "Medication dispenses",
        "allergies": "Allergies", "bloodPressure": "Blood pressure readings"}
OUTCOME = {"resourceType": "OperationOutcome",
           "issue": [{"severity": "error", "code": "not-supported", "diagnostics": "resource type not supported"}]}


def _notice(cards):
    notices = [card for card in cards if "notice" in card["extension"]["org.ketamine-cds"]]
    assert len(notices) == 1
    return notices[0]


@pytest.mark.parametrize("key", WHAT)
def test_a_key_missing_without_fhir_server_is_named(key):
    body = hook_request(ordered("esketamine"))
    del body["prefetch"][key]
    notice = _notice(run(body, KB, NOW))
    assert f"- {WHAT[key]}: it was not sent and there is no fhirServer to read it from." in notice["detail"]


@pytest.mark.parametrize("key", WHAT)
def test_an_operation_outcome_in_place_of_a_key_is_named(key):
    body = hook_request(ordered("ketamine"))
    body["prefetch"][key] = OUTCOME
    notice = _notice(run(body, KB, NOW))
    line = f"- {WHAT[key]}: the EHR reported an error instead of data (resource type not supported)."
    assert line in notice["detail"]


def test_only_a_missing_blood_pressure_names_blood_pressure_in_the_headline():
    body = hook_request(ordered("ketamine"))
    del body["prefetch"]["bloodPressure"]
    assert _notice(run(body, KB, NOW))["summary"] == (
        "Interaction check incomplete: blood pressure readings could not be read from the EHR")


class Fetcher:
    """The core's fetch port: each query answered from ``answers``, an empty Bundle otherwise; the queries kept."""

    def __init__(self, answers: Mapping[str, FetchResult]) -> None:
        self.answers = answers
        self.queries: dict[str, str] = {}

    def __call__(self, request: HookRequest) -> QueryRunner:
        return self.run

    def run(self, queries: Mapping[str, str]) -> dict[str, FetchResult]:
        self.queries.update(queries)
        return {key: self.answers.get(key, FetchResult(bundle=bundle([]))) for key in queries}


def _fetched(answers: Mapping[str, FetchResult]) -> tuple[list, Fetcher]:
    body = hook_request(ordered("esketamine"))
    del body["prefetch"]
    body["fhirServer"] = "https://ehr.example.org/fhir"
    request = load_request(body, "order-sign")
    fetcher = Fetcher(answers)
    cards = [card.as_json() for card in answer(request, SIGN, KB, NOW, fetcher).cards]
    return cards, fetcher


def test_a_type_the_fhir_server_cannot_serve_is_named_and_the_rest_still_counts():
    reading = blood_pressure(186, 104, "2026-11-21T11:00:00Z")
    cards, _ = _fetched({
        "allergies": FetchResult(problem="the FHIR server has no such resource or search (HTTP 404)"),
        "bloodPressure": FetchResult(bundle=bundle([reading])),
    })
    assert advice_by_rule(cards) == {"blood-pressure-severe": "avoid"}
    assert "- Allergies: the FHIR server has no such resource or search (HTTP 404)." in _notice(cards)["detail"]


def test_the_service_narrows_its_own_queries_by_date_and_keeps_the_templates_otherwise():
    _, fetcher = _fetched({})
    queries = fetcher.queries
    assert queries["bloodPressure"].endswith("&_sort=-date&date=ge2026-11-20T12:00:00Z")
    assert "&effective-time=ge2026-11-06T12:00:00Z" in queries["medicationAdministrations"]
    assert queries["allergies"] == "AllergyIntolerance?patient=case"
    assert "date" not in queries["medicationDispenses"]
    assert queries["medicationDispenses"].startswith("MedicationDispense?patient=case&status=")


def test_prefetch_sent_as_the_template_asks_is_filtered_in_the_service():
    old = blood_pressure(196, 120, "2026-11-01T08:00:00Z")
    refuted = allergy(text="ketamine", verification="refuted")
    body = hook_request(ordered("ketamine"), observations=[old], allergies=[refuted])
    assert run(body, KB, NOW) == []
