"""The application factory."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime

from flask import Flask

from cds_hooks.services import definitions
from service import auth, console, health, holdback, logging_setup, metrics, storage
from service.config import Settings
from service.fhir.client import FhirClient
from service.fhir.rxnav import resolver_from
from service.http import cds, cors, errors, feedback
from service.http.bodies import OrjsonProvider
from service.runtime import EXTENSION, Runtime, site_knowledge, utc_now
from service.storage import recorder


def create_app(settings: Settings | None = None, *, clock: Callable[[], datetime] = utc_now) -> Flask:
    """Build the app; the knowledge base is loaded and checked here, so a bad rule file stops start-up."""
    settings = settings or Settings.from_env()
    logging_setup.configure(settings.log_level)
    knowledge = site_knowledge(settings)
    app = Flask(__name__)
    app.config["MAX_CONTENT_LENGTH"] = settings.max_request_bytes
    app.json = OrjsonProvider(app)
    fetch = FhirClient(settings.fhir_timeout_seconds, settings.fhir_max_pages, settings.allow_http_fhir)
    app.extensions[EXTENSION] = Runtime(
        settings=settings, knowledge=knowledge, services=definitions(knowledge), clock=clock, fetch=fetch,
        resolver=resolver_from(settings),
    )
    logging_setup.init_app(app)
    errors.init_app(app)
    metrics.init_app(app)
    health.init_app(app)
    storage.init_app(app, settings)
    recorder.init_app(app)
    holdback.init_app(app, settings)
    auth.init_app(app, settings)
    cors.init_app(app, settings)
    app.register_blueprint(cds.blueprint)
    app.register_blueprint(feedback.blueprint)
    console.init_app(app, settings)
    return app
