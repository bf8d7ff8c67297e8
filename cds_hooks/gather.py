"""Gathering one hook call's patient data: the prefetch first, then from ``fhirServer`` (through the fetch port)
what it lacks: absent keys, the later pages of paged keys, and the Medications that entries reference but no
bundle holds. Whatever cannot be had becomes a data gap, told on the notice card.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping

from cds_hooks import fhir_json
from cds_hooks.errors import DataUnavailable
from cds_hooks.fetch import Fetcher, FetchResult, QueryRunner
from cds_hooks.gaps import Gap
from cds_hooks.medications import MedicationIndex, unresolved_references
from cds_hooks.prefetch import PatientData, plan
from cds_hooks.protocol import HookRequest
from cds_hooks.services import ServiceDefinition
from cds_hooks.statuses import MEDICATION_RECORDS, StatusClasses

_INCLUDES = {kind: f"{kind}:medication" for kind in MEDICATION_RECORDS}
"""What a search of each medication resource type asks to include: the Medications its entries reference. The
prefetch templates leave ``_include`` out, to stay within the query subset the specification recommends; a
search the service runs itself asks for them, and a server that refuses ``_include`` is asked again without."""
_NOT_FETCHED = "it could not be fetched"
FHIR_SERVER = "the FHIR server"
"""Where data read in fetch mode came from, as the card says it."""


def gather(
    request: HookRequest,
    definition: ServiceDefinition,
    fetch: Fetcher | None,
    statuses: StatusClasses,
    index: MedicationIndex | None = None,
    narrow: Callable[[Mapping[str, str]], dict[str, str]] | None = None,
) -> PatientData:
    """The call's data, with a gap for whatever could not be had; 412 when no usable data can be had at all.

    ``statuses`` tells which entries count, so that only their Medications are read; ``index`` (the draft
    orders' Medications, by default read afresh) gains every Medication gathered, so the entries can be resolved
    against it afterwards; ``narrow`` may add bounds to the queries of absent keys.
    """
    data = plan(request, definition.prefetch)
    if narrow is not None and data.to_fetch:
        data.to_fetch = narrow(data.to_fetch)
    if index is None:
        index = MedicationIndex(fhir_json.bundle_resources(request.context.draft_orders))
    resources = data.all_resources()
    for prefetched in resources:
        index.add(prefetched)
    reads = {reference: reference for reference in unresolved_references(resources, index, statuses)}
    searches = {key: _with_include(query) for key, query in data.to_fetch.items()}
    queries = {**searches, **data.next_pages, **reads}
    if not queries:
        return data
    if request.fhir_server and fetch is not None:
        fetch_into(data, index, fetch(request), queries, statuses)
        return data
    if data.to_fetch and not data.usable:
        source = "fhirServer cannot be read here" if request.fhir_server else "no fhirServer to read it from"
        raise DataUnavailable(
            "No prefetch data for "
            + ", ".join(sorted(data.to_fetch))
            + f" and {source}: the interaction check cannot be made."
        )
    data.gaps.extend(Gap(key, "it was not sent and there is no fhirServer to read it from") for key in data.to_fetch)
    data.gaps.extend(
        Gap(key, "only its first page was sent and there is no fhirServer to read the rest from")
        for key in data.next_pages
    )
    return data


def fetch_into(
    data: PatientData, index: MedicationIndex, run: QueryRunner, queries: Mapping[str, str], statuses: StatusClasses
) -> None:
    """Run the queries, then read the Medications their entries reference but nothing gathered holds; each result
    joins ``data`` under its key (its Medications join ``index``), and each failure is a gap."""
    results = _answered(run(queries), queries)
    for result in results.values():
        for resource in fhir_json.bundle_resources(result.bundle):
            index.add(resource)
    _read_referenced_medications(results, run, index, statuses)
    for key, result in results.items():
        if result.bundle is not None:
            data.add_bundle(key, result.bundle, FHIR_SERVER)
        if result.problem or result.bundle is None:
            data.gaps.append(Gap(key, result.problem or _NOT_FETCHED))


def _with_include(query: str) -> str:
    include = _INCLUDES.get(query.split("?")[0].rstrip("/"))
    return f"{query}&_include={include}" if include and "?" in query else query


def _answered(results: Mapping[str, FetchResult], queries: Mapping[str, object]) -> dict[str, FetchResult]:
    """A result for every query asked, in the order asked: one the runner left out could not be fetched."""
    return {key: results.get(key) or FetchResult(problem=_NOT_FETCHED) for key in queries}


def _read_referenced_medications(
    results: dict[str, FetchResult], run: QueryRunner, index: MedicationIndex, statuses: StatusClasses
) -> None:
    """Read the Medications that fetched entries reference but nothing gathered holds, and add each to the results
    of the keys that reference it (a failed read is named in their problem)."""
    wanted: dict[str, list[str]] = {}
    for key, result in results.items():
        for reference in unresolved_references(fhir_json.bundle_resources(result.bundle), index, statuses):
            wanted.setdefault(reference, []).append(key)
    if not wanted:
        return
    reads = _answered(run({reference: reference for reference in wanted}), wanted)
    for reference, read in reads.items():
        for resource in fhir_json.bundle_resources(read.bundle):
            index.add(resource)
        for key in wanted[reference]:
            results[key] = _merge(results[key], reference, read)


def _merge(result: FetchResult, reference: str, read: FetchResult) -> FetchResult:
    """A search's result with a Medication read for it added (or why that read failed)."""
    entries = list(fhir_json.items((result.bundle or {}).get("entry")))
    included = fhir_json.items((read.bundle or {}).get("entry"))
    entries.extend({**entry, "search": {"mode": "include"}} for entry in included)
    problems = [result.problem] if result.problem else []
    if read.problem:
        problems.append(f"a medication an entry references could not be read: {read.problem}")
    return FetchResult(bundle={**(result.bundle or {}), "entry": entries}, problem="; ".join(problems) or None)
