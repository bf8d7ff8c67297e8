"""gunicorn really serves the app with the production configuration, its workers sharing one SQLite file, and
stops cleanly on SIGTERM."""

from __future__ import annotations

import json
import signal
from collections.abc import Iterator
from pathlib import Path

import pytest
from prometheus_client.parser import text_string_to_metric_families

from cds_hooks.services import OFFERS
from tests.serving import Server, get, gunicorn, post_json

pytestmark = pytest.mark.integration

@pytest.fixture
def server(tmp_path: Path) -> Iterator[Server]:
    """gunicorn started the way the container starts it, on a free loopback port, once /readyz answers 200."""
    metrics_dir = tmp_path / "metrics"
    metrics_dir.mkdir()
    (metrics_dir / "counter_999999.db").write_bytes(b"left over from an earlier run")
    with gunicorn(tmp_path, CDS_WORKERS="2", CDS_THREADS="2", PROMETHEUS_MULTIPROC_DIR=str(metrics_dir)) as running:
        yield running


def test_gunicorn_serves_discovery_calls_and_metrics_then_stops_cleanly_on_sigterm(server, fixture):
    status, headers, body = get(server.base + "/cds-services", **{"X-Request-ID": "probe-1"})
    assert status == 200
    assert headers["X-Request-ID"] == "probe-1"
    assert {entry["id"] for entry in json.loads(body)["services"]} == {offer.id for offer in OFFERS}
    for _ in range(4):
        get(server.base + "/cds-services")
    status, answer = post_json(server.base + "/cds-services/ketamine-order-sign", fixture("order-sign-esketamine-maoi"))
    assert status == 200
    assert answer["cards"][0]["summary"].startswith("Avoid")
    feedback = {
        "feedback": [
            {"card": answer["cards"][0]["uuid"], "outcome": "overridden", "outcomeTimestamp": "2026-11-21T12:05:00Z"}
        ]
    }
    assert post_json(server.base + "/cds-services/ketamine-order-sign/feedback", feedback) == (
        200,
        {"received": 1, "new": 1},
    )

    status, headers, body = get(server.base + "/metrics")

    assert status == 200
    assert headers["Content-Type"].startswith("text/plain")
    samples = {
        (s.name, tuple(sorted(s.labels.items()))): s.value
        for family in text_string_to_metric_families(body.decode())
        for s in family.samples
    }
    # Five discovery calls, served by whichever of the two workers took them, add up to five.
    assert samples[("ketamine_cds_requests_total", (("hook", ""), ("service", "discovery"), ("status", "200")))] == 5
    assert samples[("ketamine_cds_cards_total", (("advice", "avoid"), ("rule", "maoi")))] == 1
    assert not (server.metrics_dir / "counter_999999.db").exists()

    server.process.send_signal(signal.SIGTERM)

    assert server.process.wait(timeout=60) == 0
    lines = server.log_lines()
    assert all(json.loads(line)["message"] for line in lines)
    assert [line for line in lines if json.loads(line)["level"] == "ERROR"] == []
    assert sum("Running upgrade  -> 0001" in json.loads(line)["message"] for line in lines) == 1, "one worker migrated"
    assert any(json.loads(line)["logger"] == "gunicorn.error" for line in lines)
    assert any(json.loads(line).get("request_id") == "probe-1" for line in lines)
