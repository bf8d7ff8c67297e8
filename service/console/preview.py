"""Card preview: a hook request (a fixture, or pasted), or a FHIR Bundle of a patient's data plus the drug ordered,
answered as the service would answer it, with nothing stored and nothing read from any FHIR server.

The service is asked through ``evaluate`` alone, so that the way the core is called lives in one place.
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from datetime import date
from typing import Any

from cds_hooks import order_check
from cds_hooks.errors import InvalidRequest
from cds_hooks.gaps import MEDICATION_KEYS
from cds_hooks.protocol import load_request
from cds_hooks.services import PREFETCH, SERVICES, service_by_id
from service.fhir.sandbox import fixture_requests, on_day
from service.runtime import runtime

RXNORM = "http://www.nlm.nih.gov/research/umls/rxnorm"
ORDERABLE = {
    "esketamine": ("2201625", "esketamine Nasal Spray [Spravato]", "Spravato 56 mg nasal spray"),
    "ketamine": ("6130", "ketamine", "ketamine 0.5 mg/kg IV infusion over 40 minutes for depression"),
}
"""The draft order a pasted Bundle is checked against, per drug: RxNorm code, display, order text."""
_TYPES = {"medicationRequests": "MedicationRequest", "medicationStatements": "MedicationStatement",
          "conditions": "Condition"}
SERVICE_BY_HOOK = {definition.hook: definition.id for definition in SERVICES}


class PreviewInputError(ValueError):
    """The pasted text is not JSON, or not a hook request or a Bundle; the message says which."""


@dataclass(frozen=True)
class DataRead:
    """One resource the check read, as a committee member needs it: what kind, its status and what it names."""

    source: str
    kind: str
    status: str
    names: str


@dataclass(frozen=True)
class Preview:
    service_id: str
    cards: list[dict[str, Any]]
    read: list[DataRead] = field(default_factory=list)
    missing: list[str] = field(default_factory=list)
    """Prefetch keys the request did not carry: the service would read them from the EHR's FHIR server."""

    @property
    def json(self) -> str:
        return json.dumps({"cards": self.cards}, indent=2)


def evaluate(body: Mapping[str, Any], service_id: str) -> list[dict[str, Any]]:
    """The cards the service answers a hook request with, computed as ``/cds-services/{id}`` computes them, but
    without recording them and without reading a fhirServer (the preview reads only what it was given)."""
    state = runtime()
    definition = service_by_id(service_id)
    hook_request = load_request(body, definition.hook)
    drafts = order_check.ketamine_orders(hook_request, state.knowledge, state.resolver)
    if not drafts.ordered:
        return order_check.unidentified_cards(drafts, state.knowledge)
    return order_check.check(hook_request, definition, state.knowledge, drafts, state.clock(), None, state.resolver)


def fixtures() -> dict[str, dict[str, Any]]:
    """The fixture hook requests of a source checkout (the container image ships none: paste a request there)."""
    return fixture_requests()


def preview_fixture(name: str, today: date) -> Preview:
    """A fixture, its dates moved to ``today`` as ``make sandbox`` moves them, so its washouts still count."""
    request = fixtures().get(name)
    if request is None:
        raise PreviewInputError(f"there is no fixture named {name!r}")
    return _preview(on_day(request, today))


def preview_text(text: str, drug: str, hook: str) -> Preview:
    """Pasted JSON: a hook request as it is, or a FHIR Bundle of the patient's data checked against a draft
    order of ``drug`` on ``hook``."""
    try:
        body = json.loads(text)
    except ValueError as error:
        raise PreviewInputError(f"the text is not JSON ({error})") from None
    if isinstance(body, dict) and body.get("resourceType") == "Bundle":
        if drug not in ORDERABLE or hook not in SERVICE_BY_HOOK:
            raise PreviewInputError("choose the drug ordered and the hook to check a Bundle against")
        return _preview(request_from_bundle(body, drug, hook))
    if isinstance(body, dict) and isinstance(body.get("hook"), str):
        return _preview(body)
    raise PreviewInputError("paste a CDS Hooks request (with hook and context) or a FHIR Bundle")


def request_from_bundle(bundle: Mapping[str, Any], drug: str, hook: str) -> dict[str, Any]:
    """A hook request whose prefetch holds the Bundle's resources by type and whose draft order is ``drug``."""
    resources = [entry["resource"] for entry in _list(bundle.get("entry"))
                 if isinstance(entry, dict) and isinstance(entry.get("resource"), dict)]
    patient = next((r.get("id") for r in resources if r.get("resourceType") == "Patient"), None) or "preview"
    code, display, text = ORDERABLE[drug]
    draft = {
        "resourceType": "MedicationRequest", "id": "preview-draft", "status": "draft", "intent": "order",
        "medicationCodeableConcept": {"coding": [{"system": RXNORM, "code": code, "display": display}], "text": text},
        "subject": {"reference": f"Patient/{patient}"},
    }
    medications = [r for r in resources if r.get("resourceType") == "Medication"]
    prefetch = {}
    for key, kind in _TYPES.items():
        found = [r for r in resources if r.get("resourceType") == kind]
        included = medications if key in MEDICATION_KEYS and found else []
        prefetch[key] = {"resourceType": "Bundle", "type": "searchset",
                         "entry": [{"resource": r} for r in found + included]}
    context: dict[str, Any] = {"userId": "Practitioner/preview", "patientId": patient,
                               "draftOrders": {"resourceType": "Bundle", "type": "collection",
                                               "entry": [{"resource": draft}]}}
    if hook == "order-select":
        context["selections"] = ["MedicationRequest/preview-draft"]
    return {"hookInstance": "00000000-0000-4000-8000-000000000000", "hook": hook, "context": context,
            "prefetch": prefetch}


def _preview(body: Mapping[str, Any]) -> Preview:
    hook = body.get("hook")
    service_id = SERVICE_BY_HOOK.get(hook) if isinstance(hook, str) else None
    if service_id is None:
        raise InvalidRequest(f"no service of this server answers the hook {hook!r}", field="hook")
    cards = evaluate(body, service_id)
    prefetch = body.get("prefetch") if isinstance(body.get("prefetch"), dict) else {}
    missing = [key for key in PREFETCH if key not in prefetch]
    return Preview(service_id, cards, list(_read(body, prefetch)), missing)


def _read(body: Mapping[str, Any], prefetch: Mapping[str, Any]) -> Iterator[DataRead]:
    context = body.get("context") if isinstance(body.get("context"), dict) else {}
    drafts = context.get("draftOrders") if isinstance(context.get("draftOrders"), dict) else {}
    sources = [("draft orders", drafts), *((key, prefetch.get(key)) for key in PREFETCH if key in prefetch)]
    for source, bundle in sources:
        if not isinstance(bundle, dict):
            yield DataRead(source, "-", "-", "sent as null: no such data" if bundle is None else "not a Bundle")
            continue
        for entry in _list(bundle.get("entry")):
            resource = entry.get("resource") if isinstance(entry, dict) else None
            if isinstance(resource, dict):
                yield DataRead(source, str(resource.get("resourceType", "?")), _status(resource), _names(resource))


def _status(resource: Mapping[str, Any]) -> str:
    status = resource.get("status")
    if isinstance(status, str):
        return status
    clinical = resource.get("clinicalStatus")
    codings = clinical.get("coding") if isinstance(clinical, dict) else None
    return next((c.get("code") for c in _list(codings) if isinstance(c, dict) and c.get("code")), "-")


def _names(resource: Mapping[str, Any]) -> str:
    """What a resource names (text and displays of its concepts), never its ids or references."""
    names: list[str] = []
    for key in ("medicationCodeableConcept", "code"):
        concept = resource.get(key)
        if isinstance(concept, dict):
            names += [concept["text"]] if isinstance(concept.get("text"), str) else []
            for coding in _list(concept.get("coding")):
                if isinstance(coding, dict) and isinstance(coding.get("display"), str):
                    names.append(f"{coding['display']} ({coding.get('code', '?')})")
    if isinstance(resource.get("medicationReference"), dict):
        names.append("a Medication it references")
    for dosage in _list(resource.get("dosageInstruction") or resource.get("dosage")):
        if isinstance(dosage, dict) and isinstance(dosage.get("text"), str):
            names.append(f"dosage: {dosage['text']}")
    return "; ".join(dict.fromkeys(names)) or "-"


def _list(value: object) -> list[Any]:
    return value if isinstance(value, list) else []
