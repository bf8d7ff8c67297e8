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


def validation_problem(resource: Mapping[str, Any]) -> str | None:
    """None when the resource is valid FHIR R4, else the first problem as ``field: message``.

    >>> validation_problem({"resourceType": "Condition", "subject": {"reference": "Patient/1"}}) is None
    True
    >>> validation_problem({"resourceType": "Condition"})
    'not valid FHIR R4 (subject: Field required)'
    """
    try:
        content = orjson.dumps(resource, option=orjson.OPT_SORT_KEYS)
    except TypeError:  # not JSON as orjson writes it (an integer past 64 bits, say): validated, not remembered
        return _problem(resource)
    digest = hashlib.sha256(content).digest()
    verdict = _verdicts.get(digest, _UNKNOWN)
    if verdict is _UNKNOWN:
        verdict = _problem(resource)
        _verdicts.put(digest, verdict)
    return verdict


_UNKNOWN = object()
_verdicts: BoundedMemo[bytes, Any] = BoundedMemo(VERDICT_CACHE_SIZE)
"""Verdicts by the digest of the resource: 32 bytes, whatever the resource's size."""


def _problem(resource: Mapping[str, Any]) -> str | None:
    model = _MODELS.get(str(resource.get("resourceType")))
    if model is None:
        return f"resourceType: {resource.get('resourceType')!r} is not a resource this service reads"
    try:
        model.model_validate(dict(resource))
    except ValidationError as error:
        first = error.errors()[0]
        where = ".".join(str(part) for part in first.get("loc", ())) or "(resource)"
        message = str(first.get("msg", "invalid")).removeprefix("Value error, ")
        return f"not valid FHIR R4 ({where}: {message})"
    return None
