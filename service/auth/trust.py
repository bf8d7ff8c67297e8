"""The trusted-issuers file: which CDS Clients may call, and where their public keys are.

The file (YAML or JSON) is either a list of issuers or an object with an ``issuers`` list. Each issuer has ``iss``;
exactly one of ``jwks_url`` (fetched and cached), ``jwks_file`` (a path, relative to the issuers file) or ``jwks``
(the JWK Set inline); optionally ``jku_allowlist`` (JWK Set URLs a token's ``jku`` header may name) and ``tenants``
(the ``tenant`` claims accepted; any when absent). It is checked at start-up: a bad file stops start-up with a
message naming the field.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml
from marshmallow import RAISE, Schema, ValidationError, fields, validate, validates_schema

from cds_hooks.errors import first_error
from service.auth.jwks import KeySource, RemoteKeys, StaticKeys, check_jwks
from service.config import ConfigError

ENV_NAME = "CDS_TRUSTED_ISSUERS_FILE"
_TEXT = validate.Length(min=1)
_URL = fields.Url(require_tld=False, schemes={"http", "https"})


@dataclass(frozen=True)
class Issuer:
    iss: str
    keys: KeySource
    jku_allowlist: frozenset[str] = frozenset()
    tenants: frozenset[str] | None = None
    """None: any tenant (or none) is accepted."""
    fhir_servers: frozenset[str] | None = None
    """The ``fhirServer`` base URLs this EHR's calls may name; None: any (https, or loopback) server."""


class _JwksField(fields.Dict):
    """A JWK Set: an object whose ``keys`` are public signing keys PyJWT can read, each with a ``kid``."""

    def _deserialize(self, value: object, attr: str | None, data: object, **kwargs: object) -> dict[str, Any]:
        result = super()._deserialize(value, attr, data, **kwargs)
        problem = check_jwks(result)
        if problem:
            raise ValidationError(problem)
        return result


class _IssuerSchema(Schema):
    class Meta:
        unknown = RAISE
        """A misspelt field (``tenant:`` for ``tenants:``) must stop start-up, not silently widen who may call."""

    iss = fields.Str(required=True, validate=_TEXT)
    jwks_url = _URL
    jwks_file = fields.Str(validate=_TEXT)
    jwks = _JwksField()
    jku_allowlist = fields.List(_URL)
    tenants = fields.List(fields.Str(validate=_TEXT), validate=validate.Length(min=1))
    fhir_servers = fields.List(_URL, validate=validate.Length(min=1))

    @validates_schema
    def _one_key_source(self, data: dict[str, Any], **kwargs: object) -> None:
        given = [name for name in ("jwks_url", "jwks_file", "jwks") if name in data]
        if len(given) != 1:
            raise ValidationError("give exactly one of jwks_url, jwks_file or jwks.", "jwks_url")


class _FileSchema(Schema):
    issuers = fields.List(fields.Nested(_IssuerSchema), required=True, validate=validate.Length(min=1))

    @validates_schema
    def _unique(self, data: dict[str, Any], **kwargs: object) -> None:
        seen: set[str] = set()
        for index, issuer in enumerate(data.get("issuers", ())):
            if issuer["iss"] in seen:
                raise ValidationError({str(index): {"iss": [f"{issuer['iss']!r} is listed twice."]}}, "issuers")
            seen.add(issuer["iss"])


def load_issuers(path: Path) -> dict[str, Issuer]:
    """The trusted issuers by ``iss``; ConfigError naming the file and field when the file is unusable."""
    try:
        document = yaml.safe_load(path.read_text(encoding="utf-8"))
    except (OSError, yaml.YAMLError) as error:
        raise ConfigError(f"{ENV_NAME} {path}: cannot be read as YAML or JSON ({error})") from None
    if isinstance(document, list):
        document = {"issuers": document}
    if not isinstance(document, Mapping):
        raise ConfigError(f"{ENV_NAME} {path}: must be a list of issuers or an object with an issuers list")
    try:
        data = _FileSchema().load(document, unknown=RAISE)
    except ValidationError as error:
        field, message = first_error(error.messages)
        raise ConfigError(f"{ENV_NAME} {path}: {field}: {message}") from None
    return {
        entry["iss"]: _issuer(entry, path.parent, f"issuers.{index}") for index, entry in enumerate(data["issuers"])
    }


def _issuer(entry: Mapping[str, Any], folder: Path, where: str) -> Issuer:
    if "jwks_url" in entry:
        keys: KeySource = RemoteKeys(entry["jwks_url"])
    elif "jwks" in entry:
        keys = StaticKeys(entry["jwks"])
    else:
        keys = StaticKeys(_jwks_file(folder / entry["jwks_file"], f"{where}.jwks_file"))
    tenants, servers = entry.get("tenants"), entry.get("fhir_servers")
    return Issuer(
        iss=entry["iss"],
        keys=keys,
        jku_allowlist=frozenset(entry.get("jku_allowlist", ())),
        tenants=frozenset(tenants) if tenants else None,
        fhir_servers=frozenset(server.rstrip("/") for server in servers) if servers else None,
    )


def _jwks_file(path: Path, where: str) -> dict[str, Any]:
    try:
        jwks = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as error:
        raise ConfigError(f"{ENV_NAME}: {where}: {path} cannot be read as JSON ({error})") from None
    problem = check_jwks(jwks)
    if problem:
        raise ConfigError(f"{ENV_NAME}: {where}: {path}: {problem}")
    return jwks
