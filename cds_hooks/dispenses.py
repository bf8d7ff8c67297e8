"""MedicationDispenses as medication facts: what the patient really has at home, fills from outside pharmacies
included.

A dispense counts as current from when it was handed over (``whenHandedOver``, else ``whenPrepared``) until that
date plus its ``daysSupply``, and after that as ended therapy, within the rule's washout. A dispense without a
supply counts for the knowledge base's conservative default (``dispense_default_supply_days``), which the card
says. One in preparation, in progress or on hold counts as current; declined, cancelled or entered in error never
counts (the status table in ``medications``).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import replace
from datetime import datetime, timedelta
from typing import Any

from cds_hooks import fhir_json as fhir
from cds_hooks.administrations import moment
from cds_hooks.markup import escape
from cds_hooks.medications import MedicationFact, after_duration
from cds_hooks.statuses import CURRENT, ENDED

KIND = "MedicationDispense"


def timed(
    fact: MedicationFact, resource: Mapping[str, Any], default_supply: timedelta, now: datetime
) -> MedicationFact:
    """The fact counted as current while its supply lasts (``now`` at or before the supply's end), else as ended
    therapy whose last dose is the supply's end."""
    if fact.status != ENDED:
        status = escape(fact.fhir_status or "not yet handed over")
        return replace(fact, note=f"dispense {status}, counted as current")
    handed = fhir.parse_datetime(resource.get("whenHandedOver"), upper=True) or fhir.parse_datetime(
        resource.get("whenPrepared"), upper=True
    )
    if handed is None:
        return replace(fact, status=CURRENT, note="dispensed, date not recorded: counted as current")
    supply_end = after_duration(handed, resource.get("daysSupply"))
    if supply_end is None:
        supply_end = handed + default_supply
        supply = f"no days' supply recorded, counted as {default_supply.days} days (the default for such a fill)"
    else:
        supply = f"{_days(supply_end - handed)} supply"
    if supply_end >= now:
        return replace(fact, status=CURRENT,
                       note=f"dispensed {moment(handed)}, {supply}: counted as taken until {moment(supply_end)}")
    return replace(fact, ended_at=supply_end, note=f"dispensed {moment(handed)}, {supply}")


def _days(span: timedelta) -> str:
    """``30 days'``, ``1 day's``; hours only when less than a day.

    >>> _days(timedelta(days=30)), _days(timedelta(days=1)), _days(timedelta(hours=12))
    ("30 days'", "1 day's", "12 hours'")
    """
    if span < timedelta(days=1):
        return f"{int(span.total_seconds() // 3600)} hours'"
    days = span.days
    return "1 day's" if days == 1 else f"{days} days'"
