"""Terminology-server look-ups share the hook call's one time budget (CDS_FHIR_TIMEOUT_SECONDS) with the FHIR
reads: many unknown codes against a slow server cost the budget, not a timeout each."""

from __future__ import annotations

import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import ClassVar

import pytest

from service import create_app
from service.config import Settings
from tests.builders import hook_request, medication, ordered
from tests.conftest import NOW

pytestmark = pytest.mark.integration

DELAY = 0.3
BUDGET = 0.5
CODES = 8


class _SlowTerminology(BaseHTTPRequestHandler):
    asked: ClassVar[list[str]] = []

    def do_GET(self) -> None:
        type(self).asked.append(self.path)
        time.sleep(DELAY)
        body = b'{"relatedGroup": {"conceptGroup": []}}'
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args: object) -> None:
        return None


@pytest.fixture
def slow_server():
    _SlowTerminology.asked = []
    server = ThreadingHTTPServer(("127.0.0.1", 0), _SlowTerminology)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_port}"
    server.shutdown()
    thread.join(timeout=10)


def test_unknown_codes_are_looked_up_only_while_the_calls_budget_lasts(slow_server, tmp_path):
    settings = Settings(rxnav_url=slow_server, rxnav_timeout=5, fhir_timeout_seconds=BUDGET,
                        database_url=f"sqlite:///{tmp_path}/cds.sqlite3")
    client = create_app(settings, clock=lambda: NOW).test_client()
    unknown = [medication(code=str(990000 + number), display=f"Nardil {number}") for number in range(CODES)]
    response = client.post("/cds-services/ketamine-order-sign", json=hook_request(ordered("esketamine"),
                                                                                  medications=unknown))
    assert response.status_code == 200
    assert response.json["cards"][0]["summary"].startswith("Avoid esketamine with Nardil")
    # A request takes DELAY; within BUDGET at most two can start. Without the shared budget every code was asked.
    assert len(_SlowTerminology.asked) <= BUDGET // DELAY + 1 < CODES
