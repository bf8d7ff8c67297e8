"""MedicationAdministrations as medication facts.

Methylene blue and linezolid are mostly given in theatre, the emergency department or on a ward and recorded
only as administrations; an MAOI may be too. A dose given counts exactly as a stopped order would: from the time
it was given, within the rule's washout. A dose being given now (``in-progress``) counts as current; one not
given (``not-done``) or entered in error never counts (the status table in ``medications``).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import replace
from datetime import datetime
from typing import Any

from cds_hooks import fhir_json as fhir
from cds_hooks.markup import escape
from cds_hooks.medications import MedicationFact
from cds_hooks.statuses import ENDED

KIND = "MedicationAdministration"


def timed(fact: MedicationFact, resource: Mapping[str, Any]) -> MedicationFact:
    """The fact with the time the dose was given (the engine tells it with the washout): ``effectiveDateTime``,
    else the end of ``effectivePeriod`` (its start when it has no end). A date without a time stands for its last
    instant, so a washout is never cut short."""
    if fact.status != ENDED:
        return replace(fact, note=f"administration {escape(fact.fhir_status or 'in progress')}, counted as current")
    return replace(fact, ended_at=given_at(resource))


def given_at(resource: Mapping[str, Any]) -> datetime | None:
    """When the dose was given, as the record tells it.

    >>> given_at({"effectivePeriod": {"start": "2026-11-20T08:00:00Z", "end": "2026-11-20T09:30:00Z"}}).hour
    9
    >>> given_at({"effectiveDateTime": "2026-11-20"}).isoformat()
    '2026-11-20T23:59:59.999999+00:00'
    """
    if (at := fhir.parse_datetime(resource.get("effectiveDateTime"), upper=True)) is not None:
        return at
    period = resource.get("effectivePeriod")
    if not isinstance(period, dict):
        return None
    return fhir.parse_datetime(period.get("end"), upper=True) or fhir.parse_datetime(period.get("start"), upper=True)


def moment(at: datetime | None) -> str:
    """``2026-11-20 09:30 UTC`` for the card; a date alone when no time of day was recorded.

    >>> from datetime import UTC
    >>> end_of_day = datetime(2026, 11, 20, 23, 59, 59, 999999, tzinfo=UTC)
    >>> moment(datetime(2026, 11, 20, 9, 30, tzinfo=UTC)), moment(end_of_day)
    ('2026-11-20 09:30 UTC', '2026-11-20')
    """
    if at is None:
        return "an unrecorded time"
    if (at.hour, at.minute, at.second, at.microsecond) == (23, 59, 59, 999999):
        return at.date().isoformat()
    return f"{at:%Y-%m-%d %H:%M} UTC"
