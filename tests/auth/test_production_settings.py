"""Production with JWT authentication starts only in a configuration where a token is checked as the specification
means it: against the service's own public URL, once across every worker and replica, for the FHIR servers its
issuer lists."""

from __future__ import annotations

import pytest
import yaml

from service import create_app
from service.config import ConfigError, Settings
from tests.auth.auth_helpers import BASE, bearer

KEY = "k" * 40


def production(tmp_path, issuer, **env: str) -> dict[str, str]:
    path = tmp_path / "issuers.yaml"
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
