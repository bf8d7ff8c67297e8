"""Recognition gaps: history in a note is not anaesthetic use, a family history is not the patient's disease,
close misspellings of tracked drug names are read (and said to be), and an unknown status is evaluated as current
and named on the notice card."""

from __future__ import annotations

import json
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from cds_hooks.knowledge import ORDERED_DRUGS, load_knowledge
from cds_hooks.terminology import _one_edit
from tests.builders import advice_by_rule, condition, hook_request, medication, ordered, run
from tests.conftest import NOW

KB = load_knowledge()
NOTICE = "Interaction check incomplete"


def _with_note(order: dict[str, Any], note: str) -> dict[str, Any]:
    return {**order, "note": [{"text": note}]}


def _psychiatric_ketamine(note: str | None = None) -> dict[str, Any]:
    order = ordered("ketamine", reason="treatment-resistant depression")
    return _with_note(order, note) if note else order


@pytest.mark.parametrize(
    "note",
    [
        "Prior general anesthesia (2019 appendectomy) complicated by emergence delirium",
        "Prior general anesthesia (2019) uneventful",
        "History of anaesthesia reaction in 2015; none since",
        "Previous procedural sedation with midazolam was well tolerated",
    ],
)
def test_a_history_of_anaesthesia_in_the_note_leaves_the_benzodiazepine_hold(note):
    body = hook_request(_psychiatric_ketamine(note), medications=[medication(text="lorazepam 1 mg tablet")])
    assert advice_by_rule(run(body, KB, NOW)) == {"benzodiazepines": "hold"}


@pytest.mark.parametrize(
    "order",
    [
        ordered("ketamine", reason="procedural sedation for fracture reduction"),
        ordered("ketamine", reason="induction of anaesthesia"),
        {**ordered("ketamine"), "category": [{"text": "anesthesia"}]},
    ],
    ids=["reason: procedural sedation", "reason: induction", "category: anesthesia"],
)
def test_what_the_order_is_for_still_makes_it_anaesthetic_use(order):
    body = hook_request(order, medications=[medication(text="lorazepam 1 mg tablet")])
    assert advice_by_rule(run(body, KB, NOW)) == {"benzodiazepines": "monitor"}


def test_anaesthesia_in_the_note_alone_is_not_what_the_order_is_for():
    body = hook_request(_psychiatric_ketamine("Patient asks about anesthesia for dental work next month"),
                        medications=[medication(text="alprazolam 0.5 mg tablet")])
    assert advice_by_rule(run(body, KB, NOW)) == {"benzodiazepines": "hold"}


FAMILY_HISTORIES = [
    {"icd": "Z82.49", "display": "Family history of ischemic heart disease and other circulatory diseases",
     "text": "Family history of cerebral aneurysm (mother)"},
    {"icd": "Z82.49", "display": "Family history of cerebral aneurysm"},
    {"text": "Family history of cerebral aneurysm (mother)"},
    {"text": "FH of intracranial aneurysm"},
    {"text": "Mother: cerebral aneurysm"},
    {"text": "father - intracerebral haemorrhage at 60"},
    {"text": "fhx psychosis (brother)"},
    {"snomed": "416471007", "display": "Family history of clinical finding", "text": "aortic aneurysm"},
    *({"snomed": code, "text": "aortic aneurysm"} for code in ("57177007", "416471007", "281666001")),
]


@pytest.mark.parametrize("drug", ORDERED_DRUGS)
@pytest.mark.parametrize("spec", FAMILY_HISTORIES, ids=lambda spec: spec.get("text") or spec.get("display"))
def test_a_family_history_never_fires_a_condition_rule(drug, spec):
    body = hook_request(ordered(drug), conditions=[condition(**spec)])
    assert run(body, KB, NOW) == []


def test_every_family_history_code_has_its_source_recorded():
    family = KB.family_history
    assert family is not None and family.snomed
    for code in family.snomed:
        assert code in family.source


@pytest.mark.parametrize("drug", ORDERED_DRUGS)
def test_the_patients_own_aneurysm_still_fires(drug):
    body = hook_request(ordered(drug), conditions=[condition(icd="I67.1", text="Cerebral aneurysm, nonruptured")])
    assert advice_by_rule(run(body, KB, NOW)) == {"aneurysmal-vascular-disease": "avoid"}


@pytest.mark.parametrize("drug", ORDERED_DRUGS)
@pytest.mark.parametrize(
    ("text", "rule", "ingredient"),
    [
        ("clonazapam 0.5 mg qhs prn", "benzodiazepines", "clonazepam"),
        ("sertaline 50mg daily", "ssri", "sertraline"),
        ("venlafaxin 75 mg", "snri", "venlafaxine"),
        ("quetiapene 25 mg at night", "antipsychotics", "quetiapine"),
    ],
)
def test_a_close_misspelling_is_read_and_said_on_the_card(drug, text, rule, ingredient):
    answer = run(hook_request(ordered(drug), medications=[medication(text=text)]), KB, NOW)
    assert rule in advice_by_rule(answer)
    card = next(card for card in answer if card["extension"]["org.ketamine-cds"].get("ruleId") == rule)
    misspelt = text.split()[0]
    assert f"{misspelt} ({ingredient})" in card["summary"]
    assert f"read as a likely misspelling of {ingredient}" in card["detail"]


@pytest.mark.parametrize(
    "text",
    [
        "clonidine 0.1 mg tablet",  # a drug of its own, two letters from clozapine
        "lisinopril 10 mg",
        "sertaconazole 2% cream",
        "doxycycline 100 mg",
        "estradiol 1 mg",
        "diazoxide 50 mg",
        "clonazapan",  # two edits from clonazepam
        "sertral",  # too short a fragment to call
        "lorazepa",  # a short name: not guessed at
    ],
)
def test_look_alikes_and_distant_spellings_are_not_read_as_tracked_drugs(text):
    assert run(hook_request(ordered("ketamine"), medications=[medication(text=text)]), KB, NOW) == []


@pytest.mark.parametrize("drug", ORDERED_DRUGS)
@pytest.mark.parametrize("status", ["taking", "Active", "current"])
def test_an_unknown_status_is_evaluated_as_current_and_named_on_the_notice(drug, status):
    statement = medication(kind="MedicationStatement", text="clonazepam 0.5 mg", status=status, ident="ms-taking")
    answer = run(hook_request(ordered(drug), statements=[statement]), KB, NOW)
    assert advice_by_rule(answer) == {"benzodiazepines": "hold"}
    notice = answer[-1]
    assert notice["summary"].startswith(NOTICE)
    assert "MedicationStatement/ms-taking" in json.dumps(notice["extension"])
    assert "MedicationStatement/ms-taking" not in notice["detail"]
    assert "not a FHIR R4 MedicationStatement status" in notice["detail"]
    assert "evaluated as current" in notice["detail"]


@pytest.mark.parametrize("status", [None, "", "  ", 3])
def test_a_missing_status_is_evaluated_as_current_and_named(status):
    statement = medication(kind="MedicationStatement", text="clonazepam 0.5 mg", ident="ms-none")
    if status is None:
        del statement["status"]
    else:
        statement["status"] = status
    answer = run(hook_request(ordered("ketamine"), statements=[statement]), KB, NOW)
    assert advice_by_rule(answer) == {"benzodiazepines": "hold"}
    assert "no status" in answer[-1]["detail"]


@pytest.mark.parametrize("status", ["not-taken", "entered-in-error"])
def test_known_statuses_that_never_count_still_do_not(status):
    statement = medication(kind="MedicationStatement", text="clonazepam 0.5 mg", status=status)
    assert run(hook_request(ordered("ketamine"), statements=[statement]), KB, NOW) == []


def test_an_unknown_status_on_a_drug_without_rules_gives_no_notice():
    statement = medication(kind="MedicationStatement", text="lisinopril 10 mg", status="taking")
    assert run(hook_request(ordered("ketamine"), statements=[statement]), KB, NOW) == []


def _osa_distance(a: str, b: str) -> int:
    """Optimal string alignment distance, the plain dynamic programme, to check the fast test against."""
    d = [[0] * (len(b) + 1) for _ in range(len(a) + 1)]
    for i in range(len(a) + 1):
        d[i][0] = i
    for j in range(len(b) + 1):
        d[0][j] = j
    for i in range(1, len(a) + 1):
        for j in range(1, len(b) + 1):
            d[i][j] = min(d[i - 1][j] + 1, d[i][j - 1] + 1, d[i - 1][j - 1] + (a[i - 1] != b[j - 1]))
            if i > 1 and j > 1 and a[i - 1] == b[j - 2] and a[i - 2] == b[j - 1]:
                d[i][j] = min(d[i][j], d[i - 2][j - 2] + 1)
    return d[len(a)][len(b)]


@settings(max_examples=300, deadline=None)
@given(st.text(alphabet="abcz", max_size=7), st.text(alphabet="abcz", max_size=7))
def test_one_edit_agrees_with_the_edit_distance(a, b):
    assert _one_edit(a, b) == (_osa_distance(a, b) == 1)


@settings(max_examples=200, deadline=None)
@given(st.text(max_size=60))
def test_any_text_reads_without_error_and_a_misspelling_is_always_a_long_word(text):
    for match in KB.terminology.from_text(text):
        if match.via == "misspelling":
            assert match.term is not None and len(match.term) >= 9 and match.term.isalpha()
