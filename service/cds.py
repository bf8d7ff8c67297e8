"""CDS Hooks routes: discovery and the order services."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, Response, jsonify

from cds_hooks import order_check
from cds_hooks.protocol import HookRequest, load_request
from cds_hooks.services import SERVICES, service
from service import issued_cards, logging_setup, metrics
from service.bodies import json_body
from service.runtime import runtime

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
        return _answer(definition.id, hook_request, order_check.unidentified_cards(drafts, state.knowledge))
    for key in definition.prefetch.keys() & hook_request.prefetch.keys():  # the FHIR client counts those it reads
        metrics.prefetch(key, "used")
    cards = order_check.check(
        hook_request, definition, state.knowledge, drafts, state.clock(), state.fetch, state.resolver
    )
    return _answer(definition.id, hook_request, cards)


def _answer(service_id: str, hook_request: HookRequest, cards: list[dict[str, Any]]) -> Response:
    """The response, with the cards counted (metrics, the request's log line) and queued for the record."""
    logging_setup.note_cards(len(cards))
    if cards:
        metrics.observe_cards(cards)
        issued_cards.record(service_id, hook_request, cards)
    return jsonify({"cards": cards})
