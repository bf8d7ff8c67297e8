"""Prefetch states (CDS Hooks 2.0): present, absent, null, OperationOutcome, paged and partial, and what is
fetched from fhirServer for each. The fetcher here is a recording stand-in; the real one is tested in
test_fhir_client.py and against the sandbox server in tests/sandbox/."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import pytest

from cds_hooks.errors import DataUnavailable
from cds_hooks.fetch import FetchResult, QueryRunner
from cds_hooks.gather import gather
from cds_hooks.knowledge import load_knowledge
from cds_hooks.order_check import answer, needed
from cds_hooks.prefetch import render
from cds_hooks.protocol import HookRequest, load_request
from cds_hooks.services import definitions, record_prefetch
from tests.builders import bundle
from tests.conftest import NOW

KB = load_knowledge()
SIGN = needed(definitions(KB).by_id("ketamine-order-sign"), KB)
"""order-sign's prefetch as the packaged knowledge base reads it: no Patient while no rule needs the birth date."""
EHR = "https://ehr.example.org/fhir"


def order(ident: str, medication: Mapping[str, Any], status: str = "active") -> dict[str, Any]:
    return {"resourceType": "MedicationRequest", "id": ident, "status": status, "intent": "order",
            "subject": {"reference": "Patient/fixture-maoi"}, **medication}


NARDIL_BY_REFERENCE = order("nardil-ref", {"medicationReference": {"reference": "Medication/nardil-tab"}})
NARDIL_MEDICATION = {"resourceType": "Medication", "id": "nardil-tab", "code": {"text": "Nardil 15 mg tablet"}}
OUTCOME = {"resourceType": "OperationOutcome",
           "issue": [{"severity": "error", "code": "timeout", "diagnostics": "medication service timed out"}]}


class RecordingFetcher:
    """Answers each query from ``answers`` (an empty Bundle when not given) and records every call."""

    def __init__(self, answers: Mapping[str, FetchResult] | None = None, *, forget: tuple[str, ...] = ()) -> None:
        self.answers = dict(answers or {})
        self.forget = forget
        self.calls: list[dict[str, str]] = []

    def __call__(self, request: HookRequest) -> QueryRunner:
        return self.run

    def run(self, queries: Mapping[str, str]) -> dict[str, FetchResult]:
        self.calls.append(dict(queries))
        return {key: self.answers.get(key, FetchResult(bundle=bundle([]))) for key in queries if key not in self.forget}


@pytest.fixture
def maoi(fixture) -> dict[str, Any]:
    return fixture("order-sign-esketamine-maoi")


def hook(body: Mapping[str, Any]) -> HookRequest:
    return load_request(body, body["hook"])


def query(key: str, patient: str = "fixture-maoi") -> str:
    return render(record_prefetch(KB.statuses)[key], {"context.patientId": patient})


def test_prefetch_with_every_key_present_is_used_without_fetching(maoi):
    fetcher = RecordingFetcher()
    data = gather(hook({**maoi, "fhirServer": EHR}), SIGN, fetcher, KB.statuses)
    assert fetcher.calls == []
    assert [r["id"] for r in data.resources["medicationRequests"]] == ["nardil", "sertraline", "simvastatin"]
    assert data.gaps == []


def test_absent_keys_are_fetched_with_the_template_query_a_medication_search_asking_for_its_medications(maoi):
    del maoi["prefetch"]["medicationRequests"], maoi["prefetch"]["conditions"]
    fetcher = RecordingFetcher({"medicationRequests": FetchResult(bundle=bundle([order("fetched", {
        "medicationCodeableConcept": {"text": "Nardil 15 mg tablet"}})]))})
    data = gather(hook({**maoi, "fhirServer": EHR}), SIGN, fetcher, KB.statuses)
    include = "&_include=MedicationRequest:medication"
    assert fetcher.calls == [
        {"medicationRequests": query("medicationRequests") + include, "conditions": query("conditions")}
    ]
    assert [r["id"] for r in data.resources["medicationRequests"]] == ["fetched"]
    assert data.gaps == []


def test_the_template_query_asks_for_counted_statuses():
    assert query("medicationRequests") == (
        "MedicationRequest?patient=fixture-maoi&status=active,on-hold,unknown,stopped,completed"
    )


def test_a_key_sent_as_null_means_no_data_and_is_not_fetched(maoi):
    maoi["prefetch"]["medicationStatements"] = None
    fetcher = RecordingFetcher()
    data = gather(hook({**maoi, "fhirServer": EHR}), SIGN, fetcher, KB.statuses)
    assert fetcher.calls == []
    assert data.resources["medicationStatements"] == []
    assert data.gaps == []


def test_an_operation_outcome_instead_of_a_bundle_is_a_gap_and_is_not_fetched_again(maoi):
    maoi["prefetch"]["medicationRequests"] = OUTCOME
    fetcher = RecordingFetcher()
    data = gather(hook({**maoi, "fhirServer": EHR}), SIGN, fetcher, KB.statuses)
    assert fetcher.calls == []
    assert [(gap.key, gap.reason) for gap in data.gaps] == [
        ("medicationRequests", "the EHR reported an error instead of data (medication service timed out)")
    ]


def test_an_operation_outcome_for_medications_answers_with_the_incomplete_check_card(maoi, knowledge):
    maoi["prefetch"]["medicationRequests"] = OUTCOME
    request = hook(maoi)
    cards = answer(request, SIGN, knowledge, NOW).as_json()["cards"]
    assert [card["summary"] for card in cards] == [
        "Interaction check incomplete: medication orders could not be read from the EHR"
    ]


def test_an_error_entry_inside_a_prefetch_bundle_is_a_partial_failure_gap(maoi):
    maoi["prefetch"]["medicationRequests"]["entry"].append({"resource": OUTCOME, "search": {"mode": "outcome"}})
    data = gather(hook(maoi), SIGN, None, KB.statuses)
    assert [r["id"] for r in data.resources["medicationRequests"]] == ["nardil", "sertraline", "simvastatin"]
    assert [gap.reason for gap in data.gaps] == [
        "the EHR reported a partial failure (medication service timed out)"
    ]


def test_a_paged_prefetch_key_has_its_later_pages_fetched_under_the_same_key(maoi):
    page_two = f"{EHR}/MedicationRequest?patient=fixture-maoi&page=2"
    maoi["prefetch"]["medicationRequests"]["link"] = [{"relation": "next", "url": page_two}]
    fetcher = RecordingFetcher({"medicationRequests": FetchResult(bundle=bundle([order("page-two", {
        "medicationCodeableConcept": {"text": "alprazolam 1 mg"}})]))})
    data = gather(hook({**maoi, "fhirServer": EHR}), SIGN, fetcher, KB.statuses)
    assert fetcher.calls == [{"medicationRequests": page_two}]
    assert [r["id"] for r in data.resources["medicationRequests"]] == [
        "nardil", "sertraline", "simvastatin", "page-two"
    ]


def test_a_paged_prefetch_key_without_fhir_server_says_only_its_first_page_was_read(maoi):
    maoi["prefetch"]["medicationRequests"]["link"] = [{"relation": "next", "url": f"{EHR}/MedicationRequest?p=2"}]
    data = gather(hook(maoi), SIGN, RecordingFetcher(), KB.statuses)
    assert [(gap.key, gap.reason) for gap in data.gaps] == [
        ("medicationRequests", "only its first page was sent and there is no fhirServer to read the rest from")
    ]


def test_partial_prefetch_fetches_only_the_missing_keys(maoi):
    del maoi["prefetch"]["medicationStatements"]
    fetcher = RecordingFetcher()
    gather(hook({**maoi, "fhirServer": EHR}), SIGN, fetcher, KB.statuses)
    assert fetcher.calls == [
        {"medicationStatements": query("medicationStatements") + "&_include=MedicationStatement:medication"}
    ]


def test_partial_prefetch_without_fhir_server_checks_what_was_sent_and_names_the_rest(maoi, knowledge):
    del maoi["prefetch"]["medicationStatements"]
    request = hook(maoi)
    cards = answer(request, SIGN, knowledge, NOW).as_json()["cards"]
    assert cards[0]["summary"].startswith("Avoid esketamine with Nardil (phenelzine)")
    assert cards[-1]["summary"] == "Interaction check incomplete: medication statements could not be read from the EHR"
    assert "- Medication statements: it was not sent and there is no fhirServer to read it from." in cards[-1]["detail"]


def test_a_fetch_result_with_data_and_a_problem_keeps_the_data_and_the_gap(maoi):
    del maoi["prefetch"]["medicationRequests"]
    partial = FetchResult(bundle=bundle([order("first-page", {"medicationCodeableConcept": {"text": "Nardil"}})]),
                          problem="page 2 could not be read: the FHIR server failed (HTTP 503)")
    fetcher = RecordingFetcher({"medicationRequests": partial})
    data = gather(hook({**maoi, "fhirServer": EHR}), SIGN, fetcher, KB.statuses)
    assert [r["id"] for r in data.resources["medicationRequests"]] == ["first-page"]
    assert [gap.reason for gap in data.gaps] == ["page 2 could not be read: the FHIR server failed (HTTP 503)"]


def test_a_key_the_fetcher_left_unanswered_is_a_gap(maoi):
    del maoi["prefetch"]["conditions"]
    data = gather(hook({**maoi, "fhirServer": EHR}), SIGN, RecordingFetcher(forget=("conditions",)), KB.statuses)
    assert [(gap.key, gap.reason) for gap in data.gaps] == [("conditions", "it could not be fetched")]


def test_no_prefetch_and_no_fhir_server_is_data_unavailable(maoi):
    del maoi["prefetch"]
    with pytest.raises(DataUnavailable, match="no fhirServer to read it from"):
        gather(hook(maoi), SIGN, RecordingFetcher(), KB.statuses)


def test_no_prefetch_with_fhir_server_but_no_fetcher_is_data_unavailable(maoi):
    del maoi["prefetch"]
    with pytest.raises(DataUnavailable, match="fhirServer cannot be read here"):
        gather(hook({**maoi, "fhirServer": EHR}), SIGN, None, KB.statuses)


def test_no_prefetch_answers_412_over_http(client, maoi):
    del maoi["prefetch"]
    response = client.post("/cds-services/ketamine-order-sign", json=maoi)
    assert response.status_code == 412
    assert response.get_json()["issue"][0]["code"] == "incomplete"


def test_a_medication_reference_prefetch_left_unresolved_is_read_from_fhir_server(maoi, knowledge):
    maoi["prefetch"]["medicationRequests"] = bundle([NARDIL_BY_REFERENCE])
    fetcher = RecordingFetcher({"Medication/nardil-tab": FetchResult(bundle={
        "resourceType": "Bundle", "type": "collection", "entry": [{"resource": NARDIL_MEDICATION}]})})
    request = hook({**maoi, "fhirServer": EHR})
    cards = answer(request, SIGN, knowledge, NOW, fetcher).as_json()["cards"]
    assert fetcher.calls == [{"Medication/nardil-tab": "Medication/nardil-tab"}]
    assert [card["summary"] for card in cards] == [
        "Avoid esketamine with Nardil (phenelzine): MAOI, risk of hypertensive crisis"
    ]


def test_a_medication_the_prefetch_bundle_includes_is_not_read_again(maoi):
    maoi["prefetch"]["medicationRequests"] = bundle([NARDIL_BY_REFERENCE, NARDIL_MEDICATION])
    fetcher = RecordingFetcher()
    gather(hook({**maoi, "fhirServer": EHR}), SIGN, fetcher, KB.statuses)
    assert fetcher.calls == []


def test_a_medication_reference_that_cannot_be_read_is_reported_on_the_notice_card(maoi, knowledge):
    maoi["prefetch"]["medicationRequests"] = bundle([NARDIL_BY_REFERENCE])
    fetcher = RecordingFetcher({"Medication/nardil-tab": FetchResult(
        problem="the FHIR server has no such resource or search (HTTP 404)")})
    request = hook({**maoi, "fhirServer": EHR})
    cards = answer(request, SIGN, knowledge, NOW, fetcher).as_json()["cards"]
    assert [card["indicator"] for card in cards] == ["warning"]
    listed = [line for line in cards[0]["detail"].splitlines() if line.startswith("- ")]
    assert listed == ["- A medication order with no name: the medication it references could not be read; the FHIR "
                      "server has no such resource or search (HTTP 404)."]
    assert {"reference": "MedicationRequest/nardil-ref", "problem": "the medication it references could not be read"} \
        in cards[0]["extension"]["org.ketamine-cds"]["notRead"]


def test_a_medication_that_cannot_be_read_keeps_its_own_line_when_its_order_is_read_by_display(maoi, knowledge):
    by_display = {**NARDIL_BY_REFERENCE, "medicationReference": {"reference": "Medication/nardil-tab",
                                                                 "display": "Nardil 15 mg tablet"}}
    maoi["prefetch"]["medicationRequests"] = bundle([by_display])
    fetcher = RecordingFetcher({"Medication/nardil-tab": FetchResult(problem="the FHIR server could not be reached")})
    request = hook({**maoi, "fhirServer": EHR})
    cards = answer(request, SIGN, knowledge, NOW, fetcher).as_json()["cards"]
    assert [card["indicator"] for card in cards] == ["critical", "warning"]
    listed = [line for line in cards[1]["detail"].splitlines() if line.startswith("- ")]
    assert listed == ["- A referenced medication: the FHIR server could not be reached."]


def test_a_medication_reference_without_fhir_server_is_reported_not_fetched(maoi, knowledge):
    maoi["prefetch"]["medicationRequests"] = bundle([NARDIL_BY_REFERENCE])
    request = hook(maoi)
    cards = answer(request, SIGN, knowledge, NOW, RecordingFetcher()).as_json()["cards"]
    assert [card["summary"] for card in cards] == ["Interaction check incomplete: 1 record could not be read"]


def test_the_medication_of_an_order_the_engine_ignores_is_not_read(maoi):
    maoi["prefetch"]["medicationRequests"] = bundle([{**NARDIL_BY_REFERENCE, "status": "cancelled"}])
    fetcher = RecordingFetcher()
    gather(hook({**maoi, "fhirServer": EHR}), SIGN, fetcher, KB.statuses)
    assert fetcher.calls == []


def test_a_reference_named_like_a_prefetch_key_does_not_take_that_keys_line(maoi, knowledge):
    odd = order("odd", {"medicationReference": {"reference": "conditions"}})
    maoi["prefetch"]["medicationRequests"] = bundle([odd])
    del maoi["prefetch"]["conditions"]
    request = hook(maoi)
    cards = answer(request, SIGN, knowledge, NOW, RecordingFetcher()).as_json()["cards"]
    listed = [line for line in cards[-1]["detail"].splitlines() if line.startswith("- ")]
    assert listed == ["- Conditions: it was not sent and there is no fhirServer to read it from.",
                      "- A medication order with no name: the medication it references could not be read."]


def test_a_medication_that_fetched_entries_reference_is_read_in_a_second_round_and_added_to_their_key(maoi):
    del maoi["prefetch"]["medicationRequests"]
    fetcher = RecordingFetcher({
        "medicationRequests": FetchResult(bundle=bundle([NARDIL_BY_REFERENCE])),
        "Medication/nardil-tab": FetchResult(bundle=bundle([NARDIL_MEDICATION])),
    })
    data = gather(hook({**maoi, "fhirServer": EHR}), SIGN, fetcher, KB.statuses)
    assert [list(call) for call in fetcher.calls] == [["medicationRequests"], ["Medication/nardil-tab"]]
    assert [r["id"] for r in data.resources["medicationRequests"]] == ["nardil-ref", "nardil-tab"]
    assert data.gaps == []


def test_a_medication_the_fetched_answer_included_is_not_read_again(maoi):
    del maoi["prefetch"]["medicationRequests"]
    fetcher = RecordingFetcher({"medicationRequests": FetchResult(bundle=bundle([NARDIL_BY_REFERENCE,
                                                                                 NARDIL_MEDICATION]))})
    gather(hook({**maoi, "fhirServer": EHR}), SIGN, fetcher, KB.statuses)
    assert [list(call) for call in fetcher.calls] == [["medicationRequests"]]


def test_a_medication_that_cannot_be_read_in_the_second_round_is_named_in_its_key_gap(maoi):
    del maoi["prefetch"]["medicationRequests"]
    fetcher = RecordingFetcher({
        "medicationRequests": FetchResult(bundle=bundle([NARDIL_BY_REFERENCE])),
        "Medication/nardil-tab": FetchResult(problem="the FHIR server has no such resource or search (HTTP 404)"),
    })
    data = gather(hook({**maoi, "fhirServer": EHR}), SIGN, fetcher, KB.statuses)
    assert [r["id"] for r in data.resources["medicationRequests"]] == ["nardil-ref"]
    assert [(gap.key, gap.reason) for gap in data.gaps] == [("medicationRequests", (
        "a medication an entry references could not be read: the FHIR server has no such resource or search "
        "(HTTP 404)"))]


def test_in_fetch_mode_the_card_says_the_fhir_server_answered_not_the_ehr(knowledge):
    from tests.builders import hook_request, medication, ordered

    body = hook_request(ordered("esketamine"), medications=[medication(code="8123", display="phenelzine")])
    del body["prefetch"]["conditions"], body["prefetch"]["medicationStatements"]
    body["fhirServer"] = "https://ehr.example.org/fhir"
    outcome = {"resourceType": "OperationOutcome", "issue": [{"severity": "error", "code": "timeout",
                                                              "diagnostics": "search timed out"}]}
    answers = {"conditions": FetchResult(bundle=outcome),
               "medicationStatements": FetchResult(bundle={"resourceType": "Patient"})}
    request = load_request(body, "order-sign")
    cards = answer(request, SIGN, knowledge, NOW, RecordingFetcher(answers)).as_json()["cards"]
    notice = cards[-1]["detail"]
    assert "Conditions: the FHIR server reported an error instead of data (search timed out)." in notice
    assert "Medication statements: the FHIR server sent something other than a FHIR Bundle." in notice
    assert "the EHR" not in notice
