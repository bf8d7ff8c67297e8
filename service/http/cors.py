"""Cross-origin access for browser-based CDS Clients such as the CDS Hooks sandbox.

Preflights may send ``Authorization`` and ``Content-Type``; no cookies are ever allowed (the service's only
credential is the bearer JWT, which a page must attach itself). In development every origin is allowed, so the
public sandbox can call a service on the developer's machine; in production no origin is, unless
``CDS_CORS_ORIGINS`` lists them. A request without an ``Origin`` header (an EHR's server, not a browser) gets no
CORS headers.
"""

from __future__ import annotations

import logging

from flask import Flask
from flask_cors import CORS

from service.config import Settings

log = logging.getLogger(__name__)

ALLOWED_HEADERS = ("Authorization", "Content-Type")


def origins(settings: Settings) -> tuple[str, ...]:
    if settings.cors_origins is not None:
        return settings.cors_origins
    return () if settings.env == "production" else ("*",)


def init_app(app: Flask, settings: Settings) -> None:
    allowed = origins(settings)
    if not allowed:
        return
    log.info("cross-origin calls allowed from %s", ", ".join(allowed))
    CORS(
        app,
        resources={r"/cds-services(/.*)?": {"origins": list(allowed)}},
        allow_headers=list(ALLOWED_HEADERS),
        expose_headers=["WWW-Authenticate"],
        methods=["GET", "POST", "OPTIONS"],
        supports_credentials=False,
        max_age=600,
        always_send=False,
    )
