"""Production with JWT authentication starts only in a configuration where a token is checked as the specification
means it: against the service's own public URL, once across every worker and replica, for the FHIR servers its
issuer lists."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest
import yaml

from service import create_app
from service.config import ConfigError, Settings
from tests.auth.auth_helpers import BASE, bearer
from tests.scrape import closed_port

KEY = "k" * 40


def production(tmp_path, issuer, *, fhir_servers: bool = True, **env: str) -> dict[str, str]:
    path = tmp_path / "issuers.yaml"
    if fhir_servers:
        issuer = {"fhir_servers": ["https://ehr.example.org/fhir"], **issuer}
    path.write_text(yaml.safe_dump({"issuers": [issuer]}), encoding="utf-8")
    return {"CDS_ENV": "production", "CDS_AUTH_MODE": "jwt", "CDS_TRUSTED_ISSUERS_FILE": str(path),
            "CDS_PATIENT_HASH_KEY": KEY, "DATABASE_URL": f"sqlite:///{tmp_path}/cds.sqlite3", **env}


def test_production_with_jwt_refuses_to_start_without_its_public_base_url(tmp_path, issuer):
    with pytest.raises(ConfigError, match="CDS_PUBLIC_BASE_URL must be set"):
        Settings.from_env(production(tmp_path, issuer))


def test_with_its_public_base_url_a_token_for_another_service_is_refused_whatever_the_host(tmp_path, issuer, es384):
    settings = Settings.from_env(production(tmp_path, issuer, CDS_PUBLIC_BASE_URL=BASE, CDS_WORKERS="1"))
    client = create_app(settings).test_client()
    other = "https://other-service.example.org"
    response = client.get("/cds-services", base_url=other, headers=bearer(es384.token(aud=f"{other}/cds-services")))
    assert response.status_code == 401
    assert client.get("/cds-services", base_url=other, headers=bearer(es384.token())).status_code == 200


def test_production_with_jwt_and_several_workers_refuses_to_start_without_redis(tmp_path, issuer):
    with pytest.raises(ConfigError, match=r"REDIS_URL must be set .* CDS_WORKERS is above 1 \(2\)"):
        Settings.from_env(production(tmp_path, issuer, CDS_PUBLIC_BASE_URL=BASE))


def test_one_worker_without_redis_starts_and_says_it_must_be_the_only_replica(tmp_path, issuer, caplog):
    create_app(Settings.from_env(production(tmp_path, issuer, CDS_PUBLIC_BASE_URL=BASE, CDS_WORKERS="1")))
    assert any("run this service as one replica" in record.getMessage() for record in caplog.records)


def test_several_workers_start_with_redis(tmp_path, issuer):
    settings = Settings.from_env(production(tmp_path, issuer, CDS_PUBLIC_BASE_URL=BASE, CDS_WORKERS="4",
                                            REDIS_URL="redis://127.0.0.1:6379/0"))
    assert settings.workers == 4


@pytest.mark.integration
def test_gunicorn_with_jwt_and_two_workers_without_redis_stops_with_the_reason(tmp_path, issuer):
    env = {key: value for key, value in os.environ.items() if not key.startswith(("CDS_", "PROMETHEUS_", "REDIS"))}
    env |= production(tmp_path, issuer, CDS_PUBLIC_BASE_URL=BASE, CDS_WORKERS="2",
                      CDS_BIND=f"127.0.0.1:{closed_port()}", PROMETHEUS_MULTIPROC_DIR=str(tmp_path / "metrics"))
    done = subprocess.run([sys.executable, "-m", "gunicorn", "-c", "python:service.gunicorn_conf"], env=env,
                          capture_output=True, text=True, timeout=120)
    assert done.returncode != 0
    assert "REDIS_URL must be set" in done.stdout + done.stderr


def test_production_with_jwt_refuses_an_issuer_without_its_fhir_servers(tmp_path, issuer):
    env = production(tmp_path, issuer, fhir_servers=False, CDS_PUBLIC_BASE_URL=BASE, CDS_WORKERS="1")
    with pytest.raises(ConfigError, match=r"every issuer must list its fhir_servers .* no list for: https://ehr"):
        create_app(Settings.from_env(env))


def test_with_fhir_servers_listed_production_starts(tmp_path, issuer):
    listed = {**issuer, "fhir_servers": ["https://ehr.example.org/fhir"]}
    env = production(tmp_path, listed, CDS_PUBLIC_BASE_URL=BASE, CDS_WORKERS="1")
    assert create_app(Settings.from_env(env)).test_client().get("/healthz").status_code == 200


@pytest.mark.integration
def test_under_gunicorn_with_two_workers_and_redis_a_token_is_accepted_once(tmp_path, issuer, es384, redis_url):
    from tests.serving import get, gunicorn

    env = production(tmp_path, issuer, CDS_PUBLIC_BASE_URL=BASE, CDS_WORKERS="2", CDS_THREADS="1",
                     REDIS_URL=redis_url)
    env.pop("DATABASE_URL")
    with gunicorn(tmp_path, **env) as server:
        token = es384.token()
        statuses = [get(server.base + "/cds-services", Authorization=f"Bearer {token}")[0] for _ in range(8)]
    assert sorted(statuses) == [200] + [401] * 7
