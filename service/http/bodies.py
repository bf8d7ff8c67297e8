"""Request and response bodies as JSON, read and written the same way by every route.

orjson does both: decoding the request body is the largest single cost of a hook call (an order-sign call carries
the patient's medication list), and orjson decodes it in about half the time of the standard library and encodes
cards several times faster. It is also stricter, as RFC 8259 asks: NaN and Infinity, numbers too large for a
double, lone surrogates and non-UTF-8 bodies are refused with a 400.
"""

from __future__ import annotations

from typing import Any

import orjson
from flask import Response, request
from flask.json.provider import JSONProvider

from cds_hooks.errors import InvalidRequest
from service.failures import UnsupportedMediaType

_DEPTH_LIMIT_MESSAGE = "depth limit exceeded"
"""How orjson says a body nests deeper than it reads (1024 levels)."""


def json_body() -> Any:
    """The request body as JSON: 415 for another content type, 400 for a body that is not JSON."""
    if request.mimetype not in ("application/json", "application/fhir+json"):
        raise UnsupportedMediaType(
            f"Content-Type must be application/json, not {request.mimetype or 'missing'!r}.", field="Content-Type"
        )
    try:
        return orjson.loads(request.get_data(cache=False))
    except orjson.JSONDecodeError as error:
        if str(error).startswith(_DEPTH_LIMIT_MESSAGE):
            raise InvalidRequest("The request body is nested too deeply to read.") from None
        raise InvalidRequest("The request body is not valid JSON.") from None


class OrjsonProvider(JSONProvider):
    """Flask's ``jsonify`` and ``app.json`` through orjson: compact UTF-8, keys in the order they were built."""

    def dumps(self, obj: Any, **kwargs: Any) -> str:
        return orjson.dumps(obj).decode()

    def loads(self, s: str | bytes, **kwargs: Any) -> Any:
        return orjson.loads(s)

    def response(self, *args: Any, **kwargs: Any) -> Response:
        body = orjson.dumps(self._prepare_response_obj(args, kwargs))
        return self._app.response_class(body, mimetype="application/json")  # type: ignore[return-value, arg-type]
