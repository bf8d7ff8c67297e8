"""Condition facts: a patient's problems with their codes, text and whether they are current (the knowledge base
classes the clinical and verification statuses: ``data/statuses.yaml``)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from cds_hooks import fhir_json as fhir
from cds_hooks.statuses import ACTIVE, EXCLUDED, PAST, StatusClasses

READ_ELEMENTS = frozenset({"code", "clinicalStatus", "verificationStatus"})
"""The elements a condition is read from: a flaw in one of them may change the advice; elsewhere it cannot."""


@dataclass(frozen=True, slots=True)
class ConditionFact:
    reference: str | None
    label: str | None
    codes: tuple[tuple[str, str], ...]
    """(system, code) pairs; ICD-10-CM codes in their compared form (``fhir_json.icd10_key``), worked out once here
    since every condition value set compares them."""
    texts: tuple[str, ...]
    active: bool
    """An active problem (a clinical status classed active, such as recurrence; or none recorded)."""
    past: bool
    """Recorded but no longer active: counts only for rules about a history of the condition."""


def read_condition(resource: Mapping[str, Any], statuses: StatusClasses) -> ConditionFact | None:
    """A Condition as a fact; None when its verification status is excluded (refuted, entered in error: it never
    counts). A clinical status FHIR R4 does not define makes it neither active nor past."""
    if statuses.of("Condition.verificationStatus", fhir.first_code(resource.get("verificationStatus"))) == EXCLUDED:
        return None
    clinical = fhir.first_code(resource.get("clinicalStatus"))
    kind = statuses.of("Condition.clinicalStatus", clinical)
    code = resource.get("code")
    pairs = tuple(_code_pair(c) for c in fhir.codings(code) if isinstance(c.get("code"), str) and c["code"].strip())
    return ConditionFact(
        reference=fhir.reference_of(resource),
        label=fhir.concept_label(code),
        codes=pairs,
        texts=tuple(fhir.concept_texts(code)),
        active=kind == ACTIVE or clinical is None,
        past=kind == PAST,
    )


def _code_pair(coding: Mapping[str, Any]) -> tuple[str, str]:
    system = fhir.canonical_system(coding.get("system"))
    code = coding["code"]
    return system, fhir.icd10_key(code) if system == fhir.ICD10CM else code.strip()
