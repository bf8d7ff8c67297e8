"""Marshmallow schemas for the knowledge files and the site override file.

They check every file when the knowledge base loads, so a bad file stops start-up with a message naming the file
and the field, rather than misfiring at the first order. A rule file's fields are declared on the ``Rule`` itself
(``model.py``, with ``in_file``); its schema is made from them (``declared``) and checked as a whole here
(``RuleChecks``).
"""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Mapping

from marshmallow import RAISE, Schema, ValidationError, fields, validate, validates_schema

from cds_hooks.knowledge.vocabulary import (
    ADVICE_LEVELS,
    BLOOD_PRESSURE,
    GRADES,
    ORDER,
    ORDER_CHECKS,
    ORDERED_DRUGS,
    RULE_KINDS,
)
from cds_hooks.statuses import APPOINTMENT_STATUSES, ELEMENTS, ENTERED_IN_ERROR, EXCLUDED, StatusElement
from cds_hooks.terminology import ROUTES

ID = validate.Regexp(r"^[a-z0-9][a-z0-9-]*$", error="must be lower-case letters, digits and hyphens")
TEXT = validate.Length(min=1)
_FILE = "file"


def _pattern(text: str) -> None:
    """A regular expression that compiles and names no group of its own (routes name the groups)."""
    try:
        compiled = re.compile(text)
    except re.error as error:
        raise ValidationError(f"is not a valid regular expression ({error})") from None
    if compiled.groupindex:
        raise ValidationError("must not name groups")


def about(description: str) -> dict[str, str]:
    """A field's description, for rule authors: the field reference (``reference.py``) is generated from these."""
    return {"description": description}


def in_file(declaration: fields.Field) -> dict[str, fields.Field]:
    """A dataclass field's metadata: its field in the file it is read from (type, validation, meaning)."""
    return {_FILE: declaration}


def declared(kind: type, checks: type[Schema]) -> type[Schema]:
    """The schema of a file whose fields ``kind`` (a dataclass) declares with ``in_file``, in its order, checked as
    a whole by ``checks``."""
    found = {field.name: field.metadata[_FILE] for field in dataclasses.fields(kind) if _FILE in field.metadata}
    return checks.from_dict(found, name=f"{kind.__name__}Schema")


def route_list(description: str) -> fields.List:
    return fields.List(fields.Str(validate=validate.OneOf(ROUTES)), load_default=list, metadata=about(description))


def advice_map(required: bool, about: str) -> fields.Dict:
    return fields.Dict(
        keys=fields.Str(validate=validate.OneOf(ORDERED_DRUGS)),
        values=fields.Str(validate=validate.OneOf(ADVICE_LEVELS)),
        required=required,
        metadata={"description": about},
    )


class _Strict(Schema):
    class Meta:
        unknown = RAISE


class CitationSchema(_Strict):
    label = fields.Str(
        required=True, validate=TEXT, metadata=about("the source as cards name it (a label section, a paper)")
    )
    short = fields.Str(
        validate=validate.Length(min=1, max=60),
        metadata=about("the label of the card's link to the source, at most 60 characters"),
    )
    url = fields.Url(metadata=about("a link to the source"))
    kind = fields.Str(
        required=True,
        validate=validate.OneOf(("label", "compendium", "paper", "guidance", "project")),
        metadata=about("label, compendium, paper, guidance or project"),
    )


class OverrideReasonSchema(_Strict):
    code = fields.Str(required=True, validate=ID, metadata=about("the reason's code, sent back in feedback"))
    display = fields.Str(required=True, validate=TEXT, metadata=about("the reason as the clinician reads it"))
    applies_to = fields.List(
        fields.Str(validate=validate.OneOf(RULE_KINDS)),
        validate=validate.Length(min=1),
        metadata=about("medication, condition, allergy, blood-pressure and/or order: the rules whose cards offer it "
                       "(default all but order)"),
    )
    ordered_context = fields.Str(
        validate=validate.OneOf(("anaesthesia",)),
        metadata=about("anaesthesia: offered only when the ketamine order is anaesthetic or procedural"),
    )


DETAIL_PART_LIMIT = 400
"""The longest one part of a card's text may be: a card's detail stays short enough to take in at a glance."""


class AdviceTextSchema(_Strict):
    action = fields.Str(
        required=True,
        validate=validate.Length(min=1, max=240),
        metadata=about("what to do now: the card's first line (at most 240 characters)"),
    )
    monitoring = fields.Str(
        validate=validate.Length(min=1, max=DETAIL_PART_LIMIT), metadata=about("what to watch after the dose")
    )
    timing = fields.Str(
        validate=validate.Length(min=1, max=DETAIL_PART_LIMIT), metadata=about("when to give or hold doses")
    )
    label = fields.Str(
        validate=validate.Length(min=1, max=DETAIL_PART_LIMIT),
        metadata=about("how this advice compares with the product label, where it differs"),
    )
    summary = fields.Str(
        validate=validate.Length(min=1, max=60),
        metadata=about("the summary's reason in this situation, when the rule's does not fit it"),
    )
    why = fields.Str(
        validate=validate.Length(min=1, max=DETAIL_PART_LIMIT),
        metadata=about("why, in this situation, when the rule's consequence and mechanism do not fit it"),
    )


def texts_map(description: str) -> fields.Dict:
    """Text per advice level (``avoid``, ``hold``, ``monitor``)."""
    return fields.Dict(
        keys=fields.Str(validate=validate.OneOf(ADVICE_LEVELS[:-1])),
        values=fields.Nested(AdviceTextSchema),
        load_default=dict,
        metadata=about(description),
    )


class SerotoninWatchSchema(_Strict):
    valueset = fields.Str(required=True, validate=ID, metadata=about("the drug value set that counts as serotonergic"))
    threshold = fields.Int(
        required=True,
        validate=validate.Range(min=2),
        metadata=about("how many serotonergic medications start the watch (at least 2)"),
    )
    note = fields.Str(
        required=True,
        validate=TEXT,
        metadata=about("the note every card about one of them carries; {count} and {names} are filled in"),
    )


class NegationSchema(_Strict):
    words = fields.List(
        fields.Str(validate=TEXT),
        required=True,
        validate=validate.Length(min=1),
        metadata=about("words that, before an anaesthesia term, say the order is not for anaesthesia"),
    )
    prefixes = fields.List(
        fields.Str(validate=TEXT), load_default=list, metadata=about("prefixes that do the same (non-, sub-)")
    )
    reach = fields.Int(
        required=True,
        strict=True,
        validate=validate.Range(min=0, max=10),
        metadata=about("how many words back a negating word counts (0 to 10)"),
    )


class FamilyHistorySchema(_Strict):
    source = fields.Str(
        validate=TEXT, metadata=about("where the codes come from, per code system and code, for the committee")
    )
    icd10cm = fields.List(
        fields.Str(validate=TEXT), load_default=list, metadata=about("ICD-10-CM code prefixes of family histories")
    )
    snomed = fields.List(
        fields.Str(validate=validate.Regexp(r"^\d+$")), load_default=list,
        metadata=about("SNOMED CT family-history concepts"),
    )
    text = fields.List(
        fields.Str(validate=TEXT), load_default=list,
        metadata=about("words that name a family history or a relative as the subject of a problem's text"),
    )


class BloodPressureWindowSchema(_Strict):
    within_hours = fields.Int(
        required=True, strict=True, validate=validate.Range(min=1, max=24 * 366),
        metadata=about("how many hours before the order the latest blood-pressure reading may have been taken"),
    )


class ManifestSchema(_Strict):
    version = fields.Str(
        required=True,
        validate=validate.Regexp(r"^\d+\.\d+\.\d+$"),
        metadata=about(
            "the knowledge base version (year.month.release); every change bumps it and is told in CHANGELOG.md"
        ),
    )
    date = fields.Date(required=True, metadata=about("the release date"))
    publisher = fields.Str(required=True, validate=TEXT, metadata=about("who publishes this knowledge base"))
    anaesthesia_terms = fields.List(
        fields.Str(validate=TEXT),
        required=True,
        validate=validate.Length(min=1),
        metadata=about("words in a ketamine order that mark it as anaesthetic or procedural use"),
    )
    anaesthesia_negation = fields.Nested(
        NegationSchema,
        required=True,
        metadata=about("what, before an anaesthesia term, says the order is not for anaesthesia"),
    )
    override_reasons = fields.Dict(
        keys=fields.Str(validate=validate.OneOf(ADVICE_LEVELS)),
        values=fields.List(fields.Nested(OverrideReasonSchema), validate=validate.Length(min=1)),
        required=True,
        metadata=about("reasons a clinician may pick when overriding a card, per advice level"),
    )
    serotonin_watch = fields.Nested(
        SerotoninWatchSchema,
        metadata=about("the note cards carry when the patient takes several serotonergic medications"),
    )
    local_routes = route_list(
        "routes with no systemic effect worth a card: a co-medication given only so counts only for a rule "
        "that names the route"
    )
    route_words = fields.Dict(
        keys=fields.Str(validate=validate.OneOf(ROUTES)),
        values=fields.List(fields.Str(validate=_pattern), validate=validate.Length(min=1)),
        required=True,
        metadata=about("per route, regular expressions that name it in a medication's text, tried in order"),
    )
    route_codes = fields.Dict(
        keys=fields.Str(validate=validate.Regexp(r"^\d+$")),
        values=fields.Str(validate=validate.OneOf(ROUTES)),
        required=True,
        metadata=about("SNOMED CT route codes and the route each means"),
    )
    family_history = fields.Nested(
        FamilyHistorySchema, metadata=about("problem-list entries about a relative: they fire no condition rule")
    )
    blood_pressure = fields.Nested(
        BloodPressureWindowSchema, metadata=about("which blood-pressure reading the blood-pressure rules read")
    )
    dispense_default_supply_days = fields.Int(
        strict=True, required=True, validate=validate.Range(min=1, max=366),
        metadata=about("how many days a MedicationDispense with no daysSupply counts as taken"),
    )
    weak_evidence_grades = fields.List(
        fields.Str(validate=validate.OneOf(GRADES)),
        required=True,
        metadata=about("the evidence grades cards and the rules table call weak"),
    )
    generic_texts = texts_map(
        "a plain text per advice level, for an advice a rule has no text of its own for (a site override's)"
    )
    citations = fields.Dict(
        keys=fields.Str(validate=ID),
        values=fields.Nested(CitationSchema),
        required=True,
        metadata=about("every source rules cite, by id"),
    )


class DrugValueSetSchema(_Strict):
    id = fields.Str(required=True, validate=ID, metadata=about("the value set's id, which rules name in valueset"))
    title = fields.Str(required=True, validate=TEXT, metadata=about("what the set holds"))
    name = fields.Str(
        validate=validate.Length(min=1, max=40),
        metadata=about("the condition's short name in a card's summary (default: the title's first words)"),
    )
    version = fields.Str(required=True, validate=TEXT, metadata=about("the set's version"))
    source = fields.Str(required=True, validate=TEXT, metadata=about("where the membership comes from"))
    ingredients = fields.List(
        fields.Str(validate=TEXT),
        required=True,
        validate=validate.Length(min=1),
        metadata=about("member ingredients (names the terminology table knows)"),
    )


class ConditionValueSetSchema(_Strict):
    id = fields.Str(required=True, validate=ID, metadata=about("the value set's id, which rules name in valueset"))
    title = fields.Str(required=True, validate=TEXT, metadata=about("what the set holds, as cards name it"))
    version = fields.Str(required=True, validate=TEXT, metadata=about("the set's version"))
    source = fields.Str(required=True, validate=TEXT, metadata=about("where the membership comes from"))
    icd10cm = fields.List(
        fields.Str(validate=TEXT), load_default=list, metadata=about("ICD-10-CM code prefixes (with or without dots)")
    )
    snomed = fields.List(
        fields.Str(validate=validate.Regexp(r"^\d+$")), load_default=list, metadata=about("SNOMED CT codes")
    )
    text = fields.List(
        fields.Str(validate=TEXT),
        load_default=list,
        metadata=about("words or phrases that name the condition in a problem's text"),
    )
    exclude_text = fields.List(
        fields.Str(validate=TEXT),
        load_default=list,
        metadata=about("phrases that contain a member word but mean something else"),
    )

    @validates_schema
    def _has_members(self, data: dict, **kwargs: object) -> None:
        if not (data.get("icd10cm") or data.get("snomed") or data.get("text")):
            raise ValidationError("a condition value set needs icd10cm, snomed or text members", "icd10cm")


class WhenSchema(_Strict):
    ordered_drugs = fields.List(
        fields.Str(validate=validate.OneOf(ORDERED_DRUGS)),
        load_default=list,
        metadata=about("the modifier applies only to these ordered drugs"),
    )
    ordered_context = fields.Str(
        validate=validate.OneOf(("anaesthesia",)),
        metadata=about("anaesthesia: only when the order is for anaesthesia or procedural sedation"),
    )
    ordered_routes = route_list("only when the ketamine order is given by one of these routes")
    comedication_routes = route_list("only when the co-medication is given by one of these routes")
    comedication_ingredients = fields.List(
        fields.Str(validate=TEXT), load_default=list, metadata=about("only for these co-medication ingredients")
    )

    @validates_schema
    def _not_empty(self, data: dict, **kwargs: object) -> None:
        if not any(data.values()):
            raise ValidationError("a modifier must say when it applies", "ordered_context")


class ModifierSchema(_Strict):
    id = fields.Str(required=True, validate=ID, metadata=about("the modifier's id within the rule"))
    description = fields.Str(required=True, validate=TEXT, metadata=about("when it applies, in words"))
    when = fields.Nested(
        WhenSchema, required=True, metadata=about("the situation it applies to; every stated part must hold")
    )
    advice = advice_map(required=False, about="the advice per ordered drug when the modifier applies")
    note = fields.Str(required=True, validate=TEXT, metadata=about("what the card says when it applies"))
    evidence = fields.Str(validate=TEXT, metadata=about("the evidence for the changed advice"))
    text = fields.Nested(
        AdviceTextSchema, metadata=about("the card's text while this modifier sets the advice (default: the rule's)")
    )


class EvidenceSchema(_Strict):
    grade = fields.Str(
        required=True,
        validate=validate.OneOf(GRADES),
        metadata=about("label, pk-study, observational, weak, conflicting or policy"),
    )
    summary = fields.Str(
        required=True, validate=TEXT, metadata=about("the evidence in a sentence or two, shown on the card")
    )


class WashoutSchema(_Strict):
    days = fields.Int(
        validate=validate.Range(min=1),
        metadata=about("days after the last dose during which an ended medication still counts"),
    )
    hours = fields.Int(
        validate=validate.Range(min=1), metadata=about("the same in hours (give days or hours, not both)")
    )

    @validates_schema
    def _one_unit(self, data: dict, **kwargs: object) -> None:
        if len(data) != 1:
            raise ValidationError("give exactly one of days or hours", "days")


class _Limits(_Strict):
    systolic = fields.Float(
        required=True, validate=validate.Range(min=1, max=400), metadata=about("systolic pressure, mmHg")
    )
    diastolic = fields.Float(
        required=True, validate=validate.Range(min=1, max=300), metadata=about("diastolic pressure, mmHg")
    )


class ThresholdSchema(_Strict):
    """``at_or_above: {systolic: 180, diastolic: 110}`` or ``above: {systolic: 140, diastolic: 90}``."""

    at_or_above = fields.Nested(_Limits, metadata=about("met when either value is at or above its limit"))
    above = fields.Nested(_Limits, metadata=about("met when either value is above its limit"))

    @validates_schema
    def _one_kind(self, data: dict, **kwargs: object) -> None:
        if len(data) != 1:
            raise ValidationError("give exactly one of at_or_above or above", "at_or_above")
LIMIT_FIELDS = {
    "dose": ("allowed_mg",),
    "frequency": ("max_per_week",),
    "setting": ("home_categories", "home_performers"),
    "first-dose-by-age": ("min_age", "start_mg"),
}
"""The limits each order check takes (the first ones required in the rule file); a site may change any of them."""
_OPTIONAL_LIMITS = frozenset({"home_performers"})
_HOME_PERFORMERS = ("Patient", "RelatedPerson")


def _milligrams(description: str | None = None) -> fields.Float:
    return fields.Float(validate=validate.Range(min=0, min_inclusive=False), allow_nan=False,
                        metadata=about(description) if description else {})


class LimitValuesSchema(_Strict):
    """The limits themselves: what a rule file states and a site override may change."""

    allowed_mg = fields.List(
        _milligrams(),
        validate=validate.Length(min=1),
        metadata=about("dose check: the doses per session allowed, in mg"),
    )
    max_per_week = fields.Float(
        validate=validate.Range(min=0, min_inclusive=False),
        allow_nan=False,
        metadata=about("frequency check: the most sessions a week"),
    )
    home_categories = fields.List(
        fields.Str(validate=ID),
        validate=validate.Length(min=1),
        metadata=about("setting check: MedicationRequest.category codes that mean use at home"),
    )
    home_performers = fields.List(
        fields.Str(validate=validate.OneOf(_HOME_PERFORMERS)),
        metadata=about("setting check: performer resource types that mean the drug is taken away (optional)"),
    )
    min_age = fields.Int(
        strict=True,
        validate=validate.Range(min=0, max=130),
        metadata=about("first-dose-by-age check: the age in years from which the starting dose is limited"),
    )
    start_mg = _milligrams("first-dose-by-age check: the highest first dose at that age, in mg")


class LimitSchema(LimitValuesSchema):
    check = fields.Str(
        required=True, validate=validate.OneOf(ORDER_CHECKS), metadata=about("what the order rule checks")
    )
    describe = fields.Str(
        required=True,
        validate=TEXT,
        metadata=about("what the rule looks for, for the rules table; may name its limits (`{allowed}`)"),
    )

    @validates_schema
    def _limits_of_the_check(self, data: dict, **kwargs: object) -> None:
        check_limits(data.get("check", ""), data, complete=True)


def check_limits(check: str, data: dict, *, complete: bool) -> None:
    """Only the limits of this check (``complete``: every required one, as a rule file must state them)."""
    wanted = LIMIT_FIELDS.get(check, ())
    for name in sorted(set(data) - {"check", "describe", *wanted}):
        raise ValidationError(f"is not a limit of a {check} check", name)
    for name in wanted if complete else ():
        if name not in data and name not in _OPTIONAL_LIMITS:
            raise ValidationError(f"a {check} check needs {name}", name)


class RuleChecks(_Strict):
    """What a rule file must hold as a whole; its fields are declared on ``model.Rule``."""

    @validates_schema
    def _every_drug_advised(self, data: dict, **kwargs: object) -> None:
        missing = [drug for drug in ORDERED_DRUGS if drug not in data.get("advice", {})]
        if missing:
            raise ValidationError(f"advice is missing for {', '.join(missing)}", "advice")

    @validates_schema
    def _what_the_kind_needs(self, data: dict, **kwargs: object) -> None:
        """A medication, condition or allergy rule names its value set; a blood-pressure rule states its threshold
        and an order rule its limit instead."""
        kind = data.get("kind")
        if kind == BLOOD_PRESSURE and "blood_pressure" not in data:
            raise ValidationError("a blood-pressure rule needs a threshold", "blood_pressure")
        if kind == ORDER and "limit" not in data:
            raise ValidationError("an order rule needs a limit", "limit")
        if kind in (BLOOD_PRESSURE, ORDER):
            if "valueset" in data:
                raise ValidationError(f"a{'n' if kind == ORDER else ''} {kind} rule has no value set", "valueset")
        elif "valueset" not in data:
            raise ValidationError("Missing data for required field.", "valueset")
        if kind != BLOOD_PRESSURE and "blood_pressure" in data:
            raise ValidationError("only a blood-pressure rule has a threshold", "blood_pressure")
        if kind != ORDER and "limit" in data:
            raise ValidationError("only an order rule has a limit", "limit")


NEVER_COUNTS = "a record entered in error never counts"


def _classes(element: StatusElement) -> fields.Dict:
    return fields.Dict(keys=fields.Str(validate=validate.OneOf(element.codes)),
                       values=fields.Str(validate=validate.OneOf(element.classes)),
                       required=True, metadata=about(element.meaning))


def _codes(codes: tuple[str, ...], description: str) -> fields.List:
    return fields.List(fields.Str(validate=validate.OneOf(codes)), required=True, validate=validate.Length(min=1),
                       metadata=about(description))


class _StatusChecks(_Strict):
    @validates_schema
    def _classed(self, data: dict, *, partial: object = None, **kwargs: object) -> None:
        """``entered-in-error`` is excluded wherever FHIR defines it; in the release (not a site's partial file)
        every code FHIR R4 defines is classed, so that none is left out by omission."""
        for kind, elements in ELEMENTS.items():
            for name, element in elements.items():
                classes: Mapping[str, str] | None = data.get(kind, {}).get(name)
                if classes is None:
                    continue
                if classes.get(ENTERED_IN_ERROR, EXCLUDED) != EXCLUDED:
                    raise ValidationError({name: {ENTERED_IN_ERROR: [f"{NEVER_COUNTS}: it must stay excluded"]}}, kind)
                missing = [code for code in element.codes if code not in classes]
                if missing and not partial:
                    raise ValidationError({name: [f"every status FHIR R4 defines needs a class: {missing[0]!r} has "
                                                  "none"]}, kind)
        for name in ("planned_orders", "booked_sessions"):
            if ENTERED_IN_ERROR in data.get(name, ()):
                raise ValidationError(f"{NEVER_COUNTS}: entered-in-error may not be listed", name)
        if ENTERED_IN_ERROR not in data.get("draft_orders_excluded", [ENTERED_IN_ERROR]):
            raise ValidationError(f"{NEVER_COUNTS}: entered-in-error must be listed", "draft_orders_excluded")


_REQUEST_STATUSES = ELEMENTS["MedicationRequest"]["status"].codes
_DRAFT_STATUSES = tuple(dict.fromkeys([*_REQUEST_STATUSES, *ELEMENTS["MedicationStatement"]["status"].codes]))
_STATUS_FIELDS: dict[str, fields.Field] = {
    kind: fields.Nested(_Strict.from_dict({name: _classes(element) for name, element in elements.items()},
                                          name=f"{kind}StatusesSchema"),
                        required=True, metadata=about(f"the classes of {kind} statuses"))
    for kind, elements in ELEMENTS.items()
}
_STATUS_FIELDS.update(
    draft_orders_excluded=_codes(
        _DRAFT_STATUSES, "the statuses in which this hook call's own draft orders do not count (they count as "
        "current in any other); entered-in-error must be among them"),
    planned_orders=_codes(
        _REQUEST_STATUSES, "patient-view: the MedicationRequest statuses of a current or planned ketamine or "
        "esketamine order, the one checked first (never entered-in-error)"),
    booked_sessions=_codes(
        APPOINTMENT_STATUSES, "patient-view: the Appointment statuses of a scheduled or in-progress treatment "
        "session (never entered-in-error)"),
)
StatusesSchema = _StatusChecks.from_dict(_STATUS_FIELDS, name="StatusesSchema")
"""Which records count, by status (``data/statuses.yaml``; ``statuses`` in a site's override file, in part)."""


class RuleOverrideSchema(_Strict):
    enabled = fields.Bool(metadata=about("false switches the rule off at this site, true switches it on"))
    advice = advice_map(required=False, about="the site's advice per ordered drug, replacing the rule's")
    note = fields.Str(
        validate=TEXT, metadata=about("the site's note, shown on the cards whose advice the site changed")
    )
    blood_pressure = fields.Nested(
        ThresholdSchema, metadata=about("the site's threshold for a blood-pressure rule, replacing the rule's")
    )
    texts = texts_map("the site's text per advice level it sets (default: the rule's, then the plain text)")
    limits = fields.Nested(
        LimitValuesSchema,
        metadata=about("an order rule's limits the site changes (`allowed_mg: [28, 56, 84]`), checked against the "
                       "rule's check"),
    )
    approved_by = fields.Str(
        required=True, validate=TEXT, metadata=about("who approved the override (the committee, a person)")
    )
    approved_on = fields.Date(required=True, metadata=about("the day it was approved (YYYY-MM-DD)"))
    reason = fields.Str(required=True, validate=TEXT, metadata=about("why the site differs from the release"))


class SiteOverridesSchema(_Strict):
    site = fields.Str(required=True, validate=TEXT, metadata=about("the site's name"))
    blood_pressure = fields.Nested(
        BloodPressureWindowSchema, metadata=about("the site's blood-pressure window, replacing the manifest's")
    )
    dispense_default_supply_days = fields.Int(
        strict=True, validate=validate.Range(min=1, max=366),
        metadata=about("the site's default supply of a dispense with no daysSupply, in days"),
    )
    statuses = fields.Dict(
        metadata=about("the site's classes of record statuses, as in the record statuses file; only those it "
                       "gives replace the release's (entered-in-error stays excluded)"),
    )
    """Checked with ``StatusesSchema`` in part (``partial``), so an error names ``statuses.<type>.<element>``."""
    rules = fields.Dict(
        keys=fields.Str(validate=ID),
        values=fields.Dict(),
        load_default=dict,
        metadata=about("overrides by rule id, each an entry as in the table below"),
    )
    """Each entry is checked with ``RuleOverrideSchema`` on its own, so an error names ``rules.<id>.<field>``."""
