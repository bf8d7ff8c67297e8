"""Every rule fires where it must and nowhere else: the table in cases.yaml, run through order_check."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml

from cds_hooks.knowledge import ORDERED_DRUGS, load_knowledge
from cds_hooks.terminology import Ingredient
from tests.builders import advice_by_rule, condition, hook_request, medication, ordered, run
from tests.cardcheck import card_rule_ids
from tests.conftest import NOW

CASES = yaml.safe_load((Path(__file__).parent / "cases.yaml").read_text(encoding="utf-8"))
KB = load_knowledge()
UNKNOWN_RXNORM = "99999999"
"""No RxNorm concept has this code; the medication must be recognised from its display."""
LOCAL_SYSTEM = "http://hospital.example.org/problem-list"


def _fired(rule_id: str, sample: dict[str, Any], drug: str, also: dict[str, str] | None = None) -> dict[str, str]:
    advice = sample["advice"][drug]
    expected = {rule_id: advice} if advice != "none" else {}
    expected.update(also or {})
    return expected


def _medication_cases() -> list[Any]:
    cases = []
    for rule_id, sample in CASES["medication_rules"].items():
        styles = {
            "by ingredient code": sample["ingredient"],
            "by product code": sample["product"],
            "by an unknown code with a display": {"code": UNKNOWN_RXNORM, **sample["unknown_code"]},
            "by text only": {"text": sample["text"]},
        }
        for drug in ORDERED_DRUGS:
            for style, spec in styles.items():
                also = sample.get("product_also") if style == "by product code" else None
                cases.append(
                    pytest.param(
                        drug, [spec], {}, _fired(rule_id, sample, drug, also), id=f"{rule_id} fires for {drug} {style}"
                    )
                )
            text = {"text": sample["text"]}
            cases.append(
                pytest.param(
                    drug,
                    [{**text, "status": "cancelled"}],
                    {},
                    {},
                    id=f"{rule_id} does not fire for {drug} when cancelled",
                )
            )
            cases.append(
                pytest.param(
                    drug,
                    [{**text, "status": "stopped", "ended": "2026-09-01"}],
                    {},
                    {},
                    id=f"{rule_id} does not fire for {drug} once stopped long ago",
                )
            )
            for look_alike in sample["look_alikes"]:
                cases.append(
                    pytest.param(
                        drug, [{"text": look_alike}], {}, {}, id=f"{rule_id} does not fire for {drug} with {look_alike}"
                    )
                )
    return cases


def _condition_cases() -> list[Any]:
    cases = []
    for rule_id, sample in CASES["condition_rules"].items():
        styles = {
            "by ICD-10-CM code": {"icd": sample["icd"]["code"], "display": sample["icd"]["display"]},
            "by SNOMED CT code": {"snomed": sample["snomed"]["code"], "display": sample["snomed"]["display"]},
            "by a local code with a display": {"snomed": "L-1", "system": LOCAL_SYSTEM, **sample["unknown_code"]},
            "by text only": {"text": sample["text"]},
        }
        history = sample.get("history_counts", False)
        for drug in ORDERED_DRUGS:
            for style, spec in styles.items():
                cases.append(
                    pytest.param(
                        drug,
                        [],
                        {"conditions": [spec]},
                        _fired(rule_id, sample, drug),
                        id=f"{rule_id} fires for {drug} {style}",
                    )
                )
            resolved = {"icd": sample["icd"]["code"], "clinical": "resolved"}
            cases.append(
                pytest.param(
                    drug,
                    [],
                    {"conditions": [resolved]},
                    _fired(rule_id, sample, drug) if history else {},
                    id=f"{rule_id} for {drug} when resolved",
                )
            )
            refuted = {"icd": sample["icd"]["code"], "verification": "refuted"}
            cases.append(
                pytest.param(
                    drug, [], {"conditions": [refuted]}, {}, id=f"{rule_id} does not fire for {drug} when refuted"
                )
            )
            for look_alike in sample["look_alikes"]:
                cases.append(
                    pytest.param(
                        drug,
                        [],
                        {"conditions": [{"text": look_alike}]},
                        {},
                        id=f"{rule_id} does not fire for {drug} with {look_alike}",
                    )
                )
    return cases


def _resolver(answers: dict[str, list[str]]):
    def resolve(code: str) -> tuple[Ingredient, ...] | None:
        names = answers.get(code)
        return tuple(Ingredient(name) for name in names) if names else None

    return resolve


def _medication(spec: dict[str, Any]) -> dict[str, Any]:
    spec = dict(spec)
    spec.pop("resolver", None)
    drop = spec.pop("drop_concept", False)
    resource = medication(**spec)
    if drop:
        del resource["medicationCodeableConcept"]
    return resource


def _order(spec: str | dict[str, Any]) -> dict[str, Any]:
    if isinstance(spec, str):
        return ordered(spec)
    spec = dict(spec)
    code_free = spec.pop("code_free", False)
    resource = ordered(**spec)
    if code_free:
        resource["medicationCodeableConcept"] = {"text": spec["text"]}
    return resource


def _cards(drug: str | dict[str, Any], medications: list[dict[str, Any]], scenario: dict[str, Any]) -> list:
    answers = {spec["code"]: spec["resolver"] for spec in medications if "resolver" in spec}
    answers.update(scenario.get("resolver") or {})
    body = hook_request(
        _order(drug),
        medications=[_medication(spec) for spec in medications],
        conditions=[condition(**spec) for spec in scenario.get("conditions") or ()],
        drafts=[_medication(spec) for spec in scenario.get("drafts") or ()],
    )
    body["prefetch"]["medicationRequests"]["entry"].extend(
        {"resource": resource} for resource in scenario.get("resources") or ()
    )
    return run(body, KB, NOW, _resolver(answers) if answers else None)


@pytest.mark.parametrize(("drug", "medications", "scenario", "expected"), _medication_cases() + _condition_cases())
def test_rule_fires_exactly_where_the_table_says(drug, medications, scenario, expected):
    cards = _cards(drug, medications, scenario)
    assert advice_by_rule(cards) == expected
    assert not [card for card in cards if "notice" in card["extension"]["org.ketamine-cds"]]


@pytest.mark.parametrize("scenario", CASES["scenarios"], ids=[case["name"] for case in CASES["scenarios"]])
def test_scenario(scenario):
    cards = _cards(scenario["ordered"], scenario.get("medications") or [], scenario)
    assert advice_by_rule(cards) == scenario["expect"]
    for rule_id, words in (scenario.get("notes") or {}).items():
        detail = next(
            card["detail"] for card in cards if rule_id in card_rule_ids(card)
        )
        for word in words:
            assert word in detail, f"{rule_id} card lacks {word!r}"
    for rule_id, words in (scenario.get("without") or {}).items():
        detail = next(
            card["detail"] for card in cards if rule_id in card_rule_ids(card)
        )
        for word in words:
            assert word not in detail, f"{rule_id} card should not say {word!r}"


def test_the_ordered_drug_may_be_named_by_a_medication_in_the_draft_bundle():
    order = ordered("esketamine")
    del order["medicationCodeableConcept"]
    order["medicationReference"] = {"reference": "Medication/spravato"}
    body = hook_request(order, medications=[medication(text="Nardil 15 mg")])
    body["context"]["draftOrders"]["entry"].append(
        {
            "resource": {
                "resourceType": "Medication",
                "id": "spravato",
                "code": {"coding": [{"system": "http://www.nlm.nih.gov/research/umls/rxnorm", "code": "2201625"}]},
            }
        }
    )
    assert advice_by_rule(run(body, KB, NOW)) == {"maoi": "avoid"}


def test_every_rule_has_a_row_in_the_table():
    """Medication and condition rules here; allergy and blood-pressure rules in tests/records/cases.yaml; order
    rules in tests/test_order_rules.py."""
    tabled = set(CASES["medication_rules"]) | set(CASES["condition_rules"])
    assert tabled == {rule.id for rule in KB.rules if rule.kind in {"medication", "condition"}}


def test_thirty_unrelated_medications_and_one_interacting_give_exactly_one_card():
    unrelated = [
        "metformin 500 mg tablet",
        "lisinopril 10 mg tablet",
        "atorvastatin 40 mg tablet",
        "amlodipine 5 mg tablet",
        "omeprazole 20 mg capsule",
        "levetiracetam 500 mg tablet",
        "ondansetron 4 mg ODT",
        "acetaminophen 500 mg",
        "ibuprofen 400 mg tablet",
        "aspirin 81 mg tablet",
        "montelukast 10 mg tablet",
        "albuterol 90 mcg inhaler",
        "insulin glargine 100 units/mL",
        "apixaban 5 mg tablet",
        "furosemide 20 mg tablet",
        "potassium chloride 10 mEq ER tablet",
        "vitamin D3 2000 units",
        "folic acid 1 mg tablet",
        "tamsulosin 0.4 mg capsule",
        "allopurinol 100 mg tablet",
        "prednisone 10 mg tablet",
        "cetirizine 10 mg tablet",
        "famotidine 20 mg tablet",
        "docusate 100 mg capsule",
        "isopropyl alcohol 70% prep pad",
        "loratadine 10 mg tablet",
        "methylprednisolone 4 mg dose pack",
        "hydroxychloroquine 200 mg tablet",
        "metoprolol succinate 25 mg ER tablet",
        "sertaconazole 2% cream",
    ]
    medications = [{"text": text} for text in unrelated]
    medications[0] = {"code": "312961", "display": "simvastatin 20 MG Oral Tablet"}
    medications[1] = {"code": "309114", "display": "cephalexin 500 MG Oral Capsule"}
    medications.append({"text": "Parnate 10 mg tablet"})
    assert len(medications) == 31
    cards = _cards("esketamine", medications, {})
    assert advice_by_rule(cards) == {"maoi": "avoid"}
    assert len(cards) == 1
    assert cards[0]["summary"] == "Avoid esketamine with Parnate (tranylcypromine): MAOI, risk of hypertensive crisis"
