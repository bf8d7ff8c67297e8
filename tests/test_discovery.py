import re
from pathlib import Path
from urllib.parse import parse_qsl

from cds_hooks.services import OFFERS
from tests.cardcheck import assert_no_empty_values

REGISTERED = Path(__file__).with_name("discovery.json")
"""Discovery as EHRs registered the services before the record statuses became knowledge-base data."""


def test_discovery_lists_an_order_select_an_order_sign_and_a_patient_view_service(client):
    response = client.get("/cds-services")
    assert response.status_code == 200
    services = response.get_json()["services"]
    assert {service["hook"] for service in services} == {"order-select", "order-sign", "patient-view"}
    for service in services:
        assert_no_empty_values(service, service["id"])
        assert {"hook", "id", "title", "description", "prefetch"} <= set(service)


def test_prefetch_templates_use_only_context_tokens_the_spec_allows(client):
    for service in client.get("/cds-services").get_json()["services"]:
        for key, template in service["prefetch"].items():
            assert "{{context.patientId}}" in template, key
            assert template.split("?")[0] in {
                "MedicationRequest", "MedicationStatement", "MedicationAdministration", "MedicationDispense",
                "Condition", "AllergyIntolerance", "Observation", "Appointment", "Patient/{{context.patientId}}",
            }


def test_discovery_is_byte_for_byte_what_ehrs_registered_against(client):
    """The packaged knowledge base's status classes make exactly the prefetch templates the code used to hold."""
    assert client.get("/cds-services").data == REGISTERED.read_bytes()


def test_patient_view_has_its_own_prefetch_with_draft_orders_and_the_patient(client):
    services = {service["id"]: service for service in client.get("/cds-services").get_json()["services"]}
    view = services["ketamine-patient-view"]
    assert view["hook"] == "patient-view"
    assert view["prefetch"]["medicationRequests"] == (
        "MedicationRequest?patient={{context.patientId}}&status=active,on-hold,unknown,stopped,completed,draft")
    assert view["prefetch"]["patient"] == "Patient/{{context.patientId}}"
    sign = services["ketamine-order-sign"]["prefetch"]
    assert "draft" not in sign["medicationRequests"] and sign["patient"] == "Patient/{{context.patientId}}"
    assert view["prefetch"].keys() - sign.keys() == {"appointments"}
    assert view["prefetch"]["appointments"] == (
        "Appointment?patient={{context.patientId}}&status=booked,arrived,checked-in")
    for key in ("medicationAdministrations", "medicationDispenses", "allergies", "bloodPressure"):
        assert view["prefetch"][key] == sign[key], key


SUBSET_PARAMETERS = {"_count", "_sort"}
"""The only parameters starting with "_" that the specification's prefetch query subset allows."""


def subset_violations(template: str) -> list[str]:
    """What a template uses beyond the prefetch query restrictions of CDS Hooks 2.0.1: a type-level search or an
    instance read; parameters that are plain names (no chain, no modifier but ``:in``); of the ``_`` parameters
    only ``_count`` and ``_sort``."""
    path, _, query = template.partition("?")
    found = [] if re.fullmatch(r"[A-Z][A-Za-z]+(/[^/?]+)?", path) else [f"not a read or type-level search: {path}"]
    for name, _value in parse_qsl(query, keep_blank_values=True):
        base, _, modifier = name.partition(":")
        if "." in base:
            found.append(f"chained parameter {name}")
        if modifier and modifier != "in":
            found.append(f"modifier {name}")
        if base.startswith("_") and base not in SUBSET_PARAMETERS:
            found.append(f"parameter {name}")
    return found


def test_prefetch_templates_use_only_the_query_subset_the_spec_recommends(client):
    for service in client.get("/cds-services").get_json()["services"]:
        for key, template in service["prefetch"].items():
            assert subset_violations(template) == [], (service["id"], key)


def test_the_subset_check_finds_include_revinclude_has_chains_and_modifiers():
    include = "MedicationRequest?patient=1&status=active&_include=MedicationRequest:medication"
    assert subset_violations(include) == ["parameter _include"]
    reverse = "Condition?patient=1&_revinclude=Provenance:target&_has:Observation:patient:code=x"
    assert subset_violations(reverse) == [
        "parameter _revinclude", "modifier _has:Observation:patient:code", "parameter _has:Observation:patient:code"
    ]
    assert subset_violations("Observation?subject.name=x&code:text=y&code:in=z&_count=1&_sort=-date") == [
        "chained parameter subject.name", "modifier code:text"
    ]
    assert subset_violations("Patient/{{context.patientId}}") == []
    assert subset_violations("Patient/1/_history") == ["not a read or type-level search: Patient/1/_history"]


def test_every_service_is_callable_at_its_discovery_id(client, fixture):
    for offer in OFFERS:
        body = fixture("order-sign-ketamine-no-interaction")
        body["hook"] = offer.hook
        body["context"]["selections"] = ["MedicationRequest/draft-ketamine"]
        response = client.post(f"/cds-services/{offer.id}", json=body)
        assert response.status_code == 200, response.get_json()


def test_discovery_rejects_post_with_405(client):
    response = client.post("/cds-services", json={})
    assert response.status_code == 405
    assert response.get_json()["resourceType"] == "OperationOutcome"
