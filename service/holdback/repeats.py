"""What order-select showed, remembered for order-sign (the HL7 PDDI CDS specification's advanced implementation).

A hook call's findings are remembered under the user, patient and encounter that saw them, by their hashes
(``cds_hooks.ids.finding_hash``: no medication name is kept), for a bounded time. In memory for one process; in
Redis (``REDIS_URL``) so that an order-sign answered by another worker or replica sees what order-select showed.
"""

from __future__ import annotations

import hashlib
import threading
import time
from collections.abc import Callable, Collection
from typing import Protocol

KEY_PREFIX = "ketamine-cds:shown:"


class ShownStoreUnavailable(Exception):
    """The shared store cannot be reached: nothing can be remembered or held back."""


class ShownStore(Protocol):
    def remember(self, scope: str, hashes: Collection[str], seconds: int) -> None:
        """Add ``hashes`` to what ``scope`` was shown, kept ``seconds`` from now."""

    def shown(self, scope: str, hashes: Collection[str]) -> set[str]:
        """Those of ``hashes`` that ``scope`` was shown and that are still remembered."""


def scope_key(user_id: str, patient_id: str, encounter_id: str | None) -> str:
    """One fixed-length key per user, patient and encounter (none stored in clear)."""
    return KEY_PREFIX + hashlib.sha256(f"{user_id}\0{patient_id}\0{encounter_id or ''}".encode()).hexdigest()


class MemoryShownStore:
    PRUNE_SECONDS = 60.0

    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self._clock = clock
        self._lock = threading.Lock()
        self._scopes: dict[str, tuple[float, set[str]]] = {}
        self._next_prune = 0.0

    def remember(self, scope: str, hashes: Collection[str], seconds: int) -> None:
        now = self._clock()
        with self._lock:
            self._prune(now)
            until, known = self._scopes.get(scope, (0.0, set()))
            if until <= now:
                known = set()
            self._scopes[scope] = (now + seconds, known | set(hashes))

    def shown(self, scope: str, hashes: Collection[str]) -> set[str]:
        now = self._clock()
        with self._lock:
            until, known = self._scopes.get(scope, (0.0, set()))
            return set(hashes) & known if until > now else set()

    def _prune(self, now: float) -> None:
        if now >= self._next_prune:
            self._scopes = {key: value for key, value in self._scopes.items() if value[0] > now}
            self._next_prune = now + self.PRUNE_SECONDS


class RedisShownStore:
    """A Redis set per scope, its expiry renewed with each order-select that adds to it."""

    def __init__(self, url: str) -> None:
        import redis  # here: only a service configured with Redis pays the tenth of a second its import takes

        self._client = redis.Redis.from_url(url, socket_timeout=0.2, socket_connect_timeout=0.2)
        self._failure: type[Exception] = redis.RedisError

    def remember(self, scope: str, hashes: Collection[str], seconds: int) -> None:
        try:
            with self._client.pipeline(transaction=True) as pipe:
                pipe.sadd(scope, *hashes)
                pipe.expire(scope, seconds)
                pipe.execute()
        except self._failure as error:
            raise ShownStoreUnavailable(type(error).__name__) from None

    def shown(self, scope: str, hashes: Collection[str]) -> set[str]:
        ordered = list(hashes)
        try:
            found = self._client.smismember(scope, ordered)
        except self._failure as error:
            raise ShownStoreUnavailable(type(error).__name__) from None
        return {value for value, member in zip(ordered, found, strict=True) if member}


def shown_store(redis_url: str | None) -> ShownStore:
    return RedisShownStore(redis_url) if redis_url else MemoryShownStore()
