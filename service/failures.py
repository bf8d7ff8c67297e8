"""The service layer's own failures, kept free of Flask so that storage, replay and the FHIR client can raise them;
``service/http/errors.py`` maps them to HTTP statuses and ``service/health.py`` reports readiness ones."""

from __future__ import annotations

from cds_hooks.errors import CdsError


class UnsupportedMediaType(CdsError):
    code = "unsupported-media-type"


class Unauthenticated(CdsError):
    """The caller did not prove who it is; ``reason`` (a stable code) is for logs and metrics, never the body."""

    code = "unauthenticated"

    def __init__(self, reason: str) -> None:
        super().__init__("The request could not be authenticated.")
        self.reason = reason


class Unavailable(CdsError):
    """A backing store (database, replay store) cannot be reached; the client may retry later."""

    code = "unavailable"


class Refused(CdsError):
    """The database refused the data itself (a value it cannot hold): trying again would fail the same way."""

    code = "refused-by-database"


class NotReady(Exception):
    """A readiness check failed for a reason safe to show to anyone (no host names, no credentials)."""
