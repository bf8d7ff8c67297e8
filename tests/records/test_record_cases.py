"""Administrations, dispenses, allergies and blood pressure: every case of cases.yaml, in prefetch mode."""

from __future__ import annotations

import json

import pytest

from cds_hooks.knowledge import load_knowledge
from tests.builders import advice_by_rule, run
from tests.conftest import NOW
from tests.records.cases import CASES, expected, params, request_for

KB = load_knowledge()


@pytest.mark.parametrize(("case", "drug"), params())
def test_record_case(case, drug):
    cards = run(request_for(case, drug), KB, NOW)
    assert advice_by_rule(cards) == expected(case, drug)
    advice = [card for card in cards if "ruleId" in card["extension"]["org.ketamine-cds"]]
    notices = [card for card in cards if "notice" in card["extension"]["org.ketamine-cds"]]
    for words in case.get("notes") or ():
        assert words in advice[0]["detail"]
    if case.get("notice"):
        assert len(notices) == 1
        for words in case["notice"]:
            if words.startswith(("Medication", "Observation", "AllergyIntolerance")):  # a FHIR reference: off screen
                assert words in json.dumps(notices[0]["extension"])
                assert words not in notices[0]["detail"]
            else:
                assert words in notices[0]["detail"]
    else:
        assert notices == []


def test_every_new_kind_of_rule_has_cases():
    fired = {rule for section in CASES.values() for case in section for rule in (case.get("expect") or {})}
    new_rules = {rule.id for rule in KB.rules if rule.kind in {"allergy", "blood-pressure"}}
    assert new_rules <= fired
