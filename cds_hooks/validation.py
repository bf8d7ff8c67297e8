"""FHIR R4 validation (fhir.resources R4B models) of the resources the engine acts on.

Only resources that can change a card are validated: the ketamine or esketamine draft order and the entries that
name an interacting drug or condition. Validating every entry of a long medication list would cost more than the
whole evaluation, and an entry that names nothing relevant cannot change the answer.

Verdicts are remembered by the resource's content: an EHR sends the same medication list with every order-select
and order-sign call of a session, and a resource with the same JSON always gets the same verdict.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from functools import lru_cache
from typing import Any

from fhir.resources.R4B.condition import Condition
from fhir.resources.R4B.medication import Medication
from fhir.resources.R4B.medicationrequest import MedicationRequest
from fhir.resources.R4B.medicationstatement import MedicationStatement
from pydantic import ValidationError

_MODELS = {
    model.__name__: model for model in (MedicationRequest, MedicationStatement, Condition, Medication)
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
        content = json.dumps(resource, sort_keys=True, separators=(",", ":"))
    except (TypeError, ValueError):
        return _problem(resource)
    return _remembered(content)


@lru_cache(maxsize=VERDICT_CACHE_SIZE)
def _remembered(content: str) -> str | None:
    return _problem(json.loads(content))


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
