"""Who may open the console: everyone in development, nobody in production unless it is enabled, and then only
with its own credential, never an EHR's JWT."""

from __future__ import annotations

import base64

import pytest

from service import create_app
from service.config import ConfigError, Settings

TOKEN = "c" * 40
PRODUCTION = {"env": "production", "auth_mode": "off", "patient_hash_key": "k" * 32}


def app(tmp_path, **settings):
    return create_app(Settings(database_url=f"sqlite:///{tmp_path}/cds.sqlite3", **settings))


def basic(password: str, user: str = "committee") -> dict[str, str]:
    return {"Authorization": "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()}


def test_in_development_the_console_is_open_with_safe_headers(client):
    page = client.get("/console/")
    assert page.status_code == 200 and page.mimetype == "text/html"
    assert "default-src 'none'" in page.headers["Content-Security-Policy"]
    assert page.headers["Cache-Control"] == "no-store" and page.headers["X-Content-Type-Options"] == "nosniff"


def test_in_production_the_console_is_off_unless_enabled(tmp_path):
    client = app(tmp_path, **PRODUCTION).test_client()
    assert client.get("/console/").status_code == 404 and client.get("/").status_code == 404


def test_the_root_leads_to_the_console_when_it_is_on(client):
    home = client.get("/")
    assert home.status_code == 302 and home.headers["Location"] == "/console/"


def test_enabling_it_in_production_needs_its_credential(tmp_path):
    with pytest.raises(ConfigError, match="CDS_CONSOLE_TOKEN must be set"):
        Settings(**PRODUCTION, console=True)
    client = app(tmp_path, **PRODUCTION, console=True, console_token=TOKEN).test_client()
    refused = client.get("/console/rules")
    assert refused.status_code == 401 and refused.headers["WWW-Authenticate"].startswith('Basic realm="ketamine-cds')
    assert "CDS_CONSOLE_TOKEN" in refused.get_data(as_text=True) and TOKEN not in refused.get_data(as_text=True)
    assert client.get("/console/rules", headers=basic(TOKEN)).status_code == 200
    assert client.get("/console/rules", headers={"Authorization": f"Bearer {TOKEN}"}).status_code == 200
    assert client.get("/console/rules", headers=basic(TOKEN[:-1] + "x")).status_code == 401


def test_an_ehr_jwt_does_not_open_the_console(tmp_path):
    client = app(tmp_path, console_token=TOKEN).test_client()
    jwt_like = "eyJhbGciOiJFUzM4NCJ9.eyJpc3MiOiJodHRwczovL2VociJ9.c2ln"
    assert client.get("/console/", headers={"Authorization": f"Bearer {jwt_like}"}).status_code == 401


def test_the_settings_read_the_console_variables(tmp_path):
    assert Settings.from_env({}).console_enabled
    assert not Settings.from_env({"CDS_CONSOLE": "false"}).console_enabled
    production = {"CDS_ENV": "production", "CDS_AUTH_MODE": "off", "CDS_PATIENT_HASH_KEY": "k" * 32}
    assert not Settings.from_env(production).console_enabled
    enabled = Settings.from_env({**production, "CDS_CONSOLE": "true", "CDS_CONSOLE_TOKEN": TOKEN})
    assert enabled.console_enabled and TOKEN not in repr(enabled)
    with pytest.raises(ConfigError, match="CDS_CONSOLE_TOKEN must be at least 32"):
        Settings.from_env({"CDS_CONSOLE_TOKEN": "short"})
    with pytest.raises(ConfigError, match="CDS_CONSOLE must be true or false"):
        Settings.from_env({"CDS_CONSOLE": "maybe"})


def test_every_rule_page_opens_order_rules_with_their_limits_filled(client):
    listing = client.get("/console/rules")
    assert listing.status_code == 200
    assert "a dose per session other than 56 or 84 mg" in listing.get_data(as_text=True)
    for rule_id in ("esketamine-dose", "esketamine-older-adult-start", "maoi", "pregnancy"):
        page = client.get(f"/console/rules/{rule_id}")
        assert page.status_code == 200, rule_id
        assert "{allowed}" not in page.get_data(as_text=True)
    assert "off unless a site switches it on" in client.get("/console/rules/esketamine-older-adult-start").get_data(
        as_text=True)
