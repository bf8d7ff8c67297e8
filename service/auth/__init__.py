"""Client authentication: every call under /cds-services carries a JWT signed by a trusted CDS Client.

Follows "Trusting CDS Clients" in the CDS Hooks 2.0 specification: header ``typ`` JWT and ``kid``; an asymmetric
algorithm from a fixed allowlist (never ``none``, never HMAC); ``iss`` on the trusted-issuer list; ``aud`` the exact
URL called; ``exp`` and ``iat`` (and ``nbf`` when present) with a small leeway, ``exp`` at most five minutes ahead
(a client signs a fresh token per call, and a used ``jti`` is remembered until ``exp``); a ``jti`` used once; the
``tenant`` on the issuer's list when it has one. A refusal answers 401 with a generic OperationOutcome; the reason,
a stable code from ``REASONS``, goes to the log (never the token), the auth-failure metric and the ``refused`` signal.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Mapping
from typing import Any

import jwt
from blinker import Namespace
from flask import Flask, current_app, g, request

from service import health, metrics
from service.auth.jwks import KeySource, KeysUnavailable, RemoteKeys
from service.auth.replay import RedisReplayStore, ReplayStore, ReplayStoreUnavailable, replay_store
from service.auth.trust import Issuer, load_issuers
from service.config import ConfigError, Settings
from service.failures import Unauthenticated, Unavailable

log = logging.getLogger(__name__)

ALGORITHMS = ("ES256", "ES384", "ES512", "RS256", "RS384", "RS512", "PS256", "PS384", "PS512", "EdDSA")
_KEY_TYPE = {"ES": "EC", "RS": "RSA", "PS": "RSA", "Ed": "OKP"}
_CURVE = {"ES256": "P-256", "ES384": "P-384", "ES512": "P-521"}
REQUIRED_CLAIMS = ("iss", "aud", "exp", "iat", "jti")
_DECODE_REASONS = (
    (jwt.ExpiredSignatureError, "expired"),
    (jwt.ImmatureSignatureError, "not-yet-valid"),
    (jwt.InvalidAudienceError, "wrong-audience"),
    (jwt.MissingRequiredClaimError, "missing-claim"),
    (jwt.InvalidSignatureError, "bad-signature"),
    (jwt.DecodeError, "malformed-token"),
    (jwt.PyJWTError, "invalid-claim"),
)
"""PyJWT's errors as reason codes, most specific first (InvalidSignatureError is a DecodeError)."""
PROTECTED_PREFIX = "/cds-services"
MAX_LIFETIME_SECONDS = 300
"""How far ahead ``exp`` may be (plus the leeway): the replay store keeps every ``jti`` until its token expires."""
REASONS = (
    "missing-token",
    "malformed-token",
    "bad-typ",
    "alg-not-allowed",
    "missing-kid",
    "unknown-issuer",
    "jku-not-allowed",
    "jwks-unavailable",
    "unknown-kid",
    "key-mismatch",
    "bad-signature",
    "expired",
    "not-yet-valid",
    "wrong-audience",
    "missing-claim",
    "invalid-claim",
    "lifetime-too-long",
    "tenant-not-allowed",
    "replayed-jti",
)
"""Every reason a token is refused; stable, for logs and the auth-failure metric."""

refused = Namespace().signal("auth-refused")
"""Sent with the app as sender and ``reason=`` one of ``REASONS`` each time a call is refused."""

OFF_WARNING = (
    "CLIENT AUTHENTICATION IS OFF: any caller can use this service and post feedback. Set CDS_AUTH_MODE=jwt and "
    "CDS_TRUSTED_ISSUERS_FILE before the service is reachable from anywhere but this machine."
)


class AuthFailure(Exception):
    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


class Authenticator:
    """Checks one bearer token against the trusted issuers, their keys, the called URL and the replay store."""

    def __init__(
        self,
        issuers: Mapping[str, Issuer],
        replay: ReplayStore,
        leeway_seconds: int = 30,
        remote_keys: Callable[[str], KeySource] = RemoteKeys,
    ) -> None:
        self._issuers = issuers
        self._replay = replay
        self._leeway = leeway_seconds
        self._remote_keys = remote_keys
        self._jku_keys: dict[str, KeySource] = {}

    def fhir_servers(self, iss: str) -> frozenset[str] | None:
        """The FHIR servers this issuer's calls may name (None: any)."""
        return self._issuers[iss].fhir_servers

    def verify(self, token: str, audience: str) -> dict[str, Any]:
        """The token's claims; AuthFailure with a reason code when it must be refused.

        ReplayStoreUnavailable when the shared replay store cannot confirm the token's first use. The token is read
        twice, the fewest PyJWT allows: once unverified for the header and ``iss`` that choose the key, and once by
        the verified decode, which takes only the token itself.
        """
        try:
            unverified = jwt.decode_complete(token, options={"verify_signature": False})
        except jwt.PyJWTError:
            raise AuthFailure("malformed-token") from None
        header, payload = unverified["header"], unverified["payload"]
        alg, kid = header.get("alg"), header.get("kid")
        if str(header.get("typ", "")).upper() != "JWT":
            raise AuthFailure("bad-typ")
        if alg not in ALGORITHMS:
            raise AuthFailure("alg-not-allowed")
        if not isinstance(kid, str) or not kid:
            raise AuthFailure("missing-kid")
        issuer = self._issuers.get(payload["iss"]) if isinstance(payload.get("iss"), str) else None
        if issuer is None:
            raise AuthFailure("unknown-issuer")
        claims = self._decode(token, issuer, header.get("jku"), kid, alg, audience)
        _check_claim_types(claims)
        if float(claims["exp"]) > time.time() + MAX_LIFETIME_SECONDS + self._leeway:
            raise AuthFailure("lifetime-too-long")
        tenant = claims.get("tenant")
        if issuer.tenants is not None and (not isinstance(tenant, str) or tenant not in issuer.tenants):
            raise AuthFailure("tenant-not-allowed")
        if not self._replay.first_use(issuer.iss, str(claims["jti"]), float(claims["exp"]) + self._leeway):
            raise AuthFailure("replayed-jti")
        return claims

    def _decode(self, token: str, issuer: Issuer, jku: object, kid: str, alg: str, audience: str) -> dict[str, Any]:
        key = self._public_key(issuer, jku, kid, alg)
        try:
            return jwt.decode(
                token,
                key,
                algorithms=[alg],
                audience=audience,
                issuer=issuer.iss,
                leeway=self._leeway,
                options={"require": list(REQUIRED_CLAIMS)},
            )
        except jwt.PyJWTError as error:
            raise AuthFailure(next(reason for kind, reason in _DECODE_REASONS if isinstance(error, kind))) from None

    def _public_key(self, issuer: Issuer, jku: object, kid: str, alg: str) -> Any:
        """The issuer's key named ``kid``, usable only with ``alg`` (no algorithm confusion)."""
        if jku is not None and (not isinstance(jku, str) or jku not in issuer.jku_allowlist):
            raise AuthFailure("jku-not-allowed")
        keys = issuer.keys if jku is None else self._jku_source(str(jku))
        try:
            jwk = keys.key(kid)
        except KeysUnavailable:
            raise AuthFailure("jwks-unavailable") from None
        if jwk is None:
            raise AuthFailure("unknown-kid")
        curve = _CURVE.get(alg)
        if jwk.get("kty") != _KEY_TYPE[alg[:2]] or jwk.get("alg", alg) != alg or (curve and jwk.get("crv") != curve):
            raise AuthFailure("key-mismatch")
        try:
            return jwk.public_key(alg)
        except jwt.PyJWTError:
            raise AuthFailure("key-mismatch") from None

    def _jku_source(self, url: str) -> KeySource:
        if url not in self._jku_keys:
            self._jku_keys[url] = self._remote_keys(url)
        return self._jku_keys[url]


_TIMES = ("exp", "iat", "nbf")


def _check_claim_types(claims: Mapping[str, Any]) -> None:
    """RFC 7519's types, which PyJWT reads loosely: ``exp``, ``iat`` and ``nbf`` are JSON numbers (a numeric
    string is refused, and so is NaN), ``jti`` a non-empty string (an empty one would make every such token share
    one id)."""
    for name in _TIMES:
        value = claims.get(name)
        if name in claims and (not isinstance(value, int | float) or isinstance(value, bool) or value != value):
            raise AuthFailure("invalid-claim")
    jti = claims.get("jti")
    if not isinstance(jti, str) or not jti.strip():
        raise AuthFailure("invalid-claim")


def bearer_token(authorization: str | None) -> str:
    scheme, _, token = (authorization or "").strip().partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise AuthFailure("missing-token")
    return token.strip()


def allowed_fhir_servers() -> frozenset[str] | None:
    """The ``fhirServer`` URLs the authenticated caller's issuer may name; None when any may be (no list in the
    trusted-issuers file, or authentication off)."""
    return g.get("fhir_servers")


def init_app(app: Flask, settings: Settings) -> None:
    """Require a valid JWT on every call under /cds-services, or warn loudly that anyone may call."""
    if settings.auth_mode != "jwt" or settings.trusted_issuers_file is None:
        log.warning(OFF_WARNING)
        return
    replay = replay_store(settings.redis_url)
    if isinstance(replay, RedisReplayStore):  # without Redis the service cannot authenticate anyone: not ready
        health.add_readiness_check(app, "redis", replay.ping)
    elif settings.env == "production":  # one worker, or start-up would have stopped (Settings)
        log.warning("REDIS_URL is not set: used token ids are remembered by this single worker; run this service as "
                    "one replica, or set REDIS_URL, or a token replayed to another replica is accepted")
    else:
        log.warning("REDIS_URL is not set: used token ids are remembered by this process only, so a token replayed "
                    "to another worker or replica is accepted; set REDIS_URL wherever more than one process serves")
    issuers = load_issuers(settings.trusted_issuers_file)
    open_ended = sorted(iss for iss, issuer in issuers.items() if issuer.fhir_servers is None)
    if settings.env == "production" and open_ended:
        raise ConfigError(f"{settings.trusted_issuers_file}: every issuer must list its fhir_servers when CDS_ENV is "
                          f"production, or its EHR may have the service send its access token to any host it names; "
                          f"no list for: {', '.join(open_ended)}")
    authenticator = Authenticator(issuers, replay, settings.jwt_leeway_seconds)
    public_base_url = settings.public_base_url

    @app.before_request
    def _authenticate() -> None:
        """CORS preflights (OPTIONS) carry no credentials by design and pass; everything else is checked."""
        path = request.path
        if request.method == "OPTIONS" or not (path == PROTECTED_PREFIX or path.startswith(PROTECTED_PREFIX + "/")):
            return
        audience = public_base_url + path if public_base_url else request.base_url
        try:
            claims = authenticator.verify(bearer_token(request.headers.get("Authorization")), audience)
        except AuthFailure as failure:
            log.warning("authentication refused: %s (%s %s)", failure.reason, request.method, path,
                        extra={"auth_reason": failure.reason})
            metrics.auth_failure(failure.reason)
            refused.send(current_app._get_current_object(), reason=failure.reason)  # type: ignore[attr-defined]
            raise Unauthenticated(failure.reason) from None
        except ReplayStoreUnavailable as error:
            log.error("replay store unreachable (%s): refusing calls until it is back", error)
            raise Unavailable("Authentication is temporarily unavailable; try again shortly.") from None
        g.fhir_servers = authenticator.fhir_servers(claims["iss"])
