"""Marshmallow schemas for the knowledge files and the site override file.

They check every file when the knowledge base loads, so a bad file stops start-up with a message naming the file
and the field, rather than misfiring at the first order.
"""

from __future__ import annotations

from marshmallow import RAISE, Schema, ValidationError, fields, validate, validates_schema

from cds_hooks.knowledge.model import ADVICE_LEVELS, ORDERED_DRUGS
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
    short = fields.Str(validate=validate.Length(min=1, max=60))
    url = fields.Url()
    kind = fields.Str(required=True, validate=validate.OneOf(("label", "compendium", "paper", "guidance", "project")))


class OverrideReasonSchema(_Strict):
    code = fields.Str(required=True, validate=_ID)
    display = fields.Str(required=True, validate=_TEXT)
    applies_to = fields.List(fields.Str(validate=validate.OneOf(("medication", "condition"))),
                             validate=validate.Length(min=1))
    ordered_context = fields.Str(validate=validate.OneOf(("anaesthesia",)))


DETAIL_PART_LIMIT = 400
"""The longest one part of a card's text may be: a card's detail stays short enough to take in at a glance."""


class AdviceTextSchema(_Strict):
    action = fields.Str(required=True, validate=validate.Length(min=1, max=240))
    monitoring = fields.Str(validate=validate.Length(min=1, max=DETAIL_PART_LIMIT))
    timing = fields.Str(validate=validate.Length(min=1, max=DETAIL_PART_LIMIT))
    label = fields.Str(validate=validate.Length(min=1, max=DETAIL_PART_LIMIT))


def _texts_map() -> fields.Dict:
    """Text per advice level (``avoid``, ``hold``, ``monitor``)."""
    return fields.Dict(
        keys=fields.Str(validate=validate.OneOf(ADVICE_LEVELS[:-1])),
        values=fields.Nested(AdviceTextSchema),
        load_default=dict,
    )


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
    generic_texts = _texts_map()
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
    name = fields.Str(validate=validate.Length(min=1, max=40))
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
    text = fields.Nested(AdviceTextSchema)


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


class RuleSchema(_Strict):
    id = fields.Str(required=True, validate=_ID)
    title = fields.Str(required=True, validate=_TEXT)
    kind = fields.Str(required=True, validate=validate.OneOf(("medication", "condition")))
    valueset = fields.Str(required=True, validate=_ID)
    advice = _advice_map(required=True)
    summary = fields.Str(required=True, validate=validate.Length(min=1, max=60))
    topic = fields.Str(required=True, validate=_TEXT)
    consequence = fields.Str(required=True, validate=_TEXT)
    seriousness = fields.Str(required=True, validate=validate.OneOf(("serious", "moderate", "minor")))
    mechanism = fields.Str(required=True, validate=_TEXT)
    texts = _texts_map()
    evidence = fields.Nested(EvidenceSchema, required=True)
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


class RuleOverrideSchema(_Strict):
    enabled = fields.Bool()
    advice = _advice_map(required=False)
    note = fields.Str(validate=_TEXT)
    texts = _texts_map()


class SiteOverridesSchema(_Strict):
    site = fields.Str(required=True, validate=_TEXT)
    rules = fields.Dict(keys=fields.Str(validate=_ID), values=fields.Nested(RuleOverrideSchema), load_default=dict)
