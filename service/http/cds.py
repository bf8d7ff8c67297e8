"""CDS Hooks routes: discovery and the services (order-select, order-sign, patient-view)."""

from __future__ import annotations

import logging
import time
from collections.abc import Mapping, Sequence
from urllib.parse import urlsplit

from flask import Blueprint, Response, jsonify

from cds_hooks.cards import Layout
from cds_hooks.engine import Finding
from cds_hooks.fetch import Fetcher, FetchResult, QueryRunner
from cds_hooks.ids import DIGEST_PREFIX, finding_hash
from cds_hooks.order_check import Answer, answer
from cds_hooks.protocol import HookRequest, load_request
from cds_hooks.services import ServiceDefinition
from service import auth, holdback, logging_setup, metrics
from service.fhir.client import Refused
from service.http.bodies import json_body
from service.runtime import runtime
from service.storage import recorder, storage

log = logging.getLogger(__name__)
blueprint = Blueprint("cds", __name__)


@blueprint.get("/cds-services")
def discovery() -> Response:
    """Every service; the order services with the PDDI configuration item their hook reads (patient-view has none)."""
    return jsonify({"services": [
        {**definition.discovery(),
         **({"extension": {"configuration-items": [holdback.CONFIGURATION_ITEMS[definition.hook]]}}
            if definition.hook in holdback.CONFIGURATION_ITEMS else {})}
        for definition in runtime().services.definitions
    ]})


@blueprint.post("/cds-services/<service_id>")
def call_service(service_id: str) -> Response:
    """The core's answer, with its cards counted (metrics, the request's log line) and queued for the record."""
    state = runtime()
    definition = state.services.by_id(service_id)
    hook_request = load_request(json_body(), definition.hook)
    instance = storage().hook_instance_label(hook_request.hook_instance)
    logging_setup.bind_hook_instance(instance)
    if instance.startswith(DIGEST_PREFIX):  # answered all the same: refusing would lose an Avoid over a slip
        metrics.hook_instance_not_uuid(definition.id)
    now = state.clock()
    held: list[holdback.HeldBack] = []

    def choose(findings: Sequence[Finding]) -> list[Finding]:
        shown, back = holdback.hold_back(hook_request, findings, now)
        held.extend(back)
        return shown

    deadline = time.monotonic() + state.settings.fhir_timeout_seconds
    resolver = state.resolver.within(deadline) if state.resolver is not None else None
    result = answer(hook_request, definition, state.knowledge, now, _fetcher(hook_request, definition, deadline),
                    resolver, Layout(combine_monitor=state.settings.monitor_cards == "combined"), choose)
    if result.checked:
        for key in definition.prefetch.keys() & hook_request.prefetch.keys():
            metrics.prefetch(key, "used")
        _report_flaws(result)
        holdback.remember(hook_request, result.shown)
    if held:
        _record_held(definition.id, hook_request, held, instance)
    logging_setup.note_cards(len(result.cards))
    if result.cards:
        metrics.observe_cards(result.cards)
        recorder.record(definition.id, hook_request, result.cards, instance)
    return jsonify(result.as_json())


def _report_flaws(result: Answer) -> None:
    """Records read in full although not valid FHIR: for the operator (log, metric), never on a card."""
    for flaw in result.flaws:
        for element in sorted(flaw.elements) or ["(resource)"]:
            metrics.structural_flaw(flaw.resource_type, element)
    if result.flaws:
        log.info("%d record(s) not valid FHIR outside what the advice was read from: %s", len(result.flaws),
                 ", ".join(sorted({f"{flaw.resource_type}.{element}" for flaw in result.flaws
                                   for element in flaw.elements})))


def _record_held(service_id: str, hook_request: HookRequest, held: list[holdback.HeldBack], instance: str) -> None:
    """Every finding held back is counted, logged (how many and why, nothing of the patient) and recorded."""
    for item in held:
        metrics.held_back(item.reason, item.finding.advice, item.finding.rule.id)
    log.info("%d finding(s) held back: %s", len(held), ", ".join(sorted({item.reason for item in held})))
    recorder.record_held_back(
        service_id, hook_request,
        [(finding_hash(item.finding.key), item.finding.rule.id, item.finding.advice, item.reason) for item in held],
        runtime().knowledge.version,
        instance,
    )


def _fetcher(hook_request: HookRequest, definition: ServiceDefinition, deadline: float) -> Fetcher | None:
    """The FHIR client within the call's budget (``deadline``, shared with the terminology look-ups), counting each
    prefetch key it is asked to read; unless the caller names a fhirServer its EHR is not registered for: then
    nothing is read from it (and no token sent there), and the card says why."""
    allowed = auth.allowed_fhir_servers()
    server = (hook_request.fhir_server or "").rstrip("/")
    if allowed is not None and server and server not in allowed:
        log.warning("fhirServer on host %s is not listed for the calling EHR; nothing read", urlsplit(server).hostname)
        problem = "the fhirServer named is not one this EHR is registered for, so nothing was read from it"
        return lambda request: Refused("not-listed", problem)
    fetch = runtime().fetch
    if fetch is None:
        return None

    def opened(request: HookRequest) -> QueryRunner:
        run = fetch(request, deadline)

        def counted(queries: Mapping[str, str], /) -> Mapping[str, FetchResult]:
            for key in queries.keys() & definition.prefetch.keys():  # the other keys are reads of Medications
                metrics.prefetch(key, "fetched")
            return run(queries)

        return counted

    return opened
