"""The sandbox's seed, built from the fixtures (no Node needed)."""

from __future__ import annotations

from datetime import date, timedelta
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from service import create_app
from service.config import Settings
from service.fhir.sandbox import FIXTURE_DAY, fixture_patient, fixture_requests, on_day, seed_bundle, without_prefetch
from tests.conftest import NOW

FIXTURES = fixture_requests()


def seeded(bundle: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {f"{e['resource']['resourceType']}/{e['resource']['id']}": e["resource"] for e in bundle["entry"]}


def test_the_seed_holds_a_patient_per_fixture_and_every_prefetch_resource():
    """The fixture's own Patient (with its birth date) when it sends one, else one with only the id."""
    resources = seeded(seed_bundle())
    for request in FIXTURES.values():
        patient = request["context"]["patientId"]
        stored_patient = resources[f"Patient/{patient}"]
        assert stored_patient["name"][0]["family"]
        sent = request["prefetch"].get("patient") or {}
        assert {key: stored_patient.get(key) for key in sent} == sent
        for value in request["prefetch"].values():
            for entry in value.get("entry", ()):
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


def test_every_fixture_patient_has_a_name_a_sex_and_an_adult_age():
    patients = [e["resource"] for e in seed_bundle()["entry"] if e["resource"]["resourceType"] == "Patient"]
    assert len(patients) == len({r["context"]["patientId"] for r in FIXTURES.values()})
    for patient in patients:
        age = (FIXTURE_DAY - date.fromisoformat(patient["birthDate"])).days // 365
        assert 18 <= age <= 75 and patient["gender"] in ("female", "male")
        assert patient["name"][0]["text"] == f"{patient['name'][0]['given'][0]} {patient['name'][0]['family']}"
    assert len({p["name"][0]["text"] for p in patients}) == len(patients)
    assert fixture_patient("fixture-esketamine-pregnancy", 1)["gender"] == "female"


def test_on_day_moves_dates_and_date_times_and_leaves_other_text():
    later = FIXTURE_DAY + timedelta(days=10)
    moved = on_day({"a": ["2026-11-15", "2026-11-20T08:30:00Z"], "b": "2026-1-1", "c": "x 2026-11-15", "d": 3}, later)
    assert moved == {"a": ["2026-11-25", "2026-11-30T08:30:00Z"], "b": "2026-1-1", "c": "x 2026-11-15", "d": 3}


@given(st.text(max_size=30))
def test_on_day_never_fails_on_any_text(text):
    assert isinstance(on_day({"value": text}, FIXTURE_DAY + timedelta(days=400)), dict)


@pytest.mark.parametrize("days", [14, 400])
def test_moved_fixtures_give_the_same_cards_on_the_later_day(tmp_path, days):
    """The washout fixture stops firing as days pass; moved with the clock, it gives the same cards."""
    def cards(request, now):
        app = create_app(Settings(database_url=f"sqlite:///{tmp_path}/{days}.sqlite3"), clock=lambda: now)
        response = app.test_client().post(f"/cds-services/ketamine-{request['hook']}", json=request)
        return [(card["indicator"], card["summary"]) for card in response.get_json()["cards"]]

    request = FIXTURES["order-select-ketamine-maoi-washout"]
    expected = cards(request, NOW)
    assert expected, "the washout fixture gives a card on its own day"
    later = NOW + timedelta(days=days)
    assert cards(on_day(request, later.date()), later) == expected
    assert cards(request, later) != expected
