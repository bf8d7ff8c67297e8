"""How many cards an answer has and when the "check incomplete" notice appears: one Monitor card per ordered drug
(or one per rule, as a site chooses), no card for an empty order form, and no notice for a record whose drug,
status and dates were read although some other part of it is not valid FHIR."""

from __future__ import annotations

import copy

from service import create_app
from service.config import Settings
from tests.cardcheck import assert_valid_card, card_rule_ids
from tests.conftest import NOW
from tests.scrape import scraped

SIGN, SELECT = "/cds-services/ketamine-order-sign", "/cds-services/ketamine-order-select"


def _cards(client, body, path=SIGN):
    response = client.post(path, json=body)
    assert response.status_code == 200, response.get_json()
    return response.get_json()["cards"]


def test_monitor_findings_of_one_ordered_drug_share_one_card_a_line_each(client, fixture):
    [card] = _cards(client, fixture("order-sign-esketamine-serotonergic"))
    assert_valid_card(card)
    assert card["indicator"] == "info" and card["summary"].startswith("Monitor esketamine with tramadol")
    assert card_rule_ids(card) == ["serotonergic-opioids", "ssri"]
    listed = [line for line in card["detail"].splitlines() if line.startswith("- ")]
    assert len(listed) == 2 and "tramadol" in listed[0] and "sertraline" in listed[1]
    assert card["detail"].count("Serotonin-toxicity watch") == 1


def test_a_site_may_ask_for_one_monitor_card_per_rule(tmp_path, fixture):
    app = create_app(Settings(database_url=f"sqlite:///{tmp_path}/c.sqlite3", monitor_cards="per-rule"),
                     clock=lambda: NOW)
    cards = _cards(app.test_client(), fixture("order-sign-esketamine-serotonergic"))
    assert [card_rule_ids(card) for card in cards] == [["serotonergic-opioids"], ["ssri"]]
    assert sum("Serotonin-toxicity watch" in card["detail"] for card in cards) == 1


def test_avoid_and_hold_keep_a_card_each_before_the_monitor_card(client, fixture):
    body = fixture("order-sign-esketamine-maoi")
    cards = _cards(client, body)
    assert [card["indicator"] for card in cards] == ["critical", "info"]


def test_an_empty_order_form_is_no_order_at_all(client, fixture):
    body = fixture("order-sign-esketamine-maoi")
    draft = body["context"]["draftOrders"]["entry"][0]["resource"]
    draft.pop("medicationCodeableConcept", None)
    draft.pop("medicationReference", None)
    assert _cards(client, body) == []
    draft["medicationCodeableConcept"] = {}
    assert _cards(client, body) == []
    select = copy.deepcopy(body)
    select["hook"] = "order-select"
    select["context"]["selections"] = [f"MedicationRequest/{draft['id']}"]
    assert _cards(client, select, SELECT) == []


def test_a_draft_whose_drug_cannot_be_told_still_gets_the_notice(client, fixture):
    body = fixture("order-sign-esketamine-maoi")
    draft = body["context"]["draftOrders"]["entry"][0]["resource"]
    draft["medicationCodeableConcept"] = {"coding": [{"system": "http://www.nlm.nih.gov/research/umls/rxnorm",
                                                      "code": "99999999"}]}
    [notice] = _cards(client, body)
    assert notice["summary"] == "Interaction check incomplete: 1 record could not be read"


def test_a_category_object_in_place_of_a_list_is_counted_not_shown(client, fixture):
    body = fixture("order-sign-esketamine-maoi")
    draft = body["context"]["draftOrders"]["entry"][0]["resource"]
    draft["category"] = {"coding": [{"system": "http://terminology.hl7.org/CodeSystem/medicationrequest-category",
                                     "code": "outpatient"}]}
    before = scraped(client, "ketamine_cds_structural_flaws_total", resource="MedicationRequest", element="category")
    cards = _cards(client, body)
    assert [rule for card in cards for rule in card_rule_ids(card)] == ["maoi", "ssri"]
    assert scraped(client, "ketamine_cds_structural_flaws_total", resource="MedicationRequest",
                   element="category") == before + 1


def test_a_category_object_naming_anaesthesia_is_read(client, fixture):
    body = fixture("order-sign-ketamine-benzodiazepine")
    draft = body["context"]["draftOrders"]["entry"][0]["resource"]
    draft["category"] = {"text": "procedural sedation"}
    [card] = _cards(client, body)
    assert card["summary"].startswith("Monitor ketamine")


def test_a_flaw_where_the_advice_is_read_from_is_still_shown(client, fixture):
    body = fixture("order-sign-esketamine-maoi")
    body["prefetch"]["medicationRequests"]["entry"][0]["resource"]["status"] = 7
    cards = _cards(client, body)
    assert cards[-1]["summary"].startswith("Interaction check incomplete")
