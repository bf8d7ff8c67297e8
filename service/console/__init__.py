"""The console under ``/console/``, for the committee that owns the rules and the people who run the service:
status, rules with search, card preview, and feedback with plots.

On by default in development; in production off unless ``CDS_CONSOLE=true``, and then only with its own
credential (``CDS_CONSOLE_TOKEN``), never the EHRs' JWTs. It shows no patient identifier: the store keeps keyed
hashes, and the preview shows names and statuses, not ids.
"""

from __future__ import annotations

import logging

from flask import Flask, redirect, url_for
from werkzeug.wrappers import Response

from service.config import Settings

log = logging.getLogger(__name__)


def init_app(app: Flask, settings: Settings) -> None:
    if not settings.console_enabled:
        log.info("console off (CDS_CONSOLE)")
        return
    from service.console.pages import blueprint

    app.register_blueprint(blueprint)
    app.add_url_rule("/", "console_home", _home)
    guarded = "with its credential" if settings.console_token else "without a credential (development)"
    log.info("console on at /console/ %s", guarded)


def _home() -> Response:
    """The service's root leads a person to the console."""
    return redirect(url_for("console.status"))
