"""Every text a card shows fits the advice it gives: each modifying factor that changes the advice, and a site
override (the README's own example), give a card whose summary, extension and text agree; start-up refuses a
knowledge base or site file in which some advice a card can give has no text."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from cds_hooks.errors import KnowledgeError
from cds_hooks.knowledge import load_knowledge
from service import create_app
from service.config import Settings
from tests.builders import condition, edit_yaml, hook_request, medication, ordered, run
from tests.cardcheck import card_findings
from tests.conftest import NOW
from tests.test_readme import section

KB = load_knowledge()
WORDS = {"avoid": "Avoid", "hold": "Hold", "monitor": "Monitor"}
FACTOR_CASES = {
    ("benzodiazepines", "anaesthesia-context"): (
        ordered("ketamine", reason="induction of anaesthesia"), [medication(text="midazolam 2 mg injection")], []),
    ("benzodiazepines", "seizure-rescue-clobazam"): (ordered("esketamine"), [medication(text="Onfi 10 mg tablet")], []),
    ("benzodiazepines", "seizure-rescue-nasal"): (
        ordered("esketamine"), [medication(text="Valtoco 10 mg nasal spray", route="nasal")], []),
    ("benzodiazepines", "seizure-rescue-rectal"): (
        ordered("ketamine"), [medication(text="Diastat 10 mg rectal gel", route="rectal")], []),
    ("linezolid-methylene-blue", "anaesthesia-context"): (
        ordered("ketamine", reason="procedural sedation"), [medication(text="linezolid 600 mg")], []),
    ("pregnancy", "anaesthesia-context"): (
        ordered("ketamine", reason="induction of anaesthesia"), [], [condition(icd="Z33.1", display="Pregnant")]),
}


def _lead_word(card: dict) -> str:
    return re.match(r"\*\*(\w+)", card["detail"]).group(1)


def test_every_factor_that_changes_the_advice_is_covered():
    changing = {(rule.id, modifier.id) for rule in KB.rules for modifier in rule.modifiers if modifier.advice}
    assert changing == set(FACTOR_CASES)


@pytest.mark.parametrize(("rule_id", "factor"), sorted(FACTOR_CASES), ids=lambda value: str(value))
def test_a_factor_that_changes_the_advice_brings_the_text_of_that_advice(rule_id, factor):
    order, medications, conditions = FACTOR_CASES[(rule_id, factor)]
    cards = run(hook_request(order, medications=medications, conditions=conditions), KB, NOW)
    [card] = [card for card in cards if rule_id in [f["ruleId"] for f in card_findings(card)]]
    [finding] = [f for f in card_findings(card) if f["ruleId"] == rule_id]
    rule = KB.rule(rule_id)
    modifier = next(m for m in rule.modifiers if m.id == factor)
    advice = finding["advice"]
    assert advice == next(iter(set(modifier.advice.values())))
    assert card["summary"].split()[0] == WORDS[advice] == _lead_word(card)
    assert finding["modifier"]["id"] == factor
    usual = rule.text(rule.advice[next(iter(modifier.advice))])
    assert usual.action not in card["detail"]
    for part in (usual.timing, usual.label):
        if part:
            assert part not in card["detail"]


def _readme_site_file(tmp_path: Path) -> Path:
    [example] = re.findall(r"```yaml\n(site:.*?)```", section("Site overrides", "knowledge.md"), re.DOTALL)
    path = tmp_path / "site.yaml"
    path.write_text(example, encoding="utf-8")
    return path


def test_the_documented_site_override_example_gives_cards_whose_text_fits_their_advice(tmp_path):
    app = create_app(Settings(database_url=f"sqlite:///{tmp_path}/c.sqlite3",
                              knowledge_overrides=_readme_site_file(tmp_path)), clock=lambda: NOW)
    client = app.test_client()
    note = "benzodiazepines are monitored, not held"

    def card_for(drug: str) -> dict:
        body = hook_request(ordered(drug), medications=[medication(text="alprazolam 0.5 mg tablet")])
        answer = client.post("/cds-services/ketamine-order-sign", json=body).get_json()["cards"]
        # the example also switches on the first-dose rule, whose birth date this request does not send: a notice
        [card] = [card for card in answer if "advice" in card["extension"]["org.ketamine-cds"]]
        return card

    esketamine, ketamine = card_for("esketamine"), card_for("ketamine")
    assert esketamine["summary"].startswith("Monitor esketamine with alprazolam")
    assert _lead_word(esketamine) == "Monitor" and "Hold the" not in esketamine["detail"]
    assert note in esketamine["detail"] and esketamine["extension"]["org.ketamine-cds"]["sitePolicy"] is True
    assert ketamine["summary"].startswith("Hold ketamine with alprazolam") and _lead_word(ketamine) == "Hold"
    assert note not in ketamine["detail"] and "sitePolicy" not in ketamine["extension"]["org.ketamine-cds"]


def test_start_up_refuses_a_factor_advice_without_text(data_dir):
    edit_yaml(data_dir / "manifest.yaml", lambda d: d.pop("generic_texts"))
    edit_yaml(data_dir / "rules/benzodiazepines.yaml", lambda d: d["modifiers"][1].pop("text"))
    with pytest.raises(KnowledgeError) as raised:
        load_knowledge(data_dir)
    assert raised.value.field == "modifiers.1.text" and "benzodiazepines.yaml" in str(raised.value)


def test_start_up_refuses_a_rule_advice_without_text(data_dir):
    edit_yaml(data_dir / "manifest.yaml", lambda d: d.pop("generic_texts"))
    edit_yaml(data_dir / "rules/theophylline.yaml", lambda d: d["texts"].pop("monitor"))
    with pytest.raises(KnowledgeError) as raised:
        load_knowledge(data_dir)
    assert raised.value.field == "texts.monitor"


def test_start_up_refuses_a_site_advice_without_text(data_dir, tmp_path):
    edit_yaml(data_dir / "manifest.yaml", lambda d: d["generic_texts"].pop("hold"))
    site = tmp_path / "site.yaml"
    approval = "    approved_by: P&T committee\n    approved_on: 2026-12-01\n    reason: session timing\n"
    site.write_text("site: Example\nrules:\n  ssri:\n    advice: {esketamine: hold}\n" + approval, encoding="utf-8")
    with pytest.raises(KnowledgeError) as raised:
        load_knowledge(data_dir, site)
    assert raised.value.field == "texts.hold"
    texts = "    texts:\n      hold:\n        action: Hold the SSRI dose on the morning of the session.\n"
    entry = "site: Example\nrules:\n  ssri:\n    advice: {esketamine: hold}\n"
    site.write_text(entry + approval + texts, encoding="utf-8")
    kb = load_knowledge(data_dir, site)
    cards = run(hook_request(ordered("esketamine"), medications=[medication(text="sertraline 50 mg")]), kb, NOW)
    assert cards[0]["detail"].startswith("**Hold:** Hold the SSRI dose on the morning of the session.")


def test_an_anaesthetic_ketamine_card_says_nothing_of_an_antidepressant_response():
    order, medications, conditions = FACTOR_CASES[("benzodiazepines", "anaesthesia-context")]
    [card] = run(hook_request(order, medications=medications, conditions=conditions), KB, NOW)
    shown = f"{card['summary']}\n{card['detail']}".lower()
    assert "antidepressant" not in shown and "blunt" not in shown and "madrs" not in shown


def test_a_monitor_card_on_pregnancy_for_anaesthesia_does_not_give_the_avoid_reason():
    """The label does not recommend ketamine in pregnancy; the anaesthetic exception is a Monitor, whose summary
    must say why it is one rather than repeat the Avoid's reason."""
    order, medications, conditions = FACTOR_CASES[("pregnancy", "anaesthesia-context")]
    cards = run(hook_request(order, medications=medications, conditions=conditions), KB, NOW)
    [card] = [card for card in cards if "pregnancy" in [f["ruleId"] for f in card_findings(card)]]
    assert card["summary"].startswith("Monitor ketamine with pregnancy: ")
    assert "not recommended" not in card["summary"]
    assert "anaesthetist" in card["summary"]
