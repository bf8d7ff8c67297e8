"""The quiet period after an override (CDS_QUIET_AFTER_OVERRIDE_HOURS): a Monitor or Hold finding a clinician
overrode with a reason is not shown again for the same patient within it; an Avoid always is. On SQLite and
PostgreSQL, from the recorded cards and feedback."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import pytest
from flask import Flask

from service import create_app
from service.config import Settings
from service.storage import recorder, storage
from service.storage.models import held_back
from tests.cardcheck import card_rule_ids
from tests.scrape import scraped
from tests.storage.conftest import NOW, PATIENT_KEY

SIGN = "/cds-services/ketamine-order-sign"


class Clock:
    def __init__(self) -> None:
        self.now = NOW

    def __call__(self):
        return self.now


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def quiet_app(database_url: str, clock: Clock) -> Iterator[Flask]:
    app = create_app(Settings(database_url=database_url, patient_hash_key=PATIENT_KEY, quiet_hours=24), clock=clock)
    yield app
    storage(app).database.engine.dispose()


def _cards(app: Flask, body: dict[str, Any]) -> list[dict[str, Any]]:
    response = app.test_client().post(SIGN, json=body)
    assert response.status_code == 200
    recorder.recorder(app).flush()
    return response.get_json()["cards"]


def _override(app: Flask, card: dict[str, Any], with_reason: bool = True, at: str = "2026-11-21T12:05:00Z") -> None:
    item: dict[str, Any] = {"card": card["uuid"], "outcome": "overridden", "outcomeTimestamp": at}
    if with_reason and "overrideReasons" in card:
        item["overrideReason"] = {"reason": card["overrideReasons"][0]}
    elif with_reason:
        item["overrideReason"] = {"userComment": "discussed with the patient; monitored"}
    response = app.test_client().post(f"{SIGN}/feedback", json={"feedback": [item]})
    assert response.status_code == 200, response.get_json()


def test_a_hold_overridden_with_a_reason_is_quiet_for_the_period_then_shown_again(quiet_app, fixture, clock, rows):
    body = fixture("order-sign-ketamine-benzodiazepine")
    [hold] = _cards(quiet_app, body)
    assert card_rule_ids(hold) == ["benzodiazepines"]
    _override(quiet_app, hold)
    clock.now = NOW + timedelta(hours=2)
    before = scraped(quiet_app.test_client(), "ketamine_cds_findings_held_back_total", reason="quiet-after-override",
                     advice="hold", rule="benzodiazepines")
    assert _cards(quiet_app, body) == []
    assert scraped(quiet_app.test_client(), "ketamine_cds_findings_held_back_total", reason="quiet-after-override",
                   advice="hold", rule="benzodiazepines") == before + 1
    [record] = rows(quiet_app, held_back)
    assert (record["rule_id"], record["advice"], record["reason"]) == ("benzodiazepines", "hold",
                                                                         "quiet-after-override")
    assert record["patient_hash"] and record["patient_hash"] != body["context"]["patientId"]
    clock.now = NOW + timedelta(hours=25)
    assert [card_rule_ids(card) for card in _cards(quiet_app, body)] == [["benzodiazepines"]]


def test_an_avoid_is_never_quiet(quiet_app, fixture, clock):
    body = fixture("order-sign-esketamine-maoi")
    avoid, monitor = _cards(quiet_app, body)
    _override(quiet_app, avoid)
    _override(quiet_app, monitor)
    clock.now = NOW + timedelta(hours=1)
    assert [card_rule_ids(card) for card in _cards(quiet_app, body)] == [["maoi"]]


def test_another_patient_is_not_quieted(quiet_app, fixture, clock):
    body = fixture("order-sign-ketamine-benzodiazepine")
    [hold] = _cards(quiet_app, body)
    _override(quiet_app, hold)
    body["context"]["patientId"] = "someone-else"
    for entry in body["prefetch"]["medicationRequests"]["entry"]:
        entry["resource"]["subject"] = {"reference": "Patient/someone-else"}
    assert len(_cards(quiet_app, body)) == 1


def test_an_override_before_the_period_does_not_quiet(quiet_app, fixture, clock):
    body = fixture("order-sign-ketamine-benzodiazepine")
    [hold] = _cards(quiet_app, body)
    _override(quiet_app, hold, at="2026-11-19T12:00:00Z")
    assert len(_cards(quiet_app, body)) == 1


def test_without_the_setting_nothing_is_quiet(db_app, fixture):
    body = fixture("order-sign-ketamine-benzodiazepine")
    [hold] = _cards(db_app, body)
    _override(db_app, hold)
    assert len(_cards(db_app, body)) == 1
