"""The rules table in docs/knowledge.md is generated from the knowledge base and kept in step with it."""

from __future__ import annotations

from pathlib import Path

import pytest

from cds_hooks.knowledge import replace_section, rules_markdown, section
from service.cli import main

GUIDE = Path(__file__).resolve().parent.parent / "docs" / "knowledge.md"


def test_the_rules_table_matches_the_knowledge_base(knowledge):
    current = section(GUIDE.read_text(encoding="utf-8"))
    assert current is not None, "docs/knowledge.md lacks the <!-- rules:start --> and <!-- rules:end --> markers"
    assert current == rules_markdown(knowledge), (
        "docs/knowledge.md's rules table differs from the knowledge base; regenerate it with "
        "`.venv/bin/ketamine-cds rules --update-readme docs/knowledge.md`"
    )


def test_the_table_gives_each_rules_advice_for_both_drugs(knowledge):
    table = rules_markdown(knowledge)
    assert "| `theophylline` | Theophylline and aminophylline | **Avoid** | Monitor |" in table
    assert "| `cyp3a4-inhibitors` | Strong CYP3A4 inhibitors (and grapefruit juice) | Monitor | none |" in table
    assert "| `triptans` | Triptans | none | none |" in table
    assert len([line for line in table.splitlines() if line.startswith("| `")]) == len(knowledge.rules)


def test_the_rules_command_prints_the_table(capsys, knowledge):
    assert main(["rules"]) == 0
    assert capsys.readouterr().out == rules_markdown(knowledge)


def test_the_rules_command_rewrites_only_the_marked_section(tmp_path, knowledge):
    readme = tmp_path / "README.md"
    readme.write_text("# Title\n\n<!-- rules:start -->\nstale\n<!-- rules:end -->\n\nAfter.\n", encoding="utf-8")
    assert main(["rules", "--update-readme", str(readme)]) == 0
    text = readme.read_text(encoding="utf-8")
    assert text.startswith("# Title\n\n<!-- rules:start -->\nKnowledge base")
    assert text.endswith("<!-- rules:end -->\n\nAfter.\n")
    assert section(text) == rules_markdown(knowledge)


def test_the_rules_command_refuses_a_file_without_markers(tmp_path, capsys):
    readme = tmp_path / "README.md"
    readme.write_text("# No markers\n", encoding="utf-8")
    assert main(["rules", "--update-readme", str(readme)]) == 2
    assert "markers" in capsys.readouterr().err
    assert readme.read_text(encoding="utf-8") == "# No markers\n"


def test_replacing_needs_both_markers():
    with pytest.raises(ValueError, match="markers"):
        replace_section("<!-- rules:start -->\n", "table\n")
