"""An RxNav-compatible terminology server as the core's ``CodeResolver``: ingredients of codes the tables lack.

Asked only about RxNorm codes the packaged tables do not know. Answers are cached (bounded, with a time to live);
each call has a timeout; a failing server is left alone for a short while, and meanwhile every lookup answers
None so the core falls back to recognising the medication by name. Codes and names never reach the logs.
"""

from __future__ import annotations

import logging
import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Mapping
from functools import partial
from typing import Any

import requests

from cds_hooks.terminology import Ingredient
from service.config import Settings

log = logging.getLogger(__name__)

Answer = tuple[Ingredient, ...]


class TtlCache:
    """A thread-safe least-recently-used cache whose entries expire ``ttl`` seconds after they were stored."""

    def __init__(self, size: int, ttl: float, clock: Callable[[], float] = time.monotonic) -> None:
        self._size, self._ttl, self._clock = size, ttl, clock
        self._items: OrderedDict[str, tuple[float, Answer]] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, key: str) -> Answer | None:
        with self._lock:
            item = self._items.get(key)
            if item is None:
                return None
            if item[0] <= self._clock():
                del self._items[key]
                return None
            self._items.move_to_end(key)
            return item[1]

    def put(self, key: str, value: Answer) -> None:
        with self._lock:
            self._items[key] = (self._clock() + self._ttl, value)
            self._items.move_to_end(key)
            while len(self._items) > self._size:
                self._items.popitem(last=False)


class _BudgetSpent(Exception):
    """The hook call's time budget ran out before or during a look-up."""


class RxNavResolver:
    """Ingredients of an RxNorm code from ``GET /REST/rxcui/{rxcui}/related.json?tty=IN+PIN+MIN``.

    A code that is itself an ingredient has no related ingredient, so when the first answer names none,
    ``/REST/rxcui/{rxcui}/properties.json`` says whether the code is an ingredient. An unknown code is an answer
    too (no ingredients) and is cached like any other.
    """

    def __init__(
        self,
        base_url: str,
        *,
        timeout: float = 2.0,
        cache_size: int = 10_000,
        ttl: float = 86_400.0,
        pause_after_failure: float = 30.0,
        session: requests.Session | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._base = base_url.rstrip("/").removesuffix("/REST")
        self._timeout = timeout
        self._cache = TtlCache(cache_size, ttl, clock)
        self._pause = pause_after_failure
        self._session = session or requests.Session()
        self._clock = clock
        self._quiet_until = 0.0

    def __call__(self, rxcui: str) -> Answer | None:
        return self.resolve(rxcui)

    def within(self, deadline: float) -> Callable[[str], Answer | None]:
        """This resolver for one hook call: look-ups share the call's time budget, ``deadline`` on
        ``time.monotonic``; once it is spent, codes not cached answer None (the medication is recognised by name)."""
        return partial(self.resolve, deadline=deadline)

    def resolve(self, rxcui: str, deadline: float | None = None) -> Answer | None:
        if not rxcui.isdigit():
            return None
        cached = self._cache.get(rxcui)
        if cached is not None:
            return cached or None
        if self._clock() < self._quiet_until:
            return None
        try:
            answer = self._lookup(rxcui, deadline)
        except _BudgetSpent:  # the call's time ran out, not the server's: no pause for other calls
            return None
        except (requests.RequestException, ValueError, KeyError, TypeError) as error:
            self._pause_after(type(error).__name__)
            return None
        self._cache.put(rxcui, answer)
        return answer or None

    def _pause_after(self, failure: str) -> None:
        log.warning("terminology server failed (%s); recognising medications by name for %ss", failure, self._pause)
        self._quiet_until = self._clock() + self._pause

    def _lookup(self, rxcui: str, deadline: float | None) -> Answer:
        related = self._get(f"/REST/rxcui/{rxcui}/related.json", deadline, {"tty": "IN PIN MIN"})
        related = related.get("relatedGroup") or {}
        ingredients = tuple(
            Ingredient(concept["name"].lower(), concept["rxcui"])
            for group in related.get("conceptGroup") or ()
            if group.get("tty") == "IN"
            for concept in group.get("conceptProperties") or ()
        )
        if ingredients:
            return ingredients
        properties = self._get(f"/REST/rxcui/{rxcui}/properties.json", deadline).get("properties") or {}
        if properties.get("tty") == "IN":
            return (Ingredient(properties["name"].lower(), properties["rxcui"]),)
        return ()

    def _get(self, path: str, deadline: float | None, params: Mapping[str, str] | None = None) -> Mapping[str, Any]:
        """One request, within the resolver's timeout or what is left of the call's budget, whichever is less."""
        left = None if deadline is None else deadline - time.monotonic()
        if left is not None and left <= 0:
            raise _BudgetSpent
        try:
            response = self._session.get(
                self._base + path, params=params, timeout=self._timeout if left is None else min(self._timeout, left),
                headers={"Accept": "application/json"},
            )
        except requests.Timeout:
            if left is not None and left < self._timeout:
                raise _BudgetSpent from None
            raise
        response.raise_for_status()
        data = response.json()
        if not isinstance(data, Mapping):
            raise ValueError("the answer is not a JSON object")
        return data


def resolver_from(settings: Settings) -> RxNavResolver | None:
    """The resolver a site configured with ``CDS_RXNAV_URL``, or None (tables and names only)."""
    if not settings.rxnav_url:
        return None
    return RxNavResolver(
        settings.rxnav_url,
        timeout=settings.rxnav_timeout,
        cache_size=settings.rxnav_cache_size,
        ttl=settings.rxnav_cache_ttl,
    )
