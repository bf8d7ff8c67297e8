"""FHIR R4 validation (fhir.resources R4B models) of the resources the engine acts on.

Only resources that can change a card are validated: the ketamine or esketamine draft order and the entries that
name an interacting drug or condition. Validating every entry of a long medication list would cost more than the
whole evaluation, and an entry that names nothing relevant cannot change the answer.

Verdicts are remembered by a digest of the resource's content: an EHR sends the same medication list with every
order-select and order-sign call of a session, and a resource with the same JSON always gets the same verdict.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import orjson
from fhir.resources.R4B.allergyintolerance import AllergyIntolerance
from fhir.resources.R4B.appointment import Appointment
from fhir.resources.R4B.condition import Condition
from fhir.resources.R4B.medication import Medication
from fhir.resources.R4B.medicationadministration import MedicationAdministration
from fhir.resources.R4B.medicationdispense import MedicationDispense
from fhir.resources.R4B.medicationrequest import MedicationRequest
from fhir.resources.R4B.medicationstatement import MedicationStatement
from pydantic import ValidationError

from cds_hooks.bounded import BoundedMemo

_MODELS = {
    model.__name__: model
    for model in (
        MedicationRequest, MedicationStatement, MedicationAdministration, MedicationDispense, Condition,
        AllergyIntolerance, Medication, Appointment,
    )
}


VERDICT_CACHE_SIZE = 4096


@dataclass(frozen=True, slots=True)
class Verdict:
    """What validation found wrong with a resource: the first problem, and every top-level element at fault."""

    problem: str | None
    fields: frozenset[str] = frozenset()
    """Top-level elements with an error, by name as the resource spells them (``dosage`` on a MedicationRequest,
    say); ``(resource)`` for a rule over the whole resource."""
    labels: frozenset[str] = frozenset()
    """The same, bounded for metrics: an element the resource type does not have is ``other`` (its name came
    from the data, so it is never repeated)."""

    def touches(self, read: frozenset[str]) -> bool:
        """Whether a flaw lies in one of the elements ``read`` (or in no one element): then what was read from the
        resource may be wrong, not just its form."""
        if self.problem is None:
            return False
        return not self.fields or "(resource)" in self.fields or not self.fields.isdisjoint(read)


VALID = Verdict(None)


def validation_problem(resource: Mapping[str, Any]) -> str | None:
    """None when the resource is valid FHIR R4, else the first problem as ``field: message``.

    >>> validation_problem({"resourceType": "Condition", "subject": {"reference": "Patient/1"}}) is None
    True
    >>> validation_problem({"resourceType": "Condition"})
    'not valid FHIR R4 (subject: Field required)'
    """
    return validate(resource).problem


def validate(resource: Mapping[str, Any]) -> Verdict:
    """The resource's verdict, remembered by a digest of its content.

    >>> validate({"resourceType": "Condition", "category": {"text": "x"}, "subject": {"reference": "P/1"}}).fields
    frozenset({'category'})
    >>> validate({"resourceType": "Condition", "subject": {"reference": "P/1"}, "dosage": []}).labels
    frozenset({'other'})
    """
    try:
        content = orjson.dumps(resource, option=orjson.OPT_SORT_KEYS)
    except TypeError:  # not JSON as orjson writes it (an integer past 64 bits, say): validated, not remembered
        return _verdict(resource)
    digest = hashlib.sha256(content).digest()
    known = _verdicts.get(digest, _UNKNOWN)
    if isinstance(known, Verdict):
        return known
    verdict = _verdict(resource)
    _verdicts.put(digest, verdict)
    return verdict


_UNKNOWN = object()
_verdicts: BoundedMemo[bytes, Any] = BoundedMemo(VERDICT_CACHE_SIZE)
"""Verdicts by the digest of the resource: 32 bytes, whatever the resource's size."""


def _verdict(resource: Mapping[str, Any]) -> Verdict:
    model = _MODELS.get(str(resource.get("resourceType")))
    if model is None:
        return Verdict(f"resourceType: {resource.get('resourceType')!r} is not a resource this service reads")
    try:
        model.model_validate(dict(resource))
    except ValidationError as error:
        errors = error.errors()
        first = errors[0]
        where = ".".join(str(part) for part in first.get("loc", ())) or "(resource)"
        message = str(first.get("msg", "invalid")).removeprefix("Value error, ")
        known = {name for field, info in model.model_fields.items() for name in (field, info.alias) if name}
        fields = frozenset(_element(error.get("loc", ())) for error in errors)
        labels = frozenset(name if name in known or name == "(resource)" else "other" for name in fields)
        return Verdict(f"not valid FHIR R4 ({where}: {message})", fields, labels)
    return VALID


def _element(location: tuple[Any, ...]) -> str:
    if not location or location[0] in ("__root__", ""):
        return "(resource)"
    return str(location[0])
