"""A site changes the blood-pressure thresholds and window and the default supply of a dispense in its override
file, as it changes a rule's advice; a bad value stops loading, naming the file and the field."""

from __future__ import annotations

import pytest

from cds_hooks.errors import KnowledgeError
from cds_hooks.knowledge import load_knowledge
from tests.builders import advice_by_rule, blood_pressure, dispense, hook_request, ordered, run
from tests.conftest import NOW

APPROVAL = "    approved_by: P&T committee\n    approved_on: 2026-11-30\n    reason: Minutes 2026-11, item 6\n"


def _site(tmp_path, text: str):
    path = tmp_path / "site.yaml"
    path.write_text("site: Example Hospital P&T, 2026-12\n" + text, encoding="utf-8")
    return load_knowledge(overrides=path)


def _bp(kb, systolic, diastolic, at="2026-11-21T11:00:00Z"):
    body = hook_request(ordered("esketamine"), observations=[blood_pressure(systolic, diastolic, at)])
    return advice_by_rule(run(body, kb, NOW))


def test_a_site_raises_the_monitor_threshold(tmp_path):
    kb = _site(tmp_path, "rules:\n  blood-pressure-raised:\n"
                         "    blood_pressure: {above: {systolic: 150, diastolic: 95}}\n"
                         "    note: Monitored above 150/95 here.\n" + APPROVAL)
    assert _bp(load_knowledge(), 148, 80) == {"blood-pressure-raised": "monitor"}
    assert _bp(kb, 148, 80) == {}
    assert _bp(kb, 151, 80) == {"blood-pressure-raised": "monitor"}


def test_the_card_says_the_sites_threshold(tmp_path):
    kb = _site(tmp_path, "rules:\n  blood-pressure-raised:\n"
                         "    blood_pressure: {above: {systolic: 150, diastolic: 95}}\n" + APPROVAL)
    body = hook_request(ordered("esketamine"), observations=[blood_pressure(151, 80, "2026-11-21T11:00:00Z")])
    [card] = run(body, kb, NOW)
    lead = card["detail"].split("\n")[0]
    assert "if systolic stays above 150 or diastolic above 95 mmHg" in lead
    assert "threshold: systolic above 150 or diastolic above 95 mmHg" in card["detail"]
    assert "140" not in card["detail"] and "90 mmHg" not in card["detail"]


def test_a_site_widens_the_window(tmp_path):
    kb = _site(tmp_path, "blood_pressure: {within_hours: 72}\n")
    assert _bp(load_knowledge(), 186, 100, "2026-11-19T12:00:00Z") == {}
    assert _bp(kb, 186, 100, "2026-11-19T12:00:00Z") == {"blood-pressure-severe": "avoid"}


def test_a_site_shortens_the_default_supply(tmp_path):
    kb = _site(tmp_path, "dispense_default_supply_days: 30\n")
    body = hook_request(ordered("ketamine"), dispenses=[dispense(text="alprazolam 1 mg", handed="2026-10-01")])
    assert advice_by_rule(run(body, load_knowledge(), NOW)) == {"benzodiazepines": "hold"}
    cards = run(body, kb, NOW)
    assert advice_by_rule(cards) == {}


@pytest.mark.parametrize(
    ("text", "field"),
    [
        ("rules:\n  maoi:\n    blood_pressure: {above: {systolic: 150, diastolic: 95}}\n" + APPROVAL,
         "rules.maoi.blood_pressure"),
        ("rules:\n  blood-pressure-raised:\n    blood_pressure: {over: {systolic: 150, diastolic: 95}}\n" + APPROVAL,
         "rules.blood-pressure-raised.blood_pressure.over"),
        ("rules:\n  blood-pressure-raised:\n    blood_pressure: {above: {systolic: -1, diastolic: 95}}\n" + APPROVAL,
         "rules.blood-pressure-raised.blood_pressure.above.systolic"),
        ("blood_pressure: {within_hours: 0}\n", "blood_pressure.within_hours"),
        ("dispense_default_supply_days: many\n", "dispense_default_supply_days"),
    ],
)
def test_a_bad_override_stops_loading_naming_the_field(tmp_path, text, field):
    with pytest.raises(KnowledgeError) as raised:
        _site(tmp_path, text)
    assert raised.value.field == field
    assert raised.value.file.endswith("site.yaml")
