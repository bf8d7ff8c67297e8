"""The service's own queries, for prefetch keys the EHR did not send, narrowed by date.

A prefetch template cannot compute a date, so the EHR sends every record and the service applies the windows
itself. When the service reads a key from fhirServer it can ask for less: blood-pressure readings taken within the
knowledge base's window, and administrations given within the longest washout of any rule (all of them while a rule
that is on asks whether the ordered drug was ever had: a first dose). Dispenses are not narrowed: a dispense handed
over long ago may still be within its supply.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime, timedelta

from cds_hooks.knowledge.model import KnowledgeBase


def narrowed(queries: Mapping[str, str], kb: KnowledgeBase, now: datetime) -> dict[str, str]:
    """``queries`` (prefetch key -> rendered template) with a date bound added where the key allows one.

    >>> from cds_hooks.knowledge import load_knowledge
    >>> from datetime import UTC
    >>> narrowed({"bloodPressure": "Observation?patient=1", "conditions": "Condition?patient=1"},
    ...          load_knowledge(), datetime(2026, 11, 21, 12, tzinfo=UTC))
    {'bloodPressure': 'Observation?patient=1&date=ge2026-11-20T12:00:00Z', 'conditions': 'Condition?patient=1'}
    """
    bounds = _bounds(kb, now)
    result = {}
    for key, query in queries.items():
        bound = bounds.get(key)
        result[key] = f"{query}&{bound[0]}=ge{_instant(bound[1])}" if bound else query
    return result


def _bounds(kb: KnowledgeBase, now: datetime) -> dict[str, tuple[str, datetime]]:
    bounds = {}
    if kb.blood_pressure is not None:
        bounds["bloodPressure"] = ("date", now - kb.blood_pressure.window)
    washouts = [rule.washout.period for rule in kb.rules if rule.washout is not None]
    if washouts and not kb.first_dose_checked:
        bounds["medicationAdministrations"] = ("effective-time", now - max(washouts) - timedelta(days=1))
    return bounds


def _instant(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")
