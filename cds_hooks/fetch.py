"""The fetch port: how the core asks for patient data the prefetch did not carry.

The core says what to read (searches and reads relative to the request's ``fhirServer``, or absolute next-page
URLs) and the service provides the reading: ``service.fhir.client`` over HTTP, a test double in unit tests. A
``Fetcher`` is opened once per hook call, so every round of queries of that call shares one time budget.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Protocol

from cds_hooks.protocol import HookRequest


@dataclass(frozen=True, slots=True)
class FetchResult:
    """One query's outcome: a Bundle (as JSON), why it could not be had, or both when only part of it could be
    had (some pages). A read (``Medication/1``) comes back as a one-entry Bundle."""

    bundle: Mapping[str, Any] | None = None
    problem: str | None = None


class QueryRunner(Protocol):
    """Runs queries against one hook call's fhirServer: key -> query in, key -> result out (every key answered)."""

    def __call__(self, queries: Mapping[str, str], /) -> Mapping[str, FetchResult]: ...


class Fetcher(Protocol):
    """Opens one hook call's access to its fhirServer (its token, its time budget)."""

    def __call__(self, request: HookRequest, /) -> QueryRunner: ...


def opened_once(fetch: Fetcher) -> Fetcher:
    """The fetcher opened at most once (for the first request it is given): a call that gathers in several steps
    (patient-view) runs every step on one token and one time budget."""
    runner: QueryRunner | None = None

    def opened(request: HookRequest, /) -> QueryRunner:
        nonlocal runner
        if runner is None:
            runner = fetch(request)
        return runner

    return opened
