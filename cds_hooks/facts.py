"""The facts stage: the patient's records read into medication and condition facts, keeping only those that could
change a card, and naming every record that could matter but could not be read."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, TypeVar

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
from cds_hooks.validation import validation_problem

MEDICATION_TYPES = ("MedicationRequest", "MedicationStatement")


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



def patient_facts(
    data: PatientData,
    kb: KnowledgeBase,
    index: MedicationIndex,
    resolver: CodeResolver | None,
    unreadable: list[UnreadableEntry],
) -> tuple[list[MedicationFact], list[ConditionFact]]:
    """Read every record cheaply; validate with FHIR models only those that could change a card."""
    relevant = kb.interacting_ingredients
    medications, conditions = [], []
    for resource in data.all_resources():
        kind = resource.get("resourceType")
        if kind in MEDICATION_TYPES:
            if status_of(resource) == EXCLUDED:
                continue
            drug = identify_relevant(resource, kb.terminology, index, relevant, resolver)
            if drug is None:
                continue
            fact = read_medication(resource, kb.terminology, index, resolver=resolver, identified=drug)
            names = tuple(m.label for m in fact.ingredients if m.ingredient.name in relevant)
            if fact.problem:
                unreadable.append(UnreadableEntry(fact.reference, fact.label, fact.problem, names, fact.missing))
            elif names:
                medications.append(_checked(resource, fact, names, unreadable))
        elif kind == "Condition":
            condition = read_condition(resource)
            if condition is None:
                continue
            names = tuple(s.title for s in kb.condition_valuesets.values() if s.matches(condition))
            if names:
                conditions.append(_checked(resource, condition, names, unreadable))
    return medications, conditions


_Fact = TypeVar("_Fact", MedicationFact, ConditionFact)


def _checked(
    resource: Mapping[str, Any], fact: _Fact, names: Sequence[str], unreadable: list[UnreadableEntry]
) -> _Fact:
    """The fact, after FHIR validation of its resource. An invalid resource that names an interacting drug or
    condition is still evaluated (a flaw elsewhere in it must not hide an MAOI) and is named on the notice card."""
    problem = validation_problem(resource)
    if problem is not None:
        unreadable.append(UnreadableEntry(fact.reference, fact.label, f"{problem}; checked as far as it could be read",
                                          tuple(names)))
    return fact
