"""The rules as the console lists and searches them."""

from __future__ import annotations

import pytest

from cds_hooks.knowledge import apply_overrides
from service.console.catalogue import Catalogue


@pytest.fixture(scope="module")
def catalogue(knowledge):
    return Catalogue(knowledge, knowledge)


def rules(result):
    return [hit.entry.rule.id for hit in result.hits]


@pytest.mark.parametrize(("query", "expected", "understood"), [
    ("Zoloft", ["ssri"], "Read as Zoloft (sertraline)"),
    ("  zoloft   50 mg ", ["ssri"], "Read as zoloft (sertraline)"),
    ("141928", ["benzodiazepines"], "RxNorm 141928: alprazolam 0.5 MG Oral Tablet [Xanax]"),
    ("I67.1", ["aneurysmal-vascular-disease"], "ICD-10-CM I67.1"),
    ("i671", ["aneurysmal-vascular-disease"], "ICD-10-CM I671"),
    ("aneurysm", ["aneurysmal-vascular-disease"], "'aneurysm' names no drug, but condition words"),
    ("rasagiline", ["maoi"], "Read as rasagiline"),
    ("9999999", [], "9999999 is not an RxNorm code the service knows"),
    ("Z99.9", [], "Z99.9 is in no condition rule's codes"),
    ("banana bread", [], "'banana bread' names no drug or condition the service knows"),
])
def test_a_search_finds_the_rules_a_name_or_code_reaches(catalogue, query, expected, understood):
    result = catalogue.search(query)
    assert rules(result) == expected and result.understood == understood


def test_the_ordered_drugs_are_recognised_as_such(catalogue):
    assert catalogue.search("2201625").ordered_drug == "esketamine"
    assert catalogue.search("Spravato").ordered_drug == "esketamine"
    assert catalogue.search("ketamine 50 mg/mL").ordered_drug == "ketamine"


def test_a_snomed_code_of_a_condition_rule_is_found(catalogue, knowledge):
    code = sorted(knowledge.condition_valuesets["aneurysmal-vascular-disease"].snomed)[0]
    assert "aneurysmal-vascular-disease" in rules(catalogue.search(code))


def test_an_empty_or_huge_query_is_answered(catalogue):
    assert catalogue.search("   ").hits == ()
    assert len(catalogue.search("x" * 10_000).query) == 200


def test_members_list_each_ingredient_with_its_codes_and_other_names(catalogue, knowledge):
    members = {m.ingredient: m for m in catalogue.members(knowledge.rule("maoi"))}
    assert set(members) == set(knowledge.drug_valuesets["maoi"].ingredients)
    assert "nardil" in members["phenelzine"].names
    assert any(product.rxcui for product in members["phenelzine"].products)


def test_an_override_is_shown_beside_the_rule_it_changes_and_a_switched_off_rule_stays_listed(knowledge, tmp_path):
    site = tmp_path / "site.yaml"
    site.write_text("site: Example\nrules:\n  ssri:\n    enabled: false\n    approved_by: P&T\n"
                    "    approved_on: 2026-11-30\n    reason: minutes item 5\n")
    catalogue = Catalogue(knowledge, apply_overrides(knowledge, site))
    entry = catalogue.entry("ssri")
    assert entry is not None and not entry.active and entry.override.reason == "minutes item 5"
    assert [e.rule.id for e in catalogue.entries] == [e.rule.id for e in Catalogue(knowledge, knowledge).entries]
