"""Blood pressure readings from Observations, and the latest one within the knowledge base's window.

The labels ask for blood pressure before ketamine or esketamine is given. A reading is a LOINC blood-pressure
panel (85354-9) with systolic (8480-6) and diastolic (8462-4) components, or the two sent as separate
Observations taken at the same time. The codes are LOINC's; which statuses count (a result that stands: ``final``,
``amended``, ``corrected``) and the window are knowledge-base data (``data/statuses.yaml``, ``blood_pressure`` in
the manifest), and so are the rules' thresholds.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from cds_hooks import fhir_json as fhir

KIND = "Observation"
LOINC = "http://loinc.org"
PANEL = ("85354-9", "55284-4")
"""Blood pressure panel with all children optional; Blood pressure systolic and diastolic (an older panel)."""
SYSTOLIC = ("8480-6",)
DIASTOLIC = ("8462-4",)
_KPA_TO_MMHG = 7.50062
_MMHG_UNITS = frozenset({"mm[Hg]", "mmHg", "mm Hg", "mmhg"})


@dataclass(frozen=True, slots=True)
class BloodPressureCodes:
    """What is taken for a blood-pressure reading, and for how long one counts (the knowledge base's window)."""

    window: timedelta
    panel: frozenset[str] = frozenset(PANEL)
    systolic: frozenset[str] = frozenset(SYSTOLIC)
    diastolic: frozenset[str] = frozenset(DIASTOLIC)

    @property
    def all(self) -> frozenset[str]:
        return self.panel | self.systolic | self.diastolic


@dataclass(frozen=True, slots=True)
class BloodPressure:
    """One reading: systolic and diastolic in mmHg (either may be missing), when it was taken, its Observations."""

    systolic: float | None
    diastolic: float | None
    at: datetime
    references: tuple[str, ...]

    @property
    def label(self) -> str:
        """``blood pressure 184/96 mmHg``; ``systolic blood pressure 184 mmHg`` when only one value is known.

        >>> from datetime import UTC
        >>> BloodPressure(184.0, 96.4, datetime(2026, 11, 21, tzinfo=UTC), ()).label
        'blood pressure 184/96 mmHg'
        >>> BloodPressure(None, 112.0, datetime(2026, 11, 21, tzinfo=UTC), ()).label
        'diastolic blood pressure 112 mmHg'
        """
        if self.systolic is not None and self.diastolic is not None:
            return f"blood pressure {_number(self.systolic)}/{_number(self.diastolic)} mmHg"
        if self.systolic is not None:
            return f"systolic blood pressure {_number(self.systolic)} mmHg"
        return f"diastolic blood pressure {_number(self.diastolic or 0)} mmHg"


def readings(
    observations: Iterable[Mapping[str, Any]],
    codes: BloodPressureCodes,
    counted: frozenset[str],
    since: datetime | None = None,
) -> list[BloodPressure]:
    """Every blood-pressure reading the Observations hold (taken at ``since`` or later, when given); a systolic and
    a diastolic Observation taken at the same time make one reading. Observations of anything else, not in a
    ``counted`` status, with no time, or with no usable value are left out; the cheap tests come first, as most of
    a patient's readings are old."""
    found: dict[datetime, tuple[float | None, float | None, tuple[str, ...]]] = {}
    for resource in observations:
        status = resource.get("status")
        if status.__class__ is not str or status not in counted:
            continue
        at = _taken_at(resource)
        if at is None or (since is not None and at < since):
            continue
        if not _loinc_codes(resource.get("code")) & codes.all:
            continue
        systolic, diastolic = _values(resource, codes)
        if systolic is None and diastolic is None:
            continue
        old_systolic, old_diastolic, references = found.get(at, (None, None, ()))
        reference = fhir.reference_of(resource)
        found[at] = (
            _higher(old_systolic, systolic),
            _higher(old_diastolic, diastolic),
            (*references, reference) if reference else references,
        )
    return [BloodPressure(systolic, diastolic, at, refs) for at, (systolic, diastolic, refs) in found.items()]


def latest(found: Iterable[BloodPressure], now: datetime, window: timedelta) -> BloodPressure | None:
    """The most recent reading taken within ``window`` before ``now`` (one dated later counts as now); None when
    there is none, so a stale reading gives no advice."""
    recent = [reading for reading in found if reading.at >= now - window]
    return max(recent, key=lambda reading: reading.at, default=None)


def _values(resource: Mapping[str, Any], codes: BloodPressureCodes) -> tuple[float | None, float | None]:
    own = _loinc_codes(resource.get("code"))
    systolic = _mmhg(resource.get("valueQuantity")) if own & codes.systolic else None
    diastolic = _mmhg(resource.get("valueQuantity")) if own & codes.diastolic else None
    for component in fhir.items(resource.get("component")):
        if not isinstance(component, dict):
            continue
        kind = _loinc_codes(component.get("code"))
        if kind & codes.systolic:
            systolic = _higher(systolic, _mmhg(component.get("valueQuantity")))
        elif kind & codes.diastolic:
            diastolic = _higher(diastolic, _mmhg(component.get("valueQuantity")))
    return systolic, diastolic


def _loinc_codes(concept: object) -> frozenset[str]:
    return frozenset(
        coding["code"].strip()
        for coding in fhir.codings(concept)
        if fhir.canonical_system(coding.get("system")) == LOINC and isinstance(coding.get("code"), str)
    )


def _mmhg(quantity: object) -> float | None:
    """A Quantity in mmHg (kPa converted; no unit taken as mmHg); None for anything else.

    >>> _mmhg({"value": 120, "code": "mm[Hg]"}), round(_mmhg({"value": 16, "unit": "kPa"}))
    (120.0, 120)
    >>> _mmhg({"value": 1, "unit": "%"}), _mmhg({"value": "180"})
    (None, None)
    """
    if not isinstance(quantity, dict):
        return None
    value = quantity.get("value")
    if isinstance(value, bool) or not isinstance(value, int | float) or not 0 < value < 1000:
        return None
    unit = quantity.get("code") or quantity.get("unit")
    if unit is None or unit in _MMHG_UNITS:
        return float(value)
    if unit == "kPa":
        return float(value) * _KPA_TO_MMHG
    return None


def _taken_at(resource: Mapping[str, Any]) -> datetime | None:
    """When the reading was taken: ``effectiveDateTime`` or ``effectiveInstant``, else the end (or start) of
    ``effectivePeriod``, else when it was ``issued``."""
    for name in ("effectiveDateTime", "effectiveInstant"):
        if (at := fhir.parse_datetime(resource.get(name), upper=True)) is not None:
            return at
    period = resource.get("effectivePeriod")
    if isinstance(period, dict):
        at = fhir.parse_datetime(period.get("end"), upper=True) or fhir.parse_datetime(period.get("start"), upper=True)
        if at is not None:
            return at
    return fhir.parse_datetime(resource.get("issued"), upper=True)


def _higher(first: float | None, second: float | None) -> float | None:
    """Of two values for the same moment, the higher (the safer for a blood-pressure threshold)."""
    if first is None:
        return second
    return first if second is None else max(first, second)


def _number(value: float) -> str:
    return str(round(value))
