"""MedicationRequests and MedicationStatements become the same facts: ingredients, status, last dose, routes."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from cds_hooks.medications import MedicationIndex, identify, identify_relevant, read_medication
from cds_hooks.statuses import CURRENT, ENDED, EXCLUDED
from tests.builders import medication


def _read(resource, knowledge, **kwargs):
    return read_medication(resource, knowledge.terminology, MedicationIndex(), knowledge.statuses, **kwargs)


@pytest.mark.parametrize(
    ("kind", "status", "expected"),
    [
        ("MedicationRequest", "active", CURRENT),
        ("MedicationRequest", "on-hold", CURRENT),
        ("MedicationRequest", "unknown", CURRENT),
        ("MedicationRequest", "stopped", ENDED),
        ("MedicationRequest", "completed", ENDED),
        ("MedicationRequest", "cancelled", EXCLUDED),
        ("MedicationRequest", "entered-in-error", EXCLUDED),
        ("MedicationRequest", "draft", EXCLUDED),
        ("MedicationStatement", "active", CURRENT),
        ("MedicationStatement", "intended", CURRENT),
        ("MedicationStatement", "on-hold", CURRENT),
        ("MedicationStatement", "stopped", ENDED),
        ("MedicationStatement", "completed", ENDED),
        ("MedicationStatement", "not-taken", EXCLUDED),
        ("MedicationStatement", "entered-in-error", EXCLUDED),
    ],
)
def test_status_decides_whether_a_medication_counts(knowledge, kind, status, expected):
    assert _read(medication(text="sertraline 50 mg", kind=kind, status=status), knowledge).status == expected


def test_a_draft_of_this_session_counts_unless_cancelled(knowledge):
    assert _read(medication(text="sertraline", status="draft"), knowledge, draft=True).status == CURRENT
    assert _read(medication(text="sertraline", status="cancelled"), knowledge, draft=True).status == EXCLUDED


@pytest.mark.parametrize(
    ("extra", "last_dose"),
    [
        (
            {"dosageInstruction": [{"timing": {"repeat": {"boundsPeriod": {"end": "2026-11-10"}}}}]},
            datetime(2026, 11, 10, 23, 59, 59, 999999, tzinfo=UTC),
        ),
        (
            {"dosageInstruction": [{"timing": {"repeat": {"boundsPeriod": {"end": "2026-10"}}}}]},
            datetime(2026, 10, 31, 23, 59, 59, 999999, tzinfo=UTC),
        ),
        (
            {
                "dosageInstruction": [
                    {"timing": {"repeat": {"boundsPeriod": {"end": "2026-11-01"}}}},
                    {"timing": {"repeat": {"boundsPeriod": {"end": "2026-11-12T08:00:00Z"}}}},
                ]
            },
            datetime(2026, 11, 12, 8, tzinfo=UTC),
        ),
        (
            {
                "authoredOn": "2026-11-01",
                "dosageInstruction": [{"timing": {"repeat": {"boundsDuration": {"value": 2, "code": "wk"}}}}],
            },
            datetime(2026, 11, 15, 23, 59, 59, 999999, tzinfo=UTC),
        ),
        (
            {"dispenseRequest": {"validityPeriod": {"start": "2026-10-01", "end": "2026-11-05"}}},
            datetime(2026, 11, 5, 23, 59, 59, 999999, tzinfo=UTC),
        ),
        ({}, None),
    ],
)
def test_the_last_dose_comes_from_timing_bounds_or_the_dispense_validity(knowledge, extra, last_dose):
    resource = medication(text="phenelzine 15 mg", status="stopped", extra=extra)
    assert _read(resource, knowledge).ended_at == last_dose


def test_a_statement_ends_with_its_effective_period(knowledge):
    resource = medication(
        text="phenelzine",
        kind="MedicationStatement",
        status="completed",
        extra={"effectivePeriod": {"start": "2026-01-01", "end": "2026-11-02"}},
    )
    assert _read(resource, knowledge).ended_at.date().isoformat() == "2026-11-02"


def test_current_therapy_has_no_end_date(knowledge):
    resource = medication(text="phenelzine", ended="2026-11-10")
    assert _read(resource, knowledge).ended_at is None


@pytest.mark.parametrize(
    ("spec", "routes"),
    [
        ({"text": "midazolam 5 mg", "route": "nasal"}, {"nasal"}),
        ({"text": "diazepam 10 mg", "dosage_text": "10 mg rectally once for seizures"}, {"rectal"}),
        ({"text": "ketamine 100 mg troche"}, {"sublingual"}),
        ({"text": "ketamine 50 mg", "dosage_text": "take by mouth before the session"}, {"oral"}),
        ({"text": "Valtoco 15 mg"}, {"nasal"}),
        ({"code": "1797907", "display": "fluticasone propionate 0.05 MG/ACTUAT Metered Dose Nasal Spray"}, {"nasal"}),
        ({"text": "alprazolam 0.5 mg (C-IV)"}, set()),
    ],
)
def test_routes_come_from_the_dosage_the_names_and_the_product(knowledge, spec, routes):
    assert _read(medication(**spec), knowledge).routes == routes


def test_a_contained_medication_reference_is_resolved(knowledge):
    resource = medication(
        extra={
            "contained": [
                {
                    "resourceType": "Medication",
                    "id": "m",
                    "code": {"coding": [{"system": "http://www.nlm.nih.gov/research/umls/rxnorm", "code": "312347"}]},
                }
            ],
            "medicationReference": {"reference": "#m"},
        }
    )
    del resource["medicationCodeableConcept"]
    fact = _read(resource, knowledge)
    assert [m.ingredient.name for m in fact.ingredients] == ["phenelzine"]
    assert fact.problem is None


@pytest.mark.parametrize("reference", ["Medication/med-x", "https://ehr.example.org/fhir/Medication/med-x"])
def test_a_medication_elsewhere_in_the_request_is_resolved_by_relative_or_absolute_reference(knowledge, reference):
    index = MedicationIndex([{"resourceType": "Medication", "id": "med-x", "code": {"text": "Klonopin 1 mg"}}])
    resource = medication(extra={"medicationReference": {"reference": reference}})
    del resource["medicationCodeableConcept"]
    fact = read_medication(resource, knowledge.terminology, index, knowledge.statuses)
    assert [m.label for m in fact.ingredients] == ["Klonopin (clonazepam)"]


def test_a_medication_ingredient_reference_is_followed(knowledge):
    index = MedicationIndex(
        [
            {
                "resourceType": "Medication",
                "id": "mix",
                "code": {"text": "compounded capsule"},
                "ingredient": [{"itemReference": {"reference": "Medication/part"}}],
            },
            {"resourceType": "Medication", "id": "part", "code": {"text": "sertraline"}},
        ]
    )
    resource = medication(extra={"medicationReference": {"reference": "Medication/mix"}})
    del resource["medicationCodeableConcept"]
    fact = read_medication(resource, knowledge.terminology, index, knowledge.statuses)
    assert [m.ingredient.name for m in fact.ingredients] == ["sertraline"]


def test_an_unresolvable_reference_without_a_display_is_a_problem_to_report(knowledge):
    resource = medication(extra={"medicationReference": {"reference": "Medication/gone"}})
    del resource["medicationCodeableConcept"]
    fact = _read(resource, knowledge)
    assert fact.ingredients == ()
    assert fact.problem == "the medication it references could not be read" and fact.missing == "Medication/gone"


def test_an_unknown_but_readable_medication_is_not_a_problem(knowledge):
    fact = _read(medication(text="metformin 500 mg"), knowledge)
    assert (fact.ingredients, fact.problem) == ((), None)


def test_a_code_the_resolver_cannot_answer_falls_back_to_the_display(knowledge):
    resource = medication(code="99999999", display="Nardil 15 mg")
    fact = _read(resource, knowledge, resolver=lambda code: None)
    assert [(m.ingredient.name, m.via) for m in fact.ingredients] == [("phenelzine", "text")]


@pytest.mark.parametrize(
    ("resource", "relevant", "why"),
    [
        (medication(code="312938", display="sertraline 100 MG Oral Tablet"), True, None),
        (medication(text="Nardil 15 mg tablet"), True, None),
        (medication(code="197361", display="amlodipine 5 MG Oral Tablet"), False, None),
        (medication(text="a cream the pharmacy makes"), False, None),
        (medication(code="99999999"), True, "coded only by code"),
        ({"resourceType": "MedicationRequest", "status": "active"}, True, "names no medication"),
        ({"resourceType": "MedicationRequest", "status": "active",
          "medicationReference": {"reference": "Medication/gone"}}, True, "could not be read"),
        ({"resourceType": "MedicationRequest", "status": "active",
          "medicationReference": {"reference": "#sertraline"},
          "contained": [{"resourceType": "Medication", "id": "sertraline", "code": {"text": "sertraline"}}]},
         True, None),
    ],
)
def test_only_entries_that_name_an_interacting_drug_or_cannot_be_read_are_looked_at_further(
    knowledge, resource, relevant, why
):
    names = frozenset({"sertraline", "phenelzine"})
    drug = identify_relevant(resource, knowledge.terminology, MedicationIndex(), names)
    assert (drug is not None) == relevant
    if drug is not None:
        assert drug == identify(resource, knowledge.terminology, MedicationIndex())
        assert (drug.problem is None) if why is None else (why in drug.problem)
