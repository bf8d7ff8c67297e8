"""A body over CDS_MAX_REQUEST_BYTES is 413 however it is sent, under the production server: with Content-Length,
and chunked (no length), where it used to be cut at the limit and answered as if that were the whole body."""

from __future__ import annotations

import http.client
import json
from urllib.parse import urlsplit

import pytest

from tests.conftest import FIXTURES
from tests.serving import gunicorn

pytestmark = pytest.mark.integration

LIMIT = 4096
SIGN = "/cds-services/ketamine-order-sign"


@pytest.fixture(scope="module")
def base(tmp_path_factory):
    with gunicorn(tmp_path_factory.mktemp("limit"), CDS_MAX_REQUEST_BYTES=str(LIMIT), CDS_WORKERS="1") as server:
        yield server.base


def post(base: str, body: bytes, *, chunked: bool) -> tuple[int, dict]:
    parts = urlsplit(base)
    connection = http.client.HTTPConnection(parts.hostname, parts.port, timeout=30)
    try:
        if chunked:
            pieces = iter([body[start : start + 1000] for start in range(0, len(body), 1000)])
            connection.request("POST", SIGN, body=pieces, headers={"Content-Type": "application/json"},
                               encode_chunked=True)
        else:
            connection.request("POST", SIGN, body=body, headers={"Content-Type": "application/json"})
        response = connection.getresponse()
        return response.status, json.loads(response.read())
    finally:
        connection.close()


def maoi() -> bytes:
    body = json.loads((FIXTURES / "order-sign-esketamine-maoi.json").read_text(encoding="utf-8"))
    return json.dumps(body, separators=(",", ":")).encode()


@pytest.mark.parametrize("chunked", [False, True])
def test_a_body_over_the_limit_is_413_even_when_what_fits_is_valid_json(base, chunked):
    body = maoi() + b" " * (2 * LIMIT)  # cut at the limit, it would still be the whole request
    status, answer = post(base, body, chunked=chunked)
    assert status == 413, answer
    assert answer["issue"][0]["code"] == "too-long"


@pytest.mark.parametrize("chunked", [False, True])
def test_a_body_within_the_limit_is_read_whole_either_way(base, chunked):
    body = maoi()
    assert len(body) <= LIMIT
    status, answer = post(base, body, chunked=chunked)
    assert status == 200 and answer["cards"][0]["summary"].startswith("Avoid")
