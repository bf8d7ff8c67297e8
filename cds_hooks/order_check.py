"""The whole check for one order hook call, as pure functions: request -> facts -> findings -> cards.

The HTTP layer calls ``ketamine_orders`` first (cheap: it reads only the draft orders), answers ``{"cards": []}``
at once when there is none, and otherwise calls ``check`` with a fetcher for data the prefetch did not carry.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from cds_hooks import cards, engine, fhir_json
from cds_hooks.engine import Finding, OrderedDrug
from cds_hooks.errors import DataUnavailable
from cds_hooks.facts import MEDICATION_TYPES, Flaw, UnreadableEntry, checked, patient_facts
from cds_hooks.gaps import Gap
from cds_hooks.knowledge.model import ORDERED_DRUGS, KnowledgeBase
from cds_hooks.medications import (
    EXCLUDED,
    Identified,
    MedicationFact,
    MedicationIndex,
    identify,
    read_medication,
    status_of,
    unresolved_references,
)
from cds_hooks.prefetch import PatientData, plan
from cds_hooks.protocol import HookRequest
from cds_hooks.services import ServiceDefinition
from cds_hooks.terminology import CodeResolver

Fetcher = Callable[[HookRequest, Mapping[str, str]], "Mapping[str, FetchResult]"]
"""Runs queries against the request's fhirServer, key -> result. A query is a search or read relative to
fhirServer (``MedicationRequest?patient=1``, ``Medication/7``) or an absolute next-page URL."""

_ORDERED_NAMES = frozenset(ORDERED_DRUGS)


@dataclass(frozen=True, slots=True)
class Assessment:
    """What one check found: findings, the data that could not be had or read, and harmless structural flaws."""

    findings: list[Finding]
    gaps: Sequence[Gap] = ()
    unreadable: Sequence[UnreadableEntry] = ()
    flaws: Sequence[Flaw] = ()

    def cards(self, kb: KnowledgeBase, findings: Sequence[Finding] | None = None,
              layout: cards.Layout = cards.DEFAULT_LAYOUT) -> list[dict[str, Any]]:
        """The answer's cards; ``findings`` in place of the assessment's own when some were held back."""
        shown = self.findings if findings is None else findings
        return cards.render(shown, self.gaps, self.unreadable, kb, layout)


@dataclass(frozen=True, slots=True)
class FetchResult:
    """One query's outcome: a Bundle (as JSON), why it could not be had, or both when only part of it could be
    had (some pages, some referenced Medications). A read (``Medication/1``) comes back as a one-entry Bundle."""

    bundle: Mapping[str, Any] | None = None
    problem: str | None = None


@dataclass(frozen=True, slots=True)
class DraftOrders:
    ordered: list[OrderedDrug]
    others: list[MedicationFact]
    """The session's other draft medication orders: ordered together now, so they count."""
    index: MedicationIndex
    unidentified: tuple[UnreadableEntry, ...] = ()
    """Drafts under decision whose drug could not be told at all: any of them might be ketamine."""
    selections_only: bool = False
    """order-select where the new selections are co-medications of a ketamine draft already in the session: only
    they are checked against it (the rest was checked when the ketamine order was selected)."""


def ketamine_orders(request: HookRequest, kb: KnowledgeBase, resolver: CodeResolver | None = None) -> DraftOrders:
    """The ketamine and esketamine orders this hook call is about (``selections`` for order-select).

    Every order the EHR signs comes here, so the drug of each draft is identified first and the drafts are read
    in full only when one of them is ketamine or esketamine.
    """
    bundle_resources = list(fhir_json.bundle_resources(request.context.draft_orders))
    index = MedicationIndex(bundle_resources)
    orders = [
        resource
        for resource in bundle_resources
        if isinstance(resource, dict) and resource.get("resourceType") in MEDICATION_TYPES
    ]
    drafts = [(resource, identify(resource, kb.terminology, index, resolver)) for resource in orders]
    if any(drug.problem and "medicationReference" in resource for resource, drug in drafts):
        for value in request.prefetch.values():  # rare: the Medication may have come with the prefetch
            for resource in fhir_json.bundle_resources(value):
                index.add(resource)
        drafts = [(resource, identify(resource, kb.terminology, index, resolver)) for resource in orders]
    drafts = [(resource, drug) for resource, drug in drafts if not drug.names_nothing]
    selections = request.context.selections
    selected = [
        (resource, drug)
        for resource, drug in drafts
        if (selections is None or fhir_json.reference_of(resource) in selections)
        and status_of(resource, draft=True) != EXCLUDED
    ]
    if not any(drug.names_any(_ORDERED_NAMES) for _, drug in selected):
        if selections is not None and any(
            drug.names_any(_ORDERED_NAMES) and status_of(resource, draft=True) != EXCLUDED
            for resource, drug in drafts
        ):
            return _new_selections_against_earlier_drafts(drafts, selections, kb, index, resolver)
        unidentified = tuple(
            UnreadableEntry(fhir_json.reference_of(resource), None, f"draft order: {drug.problem}")
            for resource, drug in selected
            if drug.problem
        )
        return DraftOrders([], [], index, unidentified)
    facts = [
        read_medication(resource, kb.terminology, index, draft=True, resolver=resolver, identified=drug)
        for resource, drug in drafts
    ]
    targets = facts if selections is None else [fact for fact in facts if fact.reference in selections]
    ordered = engine.find_ordered_drugs(targets, kb)
    ordered_refs = {id(drug.order) for drug in ordered}
    return DraftOrders(ordered, [fact for fact in facts if id(fact) not in ordered_refs], index)


def _new_selections_against_earlier_drafts(
    drafts: list[tuple[dict[str, Any], Identified]],
    selections: tuple[str, ...],
    kb: KnowledgeBase,
    index: MedicationIndex,
    resolver: CodeResolver | None,
) -> DraftOrders:
    facts = [
        read_medication(resource, kb.terminology, index, draft=True, resolver=resolver, identified=drug)
        for resource, drug in drafts
    ]
    earlier = [fact for fact in facts if fact.reference not in selections]
    new = [fact for fact in facts if fact.reference in selections]
    return DraftOrders(engine.find_ordered_drugs(earlier, kb), new, index, selections_only=True)


def unidentified_cards(drafts: DraftOrders, kb: KnowledgeBase) -> list[dict[str, Any]]:
    """For a call with no ketamine or esketamine order: a notice when some draft's drug could not be told at all
    (it might have been ketamine), else no card."""
    return cards.render([], [], drafts.unidentified, kb) if drafts.unidentified else []


def check(
    request: HookRequest,
    definition: ServiceDefinition,
    kb: KnowledgeBase,
    drafts: DraftOrders,
    now: datetime,
    fetch: Fetcher | None = None,
    resolver: CodeResolver | None = None,
) -> list[dict[str, Any]]:
    """The cards for a call whose draft orders include ketamine or esketamine, every finding shown."""
    return assess(request, definition, kb, drafts, now, fetch, resolver).cards(kb)


def assess(
    request: HookRequest,
    definition: ServiceDefinition,
    kb: KnowledgeBase,
    drafts: DraftOrders,
    now: datetime,
    fetch: Fetcher | None = None,
    resolver: CodeResolver | None = None,
) -> Assessment:
    """Everything a call whose draft orders include ketamine or esketamine finds, before any is held back."""
    unreadable_drafts = [
        UnreadableEntry(draft.reference, draft.label, f"draft order: {draft.problem}")
        for draft in drafts.others
        if draft.problem and draft.status != EXCLUDED
    ]
    if drafts.selections_only:
        return Assessment(engine.evaluate(drafts.ordered, drafts.others, [], kb, now), (), unreadable_drafts)
    data = gather(request, definition, fetch, drafts.index)
    unreadable: list[UnreadableEntry] = []
    flaws: list[Flaw] = []
    for drug in drafts.ordered:
        checked(drug.order.source, drug.order, (), unreadable, flaws)
    unreadable += unreadable_drafts
    medications, conditions = patient_facts(data, kb, drafts.index, resolver, unreadable, flaws)
    findings = engine.evaluate(drafts.ordered, [*drafts.others, *medications], conditions, kb, now)
    return Assessment(findings, data.gaps, unreadable, flaws)


def gather(
    request: HookRequest, definition: ServiceDefinition, fetch: Fetcher | None, index: MedicationIndex | None = None
) -> PatientData:
    """Prefetch first; from fhirServer, in one call, what it lacks: absent keys, the later pages of paged keys and
    the Medications that entries reference but no bundle holds. 412 when no usable data can be had at all.

    ``index`` (the draft orders' Medications, by default read afresh) gains every Medication gathered, so the
    entries can be resolved against it afterwards.
    """
    data = plan(request, definition.prefetch)
    if index is None:
        index = MedicationIndex(fhir_json.bundle_resources(request.context.draft_orders))
    resources = data.all_resources()
    for resource in resources:
        index.add(resource)
    reads = {reference: reference for reference in unresolved_references(resources, index)}
    queries = {**data.to_fetch, **data.next_pages, **reads}
    if not queries:
        return data
    if request.fhir_server and fetch is not None:
        results = fetch(request, queries)
        for key in queries:
            result = results.get(key) or FetchResult(problem="it could not be fetched")
            if result.bundle is not None:
                data.add_bundle(key, result.bundle)
                for resource in fhir_json.bundle_resources(result.bundle):
                    index.add(resource)
            if result.problem or result.bundle is None:
                data.gaps.append(Gap(key, result.problem or "it could not be fetched"))
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
