"""The rules engine: medication, condition, allergy and blood-pressure facts in, findings out.

A finding is one rule firing for one ordered drug, with every co-medication, condition, allergy or reading it
implicates and the advice each one earns after modifying factors, or (an order rule, ``cds_hooks.order_limits``)
what the order itself says that breaks a limit. The engine reads only facts and the knowledge base; it knows
nothing of FHIR JSON, HTTP or cards.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, replace
from datetime import datetime

from cds_hooks.administrations import moment
from cds_hooks.allergies import AllergyFact
from cds_hooks.conditions import ConditionFact
from cds_hooks.knowledge.model import KnowledgeBase, Modifier, Rule
from cds_hooks.knowledge.vocabulary import ADVICE_RANK, ALLERGY, CONDITION, MEDICATION, NONE, ORDER, ORDERED_DRUGS
from cds_hooks.markup import escape
from cds_hooks.medications import MedicationFact
from cds_hooks.statuses import CURRENT, ENDED, EXCLUDED
from cds_hooks.terminology import MISSPELLING, IngredientMatch
from cds_hooks.vitals import BloodPressure, latest


@dataclass(frozen=True, slots=True)
class OrderedDrug:
    """A ketamine or esketamine draft order being checked."""

    name: str
    """``ketamine`` or ``esketamine``."""
    match: IngredientMatch
    order: MedicationFact
    anaesthesia: bool
    """The order reads as anaesthetic or procedural use."""

    @property
    def label(self) -> str:
        return self.match.label


@dataclass(slots=True)
class Implicated:
    """A co-medication or condition that makes a rule fire, with the advice it earns."""

    advice: str
    notes: tuple[str, ...]
    medication: MedicationFact | None = None
    matches: tuple[IngredientMatch, ...] = ()
    condition: ConditionFact | None = None
    kind: str | None = None
    """What the value set calls a condition (its short name): how the summary names it."""
    modifier: Modifier | None = None
    """The modifying factor that decided this item's advice, if one did."""
    allergy: AllergyFact | None = None
    reading: BloodPressure | None = None

    @property
    def label(self) -> str:
        """``sertraline``; ``Nardil (phenelzine)``; ``Adderall (amphetamine, dextroamphetamine)``; a condition;
        ``ketamine allergy``; ``blood pressure 184/96 mmHg``."""
        if self.condition is not None:
            return self.kind or self.condition.label or "recorded condition"
        if self.reading is not None:
            return self.reading.label
        if self.allergy is not None:
            return f"{', '.join(match.label for match in self.matches)} allergy"
        terms = {match.term.lower() for match in self.matches if match.term}
        names = [match.ingredient.name for match in self.matches]
        if len(self.matches) > 1 and len(terms) == 1:
            term = next(match.term for match in self.matches if match.term)
            return f"{term} ({', '.join(names)})"
        return ", ".join(match.label for match in self.matches)


@dataclass(slots=True)
class Finding:
    rule: Rule
    ordered: OrderedDrug
    advice: str
    implicated: tuple[Implicated, ...]
    serotonergic: tuple[str, ...] = ()
    """When the patient takes enough serotonergic drugs for the knowledge base's serotonin watch: their names."""
    observed: str | None = None
    """An order rule's finding: what the order says that breaks the limit (``112 mg per session``)."""
    superseded: tuple[Finding, ...] = ()
    """The findings for the same ordered drug this one takes in (its rule's ``supersedes``): one card says it."""

    @property
    def named(self) -> tuple[Implicated, ...]:
        """The records a card of this finding names: its own, then those of the findings it took in, without the
        notes of those rules' modifying factors (they belong to an advice this card does not give)."""
        taken_in = tuple(
            replace(item, notes=tuple(note for note in item.notes
                                      if note not in {modifier.note for modifier in finding.rule.modifiers}),
                    modifier=None)
            for finding in self.superseded for item in finding.implicated
        )
        return self.implicated + taken_in

    @property
    def modifier(self) -> Modifier | None:
        """The modifying factor behind the finding's advice; None when the rule's (or site's) own advice stands
        for some co-medication or condition with that advice (or, an order rule's finding, for the order)."""
        deciding = [item for item in self.implicated if item.advice == self.advice]
        return None if not deciding or any(item.modifier is None for item in deciding) else deciding[0].modifier

    @property
    def site_set(self) -> bool:
        """The site override set this advice (no modifying factor changed it)."""
        return self.ordered.name in self.rule.site_changed and self.modifier is None

    @property
    def key(self) -> str:
        """What makes two findings the same for a clinician: rule, ordered drug, advice and what is implicated
        (ingredients, or the condition's kind; an order rule: what the order says). Used to tell an alert already
        shown."""
        names = sorted({match.ingredient.name for item in self.implicated for match in item.matches}
                       | {f"condition:{item.label.lower()}" for item in self.implicated if item.condition})
        observed = (self.observed,) if self.observed else ()
        return "|".join((self.rule.id, self.ordered.name, self.advice, *names, *observed))


def find_ordered_drugs(orders: Iterable[MedicationFact], kb: KnowledgeBase) -> list[OrderedDrug]:
    """The draft orders that are ketamine or esketamine (esketamine wins when both names appear), leaving out
    drafts that were cancelled or entered in error."""
    found = []
    for order in orders:
        if order.status == EXCLUDED:  # cancelled or entered in error: nothing is being ordered
            continue
        by_name = {match.ingredient.name: match for match in order.ingredients}
        name = next((drug for drug in reversed(ORDERED_DRUGS) if drug in by_name), None)
        if name is None:
            continue
        anaesthesia = any(_affirmed(kb.anaesthesia_terms, kb.anaesthesia_negation, text) for text in order.texts)
        found.append(OrderedDrug(name=name, match=by_name[name], order=order, anaesthesia=anaesthesia))
    return found


def _affirmed(pattern: re.Pattern[str], negation: re.Pattern[str], text: str) -> bool:
    r"""Whether the text names one of the pattern's terms other than where ``negation`` matches the end of the text
    before it ("not for anaesthesia"; the knowledge base's ``anaesthesia_negation``).

    >>> terms = re.compile(r"\banaesthe(?:sia|tic)\b")
    >>> negation = re.compile(r"(?:\bnot?\b(?:\s+\w+){0,4}\s*|\b(?:non|sub)[-\s]?)$")
    >>> _affirmed(terms, negation, "induction of anaesthesia"), _affirmed(terms, negation, "TRD; not for anaesthesia")
    (True, False)
    >>> _affirmed(terms, negation, "non-anaesthetic dose"), _affirmed(terms, negation, "no anaesthesia; anaesthesia")
    (False, True)
    """
    return any(not negation.search(text[: match.start()]) for match in pattern.finditer(text))


def evaluate(
    ordered: Sequence[OrderedDrug],
    medications: Sequence[MedicationFact],
    conditions: Sequence[ConditionFact],
    kb: KnowledgeBase,
    now: datetime,
    allergies: Sequence[AllergyFact] = (),
    readings: Sequence[BloodPressure] = (),
) -> list[Finding]:
    """Every rule that fires for every ordered drug, most severe advice first. Of the blood-pressure ``readings``
    only the latest within the knowledge base's window counts, and only for the strictest threshold it meets."""
    ordered_refs = {drug.order.reference for drug in ordered if drug.order.reference}
    co_medications = [
        fact
        for fact in medications
        if fact.reference not in ordered_refs
        and not any(match.ingredient.name in ORDERED_DRUGS for match in fact.ingredients)
    ]
    named = {match.ingredient.name for fact in co_medications for match in fact.ingredients}
    reading = latest(readings, now, kb.blood_pressure.window) if readings and kb.blood_pressure else None
    pressure_rule = _strictest_met(kb, reading)
    findings = []
    for drug in ordered:
        for rule in kb.rules:
            if rule.kind == ORDER or not rule.enabled:  # order rules: cds_hooks.order_limits
                continue
            if rule.kind == MEDICATION:
                if kb.drug_valuesets[rule.valueset].ingredients.isdisjoint(named):
                    continue
                implicated = _implicated_medications(rule, drug, co_medications, kb, now)
            elif rule.kind == CONDITION:
                implicated = _implicated_conditions(rule, drug, conditions, kb)
            elif rule.kind == ALLERGY:
                implicated = _implicated_allergies(rule, drug, allergies, kb)
            elif rule is pressure_rule and reading is not None:
                implicated = _implicated_reading(rule, drug, reading)
            else:
                continue
            if implicated:
                advice = min((item.advice for item in implicated), key=ADVICE_RANK.__getitem__)
                findings.append(Finding(rule, drug, advice, tuple(implicated)))
    return by_severity(_with_serotonin_watch(_taken_in(findings), co_medications, kb), kb)


def by_severity(findings: Iterable[Finding], kb: KnowledgeBase) -> list[Finding]:
    """Most severe advice first; then in the knowledge base's rule order."""
    rule_order = {rule.id: number for number, rule in enumerate(kb.rules)}
    return sorted(findings, key=lambda f: (ADVICE_RANK[f.advice], rule_order[f.rule.id], f.ordered.name))


def _implicated_medications(
    rule: Rule, drug: OrderedDrug, medications: Sequence[MedicationFact], kb: KnowledgeBase, now: datetime
) -> list[Implicated]:
    members = kb.drug_valuesets[rule.valueset].ingredients
    found = []
    for fact in medications:
        matches = tuple(match for match in fact.ingredients if match.ingredient.name in members)
        if not matches:
            continue
        if rule.comedication_routes and not (fact.routes & rule.comedication_routes):
            continue
        if not rule.comedication_routes and fact.routes and fact.routes <= kb.local_routes:
            continue
        counts, timing_note = _counts(fact, rule, now)
        if not counts:
            continue
        advice, notes, modifier = _advice(rule, drug, fact, matches)
        if advice == NONE:
            continue
        notes += [f"\"{escape(match.term or '')}\" read as a likely misspelling of {match.ingredient.name}: confirm "
                  "the drug" for match in matches if match.via == MISSPELLING]
        if fact.note:
            notes.append(fact.note)
        found.append(Implicated(advice, (*notes, *filter(None, [timing_note])), medication=fact, matches=matches,
                                modifier=modifier))
    return found


_LAST_DOSE = {"MedicationAdministration": "given", "MedicationDispense": "supply ended"}
"""How the end of ended therapy is told, per record type; ``last dose`` for orders and statements."""


def _counts(fact: MedicationFact, rule: Rule, now: datetime) -> tuple[bool, str | None]:
    """Current therapy counts; ended therapy counts only inside the rule's washout window."""
    if fact.status == CURRENT:
        return True, "ordered together in this session" if fact.draft else None
    if fact.status != ENDED or rule.washout is None:
        return False, None
    if fact.ended_at is None:
        return True, (
            f"{fact.fhir_status}, but the date of the last dose is not recorded: counted as within the "
            f"{rule.washout.compound} washout to be safe; confirm the last dose"
        )
    if fact.resource_type in _LAST_DOSE:
        if now - fact.ended_at <= rule.washout.period:
            return True, f"{_LAST_DOSE[fact.resource_type]} {moment(fact.ended_at)}: within the " \
                         f"{rule.washout.compound} washout"
        return False, None
    last = fact.ended_at.date().isoformat()
    if fact.ended_at > now:
        return True, (
            f"{fact.fhir_status} before its planned end ({last}); the date of the last dose is not recorded: "
            f"counted as within the {rule.washout.compound} washout to be safe; confirm the last dose"
        )
    if now - fact.ended_at <= rule.washout.period:
        return True, f"{fact.fhir_status}, last dose {last}: within the {rule.washout.compound} washout"
    return False, None


def _advice(
    rule: Rule, drug: OrderedDrug, fact: MedicationFact | None, matches: tuple[IngredientMatch, ...]
) -> tuple[str, list[str], Modifier | None]:
    """The advice for one co-medication or condition, the notes of the factors that apply, and the factor that
    set the advice (the last one that changed it)."""
    advice, deciding = rule.advice[drug.name], None
    notes = []
    for modifier in rule.modifiers:
        if _applies(modifier, drug, fact, matches):
            if drug.name in modifier.advice:
                advice, deciding = modifier.advice[drug.name], modifier
            notes.append(modifier.note)
    return advice, notes, deciding


def _applies(
    modifier: Modifier, drug: OrderedDrug, fact: MedicationFact | None, matches: tuple[IngredientMatch, ...]
) -> bool:
    when = modifier.when
    if when.ordered_drugs and drug.name not in when.ordered_drugs:
        return False
    if when.ordered_context == "anaesthesia" and not drug.anaesthesia:
        return False
    if when.ordered_routes and not (drug.order.routes & when.ordered_routes):
        return False
    if when.comedication_routes and not (fact and fact.routes & when.comedication_routes):
        return False
    names = {match.ingredient.name for match in matches}
    return not (when.comedication_ingredients and not (names & when.comedication_ingredients))


def _implicated_conditions(
    rule: Rule, drug: OrderedDrug, conditions: Sequence[ConditionFact], kb: KnowledgeBase
) -> list[Implicated]:
    valueset = kb.condition_valuesets[rule.valueset]
    found = []
    for condition in conditions:
        if not (condition.active or (rule.history_counts and condition.past)):
            continue
        if not valueset.matches(condition):
            continue
        advice, notes, modifier = _advice(rule, drug, None, ())
        if advice != NONE:
            history = () if condition.active else ("recorded as a past condition; a history counts",)
            found.append(Implicated(advice, (*notes, *history), condition=condition, kind=valueset.name,
                                    modifier=modifier))
    return found


def _implicated_allergies(
    rule: Rule, drug: OrderedDrug, allergies: Sequence[AllergyFact], kb: KnowledgeBase
) -> list[Implicated]:
    members = kb.drug_valuesets[rule.valueset].ingredients
    found = []
    for allergy in allergies:
        matches = tuple(match for match in allergy.ingredients if match.ingredient.name in members)
        if not matches:
            continue
        advice, notes, modifier = _advice(rule, drug, None, matches)
        if advice != NONE:
            reactions = (f"reaction recorded: {escape(', '.join(allergy.reactions))}",) if allergy.reactions else ()
            criticality = (f"criticality {escape(allergy.criticality)}",) if allergy.criticality else ()
            found.append(Implicated(advice, (*notes, *reactions, *criticality), matches=matches, allergy=allergy,
                                    modifier=modifier))
    return found


def _strictest_met(kb: KnowledgeBase, reading: BloodPressure | None) -> Rule | None:
    """The blood-pressure rule whose threshold the reading meets and that is the strictest of those it meets (180/110
    before 140/90), so one reading gives one card."""
    if reading is None:
        return None
    met = [(rule.blood_pressure.systolic, rule.blood_pressure.diastolic, rule) for rule in kb.rules
           if rule.blood_pressure is not None and rule.blood_pressure.met_by(reading)]
    return max(met, key=lambda item: item[:2], default=(0.0, 0.0, None))[2]


def _implicated_reading(rule: Rule, drug: OrderedDrug, reading: BloodPressure) -> list[Implicated]:
    advice, notes, modifier = _advice(rule, drug, None, ())
    if advice == NONE:
        return []
    threshold = rule.blood_pressure.label if rule.blood_pressure else ""
    taken = f"measured {moment(reading.at)}; threshold: {threshold}"
    return [Implicated(advice, (taken, *notes), reading=reading, modifier=modifier)]


def _taken_in(findings: list[Finding]) -> list[Finding]:
    """Say a thing once: a finding whose rule the rule of another finding for the same ordered drug supersedes
    (``supersedes`` in the rule file) is taken into that finding when its advice is at least as strong, so that an
    Avoid is never folded under a weaker card."""
    superseded: dict[int, list[Finding]] = {}
    taken: set[int] = set()
    for finding in findings:
        for other in findings:
            if other.ordered is finding.ordered and other.rule.id in finding.rule.supersedes \
                    and ADVICE_RANK[finding.advice] <= ADVICE_RANK[other.advice]:
                superseded.setdefault(id(finding), []).append(other)
                taken.add(id(other))
    return [replace(finding, superseded=tuple(superseded[id(finding)])) if id(finding) in superseded else finding
            for finding in findings if id(finding) not in taken]


def _with_serotonin_watch(
    findings: list[Finding], medications: Sequence[MedicationFact], kb: KnowledgeBase
) -> list[Finding]:
    """Names the serotonergic drugs taken on each finding about one of them, when enough are taken for the
    serotonin-toxicity note."""
    watch = kb.serotonin_watch
    if watch is None:
        return findings
    members = kb.drug_valuesets[watch.valueset].ingredients
    taken: dict[str, str] = {}
    for fact in medications:
        if fact.status == CURRENT:
            for match in fact.ingredients:
                if match.ingredient.name in members:
                    taken.setdefault(match.ingredient.name, match.label)
    for finding in findings:
        for item in finding.implicated:
            if item.medication is not None and item.medication.status == ENDED:
                for match in item.matches:
                    if match.ingredient.name in members:
                        taken.setdefault(match.ingredient.name, match.label)
    if len(taken) < watch.threshold:
        return findings
    names = tuple(sorted(taken.values()))
    return [
        replace(f, serotonergic=names)
        if any(match.ingredient.name in members for item in f.implicated for match in item.matches)
        else f
        for f in findings
    ]
