"""Say a thing once: a measured blood pressure that gave a card supersedes the condition-based hypertension card for
the same ordered drug (``supersedes`` in the rule file). The diagnosis is named on the reading's card and kept in its
extension; an Avoid is never folded under a weaker card."""

from __future__ import annotations

import pytest

from cds_hooks.knowledge import load_knowledge
from tests.builders import advice_by_rule, blood_pressure, condition, hook_request, ordered, run
from tests.cardcheck import assert_valid_card, card_findings
from tests.conftest import NOW

KB = load_knowledge()
TODAY = "2026-11-21T11:00:00Z"
STALE = "2026-11-19T11:00:00Z"
HYPERTENSION = condition(icd="I10", display="Essential hypertension", ident="htn")
URGENCY = condition(icd="I16.0", display="Hypertensive urgency", ident="urgency")
APPROVAL = "    approved_by: P&T committee\n    approved_on: 2026-11-30\n    reason: Minutes 2026-11, item 7\n"


def _cards(drug, conditions, reading=None, kb=KB):
    observations = [blood_pressure(*reading)] if reading else []
    cards = run(hook_request(ordered(drug), conditions=conditions, observations=observations), kb, NOW)
    for card in cards:
        assert_valid_card(card)
    return cards


def _implicated(card):
    return [entry for finding in card_findings(card) for entry in finding["implicated"]]


@pytest.mark.parametrize("drug", ["ketamine", "esketamine"])
@pytest.mark.parametrize(("reading", "rule", "advice"), [
    ((152, 88, TODAY), "blood-pressure-raised", "monitor"),
    ((186, 104, TODAY), "blood-pressure-severe", "avoid"),
])
def test_a_reading_card_names_the_hypertension_and_no_hypertension_card_repeats_it(drug, reading, rule, advice):
    [card] = _cards(drug, [HYPERTENSION], reading)
    assert advice_by_rule([card]) == {rule: advice}
    assert card["summary"].startswith(f"{advice.capitalize()} {drug} with blood pressure {reading[0]}/{reading[1]} "
                                      "mmHg: ")
    assert "- hypertension (recorded as Essential hypertension)" in card["detail"]
    assert "Check blood pressure before the dose" not in card["detail"]  # the hypertension rule's own action
    [finding] = card_findings(card)
    assert finding["supersedes"] == ["hypertension"]
    assert {"reference": "Condition/htn", "advice": "monitor"}.items() <= _implicated(card)[-1].items()


@pytest.mark.parametrize("drug", ["ketamine", "esketamine"])
def test_a_severe_reading_and_a_recorded_hypertensive_urgency_give_one_avoid_card(drug):
    [card] = _cards(drug, [URGENCY], (186, 104, TODAY))
    assert advice_by_rule([card]) == {"blood-pressure-severe": "avoid"}
    assert card["summary"] == (f"Avoid {drug} with blood pressure 186/104 mmHg: hypertensive urgency level, do not "
                               "give now")
    assert card["detail"].split("\n\n")[1].endswith("\n- hypertensive urgency")
    assert card_findings(card)[0]["supersedes"] == ["hypertensive-urgency"]


def test_a_recorded_urgency_is_never_folded_under_a_raised_readings_monitor_card():
    cards = _cards("esketamine", [URGENCY], (152, 88, TODAY))
    assert advice_by_rule(cards) == {"hypertensive-urgency": "avoid", "blood-pressure-raised": "monitor"}
    assert all("supersedes" not in finding for card in cards for finding in card_findings(card))


def test_an_avoid_is_kept_when_a_site_lowers_the_reading_rule_below_it(tmp_path):
    path = tmp_path / "site.yaml"
    path.write_text("site: Example Hospital P&T, 2026-12\nrules:\n  blood-pressure-severe:\n"
                    "    advice: {esketamine: monitor}\n" + APPROVAL, encoding="utf-8")
    kb = load_knowledge(overrides=path)
    cards = _cards("esketamine", [URGENCY], (186, 104, TODAY), kb)
    assert advice_by_rule(cards) == {"hypertensive-urgency": "avoid", "blood-pressure-severe": "monitor"}


@pytest.mark.parametrize("reading", [None, (186, 104, STALE), (132, 84, TODAY)])
def test_without_a_reading_card_the_hypertension_card_stands(reading):
    [card] = _cards("ketamine", [HYPERTENSION], reading)
    assert advice_by_rule([card]) == {"hypertension": "monitor"}
    assert "supersedes" not in card_findings(card)[0]
