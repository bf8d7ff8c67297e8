"""Client authentication through the app: the JWT matrix of the CDS Hooks specification's "Trusting CDS Clients"."""

from __future__ import annotations

import base64
import json
import logging
import time
import uuid
from typing import Any

import jwt
import pytest
import responses
from cryptography.hazmat.primitives.asymmetric import ec
from flask import Flask
from jwt.api_jws import PyJWS

from service.auth import REASONS, Authenticator, AuthFailure, bearer_token
from service.auth.jwks import CACHE_SECONDS, MIN_REFRESH_SECONDS, RemoteKeys, StaticKeys
from service.auth.replay import MemoryReplayStore
from service.auth.trust import Issuer
from tests.auth.auth_helpers import BASE, DISCOVERY, ISS, Clock, Signer, bearer, hs256_with_public_key, unsigned
from tests.scrape import scraped

SIGN = BASE + "/cds-services/ketamine-order-sign"
FEEDBACK = SIGN + "/feedback"
JWKS_URL = "https://ehr.example.org/.well-known/jwks.json"


def discover(app: Flask, token: str | None) -> Any:
    return app.test_client().get("/cds-services", headers=bearer(token) if token else {})


def assert_refused(response: Any, refusals: list[str], reason: str) -> None:
    assert response.status_code == 401
    assert response.headers["WWW-Authenticate"] == "Bearer"
    assert response.json["issue"][0]["diagnostics"] == "The request could not be authenticated."
    assert refusals == [reason]


def test_a_valid_es384_token_opens_discovery(auth_app, es384, refusals):
    response = discover(auth_app, es384.token(sub="Practitioner/123", tenant="anything"))
    assert response.status_code == 200
    assert response.json["services"]
    assert refusals == []


def test_a_valid_rs384_token_calls_a_service(auth_app, rs384, fixture):
    body = fixture("order-sign-esketamine-maoi")
    response = auth_app.test_client().post("/cds-services/ketamine-order-sign", json=body,
                                           headers=bearer(rs384.token(SIGN)))
    assert response.status_code == 200
    assert response.json["cards"]


def test_feedback_needs_a_token_for_the_feedback_url(auth_app, es384, refusals):
    item = {"card": str(uuid.uuid4()), "outcome": "overridden", "outcomeTimestamp": "2026-11-21T12:00:00Z"}
    body = {"feedback": [item]}
    client = auth_app.test_client()
    assert client.post("/cds-services/ketamine-order-sign/feedback", json=body,
                       headers=bearer(es384.token(SIGN))).status_code == 401
    assert client.post("/cds-services/ketamine-order-sign/feedback", json=body,
                       headers=bearer(es384.token(FEEDBACK))).status_code == 200
    assert refusals == ["wrong-audience"]


def test_an_audience_array_holding_the_called_url_is_accepted(auth_app, es384):
    assert discover(auth_app, es384.token(["https://other.example.org/cds-services", DISCOVERY])).status_code == 200


def test_an_audience_array_without_the_called_url_is_refused(auth_app, es384, refusals):
    assert_refused(discover(auth_app, es384.token([SIGN])), refusals, "wrong-audience")


def test_a_token_for_another_service_is_refused(auth_app, es384, refusals, fixture):
    response = auth_app.test_client().post(
        "/cds-services/ketamine-order-sign", json=fixture("order-sign-esketamine-maoi"),
        headers=bearer(es384.token(BASE + "/cds-services/ketamine-order-select")),
    )
    assert_refused(response, refusals, "wrong-audience")


def test_the_audience_is_the_configured_public_url_not_the_host_called(auth_app, es384, refusals):
    assert_refused(discover(auth_app, es384.token("http://localhost/cds-services")), refusals, "wrong-audience")


def test_an_expired_token_is_refused(auth_app, es384, refusals):
    now = int(time.time())
    assert_refused(discover(auth_app, es384.token(exp=now - 120, iat=now - 420)), refusals, "expired")


def test_a_token_just_expired_passes_within_the_leeway(auth_app, es384):
    now = int(time.time())
    assert discover(auth_app, es384.token(exp=now - 5, iat=now - 305)).status_code == 200


def test_a_token_not_yet_valid_is_refused(auth_app, es384, refusals):
    assert_refused(discover(auth_app, es384.token(nbf=int(time.time()) + 600)), refusals, "not-yet-valid")


def test_a_token_issued_in_the_future_is_refused(auth_app, es384, refusals):
    now = int(time.time())
    assert_refused(discover(auth_app, es384.token(iat=now + 600, exp=now + 900)), refusals, "not-yet-valid")


@pytest.mark.parametrize("claim", ["jti", "exp", "iat", "aud"])
def test_a_token_without_a_required_claim_is_refused(auth_app, es384, refusals, claim):
    assert_refused(discover(auth_app, es384.token(omit=(claim,))), refusals, "missing-claim")


def test_an_unknown_issuer_is_refused(auth_app, es384, refusals):
    assert_refused(discover(auth_app, es384.token(iss="https://evil.example.org")), refusals, "unknown-issuer")


def test_an_unknown_key_id_is_refused(auth_app, refusals):
    stranger = Signer(ec.generate_private_key(ec.SECP384R1()), "es-unknown", "ES384")
    assert_refused(discover(auth_app, stranger.token()), refusals, "unknown-kid")


def test_a_token_signed_by_another_key_under_a_known_kid_is_refused(auth_app, refusals):
    impostor = Signer(ec.generate_private_key(ec.SECP384R1()), "es-1", "ES384")
    assert_refused(discover(auth_app, impostor.token()), refusals, "bad-signature")


def test_alg_none_is_refused(auth_app, refusals):
    assert_refused(discover(auth_app, unsigned()), refusals, "alg-not-allowed")


def test_hs256_signed_with_the_public_key_is_refused(auth_app, rs384, es384, refusals):
    assert_refused(discover(auth_app, hs256_with_public_key(rs384)), refusals, "alg-not-allowed")
    refusals.clear()
    assert_refused(discover(auth_app, hs256_with_public_key(es384)), refusals, "alg-not-allowed")


def test_an_rsa_algorithm_naming_an_ec_key_is_refused(auth_app, rs384, refusals):
    confused = Signer(rs384.private_key, "es-1", "RS384")
    assert_refused(discover(auth_app, confused.token()), refusals, "key-mismatch")


def test_an_es384_token_naming_a_p256_key_is_refused(make_app, refusals):
    p256 = Signer(ec.generate_private_key(ec.SECP256R1()), "p256", "ES256")
    app = make_app({"iss": ISS, "jwks": {"keys": [p256.jwk]}})
    assert discover(app, p256.token()).status_code == 200
    _, payload, signature = p256.token().split(".")
    header = base64.urlsafe_b64encode(json.dumps({"alg": "ES384", "typ": "JWT", "kid": "p256"}).encode()).rstrip(b"=")
    assert_refused(discover(app, f"{header.decode()}.{payload}.{signature}"), refusals, "key-mismatch")


def test_a_token_typed_other_than_jwt_is_refused(auth_app, es384, refusals):
    assert_refused(discover(auth_app, es384.token(headers={"typ": "at+jwt"})), refusals, "bad-typ")


def test_a_token_without_kid_is_refused(auth_app, es384, refusals):
    assert_refused(discover(auth_app, es384.token(headers={"kid": None})), refusals, "missing-kid")


def test_a_replayed_token_is_refused(auth_app, es384, refusals):
    token = es384.token()
    assert discover(auth_app, token).status_code == 200
    assert_refused(discover(auth_app, token), refusals, "replayed-jti")


def test_a_jku_not_on_the_allowlist_is_refused(auth_app, es384, refusals):
    token = es384.token(headers={"jku": "https://evil.example.org/jwks.json"})
    assert_refused(discover(auth_app, token), refusals, "jku-not-allowed")


@pytest.mark.parametrize("jku", [["https://ehr.example.org/jku.json"], {"url": "x"}, 7])
def test_a_jku_that_is_not_a_url_string_is_refused_not_a_500(auth_app, es384, refusals, jku):
    assert_refused(discover(auth_app, es384.token(headers={"jku": jku})), refusals, "jku-not-allowed")


@responses.activate
def test_a_jku_on_the_allowlist_is_where_the_key_is_read(make_app, es384, refusals):
    jku = "https://ehr.example.org/jku.json"
    responses.get(jku, json={"keys": [es384.jwk]})
    app = make_app({"iss": ISS, "jwks_url": JWKS_URL, "jku_allowlist": [jku]})
    assert discover(app, es384.token(headers={"jku": jku})).status_code == 200
    assert [call.request.url for call in responses.calls] == [jku]


def test_a_missing_authorization_header_is_refused(auth_app, refusals):
    assert_refused(discover(auth_app, None), refusals, "missing-token")


@pytest.mark.parametrize("header", ["Basic dXNlcjpwYXNz", "Bearer", "Bearer    ", "not-a-jwt"])
def test_an_authorization_header_without_a_bearer_token_is_refused(auth_app, refusals, header):
    response = auth_app.test_client().get("/cds-services", headers={"Authorization": header})
    assert response.status_code == 401
    assert refusals[0] in ("missing-token", "malformed-token")


def test_a_garbled_token_is_refused(auth_app, refusals):
    assert_refused(discover(auth_app, "abc.def.ghi"), refusals, "malformed-token")


def test_only_listed_tenants_are_accepted_when_the_issuer_lists_some(make_app, issuer, es384, refusals):
    app = make_app(issuer | {"tenants": ["hospital-a"]})
    assert discover(app, es384.token(tenant="hospital-a")).status_code == 200
    assert_refused(discover(app, es384.token(tenant="hospital-b")), refusals, "tenant-not-allowed")
    refusals.clear()
    assert_refused(discover(app, es384.token()), refusals, "tenant-not-allowed")


@pytest.mark.parametrize("tenant", [["hospital-a"], {"id": "hospital-a"}])
def test_a_tenant_that_is_not_a_string_is_refused_not_a_500(make_app, issuer, es384, refusals, tenant):
    app = make_app(issuer | {"tenants": ["hospital-a"]})
    assert_refused(discover(app, es384.token(tenant=tenant)), refusals, "tenant-not-allowed")


def test_a_token_living_longer_than_five_minutes_is_refused(auth_app, es384, refusals):
    now = int(time.time())
    assert discover(auth_app, es384.token(exp=now + 300)).status_code == 200
    assert_refused(discover(auth_app, es384.token(exp=now + 3600)), refusals, "lifetime-too-long")
    refusals.clear()
    assert_refused(discover(auth_app, es384.token(exp=10**12)), refusals, "lifetime-too-long")


def test_a_cors_preflight_needs_no_token(auth_app):
    response = auth_app.test_client().options("/cds-services/ketamine-order-sign", headers={
        "Origin": "https://sandbox.cds-hooks.org",
        "Access-Control-Request-Method": "POST",
        "Access-Control-Request-Headers": "Authorization, Content-Type",
    })
    assert response.status_code == 200
    assert response.headers["Access-Control-Allow-Origin"] == "https://sandbox.cds-hooks.org"


def test_a_refusal_is_readable_by_a_browser_client(auth_app):
    response = auth_app.test_client().get("/cds-services", headers={"Origin": "https://sandbox.cds-hooks.org"})
    assert response.status_code == 401
    assert response.headers["Access-Control-Allow-Origin"] == "https://sandbox.cds-hooks.org"


def test_only_a_browser_call_gets_cors_headers(auth_app):
    client = auth_app.test_client()
    browser = client.get("/cds-services", headers={"Origin": "https://sandbox.cds-hooks.org"})
    server = client.get("/cds-services")
    assert browser.headers["Access-Control-Allow-Origin"] == "https://sandbox.cds-hooks.org"
    assert not [name for name, _ in server.headers if name.startswith("Access-Control-")]


def test_paths_outside_cds_services_need_no_token(auth_app, refusals):
    assert auth_app.test_client().get("/no-such-page").status_code == 404
    assert refusals == []


def test_the_token_never_reaches_the_log(auth_app, es384, caplog, fixture):
    caplog.set_level(logging.DEBUG)
    good, expired = es384.token(SIGN), es384.token(exp=int(time.time()) - 600, iat=int(time.time()) - 900)
    client = auth_app.test_client()
    client.post("/cds-services/ketamine-order-sign", json=fixture("order-sign-esketamine-maoi"), headers=bearer(good))
    client.post("/cds-services/ketamine-order-sign", json=fixture("order-sign-esketamine-maoi"), headers=bearer(good))
    client.get("/cds-services", headers=bearer(expired))
    client.get("/cds-services", headers=bearer(expired + "x"))
    logged = caplog.text
    assert "authentication refused: replayed-jti" in logged
    assert "authentication refused: expired" in logged
    for token in (good, expired):
        for part in token.split("."):
            assert part not in logged
    reasons = [record.auth_reason for record in caplog.records if hasattr(record, "auth_reason")]
    assert reasons == ["replayed-jti", "expired", "malformed-token"]
    assert set(reasons) <= set(REASONS)


def test_a_refusal_is_logged_once_with_its_reason(auth_app, es384, refusals, caplog):
    caplog.set_level(logging.DEBUG)
    now = int(time.time())
    discover(auth_app, es384.token(exp=now - 120, iat=now - 420))
    logged = [record for record in caplog.records if record.getMessage() != "request answered"]
    assert [(record.levelname, getattr(record, "auth_reason", None)) for record in logged] == [("WARNING", "expired")]
    assert refusals == ["expired"]


def test_a_replay_is_refused_by_another_instance_sharing_redis(make_app, issuer, es384, redis_url, refusals):
    first = make_app(issuer, redis_url=redis_url, database="first")
    second = make_app(issuer, redis_url=redis_url, database="second")
    token = es384.token()
    assert discover(first, token).status_code == 200
    assert_refused(discover(second, token), refusals, "replayed-jti")
    assert discover(second, es384.token()).status_code == 200


def test_refusals_are_counted_by_reason_on_the_metrics_endpoint(auth_app, es384):
    client = auth_app.test_client()
    now = int(time.time())
    before = {reason: scraped(client, "ketamine_cds_auth_failures_total", reason=reason)
              for reason in ("expired", "missing-token")}

    discover(auth_app, es384.token(exp=now - 120, iat=now - 420))
    discover(auth_app, None)
    discover(auth_app, None)
    discover(auth_app, es384.token())

    assert scraped(client, "ketamine_cds_auth_failures_total", reason="expired") == before["expired"] + 1
    assert scraped(client, "ketamine_cds_auth_failures_total", reason="missing-token") == before["missing-token"] + 2


def test_an_unreachable_replay_store_answers_503_not_200(make_app, issuer, es384):
    app = make_app(issuer, redis_url="redis://127.0.0.1:1/0")
    response = discover(app, es384.token())
    assert response.status_code == 503
    assert response.json["resourceType"] == "OperationOutcome"




@responses.activate
def test_an_unknown_kid_fetches_the_rotated_key_set_once(es384):
    rotated = Signer(ec.generate_private_key(ec.SECP384R1()), "es-2", "ES384")
    first = responses.get(JWKS_URL, json={"keys": [es384.jwk]})
    clock = Clock()
    issuer = Issuer(ISS, RemoteKeys(JWKS_URL, clock=clock))
    authenticator = Authenticator({ISS: issuer}, MemoryReplayStore())

    assert authenticator.verify(es384.token(), DISCOVERY)["iss"] == ISS
    with pytest.raises(AuthFailure, match="unknown-kid"):
        authenticator.verify(rotated.token(), DISCOVERY)
    assert first.call_count == 1, "a second fetch so soon after the first is rate-limited"

    responses.replace(responses.GET, JWKS_URL, json={"keys": [es384.jwk, rotated.jwk]})
    clock.now += MIN_REFRESH_SECONDS
    assert authenticator.verify(rotated.token(), DISCOVERY)["iss"] == ISS
    assert authenticator.verify(es384.token(), DISCOVERY)["iss"] == ISS
    assert len(responses.calls) == 2


def test_a_token_is_read_once_to_choose_its_key_and_once_to_verify_it(es384, monkeypatch):
    authenticator = Authenticator({ISS: Issuer(ISS, StaticKeys({"keys": [es384.jwk]}))}, MemoryReplayStore())
    token, load, reads = es384.token(), PyJWS._load, []

    def counted(self, jwt):
        reads.append(jwt)
        return load(self, jwt)

    monkeypatch.setattr(PyJWS, "_load", counted)
    assert authenticator.verify(token, DISCOVERY)["iss"] == ISS
    assert len(reads) == 2


def test_a_key_is_built_from_its_jwk_once_not_for_every_token(es384, monkeypatch):
    authenticator = Authenticator({ISS: Issuer(ISS, StaticKeys({"keys": [es384.jwk]}))}, MemoryReplayStore())
    tokens, built = [es384.token() for _ in range(3)], []

    class CountedJwk(jwt.PyJWK):
        def __init__(self, *args, **kwargs):
            built.append(args)
            super().__init__(*args, **kwargs)

    monkeypatch.setattr(jwt, "PyJWK", CountedJwk)
    for token in tokens:
        assert authenticator.verify(token, DISCOVERY)["iss"] == ISS
    assert len(built) == 1


@responses.activate
def test_a_key_changed_under_the_same_kid_is_used_once_the_set_is_fetched_again(es384):
    responses.get(JWKS_URL, json={"keys": [es384.jwk]})
    clock = Clock()
    authenticator = Authenticator({ISS: Issuer(ISS, RemoteKeys(JWKS_URL, clock=clock))}, MemoryReplayStore())
    assert authenticator.verify(es384.token(), DISCOVERY)["iss"] == ISS

    replacement = Signer(ec.generate_private_key(ec.SECP384R1()), es384.kid, "ES384")
    responses.replace(responses.GET, JWKS_URL, json={"keys": [replacement.jwk]})
    clock.now += CACHE_SECONDS
    assert authenticator.verify(replacement.token(), DISCOVERY)["iss"] == ISS
    with pytest.raises(AuthFailure, match="bad-signature"):
        authenticator.verify(es384.token(), DISCOVERY)
    assert len(responses.calls) == 2


@responses.activate
def test_an_unreachable_key_set_refuses_with_its_own_reason(es384):
    responses.get(JWKS_URL, status=503)
    authenticator = Authenticator({ISS: Issuer(ISS, RemoteKeys(JWKS_URL))}, MemoryReplayStore())
    with pytest.raises(AuthFailure, match="jwks-unavailable"):
        authenticator.verify(es384.token(), DISCOVERY)


@pytest.mark.parametrize(("header", "token"), [("Bearer abc", "abc"), ("bearer  abc ", "abc")])
def test_the_bearer_scheme_is_read_case_insensitively(header, token):
    assert bearer_token(header) == token


@responses.activate
def test_an_ehr_may_only_name_the_fhir_servers_its_issuer_lists(make_app, issuer, es384, fixture):
    listed = "https://ehr.example.org/fhir"
    app = make_app(issuer | {"fhir_servers": [listed + "/"]})
    fetched = responses.get(f"{listed}/Condition", json={"resourceType": "Bundle", "type": "searchset"})

    def call(fhir_server):
        body = fixture("order-sign-esketamine-maoi")
        del body["prefetch"]["conditions"]
        body["fhirServer"] = fhir_server
        response = app.test_client().post("/cds-services/ketamine-order-sign", json=body,
                                          headers=bearer(es384.token(SIGN)))
        assert response.status_code == 200
        return response.json["cards"]

    def refusals() -> float:
        return scraped(app.test_client(), "ketamine_cds_fhir_fetch_failures_total", resource="Condition",
                       reason="not-listed")

    before = refusals()
    elsewhere = call("https://attacker.example.net/fhir")
    assert "not one this EHR is registered for" in elsewhere[-1]["detail"]
    assert fetched.call_count == 0 and len(responses.calls) == 0, "nothing may be sent to an unlisted server"
    assert refusals() == before + 1

    assert not any(card["summary"].startswith("Interaction check incomplete") for card in call(listed))
    assert fetched.call_count == 1
