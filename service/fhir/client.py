"""Runs the core's queries against the EHR's FHIR server: the core's ``Fetcher`` (``cds_hooks.fetch``), over HTTP.

A plain query runner: it knows HTTP, time budgets and paging, not what the queries mean. One pooled session
serves the whole process. Opened for a hook call, it holds that call's token and time budget; every round of
queries the core asks for in that call runs in parallel within the one budget. Searches follow ``next`` links up
to a page cap; a server that rejects ``_include`` is asked again without it, and remembered. Every failure
becomes a ``FetchResult.problem`` worded for the clinician's card, so a slow or broken server never looks like "no
interactions". Nothing here logs a URL, a token or a resource: the queries carry the patient's id.

Each query's time and failure reason (one of ``FAILURE_REASONS``) go to the metrics, by resource type.
"""

from __future__ import annotations

import http.cookiejar
import ipaddress
import logging
import time
from collections.abc import Callable, Iterable, Mapping
from concurrent.futures import Future, ThreadPoolExecutor, wait
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit

import orjson
import requests
from requests.adapters import HTTPAdapter

from cds_hooks import fhir_json
from cds_hooks.bounded import BoundedMemo
from cds_hooks.fetch import FetchResult, QueryRunner
from cds_hooks.protocol import HookRequest
from service import metrics

log = logging.getLogger(__name__)

MAX_ANSWER_BYTES = 20_000_000
"""The largest answer read from the FHIR server (one page); more is reported as not checked."""
WORKERS = 32
"""Threads and pooled connections shared by all hook calls; a call needs one per query while it runs."""
FHIR_JSON = ("application/fhir+json", "application/json", "application/json+fhir")
_INCLUDE_MEMORY = 256
FAILURE_REASONS = (
    "not-https",  # plain http to a host other than loopback: nothing was sent
    "not-listed",  # a fhirServer the calling EHR is not registered for: nothing was sent
    "timeout",  # the time budget ran out
    "unreachable",  # no connection, or the connection broke
    "http-2xx",  # a success other than 200 OK
    "http-3xx",  # a redirect, never followed
    "http-4xx",
    "http-5xx",
    "not-fhir",  # an answer (or a page) that is not FHIR JSON
    "off-server",  # a query or next link pointing away from fhirServer
    "page-limit",  # more pages than CDS_FHIR_MAX_PAGES
    "page-loop",  # next links leading back to a page already read
    "too-large",  # an answer over MAX_ANSWER_BYTES
)
"""Why a query failed, for the fetch-failure metric: fixed words, never a URL or a message."""


class _Failure(Exception):
    """A query failed; ``problem`` says why in words for the card, ``reason`` in one of ``FAILURE_REASONS``.
    ``partial`` holds what was read before the failure (the pages of a search that broke off)."""

    def __init__(
        self, problem: str, reason: str, status: int | None = None, partial: Mapping[str, Any] | None = None
    ) -> None:
        super().__init__(problem)
        self.problem = problem
        self.reason = reason
        self.status = status
        self.partial = partial


class FhirClient:
    """The ``Fetcher`` the service runs: ``client(request)`` opens the call, ``run({key: query})`` ->
    ``{key: FetchResult}``, as many rounds as the core needs within the call's one time budget."""

    def __init__(
        self,
        timeout_seconds: float = 0.5,
        max_pages: int = 10,
        allow_http: bool = False,
        workers: int = WORKERS,
    ) -> None:
        self.timeout_seconds = timeout_seconds
        self.max_pages = max_pages
        self.allow_http = allow_http
        self.session = _session(workers)
        self.pool = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="fhir-client")
        self._no_include: BoundedMemo[tuple[str, str], bool] = BoundedMemo(_INCLUDE_MEMORY)

    def __call__(self, request: HookRequest, deadline: float | None = None) -> QueryRunner:
        """Open one hook call's access to its fhirServer. ``deadline`` (on ``time.monotonic``): the call's budget
        when it started before the first read, shared with the terminology look-ups; by default it starts now."""
        base = (request.fhir_server or "").rstrip("/")
        refusal = self.refusal(base)
        if refusal:
            log.warning("fhirServer on host %s refused: plain http outside loopback (CDS_ALLOW_HTTP_FHIR is off)",
                        urlsplit(base).hostname)
            return Refused("not-https", refusal)
        return _Call(self, base, _headers(request), deadline or time.monotonic() + self.timeout_seconds)

    def refusal(self, base: str) -> str | None:
        """Why the service will not read from this fhirServer, or None: plain http only on loopback or when
        ``CDS_ALLOW_HTTP_FHIR`` is set (the specification asks for https whenever production data is exchanged)."""
        parts = urlsplit(base)
        if parts.scheme == "https" or (parts.scheme == "http" and (self.allow_http or _loopback(parts.hostname))):
            return None
        return "the EHR's FHIR server address is not https, so the service did not send it the access token"

    def supports_include(self, base: str, query: str) -> bool:
        return (base, _resource_type(query)) not in self._no_include

    def forget_include(self, base: str, query: str) -> None:
        """Remember that this server refused ``_include`` on this resource type (bounded memory)."""
        self._no_include.put((base, _resource_type(query)), True)


@dataclass(frozen=True)
class Refused:
    """The runner when nothing may be sent: every query counted as failed for ``reason`` (one of
    ``FAILURE_REASONS``), with ``problem`` for the card."""

    reason: str
    problem: str

    def __call__(self, queries: Mapping[str, str], /) -> dict[str, FetchResult]:
        for query in queries.values():
            metrics.fhir_fetch(_resource_type(query), None, self.reason)
        return {key: FetchResult(problem=self.problem) for key in queries}


@dataclass(frozen=True)
class _Call:
    """One hook call's exchanges with one FHIR server: base URL, headers and the shared deadline."""

    client: FhirClient
    base: str
    headers: Mapping[str, str] = field(repr=False)
    """Carries the EHR's bearer token: never shown."""
    deadline: float

    @property
    def late(self) -> str:
        return f"the FHIR server did not answer within {self.client.timeout_seconds * 1000:.0f} ms"

    def remaining(self) -> float:
        return self.deadline - time.monotonic()

    def __call__(self, queries: Mapping[str, str], /) -> dict[str, FetchResult]:
        """Every query in parallel, within what is left of the call's time budget; a query still running when it
        runs out is reported late."""
        started = time.monotonic()
        futures: dict[str, Future[FetchResult]] = {
            key: self.client.pool.submit(_guarded, self.query, query) for key, query in queries.items()
        }
        wait(futures.values(), timeout=max(self.remaining(), 0))
        results = {}
        for key, future in futures.items():
            if future.done():
                results[key] = future.result()
            else:
                future.cancel()
                results[key] = FetchResult(problem=self.late)
        failed = sum(1 for result in results.values() if result.problem)
        log.info("read %d quer%s from the FHIR server on %s in %d ms, %d incomplete", len(queries),
                 "y" if len(queries) == 1 else "ies", urlsplit(self.base).hostname,
                 (time.monotonic() - started) * 1000, failed)
        return results

    def query(self, query: str) -> FetchResult:
        """A search (every page, up to the cap) or a read, as a Bundle; its time and any failure are recorded."""
        started, reason = time.monotonic(), None
        try:
            result = self.search(query) if "?" in query else self.read(query)
        except _Failure as failure:
            result, reason = FetchResult(bundle=failure.partial, problem=failure.problem), failure.reason
        metrics.fhir_fetch(_resource_type(query), time.monotonic() - started, reason)
        return result

    def read(self, query: str) -> FetchResult:
        return FetchResult(bundle=_collection([self.get(self.url(query))]))

    def search(self, query: str) -> FetchResult:
        """Every page of a search, merged; _Failure (with the pages read so far) when a page cannot be had."""
        first = self.search_url(query)
        page = self._first_page(first, query)
        if page.get("resourceType") != "Bundle":
            return FetchResult(bundle=page)
        entries, seen, number = list(_entries(page)), {first}, 1
        while (url := fhir_json.next_link(page)) is not None:
            number += 1
            try:
                self._check_next_page(url, number, seen)
                seen.add(url)
                page = self._page(url, number)
            except _Failure as failure:
                failure.partial = _searchset(entries)
                raise
            entries.extend(_entries(page))
        return FetchResult(bundle=_searchset(entries))

    def _check_next_page(self, url: str, number: int, seen: set[str]) -> None:
        """_Failure when the next page must not be read: the page cap, another server, or a loop."""
        cap = self.client.max_pages
        if number > cap:
            raise _Failure(f"the FHIR server had more than {cap} pages of results; only the first {cap} were read",
                           "page-limit")
        if not self.within(url):
            raise _Failure("its next page is not on the EHR's FHIR server, so it was not read", "off-server")
        if url in seen:
            raise _Failure("the FHIR server's pages lead back to a page already read", "page-loop")

    def _page(self, url: str, number: int) -> dict[str, Any]:
        try:
            page = self.get(url)
        except _Failure as failure:
            raise _Failure(f"page {number} could not be read: {failure.problem}", failure.reason) from None
        if page.get("resourceType") != "Bundle":
            raise _Failure(f"page {number} was not a FHIR Bundle", "not-fhir")
        return page

    def _first_page(self, url: str, query: str) -> dict[str, Any]:
        """The first page; a server that rejects ``_include`` is asked again without it, and remembered."""
        try:
            return self.get(url)
        except _Failure as failure:
            if failure.status != 400 or "_include=" not in url:
                raise
        self.client.forget_include(self.base, query)
        return self.get(_without_include(url))

    def search_url(self, query: str) -> str:
        """The first page's URL: ``_include`` left out when this server refused it before. A next link (absolute)
        is kept as the server wrote it."""
        url = self.url(query)
        if "_include=" in query and not _absolute(query) and not self.client.supports_include(self.base, query):
            return _without_include(url)
        return url

    def url(self, query: str) -> str:
        """An absolute URL for a relative query; an absolute one is kept only when it lies on fhirServer."""
        if not _absolute(query):
            return f"{self.base}/{query.lstrip('/')}"
        if not self.within(query):
            raise _Failure("it is on another server than the EHR's FHIR server, so it was not read", "off-server")
        return query

    def within(self, url: str) -> bool:
        """True when ``url`` is fhirServer or below it (same scheme, host and port; the base path as a prefix)."""
        base, other = urlsplit(self.base), urlsplit(url)
        if (base.scheme, base.netloc.lower()) != (other.scheme, other.netloc.lower()):
            return False
        return other.path.rstrip("/") == base.path.rstrip("/") or other.path.startswith(base.path.rstrip("/") + "/")

    def get(self, url: str) -> dict[str, Any]:
        remaining = self.remaining()
        if remaining <= 0:
            raise _Failure(self.late, "timeout")
        try:
            response = self.client.session.get(
                url, headers=self.headers, timeout=remaining, allow_redirects=False, stream=True
            )
        except requests.Timeout:
            raise _Failure(self.late, "timeout") from None
        except requests.RequestException:
            raise _Failure("the FHIR server could not be reached", "unreachable") from None
        with response:
            status = response.status_code
            if status != 200:
                reason = f"http-{min(status // 100, 5)}xx"
                raise _Failure(_status_problem(status, "Authorization" in self.headers), reason, status)
            kind = response.headers.get("Content-Type", "").split(";")[0].strip().lower()
            if kind not in FHIR_JSON:
                raise _Failure(f"the FHIR server answered with {kind or 'no content type'}, not FHIR JSON", "not-fhir")
            content = self._content(response)
        try:
            body = orjson.loads(content)
        except orjson.JSONDecodeError:
            raise _Failure("the FHIR server's answer was not valid JSON", "not-fhir") from None
        if not isinstance(body, dict) or not isinstance(body.get("resourceType"), str):
            raise _Failure("the FHIR server's answer was not a FHIR resource", "not-fhir")
        return body

    def _content(self, response: requests.Response) -> bytes:
        """The answer's bytes, read in chunks: no more than ``MAX_ANSWER_BYTES``, and not past the deadline (a
        server that sends slowly must not hold a pooled thread beyond the hook call's budget)."""
        chunks, size = [], 0
        try:
            for chunk in response.iter_content(chunk_size=65_536):
                size += len(chunk)
                if size > MAX_ANSWER_BYTES:
                    raise _Failure(f"the FHIR server's answer was larger than {MAX_ANSWER_BYTES:,} bytes", "too-large")
                if self.remaining() <= 0:
                    raise _Failure(self.late, "timeout")
                chunks.append(chunk)
        except requests.RequestException:
            raise _Failure("the FHIR server's answer broke off", "unreachable") from None
        return b"".join(chunks)


def _guarded(task: Callable[[str], FetchResult], query: str) -> FetchResult:
    """Run one query; an unforeseen error becomes a problem on the card, never a failed hook call."""
    try:
        return task(query)
    except Exception as error:  # a bug here must not turn into a 500 or an empty answer
        log.error("reading from the FHIR server failed unexpectedly (%s)", type(error).__name__)
        return FetchResult(problem="the service failed while reading it; the error has been logged")


def _session(workers: int) -> requests.Session:
    session = requests.Session()
    adapter = HTTPAdapter(pool_connections=workers, pool_maxsize=workers, max_retries=0)
    session.mount("https://", adapter)
    session.mount("http://", adapter)
    session.headers["Accept"] = "application/fhir+json"
    # Hook calls for different users share the session: a cookie set for one must never reach another.
    session.cookies.set_policy(http.cookiejar.DefaultCookiePolicy(allowed_domains=[]))
    return session


def _headers(request: HookRequest) -> dict[str, str]:
    authorization = request.fhir_authorization
    return {"Authorization": f"Bearer {authorization.access_token}"} if authorization else {}


def _loopback(host: str | None) -> bool:
    if host is None:
        return False
    if host.lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def _status_problem(status: int, authorized: bool) -> str:
    if status == 401:
        if authorized:
            return "the FHIR server did not accept the access token the EHR sent (HTTP 401)"
        return "the FHIR server needs an access token and the EHR sent none (HTTP 401)"
    if status == 403:
        return "the FHIR server does not allow the service to read it (HTTP 403)"
    if status == 404:
        return "the FHIR server has no such resource or search (HTTP 404)"
    if status == 429:
        return "the FHIR server is too busy to answer (HTTP 429)"
    if 300 <= status < 400:
        return f"the FHIR server redirected the request, which the service does not follow (HTTP {status})"
    if status >= 500:
        return f"the FHIR server failed (HTTP {status})"
    if 200 <= status < 300:
        return f"the FHIR server answered HTTP {status} rather than 200 with the data, so nothing was read"
    return f"the FHIR server refused the request (HTTP {status})"


def _absolute(query: str) -> bool:
    return "://" in query.split("?")[0]


def _resource_type(query: str) -> str:
    return query.split("?")[0].rstrip("/").rsplit("/", 1)[-1]


def _without_include(url: str) -> str:
    path, _, query = url.partition("?")
    kept = [(name, value) for name, value in parse_qsl(query, keep_blank_values=True) if name != "_include"]
    return f"{path}?{urlencode(kept, safe=':,/')}" if kept else path


def _entries(bundle: Mapping[str, Any]) -> Iterable[Any]:
    entries = bundle.get("entry")
    return entries if isinstance(entries, list) else ()


def _searchset(entries: list[Any]) -> dict[str, Any]:
    """All pages' entries as one Bundle (links dropped: every page has been read)."""
    return {"resourceType": "Bundle", "type": "searchset", "entry": entries}


def _collection(resources: list[Mapping[str, Any]]) -> dict[str, Any]:
    return {"resourceType": "Bundle", "type": "collection", "entry": [{"resource": r} for r in resources]}
