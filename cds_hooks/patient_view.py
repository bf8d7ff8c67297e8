"""patient-view: find the patient's current or planned ketamine or esketamine order, for ``order_check.answer``
to check as order-sign would.

The first step reads only the patient's MedicationRequests and scheduled or in-progress Appointments (prefetch,
else fhirServer). A chart without an active, on-hold or draft ketamine or esketamine order, or a session booked
for one, gets ``{"cards": []}`` then, with nothing more read (or, when some of these could not be read, the
"check incomplete" notice saying which). One with such an order is checked with the same rules, data and cards as
order-sign, except that an Avoid card asks for the order to be reviewed instead of suggesting to cancel a draft
(there is no draft under decision).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Any

from cds_hooks import engine, fhir_json
from cds_hooks.fetch import Fetcher
from cds_hooks.gaps import Gap
from cds_hooks.gather import fetch_into, gather
from cds_hooks.knowledge.model import KnowledgeBase
from cds_hooks.knowledge.vocabulary import ORDERED_DRUGS
from cds_hooks.medications import MedicationFact, MedicationIndex, identify, identify_relevant, read_medication
from cds_hooks.prefetch import PatientData
from cds_hooks.protocol import HookRequest
from cds_hooks.services import ServiceDefinition
from cds_hooks.statuses import CURRENT
from cds_hooks.terminology import CodeResolver, IngredientMatch

ORDERS_KEY = "medicationRequests"
SESSIONS_KEY = "appointments"
"""A secondary source: many EHRs neither send nor serve Appointments, so one that cannot be read is not reported
(every chart would say so); the orders are the primary source, and theirs is."""
FIRST_STEP = (ORDERS_KEY, SESSIONS_KEY)
_ORDERED_NAMES = frozenset(ORDERED_DRUGS)


@dataclass(frozen=True)
class CurrentOrders:
    """The first step's outcome: the orders to check, and what was read to find them (kept for the check)."""

    ordered: list[engine.OrderedDrug]
    index: MedicationIndex
    """The Medications read so far (the orders' own among them)."""
    request: HookRequest
    """The hook request with the MedicationRequests already read in its prefetch, so they are not read again."""
    gaps: Sequence[Gap] = field(default_factory=tuple)


def current_orders(
    request: HookRequest,
    definition: ServiceDefinition,
    kb: KnowledgeBase,
    fetch: Fetcher | None = None,
    resolver: CodeResolver | None = None,
) -> CurrentOrders:
    """The patient's current or planned ketamine and esketamine orders, at most one per drug (the most current,
    then the most recently written). Raises DataUnavailable (412) when the orders can be had neither from prefetch
    nor from fhirServer."""
    index = MedicationIndex()
    first = {key: definition.prefetch[key] for key in FIRST_STEP}
    data = gather(request, replace(definition, prefetch=first), fetch, kb.statuses, index)
    candidates = [
        resource
        for resource in data.resources.get(ORDERS_KEY, ())
        if resource.get("resourceType") == "MedicationRequest"
        and resource.get("status") in kb.statuses.planned_orders
        and resource.get("doNotPerform") is not True
    ]
    found = [(resource, drug) for resource in candidates
             if (drug := identify_relevant(resource, kb.terminology, index, _ORDERED_NAMES, resolver)) is not None]
    missing = [drug.missing for _, drug in found if drug.missing]
    if missing and request.fhir_server and fetch is not None:  # drafts' Medications: not read with the others
        reads = {reference: reference for reference in dict.fromkeys(missing)}
        fetch_into(data, index, fetch(request), reads, kb.statuses)
        found = [(resource, identify(resource, kb.terminology, index, resolver)) for resource, _ in found]
    facts = [
        read_medication(resource, kb.terminology, index, kb.statuses, draft=True, resolver=resolver, identified=drug)
        for resource, drug in found
        if drug.names_any(_ORDERED_NAMES)
    ]
    facts += [fact for resource in data.resources.get(SESSIONS_KEY, ())
              if (fact := _session(resource, kb, resolver)) is not None]
    ordered = _one_per_drug(engine.find_ordered_drugs(facts, kb), kb.statuses.planned_orders)
    checked = replace(request, prefetch={**request.prefetch, **_bundles(data)}) if ordered else request
    gaps = tuple(gap for gap in data.gaps if gap.key != SESSIONS_KEY)  # sessions: only when the EHR has them
    return CurrentOrders(ordered, index, checked, gaps)


def _one_per_drug(ordered: list[engine.OrderedDrug], preference: Sequence[str]) -> list[engine.OrderedDrug]:
    """Per drug the order that is most current (its status earliest in ``preference``: active, on hold, draft; a
    session booked without an order, which states no dose, schedule or setting, last), then the most recently
    written: one card per finding, not one per renewal."""
    rank = {status: number for number, status in enumerate(preference)}
    best: dict[str, engine.OrderedDrug] = {}
    for drug in sorted(ordered, key=lambda drug: _currency(drug, rank)):
        best.setdefault(drug.name, drug)
    return list(best.values())


def _currency(drug: engine.OrderedDrug, preference: Mapping[str, int]) -> tuple[int, float]:
    order = drug.order
    last = len(preference)
    rank = last if order.resource_type == "Appointment" else preference.get(order.fhir_status or "", last)
    written = fhir_json.parse_datetime(order.source.get("authoredOn"))
    return rank, -written.timestamp() if written is not None else float("inf")


def _session(resource: Mapping[str, Any], kb: KnowledgeBase, resolver: CodeResolver | None) -> MedicationFact | None:
    """A scheduled or in-progress Appointment whose service, reason or description names ketamine or esketamine,
    as the ordered drug's fact (the session states no dose, schedule or setting, so no order rule fires on it)."""
    if resource.get("resourceType") != "Appointment" or resource.get("status") not in kb.statuses.booked_sessions:
        return None
    concepts = [*fhir_json.items(resource.get("serviceType")), *fhir_json.items(resource.get("reasonCode"))]
    for text in (resource.get("description"), resource.get("comment")):
        if isinstance(text, str) and text.strip():
            concepts.append({"text": text})
    found: dict[str, IngredientMatch] = {}
    for concept in concepts:
        for match in kb.terminology.read_concept(concept, resolver).ingredients:
            found.setdefault(match.ingredient.name, match)
    if not _ORDERED_NAMES & found.keys():
        return None
    texts = tuple(text for concept in concepts for text in fhir_json.concept_texts(concept))
    return MedicationFact(
        reference=fhir_json.reference_of(resource), resource_type="Appointment", label=texts[0] if texts else None,
        ingredients=tuple(found.values()), status=CURRENT, fhir_status=resource.get("status"), ended_at=None,
        routes=frozenset(), texts=texts, source=resource, draft=True,
    )


def _bundles(data: PatientData) -> dict[str, Mapping[str, Any]]:
    """What the first step read, per key, as prefetch Bundles (the Medications read for the orders with them)."""
    extra = [resource for key, resources in data.resources.items() if key not in FIRST_STEP for resource in resources]
    return {
        key: {"resourceType": "Bundle", "type": "collection",
              "entry": [{"resource": resource} for resource in [*data.resources.get(key, ()),
                                                                 *(extra if key == ORDERS_KEY else ())]]}
        for key in FIRST_STEP
    }
