"""The facts stage: the patient's records read into medication, condition, allergy and blood-pressure facts, keeping
only those that could change a card, and naming every record that could matter but could not be read."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, TypeVar

from cds_hooks import administrations, dispenses, vitals
from cds_hooks import conditions as condition_reader
from cds_hooks import medications as medication_reader
from cds_hooks.allergies import AllergyFact, read_allergy
from cds_hooks.conditions import ConditionFact, read_condition
from cds_hooks.knowledge.model import KnowledgeBase
from cds_hooks.knowledge.vocabulary import ALLERGY
from cds_hooks.medications import (
    MedicationFact,
    MedicationIndex,
    identify_relevant,
    read_medication,
    status_of,
    status_problem,
)
from cds_hooks.prefetch import PatientData
from cds_hooks.statuses import EXCLUDED, MEDICATION_RECORDS
from cds_hooks.terminology import CodeResolver
from cds_hooks.validation import validate

MEDICATION_TYPES = ("MedicationRequest", "MedicationStatement")
"""What a draft order comes as; every record of a medication the patient has or had is one of ``MEDICATION_RECORDS``."""
_READ_ELEMENTS = {
    **{kind: medication_reader.READ_ELEMENTS for kind in MEDICATION_TYPES},
    administrations.KIND: medication_reader.READ_ELEMENTS,
    dispenses.KIND: medication_reader.READ_ELEMENTS | {"whenHandedOver", "whenPrepared", "daysSupply", "quantity"},
    "Condition": condition_reader.READ_ELEMENTS,
    "AllergyIntolerance": frozenset({"code", "clinicalStatus", "verificationStatus", "reaction"}),
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


@dataclass(frozen=True, slots=True)
class Facts:
    """What the patient's records say that could change a card."""

    medications: list[MedicationFact]
    conditions: list[ConditionFact]
    allergies: list[AllergyFact]
    readings: list[vitals.BloodPressure]


def patient_facts(
    data: PatientData,
    kb: KnowledgeBase,
    index: MedicationIndex,
    resolver: CodeResolver | None,
    unreadable: list[UnreadableEntry],
    now: datetime,
    flaws: list[Flaw],
) -> Facts:
    """Read every record cheaply; validate with FHIR models only those that could change a card. Administrations
    and dispenses are timed as of ``now``; blood-pressure readings older than the knowledge base's window are
    left out."""
    relevant = kb.interacting_ingredients
    allergens = frozenset().union(*(kb.drug_valuesets[rule.valueset].ingredients
                                    for rule in kb.rules if rule.kind == ALLERGY))
    medications, conditions, allergies, observations = [], [], [], []
    for resource in data.all_resources():
        kind = resource.get("resourceType")
        if kind in MEDICATION_RECORDS:
            if status_of(resource, kb.statuses) == EXCLUDED and not _status_unread(resource):
                continue
            drug = identify_relevant(resource, kb.terminology, index, relevant, resolver)
            if drug is None:
                continue
            fact = read_medication(resource, kb.terminology, index, kb.statuses, resolver=resolver, identified=drug)
            if kind == administrations.KIND:
                fact = administrations.timed(fact, resource)
            elif kind == dispenses.KIND:
                fact = dispenses.timed(fact, resource, kb.dispense_default_supply, now)
            names = tuple(m.label for m in fact.ingredients if m.ingredient.name in relevant)
            if fact.problem:
                unreadable.append(UnreadableEntry(fact.reference, fact.label, fact.problem, names, fact.missing))
            elif names:
                if problem := status_problem(resource):
                    unreadable.append(UnreadableEntry(fact.reference, fact.label, problem, names))
                medications.append(checked(resource, fact, names, unreadable, flaws))
        elif kind == "Condition":
            condition = read_condition(resource, kb.statuses)
            if condition is None or (kb.family_history is not None and kb.family_history.matches(condition)):
                continue  # refuted, entered in error, or a relative's disease
            names = tuple(s.title for s in kb.condition_valuesets.values() if s.matches(condition))
            if names:
                conditions.append(checked(resource, condition, names, unreadable, flaws))
        elif kind == "AllergyIntolerance":
            allergy = read_allergy(resource, kb.terminology, kb.statuses, resolver)
            if allergy is None:
                continue
            names = tuple(m.label for m in allergy.ingredients if m.ingredient.name in allergens)
            if names:
                allergies.append(checked(resource, allergy, names, unreadable, flaws))
        elif kind == vitals.KIND:
            observations.append(resource)
    readings = (vitals.readings(observations, kb.blood_pressure, kb.statuses.counted_observations,
                                now - kb.blood_pressure.window)
                if kb.blood_pressure and observations else [])
    return Facts(medications, conditions, allergies, readings)


def _status_unread(resource: Mapping[str, Any]) -> bool:
    """No status to read (and no ``doNotPerform``): such an entry is evaluated as current, and named."""
    return not isinstance(resource.get("status"), str) and resource.get("doNotPerform") is not True


_Fact = TypeVar("_Fact", MedicationFact, ConditionFact, AllergyFact)


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
