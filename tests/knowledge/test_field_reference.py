"""The field reference for rule authors (cds_hooks/knowledge/FIELDS.md) is generated from the schemas that check
the knowledge files, and kept in step with them; a rule file's schema is made from the Rule's own declarations."""

from __future__ import annotations

from pathlib import Path

import pytest
from marshmallow import fields

from cds_hooks.errors import KnowledgeError
from cds_hooks.knowledge import load_knowledge, schema
from cds_hooks.knowledge.model import RuleSchema
from cds_hooks.knowledge.reference import FILES, field_reference
from service.cli import main
from tests.builders import edit_yaml

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
    assert RuleSchema in seen and schema.StatusesSchema in seen


def test_the_command_prints_the_reference(capsys):
    assert main(["field-reference"]) == 0
    assert capsys.readouterr().out == field_reference()


@pytest.mark.parametrize("name", ["site_note", "site_changed", "site_texts", "file"])
def test_a_rule_file_cannot_state_what_only_a_site_override_or_the_path_sets(data_dir, name):
    edit_yaml(data_dir / "rules/maoi.yaml", lambda rule: rule.__setitem__(name, "set by the release"))
    with pytest.raises(KnowledgeError, match="Unknown field") as raised:
        load_knowledge(data_dir)
    assert raised.value.field == name
