"""The framework-free core of ketamine-cds: pure functions over data, no Flask, no network, no environment.

One hook call flows one way through its stages::

    protocol   load_request(body, hook)          the CDS Hooks request, validated into typed objects
    prefetch   plan(...) / order_check.gather    prefetch sorted into data, gaps, and queries still to run
    facts      medications, conditions, facts    records read into medication and condition facts
    findings   engine, order_limits              the knowledge base's rules applied to the facts and to the
                                                 ordered drug's own order (dose, frequency, setting)
    cards      cards                             findings and data gaps rendered as CDS Hooks cards

``order_check`` runs the stages for one order-select or order-sign call; ``patient_view`` finds a patient's
current or planned ketamine order for a patient-view call and, when there is one, runs them for it.
``knowledge`` loads the rule files, value sets and terminology a committee owns; ``services`` describes the CDS
services offered; ``feedback`` validates clinicians' feedback.
The service layer (``service/``) does all input and output around this core.
"""

from cds_hooks.errors import CdsError, DataUnavailable, HookMismatch, InvalidRequest, UnknownService
from cds_hooks.feedback import load_feedback
from cds_hooks.knowledge import KnowledgeBase, load_knowledge
from cds_hooks.order_check import Fetcher, FetchResult, check, ketamine_orders, unidentified_cards
from cds_hooks.patient_view import check_chart
from cds_hooks.protocol import HookRequest, load_request
from cds_hooks.services import SERVICES, ServiceDefinition, service_by_id

__all__ = [
    "SERVICES",
    "CdsError",
    "DataUnavailable",
    "FetchResult",
    "Fetcher",
    "HookMismatch",
    "HookRequest",
    "InvalidRequest",
    "KnowledgeBase",
    "ServiceDefinition",
    "UnknownService",
    "check",
    "check_chart",
    "ketamine_orders",
    "load_feedback",
    "load_knowledge",
    "load_request",
    "service_by_id",
    "unidentified_cards",
]
