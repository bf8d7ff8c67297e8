"""CDS Hooks routes: discovery and the services (order-select, order-sign, patient-view)."""

from __future__ import annotations

import logging
import time
from collections.abc import Mapping
from urllib.parse import urlsplit

from flask import Blueprint, Response, jsonify

from cds_hooks.fetch import Fetcher, FetchResult, QueryRunner
from cds_hooks.ids import DIGEST_PREFIX
from cds_hooks.order_check import answer
from cds_hooks.protocol import HookRequest, load_request
from cds_hooks.services import SERVICES, ServiceDefinition, service_by_id
from service import auth, logging_setup, metrics
from service.fhir.client import Refused
from service.http.bodies import json_body
from service.runtime import runtime
from service.storage import recorder, storage

log = logging.getLogger(__name__)
blueprint = Blueprint("cds", __name__)


@blueprint.get("/cds-services")
def discovery() -> Response:
    return jsonify({"services": [definition.discovery() for definition in SERVICES]})


@blueprint.post("/cds-services/<service_id>")
def call_service(service_id: str) -> Response:
    """The core's answer, with its cards counted (metrics, the request's log line) and queued for the record."""
    definition = service_by_id(service_id)
    hook_request = load_request(json_body(), definition.hook)
    instance = storage().hook_instance_label(hook_request.hook_instance)
    logging_setup.bind_hook_instance(instance)
    if instance.startswith(DIGEST_PREFIX):  # answered all the same: refusing would lose an Avoid over a slip
        metrics.hook_instance_not_uuid(definition.id)
    state = runtime()
    deadline = time.monotonic() + state.settings.fhir_timeout_seconds
    resolver = state.resolver.within(deadline) if state.resolver is not None else None
    result = answer(hook_request, definition, state.knowledge, state.clock(),
                    _fetcher(hook_request, definition, deadline), resolver)
    if result.checked:
        for key in definition.prefetch.keys() & hook_request.prefetch.keys():
            metrics.prefetch(key, "used")
    logging_setup.note_cards(len(result.cards))
    if result.cards:
        metrics.observe_cards(result.cards)
        recorder.record(definition.id, hook_request, result.cards, instance)
    return jsonify(result.as_json())


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
