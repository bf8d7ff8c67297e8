"""Conditions count while active (a past one only where history counts); codes match in any common spelling."""

from __future__ import annotations

import pytest

from cds_hooks.conditions import read_condition
from tests.builders import condition


@pytest.mark.parametrize(
    ("clinical", "active", "past"),
    [
        ("active", True, False),
        ("recurrence", True, False),
        ("relapse", True, False),
        (None, True, False),
        ("inactive", False, True),
        ("remission", False, True),
        ("resolved", False, True),
    ],
)
def test_clinical_status_decides_active_or_past(knowledge, clinical, active, past):
    fact = read_condition(condition(icd="I10", clinical=clinical), knowledge.statuses)
    assert (fact.active, fact.past) == (active, past)


@pytest.mark.parametrize("verification", ["refuted", "entered-in-error"])
def test_a_refuted_or_mistaken_condition_is_not_a_fact(knowledge, verification):
    assert read_condition(condition(icd="I10", verification=verification), knowledge.statuses) is None


@pytest.mark.parametrize(
    ("spec", "valueset"),
    [
        ({"icd": "I67.1"}, "aneurysmal-vascular-disease"),
        ({"icd": "i671"}, "aneurysmal-vascular-disease"),
        ({"icd": "i67.1"}, "aneurysmal-vascular-disease"),
        ({"icd": "I71.40", "system": "urn:oid:2.16.840.1.113883.6.90"}, "aneurysmal-vascular-disease"),
        ({"snomed": "234142008", "system": "urn:oid:2.16.840.1.113883.6.96"}, "arteriovenous-malformation"),
        ({"text": "h/o intracerebral haemorrhage"}, "intracerebral-haemorrhage"),
        ({"text": "HTN"}, "hypertension"),
        ({"text": "Bipolar I disorder, current episode manic, severe, with psychotic features"}, "psychosis"),
    ],
)
def test_a_condition_matches_by_code_in_any_spelling_or_by_words(knowledge, spec, valueset):
    assert knowledge.condition_valuesets[valueset].matches(read_condition(condition(**spec), knowledge.statuses))


@pytest.mark.parametrize(
    ("text", "valueset"),
    [
        ("Major depressive disorder, single episode, severe without psychotic features", "psychosis"),
        ("Pulmonary arterial hypertension", "hypertension"),
        ("Ocular hypertension, both eyes", "hypertension"),
        ("Elevated blood pressure reading without diagnosis of hypertension", "hypertension"),
        ("Pregnancy test negative", "pregnancy"),
        ("Tobacco use disorder", "substance-use-disorder"),
        ("Hepatitis B vaccination complete", "liver-disease"),
        ("Retinal microaneurysms", "aneurysmal-vascular-disease"),
    ],
)
def test_a_phrase_that_only_looks_like_a_member_does_not_match(knowledge, text, valueset):
    fact = read_condition(condition(text=text), knowledge.statuses)
    assert not knowledge.condition_valuesets[valueset].matches(fact)


def test_an_excluded_phrase_does_not_hide_a_real_member_beside_it(knowledge):
    fact = read_condition(condition(text="Pulmonary hypertension; essential hypertension"), knowledge.statuses)
    assert knowledge.condition_valuesets["hypertension"].matches(fact)


def test_nicotine_is_not_a_substance_use_disorder_code(knowledge):
    nicotine = read_condition(condition(icd="F17.210"), knowledge.statuses)
    assert not knowledge.condition_valuesets["substance-use-disorder"].matches(nicotine)
