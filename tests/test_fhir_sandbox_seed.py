"""The sandbox's seed, built from the fixtures (no Node needed)."""

from __future__ import annotations

from typing import Any

from service.fhir.sandbox import fixture_requests, seed_bundle, without_prefetch

FIXTURES = fixture_requests()


def seeded(bundle: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {f"{e['resource']['resourceType']}/{e['resource']['id']}": e["resource"] for e in bundle["entry"]}


def test_the_seed_holds_a_patient_per_fixture_and_every_prefetch_resource():
    resources = seeded(seed_bundle())
    for request in FIXTURES.values():
        patient = request["context"]["patientId"]
        assert resources[f"Patient/{patient}"] == {"resourceType": "Patient", "id": patient}
        for value in request["prefetch"].values():
            for entry in value["entry"]:
                resource = entry["resource"]
                reference = f"{resource['resourceType']}/{resource['id']}"
                stored = resources.get(reference) if resources.get(reference) == resource else None
                renamed = resources.get(f"{reference}-{patient}")
                assert resource in (stored, renamed and {**renamed, "id": resource["id"]}), f"{reference} not seeded"


def test_the_seed_renames_an_id_two_fixtures_use_for_different_resources():
    resources = seeded(seed_bundle())
    clean = resources["MedicationRequest/cephalexin-fixture-clean"]
    assert clean["subject"] == {"reference": "Patient/fixture-clean"}
    assert resources["MedicationRequest/cephalexin"]["subject"] == {"reference": "Patient/fixture-benzo"}


def test_without_prefetch_keeps_the_request_and_sets_fhir_server():
    request = FIXTURES["order-sign-esketamine-maoi"]
    bare = without_prefetch(request, "http://127.0.0.1:8081/fhir")
    assert "prefetch" not in bare and bare["fhirServer"] == "http://127.0.0.1:8081/fhir"
    assert bare["context"] == request["context"]
