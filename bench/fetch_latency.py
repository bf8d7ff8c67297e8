"""Measure what reading from the EHR's FHIR server costs, against the sandbox FHIR server on loopback.

1. Added latency: each fixture answered with full prefetch, then with only ``fhirServer`` (the service reads
   the patient's data itself, one query per prefetch key); medians and 95th percentiles.
2. Parallel queries: the sandbox delays every answer by a fixed time; with the queries in parallel a hook call
   takes about one delay, one after another it would take one per query. The same calls are timed with a
   one-thread client for comparison.

Prints figures only; it asserts nothing. Needs Node and the sandbox's npm packages (``make test`` installs them).

    .venv/bin/python bench/fetch_latency.py [--rounds 30] [--delay-ms 200]
"""

from __future__ import annotations

import argparse
import dataclasses
import statistics
import time
from collections.abc import Callable
from typing import Any

from flask.testing import FlaskClient

from cds_hooks.knowledge import load_knowledge
from cds_hooks.services import record_prefetch
from service import create_app
from service.config import Settings
from service.fhir.client import FhirClient
from service.fhir.sandbox import FhirSandbox, fixture_requests, seed_bundle, without_prefetch
from service.runtime import EXTENSION

BUDGET_SECONDS = 10.0
"""Generous, so that nothing times out while measuring; the service's default is CDS_FHIR_TIMEOUT_SECONDS."""


def service(workers: int | None = None) -> FlaskClient:
    app = create_app(Settings(fhir_timeout_seconds=BUDGET_SECONDS, log_level="WARNING"))
    if workers is not None:
        runtime = app.extensions[EXTENSION]
        client = FhirClient(BUDGET_SECONDS, runtime.settings.fhir_max_pages, workers=workers)
        app.extensions[EXTENSION] = dataclasses.replace(runtime, fetch=client)
    return app.test_client()


def timed(call: Callable[[], Any], rounds: int) -> list[float]:
    call()  # warm up: connections, caches
    times = []
    for _ in range(rounds):
        started = time.perf_counter()
        call()
        times.append((time.perf_counter() - started) * 1000)
    return times


def post(client: FlaskClient, body: dict[str, Any]) -> Callable[[], None]:
    path = "/cds-services/" + ("ketamine-order-select" if body["hook"] == "order-select" else "ketamine-order-sign")

    def call() -> None:
        response = client.post(path, json=body)
        cards = response.get_json()["cards"]
        if response.status_code != 200 or any(c["summary"].startswith("Interaction check incomplete") for c in cards):
            raise SystemExit(f"unexpected answer while measuring: {response.status_code} {cards}")

    return call


def p95(times: list[float]) -> float:
    return statistics.quantiles(times, n=20)[-1] if len(times) >= 2 else times[0]


def added_latency(rounds: int) -> None:
    fixtures = {name: body for name, body in fixture_requests().items() if "non-ketamine" not in name}
    client = service()
    print(f"1. Added latency of the fetch path (sandbox on loopback, no delay; {rounds} rounds, ms)")
    print(f"   {'fixture':<40} {'prefetch p50':>12} {'fetch p50':>10} {'fetch p95':>10} {'added p50':>10}")
    added = []
    with FhirSandbox(seed=seed_bundle()) as sandbox:
        for name, body in fixtures.items():
            full = timed(post(client, body), rounds)
            fetched = timed(post(client, without_prefetch(body, sandbox.base_url)), rounds)
            added.append(statistics.median(fetched) - statistics.median(full))
            print(f"   {name:<40} {statistics.median(full):>12.1f} {statistics.median(fetched):>10.1f} "
                  f"{p95(fetched):>10.1f} {added[-1]:>10.1f}")
    print(f"   median added latency over the fixtures: {statistics.median(added):.1f} ms")


def parallelism(rounds: int, delay_ms: int) -> None:
    body = fixture_requests()["order-sign-esketamine-maoi"]
    queries = len(record_prefetch(load_knowledge().statuses))
    print(f"\n2. Parallel queries: every sandbox answer delayed {delay_ms} ms; {queries} queries per hook call "
          f"({rounds} rounds, ms)")
    with FhirSandbox(seed=seed_bundle(), delay_ms=delay_ms) as sandbox:
        request = without_prefetch(body, sandbox.base_url)
        for label, workers in (("parallel (the service's client)", None), ("one after another (1 thread)", 1)):
            times = timed(post(service(workers), request), rounds)
            print(f"   {label:<34} p50 {statistics.median(times):7.1f}   p95 {p95(times):7.1f}   "
                  f"= {statistics.median(times) / delay_ms:.2f} delays")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rounds", type=int, default=30)
    parser.add_argument("--delay-ms", type=int, default=200)
    args = parser.parse_args()
    added_latency(args.rounds)
    parallelism(max(5, args.rounds // 3), args.delay_ms)


if __name__ == "__main__":
    main()
