"""CDS Clients' public keys as JWK Sets: given in configuration, or fetched from a URL and cached.

A fetched set is kept for an hour and fetched again sooner only when a token names a key it lacks (the client
rotated its keys), at most once every 30 seconds, so a stream of tokens with made-up ``kid`` values cannot turn
the service into a load generator against the client's key server.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Iterator, Mapping
from typing import Any, Protocol

import jwt
import requests

log = logging.getLogger(__name__)

CACHE_SECONDS = 3600.0
MIN_REFRESH_SECONDS = 30.0
TIMEOUT = (3.05, 5.0)
"""Connect and read timeouts for a JWK Set fetch, in seconds."""
KEY_TYPES = ("RSA", "EC", "OKP")
_PRIVATE_MEMBERS = ("d", "p", "q", "dp", "dq", "qi", "k")


class KeysUnavailable(Exception):
    """No JWK Set could be had for an issuer (its URL failed and nothing is cached)."""


class Jwk(Mapping[str, Any]):
    """One public JWK of a set, with the key objects built from it, one per algorithm it verifies.

    A key object is built once and kept with the set it came from rather than built again for every token; a set
    fetched again brings new Jwk objects, so a key changed under the same ``kid`` is the one used.
    """

    def __init__(self, members: Mapping[str, Any]) -> None:
        self._members = dict(members)
        self._built: dict[str, Any] = {}

    def __getitem__(self, name: str) -> Any:
        return self._members[name]

    def __iter__(self) -> Iterator[str]:
        return iter(self._members)

    def __len__(self) -> int:
        return len(self._members)

    def public_key(self, alg: str) -> Any:
        """The key object that verifies ``alg`` signatures; a PyJWTError when this JWK cannot."""
        if alg not in self._built:
            self._built[alg] = jwt.PyJWK(self._members, algorithm=alg).key
        return self._built[alg]


class KeySource(Protocol):
    def key(self, kid: str) -> Jwk | None:
        """The JWK with this ``kid``, or None; KeysUnavailable when the set cannot be read at all."""


def check_jwks(jwks: object) -> str | None:
    """Why ``jwks`` is not a usable JWK Set of public signing keys, or None when it is."""
    if not isinstance(jwks, Mapping) or not isinstance(jwks.get("keys"), list) or not jwks["keys"]:
        return "must be a JWK Set: an object with a non-empty keys array."
    for index, key in enumerate(jwks["keys"]):
        if not isinstance(key, Mapping) or not isinstance(key.get("kid"), str) or not key["kid"]:
            return f"keys.{index}: every key needs a kid."
        if key.get("kty") not in KEY_TYPES:
            return f"keys.{index}: kty must be one of {', '.join(KEY_TYPES)} (public-key signatures only)."
        if any(member in key for member in _PRIVATE_MEMBERS):
            return f"keys.{index}: holds private key material; give only the public key."
        try:
            jwt.PyJWK(dict(key))
        except jwt.PyJWTError as error:
            return f"keys.{index}: not a usable key ({error})."
    return None


def _by_kid(jwks: Mapping[str, Any]) -> dict[str, Jwk]:
    return {key["kid"]: Jwk(key) for key in jwks["keys"] if key.get("use", "sig") == "sig"}


class StaticKeys:
    """A JWK Set given in the trusted-issuers file (inline or as a file)."""

    def __init__(self, jwks: Mapping[str, Any]) -> None:
        self._keys = _by_kid(jwks)

    def key(self, kid: str) -> Jwk | None:
        return self._keys.get(kid)


class RemoteKeys:
    """A JWK Set read from a URL with ``requests``, cached, and fetched again on an unknown ``kid`` (rate-limited)."""

    def __init__(
        self,
        url: str,
        *,
        session: requests.Session | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.url = url
        self._session = session or requests.Session()
        self._clock = clock
        self._lock = threading.Lock()
        """Guards the cached keys and the times; never held across a fetch."""
        self._fetch_lock = threading.Lock()
        """Held while one thread fetches, so that a first fetch is waited for rather than repeated."""
        self._keys: dict[str, Jwk] | None = None
        self._fetched_at = 0.0
        self._tried_at: float | None = None

    def key(self, kid: str) -> Jwk | None:
        """The key named ``kid``. Tokens whose keys are cached never wait on the network, even while another
        thread fetches the set again."""
        with self._lock:
            now = self._clock()
            stale = self._keys is None or now - self._fetched_at >= CACHE_SECONDS
            unknown = self._keys is not None and kid not in self._keys
            may_try = self._tried_at is None or now - self._tried_at >= MIN_REFRESH_SECONDS
            refresh = (stale or unknown) and may_try
            if refresh:
                self._tried_at = now
            keys = self._keys
        if refresh or keys is None:
            with self._fetch_lock:
                if refresh:
                    self._refresh(now)
                with self._lock:
                    keys = self._keys
        if keys is None:
            raise KeysUnavailable(self.url)
        return keys.get(kid)

    def _refresh(self, now: float) -> None:
        try:
            response = self._session.get(self.url, timeout=TIMEOUT, headers={"Accept": "application/json"})
            response.raise_for_status()
            jwks = response.json()
        except (requests.RequestException, ValueError) as error:
            log.warning("JWK Set %s could not be fetched: %s", self.url, type(error).__name__)
            return
        problem = check_jwks(jwks)
        if problem:
            log.warning("JWK Set %s is unusable: %s", self.url, problem)
            return
        with self._lock:
            self._keys = _by_kid(jwks)
            self._fetched_at = now
