"""Every card the service answers with is recorded with the rule behind it, and no patient identifier in clear."""

from __future__ import annotations

import hashlib
import hmac
from datetime import UTC

from service import create_app
from service.config import Settings
from service.runtime import runtime
from service.storage.models import issued_cards
from service.storage.recorder import not_recorded, recorder
from tests.scrape import closed_port, scraped


def test_each_card_is_recorded_with_its_rule_advice_and_knowledge_version(db_app, fixture, rows):
    request = fixture("order-sign-esketamine-maoi")
    cards = db_app.test_client().post("/cds-services/ketamine-order-sign", json=request).json["cards"]
    recorded = {row["card_uuid"]: row for row in rows(db_app, issued_cards)}
    assert set(recorded) == {card["uuid"] for card in cards}
    for card in cards:
        origin, row = card["extension"]["org.ketamine-cds"], recorded[card["uuid"]]
        assert (row["rule_id"], row["advice"], row["knowledge_version"]) == (
            origin["ruleId"], origin["advice"], origin["knowledgeVersion"])
        assert (row["service_id"], row["hook_instance"]) == ("ketamine-order-sign", request["hookInstance"])
        issued_at = row["issued_at"]  # SQLite gives it back naive, PostgreSQL aware
        issued_at = issued_at.astimezone(UTC) if issued_at.tzinfo else issued_at.replace(tzinfo=UTC)
        assert issued_at == runtime(db_app).clock()


def test_the_patient_is_kept_only_as_a_keyed_hash(db_app, fixture, rows, patient_key):
    request = fixture("order-sign-esketamine-maoi")
    db_app.test_client().post("/cds-services/ketamine-order-sign", json=request)
    patient = request["context"]["patientId"]
    expected = hmac.new(patient_key.encode(), patient.encode(), hashlib.sha256).hexdigest()
    recorded = rows(db_app, issued_cards)
    assert {row["patient_hash"] for row in recorded} == {expected}
    assert all(patient not in str(value) for row in recorded for value in row.values())


def test_a_data_notice_card_is_recorded_as_a_notice(db_app, fixture, rows):
    request = fixture("order-sign-esketamine-maoi")
    del request["prefetch"]["conditions"]
    cards = db_app.test_client().post("/cds-services/ketamine-order-sign", json=request).json["cards"]
    notices = [card["uuid"] for card in cards if "notice" in card["extension"]["org.ketamine-cds"]]
    assert notices
    recorded = {row["card_uuid"]: row for row in rows(db_app, issued_cards)}
    assert [(recorded[uuid]["notice"], recorded[uuid]["rule_id"]) for uuid in notices] == [("data-incomplete", None)]


def test_an_order_without_ketamine_records_nothing(db_app, fixture, rows):
    response = db_app.test_client().post("/cds-services/ketamine-order-sign", json=fixture("order-sign-non-ketamine"))
    assert response.json == {"cards": []}
    assert rows(db_app, issued_cards) == []


def test_cards_that_could_not_be_recorded_are_counted_on_the_metrics_endpoint(fixture):
    app = create_app(Settings(database_url=f"postgresql://postgres@127.0.0.1:{closed_port()}/test"))
    client = app.test_client()
    before = scraped(client, "ketamine_cds_issued_cards_not_recorded_total")

    cards = client.post("/cds-services/ketamine-order-sign", json=fixture("order-sign-esketamine-maoi")).json["cards"]
    recorder(app).flush()

    assert len(cards) == 2
    assert scraped(client, "ketamine_cds_issued_cards_not_recorded_total") == before + 2


def test_the_writer_outlives_a_failing_write_and_a_failing_signal_receiver(fixture, caplog):
    app = create_app(Settings(database_url=f"postgresql://postgres@127.0.0.1:{closed_port()}/test"))
    client = app.test_client()

    def broken_receiver(sender, count):
        raise OSError("metrics folder gone")

    with not_recorded.connected_to(broken_receiver):
        for _ in range(2):
            response = client.post("/cds-services/ketamine-order-sign", json=fixture("order-sign-esketamine-maoi"))
            assert response.status_code == 200
            assert recorder(app).flush(timeout=10), "the writer stopped answering"
    assert caplog.text.count("a receiver of the not-recorded signal failed (OSError)") == 2


def test_losses_are_logged_at_most_once_in_a_while_and_all_counted(fixture, caplog, monkeypatch):
    import logging

    from service.storage import recorder as recorder_module

    clock = [1000.0]
    monkeypatch.setattr(recorder_module, "_loss_clock", lambda: clock[0])
    app = create_app(Settings(database_url=f"postgresql://postgres@127.0.0.1:{closed_port()}/test"))
    client = app.test_client()
    before = scraped(client, "ketamine_cds_issued_cards_not_recorded_total")
    caplog.set_level(logging.ERROR, logger="service.storage.recorder")
    for _ in range(3):
        client.post("/cds-services/ketamine-order-sign", json=fixture("order-sign-esketamine-maoi"))
        assert recorder(app).flush(timeout=10)
    clock[0] += recorder_module.LOSS_LOG_SECONDS
    client.post("/cds-services/ketamine-order-sign", json=fixture("order-sign-esketamine-maoi"))
    assert recorder(app).flush(timeout=10)
    lines = [record.getMessage() for record in caplog.records if "not recorded" in record.getMessage()]
    assert [line.split(" ")[0] for line in lines] == ["2", "6"]
    assert scraped(client, "ketamine_cds_issued_cards_not_recorded_total") == before + 8
