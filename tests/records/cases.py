"""The record cases of ``cases.yaml`` as hook requests: shared by the prefetch-mode tests and the fetch-mode tests
against the sandbox FHIR server."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml

from cds_hooks.knowledge import ORDERED_DRUGS
from tests.builders import (
    administration,
    allergy,
    blood_pressure,
    blood_pressure_part,
    dispense,
    hook_request,
    ordered,
)

CASES = yaml.safe_load((Path(__file__).parent / "cases.yaml").read_text(encoding="utf-8"))
SECTIONS = ("administrations", "dispenses", "allergies", "blood_pressure")


def _observation(spec: dict[str, Any]) -> dict[str, Any]:
    spec = dict(spec)
    at = spec.pop("at")
    if "panel" in spec:
        systolic, diastolic = spec.pop("panel")
        return blood_pressure(systolic, diastolic, at, **spec)
    part = "systolic" if "systolic" in spec else "diastolic"
    return blood_pressure_part(part, spec.pop(part), at, **spec)


def request_for(case: dict[str, Any], *drugs: str) -> dict[str, Any]:
    """The order-sign request of one case for the ordered drugs (a draft of each), with every record in its
    prefetch key."""
    first, *others = [ordered(drug, reason=case.get("ordered_reason")) for drug in drugs]
    return hook_request(
        first,
        drafts=others,
        administrations=[administration(**spec) for spec in case.get("administrations") or ()],
        dispenses=[dispense(**spec) for spec in case.get("dispenses") or ()],
        allergies=[allergy(**spec) for spec in case.get("allergies") or ()],
        observations=[_observation(spec) for spec in case.get("observations") or ()],
    )


def expected(case: dict[str, Any], drug: str) -> dict[str, str]:
    return case.get(f"expect_{drug}", case.get("expect"))


def params() -> list[Any]:
    """One pytest param per case, section and ordered drug: (case, drug)."""
    return [
        pytest.param(case, drug, id=f"{section}: {case['name']} ({drug})")
        for section in SECTIONS
        for case in CASES[section]
        for drug in ORDERED_DRUGS
    ]


def fetchable() -> list[Any]:
    """One pytest param per case that is valid FHIR (a FHIR server stores it): (case,)."""
    return [
        pytest.param(case, id=f"{section}: {case['name']}")
        for section in SECTIONS
        for case in CASES[section]
        if not case.get("prefetch_only")
    ]
