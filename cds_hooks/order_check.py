"""The whole check for one order hook call, as pure functions: request -> facts -> findings -> cards.

``answer`` is the one entry point, for every service: the HTTP route, the command line and the tests all call it.
For an order hook it reads the draft orders first (cheap) and, when none is ketamine or esketamine, answers at once
without gathering anything; for patient-view it looks for the patient's current or planned ketamine or esketamine
order first (``patient_view``) and answers at once when there is none. Otherwise it gathers the patient's data
(prefetch, then the fetch port), reads the facts, applies the interaction rules and the order rules
(``order_limits``) and renders the cards. JSON is made from the typed answer at the edge (``Answer.as_json``).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any

from cds_hooks import cards, dispenses, engine, fetch_queries, fhir_json, order_limits, patient_view
from cds_hooks.card_types import Card
from cds_hooks.engine import Finding, OrderedDrug
from cds_hooks.facts import MEDICATION_TYPES, Flaw, UnreadableEntry, checked, patient_facts
from cds_hooks.fetch import Fetcher, opened_once
from cds_hooks.gaps import Gap
from cds_hooks.gather import gather
from cds_hooks.knowledge.model import KnowledgeBase
from cds_hooks.knowledge.vocabulary import AVOID, ORDERED_DRUGS
from cds_hooks.medications import Identified, MedicationFact, MedicationIndex, identify, read_medication, status_of
from cds_hooks.prefetch import PatientData
from cds_hooks.protocol import PATIENT_VIEW, HookRequest
from cds_hooks.services import PATIENT_KEY, ServiceDefinition
from cds_hooks.statuses import ENDED, EXCLUDED, MEDICATION_RECORDS, StatusClasses
from cds_hooks.terminology import CodeResolver

_ORDERED_NAMES = frozenset(ORDERED_DRUGS)

HoldBack = Callable[[Sequence[Finding]], Sequence[Finding]]
"""Given a call's findings, those to show: the service's (repeats of order-select, the quiet period after an
override). It must never leave out an Avoid."""


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
    under_decision: bool = True
    """The orders are drafts the clinician is deciding on now (order hooks), so an Avoid card may suggest
    cancelling one; False for patient-view, where the orders are already placed or planned."""


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
        and status_of(resource, kb.statuses, draft=True) != EXCLUDED
    ]
    if not any(drug.names_any(_ORDERED_NAMES) for _, drug in selected):
        if selections is not None and any(
            drug.names_any(_ORDERED_NAMES) and status_of(resource, kb.statuses, draft=True) != EXCLUDED
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
        read_medication(resource, kb.terminology, index, kb.statuses, draft=True, resolver=resolver, identified=drug)
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
        read_medication(resource, kb.terminology, index, kb.statuses, draft=True, resolver=resolver, identified=drug)
        for resource, drug in drafts
    ]
    earlier = [fact for fact in facts if fact.reference not in selections]
    new = [fact for fact in facts if fact.reference in selections]
    return DraftOrders(engine.find_ordered_drugs(earlier, kb), new, index, selections_only=True)


@dataclass(frozen=True, slots=True)
class Answer:
    """What the core answers one hook call with: typed cards, and the findings, data gaps and unreadable records
    they were made from."""

    cards: tuple[Card, ...] = ()
    findings: tuple[Finding, ...] = ()
    gaps: tuple[Gap, ...] = ()
    unreadable: tuple[UnreadableEntry, ...] = ()
    checked: bool = False
    """The patient's data was read: an order call that orders ketamine or esketamine, or any patient-view call
    (which reads the patient's orders to find one). Otherwise nothing was read."""
    shown: tuple[Finding, ...] = ()
    """The findings on the cards: ``findings`` less those held back."""
    flaws: tuple[Flaw, ...] = ()
    """Records read in full although not valid FHIR elsewhere: for the operator, not the clinician."""

    @property
    def held_back(self) -> tuple[Finding, ...]:
        shown = {id(finding) for finding in self.shown}
        return tuple(finding for finding in self.findings if id(finding) not in shown)

    def as_json(self) -> dict[str, Any]:
        """The CDS Hooks response body."""
        return {"cards": [card.as_json() for card in self.cards]}


def answer(
    request: HookRequest,
    definition: ServiceDefinition,
    kb: KnowledgeBase,
    now: datetime,
    fetch: Fetcher | None = None,
    resolver: CodeResolver | None = None,
    layout: cards.Layout = cards.DEFAULT_LAYOUT,
    hold_back: HoldBack | None = None,
) -> Answer:
    """The answer to one hook call of any service. ``now`` is the evaluation time (washout windows, age);
    ``fetch`` reads what the prefetch lacks from the request's fhirServer (None: nothing is read, and what is
    missing is a data gap); ``resolver`` looks up RxNorm codes the packaged tables lack; ``layout`` is the site's
    card layout, and ``hold_back`` the service's choice of findings to show. DataUnavailable (412) when no data
    can be had."""
    shaping = _Shaping(layout, hold_back)
    if definition.hook == PATIENT_VIEW:
        return _chart_answer(request, definition, kb, now, fetch, resolver, shaping)
    drafts = ketamine_orders(request, kb, resolver)
    if not drafts.ordered:
        unidentified = drafts.unidentified  # a draft whose drug could not be told at all might be ketamine
        return Answer(tuple(cards.render([], [], unidentified, kb)) if unidentified else (), unreadable=unidentified)
    return _checked(request, definition, kb, drafts, now, fetch, resolver, shaping)


def _chart_answer(
    request: HookRequest,
    definition: ServiceDefinition,
    kb: KnowledgeBase,
    now: datetime,
    fetch: Fetcher | None,
    resolver: CodeResolver | None,
    shaping: _Shaping,
) -> Answer:
    """patient-view: none at once without a current or planned ketamine or esketamine order (or the notice, when
    some orders could not be read), else order-sign's check of that order, as an order already placed. Both steps
    share one opening of the fetch port (one token, one time budget)."""
    fetch = opened_once(fetch) if fetch is not None else None
    current = patient_view.current_orders(request, definition, kb, fetch, resolver)
    if not current.ordered:  # none; or, when some orders could not be read, perhaps one among those
        shown = cards.render([], current.gaps, [], kb, shaping.layout, under_decision=False) if current.gaps else []
        return Answer(tuple(shown), gaps=tuple(current.gaps), checked=True)
    drafts = DraftOrders(current.ordered, [], current.index, under_decision=False)
    return _checked(current.request, definition, kb, drafts, now, fetch, resolver, shaping, current.gaps)


def _checked(
    request: HookRequest,
    definition: ServiceDefinition,
    kb: KnowledgeBase,
    drafts: DraftOrders,
    now: datetime,
    fetch: Fetcher | None,
    resolver: CodeResolver | None,
    shaping: _Shaping,
    gaps: Sequence[Gap] = (),
) -> Answer:
    """The answer for a call about a ketamine or esketamine order (``gaps``: data the caller already failed to
    read, to be told on the same notice)."""
    unreadable = [
        UnreadableEntry(draft.reference, draft.label, f"draft order: {draft.problem}")
        for draft in drafts.others
        if draft.problem and draft.status != EXCLUDED
    ]
    if drafts.selections_only:
        findings = engine.evaluate(drafts.ordered, drafts.others, [], kb, now)
        return _answered(findings, (), unreadable, (), kb, shaping, drafts.under_decision)
    data = gather(request, needed(definition, kb), fetch, kb.statuses, drafts.index,
                  lambda queries: fetch_queries.narrowed(queries, kb, now))
    ordered_unreadable: list[UnreadableEntry] = []
    flaws: list[Flaw] = []
    for drug in drafts.ordered:
        checked(drug.order.source, drug.order, (), ordered_unreadable, flaws)
    unreadable[:0] = ordered_unreadable
    facts = patient_facts(data, kb, drafts.index, resolver, unreadable, now, flaws)
    findings = engine.evaluate(drafts.ordered, [*drafts.others, *facts.medications], facts.conditions, kb, now,
                               facts.allergies, facts.readings)
    limits = order_limits.evaluate(drafts.ordered, kb, now, _patient(data),
                                   _earlier_orders(data, kb, drafts.index, resolver))
    findings = engine.by_severity([*findings, *limits], kb) if limits else findings
    return _answered(findings, (*gaps, *data.gaps), unreadable, flaws, kb, shaping, drafts.under_decision)


@dataclass(frozen=True, slots=True)
class _Shaping:
    """The service's choices of which findings become cards, and how: the site's layout, and what is held back."""

    layout: cards.Layout
    hold_back: HoldBack | None


def _answered(
    findings: Sequence[Finding],
    gaps: Sequence[Gap],
    unreadable: Sequence[UnreadableEntry],
    flaws: Sequence[Flaw],
    kb: KnowledgeBase,
    shaping: _Shaping,
    under_decision: bool,
) -> Answer:
    shown = list(shaping.hold_back(findings) if shaping.hold_back is not None else findings)
    kept = {id(finding) for finding in shown}
    if any(finding.advice == AVOID and id(finding) not in kept for finding in findings):
        raise ValueError("an Avoid finding must never be held back")
    rendered = (cards.render(shown, gaps, unreadable, kb, shaping.layout, under_decision=under_decision)
                if shown or gaps or unreadable else [])
    return Answer(tuple(rendered), tuple(findings), tuple(gaps), tuple(unreadable), checked=True,
                  shown=tuple(shown), flaws=tuple(flaws))


def needed(definition: ServiceDefinition, kb: KnowledgeBase) -> ServiceDefinition:
    """The service with only the prefetch keys this knowledge base reads: no Patient while no rule that is on
    needs the birth date (so nothing is read for it, and no card says it could not be)."""
    if PATIENT_KEY not in definition.prefetch or order_limits.needs_patient(kb):
        return definition
    return replace(definition, prefetch={k: v for k, v in definition.prefetch.items() if k != PATIENT_KEY})


def _patient(data: PatientData) -> Mapping[str, Any] | None:
    return next((r for r in data.resources.get(PATIENT_KEY, ()) if r.get("resourceType") == "Patient"), None)


def _earlier_orders(
    data: PatientData, kb: KnowledgeBase, index: MedicationIndex, resolver: CodeResolver | None
) -> order_limits.EarlierOrders:
    """Whether the patient's records show the ordered drug before: another order or statement (any counted status),
    an administration given or being given, or a dispense handed over. Then this is not the first dose. Read only
    when a rule asks."""

    def earlier(drug: OrderedDrug) -> bool:
        names = frozenset({drug.name})
        return any(
            resource.get("resourceType") in MEDICATION_RECORDS
            and fhir_json.reference_of(resource) != drug.order.reference
            and _had(resource, kb.statuses)
            and identify(resource, kb.terminology, index, resolver).names_any(names)
            for resource in data.all_resources()
        )

    return earlier


def _had(resource: Mapping[str, Any], statuses: StatusClasses) -> bool:
    """The record shows the drug was had: its status not excluded (cancelled, not given, declined, in error); a
    dispense only once handed over, its status classed ended (one in preparation, in progress or on hold may be this
    very dose). The classes are the knowledge base's (``data/statuses.yaml``)."""
    status = status_of(resource, statuses)
    return status == ENDED if resource.get("resourceType") == dispenses.KIND else status != EXCLUDED
