"""The domain's exceptions.

Each has a stable ``code`` (never reused) so logs, OperationOutcomes and tests can name a failure without
matching message text. The HTTP layer maps them to status codes in one place (``service/http/errors.py``).
"""

from __future__ import annotations

from collections.abc import Mapping


class CdsError(Exception):
    """Base class: every error the core raises on purpose."""

    code = "cds-error"

    def __init__(self, message: str, *, field: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.field = field


class InvalidRequest(CdsError):
    """The hook request does not follow the CDS Hooks specification (a field is missing or of the wrong type)."""

    code = "invalid-request"


class HookMismatch(CdsError):
    """The request's ``hook`` is not the hook the called service is registered for."""

    code = "hook-mismatch"


class UnknownService(CdsError):
    """No CDS service has the requested id."""

    code = "unknown-service"


class DataUnavailable(CdsError):
    """Data the service needs could neither be read from prefetch nor fetched (CDS Hooks answers 412)."""

    code = "data-unavailable"


class KnowledgeError(CdsError):
    """A knowledge-base or site-configuration file is invalid; start-up must stop."""

    code = "knowledge-invalid"

    def __init__(self, message: str, *, file: str, field: str | None = None) -> None:
        super().__init__(f"{file}: {field + ': ' if field else ''}{message}", field=field)
        self.file = file


def first_error(messages: object, path: str = "") -> tuple[str, str]:
    """The first leaf of marshmallow's nested error messages, as (``context.draftOrders``, message)."""
    if isinstance(messages, Mapping) and messages:
        key, value = next(iter(messages.items()))
        if key == "_schema":
            return first_error(value, path)
        return first_error(value, f"{path}.{key}" if path else str(key))
    if isinstance(messages, list) and messages:
        if all(isinstance(item, str) for item in messages):
            return path or "(body)", str(messages[0])
        return first_error(messages[0], path)
    return path or "(body)", str(messages)
