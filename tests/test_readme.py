"""The README agrees with the code: its configuration table lists every variable the service reads, each once, and
its trusted-issuers example is a file the service loads."""

from __future__ import annotations

import re
from pathlib import Path

from service.auth.trust import load_issuers
from tests.envvars import read_by_the_service

README = Path(__file__).resolve().parents[1] / "README.md"


def section(title: str) -> str:
    return README.read_text(encoding="utf-8").split(f"\n## {title}\n", 1)[1].split("\n## ", 1)[0]


def configuration_table() -> list[str]:
    """The variable names in the first column of the table under "## Configuration"."""
    return [match.group(1) for match in re.finditer(r"^\| `([A-Z0-9_]+)` \|", section("Configuration"), re.MULTILINE)]


def test_the_configuration_table_names_each_variable_once():
    names = configuration_table()

    assert names, "the table was found"
    assert sorted(name for name in set(names) if names.count(name) > 1) == []


def test_every_variable_the_service_reads_is_in_the_configuration_table_and_nothing_else():
    assert set(configuration_table()) == read_by_the_service()


def test_the_trusted_issuers_example_is_a_file_the_service_loads(tmp_path):
    [example] = re.findall(r"```yaml\n(issuers:.*?)```", section("Client authentication"), re.DOTALL)
    path = tmp_path / "trusted-issuers.yaml"
    path.write_text(example, encoding="utf-8")

    [issuer] = load_issuers(path).values()

    assert issuer.iss == "https://ehr.example.org"
    assert issuer.tenants == frozenset({"hospital-a"})
    assert issuer.jku_allowlist
