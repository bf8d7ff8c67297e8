"""Keys and apps for the authentication tests."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from flask import Flask

from service import create_app
from service.auth import refused
from service.config import Settings
from tests.auth.auth_helpers import BASE, ISS, Signer


@pytest.fixture(scope="session")
def es384() -> Signer:
    return Signer(ec.generate_private_key(ec.SECP384R1()), "es-1", "ES384")


@pytest.fixture(scope="session")
def rs384() -> Signer:
    return Signer(rsa.generate_private_key(public_exponent=65537, key_size=2048), "rs-1", "RS384")


@pytest.fixture
def issuer(es384: Signer, rs384: Signer) -> dict[str, Any]:
    """The trusted EHR as the issuers file lists it: both its keys inline."""
    return {"iss": ISS, "jwks": {"keys": [es384.jwk, rs384.jwk]}}


@pytest.fixture
def make_app(tmp_path: Path) -> Callable[..., Flask]:
    """An app with JWT authentication on, trusting the given issuers, reached at BASE."""

    def make(*issuers: dict[str, Any], redis_url: str | None = None, database: str = "cds") -> Flask:
        path = tmp_path / "issuers.yaml"
        path.write_text(yaml.safe_dump({"issuers": list(issuers)}), encoding="utf-8")
        settings = Settings(auth_mode="jwt", trusted_issuers_file=path, public_base_url=BASE, redis_url=redis_url,
                            database_url=f"sqlite:///{tmp_path}/{database}.sqlite3")
        return create_app(settings)

    return make


@pytest.fixture
def auth_app(make_app: Callable[..., Flask], issuer: dict[str, Any]) -> Flask:
    return make_app(issuer)


@pytest.fixture
def refusals() -> Iterator[list[str]]:
    """The reason of every refusal, as the ``refused`` signal reports them."""
    reasons: list[str] = []

    def receive(sender: object, reason: str) -> None:
        reasons.append(reason)

    with refused.connected_to(receive):
        yield reasons

