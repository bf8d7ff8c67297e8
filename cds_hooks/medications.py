"""Medication facts: what a MedicationRequest or MedicationStatement says, normalised to ingredients.

MedicationAdministrations and MedicationDispenses become the same facts (``administrations``, ``dispenses``). Which
statuses make a record current therapy, recently ended therapy (washout rules) or irrelevant is the knowledge base's
(``StatusClasses``, from ``data/statuses.yaml``), one table for every medication record.

The engine works on these facts whatever resource they came from. Reading never raises: an entry whose drug
cannot be told is a fact with no ingredients and a ``problem``, so the caller can say what could not be read.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from cds_hooks import fhir_json as fhir
from cds_hooks.statuses import ENDED, EXCLUDED, StatusClasses, r4_statuses
from cds_hooks.terminology import CodeResolver, IngredientMatch, RouteWords, Terminology

READ_ELEMENTS = frozenset({
    "medicationCodeableConcept", "medicationReference", "contained", "status", "doNotPerform", "dosageInstruction",
    "dosage", "dispenseRequest", "authoredOn", "effectivePeriod", "effectiveDateTime",
})
"""The elements the drug, status, route and dates are read from: a flaw in one of them may change the advice. The
free text read for context (reason, category, note) is not among them: a flaw there can hide only an anaesthetic
use, which would make the advice stricter, never weaker."""


@dataclass(slots=True)
class MedicationFact:
    """One medication of the patient's, as the engine needs it."""

    reference: str | None
    """``MedicationRequest/123``, for cards and suggestions; None when the resource has no id."""
    resource_type: str
    label: str | None
    """What the EHR calls it (text or first display), for card details."""
    ingredients: tuple[IngredientMatch, ...]
    status: str
    """``current``, ``ended`` (may still fall in a washout window) or ``excluded``."""
    fhir_status: str | None
    ended_at: datetime | None
    """Last dose of ended therapy, when the record tells it."""
    routes: frozenset[str]
    texts: tuple[str, ...]
    """What the order says it is for (dosage text, reason, category, course of therapy): read for context such as
    anaesthetic use. Notes are left out: they tell history ("prior general anaesthesia, 2019"), not purpose."""
    source: Mapping[str, Any] = field(default_factory=dict, repr=False, compare=False)
    """The resource as received, for FHIR validation when the fact turns out to matter."""
    draft: bool = False
    problem: str | None = None
    """Why the entry could not be read (no medication, or an unresolvable reference); a readable medication
    that no table or name knows is not a problem, just a drug without known interactions."""
    missing: str | None = None
    """The Medication reference that could not be resolved, when that is the problem."""
    note: str | None = None
    """What the record tells of when the drug was had, for the card: ``dispensed 2026-11-02, 30 days' supply``."""


class MedicationIndex:
    """Medication resources by reference, from every bundle of the request, to resolve ``medicationReference``."""

    def __init__(self, resources: Iterable[object] = ()) -> None:
        self._by_reference: dict[str, Mapping[str, Any]] = {}
        for resource in resources:
            self.add(resource)

    def add(self, resource: object) -> None:
        if isinstance(resource, dict) and resource.get("resourceType") == "Medication":
            reference = fhir.reference_of(resource)
            if reference:
                self._by_reference[reference] = resource

    def resolve(self, reference: str, container: Mapping[str, Any]) -> Mapping[str, Any] | None:
        """A contained (``#id``), relative (``Medication/id``) or absolute (``.../Medication/id``) reference."""
        if reference.startswith("#"):
            for contained in fhir.items(container.get("contained")):
                if isinstance(contained, dict) and contained.get("id") == reference[1:]:
                    return contained
            return None
        parts = reference.split("/_history/")[0].rstrip("/").split("/")
        return self._by_reference.get("/".join(parts[-2:])) if len(parts) >= 2 else None


def unresolved_references(
    resources: Iterable[object], index: MedicationIndex, statuses: StatusClasses
) -> list[str]:
    """The ``medicationReference`` targets of medication records that ``index`` cannot resolve (contained ones
    aside), each once, in order: the Medications still to read from the FHIR server. Entries in a status the
    knowledge base excludes (cancelled, entered in error) need no Medication.

    >>> from cds_hooks.knowledge import load_knowledge
    >>> statuses = load_knowledge().statuses
    >>> order = {"resourceType": "MedicationRequest", "status": "active",
    ...          "medicationReference": {"reference": "Medication/m1"}}
    >>> unresolved_references([order], MedicationIndex(), statuses)
    ['Medication/m1']
    >>> unresolved_references([order], MedicationIndex([{"resourceType": "Medication", "id": "m1"}]), statuses)
    []
    """
    found: dict[str, None] = {}
    for resource in resources:
        if not isinstance(resource, dict):
            continue
        reference = resource.get("medicationReference")
        if not isinstance(reference, dict) or status_of(resource, statuses) == EXCLUDED:
            continue
        target = reference.get("reference")
        target = target.strip() if isinstance(target, str) else ""
        if target and not target.startswith("#") and index.resolve(target, resource) is None:
            found[target] = None
    return list(found)


@dataclass(slots=True)
class Identified:
    """What drug an entry names, before the rest of it is read."""

    concepts: list[object]
    ingredients: tuple[IngredientMatch, ...]
    problem: str | None
    missing: str | None = None
    """The Medication reference that could not be resolved, when that is the problem."""

    def names_any(self, names: frozenset[str]) -> bool:
        return any(match.ingredient.name in names for match in self.ingredients)

    @property
    def names_nothing(self) -> bool:
        """No drug named at all: no code, no name, no reference. A draft like this is an order form not yet
        filled in (an EHR may call on opening it), not an order of anything."""
        if self.missing is not None:
            return False
        return not any(
            fhir.concept_texts(concept) or any(coding.get("code") for coding in fhir.codings(concept))
            for concept in self.concepts
        )


def identify(
    resource: Mapping[str, Any], terminology: Terminology, index: MedicationIndex, resolver: CodeResolver | None = None
) -> Identified:
    """The drug an entry names, read on its own: the cheap first step, enough to tell whether the rest matters."""
    concepts, missing = _medication_concepts(resource, index)
    problem = "the medication it references could not be read" if missing is not None else None
    ingredients, named = _ingredients(concepts, terminology, resolver)
    if not concepts and problem is None:
        problem = "it names no medication"
    elif problem is None and not ingredients and not named:
        codes = [f"{c.get('code')}" for concept in concepts for c in fhir.codings(concept) if c.get("code")]
        problem = (f"it is coded only by code{'s' if len(codes) > 1 else ''} this service does not know "
                   f"({', '.join(map(str, codes)) or 'none'}) and carries no name")
    if ingredients:
        return Identified(concepts, ingredients, None)
    return Identified(concepts, ingredients, problem, missing or None)


def identify_relevant(
    resource: Mapping[str, Any],
    terminology: Terminology,
    index: MedicationIndex,
    names: frozenset[str],
    resolver: CodeResolver | None = None,
) -> Identified | None:
    """The drug an entry names when it could matter: it names one of ``names``, or it could not be read. None for
    the rest of a medication list, which is most of it: a single coded or named concept that names none of them
    is let go after one look-up of the concept, without reading the entry any further."""
    concept = resource.get("medicationCodeableConcept")
    if concept.__class__ is dict:
        reading = terminology.read_concept(concept, resolver)
        if names.isdisjoint(reading.names) and (reading.ingredients or reading.named):
            return None
    drug = identify(resource, terminology, index, resolver)
    return drug if drug.problem or drug.names_any(names) else None


def status_of(resource: Mapping[str, Any], statuses: StatusClasses, draft: bool = False) -> str:
    """``current``, ``ended`` or ``excluded``, from the resource type and status alone (``draft``: one of this hook
    call's own draft orders); an order *not* to give the drug (``doNotPerform``) never counts."""
    if resource.get("doNotPerform") is True:
        return EXCLUDED
    fhir_status = resource.get("status") if isinstance(resource.get("status"), str) else None
    return statuses.medication(str(resource.get("resourceType")), fhir_status, draft)


def read_medication(
    resource: Mapping[str, Any],
    terminology: Terminology,
    index: MedicationIndex,
    statuses: StatusClasses,
    *,
    draft: bool = False,
    resolver: CodeResolver | None = None,
    identified: Identified | None = None,
) -> MedicationFact:
    """Normalise a MedicationRequest or MedicationStatement (as JSON) to a fact (``identified``: the drug, when
    ``identify`` already read it)."""
    kind = str(resource.get("resourceType"))
    fhir_status = resource.get("status") if isinstance(resource.get("status"), str) else None
    status = status_of(resource, statuses, draft)
    drug = identified or identify(resource, terminology, index, resolver)
    dosages = dosage_instructions(resource)
    label = next((text for concept in drug.concepts for text in fhir.concept_texts(concept)), None)
    return MedicationFact(
        reference=fhir.reference_of(resource),
        resource_type=kind,
        label=label,
        ingredients=drug.ingredients,
        status=status,
        fhir_status=fhir_status,
        ended_at=_ended_at(resource, dosages) if status == ENDED else None,
        routes=_routes(dosages, drug.concepts, drug.ingredients, terminology.routes),
        texts=tuple(_purpose_texts(resource, dosages)),
        source=resource,
        draft=draft,
        problem=drug.problem,
        missing=drug.missing,
    )


def status_problem(resource: Mapping[str, Any]) -> str | None:
    """Why the entry's status had to be guessed, for the notice card; None for a status FHIR R4 defines.

    >>> status_problem({"resourceType": "MedicationStatement", "status": "taking"})
    "its status 'taking' is not a FHIR R4 MedicationStatement status: evaluated as current"
    >>> status_problem({"resourceType": "MedicationRequest", "status": "stopped"}) is None
    True
    """
    kind = resource.get("resourceType")
    valid = r4_statuses(kind) if isinstance(kind, str) else None
    status = resource.get("status") if isinstance(resource.get("status"), str) else None
    if valid is None or status in valid:
        return None
    if status is None or not status.strip():
        return "it has no status: evaluated as current"
    return f"its status {status[:40]!r} is not a FHIR R4 {kind} status: evaluated as current"


def _medication_concepts(
    resource: Mapping[str, Any], index: MedicationIndex
) -> tuple[list[object], str | None]:
    """The CodeableConcepts that name the drug (medicationCodeableConcept, or a Medication's code and ingredients),
    and the medicationReference (stripped; "" when it is empty) when it cannot be resolved."""
    concept = resource.get("medicationCodeableConcept")
    if isinstance(concept, dict):
        return [concept], None
    reference = resource.get("medicationReference")
    if not isinstance(reference, dict):
        return [], None
    target = reference.get("reference")
    medication = index.resolve(target, resource) if isinstance(target, str) else None
    if medication is None:
        display = reference.get("display")
        named: list[object] = [{"text": display}] if isinstance(display, str) and display.strip() else []
        return named, (target.strip() if isinstance(target, str) else str(target or ""))
    concepts: list[object] = [medication.get("code")]
    for part in fhir.items(medication.get("ingredient")):
        if not isinstance(part, dict):
            continue
        if isinstance(part.get("itemCodeableConcept"), dict):
            concepts.append(part["itemCodeableConcept"])
        item = part.get("itemReference")
        if isinstance(item, dict) and isinstance(item.get("reference"), str):
            nested = index.resolve(item["reference"], medication)
            if nested is not None:
                concepts.append(nested.get("code"))
    return [c for c in concepts if isinstance(c, dict)], None


def _ingredients(
    concepts: list[object], terminology: Terminology, resolver: CodeResolver | None
) -> tuple[tuple[IngredientMatch, ...], bool]:
    """The ingredients the concepts name, each once, and whether any concept carries a name."""
    if len(concepts) == 1:  # a medicationCodeableConcept: most entries
        reading = terminology.read_concept(concepts[0], resolver)
        return reading.ingredients, reading.named
    found: dict[str, IngredientMatch] = {}
    named = False
    for concept in concepts:
        reading = terminology.read_concept(concept, resolver)
        named = named or reading.named
        for match in reading.ingredients:
            found.setdefault(match.ingredient.name, match)
    return tuple(found.values()), named


def dosage_instructions(resource: Mapping[str, Any]) -> list[Mapping[str, Any]]:
    """The dosages of a MedicationRequest (``dosageInstruction``) or MedicationStatement (``dosage``); a
    MedicationAdministration's single ``dosage`` as a list of one."""
    dosages = resource.get("dosageInstruction", resource.get("dosage"))
    if isinstance(dosages, dict):
        return [dosages]
    return [d for d in dosages if isinstance(d, dict)] if isinstance(dosages, list) else []


def _ended_at(resource: Mapping[str, Any], dosages: list[Mapping[str, Any]]) -> datetime | None:
    """The last day of therapy: dosage timing bounds, else the dispense validity or the statement's period.

    Of several dates the latest is taken, so the washout is never cut short.
    """
    ends = []
    for dosage in dosages:
        timing = dosage.get("timing")
        repeat = timing.get("repeat") if isinstance(timing, dict) else None
        if not isinstance(repeat, dict):
            continue
        bounds = repeat.get("boundsPeriod")
        if isinstance(bounds, dict):
            ends.append(fhir.parse_datetime(bounds.get("end"), upper=True))
        ends.append(after_duration(_start(resource, bounds), repeat.get("boundsDuration")))
    if not any(ends):
        dispense = resource.get("dispenseRequest")
        validity = dispense.get("validityPeriod") if isinstance(dispense, dict) else None
        period = resource.get("effectivePeriod")
        for holder in (validity, period):
            if isinstance(holder, dict):
                ends.append(fhir.parse_datetime(holder.get("end"), upper=True))
        ends.append(fhir.parse_datetime(resource.get("effectiveDateTime"), upper=True))
    known = [end for end in ends if end is not None]
    return max(known) if known else None


_DURATION_UNITS = {
    "min": timedelta(minutes=1), "h": timedelta(hours=1), "hours": timedelta(hours=1), "d": timedelta(days=1),
    "days": timedelta(days=1), "wk": timedelta(weeks=1), "weeks": timedelta(weeks=1), "mo": timedelta(days=31),
    "months": timedelta(days=31), "a": timedelta(days=366), "years": timedelta(days=366),
}
"""UCUM units of a timing bound, each at its longest (a month as 31 days) so a washout is never cut short."""


def _start(resource: Mapping[str, Any], bounds: object) -> datetime | None:
    """When a bounded course began: the bounds' start, else when the order was written or the statement's start."""
    if isinstance(bounds, dict) and bounds.get("start"):
        return fhir.parse_datetime(bounds.get("start"), upper=True)
    period = resource.get("effectivePeriod")
    start = period.get("start") if isinstance(period, dict) else None
    return fhir.parse_datetime(resource.get("authoredOn") or start, upper=True)


def after_duration(start: datetime | None, duration: object) -> datetime | None:
    """``start`` plus a FHIR Duration or Quantity (``{"value": 14, "code": "d"}``, a dispense's ``daysSupply``);
    None when either is missing or odd."""
    if start is None or not isinstance(duration, dict):
        return None
    value, unit = duration.get("value"), duration.get("code") or duration.get("unit")
    if not isinstance(value, int | float) or isinstance(value, bool) or not isinstance(unit, str):
        return None
    if not value > 0 or unit not in _DURATION_UNITS:  # a course cannot end before it begins (NaN is not > 0)
        return None
    try:
        return start + _DURATION_UNITS[unit] * value
    except (OverflowError, ValueError):  # an enormous duration, or NaN
        return None


def _routes(
    dosages: list[Mapping[str, Any]],
    concepts: list[object],
    ingredients: tuple[IngredientMatch, ...],
    route_words: RouteWords,
) -> frozenset[str]:
    """Routes from the dosage (coded or written), the drug's names, and what the product or brand implies."""
    routes: set[str] = set()
    texts = [text for concept in concepts for text in fhir.concept_texts(concept)]
    for dosage in dosages:
        route = dosage.get("route")
        codes = (fhir.string(c.get("code")) for c in fhir.codings(route))
        routes.update(route_words.codes[code] for code in codes if code is not None and code in route_words.codes)
        texts.extend(fhir.concept_texts(route))
        if isinstance(dosage.get("text"), str):
            texts.append(dosage["text"])
    for text in texts:
        routes.update(route_words.in_text(text))
    for match in ingredients:
        routes.update(match.routes)
    return frozenset(routes)


def _purpose_texts(resource: Mapping[str, Any], dosages: list[Mapping[str, Any]]) -> list[str]:
    texts = [d["text"] for d in dosages if isinstance(d.get("text"), str)]
    for name in ("reasonCode", "category"):
        for concept in fhir.items_or_one(resource.get(name)):
            texts.extend(fhir.concept_texts(concept))
    texts.extend(fhir.concept_texts(resource.get("courseOfTherapyType")))
    return texts
