"""Security settings: production refuses to start without a choice about authentication, and CORS defaults."""

from __future__ import annotations

import logging

import pytest

from service import create_app
from service.auth import OFF_WARNING
from service.config import ConfigError, Settings
from service.http.cors import origins

KEY = "k" * 32


def test_production_without_an_auth_mode_refuses_to_start():
    with pytest.raises(ConfigError, match="CDS_AUTH_MODE must be set"):
        Settings.from_env({"CDS_ENV": "production", "CDS_PATIENT_HASH_KEY": KEY})


def test_jwt_mode_without_an_issuers_file_refuses_to_start():
    with pytest.raises(ConfigError, match="CDS_TRUSTED_ISSUERS_FILE"):
        Settings.from_env({"CDS_AUTH_MODE": "jwt"})


def test_production_needs_a_patient_hash_key():
    with pytest.raises(ConfigError, match="CDS_PATIENT_HASH_KEY"):
        Settings.from_env({"CDS_ENV": "production", "CDS_AUTH_MODE": "off"})


def test_a_short_patient_hash_key_is_refused():
    with pytest.raises(ConfigError, match="at least 32"):
        Settings.from_env({"CDS_PATIENT_HASH_KEY": "short"})


def test_secrets_in_settings_are_not_shown_when_settings_are_printed():
    settings = Settings.from_env({"CDS_PATIENT_HASH_KEY": KEY, "DATABASE_URL": "postgresql://u:hunter2@db/cds",
                                  "REDIS_URL": "redis://:hunter3@cache:6379/0"})
    assert KEY not in repr(settings)
    assert "hunter" not in repr(settings)


def test_production_may_switch_authentication_off_explicitly():
    settings = Settings.from_env({"CDS_ENV": "production", "CDS_AUTH_MODE": "off", "CDS_PATIENT_HASH_KEY": KEY})
    assert settings.auth_mode == "off"


def test_an_empty_issuers_file_stops_start_up(tmp_path):
    path = tmp_path / "issuers.yaml"
    path.write_text("issuers: []\n", encoding="utf-8")
    settings = Settings.from_env({"CDS_AUTH_MODE": "jwt", "CDS_TRUSTED_ISSUERS_FILE": str(path),
                                  "DATABASE_URL": f"sqlite:///{tmp_path}/cds.sqlite3"})
    with pytest.raises(ConfigError, match="issuers: Shorter than minimum length 1"):
        create_app(settings)


def test_the_embedded_default_warns_loudly_that_anyone_may_call(tmp_path, caplog):
    create_app(Settings(database_url=f"sqlite:///{tmp_path}/cds.sqlite3"))
    assert (logging.WARNING, OFF_WARNING) in [(r.levelno, r.getMessage()) for r in caplog.records]


@pytest.mark.parametrize("raw", ["https://sandbox.cds-hooks.org/path", "sandbox.cds-hooks.org", "ftp://x.org"])
def test_a_malformed_cors_origin_is_named(raw):
    with pytest.raises(ConfigError, match="CDS_CORS_ORIGINS"):
        Settings.from_env({"CDS_CORS_ORIGINS": raw})


@pytest.mark.parametrize("raw", ["https://cds.example.org/?x=1", "cds.example.org"])
def test_a_malformed_public_base_url_is_named(raw):
    with pytest.raises(ConfigError, match="CDS_PUBLIC_BASE_URL"):
        Settings.from_env({"CDS_PUBLIC_BASE_URL": raw})


def test_cors_allows_every_origin_in_development_and_none_in_production_by_default():
    assert origins(Settings()) == ("*",)
    assert origins(Settings(env="production", auth_mode="off", patient_hash_key=KEY)) == ()
    listed = Settings.from_env({"CDS_CORS_ORIGINS": "https://a.example.org, https://b.example.org/"})
    assert origins(listed) == ("https://a.example.org", "https://b.example.org")


def test_an_origin_not_listed_gets_no_cors_headers(tmp_path):
    settings = Settings(cors_origins=("https://a.example.org",), database_url=f"sqlite:///{tmp_path}/cds.sqlite3")
    client = create_app(settings).test_client()
    preflight = {"Access-Control-Request-Method": "POST", "Access-Control-Request-Headers": "Authorization"}
    allowed = client.options("/cds-services", headers={"Origin": "https://a.example.org"} | preflight)
    refused = client.options("/cds-services", headers={"Origin": "https://evil.example.org"} | preflight)
    assert allowed.headers["Access-Control-Allow-Origin"] == "https://a.example.org"
    assert "authorization" in allowed.headers["Access-Control-Allow-Headers"].lower()
    assert "Access-Control-Allow-Origin" not in refused.headers
    assert "Access-Control-Allow-Credentials" not in allowed.headers
