"""A real server for tests: gunicorn with the production configuration, as the container starts it, on a free
loopback port, with its log in a file and its database in a temporary folder."""

from __future__ import annotations

import contextlib
import json
import os
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from tests.scrape import closed_port

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


def gunicorn(tmp_path: Path, **settings: str) -> contextlib.AbstractContextManager[Server]:
    """gunicorn started the way the container starts it, on a free loopback port, once /readyz answers 200;
    ``settings`` are environment variables (the database defaults to an SQLite file in ``tmp_path``). Killed at
    the end if the test did not stop it."""
    port = closed_port()
    argv = [sys.executable, "-m", "gunicorn", "-c", "python:service.gunicorn_conf"]
    metrics = str(tmp_path / "metrics")
    return _running(argv, port, tmp_path, {"CDS_BIND": f"127.0.0.1:{port}", "PROMETHEUS_MULTIPROC_DIR": metrics,
                                           **settings})


def development_server(tmp_path: Path, **settings: str) -> contextlib.AbstractContextManager[Server]:
    """``ketamine-cds serve`` (the development server) on a free loopback port, as ``gunicorn`` starts gunicorn."""
    port = closed_port()
    argv = [sys.executable, "-m", "service.cli", "serve", "--host", "127.0.0.1", "--port", str(port)]
    return _running(argv, port, tmp_path, settings)


@contextmanager
def _running(argv: list[str], port: int, tmp_path: Path, settings: dict[str, str]) -> Iterator[Server]:
    env = {key: value for key, value in os.environ.items() if not key.startswith(("CDS_", "PROMETHEUS_"))}
    env.update({"DATABASE_URL": f"sqlite:///{tmp_path}/var/cds.sqlite3", **settings})
    log = tmp_path / "server.log"
    with log.open("wb") as output:
        process = subprocess.Popen(argv, env=env, stdout=output, stderr=subprocess.STDOUT)
    running = Server(process, f"http://127.0.0.1:{port}", log, Path(env.get("PROMETHEUS_MULTIPROC_DIR", tmp_path)))
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
            pytest.fail("the server exited before it was ready:\n" + "\n".join(server.log_lines()))
        try:
            if get(server.base + "/readyz")[0] == 200:
                return
        except OSError:
            pass
        time.sleep(0.1)
    pytest.fail(f"the server was not ready within {START_WAIT:.0f} s:\n" + "\n".join(server.log_lines()))


