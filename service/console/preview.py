"""Card preview: a hook request (a fixture, or pasted), or a FHIR Bundle of a patient's data plus the drug ordered,
answered as the service would answer it, with nothing stored and nothing read from any FHIR server.

The core is asked through ``evaluate`` alone, which calls its one entry point (``order_check.answer``) with no
fetch port; the answer's findings, data gaps and unreadable records say what each record given did and what was
not read.
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field, replace
from datetime import date
from typing import Any

from cds_hooks.errors import InvalidRequest
from cds_hooks.fhir_json import bundle_resources, codings, first_code, items, reference_of
from cds_hooks.gaps import MEDICATION_KEYS
from cds_hooks.order_check import Answer, answer
from cds_hooks.protocol import load_request
from cds_hooks.services import OFFERS, record_prefetch
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
SERVICE_BY_HOOK = {offer.hook: offer.id for offer in OFFERS}
BUNDLE_HOOKS = ("order-select", "order-sign")
"""The hooks a pasted Bundle is checked against: it becomes a draft order of the drug chosen, which patient-view has
not (paste a patient-view request instead)."""


class PreviewInputError(ValueError):
    """The pasted text is not JSON, or not a hook request or a Bundle; the message says which."""


@dataclass(frozen=True)
class DataRead:
    """One resource given, as a committee member needs it: what kind, its status, what it names, and what the check
    made of it (the rules it triggered with their advice, the order checked, or why it could not be read)."""

    source: str
    kind: str
    status: str
    names: str
    outcome: str = "-"


@dataclass(frozen=True)
class NotRead:
    """Data the check could not have (a data gap): what, and why."""

    what: str
    reason: str


@dataclass(frozen=True)
class Preview:
    service_id: str
    cards: list[dict[str, Any]]
    read: list[DataRead] = field(default_factory=list)
    not_read: list[NotRead] = field(default_factory=list)
    """What the answer lacked (its data gaps): the service would read these from the EHR's FHIR server."""
    checked: bool = True
    """False when no draft order is ketamine or esketamine, so the patient's data was not looked at."""

    @property
    def json(self) -> str:
        return json.dumps({"cards": self.cards}, indent=2)


def evaluate(body: Mapping[str, Any], service_id: str) -> Answer:
    """The core's answer to a hook request, from the same entry point ``/cds-services/{id}`` calls, but with no
    fetch port (the preview reads only what it was given: what it lacks is a data gap) and nothing recorded."""
    state = runtime()
    definition = state.services.by_id(service_id)
    hook_request = load_request(body, definition.hook)
    return answer(hook_request, definition, state.knowledge, state.clock(), None, state.resolver)


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
        if drug not in ORDERABLE or hook not in BUNDLE_HOOKS:
            raise PreviewInputError("choose the drug ordered and the hook to check a Bundle against")
        return _preview(request_from_bundle(body, drug, hook))
    if isinstance(body, dict) and isinstance(body.get("hook"), str):
        return _preview(body)
    raise PreviewInputError("paste a CDS Hooks request (with hook and context) or a FHIR Bundle")


def request_from_bundle(bundle: Mapping[str, Any], drug: str, hook: str) -> dict[str, Any]:
    """A hook request whose prefetch holds the Bundle's resources by type and whose draft order is ``drug``."""
    resources = [resource for resource in bundle_resources(bundle) if isinstance(resource, dict)]
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
    result = evaluate(body, service_id)
    prefetch = _dict(body.get("prefetch"))
    outcomes = _outcomes(result)
    read = [replace(row, outcome=outcomes.get(reference, "-")) if reference else row
            for reference, row in _read(body, prefetch)]
    not_read = [NotRead(gap.what, gap.reason) for gap in result.gaps]
    return Preview(service_id, result.as_json()["cards"], read, not_read, result.checked)


def _outcomes(result: Answer) -> dict[str, str]:
    """What the check made of each record, by its reference: the rules it triggered, the order it checked, or why
    it could not be read. Rules are named by title, as the committee knows them."""
    found: dict[str, list[str]] = {}
    for finding in result.findings:
        if finding.ordered.order.reference:
            found.setdefault(finding.ordered.order.reference, []).append(f"the {finding.ordered.name} order checked")
        for item in finding.implicated:
            record = item.medication or item.condition
            if record is not None and record.reference:
                found.setdefault(record.reference, []).append(f"{finding.rule.title}: {item.advice}")
    for entry in result.unreadable:
        if entry.reference:
            found.setdefault(entry.reference, []).append(f"not read: {entry.problem}")
    return {reference: "; ".join(dict.fromkeys(words)) for reference, words in found.items()}


def _read(body: Mapping[str, Any], prefetch: Mapping[str, Any]) -> Iterator[tuple[str | None, DataRead]]:
    drafts = _dict(_dict(body.get("context")).get("draftOrders"))
    records = record_prefetch(runtime().knowledge.statuses)
    sources = [("draft orders", drafts), *((key, prefetch.get(key)) for key in records if key in prefetch)]
    for source, bundle in sources:
        if not isinstance(bundle, dict):
            yield None, DataRead(source, "-", "-", "sent as null: no such data" if bundle is None else "not a Bundle")
            continue
        for resource in bundle_resources(bundle):
            if isinstance(resource, dict):
                row = DataRead(source, str(resource.get("resourceType", "?")), _status(resource), _names(resource))
                yield reference_of(resource), row


def _status(resource: Mapping[str, Any]) -> str:
    status = resource.get("status")
    if isinstance(status, str):
        return status
    return first_code(resource.get("clinicalStatus")) or "-"


def _names(resource: Mapping[str, Any]) -> str:
    """What a resource names (text and displays of its concepts), never its ids or references."""
    names: list[str] = []
    for key in ("medicationCodeableConcept", "code"):
        concept = resource.get(key)
        if isinstance(concept, dict):
            names += [concept["text"]] if isinstance(concept.get("text"), str) else []
            for coding in codings(concept):
                if isinstance(coding.get("display"), str):
                    names.append(f"{coding['display']} ({coding.get('code', '?')})")
    if isinstance(resource.get("medicationReference"), dict):
        names.append("a Medication it references")
    for dosage in items(resource.get("dosageInstruction") or resource.get("dosage")):
        if isinstance(dosage, dict) and isinstance(dosage.get("text"), str):
            names.append(f"dosage: {dosage['text']}")
    return "; ".join(dict.fromkeys(names)) or "-"


def _dict(value: object) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}
