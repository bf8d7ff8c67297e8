"""The trusted-issuers entry docs/sandbox.md gives for the CDS Hooks Sandbox: its tokens, always signed with the
key set its ``jku`` names, are accepted when that URL answers, and refused (401, jwks-unavailable) offline."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
import requests
import responses

from service import create_app
from service.config import Settings
from tests.auth.auth_helpers import bearer

DOCS = Path(__file__).resolve().parents[2] / "docs" / "sandbox.md"
SANDBOX_ISS = "https://sandbox.cds-hooks.org"
SANDBOX_JKU = "https://sandbox.cds-hooks.org/.well-known/jwks.json"
BASE = "http://127.0.0.1:8080"
SERVICE = "/cds-services/ketamine-order-sign"


@pytest.fixture
def sandbox_app(tmp_path):
    [entry] = re.findall(r"```yaml\n(issuers:.*?)```", DOCS.read_text(encoding="utf-8"), re.DOTALL)
    issuers = tmp_path / "trusted-issuers.yaml"
    issuers.write_text(entry, encoding="utf-8")
    return create_app(Settings(auth_mode="jwt", trusted_issuers_file=issuers, public_base_url=BASE,
                               database_url=f"sqlite:///{tmp_path}/cds.sqlite3"))


def call(app, es384, fixture):
    token = es384.token(BASE + SERVICE, iss=SANDBOX_ISS, headers={"jku": SANDBOX_JKU})
    return app.test_client().post(SERVICE, json=fixture("order-sign-esketamine-maoi"), headers=bearer(token))


@responses.activate
def test_a_sandbox_token_is_accepted_with_the_documented_entry(sandbox_app, es384, fixture):
    responses.get(SANDBOX_JKU, json={"keys": [es384.jwk]})
    answer = call(sandbox_app, es384, fixture)
    assert answer.status_code == 200 and answer.get_json()["cards"]
    assert [c.request.url for c in responses.calls] == [SANDBOX_JKU]


@responses.activate
def test_offline_the_sandbox_token_is_refused_as_the_docs_say(sandbox_app, es384, fixture, caplog):
    responses.get(SANDBOX_JKU, body=requests.ConnectionError("no network"))
    answer = call(sandbox_app, es384, fixture)
    assert answer.status_code == 401
    assert any("jwks-unavailable" in record.getMessage() for record in caplog.records)
