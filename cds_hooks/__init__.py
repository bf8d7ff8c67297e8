"""The framework-free core of ketamine-cds: pure functions over data, no Flask, no network, no environment.

One hook call flows one way through its stages::

    protocol   load_request(body, hook)          the CDS Hooks request, validated into typed objects
    prefetch   plan(...) / order_check.gather    prefetch sorted into data, gaps, and queries still to run
    facts      medications, conditions, facts    records read into medication and condition facts
    findings   engine                            the knowledge base's rules applied to the facts
    cards      cards                             findings and data gaps rendered as CDS Hooks cards

``order_check`` runs the stages for one call. ``knowledge`` loads the rule files, value sets and terminology a
committee owns; ``services`` describes the CDS services offered; ``feedback`` validates clinicians' feedback.
The service layer (``service/``) does all input and output around this core.
"""

from cds_hooks.errors import CdsError, DataUnavailable, HookMismatch, InvalidRequest, UnknownService
from cds_hooks.feedback import load_feedback
from cds_hooks.knowledge import KnowledgeBase, load_knowledge
from cds_hooks.order_check import Assessment, Fetcher, FetchResult, assess, check, ketamine_orders, unidentified_cards
from cds_hooks.protocol import HookRequest, load_request
from cds_hooks.services import SERVICES, ServiceDefinition, service_by_id

__all__ = [
    "SERVICES",
    "Assessment",
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
    "assess",
    "check",
    "ketamine_orders",
    "load_feedback",
    "load_knowledge",
    "load_request",
    "service_by_id",
    "unidentified_cards",
]
