"""Administrations, dispenses, allergies and blood pressure in fetch mode: every case of tests/records/cases.yaml
that is valid FHIR is stored on the sandbox FHIR server as its own patient, and the service, given only
fhirServer and a draft of each ordered drug, must answer for each drug as the table says (its queries narrowed by
date, as the service narrows them)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest
import requests
from flask.testing import FlaskClient

from cds_hooks.knowledge import ORDERED_DRUGS
from service import create_app
from service.config import Settings
from service.fhir.sandbox import without_prefetch
from tests.builders import PATIENT
from tests.conftest import NOW
from tests.records.cases import SECTIONS, expected, fetchable, request_for

pytestmark = pytest.mark.integration
NEW_KEYS = ("medicationAdministrations", "medicationDispenses", "allergies", "bloodPressure")


def _patient(case: dict[str, Any]) -> str:
    return "record-" + "".join(c if c.isalnum() else "-" for c in case["name"].lower())[:56].strip("-")


@pytest.fixture(scope="module")
def client(tmp_path_factory) -> Iterator[FlaskClient]:
    """One service for the module (the cases are many), with a generous time budget (the tests time nothing)."""
    database = tmp_path_factory.mktemp("records") / "cds.sqlite3"
    yield create_app(Settings(fhir_timeout_seconds=10, database_url=f"sqlite:///{database}"),
                     clock=lambda: NOW).test_client()


@pytest.fixture(scope="module")
def stored(fhir_sandbox) -> str:
    """Every fetchable case stored under its own patient; the sandbox's base URL."""
    base = fhir_sandbox.base_url
    for param in fetchable():
        case = param.values[0]
        patient = _patient(case)
        assert requests.put(f"{base}/Patient/{patient}", json={"resourceType": "Patient", "id": patient},
                            timeout=10).ok
        body = request_for(case, "ketamine")
        for key in NEW_KEYS:
            for entry in body["prefetch"][key]["entry"]:
                resource = json.loads(json.dumps(entry["resource"]).replace(PATIENT, f"Patient/{patient}"))
                resource["id"] = f"{patient[:40]}-{resource['id']}"[:64]
                answer = requests.put(f"{base}/{resource['resourceType']}/{resource['id']}", json=resource, timeout=10)
                assert answer.ok, answer.text
    return base


@pytest.mark.parametrize("case", fetchable())
def test_record_case_read_from_the_fhir_server(client, stored, case):
    body = without_prefetch(request_for(case, *ORDERED_DRUGS), stored)
    body["context"] = {**body["context"], "patientId": _patient(case)}
    response = client.post("/cds-services/ketamine-order-sign", json=body)
    assert response.status_code == 200
    cards = response.get_json()["cards"]
    extensions = [card["extension"]["org.ketamine-cds"] for card in cards]
    for drug in ORDERED_DRUGS:
        fired = {ext["ruleId"]: ext["advice"] for ext in extensions if ext.get("orderedDrug", {}).get("name") == drug}
        assert fired == expected(case, drug), drug
    assert not [ext for ext in extensions if "notice" in ext]
    for words in case.get("notes") or ():
        assert words in cards[0]["detail"]


def test_every_section_has_fetchable_cases():
    assert {param.id.split(":")[0] for param in fetchable()} == set(SECTIONS)
