"""CDS Hooks routes: discovery and the order services."""

from __future__ import annotations

import logging
from typing import Any
from urllib.parse import urlsplit

from flask import Blueprint, Response, jsonify

from cds_hooks import order_check
from cds_hooks.cards import Layout
from cds_hooks.ids import finding_hash
from cds_hooks.order_check import Assessment, Fetcher
from cds_hooks.protocol import HookRequest, load_request
from cds_hooks.services import SERVICES, service_by_id
from service import auth, holdback, logging_setup, metrics
from service.fhir import client as fhir_client
from service.http.bodies import json_body
from service.runtime import runtime
from service.storage import recorder

log = logging.getLogger(__name__)
blueprint = Blueprint("cds", __name__)


@blueprint.get("/cds-services")
def discovery() -> Response:
    return jsonify({"services": [
        {**definition.discovery(),
         "extension": {"configuration-items": [holdback.CONFIGURATION_ITEMS[definition.hook]]}}
        for definition in SERVICES
    ]})


@blueprint.post("/cds-services/<service_id>")
def call_service(service_id: str) -> Response:
    definition = service_by_id(service_id)
    hook_request = load_request(json_body(), definition.hook)
    logging_setup.bind_hook_instance(hook_request.hook_instance)
    state = runtime()
    drafts = order_check.ketamine_orders(hook_request, state.knowledge, state.resolver)
    if not drafts.ordered:
        return _answer(definition.id, hook_request, order_check.unidentified_cards(drafts, state.knowledge))
    for key in definition.prefetch.keys() & hook_request.prefetch.keys():  # the FHIR client counts those it reads
        metrics.prefetch(key, "used")
    now = state.clock()
    assessment = order_check.assess(
        hook_request, definition, state.knowledge, drafts, now, _fetcher(hook_request), state.resolver
    )
    _report_flaws(assessment)
    shown, held = holdback.hold_back(hook_request, assessment.findings, now)
    holdback.remember(hook_request, shown)
    if held:
        _record_held(definition.id, hook_request, held)
    layout = Layout(combine_monitor=state.settings.monitor_cards == "combined")
    return _answer(definition.id, hook_request, assessment.cards(state.knowledge, shown, layout))


def _report_flaws(assessment: Assessment) -> None:
    """Records read in full although not valid FHIR: for the operator (log, metric), never on a card."""
    for flaw in assessment.flaws:
        for element in sorted(flaw.elements) or ["(resource)"]:
            metrics.structural_flaw(flaw.resource_type, element)
    if assessment.flaws:
        log.info("%d record(s) not valid FHIR outside what the advice was read from: %s", len(assessment.flaws),
                 ", ".join(sorted({f"{flaw.resource_type}.{element}" for flaw in assessment.flaws
                                   for element in flaw.elements})))


def _record_held(service_id: str, hook_request: HookRequest, held: list[holdback.HeldBack]) -> None:
    for item in held:
        metrics.held_back(item.reason, item.finding.advice, item.finding.rule.id)
    log.info("%d finding(s) held back: %s", len(held), ", ".join(sorted({item.reason for item in held})))
    recorder.record_held_back(
        service_id, hook_request,
        [(finding_hash(item.finding.key), item.finding.rule.id, item.finding.advice, item.reason) for item in held],
        runtime().knowledge.version,
    )


def _fetcher(hook_request: HookRequest) -> Fetcher | None:
    """The FHIR client, unless the caller names a fhirServer its EHR is not registered for: then nothing is read
    from it (and no token sent there), and the card says why."""
    allowed = auth.allowed_fhir_servers()
    server = (hook_request.fhir_server or "").rstrip("/")
    if allowed is None or not server or server in allowed:
        return runtime().fetch
    log.warning("fhirServer on host %s is not listed for the calling EHR; nothing read", urlsplit(server).hostname)
    problem = "the fhirServer named is not one this EHR is registered for, so nothing was read from it"
    return lambda request, queries: fhir_client.refused(queries, "not-listed", problem)


def _answer(service_id: str, hook_request: HookRequest, cards: list[dict[str, Any]]) -> Response:
    """The response, with the cards counted (metrics, the request's log line) and queued for the record."""
    logging_setup.note_cards(len(cards))
    if cards:
        metrics.observe_cards(cards)
        recorder.record(service_id, hook_request, cards)
    return jsonify({"cards": cards})
