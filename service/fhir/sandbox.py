"""The sandbox FHIR server (``sandbox/server.mjs``, on Node) loaded with the fixture patients.

It serves the integration tests, the latency benchmark, and integrators who want to try the fetch path by hand:
``make sandbox`` runs ``python -m service.fhir.sandbox``, which starts the sandbox and the service beside it and
writes each fixture, without its prefetch and with ``fhirServer`` set, to ``var/sandbox-requests/``.

The fixtures are written for one day, ``FIXTURE_DAY`` (washout windows count back from it); ``make sandbox`` moves
every date by as many days as have passed since, so the same cards come on any day, and gives each fixture patient
a name and an age, as a browser-based EHR such as the CDS Hooks Sandbox shows them.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import selectors
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator, Mapping, Sequence
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import requests

ROOT = Path(__file__).resolve().parents[2]
SANDBOX_DIR = ROOT / "sandbox"
FIXTURES_DIR = ROOT / "fixtures"
REQUESTS_DIR = ROOT / "var" / "sandbox-requests"
START_SECONDS = 60.0
FIXTURE_DAY = date(2026, 11, 21)
"""The day the fixtures' dates are written for: ``ketamine-cds check --now 2026-11-21T12:00:00Z`` gives their cards."""
_DATE = re.compile(r"^(\d{4}-\d{2}-\d{2})(T.*)?$")
_GIVEN = {"female": ("Ada", "Bea", "Cora", "Dina", "Elif", "Fay", "Gita", "Hana", "Iris", "June", "Kira"),
          "male": ("Amos", "Ben", "Carl", "Dev", "Eli", "Finn", "Gus", "Hugo", "Ivo", "Jon", "Kai")}
_FAMILY = ("Adler", "Brook", "Castro", "Dunn", "Ekwueme", "Frost", "Garcia", "Holm", "Ito", "Jensen", "Khan",
           "Lund", "Moreau", "Novak", "Okafor", "Patel", "Quinn", "Rossi", "Silva", "Tanaka", "Ueda", "Vance")


class SandboxUnavailable(RuntimeError):
    """Node, npm's packages or the sandbox itself is missing: say which, so a test can skip with the reason."""


def fixture_requests(fixtures_dir: Path = FIXTURES_DIR) -> dict[str, dict[str, Any]]:
    """Every fixture hook request, by file name without ``.json``, in name order."""
    return {path.stem: json.loads(path.read_text(encoding="utf-8")) for path in sorted(fixtures_dir.glob("*.json"))}


def seed_bundle(
    fixtures: Mapping[str, Mapping[str, Any]] | None = None, *, today: date | None = None
) -> dict[str, Any]:
    """One Bundle holding every fixture patient: a named Patient per ``context.patientId`` (with the prefetch's own
    Patient fields, such as its birth date, when the fixture sends one) and every resource of every prefetch bundle;
    with ``today``, every date moved as ``on_day`` moves it.

    The fixtures are separate stories that reuse ids (two patients each have a ``MedicationRequest/cephalexin``),
    while ids on one server are unique; so a resource whose id another fixture's different resource already holds
    gets its patient's id appended (``cephalexin-fixture-no-interaction``), and references to it follow.
    """
    fixtures = fixture_requests() if fixtures is None else fixtures
    taken: dict[str, Mapping[str, Any]] = {}
    resources: list[dict[str, Any]] = []
    patients = sorted({request["context"]["patientId"] for request in fixtures.values()})
    for request in fixtures.values():
        patient = request["context"]["patientId"]
        found = [_patient(request, patients.index(patient)), *_prefetch_resources(request)]
        renamed = {}
        for resource in found:
            reference = f"{resource['resourceType']}/{resource['id']}"
            if reference in taken and taken[reference] != resource:
                renamed[reference] = f"{reference}-{patient}"
        for resource in (_renamed(resource, renamed) for resource in found):
            reference = f"{resource['resourceType']}/{resource['id']}"
            if reference not in taken:
                taken[reference] = resource
                resources.append(resource)
    bundle = {"resourceType": "Bundle", "type": "collection", "entry": [{"resource": r} for r in resources]}
    return on_day(bundle, today) if today else bundle


def fixture_patient(patient_id: str, number: int) -> dict[str, Any]:
    """A Patient with a made-up name (unique up to 242 patients), sex and age (22 to 71 on ``FIXTURE_DAY``), the same
    for the same number."""
    gender = "female" if number % 2 == 0 or "pregnancy" in patient_id else "male"
    given = _GIVEN[gender][(number + number // len(_FAMILY)) % len(_GIVEN[gender])]
    family = _FAMILY[number % len(_FAMILY)]
    age = 22 + (number * 13) % 50
    born = FIXTURE_DAY.replace(year=FIXTURE_DAY.year - age) - timedelta(days=number * 11 % 300)
    return {"resourceType": "Patient", "id": patient_id, "active": True, "gender": gender,
            "birthDate": born.isoformat(),
            "name": [{"use": "official", "text": f"{given} {family}", "given": [given], "family": family}]}


def on_day(value: Any, today: date) -> Any:
    """``value`` (JSON) with every date and dateTime moved by the days from ``FIXTURE_DAY`` to ``today``, so that
    "stopped five days ago" stays five days ago whatever the day."""
    days = timedelta(days=(today - FIXTURE_DAY).days)
    if isinstance(value, dict):
        return {key: on_day(item, today) for key, item in value.items()}
    if isinstance(value, list):
        return [on_day(item, today) for item in value]
    if isinstance(value, str) and (match := _DATE.match(value)):
        try:
            moved = date.fromisoformat(match[1]) + days
        except ValueError:
            return value
        return moved.isoformat() + (match[2] or "")
    return value


def without_prefetch(request: Mapping[str, Any], fhir_server: str) -> dict[str, Any]:
    """The hook request as an EHR that sends no prefetch would: ``fhirServer`` instead."""
    bare = {key: value for key, value in request.items() if key != "prefetch"}
    return {**bare, "fhirServer": fhir_server}


def _patient(request: Mapping[str, Any], number: int) -> dict[str, Any]:
    """The fixture's made-up patient, with the fields of the Patient its prefetch sends (a birth date) in place."""
    patient = request["context"]["patientId"]
    made = fixture_patient(patient, number)
    sent = (request.get("prefetch") or {}).get("patient")
    if isinstance(sent, dict) and sent.get("resourceType") == "Patient" and sent.get("id") == patient:
        return {**made, **sent}
    return made


def _prefetch_resources(request: Mapping[str, Any]) -> Iterator[dict[str, Any]]:
    for value in (request.get("prefetch") or {}).values():
        if not isinstance(value, dict) or value.get("resourceType") != "Bundle":
            continue
        for entry in value.get("entry") or ():
            yield entry["resource"]


def _renamed(resource: dict[str, Any], renamed: Mapping[str, str]) -> dict[str, Any]:
    """A copy of the resource with its id and its references moved to their new names."""
    if not renamed:
        return resource
    text = json.dumps(resource)
    for old, new in renamed.items():
        text = text.replace(f'"reference": "{old}"', f'"reference": "{new}"')
    moved = json.loads(text)
    own = f"{resource['resourceType']}/{resource['id']}"
    if own in renamed:
        moved["id"] = renamed[own].split("/", 1)[1]
    return moved


def node_command() -> list[str]:
    """``node`` with the flags this version needs, or SandboxUnavailable saying what is missing."""
    node = shutil.which("node")
    if node is None:
        raise SandboxUnavailable("node is not installed, so the sandbox FHIR server cannot run")
    if not (SANDBOX_DIR / "node_modules" / "@medplum" / "fhir-router").is_dir():
        raise SandboxUnavailable("the sandbox's npm packages are not installed (run `npm ci` in sandbox/)")
    version = subprocess.run([node, "--version"], capture_output=True, text=True, check=False).stdout
    match = re.match(r"v(\d+)\.(\d+)", version.strip())
    if not match or (int(match[1]), int(match[2])) < (20, 19):
        raise SandboxUnavailable(f"the sandbox FHIR server needs Node 20.19 or later, not {version.strip() or '?'}")
    return [node, "--experimental-websocket"] if int(match[1]) < 22 else [node]


class FhirSandbox:
    """One sandbox server process: ``with FhirSandbox(seed=seed_bundle()) as sandbox: sandbox.base_url``."""

    def __init__(
        self,
        *,
        seed: Mapping[str, Any] | None = None,
        host: str = "127.0.0.1",
        port: int = 0,
        page_size: int | None = None,
        delay_ms: int = 0,
        token: str | None = None,
        log_requests: bool = False,
        quiet: bool = True,
    ) -> None:
        self.seed, self.host, self.port = seed, host, port
        self.page_size, self.delay_ms, self.token = page_size, delay_ms, token
        self.log_requests, self.quiet = log_requests, quiet
        self.base_url = ""
        self.log_file: Path | None = None
        """Where a quiet server's output goes (its request lines with ``log_requests``), while it runs."""
        self._process: subprocess.Popen[str] | None = None
        self._files: list[Path] = []

    def __enter__(self) -> FhirSandbox:
        self.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    def start(self) -> str:
        """Start the server, wait until it answers, and return its base URL."""
        command = [*node_command(), str(SANDBOX_DIR / "server.mjs"), "--host", self.host, "--port", str(self.port)]
        if self.seed is not None:
            command += ["--seed", str(self._temporary(".json", json.dumps(self.seed)))]
        if self.page_size:
            command += ["--page-size", str(self.page_size)]
        if self.delay_ms:
            command += ["--delay-ms", str(self.delay_ms)]
        if self.token:
            command += ["--token", self.token]
        if self.log_requests:
            command.append("--log")
        errors = self.log_file = self._temporary(".log", "") if self.quiet else None
        self._process = subprocess.Popen(
            command,
            cwd=SANDBOX_DIR,
            stdout=subprocess.PIPE,
            stderr=errors.open("w", encoding="utf-8") if errors else None,
            text=True,
            env={key: value for key, value in os.environ.items() if not key.startswith("SANDBOX_")},
        )
        line = self._ready_line()
        if not line:
            code = self._process.poll()
            self.stop()
            detail = errors.read_text(encoding="utf-8")[-2000:] if errors and errors.exists() else ""
            raise RuntimeError(f"the sandbox FHIR server did not start (exit {code}): {detail.strip()}")
        self.base_url = json.loads(line)["base"]
        requests.get(f"{self.base_url}/metadata", timeout=10).raise_for_status()
        return self.base_url

    def stop(self) -> None:
        if self._process is not None:
            if self._process.poll() is None:
                self._process.terminate()
                try:
                    self._process.wait(timeout=10)
                except subprocess.TimeoutExpired:
                    self._process.kill()
                    self._process.wait()
            if self._process.stdout:
                self._process.stdout.close()
            self._process = None
        for path in self._files:
            path.unlink(missing_ok=True)
        self._files.clear()
        self.log_file = None

    def _ready_line(self) -> str:
        """The JSON line the server prints once it listens; empty if it exits or stays silent too long."""
        assert self._process is not None and self._process.stdout is not None
        deadline = time.monotonic() + START_SECONDS
        with selectors.DefaultSelector() as selector:
            selector.register(self._process.stdout, selectors.EVENT_READ)
            while time.monotonic() < deadline and self._process.poll() is None:
                if selector.select(timeout=0.1):
                    return self._process.stdout.readline().strip()
        return ""

    def _temporary(self, suffix: str, text: str) -> Path:
        handle, name = tempfile.mkstemp(prefix="ketamine-cds-sandbox-", suffix=suffix)
        os.close(handle)
        path = Path(name)
        path.write_text(text, encoding="utf-8")
        self._files.append(path)
        return path


def main(argv: Sequence[str] | None = None) -> int:
    """Run the sandbox FHIR server with the fixture patients and the service beside it, until Ctrl-C."""
    parser = argparse.ArgumentParser(prog="python -m service.fhir.sandbox", description=main.__doc__)
    parser.add_argument("--fhir-port", type=int, default=8081, help="the sandbox FHIR server's port (8081)")
    parser.add_argument("--port", type=int, default=8080, help="the service's port (8080)")
    parser.add_argument("--delay-ms", type=int, default=0, help="delay every FHIR answer by this much (0)")
    args = parser.parse_args(argv)

    from service.app import create_app

    app = create_app()
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))  # stop the sandbox on SIGTERM as on Ctrl-C
    today = date.today()
    fixtures = fixture_requests()
    with FhirSandbox(seed=seed_bundle(fixtures, today=today), port=args.fhir_port, delay_ms=args.delay_ms,
                     log_requests=True, quiet=False) as sandbox:
        REQUESTS_DIR.mkdir(parents=True, exist_ok=True)
        for name, request in fixtures.items():
            body = json.dumps(without_prefetch(on_day(request, today), sandbox.base_url), indent=2)
            (REQUESTS_DIR / f"{name}.json").write_text(body + "\n", encoding="utf-8")
        print(f"Sandbox FHIR server: {sandbox.base_url} (fixture patients loaded, dates moved to {today})")
        print(f"Hook requests without prefetch, with fhirServer set: {REQUESTS_DIR.relative_to(ROOT)}/")
        print(f"The service: http://127.0.0.1:{args.port}/cds-services")
        app.run(host="127.0.0.1", port=args.port, threaded=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
