"""The trusted-issuers file: read at start-up, and refused with the field named when it is wrong."""

from __future__ import annotations

import json
import re

import pytest
import yaml

from service.auth.jwks import RemoteKeys, StaticKeys
from service.auth.trust import load_issuers
from service.config import ConfigError


def write(tmp_path, document, name="issuers.yaml"):
    path = tmp_path / name
    path.write_text(document if isinstance(document, str) else yaml.safe_dump(document), encoding="utf-8")
    return path


def test_issuers_are_read_with_each_kind_of_key_source(tmp_path, es384, rs384):
    (tmp_path / "ehr-b.jwks.json").write_text(json.dumps({"keys": [rs384.jwk]}), encoding="utf-8")
    path = write(tmp_path, {"issuers": [
        {"iss": "https://a.example.org", "jwks_url": "https://a.example.org/jwks", "tenants": ["t1"],
         "jku_allowlist": ["https://a.example.org/jku"]},
        {"iss": "https://b.example.org", "jwks_file": "ehr-b.jwks.json"},
        {"iss": "https://c.example.org", "jwks": {"keys": [es384.jwk]}},
    ]})
    issuers = load_issuers(path)
    assert isinstance(issuers["https://a.example.org"].keys, RemoteKeys)
    assert issuers["https://a.example.org"].tenants == frozenset({"t1"})
    assert issuers["https://a.example.org"].jku_allowlist == frozenset({"https://a.example.org/jku"})
    assert isinstance(issuers["https://b.example.org"].keys, StaticKeys)
    assert issuers["https://b.example.org"].keys.key("rs-1")["kty"] == "RSA"
    assert issuers["https://c.example.org"].keys.key("es-1")["kty"] == "EC"
    assert issuers["https://c.example.org"].tenants is None


def test_a_json_list_of_issuers_is_accepted(tmp_path, es384):
    path = write(tmp_path, json.dumps([{"iss": "https://a.example.org", "jwks": {"keys": [es384.jwk]}}]), "i.json")
    assert list(load_issuers(path)) == ["https://a.example.org"]


@pytest.mark.parametrize(("document", "named"), [
    ({"issuers": []}, "issuers: Shorter than minimum length 1."),
    ({"issuers": [{"jwks_url": "https://a.example.org/jwks"}]}, "issuers.0.iss: Missing data for required field."),
    ({"issuers": [{"iss": "x", "jwks_url": "not a url"}]}, "issuers.0.jwks_url: Not a valid URL."),
    ({"issuers": [{"iss": "x"}]}, "issuers.0.jwks_url: give exactly one of jwks_url, jwks_file or jwks."),
    ({"issuers": [{"iss": "x", "jwks": {"keys": []}}]}, "issuers.0.jwks: must be a JWK Set"),
    ({"issuers": [{"iss": "x", "jwks_url": "https://x/j", "tenants": "t1"}]}, "issuers.0.tenants: Not a valid list."),
    ({"issuers": [{"iss": "x", "jwks_url": "https://x/j"}, {"iss": "x", "jwks_url": "https://x/k"}]},
     "issuers.1.iss: 'x' is listed twice."),
    ({"issuers": [{"iss": "x", "jwks_url": "https://x/j", "tenant": "hospital-a"}]},
     "issuers.0.tenant: Unknown field."),
    ({"issuers": [{"iss": "x", "jwks_url": "https://x/j"}], "issuer": []}, "issuer: Unknown field."),
    ("just text", "must be a list of issuers"),
])
def test_a_bad_issuers_file_stops_start_up_naming_the_field(tmp_path, document, named):
    with pytest.raises(ConfigError, match="CDS_TRUSTED_ISSUERS_FILE") as error:
        load_issuers(write(tmp_path, document))
    assert named in str(error.value)


def test_a_private_key_in_the_issuers_file_is_refused(tmp_path, es384):
    from cryptography.hazmat.primitives.asymmetric import ec
    from jwt.algorithms import ECAlgorithm

    private = ECAlgorithm.to_jwk(ec.generate_private_key(ec.SECP384R1()), as_dict=True) | {"kid": "k"}
    with pytest.raises(ConfigError, match=re.escape("issuers.0.jwks: keys.0: holds private key material")):
        load_issuers(write(tmp_path, {"issuers": [{"iss": "x", "jwks": {"keys": [private]}}]}))


def test_a_missing_jwks_file_is_named(tmp_path):
    with pytest.raises(ConfigError, match=re.escape("issuers.0.jwks_file")):
        load_issuers(write(tmp_path, {"issuers": [{"iss": "x", "jwks_file": "absent.json"}]}))


def test_an_unreadable_issuers_file_is_named(tmp_path):
    with pytest.raises(ConfigError, match="cannot be read"):
        load_issuers(write(tmp_path, "issuers: [unclosed"))
