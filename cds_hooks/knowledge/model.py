"""The knowledge base in memory: value sets, rules and card metadata, immutable once loaded.

The shapes follow the HL7 PDDI minimal information model: drugs involved (value sets with version and source),
clinical consequence, seriousness, mechanism, recommended action, modifying factors (each with its own action
and evidence), evidence grade and citations.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import timedelta
from functools import cached_property
from typing import Protocol

from marshmallow import fields, validate

from cds_hooks.fhir_json import ICD10CM, SNOMED
from cds_hooks.knowledge import schema
from cds_hooks.knowledge.schema import ID, TEXT, about, advice_map, in_file, route_list, texts_map
from cds_hooks.knowledge.vocabulary import FIRST_DOSE_CHECK, INTERACTION_KINDS, MEDICATION, RULE_KINDS
from cds_hooks.statuses import StatusClasses
from cds_hooks.terminology import Terminology
from cds_hooks.vitals import BloodPressure, BloodPressureCodes


@dataclass(frozen=True, slots=True)
class Citation:
    id: str
    label: str
    url: str | None
    kind: str
    short: str | None = None
    """The label a card's link shows ("Spravato prescribing information"); the full reference stays in ``label``."""

    @property
    def link_label(self) -> str:
        return self.short or self.label


@dataclass(frozen=True, slots=True)
class DrugValueSet:
    id: str
    title: str
    version: str
    source: str
    ingredients: frozenset[str]


class CodedProblem(Protocol):
    """What a value set reads of a problem: a read condition (``conditions.ConditionFact``) has both."""

    @property
    def codes(self) -> tuple[tuple[str, str], ...]: ...

    @property
    def texts(self) -> tuple[str, ...]: ...


@dataclass(frozen=True, slots=True)
class ConditionValueSet:
    """Conditions by ICD-10-CM code prefix, SNOMED CT code, or words in the problem's text.

    ``exclude`` holds phrases that contain a member word but mean something else ("pulmonary hypertension",
    "without psychotic features"); they are taken out of the text before the words are sought.
    """

    id: str
    title: str
    version: str
    source: str
    icd10cm: tuple[str, ...]
    """Code prefixes without dots (``I671`` for I67.1), so codes sent with or without dots both match."""
    snomed: frozenset[str]
    text: re.Pattern[str] | None
    exclude: re.Pattern[str] | None = None
    name: str = ""
    """The condition's short name as a card's summary says it ("pregnancy", "hypertensive urgency")."""

    def matches(self, condition: CodedProblem) -> bool:
        """By code, else by words; the condition's ICD-10-CM codes come in ``fhir_json.icd10_key`` form from
        ``read_condition``, so they are compared as they are."""
        for system, code in condition.codes:
            if system == ICD10CM and code.startswith(self.icd10cm):
                return True
            if system == SNOMED and code in self.snomed:
                return True
        if self.text is None:
            return False
        texts = [self.exclude.sub(" ", text) if self.exclude else text for text in condition.texts]
        return any(self.text.search(text) for text in texts)


@dataclass(frozen=True, slots=True)
class When:
    """The situation a modifying factor applies to; every stated part must hold."""

    ordered_drugs: frozenset[str] = frozenset()
    ordered_context: str | None = None
    ordered_routes: frozenset[str] = frozenset()
    comedication_routes: frozenset[str] = frozenset()
    comedication_ingredients: frozenset[str] = frozenset()


@dataclass(frozen=True, slots=True)
class AdviceText:
    """What a card says for one advice level: every part fits that advice, never another one."""

    action: str
    """What to do now, in one or two sentences: the card's first line."""
    monitoring: str | None = None
    timing: str | None = None
    label: str | None = None
    """How this advice compares with the drug label, when it differs."""
    summary: str | None = None
    """The summary's reason when this advice's situation has its own (anaesthesia: no antidepressant response)."""
    why: str | None = None
    """The why when this advice's situation has its own; None: the rule's consequence and mechanism."""


@dataclass(frozen=True, slots=True)
class Modifier:
    id: str
    description: str
    when: When
    note: str
    advice: Mapping[str, str] = field(default_factory=dict)
    """Advice per ordered drug while this factor holds; empty when the factor only adds a note."""
    evidence: str | None = None
    text: AdviceText | None = None
    """What the card says while this factor decides the advice; None: the rule's text for that advice."""


@dataclass(frozen=True, slots=True)
class Evidence:
    grade: str
    """``label``, ``pk-study``, ``observational``, ``weak``, ``conflicting`` or ``policy``."""
    summary: str
    weak: bool = False
    """The grade is one the manifest's ``weak_evidence_grades`` calls weak."""


@dataclass(frozen=True, slots=True)
class Washout:
    """How long after the last dose ended therapy still counts."""

    period: timedelta
    label: str
    """``14 days``, ``24 hours``: as a sentence says how long ("counts 14 days after the last dose")."""
    compound: str
    """``14-day``, ``24-hour``: as it stands before a noun ("within the 14-day washout")."""


@dataclass(frozen=True, slots=True)
class OrderLimit:
    """The limits an ``order`` rule holds the order to. Texts of such a rule may name them as ``{allowed}``,
    ``{max_per_week}``, ``{categories}``, ``{min_age}`` and ``{start_mg}``, so a site's changed limit is what the
    card and the rules table say."""

    check: str
    describe: str
    """What the rule looks for, for the rules table (``a dose per session other than {allowed}``)."""
    allowed_mg: tuple[float, ...] = ()
    max_per_week: float | None = None
    home_categories: frozenset[str] = frozenset()
    """MedicationRequest.category codes that mean use at home (``community``, ``discharge``)."""
    home_performers: frozenset[str] = frozenset()
    """Resource types that, as the order's ``performer``, mean the drug is handed over to be taken away."""
    min_age: int | None = None
    start_mg: float | None = None

    def fill(self, text: str) -> str:
        """``text`` with the limits' placeholders filled in."""
        return text.format_map(self.values())

    def values(self) -> dict[str, str]:
        return {
            "allowed": milligrams(self.allowed_mg),
            "max_per_week": number(self.max_per_week) if self.max_per_week is not None else "",
            "categories": " or ".join(sorted(self.home_categories)),
            "min_age": str(self.min_age) if self.min_age is not None else "",
            "start_mg": milligrams((self.start_mg,)) if self.start_mg is not None else "",
        }


def number(value: float) -> str:
    """``56`` for 56.0, ``0.5`` for 0.5."""
    return f"{value:g}"


def milligrams(values: tuple[float, ...]) -> str:
    """``56 or 84 mg``; ``28, 56 or 84 mg``.

    >>> milligrams((84.0, 56.0)), milligrams((28.0, 56.0, 84.0)), milligrams((28.0,))
    ('56 or 84 mg', '28, 56 or 84 mg', '28 mg')
    """
    shown = [number(value) for value in sorted(values)]
    if not shown:
        return ""
    listed = shown[0] if len(shown) == 1 else f"{', '.join(shown[:-1])} or {shown[-1]}"
    return f"{listed} mg"


@dataclass(frozen=True, slots=True)
class BloodPressureThreshold:
    """A blood-pressure rule's threshold: met when either value reaches it (``inclusive``: at or above)."""

    systolic: float
    diastolic: float
    inclusive: bool

    def met_by(self, reading: BloodPressure) -> bool:
        """
        >>> from datetime import UTC, datetime
        >>> at = datetime(2026, 11, 21, tzinfo=UTC)
        >>> severe, raised = BloodPressureThreshold(180, 110, True), BloodPressureThreshold(140, 90, False)
        >>> severe.met_by(BloodPressure(180, 80, at, ())), raised.met_by(BloodPressure(140, 90, at, ()))
        (True, False)
        >>> raised.met_by(BloodPressure(None, 91, at, ()))
        True
        """
        pairs = ((reading.systolic, self.systolic), (reading.diastolic, self.diastolic))
        if self.inclusive:
            return any(value is not None and value >= limit for value, limit in pairs)
        return any(value is not None and value > limit for value, limit in pairs)

    @property
    def label(self) -> str:
        """Either value meets it, as a reader takes it in at once.

        >>> BloodPressureThreshold(180, 110, True).label, BloodPressureThreshold(140, 90, False).label
        ('systolic 180 or diastolic 110 mmHg or higher', 'systolic above 140 or diastolic above 90 mmHg')
        """
        if self.inclusive:
            return f"systolic {number(self.systolic)} or diastolic {number(self.diastolic)} mmHg or higher"
        return f"systolic above {number(self.systolic)} or diastolic above {number(self.diastolic)} mmHg"

    def values(self) -> dict[str, str]:
        """What a blood-pressure rule's texts may name: ``{systolic}`` and ``{diastolic}``, the limits in mmHg."""
        return {"systolic": number(self.systolic), "diastolic": number(self.diastolic)}


@dataclass(frozen=True, slots=True, kw_only=True)
class Rule:
    """A rule, declared once: each field's type in memory, and, for a field a rule file states, its field in the
    file (``in_file``: type, validation, meaning), from which the rule file's schema (``RuleSchema``) and the field
    reference are made. The loader turns what the file states into these types (citations by id into citations,
    lists into sets); the site's fields come from the override file, ``file`` from the path."""

    id: str = field(metadata=in_file(fields.Str(
        required=True, validate=ID,
        metadata=about("the rule's id: lower-case letters, digits and hyphens; the file is named after it"))))
    title: str = field(metadata=in_file(fields.Str(
        required=True, validate=TEXT, metadata=about("what the rule is about, for the committee"))))
    kind: str = field(metadata=in_file(fields.Str(
        required=True, validate=validate.OneOf(RULE_KINDS),
        metadata=about("medication, condition, allergy (to a drug value set), blood-pressure or order (the ketamine "
                       "or esketamine order itself: dose, frequency, setting)"))))
    valueset: str = field(metadata=in_file(fields.Str(
        validate=ID,
        metadata=about("the drug or condition value set whose members the rule is about (required for a medication, "
                       "condition or allergy rule; a blood-pressure or order rule has none)"))))
    """Empty for a blood-pressure or order rule."""
    blood_pressure: BloodPressureThreshold | None = field(default=None, metadata=in_file(fields.Nested(
        schema.ThresholdSchema, metadata=about("a blood-pressure rule's threshold for the latest reading"))))
    limit: OrderLimit | None = field(default=None, metadata=in_file(fields.Nested(
        schema.LimitSchema, metadata=about("an order rule's check and its limits (order rules only)"))))
    enabled: bool = field(default=True, metadata=in_file(fields.Bool(
        load_default=True, metadata=about("false: the rule is off unless a site switches it on (default true)"))))
    advice: Mapping[str, str] = field(metadata=in_file(advice_map(
        required=True, about="the advice per ordered drug (ketamine, esketamine): avoid, hold, monitor or none")))
    summary: str = field(metadata=in_file(fields.Str(
        required=True, validate=validate.Length(min=1, max=60),
        metadata=about("the reason in the card's summary line (at most 60 characters); a medication, condition or "
                       "allergy rule's may name `{ingredients}`, the ingredients of the records found, and then "
                       "says the whole reason itself (\"allergy to {ingredients} recorded\")"))))
    topic: str = field(metadata=in_file(fields.Str(
        required=True, validate=TEXT, metadata=about("the card's topic, as the EHR may show it"))))
    consequence: str = field(metadata=in_file(fields.Str(
        required=True, validate=TEXT, metadata=about("what can happen"))))
    seriousness: str = field(metadata=in_file(fields.Str(
        required=True, validate=validate.OneOf(("serious", "moderate", "minor")),
        metadata=about("serious, moderate or minor"))))
    mechanism: str = field(metadata=in_file(fields.Str(
        required=True, validate=TEXT, metadata=about("why it happens"))))
    texts: Mapping[str, AdviceText] = field(default_factory=dict, metadata=in_file(texts_map(
        "the card's text per advice level the rule can give: action, monitoring, timing, label; an order rule's may "
        "name its limits (`{allowed}`), a blood-pressure rule's its threshold (`{systolic}`, `{diastolic}`)")))
    evidence: Evidence = field(metadata=in_file(fields.Nested(
        schema.EvidenceSchema, required=True, metadata=about("the evidence grade and its summary"))))
    citations: tuple[Citation, ...] = field(metadata=in_file(fields.List(
        fields.Str(validate=ID), required=True, validate=validate.Length(min=1),
        metadata=about("ids of the manifest's citations that support the rule"))))
    washout: Washout | None = field(default=None, metadata=in_file(fields.Nested(
        schema.WashoutSchema, metadata=about("how long after its last dose an ended co-medication still counts"))))
    history_counts: bool = field(default=False, metadata=in_file(fields.Bool(
        load_default=False, metadata=about("a past (no longer active) condition counts too"))))
    comedication_routes: frozenset[str] = field(default=frozenset(), metadata=in_file(route_list(
        "the rule counts a co-medication only when given by one of these routes")))
    """Empty: any route."""
    modifiers: tuple[Modifier, ...] = field(default=(), metadata=in_file(fields.List(
        fields.Nested(schema.ModifierSchema), load_default=list,
        metadata=about("situations that change the advice (a route, a use, an ingredient)"))))
    absolute_contraindication: bool = field(default=False, metadata=in_file(fields.Bool(
        load_default=False,
        metadata=about("an absolute contraindication: no site override may switch it off or lower it below hold"))))
    supersedes: tuple[str, ...] = field(default=(), metadata=in_file(fields.List(
        fields.Str(validate=ID), load_default=list,
        metadata=about("ids of rules whose card this rule's card replaces for the same ordered drug when both fire and "
                       "this one's advice is at least as strong: their records are named on this card and their "
                       "rules in its extension (say a thing once; an Avoid is never folded under a weaker card); a "
                       "rule named here may not itself supersede another"))))
    """Rules whose finding for the same ordered drug this rule's finding takes in when both fire and this one's advice
    is at least as strong: one card says it, naming their records too (a measured blood pressure over a recorded
    hypertension)."""
    site_note: str | None = None
    """Why the site changed this rule, when a site override did."""
    site_changed: frozenset[str] = frozenset()
    """The ordered drugs whose advice the site override changed: only their cards carry the site note."""
    site_texts: Mapping[str, AdviceText] = field(default_factory=dict)
    """The site's own text per advice level, for the advice it set."""
    file: str = ""
    """The rule file's name."""

    def text(self, advice: str, modifier: Modifier | None = None, site: bool = False) -> AdviceText | None:
        """The text of ``advice`` as given by a modifying factor, by the site, or by the rule itself; an order
        rule's placeholders filled with its limits, a blood-pressure rule's with its threshold."""
        if modifier is not None and modifier.text is not None:
            chosen: AdviceText | None = modifier.text
        elif site and advice in self.site_texts:
            chosen = self.site_texts[advice]
        else:
            chosen = self.texts.get(advice)
        if chosen is None or self.placeholders is None:
            return chosen
        parts = {name: self.filled(value) for name in AdviceText.__slots__ if (value := getattr(chosen, name))}
        return AdviceText(**parts)

    @property
    def placeholders(self) -> dict[str, str] | None:
        """What this rule's texts may name and are filled with: an order rule's limits (``{allowed}``), a
        blood-pressure rule's threshold (``{systolic}``, ``{diastolic}``); None for any other rule, whose texts
        are shown as written. Filled from the rule as loaded, so a site's changed limit is what the card says."""
        if self.limit is not None:
            return self.limit.values()
        if self.blood_pressure is not None:
            return self.blood_pressure.values()
        return None

    def filled(self, value: str) -> str:
        """A text of this rule as shown, its placeholders filled."""
        values = self.placeholders
        return value.format_map(values) if values is not None else value


RuleSchema = schema.declared(Rule, schema.RuleChecks)
"""The rule file's schema, made from the Rule's declarations: every rule file is checked against it."""


@dataclass(frozen=True, slots=True)
class OverrideReason:
    code: str
    display: str
    applies_to: frozenset[str] = frozenset(INTERACTION_KINDS)
    """The kinds of rule (``RULE_KINDS``) whose cards offer this reason (default every kind but ``order``)."""
    ordered_context: str | None = None
    """``anaesthesia``: offered only when the ketamine order is anaesthetic or procedural."""


@dataclass(frozen=True, slots=True)
class SiteOverride:
    """One rule's entry in a site's override file, with the committee's record of who approved it, when and why."""

    rule_id: str
    enabled: bool
    advice: Mapping[str, str]
    note: str | None
    approved_by: str
    approved_on: str
    reason: str

    def describe(self) -> str:
        """What the entry does, in a few words ("switched off", "esketamine monitor")."""
        changes = [] if self.enabled else ["switched off"]
        changes += [f"{drug} {advice}" for drug, advice in sorted(self.advice.items())]
        return ", ".join(changes) or "note only"


@dataclass(frozen=True, slots=True)
class SerotoninWatch:
    """Co-medications whose number, at or above ``threshold``, adds a serotonin-toxicity note to cards."""

    valueset: str
    threshold: int
    note: str


@dataclass(frozen=True)
class KnowledgeBase:
    version: str
    date: str
    publisher: str
    rules: tuple[Rule, ...]
    drug_valuesets: Mapping[str, DrugValueSet]
    condition_valuesets: Mapping[str, ConditionValueSet]
    citations: Mapping[str, Citation]
    terminology: Terminology
    override_reasons: Mapping[str, tuple[OverrideReason, ...]]
    """Override reasons offered per advice level."""
    anaesthesia_terms: re.Pattern[str]
    anaesthesia_negation: re.Pattern[str]
    """Matches at the end of the text before an anaesthesia term when that text negates it."""
    serotonin_watch: SerotoninWatch | None
    statuses: StatusClasses
    """Which of the patient's records count, by their status."""
    local_routes: frozenset[str] = frozenset()
    """Routes with no systemic effect: a co-medication given only by these counts only for rules that name them."""
    family_history: ConditionValueSet | None = None
    """Problem-list entries about a relative's disease: they fire no condition rule."""
    blood_pressure: BloodPressureCodes | None = None
    """What counts as a blood-pressure reading, and for how long; None: no blood-pressure rule can fire."""
    dispense_default_supply: timedelta = timedelta(days=90)
    """How long a dispense with no ``daysSupply`` counts as taken."""
    generic_texts: Mapping[str, AdviceText] = field(default_factory=dict)
    """A plain text per advice level, for an advice a rule has no text of its own for (a site's, say)."""
    site: str | None = None
    overrides: Mapping[str, SiteOverride] = field(default_factory=dict)
    """The site's override entries by rule id, switched-off rules included (they are no longer in ``rules``)."""

    def rule(self, rule_id: str) -> Rule | None:
        return next((rule for rule in self.rules if rule.id == rule_id), None)

    def text(self, rule: Rule, advice: str, modifier: Modifier | None = None, site: bool = False) -> AdviceText:
        """The text a card of ``rule`` shows for ``advice``; the loader has made sure there is one."""
        text = rule.text(advice, modifier, site) or self.generic_texts.get(advice)
        if text is None:
            raise LookupError(f"rule {rule.id} has no text for the advice {advice}")
        return text

    @cached_property
    def first_dose_checked(self) -> bool:
        """A rule that is on checks a first dose by age: it reads the patient's birth date, and every earlier record
        of the ordered drug counts, however old."""
        return any(rule.enabled and rule.limit is not None and rule.limit.check == FIRST_DOSE_CHECK
                   for rule in self.rules)

    @cached_property
    def interacting_ingredients(self) -> frozenset[str]:
        """Every ingredient a medication rule or the serotonin watch counts: the medications worth a closer look."""
        names = {
            name
            for rule in self.rules
            if rule.kind == MEDICATION
            for name in self.drug_valuesets[rule.valueset].ingredients
        }
        if self.serotonin_watch is not None:
            names |= self.drug_valuesets[self.serotonin_watch.valueset].ingredients
        return frozenset(names)
