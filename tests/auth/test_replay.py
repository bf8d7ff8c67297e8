"""The replay store: a JWT id is accepted once while its token lives, in memory or shared through Redis."""

from __future__ import annotations

import time
import uuid

import pytest

from service import create_app
from service.auth.replay import MemoryReplayStore, RedisReplayStore, ReplayStoreUnavailable
from service.config import Settings
from tests.auth.auth_helpers import Clock
from tests.scrape import closed_port


def test_an_id_is_accepted_once_while_its_token_lives():
    clock = Clock(1_000_000.0)
    store = MemoryReplayStore(clock)
    assert store.first_use("iss", "a", clock.now + 60)
    assert not store.first_use("iss", "a", clock.now + 60)
    assert store.first_use("other-iss", "a", clock.now + 60), "ids are per issuer"


def test_an_id_is_forgotten_once_its_token_has_expired():
    clock = Clock(1_000_000.0)
    store = MemoryReplayStore(clock)
    store.first_use("iss", "a", clock.now + 60)
    clock.now += 61
    assert store.first_use("iss", "a", clock.now + 600)
    clock.now += MemoryReplayStore.PRUNE_SECONDS
    assert not store.first_use("iss", "a", clock.now + 600), "pruning forgets only expired ids"


def test_redis_remembers_an_id_for_every_store_sharing_it(redis_url):
    jti, expires = str(uuid.uuid4()), time.time() + 60
    assert RedisReplayStore(redis_url).first_use("iss", jti, expires)
    assert not RedisReplayStore(redis_url).first_use("iss", jti, expires)


def test_an_unreachable_redis_is_reported_not_taken_for_a_first_use():
    with pytest.raises(ReplayStoreUnavailable):
        RedisReplayStore("redis://127.0.0.1:1/0").first_use("iss", "a", 2_000_000_000.0)


def test_readiness_fails_naming_redis_while_it_does_not_answer(make_app, issuer):
    app = make_app(issuer, redis_url=f"redis://127.0.0.1:{closed_port()}/0")

    response = app.test_client().get("/readyz")

    assert response.status_code == 503
    assert response.json["checks"]["redis"] == {"status": "failed", "reason": "Redis does not answer (ConnectionError)"}
    assert response.json["checks"]["database"] == {"status": "ok"}


def test_readiness_passes_with_redis_answering(make_app, issuer, redis_url):
    response = make_app(issuer, redis_url=redis_url).test_client().get("/readyz")

    assert response.status_code == 200
    assert response.json["checks"]["redis"] == {"status": "ok"}


def test_redis_is_no_readiness_check_while_authentication_is_off(tmp_path):
    """Only the replay store uses Redis: with authentication off nothing would be waiting for it."""
    settings = Settings(
        auth_mode="off",
        redis_url=f"redis://127.0.0.1:{closed_port()}/0",
        database_url=f"sqlite:///{tmp_path}/cds.sqlite3",
    )

    response = create_app(settings).test_client().get("/readyz")

    assert response.status_code == 200
    assert "redis" not in response.json["checks"]
