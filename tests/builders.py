"""Small builders for FHIR resources and CDS Hooks requests, and a runner through the core pipeline."""

from __future__ import annotations

import itertools
from collections.abc import Iterable, Mapping
from datetime import datetime
from pathlib import Path
from typing import Any

import yaml

from cds_hooks import order_check
from cds_hooks.fhir_json import ICD10CM, RXNORM, SNOMED
from cds_hooks.knowledge import KnowledgeBase
from cds_hooks.protocol import load_request
from cds_hooks.services import definitions
from cds_hooks.terminology import CodeResolver
from tests.cardcheck import card_findings

PATIENT = "Patient/case"
ROUTES = {
    "oral": ("26643006", "Oral route"),
    "sublingual": ("37839007", "Sublingual route"),
    "nasal": ("46713006", "Nasal route"),
    "rectal": ("37161004", "Rectal route"),
    "intravenous": ("47625008", "Intravenous route"),
    "intramuscular": ("78421000", "Intramuscular route"),
    "transdermal": ("45890007", "Transdermal route"),
}
_ids = itertools.count(1)


def concept(
    *, code: str | None = None, display: str | None = None, text: str | None = None, system: str = RXNORM
) -> dict[str, Any]:
    """A CodeableConcept: a coding when ``code`` or ``display`` is given, and ``text`` when given."""
    result: dict[str, Any] = {}
    if code or display:
        coding = {"system": system}
        if code:
            coding["code"] = code
        if display:
            coding["display"] = display
        result["coding"] = [coding]
    if text:
        result["text"] = text
    return result


def medication(
    *,
    code: str | None = None,
    display: str | None = None,
    text: str | None = None,
    system: str = RXNORM,
    status: str = "active",
    kind: str = "MedicationRequest",
    route: str | None = None,
    dosage_text: str | None = None,
    ended: str | None = None,
    ident: str | None = None,
    reason: str | None = None,
    extra: Mapping[str, Any] | None = None,
) -> dict[str, Any]:
    """A MedicationRequest (or MedicationStatement) for one drug; ``ended`` is the last day of a bounded course."""
    resource: dict[str, Any] = {
        "resourceType": kind,
        "id": ident or f"med-{next(_ids)}",
        "status": status,
        "medicationCodeableConcept": concept(code=code, display=display, text=text, system=system),
        "subject": {"reference": PATIENT},
    }
    if kind == "MedicationRequest":
        resource["intent"] = "order"
        resource["authoredOn"] = "2026-01-05"
    dosage: dict[str, Any] = {}
    if route:
        route_code, route_display = ROUTES[route]
        dosage["route"] = concept(code=route_code, display=route_display, system=SNOMED)
    if dosage_text:
        dosage["text"] = dosage_text
    if ended:
        dosage["timing"] = {"repeat": {"boundsPeriod": {"start": "2026-01-05", "end": ended}}}
    if dosage:
        resource["dosageInstruction" if kind == "MedicationRequest" else "dosage"] = [dosage]
    if reason:
        resource["reasonCode"] = [{"text": reason}]
    resource.update(extra or {})
    return resource


_ORDERED = {
    "ketamine": ("6130", "ketamine", "ketamine 50 mg/mL injection", "intravenous"),
    "esketamine": ("2201625", "esketamine Nasal Spray [Spravato]", "Spravato 56 mg nasal spray", "nasal"),
}


def ordered(
    drug: str = "ketamine", *, route: str | None = None, reason: str | None = None, text: str | None = None
) -> dict[str, Any]:
    """The draft ketamine (RxNorm IN 6130, IV by default) or esketamine (Spravato SBDF 2201625, nasal) order."""
    code, display, default_text, default_route = _ORDERED[drug]
    return medication(code=code, display=display, text=text or default_text, status="draft",
                      route=route or default_route, ident=f"draft-{drug}", reason=reason)


def condition(
    *,
    icd: str | None = None,
    snomed: str | None = None,
    display: str | None = None,
    text: str | None = None,
    clinical: str | None = "active",
    verification: str = "confirmed",
    ident: str | None = None,
    system: str | None = None,
) -> dict[str, Any]:
    """A Condition coded in ICD-10-CM or SNOMED CT (or text only), with its clinical and verification status."""
    code_system = system or (ICD10CM if icd else SNOMED)
    resource: dict[str, Any] = {
        "resourceType": "Condition",
        "id": ident or f"cond-{next(_ids)}",
        "subject": {"reference": PATIENT},
        "verificationStatus": {
            "coding": [{"system": "http://terminology.hl7.org/CodeSystem/condition-ver-status", "code": verification}]
        },
        "code": concept(code=icd or snomed, display=display, text=text, system=code_system),
    }
    if clinical:
        resource["clinicalStatus"] = {
            "coding": [{"system": "http://terminology.hl7.org/CodeSystem/condition-clinical", "code": clinical}]
        }
    return resource


def bundle(
    resources: Iterable[Mapping[str, Any]], kind: str = "searchset", *, next_url: str | None = None
) -> dict[str, Any]:
    """A Bundle of these resources; with ``next_url``, a first page whose link (relation next) leads to the rest."""
    entries = [{"resource": dict(resource)} for resource in resources]
    value: dict[str, Any] = {"resourceType": "Bundle", "type": kind, "entry": entries}
    if next_url:
        value["link"] = [{"relation": "next", "url": next_url}]
    return value


def hook_request(
    order: Mapping[str, Any],
    *,
    medications: Iterable[Mapping[str, Any]] = (),
    statements: Iterable[Mapping[str, Any]] = (),
    conditions: Iterable[Mapping[str, Any]] = (),
    drafts: Iterable[Mapping[str, Any]] = (),
    administrations: Iterable[Mapping[str, Any]] = (),
    dispenses: Iterable[Mapping[str, Any]] = (),
    allergies: Iterable[Mapping[str, Any]] = (),
    observations: Iterable[Mapping[str, Any]] = (),
    hook: str = "order-sign",
) -> dict[str, Any]:
    """An order-sign (or order-select) request with every prefetch key filled."""
    medications = list(medications)
    context: dict[str, Any] = {
        "userId": "Practitioner/case",
        "patientId": "case",
        "draftOrders": bundle([order, *drafts], kind="collection"),
    }
    if hook == "order-select":
        context["selections"] = [f"{order['resourceType']}/{order['id']}"]
    return {
        "hookInstance": "00000000-0000-4000-8000-000000000001",
        "hook": hook,
        "context": context,
        "prefetch": {
            "medicationRequests": bundle(r for r in medications if r["resourceType"] != "MedicationStatement"),
            "medicationStatements": bundle(
                [*statements, *(r for r in medications if r["resourceType"] == "MedicationStatement")]
            ),
            "conditions": bundle(conditions),
            "medicationAdministrations": bundle(administrations),
            "medicationDispenses": bundle(dispenses),
            "allergies": bundle(allergies),
            "bloodPressure": bundle(observations),
        },
    }


def run(
    body: Mapping[str, Any], kb: KnowledgeBase, now: datetime, resolver: CodeResolver | None = None
) -> list[dict[str, Any]]:
    """The cards the core pipeline (``order_check.answer``, for any hook) returns for a hook request body."""
    definition = definitions(kb).for_hook(body["hook"])
    assert definition is not None, body["hook"]
    request = load_request(body, definition.hook)
    return order_check.answer(request, definition, kb, now, resolver=resolver).as_json()["cards"]


def advice_by_rule(cards: Iterable[Mapping[str, Any]]) -> dict[str, str]:
    """``{rule id: advice}`` for the advice cards (data notices left out)."""
    found = {}
    for card in cards:
        for finding in card_findings(card):
            found[finding["ruleId"]] = finding["advice"]
    return found


LOINC = "http://loinc.org"
_BP_CODES = {"panel": ("85354-9", "Blood pressure panel with all children optional"),
             "systolic": ("8480-6", "Systolic blood pressure"), "diastolic": ("8462-4", "Diastolic blood pressure")}


def _drug(code: str | None, display: str | None, text: str | None) -> dict[str, Any]:
    return {"medicationCodeableConcept": concept(code=code, display=display, text=text)}


def administration(
    *,
    code: str | None = None,
    display: str | None = None,
    text: str | None = None,
    status: str = "completed",
    given: str | None = None,
    period: Mapping[str, str] | None = None,
    route: str | None = None,
    ident: str | None = None,
) -> dict[str, Any]:
    """A MedicationAdministration given at ``given`` (effectiveDateTime) or over ``period`` (effectivePeriod)."""
    resource: dict[str, Any] = {"resourceType": "MedicationAdministration", "id": ident or f"admin-{next(_ids)}",
                                "status": status, **_drug(code, display, text), "subject": {"reference": PATIENT}}
    if given:
        resource["effectiveDateTime"] = given
    if period:
        resource["effectivePeriod"] = dict(period)
    if route:
        route_code, route_display = ROUTES[route]
        resource["dosage"] = {"route": concept(code=route_code, display=route_display, system=SNOMED),
                              "dose": {"value": 600, "unit": "mg", "system": "http://unitsofmeasure.org", "code": "mg"}}
    return resource


def dispense(
    *,
    code: str | None = None,
    display: str | None = None,
    text: str | None = None,
    status: str = "completed",
    handed: str | None = None,
    prepared: str | None = None,
    days: float | None = None,
    ident: str | None = None,
) -> dict[str, Any]:
    """A MedicationDispense handed over at ``handed`` (or prepared at ``prepared``) with ``days`` of supply."""
    resource: dict[str, Any] = {"resourceType": "MedicationDispense", "id": ident or f"dispense-{next(_ids)}",
                                "status": status, **_drug(code, display, text), "subject": {"reference": PATIENT}}
    if handed:
        resource["whenHandedOver"] = handed
    if prepared:
        resource["whenPrepared"] = prepared
    if days is not None:
        resource["daysSupply"] = {"value": days, "unit": "days", "system": "http://unitsofmeasure.org", "code": "d"}
    return resource


def allergy(
    *,
    code: str | None = None,
    display: str | None = None,
    text: str | None = None,
    clinical: str | None = "active",
    verification: str | None = "confirmed",
    substance: str | None = None,
    reaction: str | None = None,
    ident: str | None = None,
) -> dict[str, Any]:
    """An AllergyIntolerance to a drug (RxNorm code or text), with an optional reaction and its substance."""
    resource: dict[str, Any] = {"resourceType": "AllergyIntolerance", "id": ident or f"allergy-{next(_ids)}",
                                "patient": {"reference": PATIENT},
                                "code": concept(code=code, display=display, text=text)}
    if clinical:
        resource["clinicalStatus"] = {"coding": [
            {"system": "http://terminology.hl7.org/CodeSystem/allergyintolerance-clinical", "code": clinical}]}
    if verification:
        resource["verificationStatus"] = {"coding": [
            {"system": "http://terminology.hl7.org/CodeSystem/allergyintolerance-verification", "code": verification}]}
    if reaction or substance:
        entry: dict[str, Any] = {"manifestation": [{"text": reaction or "rash"}]}
        if substance:
            entry["substance"] = {"text": substance}
        resource["reaction"] = [entry]
    return resource


def _quantity(value: float, unit: str = "mm[Hg]") -> dict[str, Any]:
    return {"value": value, "unit": "mmHg" if unit == "mm[Hg]" else unit, "system": "http://unitsofmeasure.org",
            "code": unit}


def blood_pressure(
    systolic: float | None,
    diastolic: float | None,
    at: str,
    *,
    status: str = "final",
    unit: str = "mm[Hg]",
    ident: str | None = None,
) -> dict[str, Any]:
    """A blood-pressure panel Observation (LOINC 85354-9) with systolic and diastolic components."""
    components = [
        {"code": concept(code=_BP_CODES[name][0], display=_BP_CODES[name][1], system=LOINC),
         "valueQuantity": _quantity(value, unit)}
        for name, value in (("systolic", systolic), ("diastolic", diastolic)) if value is not None
    ]
    return {"resourceType": "Observation", "id": ident or f"bp-{next(_ids)}", "status": status,
            "category": [{"coding": [{"system": "http://terminology.hl7.org/CodeSystem/observation-category",
                                      "code": "vital-signs"}]}],
            "code": concept(code=_BP_CODES["panel"][0], display=_BP_CODES["panel"][1], system=LOINC),
            "subject": {"reference": PATIENT}, "effectiveDateTime": at, "component": components}


def blood_pressure_part(
    part: str, value: float, at: str, *, status: str = "final", unit: str = "mm[Hg]", ident: str | None = None
) -> dict[str, Any]:
    """A systolic (8480-6) or diastolic (8462-4) blood-pressure Observation on its own."""
    return {"resourceType": "Observation", "id": ident or f"bp-{part}-{next(_ids)}", "status": status,
            "code": concept(code=_BP_CODES[part][0], display=_BP_CODES[part][1], system=LOINC),
            "subject": {"reference": PATIENT}, "effectiveDateTime": at, "valueQuantity": _quantity(value, unit)}


def edit_yaml(path: Path, change: Any) -> None:
    """Rewrite a YAML file with ``change`` applied to its data (for copies of the knowledge base)."""
    data = yaml.safe_load(path.read_text())
    change(data)
    path.write_text(yaml.safe_dump(data, sort_keys=False))
