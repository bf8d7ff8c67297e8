"""Condition facts: a patient's problems with their codes, text and whether they are current."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from cds_hooks import fhir_json as fhir

_ACTIVE = frozenset({"active", "recurrence", "relapse"})
_PAST = frozenset({"inactive", "remission", "resolved"})
_NOT_TRUE = frozenset({"refuted", "entered-in-error"})
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
    """An active problem (active, recurrence, relapse; or no clinical status recorded)."""
    past: bool
    """Recorded but no longer active: counts only for rules about a history of the condition."""


def read_condition(resource: Mapping[str, Any]) -> ConditionFact | None:
    """A Condition as a fact; None when it is refuted or entered in error (it never counts)."""
    verification = fhir.first_code(resource.get("verificationStatus"))
    if verification in _NOT_TRUE:
        return None
    clinical = fhir.first_code(resource.get("clinicalStatus"))
    code = resource.get("code")
    pairs = tuple(_code_pair(c) for c in fhir.codings(code) if isinstance(c.get("code"), str) and c["code"].strip())
    return ConditionFact(
        reference=fhir.reference_of(resource),
        label=fhir.concept_label(code),
        codes=pairs,
        texts=tuple(fhir.concept_texts(code)),
        active=clinical in _ACTIVE or clinical is None,
        past=clinical in _PAST,
    )


def _code_pair(coding: Mapping[str, Any]) -> tuple[str, str]:
    system = fhir.canonical_system(coding.get("system"))
    code = coding["code"]
    return system, fhir.icd10_key(code) if system == fhir.ICD10CM else code.strip()
