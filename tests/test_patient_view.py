"""ketamine-patient-view over HTTP: which orders it finds, that it reads nothing more without one, and that its
cards are order-sign's, with a review instead of a suggestion to cancel a draft."""

from __future__ import annotations

import copy
from dataclasses import replace
from typing import Any

import pytest

from cds_hooks.fetch import FetchResult
from cds_hooks.ids import EXTENSION_KEY
from service.runtime import EXTENSION
from tests.builders import allergy, blood_pressure, bundle, medication
from tests.cardcheck import assert_valid_card

REVIEW = "Review the active esketamine order before the next session. "
SERVICE = "/cds-services/ketamine-patient-view"


def patient_view(order_sign: dict[str, Any], status: str = "active") -> dict[str, Any]:
    """The patient-view call for the patient of an order-sign fixture, once its draft order has been placed."""
    placed = [{**entry["resource"], "status": status} for entry in order_sign["context"]["draftOrders"]["entry"]]
    prefetch = copy.deepcopy(order_sign["prefetch"])
    orders = prefetch["medicationRequests"]
    orders["entry"] = [{"resource": resource} for resource in placed] + orders["entry"]
    return {"hookInstance": "5b0e1f3a-6c2d-4e8f-9a7b-1c3d5e7f9a0b", "hook": "patient-view",
            "context": {"userId": order_sign["context"]["userId"], "patientId": order_sign["context"]["patientId"]},
            "prefetch": prefetch}


def comparable(card: dict[str, Any]) -> dict[str, Any]:
    """A card without what differs between calls (uuids) or between the hooks (suggestions, the review)."""
    kept = {key: value for key, value in card.items() if key not in {"uuid", "suggestions", "selectionBehavior"}}
    kept["detail"] = card["detail"].replace(REVIEW, "")
    return kept


def test_an_maoi_and_an_active_spravato_order_give_order_signs_avoid_card_without_the_delete(client, fixture):
    order_sign = fixture("order-sign-esketamine-maoi")
    signed = client.post("/cds-services/ketamine-order-sign", json=order_sign).get_json()["cards"]
    viewed = client.post(SERVICE, json=patient_view(order_sign)).get_json()["cards"]
    assert [card["summary"] for card in viewed] == [card["summary"] for card in signed]
    assert [comparable(card) for card in viewed] == [comparable(card) for card in signed]
    avoid = viewed[0]
    assert avoid["indicator"] == "critical" and avoid["extension"][EXTENSION_KEY]["ruleId"] == "maoi"
    assert "suggestions" not in signed[0] or signed[0]["suggestions"][0]["actions"][0]["type"] == "delete"
    assert all("suggestions" not in card and "selectionBehavior" not in card for card in viewed)
    assert REVIEW in avoid["detail"] and REVIEW not in signed[0]["detail"]
    for card in viewed:
        assert_valid_card(card)


def test_patient_view_links_only_to_the_knowledge_bases_public_sources(client, fixture, knowledge):
    public = {citation.url for citation in knowledge.citations.values() if citation.url}
    for name in ("patient-view-esketamine-maoi", "order-sign-esketamine-home-use"):
        body = fixture(name) if name.startswith("patient-view") else patient_view(fixture(name))
        viewed = client.post(SERVICE, json=body).get_json()["cards"]
        assert viewed
        for card in viewed:
            assert {link["url"] for link in card.get("links", [])} <= public
            assert all(link["type"] == "absolute" for link in card.get("links", []))


@pytest.mark.parametrize(("status", "found"), [
    ("active", True), ("on-hold", True), ("draft", True),
    ("completed", False), ("stopped", False), ("cancelled", False), ("entered-in-error", False),
])
def test_only_a_current_or_planned_order_is_checked(client, fixture, status, found):
    body = patient_view(fixture("order-sign-esketamine-maoi"), status)
    rules = [card["extension"][EXTENSION_KEY].get("ruleId") for card in client.post(SERVICE, json=body).json["cards"]]
    assert ("maoi" in rules) is found


def test_an_order_not_to_give_esketamine_is_not_checked(client, fixture):
    body = patient_view(fixture("order-sign-esketamine-maoi"))
    body["prefetch"]["medicationRequests"]["entry"][0]["resource"]["doNotPerform"] = True
    assert client.post(SERVICE, json=body).get_json() == {"cards": []}


def test_of_two_orders_of_one_drug_the_active_one_is_checked_once(client, fixture):
    body = patient_view(fixture("order-sign-esketamine-maoi"))
    entries = body["prefetch"]["medicationRequests"]["entry"]
    renewal = {**entries[0]["resource"], "id": "spravato-renewal", "status": "draft", "authoredOn": "2026-11-20"}
    entries.insert(0, {"resource": renewal})
    answer = client.post(SERVICE, json=body).get_json()["cards"]
    assert [card["extension"][EXTENSION_KEY]["ruleId"] for card in answer] == ["maoi", "ssri"]
    assert answer[0]["extension"][EXTENSION_KEY]["orderedDrug"]["reference"] == "MedicationRequest/draft-spravato"


def recording(app, sent: dict[str, Any]) -> list[dict[str, str]]:
    """Make the app's FHIR reads answer from ``sent`` (a Bundle per query) and record every call's queries."""
    calls: list[dict[str, str]] = []

    def run(queries):
        calls.append(dict(queries))
        return {key: FetchResult(bundle=sent.get(query.split("?")[0], bundle([]))) for key, query in queries.items()}

    def fetch(request, deadline=None):  # the runtime's FHIR client is opened with the call's deadline
        return run

    app.extensions[EXTENSION] = replace(app.extensions[EXTENSION], fetch=fetch)
    return calls


def test_without_ketamine_nothing_but_the_orders_is_read(app, client, fixture):
    body = fixture("patient-view-no-ketamine")
    orders = body.pop("prefetch")["medicationRequests"]
    body["fhirServer"] = "http://127.0.0.1:9/fhir"
    calls = recording(app, {"MedicationRequest": orders})
    assert client.post(SERVICE, json=body).get_json() == {"cards": []}
    assert [sorted(call) for call in calls] == [["appointments", "medicationRequests"]]
    assert "status=active,on-hold,unknown,stopped,completed,draft" in calls[0]["medicationRequests"]
    assert calls[0]["appointments"] == "Appointment?patient=fixture-pv-none&status=booked,arrived,checked-in"


def test_with_ketamine_the_rest_is_read_in_one_more_call_and_the_patient_only_when_a_rule_needs_it(app, client,
                                                                                                    fixture):
    body = fixture("patient-view-esketamine-maoi")
    sent = body.pop("prefetch")
    body["fhirServer"] = "http://127.0.0.1:9/fhir"
    calls = recording(app, {"MedicationRequest": sent["medicationRequests"]})
    answer = client.post(SERVICE, json=body).get_json()["cards"]
    assert [card["extension"][EXTENSION_KEY]["ruleId"] for card in answer] == ["maoi"]
    assert [sorted(call) for call in calls] == [["appointments", "medicationRequests"],
                                                ["allergies", "bloodPressure", "conditions",
                                                 "medicationAdministrations", "medicationDispenses",
                                                 "medicationStatements"]]


def test_orders_that_cannot_be_had_at_all_answer_412(client, fixture):
    body = fixture("patient-view-no-ketamine")
    del body["prefetch"]
    response = client.post(SERVICE, json=body)
    assert response.status_code == 412
    assert response.get_json()["resourceType"] == "OperationOutcome"


def test_a_patient_view_request_needs_no_draft_orders_but_a_patient(client, fixture):
    body = fixture("patient-view-no-ketamine")
    del body["context"]["patientId"]
    response = client.post(SERVICE, json=body)
    assert response.status_code == 400
    assert "context.patientId" in response.get_json()["issue"][0]["diagnostics"]
    order_sign = fixture("order-sign-non-ketamine")
    del order_sign["context"]["draftOrders"]
    response = client.post("/cds-services/ketamine-order-sign", json=order_sign)
    assert response.status_code == 400
    assert "context.draftOrders" in response.get_json()["issue"][0]["diagnostics"]


def test_a_draft_order_by_medication_reference_is_resolved_from_fhir_server(app, client, fixture):
    body = fixture("patient-view-esketamine-maoi")
    orders = body["prefetch"]["medicationRequests"]
    spravato = orders["entry"][0]["resource"]
    spravato["status"] = "draft"
    del spravato["medicationCodeableConcept"]
    spravato["medicationReference"] = {"reference": "Medication/spravato"}
    body["fhirServer"] = "http://127.0.0.1:9/fhir"
    medication_ = {"resourceType": "Medication", "id": "spravato", "code": {"coding": [
        {"system": "http://www.nlm.nih.gov/research/umls/rxnorm", "code": "2201625"}]}}
    calls = recording(app, {"Medication/spravato": bundle([medication_], kind="collection")})
    answer = client.post(SERVICE, json=body).get_json()["cards"]
    assert [card["extension"][EXTENSION_KEY]["ruleId"] for card in answer] == ["maoi"]
    assert calls == [{"Medication/spravato": "Medication/spravato"}]  # the rest came with the prefetch


def test_orders_the_ehr_could_not_send_give_the_incomplete_notice_and_nothing_more_is_read(app, client, fixture):
    body = fixture("patient-view-esketamine-maoi")
    body["prefetch"]["medicationRequests"] = {"resourceType": "OperationOutcome", "issue": [
        {"severity": "error", "code": "exception", "diagnostics": "timeout"}]}
    body["fhirServer"] = "http://127.0.0.1:9/fhir"
    calls = recording(app, {})
    [notice] = client.post(SERVICE, json=body).get_json()["cards"]
    assert notice["summary"] == "Interaction check incomplete: medication orders could not be read from the EHR"
    assert "the EHR reported an error instead of data (timeout)" in notice["detail"]
    assert "by hand before the next ketamine or esketamine session" in notice["detail"]
    assert calls == []


def test_co_medications_in_draft_are_not_counted(client, fixture):
    body = fixture("patient-view-esketamine-maoi")
    entries = body["prefetch"]["medicationRequests"]["entry"]
    entries[1]["resource"]["status"] = "draft"  # the Nardil order, only planned
    entries.append({"resource": medication(text="sertraline 50 mg", status="draft")})
    assert client.post(SERVICE, json=body).get_json() == {"cards": []}


def test_a_session_booked_without_an_order_is_checked_and_an_order_is_preferred_to_it(client, fixture):
    body = fixture("patient-view-esketamine-session")
    [card] = client.post(SERVICE, json=body).get_json()["cards"]
    assert card["extension"][EXTENSION_KEY]["orderedDrug"]["reference"] == "Appointment/spravato-session"
    assert "Review the scheduled Spravato (esketamine) session before it starts." in card["detail"]
    order = fixture("patient-view-esketamine-maoi")["prefetch"]["medicationRequests"]["entry"][0]
    body["prefetch"]["medicationRequests"]["entry"].append(order)
    [card] = client.post(SERVICE, json=body).get_json()["cards"]
    assert card["extension"][EXTENSION_KEY]["orderedDrug"]["reference"] == "MedicationRequest/spravato-active"


@pytest.mark.parametrize(("change", "checked"), [
    ({"status": "fulfilled"}, False), ({"status": "cancelled"}, False), ({"status": "arrived"}, True),
    ({"serviceType": [{"text": "Follow-up visit"}], "description": "Medication review"}, False),
])
def test_only_a_scheduled_or_in_progress_ketamine_session_counts(client, fixture, change, checked):
    body = fixture("patient-view-esketamine-session")
    body["prefetch"]["appointments"]["entry"][0]["resource"].update(change)
    assert bool(client.post(SERVICE, json=body).get_json()["cards"]) is checked


def test_appointments_the_ehr_cannot_give_are_no_notice(client, fixture):
    body = fixture("patient-view-no-ketamine")
    del body["prefetch"]["appointments"]  # and no fhirServer to read them from
    assert client.post(SERVICE, json=body).get_json() == {"cards": []}


def test_a_chart_is_checked_against_allergies_and_blood_pressure_as_order_sign_is(client, fixture):
    """The same rules and data types as order-sign: an allergy to esketamine and a severe reading give their cards."""
    body = fixture("patient-view-esketamine-maoi")
    body["prefetch"]["allergies"] = bundle([allergy(text="esketamine", reaction="anaphylaxis")])
    body["prefetch"]["bloodPressure"] = bundle([blood_pressure(186, 112, "2026-11-21T11:00:00Z")])
    answer = client.post(SERVICE, json=body).get_json()["cards"]
    rules = {card["extension"][EXTENSION_KEY]["ruleId"] for card in answer}
    assert {"maoi", "ketamine-allergy", "blood-pressure-severe"} <= rules
