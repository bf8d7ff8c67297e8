"""The CDS Hooks feedback endpoint: clinicians' accepted and overridden cards, stored before the answer."""

from __future__ import annotations

import logging

from flask import Blueprint, Response, jsonify

from cds_hooks.feedback import load_feedback
from service.http.bodies import json_body
from service.runtime import runtime
from service.storage import storage
from service.storage.records import save_feedback

log = logging.getLogger(__name__)
blueprint = Blueprint("feedback", __name__)


@blueprint.post("/cds-services/<service_id>/feedback")
def post_feedback(service_id: str) -> Response:
    """200 only once every item is committed; 400 naming the bad field; 404 unknown service; 503 database down."""
    state = runtime()
    definition = state.services.by_id(service_id)
    items = load_feedback(json_body())
    new = save_feedback(storage().database, definition.id, items, state.clock())
    log.info("feedback for %s: %d item(s), %d new", definition.id, len(items), new)
    return jsonify({"received": len(items), "new": new})
