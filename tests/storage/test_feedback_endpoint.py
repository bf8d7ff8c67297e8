"""POST /cds-services/{id}/feedback: validated, stored in one transaction before the answer, idempotent."""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor

import pytest
import requests
from werkzeug.serving import make_server

from service import create_app
from service.config import Settings
from service.storage.models import feedback, issued_cards
from service.storage.recorder import not_recorded, recorder

FEEDBACK = "/cds-services/ketamine-order-sign/feedback"


def issue_cards(client, fixture):
    response = client.post("/cds-services/ketamine-order-sign", json=fixture("order-sign-esketamine-maoi"))
    assert response.status_code == 200
    return response.json["cards"]


def test_an_override_with_its_reason_is_stored_and_joins_the_rule(db_app, fixture, rows):
    client = db_app.test_client()
    card = issue_cards(client, fixture)[0]
    reason = card["overrideReasons"][0]
    body = {"feedback": [{"card": card["uuid"], "outcome": "overridden", "outcomeTimestamp": "2026-11-21T12:05:00Z",
                          "overrideReason": {"reason": reason, "userComment": "discussed with psychiatry"}}]}
    response = client.post(FEEDBACK, json=body)
    assert response.status_code == 200
    assert response.json == {"received": 1, "new": 1}
    [stored] = rows(db_app, feedback)
    assert (stored["card_uuid"], stored["outcome"], stored["override_code"], stored["user_comment"]) == (
        card["uuid"], "overridden", reason["code"], "discussed with psychiatry")
    issued = {row["card_uuid"]: row for row in rows(db_app, issued_cards)}
    assert issued[stored["card_uuid"]]["rule_id"] == card["extension"]["org.ketamine-cds"]["ruleId"]


def test_an_accepted_suggestion_is_stored(db_app, fixture, rows):
    client = db_app.test_client()
    card = issue_cards(client, fixture)[0]
    suggestion = card["suggestions"][0]["uuid"]
    body = {"feedback": [{"card": card["uuid"], "outcome": "accepted", "acceptedSuggestions": [{"id": suggestion}],
                          "outcomeTimestamp": "2026-11-21T12:05:00.52Z"}]}
    assert client.post(FEEDBACK, json=body).status_code == 200
    [stored] = rows(db_app, feedback)
    assert stored["accepted_suggestions"] == f'["{suggestion}"]'
    assert stored["outcome_timestamp"].microsecond == 520000


def test_the_same_feedback_twice_is_stored_once(db_app, feedback_item, rows):
    client = db_app.test_client()
    body = {"feedback": [feedback_item(outcome="accepted")]}
    assert client.post(FEEDBACK, json=body).json == {"received": 1, "new": 1}
    assert client.post(FEEDBACK, json=body).json == {"received": 1, "new": 0}
    assert len(rows(db_app, feedback)) == 1


def test_a_later_action_on_the_same_card_is_stored_beside_the_first(db_app, feedback_item, rows):
    client = db_app.test_client()
    first = feedback_item()
    later = first | {"outcome": "accepted", "acceptedSuggestions": [{"id": "s-1"}],
                     "outcomeTimestamp": "2026-11-21T12:09:00Z"}
    assert client.post(FEEDBACK, json={"feedback": [first, later, first]}).json == {"received": 3, "new": 2}
    assert len(rows(db_app, feedback)) == 2


def test_a_batch_with_one_bad_item_stores_nothing(db_app, feedback_item, rows):
    body = {"feedback": [feedback_item(), feedback_item(outcome="ignored")]}
    response = db_app.test_client().post(FEEDBACK, json=body)
    assert response.status_code == 400
    assert response.json["issue"][0]["expression"] == ["feedback.1.outcome"]
    assert rows(db_app, feedback) == []


def test_feedback_for_an_unknown_service_is_404(db_app, feedback_item, rows):
    response = db_app.test_client().post("/cds-services/no-such-service/feedback", json={"feedback": [feedback_item()]})
    assert response.status_code == 404
    assert response.json["resourceType"] == "OperationOutcome"
    assert rows(db_app, feedback) == []


def test_feedback_for_a_card_never_issued_here_is_kept(db_app, feedback_item, rows):
    response = db_app.test_client().post(FEEDBACK, json={"feedback": [feedback_item(card="not-one-of-ours")]})
    assert response.status_code == 200
    assert [row["card_uuid"] for row in rows(db_app, feedback)] == ["not-one-of-ours"]


@pytest.mark.parametrize(("body", "status"), [("not json", 400), ("[]", 400), ('{"feedback": {}}', 400)])
def test_a_body_that_is_not_a_feedback_object_is_400(db_app, body, status):
    response = db_app.test_client().post(FEEDBACK, data=body, content_type="application/json")
    assert response.status_code == status
    assert response.json["resourceType"] == "OperationOutcome"


def test_feedback_sent_as_another_content_type_is_415(db_app):
    assert db_app.test_client().post(FEEDBACK, data="{}", content_type="text/plain").status_code == 415


@pytest.fixture
def served(db_app):
    """The app behind a real threaded HTTP server on a free local port."""
    server = make_server("127.0.0.1", 0, db_app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_port}"
    server.shutdown()
    thread.join()


def test_feedback_posted_from_many_threads_at_once_is_all_stored(db_app, served, feedback_item, rows):
    bodies = [{"feedback": [feedback_item(), feedback_item(outcome="accepted")]} for _ in range(24)]
    with ThreadPoolExecutor(max_workers=8) as pool, requests.Session() as session:
        statuses = list(pool.map(lambda body: session.post(served + FEEDBACK, json=body, timeout=30).status_code,
                                 bodies))
    assert statuses == [200] * len(bodies)
    sent = {item["card"] for body in bodies for item in body["feedback"]}
    assert {row["card_uuid"] for row in rows(db_app, feedback)} == sent


def test_the_same_feedback_from_many_threads_at_once_is_stored_once(db_app, served, feedback_item, rows):
    body = {"feedback": [feedback_item()]}
    with ThreadPoolExecutor(max_workers=8) as pool:
        replies = list(pool.map(lambda _: requests.post(served + FEEDBACK, json=body, timeout=30).json(), range(16)))
    assert sum(reply["new"] for reply in replies) == 1
    assert len(rows(db_app, feedback)) == 1


@pytest.fixture
def unreachable_app(tmp_path):
    """The database URL names a port nothing listens on."""
    return create_app(Settings(database_url="postgresql://postgres@127.0.0.1:1/test"))


def test_feedback_is_refused_with_503_while_the_database_is_unreachable(unreachable_app, feedback_item):
    response = unreachable_app.test_client().post(FEEDBACK, json={"feedback": [feedback_item()]})
    assert response.status_code == 503
    assert response.json["issue"][0]["code"] == "transient"


def test_cards_are_still_returned_while_the_database_is_unreachable(unreachable_app, fixture, caplog):
    lost: list[int] = []

    def receive(sender, count):
        lost.append(count)

    with not_recorded.connected_to(receive):
        response = unreachable_app.test_client().post("/cds-services/ketamine-order-sign",
                                                      json=fixture("order-sign-esketamine-maoi"))
        recorder(unreachable_app).flush()
    assert response.status_code == 200
    assert len(response.json["cards"]) == 2
    assert lost == [2]
    assert "not recorded: the database is unavailable" in caplog.text
