"""CDS Hooks routes: discovery and the order services."""

from __future__ import annotations

import logging

from flask import Blueprint, Response, jsonify

from cds_hooks import order_check
from cds_hooks.protocol import load_request
from cds_hooks.services import SERVICES, service
from service import issued_cards, logging_setup, metrics
from service.bodies import json_body
from service.runtime import runtime

log = logging.getLogger(__name__)
blueprint = Blueprint("cds", __name__)


@blueprint.get("/cds-services")
def discovery() -> Response:
    return jsonify({"services": [definition.discovery() for definition in SERVICES]})


@blueprint.post("/cds-services/<service_id>")
def call_service(service_id: str) -> Response:
    definition = service(service_id)
    hook_request = load_request(json_body(), definition.hook)
    logging_setup.bind_hook_instance(hook_request.hook_instance)
    state = runtime()
    drafts = order_check.ketamine_orders(hook_request, state.knowledge, state.resolver)
    if not drafts.ordered:
        notices = order_check.unidentified_cards(drafts, state.knowledge)
        if notices:
            metrics.observe_cards(notices)
            issued_cards.record(definition.id, hook_request, notices)
        return jsonify({"cards": notices})
    for key in definition.prefetch.keys() & hook_request.prefetch.keys():  # the FHIR client counts those it reads
        metrics.prefetch(key, "used")
    cards = order_check.check(
        hook_request, definition, state.knowledge, drafts, state.clock(), state.fetch, state.resolver
    )
    metrics.observe_cards(cards)
    log.info("hook %s answered with %d card(s)", hook_request.hook_instance, len(cards))
    issued_cards.record(definition.id, hook_request, cards)
    return jsonify({"cards": cards})
