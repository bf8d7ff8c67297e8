"""Every fixture is a hook request a person can send by hand; each gives exactly the cards listed here."""

from __future__ import annotations

import json

import pytest

from cds_hooks.knowledge import load_knowledge
from service.cli import main
from tests.cardcheck import card_rule_ids
from tests.conftest import FIXTURES

EXPECTED = {
    "order-select-ketamine-maoi-washout": [
        ('critical', 'maoi',
         'Avoid ketamine with tranylcypromine: MAOI, risk of hypertensive crisis'),
    ],
    "order-sign-esketamine-aneurysm": [
        ('critical', 'aneurysmal-vascular-disease',
         'Avoid esketamine with aneurysmal vascular disease: blood-pressure rise is a serious hazard'),
    ],
    "order-sign-esketamine-buprenorphine-naloxone": [
        ('info', 'other-opioids',
         'Monitor esketamine with buprenorphine: sedation, respiratory depression'),
    ],
    "order-sign-esketamine-bupropion": [
        ('info', 'bupropion',
         'Monitor esketamine with Wellbutrin (bupropion): blood pressure, seizure threshold'),
    ],
    "order-sign-esketamine-dose": [
        ('warning', 'esketamine-dose',
         "Hold esketamine 112 mg per session: check the dose; the label's doses are 56 or 84 mg"),
    ],
    "order-sign-esketamine-dextromethorphan": [
        ('info', 'nmda-antagonists',
         'Monitor esketamine with Delsym (dextromethorphan): additive NMDA blockade, dissociation'),
    ],
    "order-sign-esketamine-frequency": [
        ('warning', 'esketamine-frequency',
         'Hold esketamine 3 sessions a week: more than 2 sessions a week'),
    ],
    "order-sign-esketamine-haemorrhage-history": [
        ('critical', 'intracerebral-haemorrhage',
         'Avoid esketamine with intracerebral haemorrhage: blood-pressure rise risks bleeding'),
    ],
    "order-sign-esketamine-home-use": [
        ('critical', 'esketamine-setting',
         'Avoid esketamine for use at home (category community): not for home use; give it only in a certified '
         'setting'),
    ],
    "order-sign-esketamine-hypertensive-urgency": [
        ('critical', 'hypertensive-urgency',
         'Avoid esketamine with hypertensive urgency: do not give now'),
    ],
    "order-sign-esketamine-lamotrigine": [
        ('info', 'lamotrigine',
         "Monitor esketamine with lamotrigine: may blunt ketamine's effects"),
    ],
    "order-sign-esketamine-levothyroxine": [
        ('info', 'thyroid-hormones',
         'Monitor esketamine with Synthroid (levothyroxine): hypertension and tachycardia'),
    ],
    "order-sign-esketamine-linezolid": [
        ('critical', 'linezolid-methylene-blue',
         'Avoid esketamine with linezolid: MAO inhibition, hypertensive and serotonin risk'),
    ],
    "order-sign-esketamine-lithium": [
        ('info', 'lithium-valproate',
         'Monitor esketamine with lithium: sedation, serotonergic add-on'),
    ],
    "order-sign-esketamine-maoi": [
        ('critical', 'maoi',
         'Avoid esketamine with Nardil (phenelzine): MAOI, risk of hypertensive crisis'),
        ('info', 'ssri',
         'Monitor esketamine with sertraline: serotonergic load, sedation'),
    ],
    "order-sign-esketamine-naloxone": [
    ],
    "order-sign-esketamine-nasal-steroid": [
        ('info', 'nasal-products',
         'Monitor esketamine with Flonase (fluticasone propionate): give nasal products at least 1 h before Spravato'),
    ],
    "order-sign-esketamine-older-adult-start": [
    ],
    "order-sign-esketamine-pregnancy": [
        ('critical', 'pregnancy',
         'Avoid esketamine with pregnancy: not recommended by the label'),
    ],
    "order-sign-esketamine-psilocybin": [
        ('info', 'psychedelics',
         'Monitor esketamine with psilocybin: additive psychotomimetic effects'),
    ],
    "order-sign-esketamine-psychosis": [
        ('info', 'psychosis',
         'Monitor esketamine with psychosis: dissociation may worsen it'),
    ],
    "order-sign-esketamine-quetiapine": [
        ('info', 'antipsychotics',
         'Monitor esketamine with Seroquel (quetiapine): sedation, orthostasis'),
    ],
    "order-sign-esketamine-seizure-rescue": [
        ('info', 'benzodiazepines',
         'Monitor esketamine with Valtoco (diazepam): additive sedation, may blunt response'),
    ],
    "order-sign-esketamine-serotonergic": [
        ('info', 'serotonergic-opioids+ssri',
         'Monitor esketamine with tramadol, sertraline: sedation, respiratory depression, serotonin, '
         'serotonergic load'),
    ],
    "order-sign-esketamine-ssri": [
        ('info', 'snri+ssri',
         'Monitor Spravato (esketamine) with Effexor (venlafaxine), escitalopram: serotonergic load, blood pressure, '
         'sedation'),
    ],
    "order-sign-esketamine-st-johns-wort": [
        ('info', 'st-johns-wort',
         "Monitor esketamine with St. John's Wort (st. john's wort extract): serotonergic load; CYP3A4 inducer"),
    ],
    "order-sign-esketamine-stimulant": [
        ('info', 'psychostimulants',
         'Monitor esketamine with Adderall (amphetamine, dextroamphetamine): blood pressure and heart rate rise'),
    ],
    "order-sign-esketamine-sumatriptan": [
    ],
    "order-sign-esketamine-theophylline": [
        ('info', 'theophylline',
         'Monitor esketamine with theophylline: may lower the seizure threshold'),
    ],
    "order-sign-esketamine-tricyclic": [
        ('info', 'other-antidepressants',
         'Monitor esketamine with amitriptyline: sedation, serotonergic load, heart rate and BP'),
    ],
    "order-sign-esketamine-zolpidem": [
        ('info', 'z-drugs',
         'Monitor esketamine with Ambien (zolpidem): additive sedation'),
    ],
    "order-sign-ketamine-anaesthesia-benzodiazepine": [
        ('info', 'benzodiazepines',
         'Monitor ketamine with midazolam: additive sedation and respiratory depression'),
    ],
    "order-sign-ketamine-avm": [
        ('critical', 'arteriovenous-malformation',
         'Avoid ketamine with arteriovenous malformation: blood-pressure rise is a serious hazard'),
    ],
    "order-sign-ketamine-benzodiazepine": [
        ('warning', 'benzodiazepines',
         'Hold ketamine with alprazolam: additive sedation, may blunt response'),
    ],
    "order-sign-ketamine-clopidogrel": [
        ('info', 'cyp2b6-inhibitors',
         'Monitor ketamine with Plavix (clopidogrel): CYP2B6 inhibition raises ketamine levels'),
    ],
    "order-sign-ketamine-gabapentin": [
        ('info', 'cns-depressants',
         'Monitor ketamine with gabapentin: additive sedation, respiratory depression'),
    ],
    "order-sign-esketamine-blood-pressure-severe": [
        ('critical', 'blood-pressure-severe',
         'Avoid esketamine with blood pressure 186/104 mmHg: hypertensive urgency level, do not give now'),
    ],
    "order-sign-ketamine-blood-pressure-raised": [
        ('info', 'blood-pressure-raised',
         'Monitor ketamine with blood pressure 152/88 mmHg: raised blood pressure, recheck before and after'),
    ],
    "order-sign-ketamine-allergy": [
        ('critical', 'ketamine-allergy',
         'Avoid ketamine: allergy to ketamine recorded'),
    ],
    "order-sign-esketamine-methylene-blue-administration": [
        ('critical', 'linezolid-methylene-blue',
         'Avoid esketamine with methylene blue: MAO inhibition, hypertensive and serotonin risk'),
    ],
    "order-sign-esketamine-maoi-dispense": [
        ('critical', 'maoi',
         'Avoid esketamine with phenelzine: MAOI, risk of hypertensive crisis'),
    ],
    "order-sign-ketamine-anaesthesia-history": [
        ('warning', 'benzodiazepines',
         'Hold ketamine with lorazepam: additive sedation, may blunt response'),
    ],
    "order-sign-esketamine-family-history": [],
    "order-sign-ketamine-misspelt-clonazepam": [
        ('warning', 'benzodiazepines',
         'Hold ketamine with clonazapam (clonazepam): additive sedation, may blunt response'),
    ],
    "order-sign-ketamine-hypertension": [
        ('info', 'hypertension',
         'Monitor ketamine with hypertension: blood-pressure rise after the dose'),
    ],
    "order-sign-ketamine-liver-disease": [
        ('info', 'liver-disease',
         'Monitor ketamine with liver disease: exposure and liver injury'),
    ],
    "order-sign-ketamine-mdma": [
        ('critical', 'mdma',
         'Avoid ketamine with Ecstasy (mdma): sympathomimetic surge and serotonin toxicity'),
    ],
    "order-sign-ketamine-naltrexone": [
        ('info', 'opioid-antagonists',
         'Monitor ketamine with Vivitrol (naltrexone): may blunt antidepressant response'),
    ],
    "order-sign-ketamine-no-interaction": [
    ],
    "order-sign-ketamine-oral-clarithromycin": [
        ('info', 'cyp3a4-inhibitors',
         'Monitor ketamine with clarithromycin: CYP3A4 inhibition may raise ketamine levels'),
    ],
    "order-sign-ketamine-pseudoephedrine": [
        ('info', 'sympathomimetics',
         'Monitor ketamine with Sudafed (pseudoephedrine): additive blood pressure and heart rate rise'),
    ],
    "order-sign-ketamine-rifampin": [
        ('info', 'cyp3a4-inducers',
         'Monitor ketamine with rifampin: CYP3A4 induction lowers ketamine levels'),
    ],
    "order-sign-ketamine-substance-use": [
        ('info', 'substance-use-disorder',
         'Monitor ketamine with substance use disorder: abuse potential'),
    ],
    "order-sign-ketamine-theophylline": [
        ('critical', 'theophylline',
         'Avoid ketamine with Theo-24 (theophylline): may lower the seizure threshold'),
    ],
    "order-sign-ketamine-tramadol": [
        ('info', 'serotonergic-opioids',
         'Monitor ketamine with tramadol: sedation, respiratory depression, serotonin'),
    ],
    "order-sign-non-ketamine": [
    ],
    "patient-view-esketamine-maoi": [
        ('critical', 'maoi',
         'Avoid esketamine with Nardil (phenelzine): MAOI, risk of hypertensive crisis'),
    ],
    "patient-view-esketamine-session": [
        ('warning', 'benzodiazepines',
         'Hold Spravato (esketamine) with alprazolam: additive sedation, may blunt response'),
    ],
    "patient-view-no-ketamine": [
    ],
}
"""Fixture name -> (indicator, rule, summary) of each card, in the order the service returns them; a Monitor card of
several rules names them joined by "+"."""

NOTES = {
    "order-select-ketamine-maoi-washout": ["last dose 2026-11-15: within the 14-day washout"],
    "order-sign-esketamine-linezolid": ["within the 24-hour washout"],
    "order-sign-esketamine-seizure-rescue": ["seizure-rescue medicine"],
    "order-sign-ketamine-anaesthesia-benzodiazepine": ["anaesthetic or procedural"],
    "order-sign-ketamine-oral-clarithromycin": ["The ketamine order is oral or sublingual"],
    "order-sign-esketamine-serotonergic": ["Serotonin-toxicity watch"],
    "order-sign-esketamine-theophylline": ["extrapolated"],
    "order-sign-esketamine-haemorrhage-history": ["recorded as a past condition"],
    "order-sign-esketamine-maoi": ["Compared with the label"],
    "patient-view-esketamine-maoi": ["Review the active esketamine order before the next session"],
    "patient-view-esketamine-session": ["Review the scheduled Spravato (esketamine) session before it starts"],
}
"""Words the first card of a fixture must contain in its detail."""

NO_CARD_RULES = {
    "naloxone": "order-sign-esketamine-naloxone",
    "triptans": "order-sign-esketamine-sumatriptan",
    "esketamine-older-adult-start": "order-sign-esketamine-older-adult-start",
}
"""Rules recorded with advice none, or off unless a site switches them on, each shown by a fixture that must give
no card (the last fires with the site override of tests/test_order_rules.py)."""


def test_every_fixture_file_has_an_expectation():
    assert sorted(path.stem for path in FIXTURES.glob("*.json")) == sorted(EXPECTED)


def test_every_rule_is_shown_by_a_fixture():
    shown = {rule for cards in EXPECTED.values() for _, rules, _ in cards for rule in rules.split("+")}
    shown |= set(NO_CARD_RULES)
    assert shown == {rule.id for rule in load_knowledge().rules}
    for fixture_name in NO_CARD_RULES.values():
        assert EXPECTED[fixture_name] == []


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_fixture_gives_the_expected_cards(client, fixture, name):
    body = fixture(name)
    response = client.post(f"/cds-services/ketamine-{body['hook']}", json=body)
    assert response.status_code == 200
    cards = response.get_json()["cards"]
    got = [(card["indicator"], "+".join(card_rule_ids(card)), card["summary"]) for card in cards]
    assert got == EXPECTED[name]
    for words in NOTES.get(name, ()):
        assert words in cards[0]["detail"]


def test_the_check_command_shows_a_fixtures_cards(capsys):
    path = FIXTURES / "order-sign-ketamine-theophylline.json"
    assert main(["check", str(path), "--now", "2026-11-21T12:00:00Z"]) == 0
    out = capsys.readouterr().out
    assert out.startswith("[CRITICAL] Avoid ketamine with Theo-24 (theophylline): may lower the seizure threshold")
    assert "Suggestion: Cancel the ketamine order" in out


def test_the_check_command_prints_json_on_request(capsys):
    path = FIXTURES / "order-sign-esketamine-hypertensive-urgency.json"
    assert main(["check", str(path), "--format", "json", "--now", "2026-11-21T12:00:00Z"]) == 0
    (card,) = json.loads(capsys.readouterr().out)["cards"]
    assert card["indicator"] == "critical"
