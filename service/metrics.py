"""Every Prometheus metric the service exports, and the small functions the rest of the code records them with.

Under gunicorn each worker is its own process: with ``PROMETHEUS_MULTIPROC_DIR`` set (the gunicorn configuration
sets it up) every worker writes its samples there and ``/metrics`` adds up all workers' files. Without it (the
development server, the tests) the samples live in this process's default registry.

Labels hold only bounded values: service ids, hook names, statuses, advice levels, rule ids, prefetch keys,
resource types and fixed reasons; never anything taken from a patient's record.
"""

from __future__ import annotations

import os
import time
from collections.abc import Iterable, Mapping
from functools import lru_cache
from typing import Any

from flask import Blueprint, Flask, Response, g, request
from prometheus_client import (
    REGISTRY,
    CollectorRegistry,
    Counter,
    Histogram,
    disable_created_metrics,
    generate_latest,
    multiprocess,
)
from prometheus_client.exposition import CONTENT_TYPE_LATEST
from prometheus_client.metrics import MetricWrapperBase

from cds_hooks.card_types import Card
from cds_hooks.services import OFFERS
from service.config import PROMETHEUS_MULTIPROC_ENV

PREFETCH_SOURCES = ("used", "fetched")
FHIR_RESOURCES = ("MedicationRequest", "MedicationStatement", "MedicationAdministration", "MedicationDispense",
                  "Condition", "AllergyIntolerance", "Observation", "Medication", "Patient", "Appointment")
"""The resource types the service reads; any other (a server's own paging URL, say) is counted as ``other``."""
LATENCY_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)
"""From a few milliseconds to the ten seconds past which an EHR has long given up."""

disable_created_metrics()
"""No ``*_created`` series: the multiprocess mode has none either, so both modes export the same names."""

REQUESTS = Counter(
    "ketamine_cds_requests",
    "CDS Hooks requests answered, by service (or 'discovery'), hook and HTTP status.",
    ("service", "hook", "status"),
)
REQUEST_SECONDS = Histogram(
    "ketamine_cds_request_duration_seconds",
    "Time to answer a CDS Hooks request, by service (or 'discovery') and hook.",
    ("service", "hook"),
    buckets=LATENCY_BUCKETS,
)
CARDS = Counter(
    "ketamine_cds_cards",
    "Cards returned, by advice (avoid, hold, monitor; 'notice' for data notices) and rule id (or notice kind).",
    ("advice", "rule"),
)
FHIR_FETCH_SECONDS = Histogram(
    "ketamine_cds_fhir_fetch_duration_seconds",
    "Time to read one query from the EHR's FHIR server, by resource type.",
    ("resource",),
    buckets=LATENCY_BUCKETS,
)
FHIR_FETCH_FAILURES = Counter(
    "ketamine_cds_fhir_fetch_failures",
    "FHIR server reads that failed, by resource type and reason (service.fhir.client.FAILURE_REASONS).",
    ("resource", "reason"),
)
PREFETCH = Counter(
    "ketamine_cds_prefetch",
    "Prefetch keys per call: 'used' when the EHR sent them, 'fetched' when the service had to read them.",
    ("key", "source"),
)
AUTH_FAILURES = Counter(
    "ketamine_cds_auth_failures",
    "Requests refused by authentication, by reason.",
    ("reason",),
)
CARDS_NOT_RECORDED = Counter(
    "ketamine_cds_issued_cards_not_recorded",
    "Cards returned to the EHR that could not be recorded in the database (feedback on them reads as unknown).",
)
HELD_BACK = Counter(
    "ketamine_cds_findings_held_back",
    "Findings not shown, by why ('repeated-alert', 'quiet-after-override'), advice and rule id; each is recorded.",
    ("reason", "advice", "rule"),
)
STRUCTURAL_FLAWS = Counter(
    "ketamine_cds_structural_flaws",
    "Records that are not valid FHIR although everything the advice rests on was read, by resource type and the "
    "element at fault ('other' for an element the type lacks); logged, not shown.",
    ("resource", "element"),
)
SHOWN_STORE_FAILURES = Counter(
    "ketamine_cds_shown_store_failures",
    "Reads or writes of what order-select showed that failed (Redis unreachable); nothing was held back.",
    ("operation",),
)

HOOK_INSTANCE_NOT_UUID = Counter(
    "ketamine_cds_hook_instance_not_uuid",
    "Hook calls whose hookInstance is not a UUID (answered; logged and recorded by a digest), by service.",
    ("service",),
)

_HOOK_OF = {offer.id: offer.hook for offer in OFFERS}


@lru_cache(maxsize=4096)
def _child(metric: MetricWrapperBase, *labels: str) -> Any:
    """A metric's series for these label values, found once: ``labels()`` takes a lock and builds a key on every
    call, and a hook call records several series. Label values are bounded (see above), so the cache is too."""
    return metric.labels(*labels)


def observe_request(service: str, hook: str, status: int, seconds: float) -> None:
    _child(REQUESTS, service, hook, str(status)).inc()
    _child(REQUEST_SECONDS, service, hook).observe(seconds)


def observe_cards(cards: Iterable[Card]) -> None:
    """Count cards by advice and rule (``notice`` and the notice's kind for data notices)."""
    for card in cards:
        origin = card.origin
        if origin.notice is not None:
            _child(CARDS, "notice", origin.notice).inc()
        else:  # a combined Monitor card counts each of its rules
            for finding in origin.findings:
                _child(CARDS, finding.advice, finding.rule_id).inc()


def held_back(reason: str, advice: str, rule: str) -> None:
    _child(HELD_BACK, reason, advice, rule).inc()


def structural_flaw(resource: str, element: str) -> None:
    _child(STRUCTURAL_FLAWS, resource, element).inc()


def shown_store_failure(operation: str) -> None:
    _child(SHOWN_STORE_FAILURES, operation).inc()


def fhir_fetch(resource: str, seconds: float | None, failure: str | None = None) -> None:
    """Record one FHIR server query: how long it took (None: no request was sent) and, when it failed, why (a
    short fixed reason)."""
    resource = resource if resource in FHIR_RESOURCES else "other"
    if seconds is not None:
        _child(FHIR_FETCH_SECONDS, resource).observe(seconds)
    if failure is not None:
        _child(FHIR_FETCH_FAILURES, resource, failure).inc()


def prefetch(key: str, source: str) -> None:
    """Record where a prefetch key's data came from: ``used`` (sent by the EHR) or ``fetched`` (read by us)."""
    if source not in PREFETCH_SOURCES:
        raise ValueError(f"prefetch source must be one of {PREFETCH_SOURCES}, not {source!r}")
    _child(PREFETCH, key, source).inc()


def hook_instance_not_uuid(service: str) -> None:
    _child(HOOK_INSTANCE_NOT_UUID, service).inc()


def auth_failure(reason: str) -> None:
    _child(AUTH_FAILURES, reason).inc()


def cards_not_recorded(count: int) -> None:
    CARDS_NOT_RECORDED.inc(count)


def exposition() -> tuple[bytes, str]:
    """The metrics in Prometheus text format: all gunicorn workers' when multiprocess, else this process's."""
    if os.environ.get(PROMETHEUS_MULTIPROC_ENV):
        registry = CollectorRegistry()
        multiprocess.MultiProcessCollector(registry)
    else:
        registry = REGISTRY
    return generate_latest(registry), CONTENT_TYPE_LATEST


blueprint = Blueprint("metrics", __name__)


@blueprint.get("/metrics")
def scrape() -> Response:
    body, content_type = exposition()
    return Response(body, content_type=content_type)


def init_app(app: Flask) -> None:
    """Serve ``/metrics`` and count every request to the CDS Hooks routes with its latency. The other parts count
    their own events (refused authentications, cards not recorded) by calling this module: it imports none of them."""
    app.register_blueprint(blueprint)

    @app.before_request
    def _start() -> None:
        g.metrics_started = time.perf_counter()

    @app.after_request
    def _finish(response: Response) -> Response:
        started = g.get("metrics_started")
        if request.blueprint == "cds" and started is not None:
            service, hook = _labels(request.view_args or {})
            observe_request(service, hook, response.status_code, time.perf_counter() - started)
        return response


def _labels(view_args: Mapping[str, Any]) -> tuple[str, str]:
    """(service, hook) for the route: a known service id and its hook, 'unknown' for others, or 'discovery'."""
    if "service_id" not in view_args:
        return "discovery", ""
    service_id = view_args["service_id"]
    return (service_id, _HOOK_OF[service_id]) if service_id in _HOOK_OF else ("unknown", "")
