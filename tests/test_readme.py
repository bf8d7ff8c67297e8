"""The README and the guides in docs/ agree with the code: the README is a front page that links every guide and
lists every console page, the configuration reference lists every variable the service reads, each once, and the
trusted-issuers examples are files the service loads."""

from __future__ import annotations

import re
from pathlib import Path

from service import create_app
from service.auth.trust import Issuer, load_issuers
from service.config import Settings
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


def loaded_issuers_example(text: str, folder: Path) -> Issuer:
    """The one trusted issuer of the text's ``issuers:`` YAML example, as the service loads it from a file."""
    [example] = re.findall(r"```yaml\n(issuers:.*?)```", text, re.DOTALL)
    path = folder / "trusted-issuers.yaml"
    path.write_text(example, encoding="utf-8")
    [issuer] = load_issuers(path).values()
    return issuer


def test_the_trusted_issuers_example_is_a_file_the_service_loads(tmp_path):
    issuer = loaded_issuers_example(section("Client authentication", "authentication.md"), tmp_path)
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


def test_every_console_page_is_listed_in_the_pages_table(tmp_path):
    listed = README.read_text(encoding="utf-8").split("\n### Pages\n", 1)[1].split("\n## ", 1)[0]
    app = create_app(Settings(database_url=f"sqlite:///{tmp_path}/cds.sqlite3"))
    rules = [rule.rule for rule in app.url_map.iter_rules() if rule.endpoint.startswith("console.")
             and rule.endpoint != "console.static" and "GET" in rule.methods]
    assert len(rules) >= 6
    for path in rules:
        assert f"`{path}`" in listed or f"`{path.replace('<rule_id>', '<rule-id>')}`" in listed, path


def test_the_sandbox_trusted_issuers_entry_is_a_file_the_service_loads(tmp_path):
    issuer = loaded_issuers_example((DOCS / "sandbox.md").read_text(encoding="utf-8"), tmp_path)
    assert issuer.iss == "https://sandbox.cds-hooks.org"
    assert issuer.jku_allowlist == frozenset({"https://sandbox.cds-hooks.org/.well-known/jwks.json"})
