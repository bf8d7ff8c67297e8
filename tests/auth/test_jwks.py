"""JWK Sets fetched from a URL: cached, fetched again on an unknown kid at a limited rate, with a timeout."""

from __future__ import annotations

import json

import pytest
import requests
import responses

from service.auth.jwks import (
    CACHE_SECONDS,
    MIN_REFRESH_SECONDS,
    TIMEOUT,
    KeysUnavailable,
    RemoteKeys,
    StaticKeys,
    check_jwks,
)
from tests.auth.auth_helpers import Clock

URL = "https://ehr.example.org/jwks.json"




@responses.activate
def test_a_key_set_is_fetched_once_and_cached(es384):
    fetch = responses.get(URL, json={"keys": [es384.jwk]})
    keys = RemoteKeys(URL, clock=Clock())
    assert keys.key("es-1")["kid"] == "es-1"
    assert keys.key("es-1")["kid"] == "es-1"
    assert fetch.call_count == 1


@responses.activate
def test_the_fetch_has_a_timeout(es384):
    responses.get(URL, json={"keys": [es384.jwk]})
    RemoteKeys(URL).key("es-1")
    assert responses.calls[0].request.req_kwargs["timeout"] == TIMEOUT


@responses.activate
def test_a_cached_set_is_fetched_again_when_it_is_old(es384, rs384):
    responses.get(URL, json={"keys": [es384.jwk]})
    clock = Clock()
    keys = RemoteKeys(URL, clock=clock)
    keys.key("es-1")
    responses.replace(responses.GET, URL, json={"keys": [rs384.jwk]})
    clock.now += CACHE_SECONDS
    assert keys.key("es-1") is None
    assert keys.key("rs-1") is not None


@responses.activate
def test_unknown_kids_do_not_make_the_service_hammer_the_key_server(es384):
    fetch = responses.get(URL, json={"keys": [es384.jwk]})
    clock = Clock()
    keys = RemoteKeys(URL, clock=clock)
    for attempt in range(20):
        assert keys.key(f"made-up-{attempt}") is None
    assert fetch.call_count == 1
    clock.now += MIN_REFRESH_SECONDS
    keys.key("made-up-again")
    assert fetch.call_count == 2


@responses.activate
def test_a_failing_key_server_leaves_the_cached_keys_in_use(es384):
    responses.get(URL, json={"keys": [es384.jwk]})
    clock = Clock()
    keys = RemoteKeys(URL, clock=clock)
    keys.key("es-1")
    responses.replace(responses.GET, URL, body=requests.ConnectionError("down"))
    clock.now += CACHE_SECONDS
    assert keys.key("es-1")["kid"] == "es-1"


@responses.activate
@pytest.mark.parametrize("reply", [{"status": 500}, {"body": "not json"}, {"json": {"keys": "none"}}])
def test_no_usable_key_set_at_all_is_unavailable(reply):
    responses.get(URL, **reply)
    with pytest.raises(KeysUnavailable):
        RemoteKeys(URL, clock=Clock()).key("es-1")


def test_a_symmetric_key_is_not_a_usable_key_set():
    assert "kty must be one of" in check_jwks({"keys": [{"kty": "oct", "kid": "k", "k": "c2VjcmV0"}]})


def test_keys_for_encryption_are_not_used_for_signatures(es384):
    keys = StaticKeys({"keys": [es384.jwk | {"use": "enc"}]})
    assert keys.key("es-1") is None


def test_a_cached_key_is_served_while_another_thread_fetches_the_set_again(es384, rs384):
    import threading

    released = threading.Event()
    calls = []

    class SlowSession:
        def get(self, url, **kwargs):
            calls.append(url)
            rotated = len(calls) > 1
            if rotated:  # the second fetch: the key server hangs until the test lets it go
                released.wait(timeout=10)
            response = requests.Response()
            response.status_code = 200
            response._content = json.dumps({"keys": [es384.jwk, rs384.jwk] if rotated else [es384.jwk]}).encode()
            return response

    clock = Clock()
    keys = RemoteKeys(URL, session=SlowSession(), clock=clock)
    assert keys.key("es-1")["kid"] == "es-1"
    clock.now += MIN_REFRESH_SECONDS
    refreshing = threading.Thread(target=keys.key, args=("rs-1",))
    refreshing.start()
    for _ in range(1000):
        if len(calls) == 2:
            break
        refreshing.join(timeout=0.01)
    assert len(calls) == 2, "the unknown kid should have started a second fetch"
    assert keys.key("es-1")["kid"] == "es-1", "a cached key must not wait for the hanging fetch"
    assert refreshing.is_alive()
    released.set()
    refreshing.join(timeout=10)
    assert keys.key("rs-1")["kid"] == "rs-1"
