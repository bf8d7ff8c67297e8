"""Medications are normalised to ingredients from codes of any term type, or from names in their text."""

from __future__ import annotations

import pytest

from cds_hooks.fhir_json import RXNORM
from cds_hooks.terminology import Ingredient, Product, RouteWords, Terminology


def _coding(code: str, system: str = RXNORM) -> list[dict[str, str]]:
    return [{"system": system, "code": code}]


def _names(matches) -> list[str]:
    return sorted(match.ingredient.name for match in matches or ())


@pytest.mark.parametrize(
    ("code", "tty", "ingredients"),
    [
        ("8123", "IN", ["phenelzine"]),
        ("312938", "SCD", ["sertraline"]),
        ("141928", "SBD", ["alprazolam"]),
        ("2201623", "SCDF", ["esketamine"]),
        ("2201625", "SBDF", ["esketamine"]),
        ("751563", "GPCK", ["lamotrigine"]),
        ("2272622", "BPCK", ["diazepam"]),
        ("1431083", "SBD", ["buprenorphine", "naloxone"]),
        ("2611260", "SCD", ["bupropion", "dextromethorphan"]),
        ("2570392", "SCD", ["olanzapine", "samidorphan"]),
        ("759494", "GPCK", ["chlorpheniramine", "phenylephrine", "pseudoephedrine"]),
    ],
)
def test_a_packaged_code_of_any_term_type_gives_every_ingredient(knowledge, code, tty, ingredients):
    assert knowledge.terminology.product(code).tty == tty
    matches = knowledge.terminology.from_codings(_coding(code))
    assert _names(matches) == ingredients
    assert {match.via for match in matches} == {"code"}


def test_precise_and_multiple_ingredient_codes_read_like_any_other_concept():
    table = Terminology(
        [
            Product("1", "IN", "sertraline", (Ingredient("sertraline", "1"),)),
            Product("2", "PIN", "sertraline hydrochloride", (Ingredient("sertraline", "1"),)),
            Product("3", "MIN", "buprenorphine / naloxone", (Ingredient("buprenorphine"), Ingredient("naloxone"))),
        ],
        {},
    )
    assert _names(table.from_codings(_coding("2"))) == ["sertraline"]
    assert _names(table.from_codings(_coding("3"))) == ["buprenorphine", "naloxone"]


def test_an_rxnorm_code_sent_with_its_oid_is_read(knowledge):
    assert _names(knowledge.terminology.from_codings(_coding("8123", "urn:oid:2.16.840.1.113883.6.88"))) == [
        "phenelzine"
    ]


def test_codes_of_other_systems_and_unknown_codes_give_no_answer(knowledge):
    assert knowledge.terminology.from_codings(_coding("0071-0270-24", "http://hl7.org/fhir/sid/ndc")) is None
    assert knowledge.terminology.from_codings(_coding("99999999")) is None


def test_the_resolver_is_asked_only_about_codes_the_tables_lack(knowledge):
    asked = []

    def resolver(code):
        asked.append(code)
        return (Ingredient("lithium carbonate", "42351"),)

    assert _names(knowledge.terminology.from_codings(_coding("312938"), resolver)) == ["sertraline"]
    assert asked == []
    matches = knowledge.terminology.from_codings(_coding("99999999"), resolver)
    assert asked == ["99999999"]
    assert [(m.ingredient.name, m.via) for m in matches] == [("lithium", "resolver")]


def test_an_ingredient_the_names_do_not_know_is_kept_as_the_resolver_named_it(knowledge):
    matches = knowledge.terminology.from_codings(_coding("99999999"), lambda code: (Ingredient("Metformin", "6809"),))
    assert [(m.ingredient.name, m.ingredient.rxcui) for m in matches] == [("metformin", "6809")]


@pytest.mark.parametrize(
    ("text", "ingredients"),
    [
        ("sertraline hydrochloride 50 mg tablet", ["sertraline"]),
        ("SERTRALINE HCL 50MG TAB", ["sertraline"]),
        ("Nardil 15 mg tablet", ["phenelzine"]),
        ("PARNATE", ["tranylcypromine"]),
        ("Emsam 6 mg/24 hr patch", ["selegiline"]),
        ("Xanax XR 1 mg", ["alprazolam"]),
        ("Adderall XR 20 mg", ["amphetamine", "dextroamphetamine"]),
        ("dextroamphetamine-amphetamine ER 20 mg", ["amphetamine", "dextroamphetamine"]),
        ("Spravato 56 mg", ["esketamine"]),
        ("S-ketamine 25 mg", ["esketamine"]),
        ("Ketalar 10 mg/mL", ["ketamine"]),
        ("MDMA", ["mdma"]),
        ("ecstasy at weekends", ["mdma"]),
        ("Molly", ["mdma"]),
        ("magic mushrooms", ["psilocybin"]),
        ("lithium carbonate 300 mg", ["lithium"]),
        ("St. John's Wort 300 mg", ["st. john's wort extract"]),
        ("St John\u2019s wort", ["st. john's wort extract"]),
        ("Suboxone 8-2 mg film", ["buprenorphine", "naloxone"]),
        ("Claritin-D 12 Hour", ["pseudoephedrine"]),
        ("Claritin D", ["pseudoephedrine"]),
        ("Sudafed PE 10 mg", ["phenylephrine"]),
        ("Sudafed 30 mg", ["pseudoephedrine"]),
        ("fluticasone furoate nasal", ["fluticasone furoate"]),
        ("Flonase", ["fluticasone propionate"]),
        ("rifampicin 600 mg", ["rifampin"]),
        ("pethidine 50 mg", ["meperidine"]),
        ("methylthioninium chloride", ["methylene blue"]),
        ("ethanol", ["ethanol"]),
        ("alcohol", ["ethanol"]),
    ],
)
def test_names_in_text_give_their_ingredients(knowledge, text, ingredients):
    assert _names(knowledge.terminology.from_text(text)) == ingredients


@pytest.mark.parametrize(
    ("text", "not_this"),
    [
        ("esketamine 28 mg", "ketamine"),
        ("arketamine (investigational)", "ketamine"),
        ("norketamine level", "ketamine"),
        ("desvenlafaxine 50 mg", "venlafaxine"),
        ("escitalopram 10 mg", "citalopram"),
        ("levomilnacipran 40 mg", "milnacipran"),
        ("dexmethylphenidate 10 mg", "methylphenidate"),
        ("lisdexamfetamine 30 mg", "amphetamine"),
        ("methamphetamine 5 mg", "amphetamine"),
        ("pseudoephedrine 30 mg", "ephedrine"),
        ("norepinephrine 4 mg/250 mL", "epinephrine"),
        ("methylnaltrexone 12 mg", "naltrexone"),
        ("naloxegol 25 mg", "naloxone"),
        ("rimantadine 100 mg", "amantadine"),
        ("hydroxychloroquine 200 mg", "hydroxyzine"),
        ("Somatuline Depot 120 mg", "carisoprodol"),
        ("isopropyl alcohol 70% swab", "ethanol"),
        ("Alcohol, isopropyl 70%", "ethanol"),
        ("rubbing alcohol", "ethanol"),
        ("benzyl alcohol preserved saline", "ethanol"),
        ("polyvinyl alcohol eye drops", "ethanol"),
        ("guaifenesin syrup, alcohol-free", "ethanol"),
        ("alcohol free mouthwash", "ethanol"),
        ("grapefruit seed extract", "grapefruit juice"),
        ("molluscum contagiosum", "mdma"),
        ("Sudafed PE", "pseudoephedrine"),
    ],
)
def test_a_longer_or_different_word_does_not_hit_a_name_inside_it(knowledge, text, not_this):
    assert not_this not in _names(knowledge.terminology.from_text(text))


def test_brand_names_that_are_ordinary_words_match_only_as_whole_words(knowledge):
    assert _names(knowledge.terminology.from_text("Soma 350 mg")) == ["carisoprodol"]
    assert _names(knowledge.terminology.from_text("Sonata 10 mg")) == ["zaleplon"]
    assert _names(knowledge.terminology.from_text("somatropin; sonatas; mollycoddle; ecstatic")) == []


def test_a_brand_that_implies_a_route_carries_it(knowledge):
    (valtoco,) = knowledge.terminology.from_text("Valtoco 10 mg")
    assert valtoco.routes == {"nasal"}
    (diastat,) = knowledge.terminology.from_text("Diastat AcuDial")
    assert diastat.routes == {"rectal"}


def test_a_coded_product_carries_the_route_its_name_states(knowledge):
    (match,) = knowledge.terminology.from_codings(_coding("1797907"))
    assert match.routes == {"nasal"}


def test_a_card_names_the_brand_first_and_the_generic_alone(knowledge):
    (brand,) = knowledge.terminology.from_text("Nardil 15 mg")
    (generic,) = knowledge.terminology.from_text("Sertraline 50 mg")
    assert (brand.label, generic.label) == ("Nardil (phenelzine)", "sertraline")


def test_look_alike_names_give_no_ingredient_and_stop_the_shorter_name(knowledge):
    assert _names(knowledge.terminology.from_text("isopropyl alcohol 70%")) == []
    assert _names(knowledge.terminology.from_text("isopropyl alcohol 70% swab; alcohol 5% in dextrose")) == ["ethanol"]


def _table() -> Terminology:
    return Terminology([Product("8123", "IN", "phenelzine", (Ingredient("phenelzine", "8123"),))],
                       {"Nardil": ["phenelzine"], "phenelzine": ["phenelzine"]})


@pytest.mark.parametrize(
    ("concept", "ingredients", "named"),
    [
        ({"coding": _coding("8123")}, ["phenelzine"], False),
        ({"text": "Nardil 15 mg"}, ["phenelzine"], True),
        ({"coding": [{"system": RXNORM, "code": "1", "display": "atorvastatin 40 MG"}]}, [], True),
        ({"coding": _coding("1")}, [], False),
        ({"text": "  "}, [], False),
        ({"text": {"div": "Nardil"}, "coding": [{"system": RXNORM, "code": ["8123"], "display": "Nardil"}]},
         ["phenelzine"], True),
        ({"coding": {"system": RXNORM, "code": "8123"}, "text": "phenelzine"}, ["phenelzine"], True),
        ({"coding": ["8123", None, {"system": RXNORM, "code": "8123"}]}, ["phenelzine"], False),
    ],
)
def test_a_concept_reads_the_same_the_first_time_and_when_remembered(concept, ingredients, named):
    table = _table()
    first, again = table.read_concept(concept), table.read_concept(concept)
    assert (_names(first.ingredients), first.named) == (ingredients, named)
    assert (_names(again.ingredients), again.named) == (ingredients, named)


def test_concepts_that_differ_only_where_they_are_malformed_do_not_share_a_reading():
    table = _table()
    assert _names(table.read_concept({"text": "Nardil", "coding": [{"code": 8123}]}).ingredients) == ["phenelzine"]
    assert _names(table.read_concept({"text": "aspirin", "coding": [{"code": 8123}]}).ingredients) == []
    assert _names(table.read_concept({"coding": [{"system": RXNORM, "code": "8123"}]}).ingredients) == ["phenelzine"]
    assert _names(table.read_concept({"coding": [{"system": RXNORM, "display": "8123"}]}).ingredients) == []


def test_the_remembered_readings_stay_within_their_bound(monkeypatch):
    monkeypatch.setattr("cds_hooks.terminology.SCAN_CACHE_SIZE", 8)
    table = _table()
    for number in range(50):
        assert table.read_concept({"text": f"drug {number}"}).ingredients == ()
    assert _names(table.read_concept({"text": "Nardil"}).ingredients) == ["phenelzine"]
    assert len(table._readings) <= 8
    long_text = "Nardil " + "x" * 300
    assert _names(table.read_concept({"text": long_text}).ingredients) == ["phenelzine"]
    assert (long_text,) not in table._readings


def test_a_concept_of_many_empty_codings_is_read_but_not_remembered():
    table = _table()
    concept = {"text": "Nardil", "coding": [{} for _ in range(1000)]}
    assert _names(table.read_concept(concept).ingredients) == ["phenelzine"]
    assert len(table._readings) == 0


def test_an_unknown_rxnorm_code_goes_to_the_resolver_every_time_even_when_remembered():
    asked = []

    def resolver(code):
        asked.append(code)
        return (Ingredient("phenelzine", "8123"),)

    table = _table()
    for _ in range(3):
        assert _names(table.read_concept({"coding": _coding("99")}, resolver).ingredients) == ["phenelzine"]
    assert asked == ["99", "99", "99"]
    assert table.read_concept({"coding": _coding("99")}).ingredients == ()


@pytest.mark.parametrize(
    ("text", "routes"),
    [
        ("fluticasone propionate 0.05 MG/ACTUAT Metered Dose Nasal Spray", ["nasal"]),
        ("ketamine 25 mg troche, dissolve under the tongue", ["sublingual"]),
        ("alprazolam 0.5 MG (C-IV)", []),
        ("1 patch daily; if missed take by mouth", ["oral", "transdermal"]),
        ("2 drops into both eyes", ["ophthalmic"]),
    ],
)
def test_routes_are_read_from_text_with_the_knowledge_bases_route_words(knowledge, text, routes):
    assert sorted(knowledge.terminology.routes.in_text(text)) == routes


def test_a_coded_route_is_read_with_the_knowledge_bases_route_codes(knowledge):
    assert knowledge.terminology.routes.codes["46713006"] == "nasal"


def test_without_route_words_no_route_is_read_from_text():
    assert RouteWords().in_text("by mouth, nasal spray") == frozenset()
