"""gunicorn really serves the app with the production configuration, its workers sharing one SQLite file, and
stops cleanly on SIGTERM."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest
from prometheus_client.parser import text_string_to_metric_families

from cds_hooks.services import SERVICES
from tests.scrape import closed_port

pytestmark = pytest.mark.integration

START_WAIT = 60.0
"""Seconds gunicorn may take to become ready on a slow machine: a bound, not a measurement."""


def get(url: str, **headers: str) -> tuple[int, dict[str, str], bytes]:
    request = urllib.request.Request(url, headers=headers)
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return response.status, dict(response.headers), response.read()
    except urllib.error.HTTPError as error:
        return error.code, dict(error.headers), error.read()


def post_json(url: str, body: dict) -> tuple[int, dict]:
    request = urllib.request.Request(url, data=json.dumps(body).encode(), headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(request, timeout=10) as response:
        return response.status, json.load(response)


class Server:
    def __init__(self, process: subprocess.Popen, base: str, log: Path, metrics_dir: Path) -> None:
        self.process, self.base, self.log, self.metrics_dir = process, base, log, metrics_dir

    def log_lines(self) -> list[str]:
        return [line for line in self.log.read_text(encoding="utf-8").splitlines() if line.strip()]


@pytest.fixture
def server(tmp_path: Path) -> Iterator[Server]:
    """gunicorn started the way the container starts it, on a free loopback port, once /readyz answers 200."""
    port = closed_port()
    metrics_dir = tmp_path / "metrics"
    metrics_dir.mkdir()
    (metrics_dir / "counter_999999.db").write_bytes(b"left over from an earlier run")
    env = {key: value for key, value in os.environ.items() if not key.startswith(("CDS_", "PROMETHEUS_"))}
    env.update(
        CDS_BIND=f"127.0.0.1:{port}",
        CDS_WORKERS="2",
        CDS_THREADS="2",
        PROMETHEUS_MULTIPROC_DIR=str(metrics_dir),
        DATABASE_URL=f"sqlite:///{tmp_path}/var/cds.sqlite3",
    )
    log = tmp_path / "gunicorn.log"
    with log.open("wb") as output:
        process = subprocess.Popen(
            [sys.executable, "-m", "gunicorn", "-c", "python:service.gunicorn_conf"],
            env=env,
            stdout=output,
            stderr=subprocess.STDOUT,
        )
    running = Server(process, f"http://127.0.0.1:{port}", log, metrics_dir)
    try:
        wait_until_ready(running)
        yield running
    finally:
        if process.poll() is None:
            process.kill()
            process.wait(timeout=30)


def wait_until_ready(server: Server) -> None:
    deadline = time.monotonic() + START_WAIT
    while time.monotonic() < deadline:
        if server.process.poll() is not None:
            pytest.fail("gunicorn exited before it was ready:\n" + "\n".join(server.log_lines()))
        try:
            if get(server.base + "/readyz")[0] == 200:
                return
        except OSError:
            pass
        time.sleep(0.1)
    pytest.fail(f"gunicorn was not ready within {START_WAIT:.0f} s:\n" + "\n".join(server.log_lines()))


def test_gunicorn_serves_discovery_calls_and_metrics_then_stops_cleanly_on_sigterm(server, fixture):
    status, headers, body = get(server.base + "/cds-services", **{"X-Request-ID": "probe-1"})
    assert status == 200
    assert headers["X-Request-ID"] == "probe-1"
    assert {entry["id"] for entry in json.loads(body)["services"]} == {definition.id for definition in SERVICES}
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
