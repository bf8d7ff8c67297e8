"""Realistic order-sign and patient-view requests for the benchmark scenarios, built from a fixture and a pool of
common drugs. Each body names its hook; the benchmark calls the service registered for it."""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

FIXTURES = Path(__file__).resolve().parent.parent / "fixtures"
RXNORM = "http://www.nlm.nih.gov/research/umls/rxnorm"

# Common outpatient medications with no ketamine interaction, as EHRs send them: product codes the tables do
# not all know, displays with strengths and salt forms, a sig.
_UNRELATED = [
    ("617312", "atorvastatin 40 MG Oral Tablet"), ("314076", "lisinopril 10 MG Oral Tablet"),
    ("861007", "metformin hydrochloride 500 MG Oral Tablet"), ("197361", "amlodipine 5 MG Oral Tablet"),
    ("198053", "omeprazole 20 MG Delayed Release Oral Capsule"), ("979480", "losartan potassium 50 MG Oral Tablet"),
    ("310798", "hydrochlorothiazide 25 MG Oral Tablet"), ("866924", "metoprolol tartrate 25 MG Oral Tablet"),
    ("312961", "simvastatin 20 MG Oral Tablet"), ("997488", "montelukast 10 MG Oral Tablet"),
    ("314153", "pantoprazole 40 MG Delayed Release Oral Tablet"), ("310429", "furosemide 20 MG Oral Tablet"),
    ("859747", "rosuvastatin calcium 10 MG Oral Tablet"), ("863671", "tamsulosin hydrochloride 0.4 MG Oral Capsule"),
    ("311486", "meloxicam 15 MG Oral Tablet"), ("309114", "cephalexin 500 MG Oral Capsule"),
    ("198211", "prednisone 10 MG Oral Tablet"), ("855332", "warfarin sodium 5 MG Oral Tablet"),
    ("1361048", "apixaban 5 MG Oral Tablet"), ("966247", "levetiracetam 500 MG Oral Tablet"),
]
_INTERACTING = [
    {"text": "Nardil 15 mg tablet"},
    {"coding": [{"system": RXNORM, "code": "312938", "display": "sertraline 100 MG Oral Tablet"}]},
    {"coding": [{"system": RXNORM, "code": "141928", "display": "alprazolam 0.5 MG Oral Tablet [Xanax]"}]},
]


def medication_request(number: int, patient: str, concept: dict[str, Any]) -> dict[str, Any]:
    return {
        "resourceType": "MedicationRequest",
        "id": f"bench-{number}",
        "status": "active",
        "intent": "order",
        "subject": {"reference": f"Patient/{patient}"},
        "authoredOn": "2026-06-01",
        "medicationCodeableConcept": concept,
        "dosageInstruction": [
            {
                "text": "1 tablet by mouth once daily",
                "timing": {"repeat": {"frequency": 1, "period": 1, "periodUnit": "d"}},
                "route": {"coding": [{"system": "http://snomed.info/sct", "code": "26643006", "display": "Oral"}]},
            }
        ],
    }


def order_sign(medications: int, interacting: int, ketamine: bool = True) -> dict[str, Any]:
    """An order-sign request with ``medications`` active orders in prefetch, the last ``interacting`` of which
    interact with ketamine; ``ketamine=False`` orders amlodipine instead."""
    body = copy.deepcopy(json.loads((FIXTURES / "order-sign-ketamine-benzodiazepine.json").read_text()))
    patient = body["context"]["patientId"]
    if not ketamine:
        draft = body["context"]["draftOrders"]["entry"][0]["resource"]
        draft["medicationCodeableConcept"] = {"coding": [{"system": RXNORM, "code": "197361",
                                                         "display": "amlodipine 5 MG Oral Tablet"}]}
    entries = []
    for number in range(medications):
        code, display = _UNRELATED[number % len(_UNRELATED)]
        concept = {"coding": [{"system": RXNORM, "code": code, "display": display}], "text": display}
        entries.append({"resource": medication_request(number, patient, concept)})
    for offset in range(interacting):
        entries[-1 - offset]["resource"]["medicationCodeableConcept"] = _INTERACTING[offset % len(_INTERACTING)]
    body["prefetch"]["medicationRequests"] = {"resourceType": "Bundle", "type": "searchset", "entry": entries}
    return body


def patient_view(medications: int, interacting: int) -> dict[str, Any]:
    """A patient-view call for a patient without ketamine: the prefetch of ``order_sign(medications, interacting,
    ketamine=False)`` (its active orders, none of them ketamine or esketamine), no draft orders."""
    sign = order_sign(medications, interacting, ketamine=False)
    context = {key: sign["context"][key] for key in ("userId", "patientId")}
    return {"hookInstance": sign["hookInstance"], "hook": "patient-view", "context": context,
            "prefetch": sign["prefetch"]}


SCENARIOS = {
    "a-non-ketamine-50": lambda: order_sign(50, 3, ketamine=False),
    "b-ketamine-50": lambda: order_sign(50, 3),
    "c-ketamine-500": lambda: order_sign(500, 3),
    "e-patient-view-50": lambda: patient_view(50, 3),
}
"""Scenario name -> request body. ``e`` must cost about what ``a`` costs: no ketamine, so nothing but the orders
is read. (``d`` is the fetch-mode scenario, built apart.)"""
