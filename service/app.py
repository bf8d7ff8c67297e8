"""The application factory."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime

from flask import Flask

from cds_hooks.knowledge import DATA_DIR, load_knowledge
from service import cds, errors, health, logging_setup, metrics
from service.config import Settings
from service.runtime import EXTENSION, Runtime, utc_now


def create_app(settings: Settings | None = None, *, clock: Callable[[], datetime] = utc_now) -> Flask:
    """Build the app; the knowledge base is loaded and checked here, so a bad rule file stops start-up."""
    settings = settings or Settings.from_env()
    logging_setup.configure(settings.log_level)
    knowledge = load_knowledge(settings.knowledge_dir or DATA_DIR, settings.knowledge_overrides)
    app = Flask(__name__)
    app.config["MAX_CONTENT_LENGTH"] = settings.max_request_bytes
    app.json.sort_keys = False
    app.extensions[EXTENSION] = Runtime(settings=settings, knowledge=knowledge, clock=clock)
    logging_setup.init_app(app)
    errors.init_app(app)
    metrics.init_app(app)
    health.init_app(app)
    app.register_blueprint(cds.blueprint)
    return app
