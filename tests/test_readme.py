"""The README and the guides in docs/ agree with the code: the README is a front page that links every guide, the
configuration reference lists every variable the service reads, each once, and the trusted-issuers example is a
file the service loads."""

from __future__ import annotations

import re
from pathlib import Path

from service.auth.trust import load_issuers
from tests.envvars import read_by_the_service

ROOT = Path(__file__).resolve().parents[1]
README = ROOT / "README.md"
DOCS = ROOT / "docs"


def section(title: str, page: str) -> str:
    return (DOCS / page).read_text(encoding="utf-8").split(f"\n## {title}\n", 1)[1].split("\n## ", 1)[0]


def configuration_table() -> list[str]:
    """The variable names in the first column of the table under "## Configuration"."""
    table = section("Configuration", "configuration.md")
    return [match.group(1) for match in re.finditer(r"^\| `([A-Z0-9_]+)` \|", table, re.MULTILINE)]


def test_the_configuration_table_names_each_variable_once():
    names = configuration_table()

    assert names, "the table was found"
    assert sorted(name for name in set(names) if names.count(name) > 1) == []


def test_every_variable_the_service_reads_is_in_the_configuration_table_and_nothing_else():
    assert set(configuration_table()) == read_by_the_service()


def test_the_trusted_issuers_example_is_a_file_the_service_loads(tmp_path):
    guide = section("Client authentication", "authentication.md")
    [example] = re.findall(r"```yaml\n(issuers:.*?)```", guide, re.DOTALL)
    path = tmp_path / "trusted-issuers.yaml"
    path.write_text(example, encoding="utf-8")

    [issuer] = load_issuers(path).values()

    assert issuer.iss == "https://ehr.example.org"
    assert issuer.tenants == frozenset({"hospital-a"})
    assert issuer.jku_allowlist


def test_the_readme_is_a_front_page_that_opens_with_the_map_and_links_every_guide():
    text = README.read_text(encoding="utf-8")
    headings = re.findall(r"^## (.+)$", text, re.MULTILINE)
    assert len(text) < 15_000
    assert headings[:4] == ["Two commands", "Try it", "The map", "More"]
    linked = set(re.findall(r"\]\((docs/[\w-]+\.md)", text))
    assert linked == {f"docs/{path.name}" for path in DOCS.glob("*.md")}


def test_every_relative_link_in_the_readme_and_the_guides_leads_to_a_file():
    for page in [README, *DOCS.glob("*.md")]:
        for target in re.findall(r"\]\(([^)#:]+)(?:#[^)]*)?\)", page.read_text(encoding="utf-8")):
            assert (page.parent / target).exists(), f"{page.name} links {target}, which does not exist"
