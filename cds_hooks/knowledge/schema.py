"""Marshmallow schemas for the knowledge files and the site override file.

They check every file when the knowledge base loads, so a bad file stops start-up with a message naming the file
and the field, rather than misfiring at the first order.
"""

from __future__ import annotations

from marshmallow import RAISE, Schema, ValidationError, fields, validate, validates_schema

from cds_hooks.knowledge.model import ADVICE_LEVELS, ORDER_CHECKS, ORDERED_DRUGS
from cds_hooks.terminology import ROUTES

_ID = validate.Regexp(r"^[a-z0-9][a-z0-9-]*$", error="must be lower-case letters, digits and hyphens")
_TEXT = validate.Length(min=1)
_GRADES = ("label", "pk-study", "observational", "weak", "conflicting", "policy")


def _advice_map(required: bool) -> fields.Dict:
    return fields.Dict(
        keys=fields.Str(validate=validate.OneOf(ORDERED_DRUGS)),
        values=fields.Str(validate=validate.OneOf(ADVICE_LEVELS)),
        required=required,
    )


class _Strict(Schema):
    class Meta:
        unknown = RAISE


class CitationSchema(_Strict):
    label = fields.Str(required=True, validate=_TEXT)
    url = fields.Url()
    kind = fields.Str(required=True, validate=validate.OneOf(("label", "compendium", "paper", "guidance", "project")))


class OverrideReasonSchema(_Strict):
    code = fields.Str(required=True, validate=_ID)
    display = fields.Str(required=True, validate=_TEXT)
    applies_to = fields.List(fields.Str(validate=validate.OneOf(("medication", "condition", "order"))),
                             validate=validate.Length(min=1))


class SerotoninWatchSchema(_Strict):
    valueset = fields.Str(required=True, validate=_ID)
    threshold = fields.Int(required=True, validate=validate.Range(min=2))
    note = fields.Str(required=True, validate=_TEXT)


class NegationSchema(_Strict):
    words = fields.List(fields.Str(validate=_TEXT), required=True, validate=validate.Length(min=1))
    prefixes = fields.List(fields.Str(validate=_TEXT), load_default=list)
    reach = fields.Int(required=True, strict=True, validate=validate.Range(min=0, max=10))


class ManifestSchema(_Strict):
    version = fields.Str(required=True, validate=validate.Regexp(r"^\d+\.\d+\.\d+$"))
    date = fields.Date(required=True)
    publisher = fields.Str(required=True, validate=_TEXT)
    anaesthesia_terms = fields.List(fields.Str(validate=_TEXT), required=True, validate=validate.Length(min=1))
    anaesthesia_negation = fields.Nested(NegationSchema, required=True)
    override_reasons = fields.Dict(
        keys=fields.Str(validate=validate.OneOf(ADVICE_LEVELS)),
        values=fields.List(fields.Nested(OverrideReasonSchema), validate=validate.Length(min=1)),
        required=True,
    )
    serotonin_watch = fields.Nested(SerotoninWatchSchema)
    local_routes = fields.List(fields.Str(validate=validate.OneOf(ROUTES)), load_default=list)
    citations = fields.Dict(keys=fields.Str(validate=_ID), values=fields.Nested(CitationSchema), required=True)


class DrugValueSetSchema(_Strict):
    id = fields.Str(required=True, validate=_ID)
    title = fields.Str(required=True, validate=_TEXT)
    version = fields.Str(required=True, validate=_TEXT)
    source = fields.Str(required=True, validate=_TEXT)
    ingredients = fields.List(fields.Str(validate=_TEXT), required=True, validate=validate.Length(min=1))


class ConditionValueSetSchema(_Strict):
    id = fields.Str(required=True, validate=_ID)
    title = fields.Str(required=True, validate=_TEXT)
    version = fields.Str(required=True, validate=_TEXT)
    source = fields.Str(required=True, validate=_TEXT)
    icd10cm = fields.List(fields.Str(validate=_TEXT), load_default=list)
    snomed = fields.List(fields.Str(validate=validate.Regexp(r"^\d+$")), load_default=list)
    text = fields.List(fields.Str(validate=_TEXT), load_default=list)
    exclude_text = fields.List(fields.Str(validate=_TEXT), load_default=list)

    @validates_schema
    def _has_members(self, data: dict, **kwargs: object) -> None:
        if not (data.get("icd10cm") or data.get("snomed") or data.get("text")):
            raise ValidationError("a condition value set needs icd10cm, snomed or text members", "icd10cm")


class WhenSchema(_Strict):
    ordered_drugs = fields.List(fields.Str(validate=validate.OneOf(ORDERED_DRUGS)), load_default=list)
    ordered_context = fields.Str(validate=validate.OneOf(("anaesthesia",)))
    ordered_routes = fields.List(fields.Str(validate=validate.OneOf(ROUTES)), load_default=list)
    comedication_routes = fields.List(fields.Str(validate=validate.OneOf(ROUTES)), load_default=list)
    comedication_ingredients = fields.List(fields.Str(validate=_TEXT), load_default=list)

    @validates_schema
    def _not_empty(self, data: dict, **kwargs: object) -> None:
        if not any(data.values()):
            raise ValidationError("a modifier must say when it applies", "ordered_context")


class ModifierSchema(_Strict):
    id = fields.Str(required=True, validate=_ID)
    description = fields.Str(required=True, validate=_TEXT)
    when = fields.Nested(WhenSchema, required=True)
    advice = _advice_map(required=False)
    note = fields.Str(required=True, validate=_TEXT)
    evidence = fields.Str(validate=_TEXT)


class EvidenceSchema(_Strict):
    grade = fields.Str(required=True, validate=validate.OneOf(_GRADES))
    summary = fields.Str(required=True, validate=_TEXT)


class WashoutSchema(_Strict):
    days = fields.Int(validate=validate.Range(min=1))
    hours = fields.Int(validate=validate.Range(min=1))

    @validates_schema
    def _one_unit(self, data: dict, **kwargs: object) -> None:
        if len(data) != 1:
            raise ValidationError("give exactly one of days or hours", "days")


LIMIT_FIELDS = {
    "dose": ("allowed_mg",),
    "frequency": ("max_per_week",),
    "setting": ("home_categories", "home_performers"),
    "first-dose-by-age": ("min_age", "start_mg"),
}
"""The limits each order check takes (the first ones required in the rule file); a site may change any of them."""
_OPTIONAL_LIMITS = frozenset({"home_performers"})
_MILLIGRAMS = fields.Float(validate=validate.Range(min=0, min_inclusive=False), allow_nan=False)
_HOME_PERFORMERS = ("Patient", "RelatedPerson")


class LimitValuesSchema(_Strict):
    """The limits themselves: what a rule file states and a site override may change."""

    allowed_mg = fields.List(_MILLIGRAMS, validate=validate.Length(min=1))
    max_per_week = fields.Float(validate=validate.Range(min=0, min_inclusive=False), allow_nan=False)
    home_categories = fields.List(fields.Str(validate=_ID), validate=validate.Length(min=1))
    home_performers = fields.List(fields.Str(validate=validate.OneOf(_HOME_PERFORMERS)))
    min_age = fields.Int(strict=True, validate=validate.Range(min=0, max=130))
    start_mg = _MILLIGRAMS


class LimitSchema(LimitValuesSchema):
    check = fields.Str(required=True, validate=validate.OneOf(ORDER_CHECKS))
    describe = fields.Str(required=True, validate=_TEXT)

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


class RuleSchema(_Strict):
    id = fields.Str(required=True, validate=_ID)
    title = fields.Str(required=True, validate=_TEXT)
    kind = fields.Str(required=True, validate=validate.OneOf(("medication", "condition", "order")))
    valueset = fields.Str(validate=_ID)
    limit = fields.Nested(LimitSchema)
    enabled = fields.Bool(load_default=True)
    advice = _advice_map(required=True)
    summary = fields.Str(required=True, validate=validate.Length(min=1, max=60))
    topic = fields.Str(required=True, validate=_TEXT)
    consequence = fields.Str(required=True, validate=_TEXT)
    seriousness = fields.Str(required=True, validate=validate.OneOf(("serious", "moderate", "minor")))
    mechanism = fields.Str(required=True, validate=_TEXT)
    management = fields.Str(required=True, validate=_TEXT)
    monitoring = fields.Str(required=True, validate=_TEXT)
    timing = fields.Str(required=True, validate=_TEXT)
    evidence = fields.Nested(EvidenceSchema, required=True)
    label_note = fields.Str(validate=_TEXT)
    citations = fields.List(fields.Str(validate=_ID), required=True, validate=validate.Length(min=1))
    washout = fields.Nested(WashoutSchema)
    history_counts = fields.Bool(load_default=False)
    comedication_routes = fields.List(fields.Str(validate=validate.OneOf(ROUTES)), load_default=list)
    modifiers = fields.List(fields.Nested(ModifierSchema), load_default=list)

    @validates_schema
    def _every_drug_advised(self, data: dict, **kwargs: object) -> None:
        missing = [drug for drug in ORDERED_DRUGS if drug not in data.get("advice", {})]
        if missing:
            raise ValidationError(f"advice is missing for {', '.join(missing)}", "advice")

    @validates_schema
    def _what_the_kind_needs(self, data: dict, **kwargs: object) -> None:
        """A medication or condition rule names its value set; an order rule states its limit instead."""
        if data.get("kind") == "order":
            if "limit" not in data:
                raise ValidationError("an order rule needs a limit", "limit")
            if "valueset" in data:
                raise ValidationError("an order rule has no value set", "valueset")
        else:
            if "valueset" not in data:
                raise ValidationError("Missing data for required field.", "valueset")
            if "limit" in data:
                raise ValidationError("only an order rule has a limit", "limit")


class RuleOverrideSchema(_Strict):
    enabled = fields.Bool()
    advice = _advice_map(required=False)
    note = fields.Str(validate=_TEXT)
    limits = fields.Nested(LimitValuesSchema)
    """An order rule's limits the site changes (``allowed_mg: [28, 56, 84]``); checked against the rule's check."""


class SiteOverridesSchema(_Strict):
    site = fields.Str(required=True, validate=_TEXT)
    rules = fields.Dict(keys=fields.Str(validate=_ID), values=fields.Nested(RuleOverrideSchema), load_default=dict)
