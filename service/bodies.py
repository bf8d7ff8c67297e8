"""Request bodies as JSON, read the same way by every route that takes one."""

from __future__ import annotations

import json
from typing import Any

from flask import request

from cds_hooks.errors import InvalidRequest
from service.failures import UnsupportedMediaType


def json_body() -> Any:
    """The request body as JSON: 415 for another content type, 400 for a body that is not JSON."""
    if request.mimetype not in ("application/json", "application/fhir+json"):
        raise UnsupportedMediaType(
            f"Content-Type must be application/json, not {request.mimetype or 'missing'!r}.", field="Content-Type"
        )
    raw = request.get_data(cache=False)
    try:
        return json.loads(raw, parse_constant=_not_json)
    except (ValueError, UnicodeDecodeError):
        raise InvalidRequest("The request body is not valid JSON.") from None
    except RecursionError:
        raise InvalidRequest("The request body is nested too deeply to read.") from None


def _not_json(constant: str) -> None:
    """NaN and Infinity are not JSON (RFC 8259), though Python's reader accepts them."""
    raise ValueError(f"{constant} is not a JSON value")
