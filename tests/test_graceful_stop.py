"""A graceful stop (SIGTERM, as Kubernetes sends it) loses no record of a card the service answered with: calls
answered just before the signal are recorded by the time gunicorn has exited."""

from __future__ import annotations

import json
import signal
import uuid
from concurrent.futures import ThreadPoolExecutor

import pytest
from sqlalchemy import create_engine, text

from tests.conftest import FIXTURES
from tests.serving import development_server, gunicorn, post_json

pytestmark = pytest.mark.integration

CALLS = 30


SERVERS = {
    "gunicorn": lambda tmp_path, database: gunicorn(tmp_path, CDS_WORKERS="2", CDS_THREADS="4",
                                                    DATABASE_URL=database),
    "serve": lambda tmp_path, database: development_server(tmp_path, DATABASE_URL=database),
}


@pytest.mark.parametrize("kind", SERVERS)
def test_sigterm_right_after_a_burst_of_calls_loses_no_issued_card(tmp_path, kind):
    database = tmp_path / "cards.sqlite3"
    body = json.loads((FIXTURES / "order-sign-esketamine-maoi.json").read_text(encoding="utf-8"))
    with SERVERS[kind](tmp_path, f"sqlite:///{database}") as server:
        def call(_: int) -> list[str]:
            status, answer = post_json(server.base + "/cds-services/ketamine-order-sign",
                                       {**body, "hookInstance": str(uuid.uuid4())})
            assert status == 200
            return [card["uuid"] for card in answer["cards"]]

        with ThreadPoolExecutor(max_workers=8) as pool:
            answered = {uuid for uuids in pool.map(call, range(CALLS)) for uuid in uuids}
        server.process.send_signal(signal.SIGTERM)
        assert server.process.wait(timeout=60) == 0
    engine = create_engine(f"sqlite:///{database}")
    with engine.connect() as connection:
        recorded = {row[0] for row in connection.execute(text("SELECT card_uuid FROM issued_cards"))}
    engine.dispose()
    assert len(answered) == CALLS * 2  # the MAOI fixture answers an Avoid and a Monitor card
    assert answered - recorded == set()
