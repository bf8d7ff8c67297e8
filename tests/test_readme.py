"""The README's configuration table is the one list of settings: every variable the service reads, each once."""

from __future__ import annotations

import re
from pathlib import Path

from tests.envvars import read_by_the_service

README = Path(__file__).resolve().parents[1] / "README.md"


def configuration_table() -> list[str]:
    """The variable names in the first column of the table under "## Configuration"."""
    section = README.read_text(encoding="utf-8").split("\n## Configuration\n", 1)[1].split("\n## ", 1)[0]
    return [match.group(1) for match in re.finditer(r"^\| `([A-Z0-9_]+)` \|", section, re.MULTILINE)]


def test_the_configuration_table_names_each_variable_once():
    names = configuration_table()

    assert names, "the table was found"
    assert sorted(name for name in set(names) if names.count(name) > 1) == []


def test_every_variable_the_service_reads_is_in_the_configuration_table_and_nothing_else():
    assert set(configuration_table()) == read_by_the_service()
