"""The field reference for rule authors (cds_hooks/knowledge/FIELDS.md) is generated from the schemas that check
the knowledge files, and kept in step with them."""

from __future__ import annotations

import dataclasses
from pathlib import Path

from marshmallow import fields

from cds_hooks.knowledge import Rule, schema
from cds_hooks.knowledge.reference import FILES, field_reference
from service.cli import main

REFERENCE = Path(schema.__file__).resolve().parent / "FIELDS.md"


def test_the_field_reference_matches_the_schemas():
    assert REFERENCE.read_text(encoding="utf-8") == field_reference(), (
        "cds_hooks/knowledge/FIELDS.md differs from the schemas; regenerate it with "
        "`.venv/bin/ketamine-cds field-reference > cds_hooks/knowledge/FIELDS.md`"
    )


def test_every_field_of_every_knowledge_file_is_described_and_listed():
    text = field_reference()
    seen: set[type] = set()

    def walk(kind: type) -> None:
        if kind in seen:
            return
        seen.add(kind)
        for name, field in kind().fields.items():
            assert field.metadata.get("description"), f"{kind.__name__}.{name} has no description"
            assert f"| `{name}` |" in text
            inner = field.inner if isinstance(field, fields.List) else field
            inner = inner.value_field if isinstance(inner, fields.Dict) and inner.value_field else inner
            if isinstance(inner, fields.Nested):
                walk(inner.nested)

    for _, kind in FILES:
        walk(kind)
    assert schema.RuleSchema in seen


def test_the_command_prints_the_reference(capsys):
    assert main(["field-reference"]) == 0
    assert capsys.readouterr().out == field_reference()


def test_every_rule_field_the_schema_declares_fills_the_rule_and_every_rule_field_but_derived_ones_is_declared():
    declared = set(schema.RuleSchema().fields)
    filled = {field.name for field in dataclasses.fields(Rule)}
    assert declared <= filled
    assert filled - declared == {"site_note", "site_changed", "site_texts", "file"}, (
        "site_note, site_changed and site_texts come from the site overrides, file from the path")
