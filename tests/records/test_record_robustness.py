"""Any JSON where a field of an administration, dispense, allergy or blood-pressure Observation should be never
breaks the check: the record is read as far as it can be, or left out, and the answer is cards."""

from __future__ import annotations

import re

from hypothesis import given, settings
from hypothesis import strategies as st

from cds_hooks.knowledge import load_knowledge
from tests.builders import administration, allergy, blood_pressure, dispense, hook_request, ordered, run
from tests.conftest import NOW

KB = load_knowledge()
JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=12),
    lambda children: st.lists(children, max_size=3) | st.dictionaries(st.text(max_size=8), children, max_size=3),
    max_leaves=8,
)
RECORDS = {
    "administrations": (administration(text="linezolid 600 mg", given="2026-11-21T06:00:00Z"),
                        ("status", "effectiveDateTime", "effectivePeriod", "medicationCodeableConcept", "dosage")),
    "dispenses": (dispense(text="Nardil 15 mg", handed="2026-11-01T10:00:00Z", days=30),
                  ("status", "whenHandedOver", "whenPrepared", "daysSupply", "medicationCodeableConcept")),
    "allergies": (allergy(text="ketamine", reaction="rash", substance="ketamine"),
                  ("clinicalStatus", "verificationStatus", "code", "reaction", "criticality")),
    "observations": (blood_pressure(184, 100, "2026-11-21T11:00:00Z"),
                     ("status", "code", "component", "effectiveDateTime", "valueQuantity", "effectivePeriod")),
}


@settings(max_examples=150, deadline=None)
@given(st.sampled_from(sorted(RECORDS)), st.data(), JSON)
def test_any_json_in_a_field_of_a_new_record_gives_cards(key, data, value):
    record, fields = RECORDS[key]
    field = data.draw(st.sampled_from(fields))
    cards = run(hook_request(ordered("esketamine"), **{key: [{**record, field: value}]}), KB, NOW)
    assert all(card["summary"] for card in cards)


def test_text_from_the_new_records_is_escaped_on_the_card():
    body = hook_request(
        ordered("ketamine"),
        allergies=[allergy(text="ketamine", reaction="<img src=x onerror=alert(1)> [hives](http://evil.example)")],
        administrations=[administration(text="midazolam 2 mg", status="<b>given</b>", given="2026-11-21T11:00:00Z")],
        medications=[],
    )
    body["prefetch"]["medicationStatements"]["entry"].append({"resource": {
        "resourceType": "MedicationStatement", "id": "misspelt", "status": "active",
        "subject": {"reference": "Patient/case"}, "medicationCodeableConcept": {"text": "clonazapam*"}}})
    details = " ".join(card["detail"] for card in run(body, KB, NOW))
    record_lines = [line for line in details.splitlines() if line.startswith("- ")]
    assert record_lines and all(re.search(r"(?<!\\)[<>]|(?<!\\)\]\(", line) is None for line in record_lines)
    assert "reaction recorded: \\<img" in details and "administration \\<b\\>given" in details
    assert '"clonazapam" read as a likely misspelling' in details
