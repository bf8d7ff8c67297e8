"""The facts stage: the patient's records read into medication and condition facts, keeping only those that could
change a card, and naming every record that could matter but could not be read."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, TypeVar

from cds_hooks import conditions as condition_reader
from cds_hooks import medications as medication_reader
from cds_hooks.conditions import ConditionFact, read_condition
from cds_hooks.knowledge.model import KnowledgeBase
from cds_hooks.medications import (
    EXCLUDED,
    MedicationFact,
    MedicationIndex,
    identify_relevant,
    read_medication,
    status_of,
)
from cds_hooks.prefetch import PatientData
from cds_hooks.terminology import CodeResolver
from cds_hooks.validation import validate

MEDICATION_TYPES = ("MedicationRequest", "MedicationStatement")
_READ_ELEMENTS = {
    "MedicationRequest": medication_reader.READ_ELEMENTS,
    "MedicationStatement": medication_reader.READ_ELEMENTS,
    "Condition": condition_reader.READ_ELEMENTS,
}


@dataclass(frozen=True, slots=True)
class UnreadableEntry:
    """A record that could matter but could not be read (invalid FHIR, or no medication), named for the card."""

    reference: str | None
    label: str | None
    problem: str
    names: tuple[str, ...] = ()
    """Interacting ingredients or conditions it seems to name."""
    missing: str | None = None
    """The Medication it references but that could not be had: its own gap is told on this entry's line."""


@dataclass(frozen=True, slots=True)
class Flaw:
    """A resource that is not valid FHIR although everything the advice rests on was read from it: not worth a
    clinician's attention, but worth the operator's (logged and counted, never shown)."""

    resource_type: str
    elements: frozenset[str]
    """The top-level elements at fault, by their FHIR names (``other`` for one the resource type lacks)."""


def patient_facts(
    data: PatientData,
    kb: KnowledgeBase,
    index: MedicationIndex,
    resolver: CodeResolver | None,
    unreadable: list[UnreadableEntry],
    flaws: list[Flaw],
) -> tuple[list[MedicationFact], list[ConditionFact]]:
    """Read every record cheaply; validate with FHIR models only those that could change a card."""
    relevant = kb.interacting_ingredients
    medications, conditions = [], []
    for resource in data.all_resources():
        kind = resource.get("resourceType")
        if kind in MEDICATION_TYPES:
            status_unread = not isinstance(resource.get("status"), str) and resource.get("doNotPerform") is not True
            if status_of(resource) == EXCLUDED and not status_unread:
                continue
            drug = identify_relevant(resource, kb.terminology, index, relevant, resolver)
            if drug is None:
                continue
            fact = read_medication(resource, kb.terminology, index, resolver=resolver, identified=drug)
            names = tuple(m.label for m in fact.ingredients if m.ingredient.name in relevant)
            if status_unread:  # current or stopped cannot be told: it could be an MAOI taken today
                if names or fact.problem:
                    unreadable.append(UnreadableEntry(fact.reference, fact.label, "its status could not be read",
                                                      names))
            elif fact.problem:
                unreadable.append(UnreadableEntry(fact.reference, fact.label, fact.problem, names, fact.missing))
            elif names:
                medications.append(checked(resource, fact, names, unreadable, flaws))
        elif kind == "Condition":
            condition = read_condition(resource)
            if condition is None:
                continue
            names = tuple(s.title for s in kb.condition_valuesets.values() if s.matches(condition))
            if names:
                conditions.append(checked(resource, condition, names, unreadable, flaws))
    return medications, conditions


_Fact = TypeVar("_Fact", MedicationFact, ConditionFact)


def checked(
    resource: Mapping[str, Any],
    fact: _Fact,
    names: Sequence[str],
    unreadable: list[UnreadableEntry],
    flaws: list[Flaw],
) -> _Fact:
    """The fact, after FHIR validation of its resource. An invalid resource that names an interacting drug or
    condition is still evaluated (a flaw elsewhere in it must not hide an MAOI). It is named on the notice card
    when the flaw lies where the drug, status, dates or condition were read from (what was read may be wrong); a
    flaw anywhere else changes nothing that was read, and is only reported to the operator."""
    verdict = validate(resource)
    if verdict.problem is None:
        return fact
    kind = str(resource.get("resourceType"))
    if verdict.touches(_READ_ELEMENTS.get(kind, frozenset())):
        unreadable.append(UnreadableEntry(fact.reference, fact.label,
                                          f"{verdict.problem}; checked as far as it could be read", tuple(names)))
    else:
        flaws.append(Flaw(kind, verdict.labels))
    return fact
