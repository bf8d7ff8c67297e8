"""The two baselines every scenario is compared with, served by the same production server settings.

``echo_app`` only decodes the JSON body and answers no cards: the floor of HTTP plus JSON. ``naive_app`` also
validates the whole prefetch with fhir.resources, as a service that reads every resource into models would.
"""

from __future__ import annotations

import json

from fhir.resources.R4B.bundle import Bundle
from flask import Flask, Response, jsonify, request

echo_app = Flask("echo")
naive_app = Flask("naive")


@echo_app.post("/cds-services/<service_id>")
def _echo(service_id: str) -> Response:
    json.loads(request.get_data(cache=False))
    return jsonify({"cards": []})


@naive_app.post("/cds-services/<service_id>")
def _naive(service_id: str) -> Response:
    body = json.loads(request.get_data(cache=False))
    if "draftOrders" in body["context"]:  # patient-view has none
        Bundle.model_validate(body["context"]["draftOrders"])
    for value in (body.get("prefetch") or {}).values():
        if isinstance(value, dict) and value.get("resourceType") == "Bundle":
            Bundle.model_validate(value)
    return jsonify({"cards": []})


for _app in (echo_app, naive_app):
    _app.add_url_rule("/readyz", "readyz", lambda: "ok")
