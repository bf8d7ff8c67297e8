"""Every error leaves as a FHIR OperationOutcome with the right HTTP status: the one place errors map to HTTP."""

from __future__ import annotations

import logging
import traceback
from pathlib import Path

from flask import Flask, Response, jsonify
from werkzeug.exceptions import HTTPException

from cds_hooks.errors import CdsError, DataUnavailable, HookMismatch, InvalidRequest, UnknownService
from service.failures import Refused, Unauthenticated, Unavailable, UnsupportedMediaType
from service.runtime import runtime

log = logging.getLogger(__name__)

_STATUS: dict[type[CdsError], int] = {
    InvalidRequest: 400,
    HookMismatch: 400,
    UnknownService: 404,
    DataUnavailable: 412,
}
_ISSUE_CODE = {400: "invalid", 401: "login", 404: "not-found", 405: "not-supported", 412: "incomplete", 413: "too-long",
               415: "not-supported", 500: "exception", 503: "transient"}


_STATUS.update({UnsupportedMediaType: 415, Unauthenticated: 401, Unavailable: 503, Refused: 400})


def status_of(error: CdsError) -> int:
    """The HTTP status a domain error maps to (500 for a kind not listed)."""
    return next((code for kind, code in _STATUS.items() if isinstance(error, kind)), 500)


def operation_outcome(status: int, message: str, field: str | None = None) -> Response:
    issue: dict[str, object] = {"severity": "error", "code": _ISSUE_CODE.get(status, "processing"),
                                "diagnostics": message}
    if field:
        issue["expression"] = [field]
    response = jsonify({"resourceType": "OperationOutcome", "issue": [issue]})
    response.status_code = status
    response.mimetype = "application/fhir+json"
    return response


def init_app(app: Flask) -> None:
    @app.errorhandler(CdsError)
    def _domain(error: CdsError) -> Response:
        status = status_of(error)
        if status != 401:  # service.auth logs each refused authentication once, with its reason
            log.info("request refused: %s (%s)", error.code, status)
        response = operation_outcome(status, error.message, error.field)
        if status == 401:
            response.headers["WWW-Authenticate"] = "Bearer"
        return response

    @app.errorhandler(HTTPException)
    def _http(error: HTTPException) -> Response:
        status = error.code or 500
        response = operation_outcome(status, error.description or error.name)
        allowed = getattr(error, "valid_methods", None)  # set on MethodNotAllowed only
        if status == 405 and allowed:
            response.headers["Allow"] = ", ".join(allowed)
        return response

    production = runtime(app).settings.env == "production"

    @app.errorhandler(Exception)
    def _unexpected(error: Exception) -> Response:
        if production:  # a message can carry a value from the request (a patient's name): type and place only
            log.error("unexpected error: %s", where(error))
        else:
            log.exception("unexpected error")
        return operation_outcome(500, "The service failed unexpectedly; the error has been logged.")


def where(error: BaseException) -> str:
    """``KeyError in service/cds.py:41 (call_service)``: the error's type and the line it was raised at, nothing
    of its message or arguments.

    >>> try:
    ...     {}["secret"]
    ... except KeyError as error:
    ...     where(error).startswith("KeyError in ")
    True
    """
    frames = traceback.extract_tb(error.__traceback__)
    if not frames:
        return type(error).__name__
    frame = frames[-1]
    path = Path(frame.filename)
    shown = "/".join(path.parts[-2:]) if len(path.parts) >= 2 else path.name
    return f"{type(error).__name__} in {shown}:{frame.lineno} ({frame.name})"
