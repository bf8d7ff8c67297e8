"""The order rules (dose, sessions a week, setting, first dose at 65 or older), table-driven, for order-sign,
order-select and patient-view alike: each case fires exactly the rules it lists, and the close cases nothing."""

from __future__ import annotations

from typing import Any

import pytest

from cds_hooks.fetch_queries import narrowed
from cds_hooks.knowledge import apply_overrides, load_knowledge
from cds_hooks.services import record_prefetch
from tests.builders import administration, advice_by_rule, bundle, dispense, hook_request, medication, ordered, run
from tests.cardcheck import assert_valid_card
from tests.conftest import NOW

KB = load_knowledge()
HOOKS = ("order-sign", "order-select", "patient-view")
SITE = """site: Test hospital P&T committee
rules:
  esketamine-older-adult-start:
    enabled: true
    approved_by: P&T
    approved_on: 2026-11-30
    reason: minutes
  esketamine-dose:
    limits: {allowed_mg: [28, 56, 84]}
    note: We follow the EU label, which gives 28 mg.
    approved_by: P&T
    approved_on: 2026-11-30
    reason: minutes
"""
"""A site on a non-US label: 28 mg is a dose, and a first dose above 28 mg at 65 or older is held."""
TWICE_WEEKLY = {"frequency": 2, "period": 1, "periodUnit": "wk"}
CATEGORY = "http://terminology.hl7.org/CodeSystem/medicationrequest-category"


def order(
    drug: str = "esketamine",
    *,
    dose: object = 56,
    unit: str = "mg",
    dose_range: tuple[float, float] | None = None,
    repeat: dict[str, Any] | None = None,
    timing_code: str | None = None,
    category: str | None = "outpatient",
    category_system: str | None = CATEGORY,
    performer: str | None = None,
    text: str | None = None,
) -> dict[str, Any]:
    """A draft esketamine (or ketamine) order stating what the arguments say, and nothing else."""
    resource = ordered(drug)
    dosage = resource["dosageInstruction"][0]
    if dose is not None:
        dosage["doseAndRate"] = [{"doseQuantity": {"value": dose, "unit": unit, "code": unit}}]
    if dose_range:
        low, high = dose_range
        dosage["doseAndRate"] = [{"doseRange": {"low": {"value": low, "code": "mg"},
                                                "high": {"value": high, "code": "mg"}}}]
    timing: dict[str, Any] = {}
    if repeat is not None:
        timing["repeat"] = repeat
    if timing_code:
        timing["code"] = {"coding": [{"system": "http://terminology.hl7.org/CodeSystem/v3-GTSAbbreviation",
                                      "code": timing_code}]}
    if timing:
        dosage["timing"] = timing
    if text:
        dosage["text"] = text
    if category:
        coding = {"code": category, **({"system": category_system} if category_system else {})}
        resource["category"] = [{"coding": [coding]}]
    if performer:
        resource["performer"] = {"reference": performer}
    return resource


NOTHING_ELSE = {key: bundle([]) for key in record_prefetch(KB.statuses) if key != "medicationRequests"}
"""patient-view's other keys, sent and empty: the order is all there is."""


def cards(hook: str, draft: dict[str, Any], kb=KB, *, born: str | None = "1979-06-14",
          history: tuple[dict[str, Any], ...] = ()) -> list[dict[str, Any]]:
    """The cards for this order through the core, as ``hook`` sends it (patient-view: the order is active); each
    record of ``history`` under the prefetch key of its type."""
    orders = [r for r in history if r["resourceType"] in ("MedicationRequest", "MedicationStatement")]
    given = [r for r in history if r["resourceType"] == "MedicationAdministration"]
    dispensed = [r for r in history if r["resourceType"] == "MedicationDispense"]
    if hook == "patient-view":
        placed = {**draft, "status": "active"}
        body = {"hookInstance": "00000000-0000-4000-8000-000000000002", "hook": hook,
                "context": {"userId": "Practitioner/case", "patientId": "case"},
                "prefetch": {**NOTHING_ELSE, "medicationRequests": bundle([placed, *orders]),
                             "medicationAdministrations": bundle(given), "medicationDispenses": bundle(dispensed)}}
    else:
        body = hook_request(draft, medications=orders, administrations=given, dispenses=dispensed, hook=hook)
    if born is not None:
        body["prefetch"]["patient"] = {"resourceType": "Patient", "id": "case", "birthDate": born}
    return run(body, kb, NOW)


CASES = [
    # dose: the US label's 56 or 84 mg per session
    pytest.param(order(dose=112), {"esketamine-dose": "hold"}, id="112 mg fires the dose rule"),
    pytest.param(order(dose=28), {"esketamine-dose": "hold"}, id="28 mg fires the dose rule (a non-US dose)"),
    pytest.param(order(dose=0.1, unit="g"), {"esketamine-dose": "hold"}, id="0.1 g is 100 mg and fires"),
    pytest.param(order(dose=None, dose_range=(56, 112)), {"esketamine-dose": "hold"},
                 id="a range up to 112 mg fires"),
    pytest.param(order(dose=56), {}, id="56 mg fires nothing"),
    pytest.param(order(dose=84), {}, id="84 mg fires nothing"),
    pytest.param(order(dose=84000, unit="ug"), {}, id="84000 micrograms is 84 mg and fires nothing"),
    pytest.param(order(dose=None, dose_range=(56, 84)), {}, id="a range of 56 to 84 mg fires nothing"),
    pytest.param(order(dose=None), {}, id="no dose fires nothing"),
    pytest.param(order(dose=None, text="112 mg intranasally"), {}, id="a dose only in text fires nothing"),
    pytest.param(order(dose=3, unit="device"), {}, id="a dose in devices, not mass, fires nothing"),
    pytest.param(order(dose="112"), {}, id="a dose that is not a number fires nothing"),
    pytest.param(order(dose=-56), {}, id="a negative dose fires nothing"),
    # frequency: at most twice a week
    pytest.param(order(repeat={"frequency": 3, "period": 1, "periodUnit": "wk"}), {"esketamine-frequency": "hold"},
                 id="three times a week fires the frequency rule"),
    pytest.param(order(repeat={"frequency": 1, "period": 1, "periodUnit": "d"}), {"esketamine-frequency": "hold"},
                 id="daily fires"),
    pytest.param(order(repeat={"frequency": 1, "period": 3, "periodUnit": "d"}), {"esketamine-frequency": "hold"},
                 id="every 3 days fires"),
    pytest.param(order(repeat={"dayOfWeek": ["mon", "wed", "fri"]}), {"esketamine-frequency": "hold"},
                 id="Monday, Wednesday and Friday fires"),
    pytest.param(order(timing_code="BID"), {"esketamine-frequency": "hold"}, id="BID fires"),
    pytest.param(order(repeat={"frequency": 1, "frequencyMax": 3, "period": 1, "periodUnit": "wk"}),
                 {"esketamine-frequency": "hold"}, id="once to three times a week fires (up to three)"),
    pytest.param(order(repeat=TWICE_WEEKLY), {}, id="twice weekly fires nothing"),
    pytest.param(order(repeat={"dayOfWeek": ["mon", "thu"], "period": 1, "periodUnit": "d"}), {},
                 id="Monday and Thursday fires nothing"),
    pytest.param(order(repeat={"frequency": 1, "period": 1, "periodUnit": "wk"}), {}, id="weekly fires nothing"),
    pytest.param(order(repeat={"frequency": 1, "period": 2, "periodUnit": "wk"}), {},
                 id="every two weeks fires nothing"),
    pytest.param(order(repeat={"frequency": 1, "period": 3.5, "periodUnit": "d"}), {},
                 id="every 3.5 days (twice a week) fires nothing"),
    pytest.param(order(timing_code="WK"), {}, id="WK fires nothing"),
    pytest.param(order(repeat={"boundsPeriod": {"start": "2026-11-01"}}), {}, id="no schedule fires nothing"),
    # setting: never for use at home
    pytest.param(order(category="community"), {"esketamine-setting": "avoid"}, id="category community fires"),
    pytest.param(order(category="discharge"), {"esketamine-setting": "avoid"}, id="category discharge fires"),
    pytest.param(order(category="discharge", category_system=None), {"esketamine-setting": "avoid"},
                 id="category discharge without a system fires"),
    pytest.param(order(performer="Patient/case"), {"esketamine-setting": "avoid"},
                 id="the patient named to give it fires"),
    pytest.param(order(performer="RelatedPerson/carer"), {"esketamine-setting": "avoid"},
                 id="a relative named to give it fires"),
    pytest.param(order(category="outpatient"), {}, id="category outpatient fires nothing"),
    pytest.param(order(category="inpatient"), {}, id="category inpatient fires nothing"),
    pytest.param(order(category=None), {}, id="no category fires nothing"),
    pytest.param(order(category="community", category_system="http://hospital.example.org/order-class"), {},
                 id="community in another code system fires nothing"),
    pytest.param(order(performer="Practitioner/nurse"), {}, id="a nurse named to give it fires nothing"),
    # every rule at once; and ketamine, which gets no order rule at all
    pytest.param(order(dose=112, repeat={"frequency": 7, "period": 1, "periodUnit": "wk"}, category="community"),
                 {"esketamine-setting": "avoid", "esketamine-dose": "hold", "esketamine-frequency": "hold"},
                 id="112 mg daily at home fires all three"),
    pytest.param(order("ketamine", dose=500, repeat={"frequency": 1, "period": 1, "periodUnit": "d"},
                       category="community"), {}, id="ketamine gets no dose, frequency or setting rule"),
]


@pytest.mark.parametrize("hook", HOOKS)
@pytest.mark.parametrize(("draft", "expected"), CASES)
def test_order_rules_fire_exactly_where_they_must(hook, draft, expected):
    found = cards(hook, draft)
    assert advice_by_rule(found) == expected
    assert all("Interaction check incomplete" not in card["summary"] for card in found)
    for card in found:
        assert_valid_card(card)


AGE_CASES = [
    pytest.param(KB, "1954-03-10", 56, (), {}, id="off by default: 72 years, first dose 56 mg, nothing"),
    pytest.param("site", "1954-03-10", 56, (), {"esketamine-older-adult-start": "hold"},
                 id="switched on: 72 years, first dose 56 mg, fires"),
    pytest.param("site", "1961-11-21", 84, (), {"esketamine-older-adult-start": "hold"},
                 id="switched on: 65 today, first dose 84 mg, fires"),
    pytest.param("site", "1954-03-10", 28, (), {}, id="switched on: 72 years, first dose 28 mg, nothing"),
    pytest.param("site", "1961-11-22", 56, (), {}, id="switched on: 65 tomorrow, nothing"),
    pytest.param("site", "1961", 56, (), {}, id="switched on: born in 1961 (maybe 64), nothing"),
    pytest.param("site", None, 56, (), {}, id="switched on: no Patient sent, nothing"),
    pytest.param("site", "1954-03-10", None, (), {}, id="switched on: no dose, nothing"),
    pytest.param("site", "1954-03-10", 56,
                 (medication(code="2201625", display="esketamine Nasal Spray [Spravato]", status="completed",
                             ident="spravato-2025"),),
                 {}, id="switched on: an earlier esketamine order, nothing"),
    pytest.param("site", "1954-03-10", 56, (administration(text="Spravato 28 mg", given="2025-03-02T10:00:00Z"),),
                 {}, id="switched on: esketamine given before, nothing"),
    pytest.param("site", "1954-03-10", 56, (administration(text="Spravato 28 mg", status="in-progress"),),
                 {}, id="switched on: esketamine being given, nothing"),
    pytest.param("site", "1954-03-10", 56, (dispense(text="Spravato 28 mg nasal spray", handed="2025-03-02"),),
                 {}, id="switched on: esketamine dispensed before, nothing"),
    pytest.param("site", "1954-03-10", 56,
                 (administration(text="Spravato 28 mg", status="not-done", given="2025-03-02T10:00:00Z"),),
                 {"esketamine-older-adult-start": "hold"}, id="switched on: a dose not given, fires"),
    pytest.param("site", "1954-03-10", 56,
                 (administration(text="Spravato 28 mg", status="entered-in-error", given="2025-03-02T10:00:00Z"),),
                 {"esketamine-older-adult-start": "hold"}, id="switched on: an administration in error, fires"),
    pytest.param("site", "1954-03-10", 56, (dispense(text="Spravato 28 mg nasal spray", status="preparation"),),
                 {"esketamine-older-adult-start": "hold"}, id="switched on: a dispense not handed over, fires"),
    pytest.param("site", "1954-03-10", 56,
                 (dispense(text="Spravato 28 mg nasal spray", status="declined", handed="2025-03-02"),),
                 {"esketamine-older-adult-start": "hold"}, id="switched on: a declined dispense, fires"),
    pytest.param("site", "1954-03-10", 56, (administration(text="ketamine 50 mg IV", given="2025-03-02T10:00:00Z"),),
                 {"esketamine-older-adult-start": "hold"}, id="switched on: ketamine (not esketamine) given, fires"),
]


@pytest.mark.parametrize("hook", HOOKS)
@pytest.mark.parametrize(("kb", "born", "dose", "history", "expected"), AGE_CASES)
def test_the_first_dose_rule_is_off_by_default_and_a_site_switches_it_on(tmp_path, hook, kb, born, dose, history,
                                                                          expected):
    if kb == "site":
        path = tmp_path / "site.yaml"
        path.write_text(SITE, encoding="utf-8")
        kb = apply_overrides(KB, path)
    found = cards(hook, order(dose=dose), kb, born=born, history=history)
    assert advice_by_rule(found) == expected
    if kb is not KB and born is None:  # the rule needs the Patient and it was not sent: the card says so
        assert "patient's record (birth date): it was not sent" in found[-1]["detail"]


@pytest.mark.parametrize("hook", HOOKS)
@pytest.mark.parametrize("record", [
    administration(text="Spravato 28 mg", status="unknown", given="2025-03-02T10:00:00Z"),
    dispense(text="Spravato 28 mg nasal spray", status="unknown", handed="2025-03-02"),
], ids=["administration", "dispense"])
def test_whether_an_earlier_record_shows_a_first_dose_follows_the_knowledge_bases_status_classes(tmp_path, hook,
                                                                                                 record):
    path = tmp_path / "site.yaml"
    path.write_text(SITE, encoding="utf-8")
    site = apply_overrides(KB, path)
    assert advice_by_rule(cards(hook, order(), site, born="1954-03-10", history=(record,))) == {}
    path.write_text(SITE + "statuses:\n  MedicationAdministration:\n    status: {unknown: excluded}\n"
                           "  MedicationDispense:\n    status: {unknown: current}\n", encoding="utf-8")
    reclassed = apply_overrides(KB, path)  # an administration of unknown status not counted, a dispense not handed over
    assert advice_by_rule(cards(hook, order(), reclassed, born="1954-03-10", history=(record,))) == {
        "esketamine-older-adult-start": "hold"}


def test_in_fetch_mode_every_administration_is_read_while_the_first_dose_rule_is_on(tmp_path):
    path = tmp_path / "site.yaml"
    path.write_text(SITE, encoding="utf-8")
    query = {"medicationAdministrations": "MedicationAdministration?patient=case"}
    assert narrowed(query, KB, NOW) != query  # off: only the longest washout is asked for
    assert narrowed(query, apply_overrides(KB, path), NOW) == query


def test_a_site_that_adds_28_mg_gets_no_dose_card_for_it(tmp_path):
    path = tmp_path / "site.yaml"
    path.write_text(SITE, encoding="utf-8")
    assert advice_by_rule(cards("order-sign", order(dose=28), apply_overrides(KB, path))) == {}


def test_order_cards_name_the_order_what_it_says_and_the_limit(tmp_path):
    [card] = cards("order-sign", order(dose=112))
    assert card["summary"] == "Hold esketamine 112 mg per session: check the dose; the label's doses are 56 or 84 mg"
    assert card["indicator"] == "warning"
    assert card["detail"].startswith("**Hold:** Correct the dose to 56 or 84 mg per session")
    assert "**Order:** Spravato 56 mg nasal spray: 112 mg per session." in card["detail"]
    assert "MedicationRequest/" not in card["detail"]  # the reference is in the extension, not on screen
    assert card["extension"]["org.ketamine-cds"]["orderCheck"] == {"check": "dose", "observed": "112 mg per session"}
    assert [reason["code"] for reason in card["overrideReasons"]] == ["order-intended"]
    path = tmp_path / "site.yaml"
    path.write_text(SITE, encoding="utf-8")
    [card] = cards("order-sign", order(dose=112), apply_overrides(KB, path))
    assert card["summary"].endswith("the label's doses are 28, 56 or 84 mg")
    assert "**Site policy:** We follow the EU label" in card["detail"]


def test_a_home_use_avoid_card_suggests_cancelling_the_draft_but_not_on_patient_view():
    [sign] = cards("order-sign", order(category="community"))
    assert sign["summary"] == ("Avoid esketamine for use at home (category community): not for home use; give it "
                               "only in a certified setting")
    assert sign["suggestions"][0]["actions"][0] == {
        "type": "delete", "description": "Remove the draft esketamine order from this ordering session.",
        "resourceId": "MedicationRequest/draft-esketamine"}
    assert [reason["code"] for reason in sign["overrideReasons"]] == ["certified-setting"]
    [view] = cards("patient-view", order(category="community"))
    assert "suggestions" not in view and "selectionBehavior" not in view
    assert view["detail"].startswith("**Avoid:** Review the active esketamine order before the next session.")


def test_the_rules_table_shows_every_order_rule_with_its_limits():
    from cds_hooks.knowledge import rules_markdown

    table = rules_markdown(KB)
    assert ("| `esketamine-dose` | Esketamine order: a dose per session other than 56 or 84 mg | none | **Hold** |"
            in table)
    assert "| `esketamine-frequency` | Esketamine order: more than 2 sessions a week | none | **Hold** |" in table
    assert "category community or discharge" in table
    assert "off unless a site switches it on" in table


def test_every_order_rule_has_cases():
    assert {rule.id for rule in KB.rules if rule.kind == "order"} == {
        "esketamine-dose", "esketamine-frequency", "esketamine-setting", "esketamine-older-adult-start"}
    fired = {rule for case in CASES for rule in case.values[1]} | {"esketamine-older-adult-start"}
    assert fired == {rule.id for rule in KB.rules if rule.kind == "order"}


def test_site_limits_are_checked_against_the_rule(tmp_path):
    from cds_hooks.errors import KnowledgeError

    path = tmp_path / "site.yaml"
    path.write_text("site: X\nrules:\n  esketamine-dose:\n    limits: {max_per_week: 3}\n"
                    "    approved_by: P&T\n    approved_on: 2026-11-30\n    reason: minutes\n", encoding="utf-8")
    with pytest.raises(KnowledgeError, match="max_per_week"):
        apply_overrides(KB, path)
    path.write_text("site: X\nrules:\n  maoi:\n    limits: {allowed_mg: [28]}\n"
                    "    approved_by: P&T\n    approved_on: 2026-11-30\n    reason: minutes\n", encoding="utf-8")
    with pytest.raises(KnowledgeError, match="only an order rule"):
        apply_overrides(KB, path)
    path.write_text("site: X\nrules:\n  esketamine-dose:\n    limits: {allowed_mg: [-1]}\n"
                    "    approved_by: P&T\n    approved_on: 2026-11-30\n    reason: minutes\n", encoding="utf-8")
    with pytest.raises(KnowledgeError, match="allowed_mg"):
        apply_overrides(KB, path)


def test_a_patient_view_on_a_planned_draft_order_is_checked_too():
    draft = order(dose=112)
    body = {"hookInstance": "00000000-0000-4000-8000-000000000003", "hook": "patient-view",
            "context": {"userId": "Practitioner/case", "patientId": "case"},
            "prefetch": {"medicationRequests": bundle([draft]), **NOTHING_ELSE}}
    [card] = run(body, KB, NOW)
    assert "Review the planned esketamine order" in card["detail"]
