"""The framework-free core of ketamine-cds: pure functions over data, no Flask, no network, no environment.

One hook call flows one way through its stages::

    protocol   load_request(body, hook)          the CDS Hooks request, validated into typed objects
    data       prefetch, gather, fetch           prefetch sorted into data and gaps; what it lacks read
                                                 through the fetch port (``Fetcher``)
    facts      medications, conditions, facts    records read into medication and condition facts
    findings   engine, order_limits,             the knowledge base's rules applied to the facts and to the
               patient_view                      ordered drug's own order (dose, frequency, setting);
                                                 patient-view's search for a current or planned order
    cards      cards, card_types                 findings and data gaps rendered as typed CDS Hooks cards

``answer(request, service, knowledge, now, fetch)`` runs the stages for one call of any service (order-select,
order-sign, and patient-view, which first looks for the patient's current or planned ketamine or esketamine
order) and returns an ``Answer``: typed cards, findings, data gaps; ``Answer.as_json()`` is the response body,
made at the edge.

``knowledge`` loads the rule files, value sets, terminology and record status classes a committee owns;
``definitions(knowledge)`` describes the CDS services offered, with the prefetch templates that knowledge base makes;
``feedback`` validates clinicians' feedback. The service layer (``service/``) does all input
and output around this core.

Values are slotted dataclasses. Those made once (the knowledge base, terminology readings) are frozen; those a
call makes by the dozen (facts, findings, cards) are not, since a frozen dataclass costs several times as much to
build (``object.__setattr__`` for each field), and no stage changes a value it was given.

The names below are imported on first use, so importing one small module (``cds_hooks.ids``, say) does not load
the whole core and its FHIR models.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from cds_hooks.card_types import Card
    from cds_hooks.errors import CdsError, DataUnavailable, HookMismatch, InvalidRequest, UnknownService
    from cds_hooks.feedback import load_feedback
    from cds_hooks.fetch import Fetcher, FetchResult, QueryRunner
    from cds_hooks.knowledge import KnowledgeBase, load_knowledge
    from cds_hooks.order_check import Answer, answer
    from cds_hooks.protocol import HookRequest, load_request
    from cds_hooks.services import ServiceDefinition, Services, definitions

_HOME = {
    "CdsError": "cds_hooks.errors",
    "DataUnavailable": "cds_hooks.errors",
    "HookMismatch": "cds_hooks.errors",
    "InvalidRequest": "cds_hooks.errors",
    "UnknownService": "cds_hooks.errors",
    "load_feedback": "cds_hooks.feedback",
    "KnowledgeBase": "cds_hooks.knowledge",
    "load_knowledge": "cds_hooks.knowledge",
    "Answer": "cds_hooks.order_check",
    "answer": "cds_hooks.order_check",
    "Card": "cds_hooks.card_types",
    "FetchResult": "cds_hooks.fetch",
    "Fetcher": "cds_hooks.fetch",
    "QueryRunner": "cds_hooks.fetch",
    "HookRequest": "cds_hooks.protocol",
    "load_request": "cds_hooks.protocol",
    "ServiceDefinition": "cds_hooks.services",
    "Services": "cds_hooks.services",
    "definitions": "cds_hooks.services",
}
"""Where each name the core offers is defined."""

__all__ = [
    "Answer",
    "Card",
    "CdsError",
    "DataUnavailable",
    "FetchResult",
    "Fetcher",
    "HookMismatch",
    "HookRequest",
    "InvalidRequest",
    "KnowledgeBase",
    "QueryRunner",
    "ServiceDefinition",
    "Services",
    "UnknownService",
    "answer",
    "definitions",
    "load_feedback",
    "load_knowledge",
    "load_request",
]


def __getattr__(name: str) -> Any:
    if name not in _HOME:
        raise AttributeError(f"module 'cds_hooks' has no attribute {name!r}")
    return getattr(importlib.import_module(_HOME[name]), name)
