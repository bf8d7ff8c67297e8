"""Which JWT ids (``jti``) have been used, for as long as their tokens live: a token is accepted once.

In memory for a single process; in Redis (``REDIS_URL``) so that every replica of the service sees the same set.
"""

from __future__ import annotations

import hashlib
import threading
import time
from collections.abc import Callable
from typing import Protocol

from service.failures import NotReady

KEY_PREFIX = "ketamine-cds:jti:"


class ReplayStoreUnavailable(Exception):
    """The shared replay store cannot be reached, so a token's first use cannot be confirmed."""


class ReplayStore(Protocol):
    def first_use(self, issuer: str, jti: str, expires_at: float) -> bool:
        """Record the id; True the first time it is seen before ``expires_at`` (seconds since the epoch)."""


def _key(issuer: str, jti: str) -> str:
    """One fixed-length key per issuer and id, so a long or odd ``jti`` cannot shape the store's keys."""
    return KEY_PREFIX + hashlib.sha256(f"{issuer}\0{jti}".encode()).hexdigest()


class MemoryReplayStore:
    PRUNE_SECONDS = 60.0

    def __init__(self, clock: Callable[[], float] = time.time) -> None:
        self._clock = clock
        self._lock = threading.Lock()
        self._seen: dict[str, float] = {}
        self._next_prune = 0.0

    def first_use(self, issuer: str, jti: str, expires_at: float) -> bool:
        key, now = _key(issuer, jti), self._clock()
        with self._lock:
            if now >= self._next_prune:
                self._seen = {k: until for k, until in self._seen.items() if until > now}
                self._next_prune = now + self.PRUNE_SECONDS
            if self._seen.get(key, 0.0) > now:
                return False
            self._seen[key] = expires_at
            return True


class RedisReplayStore:
    def __init__(self, url: str) -> None:
        import redis  # here: only a service configured with Redis pays the tenth of a second its import takes

        self._client = redis.Redis.from_url(url, socket_timeout=2.0, socket_connect_timeout=2.0)
        self._failure: type[Exception] = redis.RedisError

    def first_use(self, issuer: str, jti: str, expires_at: float) -> bool:
        try:
            return bool(self._client.set(_key(issuer, jti), b"1", nx=True, exat=int(expires_at) + 1))
        except self._failure as error:
            raise ReplayStoreUnavailable(type(error).__name__) from None

    def ping(self) -> None:
        """Readiness: Redis answers PING within the client's timeouts; NotReady otherwise."""
        try:
            self._client.ping()
        except self._failure as error:
            raise NotReady(f"Redis does not answer ({type(error).__name__})") from None


def replay_store(redis_url: str | None) -> ReplayStore:
    return RedisReplayStore(redis_url) if redis_url else MemoryReplayStore()
