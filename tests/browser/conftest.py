"""The service on a real HTTP port, for the browser (``browser``, one per session, in tests/conftest.py).

With
``KETAMINE_CDS_SCREENSHOTS=DIR`` (``make screenshots``) the tests also save what they show into DIR, for the README.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Callable, Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
import requests
from flask import Flask
from werkzeug.serving import make_server

from service import create_app
from service.config import Settings
from service.storage.recorder import recorder
from tests.conftest import NOW

SCREENSHOTS_ENV = "KETAMINE_CDS_SCREENSHOTS"
CONSOLE_TOKEN = "console-credential-for-the-browser-tests-0001"


class LiveService:
    """The app served by werkzeug on a free loopback port, in a thread."""

    def __init__(self, app: Flask) -> None:
        self.app = app
        self._server = make_server("127.0.0.1", 0, app, threaded=True)
        self.url = f"http://127.0.0.1:{self._server.server_port}"
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._server.shutdown()
        self._thread.join()


def _serve(tmp_path_factory: pytest.TempPathFactory, **settings: Any) -> LiveService:
    folder = tmp_path_factory.mktemp("console")
    return LiveService(create_app(Settings(database_url=f"sqlite:///{folder}/cds.sqlite3", **settings),
                                  clock=lambda: NOW))


@pytest.fixture(scope="session")
def live(tmp_path_factory, fixture_body) -> Iterator[LiveService]:
    """The service in development (console open), with cards issued and answered so the feedback page has data."""
    service = _serve(tmp_path_factory)
    seed_feedback(service, fixture_body)
    yield service
    service.stop()


SITE_OVERRIDES = """\
site: Example Hospital pharmacy and therapeutics committee
rules:
  benzodiazepines:
    advice: {esketamine: monitor}
    note: Esketamine sessions here run under continuous pulse oximetry.
    approved_by: P&T committee (chair Dr J. Rivera)
    approved_on: 2026-11-30
    reason: Minutes 2026-11, item 4
  thyroid-hormones:
    enabled: false
    approved_by: P&T committee (chair Dr J. Rivera)
    approved_on: 2026-11-30
    reason: Minutes 2026-11, item 5
"""


@pytest.fixture(scope="session")
def guarded(tmp_path_factory) -> Iterator[LiveService]:
    """The service with the console's own credential set and a site's overrides."""
    overrides = tmp_path_factory.mktemp("site") / "site-overrides.yaml"
    overrides.write_text(SITE_OVERRIDES, encoding="utf-8")
    service = _serve(tmp_path_factory, console_token=CONSOLE_TOKEN, knowledge_overrides=overrides)
    yield service
    service.stop()


@pytest.fixture(scope="session")
def fixture_body() -> Callable[[str], dict[str, Any]]:
    import json

    from tests.conftest import FIXTURES

    return lambda name: json.loads((FIXTURES / f"{name}.json").read_text(encoding="utf-8"))


FEEDBACK_PLAN = [
    # fixture, service, outcome, override reason code, days before NOW
    ("order-sign-esketamine-maoi", "ketamine-order-sign", "overridden", "benefit-outweighs-risk", 1),
    ("order-sign-ketamine-mdma", "ketamine-order-sign", "accepted", None, 2),
    ("order-sign-ketamine-benzodiazepine", "ketamine-order-sign", "overridden", "will-retime", 9),
    ("order-sign-esketamine-linezolid", "ketamine-order-sign", "accepted", None, 16),
    ("order-sign-esketamine-maoi", "ketamine-order-sign", "accepted", None, 23),
]
"""Accepted cards are Avoid cards: only they carry a suggestion to accept."""


def seed_feedback(service: LiveService, body: Callable[[str], dict[str, Any]]) -> None:
    """Hook calls and clinicians' answers over HTTP, as an EHR sends them; the first card of each is answered."""
    for name, service_id, outcome, reason, days in FEEDBACK_PLAN:
        cards = requests.post(f"{service.url}/cds-services/{service_id}", json=body(name), timeout=30).json()["cards"]
        card = cards[0]
        item: dict[str, Any] = {"card": card["uuid"], "outcome": outcome,
                                "outcomeTimestamp": (NOW - timedelta(days=days)).isoformat()}
        if outcome == "accepted":
            item["acceptedSuggestions"] = [{"id": card["suggestions"][0]["uuid"]}]
        else:
            chosen = next(r for r in card["overrideReasons"] if r["code"] == reason)
            item["overrideReason"] = {"reason": chosen, "userComment": "patient 4471 asked"}
        answer = requests.post(f"{service.url}/cds-services/{service_id}/feedback", json={"feedback": [item]},
                               timeout=30)
        assert answer.status_code == 200, answer.text
    recorder(service.app).flush()


@pytest.fixture
def page(browser) -> Iterator[Any]:
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    opened = context.new_page()
    yield opened
    context.close()


@pytest.fixture(scope="session")
def screenshot() -> Callable[[Any, str], None]:
    """Save the page (or one element) as DIR/NAME.png when screenshots are asked for; otherwise nothing."""
    folder = os.environ.get(SCREENSHOTS_ENV)

    def save(target: Any, name: str) -> None:
        if folder:
            Path(folder).mkdir(parents=True, exist_ok=True)
            target.screenshot(path=str(Path(folder) / f"{name}.png"))

    return save
