"""The field reference for knowledge base authors, generated from the schemas that check every file: each field's
type, whether it is required, the values it allows and what it means are declared once, in ``schema.py`` or, for a
rule file, on the ``Rule`` (``model.py``). ``FIELDS.md`` beside this module is its output; a test keeps the two in
step (``ketamine-cds field-reference`` writes it)."""

from __future__ import annotations

from marshmallow import Schema, fields, validate

from cds_hooks.knowledge import schema
from cds_hooks.knowledge.model import RuleSchema

FILES = (
    ("Rule files (`data/rules/<id>.yaml`)", RuleSchema),
    ("Drug value sets (`data/valuesets/medications.yaml`, each entry)", schema.DrugValueSetSchema),
    ("Condition value sets (`data/valuesets/conditions.yaml`, each entry)", schema.ConditionValueSetSchema),
    ("The manifest (`data/manifest.yaml`)", schema.ManifestSchema),
    ("Record statuses (`data/statuses.yaml`)", schema.StatusesSchema),
    ("Site overrides (the file `CDS_KNOWLEDGE_OVERRIDES` names)", schema.SiteOverridesSchema),
    ("Site override entries (each of `rules` in the site overrides file)", schema.RuleOverrideSchema),
)
_TYPES = {fields.Str: "text", fields.Int: "whole number", fields.Float: "number", fields.Bool: "true or false",
          fields.Date: "date", fields.Url: "URL"}


def field_reference() -> str:
    """The reference as Markdown: one table per kind of file, then one per nested part."""
    lines = ["# Knowledge base fields", "",
             "Generated from `cds_hooks/knowledge/schema.py` and the `Rule` in `model.py` by",
             "`ketamine-cds field-reference`; do not edit by hand.",
             "Every file is checked against these when the service starts: a field not listed here, a missing",
             "required field or a value outside what is allowed stops start-up with a message naming file and field.",
             ""]
    done: set[type[Schema]] = set()
    for title, kind in FILES:
        _tables(title, kind, lines, done)
    return "\n".join(lines).rstrip() + "\n"


def _tables(title: str, kind: type[Schema], lines: list[str], done: set[type[Schema]]) -> None:
    done.add(kind)
    nested: list[tuple[str, type[Schema]]] = []
    lines += [f"## {title}", "", "| field | required | type | allowed | meaning |", "|---|---|---|---|---|"]
    for name, field in kind().fields.items():
        part = _nested(field)
        if part is not None and part not in done:
            nested.append((f"`{name}` ({title.split(' (')[0].lower()})", part))
        lines.append(f"| `{name}` | {'yes' if field.required else 'no'} | {_type(field)} | {_allowed(field)} | "
                     f"{field.metadata.get('description', '')} |")
    lines.append("")
    for sub_title, part in nested:
        _tables(sub_title, part, lines, done)


def _nested(field: fields.Field) -> type[Schema] | None:
    if isinstance(field, fields.List):
        return _nested(field.inner)
    if isinstance(field, fields.Dict) and field.value_field is not None:
        return _nested(field.value_field)
    if isinstance(field, fields.Nested) and isinstance(field.nested, type):
        return field.nested
    return None


def _type(field: fields.Field) -> str:
    if isinstance(field, fields.List):
        return f"list of {_type(field.inner)}"
    if isinstance(field, fields.Dict) and field.key_field is None and field.value_field is None:
        return "object"
    if isinstance(field, fields.Dict):
        values = _type(field.value_field) if field.value_field is not None else "anything"
        return f"map to {values}"
    if isinstance(field, fields.Nested):
        return "object (below)"
    return next((name for kind, name in _TYPES.items() if isinstance(field, kind)), "value")


def _allowed(field: fields.Field) -> str:
    found = []
    if isinstance(field, fields.Dict) and field.key_field is not None:
        keys = _allowed(field.key_field)
        found.append(f"keys: {keys}" if keys else "")
        if field.value_field is not None and (values := _allowed(field.value_field)):
            found.append(f"values: {values}")
        return "; ".join(part for part in found if part)
    if isinstance(field, fields.List):
        inner = _allowed(field.inner)
        found.append(f"each: {inner}" if inner else "")
    for rule in field.validators:
        if isinstance(rule, validate.OneOf):
            found.append(", ".join(f"`{choice}`" for choice in rule.choices))
        elif isinstance(rule, validate.Range):
            found.append(" ".join(part for part in (
                (f"at least {rule.min}" if rule.min_inclusive else f"more than {rule.min}")
                if rule.min is not None else "",
                f"at most {rule.max}" if rule.max is not None else "") if part))
        elif isinstance(rule, validate.Length):
            if rule.max is not None:
                found.append(f"at most {rule.max} characters")
            elif rule.min:
                found.append("not empty" if not isinstance(field, fields.List) else f"at least {rule.min}")
        elif isinstance(rule, validate.Regexp):
            pattern = rule.regex.pattern
            shown = pattern.decode() if isinstance(pattern, bytes) else pattern
            found.append(rule.error if "must be" in (rule.error or "") else f"matching `{shown}`")
    return "; ".join(part for part in found if part)
