"""What a clinician reads on a card: the advice, why, how it compares with the label, and how strong the evidence is."""

from __future__ import annotations

import pytest

from tests.builders import allergy, condition, hook_request, medication, ordered, run
from tests.conftest import NOW


def _card(knowledge, order, medications=(), conditions=()):
    (card,) = run(hook_request(order, medications=medications, conditions=conditions), knowledge, NOW)
    return card


def test_weak_evidence_is_marked_weak(knowledge):
    card = _card(knowledge, ordered("esketamine"), [medication(text="lamotrigine 100 mg")])
    assert "**Evidence:** weak." in card["detail"]
    assert card["extension"]["org.ketamine-cds"]["evidenceGrade"] == "weak"


def test_policy_evidence_is_marked_weak(knowledge):
    card = _card(knowledge, ordered("esketamine"), [medication(text="Nardil 15 mg")])
    assert "**Evidence:** weak; a precaution beyond the label." in card["detail"]


def test_established_evidence_is_marked_established(knowledge):
    card = _card(knowledge, ordered("ketamine"), [medication(text="gabapentin 300 mg")])
    assert "**Evidence:** drug label." in card["detail"]


def test_advice_stricter_than_the_label_says_so(knowledge):
    card = _card(knowledge, ordered("esketamine"), [medication(text="linezolid 600 mg")])
    assert "**Compared with the label:** Neither label names linezolid" in card["detail"]


def test_every_card_carries_the_knowledge_version_in_its_extension_not_on_screen(knowledge):
    card = _card(knowledge, ordered("esketamine"), conditions=[condition(icd="I10")])
    assert knowledge.version not in card["detail"]
    assert card["extension"]["org.ketamine-cds"]["knowledgeVersion"] == knowledge.version


def test_a_modified_advice_gives_the_text_of_that_advice_and_says_why(knowledge):
    card = _card(knowledge, ordered("esketamine"), [medication(text="Onfi 10 mg tablet")])
    assert card["summary"].startswith("Monitor esketamine with Onfi (clobazam)")
    assert card["detail"].startswith("**Monitor:** ")
    assert "Hold the" not in card["detail"]
    assert "Clobazam is prescribed for epilepsy" in card["detail"]
    assert card["extension"]["org.ketamine-cds"]["modifier"]["id"] == "seizure-rescue-clobazam"


def test_an_unmodified_advice_gives_the_class_advice_alone(knowledge):
    card = _card(knowledge, ordered("esketamine"), [medication(text="alprazolam 0.5 mg")])
    assert card["detail"].startswith("**Hold:** Hold the morning dose and any as-needed dose before the session")
    assert "modifier" not in card["extension"]["org.ketamine-cds"]


def test_an_avoid_card_offers_to_cancel_the_order_and_asks_for_a_reason_to_override(knowledge):
    card = _card(knowledge, ordered("ketamine"), [medication(text="Uniphyl 400 mg")])
    assert card["indicator"] == "critical"
    action = card["suggestions"][0]["actions"][0]
    assert (action["type"], action["resourceId"]) == ("delete", "MedicationRequest/draft-ketamine")
    assert card["overrideReasons"]


def test_an_avoid_card_for_a_condition_names_the_problem(knowledge):
    card = _card(knowledge, ordered("esketamine"), conditions=[condition(icd="I16.0", display="Hypertensive urgency")])
    assert card["summary"].startswith("Avoid esketamine with hypertensive urgency: ")
    assert "(recorded as Hypertensive urgency)" not in card["detail"]
    assert card["indicator"] == "critical"
    assert "condition-not-current" in {reason["code"] for reason in card["overrideReasons"]}


@pytest.mark.parametrize(("drug", "allergies", "summary"), [
    ("ketamine", [allergy(text="Ketalar")], "Avoid ketamine: allergy to ketamine recorded"),
    ("esketamine", [allergy(text="ketamine")], "Avoid esketamine: allergy to ketamine recorded"),
    ("esketamine", [allergy(text="Spravato"), allergy(text="Ketalar")],
     "Avoid esketamine: allergy to esketamine and ketamine recorded"),
])
def test_an_allergy_card_says_advice_drug_and_allergy_at_a_glance(knowledge, drug, allergies, summary):
    (card,) = run(hook_request(ordered(drug), allergies=allergies), knowledge, NOW)
    assert card["summary"] == summary
    assert "allergy" in card["detail"].split("\n\n")[1]  # the record itself is named below, as the EHR wrote it
