"""Data no database can hold (the NUL character, which PostgreSQL refuses in text) is a client's error told as
such, never "database unavailable; try again"; and one row the database refuses costs no other row."""

from __future__ import annotations

import uuid

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from cds_hooks.feedback import _RequestSchema
from service.storage import storage
from service.storage.models import feedback, issued_cards
from service.storage.recorder import recorder
from service.storage.records import save_issued
from tests.strategies import from_schema

FEEDBACK = "/cds-services/ketamine-order-sign/feedback"
SIGN = "/cds-services/ketamine-order-sign"
TEXT_FIELDS = [
    (("card",), "feedback.1.card"),
    (("overrideReason", "reason", "system"), "feedback.1.overrideReason.reason.system"),
    (("overrideReason", "reason", "code"), "feedback.1.overrideReason.reason.code"),
    (("overrideReason", "reason", "display"), "feedback.1.overrideReason.reason.display"),
    (("overrideReason", "userComment"), "feedback.1.overrideReason.userComment"),
]


def _overridden(card: str) -> dict:
    return {"card": card, "outcome": "overridden", "outcomeTimestamp": "2026-11-21T12:05:00Z",
            "overrideReason": {"reason": {"system": "https://x.example/reasons", "code": "c", "display": "d"},
                               "userComment": "fine"}}


@pytest.mark.parametrize(("path", "field"), TEXT_FIELDS)
def test_feedback_with_a_nul_character_is_refused_with_400_naming_the_field(db_app, rows, path, field):
    bad = _overridden(str(uuid.uuid4()))
    target = bad
    for key in path[:-1]:
        target = target[key]
    target[path[-1]] = f"before\x00after {target[path[-1]]}"
    response = db_app.test_client().post(FEEDBACK, json={"feedback": [_overridden(str(uuid.uuid4())), bad]})
    assert response.status_code == 400, response.get_data(as_text=True)
    issue = response.json["issue"][0]
    assert issue["expression"] == [field] and "NUL" in issue["diagnostics"]
    assert rows(db_app, feedback) == []


def test_an_accepted_suggestion_id_with_a_nul_character_is_refused_with_400(db_app):
    item = {"card": str(uuid.uuid4()), "outcome": "accepted", "outcomeTimestamp": "2026-11-21T12:05:00Z",
            "acceptedSuggestions": [{"id": "s\x00"}]}
    response = db_app.test_client().post(FEEDBACK, json={"feedback": [item]})
    assert response.status_code == 400
    assert response.json["issue"][0]["expression"] == ["feedback.0.acceptedSuggestions.0.id"]


@settings(suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(body=from_schema(_RequestSchema()))
@pytest.mark.fuzz
def test_generated_feedback_is_stored_or_refused_with_400_never_503(db_app, body):
    response = db_app.test_client().post(FEEDBACK, json=body)
    assert response.status_code in (200, 400), response.get_data(as_text=True)


def test_a_nul_character_in_one_calls_hook_instance_costs_no_other_calls_records(db_app, fixture, rows):
    client = db_app.test_client()
    issued = []
    for number in range(12):
        body = fixture("order-sign-esketamine-maoi")
        body["hookInstance"] = "bad\x00instance" if number == 5 else str(uuid.uuid4())
        response = client.post(SIGN, json=body)
        assert response.status_code == 200
        issued += [card["uuid"] for card in response.json["cards"]]
    recorded = rows(db_app, issued_cards)
    assert {row["card_uuid"] for row in recorded} == set(issued)
    assert all("\x00" not in row["hook_instance"] for row in recorded)


def test_a_row_the_database_refuses_is_the_only_one_lost(db_app, fixture, rows):
    client = db_app.test_client()
    client.post(SIGN, json=fixture("order-sign-esketamine-maoi"))
    [good, *_] = rows(db_app, issued_cards)
    batch = [dict(good, card_uuid=str(uuid.uuid4()), hook_instance=text) for text in ("a", "b\x00", "c")]
    if storage(db_app).database.engine.dialect.name == "sqlite":
        pytest.skip("SQLite stores the NUL character; the refusal is PostgreSQL's")
    with pytest.raises(Exception, match="refused a value"):
        save_issued(storage(db_app).database, batch)
    recorder(db_app)._write(batch)
    kept = {row["hook_instance"] for row in rows(db_app, issued_cards)}
    assert {"a", "c"} <= kept and "b\x00" not in kept


@given(st.text(min_size=1, max_size=40))
@settings(suppress_health_check=[HealthCheck.function_scoped_fixture])
@pytest.mark.fuzz
def test_any_hook_instance_gets_its_cards(client, fixture, text):
    body = fixture("order-sign-esketamine-maoi")
    body["hookInstance"] = text
    response = client.post(SIGN, json=body)
    if text.strip():
        assert response.status_code == 200
