"""Readers of FHIR JSON, terminology and summaries, directly."""

from datetime import UTC, datetime

import pytest

from cds_hooks.cards import summary
from cds_hooks.conditions import read_condition
from cds_hooks.fhir_json import RXNORM, parse_datetime
from cds_hooks.medications import MedicationIndex, read_medication
from cds_hooks.statuses import CURRENT, ENDED, EXCLUDED


@pytest.mark.parametrize(
    ("text", "upper", "expected"),
    [
        ("2026", False, datetime(2026, 1, 1, tzinfo=UTC)),
        ("2026", True, datetime(2026, 12, 31, 23, 59, 59, 999999, tzinfo=UTC)),
        ("2026-02", True, datetime(2026, 2, 28, 23, 59, 59, 999999, tzinfo=UTC)),
        ("2026-11-15", True, datetime(2026, 11, 15, 23, 59, 59, 999999, tzinfo=UTC)),
        ("2026-11-15T10:00:00+02:00", False, datetime(2026, 11, 15, 8, 0, tzinfo=UTC)),
        ("2026-11-15T10:00:00Z", True, datetime(2026, 11, 15, 10, 0, tzinfo=UTC)),
        ("2026-13-01", False, None),
        ("15/11/2026", False, None),
        (20261115, False, None),
    ],
)
def test_fhir_dates_parse_to_the_start_or_end_of_their_period(text, upper, expected):
    assert parse_datetime(text, upper=upper) == expected


@pytest.mark.parametrize(
    ("text", "labels"),
    [
        ("sertraline hydrochloride 50 mg tablet", ["sertraline"]),
        ("NARDIL 15MG TAB", ["NARDIL (phenelzine)"]),
        ("Spravato 28 mg nasal spray", ["Spravato (esketamine)"]),
        ("esketamine 28 MG nasal spray", ["esketamine"]),
        ("ketamine 50 mg/mL", ["ketamine"]),
        ("Adderall XR 20 mg", ["Adderall (amphetamine)", "Adderall (dextroamphetamine)"]),
        ("molly (street)", ["molly (mdma)"]),
        ("isopropyl alcohol swab", []),
        ("pseudoxanax", []),
        ("Xanaxx", []),
    ],
)
def test_names_are_found_on_word_boundaries_with_brand_labels(knowledge, text, labels):
    assert [match.label for match in knowledge.terminology.from_text(text)] == labels


def test_a_multi_ingredient_product_code_gives_each_ingredient(knowledge):
    matches = knowledge.terminology.from_codings([{"system": RXNORM, "code": "1010604"}])
    assert {match.ingredient.name for match in matches} == {"buprenorphine", "naloxone"}


def test_an_unknown_code_gives_none_so_the_text_is_read(knowledge):
    assert knowledge.terminology.from_codings([{"system": RXNORM, "code": "99999999"}]) is None
    assert knowledge.terminology.from_codings([{"system": "http://hl7.org/fhir/sid/ndc", "code": "596"}]) is None


def request(status, **extra):
    return {"resourceType": "MedicationRequest", "id": "r", "status": status, "intent": "order",
            "subject": {"reference": "Patient/p"}, "medicationCodeableConcept": {"text": "Parnate 10 mg"}, **extra}


@pytest.mark.parametrize(
    ("status", "expected"),
    [("active", CURRENT), ("on-hold", CURRENT), ("stopped", ENDED), ("completed", ENDED),
     ("cancelled", EXCLUDED), ("entered-in-error", EXCLUDED), ("draft", EXCLUDED),
     (None, CURRENT), ("taking", CURRENT)],
)
def test_request_status_decides_whether_a_medication_counts(knowledge, status, expected):
    fact = read_medication(request(status), knowledge.terminology, MedicationIndex(), knowledge.statuses)
    assert fact.status == expected


def test_ended_therapy_takes_its_end_from_dosage_bounds_then_dispense_validity(knowledge):
    bounds = request("stopped", dosageInstruction=[{"timing": {"repeat": {"boundsPeriod": {"end": "2026-11-10"}}}}],
                     dispenseRequest={"validityPeriod": {"end": "2027-05-01"}})
    validity = request("stopped", dispenseRequest={"validityPeriod": {"end": "2026-10"}})
    index, statuses = MedicationIndex(), knowledge.statuses
    assert read_medication(bounds, knowledge.terminology, index, statuses).ended_at.date().isoformat() == "2026-11-10"
    assert read_medication(validity, knowledge.terminology, index, statuses).ended_at.date().isoformat() == "2026-10-31"
    assert read_medication(request("stopped"), knowledge.terminology, index, statuses).ended_at is None


def test_routes_come_from_codes_and_words(knowledge):
    nasal = request("active", dosageInstruction=[{"route": {"coding": [{"code": "46713006"}]}}])
    oral = request("active", dosageInstruction=[{"text": "take by mouth at night"}])
    index = MedicationIndex()
    assert read_medication(nasal, knowledge.terminology, index, knowledge.statuses).routes == {"nasal"}
    assert read_medication(oral, knowledge.terminology, index, knowledge.statuses).routes == {"oral"}


def condition(clinical=None, verification=None):
    resource = {"resourceType": "Condition", "code": {"text": "cerebral aneurysm"}}
    if clinical:
        resource["clinicalStatus"] = {"coding": [{"code": clinical}]}
    if verification:
        resource["verificationStatus"] = {"coding": [{"code": verification}]}
    return resource


def test_conditions_are_active_past_or_ignored(knowledge):
    statuses = knowledge.statuses
    assert read_condition(condition("active"), statuses).active
    assert read_condition(condition(), statuses).active
    resolved = read_condition(condition("resolved"), statuses)
    assert resolved.past and not resolved.active
    assert read_condition(condition("active", "refuted"), statuses) is None
    assert read_condition(condition("active", "entered-in-error"), statuses) is None


def test_summary_lists_names_while_they_fit_then_counts_the_rest():
    names = [f"medication-number-{n}" for n in range(12)]
    text = summary("Monitor", "ketamine", names, "serotonergic load, blood pressure")
    assert len(text) < 140 and text.startswith("Monitor ketamine with medication-number-0")
    assert text.endswith("more: serotonergic load, blood pressure")
