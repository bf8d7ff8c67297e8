"""The order services through HTTP: which orders fire, what the cards say, in what order."""

import copy

import pytest

from tests.cardcheck import assert_valid_card, card_rule_ids

SIGN = "/cds-services/ketamine-order-sign"
SELECT = "/cds-services/ketamine-order-select"


def refer(order, target):
    """Make an order name its drug through ``medicationReference`` instead; the concept it had."""
    code = order.pop("medicationCodeableConcept")
    order["medicationReference"] = {"reference": target}
    return code


def cards_for(client, url, body):
    response = client.post(url, json=body)
    assert response.status_code == 200, response.get_json()
    cards = response.get_json()["cards"]
    for card in cards:
        assert_valid_card(card)
    return cards


def not_read(card):
    """The references of the records a notice card names, from its extension (never on screen)."""
    return [item.get("reference") for item in card["extension"]["org.ketamine-cds"]["notRead"]]


def rule_ids(cards):
    return [rule_id for card in cards for rule_id in card_rule_ids(card)]


def test_esketamine_with_a_brand_only_maoi_is_avoid_naming_brand_and_ingredient(client, fixture):
    cards = cards_for(client, SIGN, fixture("order-sign-esketamine-maoi"))
    assert rule_ids(cards) == ["maoi", "ssri"]
    maoi = cards[0]
    assert maoi["summary"].startswith("Avoid esketamine with Nardil (phenelzine)")
    assert maoi["indicator"] == "critical"
    action = maoi["suggestions"][0]["actions"][0]
    assert action == {
        "type": "delete",
        "description": action["description"],
        "resourceId": "MedicationRequest/draft-spravato",
    }
    assert "asks for blood-pressure monitoring, not avoidance" in maoi["detail"]
    assert "Serotonin-toxicity watch" in maoi["detail"]


def test_cards_come_in_order_avoid_hold_monitor(client, fixture):
    body = fixture("order-sign-esketamine-maoi")
    body["prefetch"]["medicationRequests"]["entry"].append(
        {"resource": {"resourceType": "MedicationRequest", "id": "ativan", "status": "active", "intent": "order",
                      "subject": {"reference": "Patient/fixture-maoi"},
                      "medicationCodeableConcept": {"text": "Ativan 1 mg tablet"}}}
    )
    words = [card["summary"].split()[0] for card in cards_for(client, SIGN, body)]
    assert words == ["Avoid", "Hold", "Monitor"]


def test_one_card_per_rule_names_every_implicated_co_medication(client, fixture):
    body = fixture("order-sign-esketamine-ssri")
    effexor = body["prefetch"]["medicationRequests"]["entry"][1]["resource"]
    effexor["medicationCodeableConcept"] = {"text": "Zoloft 50 mg tablet"}
    cards = cards_for(client, SIGN, body)
    assert rule_ids(cards) == ["ssri"]
    assert "escitalopram" in cards[0]["summary"] and "Zoloft (sertraline)" in cards[0]["summary"]
    implicated = cards[0]["extension"]["org.ketamine-cds"]["implicated"]
    assert {item["ingredient"] for item in implicated} == {"escitalopram", "sertraline"}
    assert {item["reference"] for item in implicated} == {"MedicationRequest/lexapro", "MedicationRequest/effexor"}


def test_spravato_written_only_in_text_is_recognised_as_esketamine(client, fixture):
    cards = cards_for(client, SIGN, fixture("order-sign-esketamine-ssri"))
    assert cards[0]["summary"].startswith("Monitor Spravato (esketamine) with")
    assert cards[0]["extension"]["org.ketamine-cds"]["orderedDrug"]["name"] == "esketamine"


def test_ketamine_with_a_benzodiazepine_is_hold_with_override_reasons(client, fixture):
    cards = cards_for(client, SIGN, fixture("order-sign-ketamine-benzodiazepine"))
    assert rule_ids(cards) == ["benzodiazepines"]
    assert cards[0]["summary"].startswith("Hold ketamine with alprazolam")
    assert cards[0]["indicator"] == "warning"
    assert "suggestions" not in cards[0]
    assert len(cards[0]["overrideReasons"]) >= 2
    assert "morning" in cards[0]["detail"]


def test_anaesthetic_ketamine_downgrades_the_benzodiazepine_card_to_monitor(client, fixture):
    body = fixture("order-sign-ketamine-benzodiazepine")
    draft = body["context"]["draftOrders"]["entry"][0]["resource"]
    draft["reasonCode"] = [{"text": "Induction of general anesthesia"}]
    cards = cards_for(client, SIGN, body)
    assert cards[0]["summary"].startswith("Monitor ketamine with alprazolam")
    assert "overrideReasons" not in cards[0]


def test_maoi_stopped_six_days_ago_still_blocks_ketamine_but_one_stopped_last_year_does_not(client, fixture):
    cards = cards_for(client, SELECT, fixture("order-select-ketamine-maoi-washout"))
    assert rule_ids(cards) == ["maoi"]
    assert "tranylcypromine" in cards[0]["summary"] and "phenelzine" not in cards[0]["summary"]
    assert "within the 14-day washout" in cards[0]["detail"]


def test_maoi_stopped_without_an_end_date_counts_and_the_card_says_so(client, fixture):
    body = fixture("order-select-ketamine-maoi-washout")
    del body["prefetch"]["medicationRequests"]["entry"][0]["resource"]["dosageInstruction"]
    cards = cards_for(client, SELECT, body)
    assert "not recorded" in cards[0]["detail"]


def test_order_select_evaluates_only_the_selections(client, fixture):
    body = fixture("order-select-ketamine-maoi-washout")
    body["context"]["selections"] = ["MedicationRequest/draft-ondansetron"]
    assert cards_for(client, SELECT, body) == []


def test_order_sign_evaluates_every_draft_order(client, fixture):
    body = fixture("order-sign-non-ketamine")
    spravato = copy.deepcopy(fixture("order-sign-esketamine-ssri")["context"]["draftOrders"]["entry"][0])
    body["context"]["draftOrders"]["entry"].append(spravato)
    cards = cards_for(client, SIGN, body)
    assert rule_ids(cards) == ["maoi", "ssri"]
    assert "ordered together in this session" in cards[1]["detail"]


@pytest.mark.parametrize("name", ["order-sign-ketamine-no-interaction", "order-sign-non-ketamine"])
def test_orders_without_interactions_get_no_cards(client, fixture, name):
    assert cards_for(client, SIGN, fixture(name)) == []


def test_a_non_ketamine_order_is_answered_without_reading_the_prefetch(client, fixture):
    body = fixture("order-sign-non-ketamine")
    body["prefetch"] = {"medicationRequests": "not even a bundle"}
    assert cards_for(client, SIGN, body) == []


def test_an_invalid_prefetch_entry_naming_an_maoi_is_still_checked_and_reported(client, fixture):
    body = fixture("order-sign-esketamine-maoi")
    nardil = body["prefetch"]["medicationRequests"]["entry"][0]["resource"]
    nardil["authoredOn"] = "last tuesday"
    cards = cards_for(client, SIGN, body)
    assert rule_ids(cards) == ["maoi", "ssri", "notice"]
    assert "checked as far as it could be read" in cards[-1]["detail"]
    notice = cards[-1]
    assert notice["summary"].startswith("Interaction check incomplete")
    assert "MedicationRequest/nardil" not in notice["detail"] and "authoredOn" in notice["detail"]
    assert "MedicationRequest/nardil" in not_read(notice)
    assert "phenelzine" in notice["detail"]


def test_an_invalid_entry_of_an_unrelated_drug_changes_nothing(client, fixture):
    body = fixture("order-sign-esketamine-maoi")
    body["prefetch"]["medicationRequests"]["entry"][2]["resource"]["authoredOn"] = "soon"
    assert rule_ids(cards_for(client, SIGN, body)) == ["maoi", "ssri"]


def test_an_entry_without_a_medication_is_reported(client, fixture):
    body = fixture("order-sign-ketamine-no-interaction")
    del body["prefetch"]["medicationRequests"]["entry"][0]["resource"]["medicationCodeableConcept"]
    cards = cards_for(client, SIGN, body)
    assert rule_ids(cards) == ["notice"]
    assert "names no medication" in cards[0]["detail"]


def test_an_invalid_ketamine_draft_order_is_still_checked_and_reported(client, fixture):
    body = fixture("order-sign-ketamine-benzodiazepine")
    body["context"]["draftOrders"]["entry"][0]["resource"]["authoredOn"] = "tomorrow-ish"
    cards = cards_for(client, SIGN, body)
    assert rule_ids(cards) == ["benzodiazepines", "notice"]
    assert "checked as far as it could be read" in cards[1]["detail"]


def test_an_operation_outcome_in_place_of_medications_gives_a_warning_card(client, fixture):
    body = fixture("order-sign-esketamine-maoi")
    body["prefetch"]["medicationRequests"] = {
        "resourceType": "OperationOutcome",
        "issue": [{"severity": "error", "code": "timeout", "diagnostics": "pharmacy system timed out"}],
    }
    cards = cards_for(client, SIGN, body)
    assert rule_ids(cards) == ["notice"]
    assert cards[0]["summary"] == "Interaction check incomplete: medication orders could not be read from the EHR"
    assert "pharmacy system timed out" in cards[0]["detail"]


def test_a_null_prefetch_key_means_no_data_and_is_not_a_gap(client, fixture):
    body = fixture("order-sign-esketamine-maoi")
    body["prefetch"]["medicationStatements"] = None
    body["prefetch"]["conditions"] = None
    assert rule_ids(cards_for(client, SIGN, body)) == ["maoi", "ssri"]


def test_no_prefetch_and_no_fhir_server_is_412(client, fixture):
    body = fixture("order-sign-esketamine-maoi")
    del body["prefetch"]
    response = client.post(SIGN, json=body)
    assert response.status_code == 412
    assert response.get_json()["issue"][0]["code"] == "incomplete"


def test_a_missing_key_without_fhir_server_is_a_gap_when_other_data_arrived(client, fixture):
    body = fixture("order-sign-esketamine-maoi")
    del body["prefetch"]["medicationStatements"]
    cards = cards_for(client, SIGN, body)
    assert rule_ids(cards) == ["maoi", "ssri", "notice"]
    assert "no fhirServer" in cards[-1]["detail"]


def test_medication_reference_to_a_contained_medication_is_resolved(client, fixture):
    body = fixture("order-sign-ketamine-benzodiazepine")
    xanax = body["prefetch"]["medicationRequests"]["entry"][0]["resource"]
    code = xanax.pop("medicationCodeableConcept")
    xanax["contained"] = [{"resourceType": "Medication", "id": "med1", "code": code}]
    xanax["medicationReference"] = {"reference": "#med1"}
    assert rule_ids(cards_for(client, SIGN, body)) == ["benzodiazepines"]


def test_medication_reference_to_a_bundle_entry_is_resolved(client, fixture):
    body = fixture("order-sign-ketamine-benzodiazepine")
    xanax = body["prefetch"]["medicationRequests"]["entry"][0]["resource"]
    code = refer(xanax, "Medication/xanax-med")
    body["prefetch"]["medicationRequests"]["entry"].append(
        {"resource": {"resourceType": "Medication", "id": "xanax-med", "code": code}}
    )
    assert rule_ids(cards_for(client, SIGN, body)) == ["benzodiazepines"]


def test_an_unresolvable_medication_reference_is_reported(client, fixture):
    body = fixture("order-sign-ketamine-benzodiazepine")
    xanax = body["prefetch"]["medicationRequests"]["entry"][0]["resource"]
    refer(xanax, "Medication/elsewhere")
    cards = cards_for(client, SIGN, body)
    assert rule_ids(cards) == ["notice"]
    assert "the medication it references could not be read" in cards[0]["detail"]
    assert "Medication/elsewhere" not in cards[0]["detail"]


def test_a_medication_statement_counts_like_an_order(client, fixture):
    body = fixture("order-sign-ketamine-no-interaction")
    body["prefetch"]["medicationStatements"]["entry"] = [
        {"resource": {"resourceType": "MedicationStatement", "id": "otc", "status": "active",
                      "subject": {"reference": "Patient/fixture-clean"},
                      "medicationCodeableConcept": {"text": "Klonopin 0.5 mg at night"}}}
    ]
    cards = cards_for(client, SIGN, body)
    assert rule_ids(cards) == ["benzodiazepines"]
    assert "Klonopin (clonazepam)" in cards[0]["summary"]


def test_summaries_stay_under_140_characters_with_many_co_medications(client, fixture):
    body = fixture("order-sign-esketamine-ssri")
    names = ["citalopram", "escitalopram", "fluoxetine", "fluvoxamine", "paroxetine", "sertraline"] * 2
    body["prefetch"]["medicationRequests"]["entry"] = [
        {"resource": {"resourceType": "MedicationRequest", "id": f"m{number}", "status": "active",
                      "intent": "order", "subject": {"reference": "Patient/fixture-ssri"},
                      "medicationCodeableConcept": {"text": f"{name} hydrochloride 10 mg"}}}
        for number, name in enumerate(names)
    ]
    card = cards_for(client, SIGN, body)[0]
    assert len(card["summary"]) < 140
    assert len(card["extension"]["org.ketamine-cds"]["implicated"]) == len(names)


def test_a_ketamine_draft_naming_its_drug_through_a_prefetched_medication_is_checked(client, fixture):
    body = fixture("order-sign-esketamine-maoi")
    draft = body["context"]["draftOrders"]["entry"][0]["resource"]
    code = refer(draft, "Medication/spravato")
    body["prefetch"]["medicationRequests"]["entry"].append(
        {"resource": {"resourceType": "Medication", "id": "spravato", "code": {"coding": code["coding"]}}}
    )
    assert rule_ids(cards_for(client, SIGN, body)) == ["maoi", "ssri"]


def test_a_draft_whose_drug_cannot_be_told_gets_a_notice_not_silence(client, fixture):
    body = fixture("order-sign-esketamine-maoi")
    draft = body["context"]["draftOrders"]["entry"][0]["resource"]
    refer(draft, "Medication/unknown")
    cards = cards_for(client, SIGN, body)
    assert rule_ids(cards) == ["notice"]
    assert "MedicationRequest/draft-spravato" in not_read(cards[0])
    assert "the medication it references could not be read" in cards[0]["detail"]


def test_an_order_not_to_give_an_maoi_does_not_count(client, fixture):
    body = fixture("order-sign-esketamine-maoi")
    body["prefetch"]["medicationRequests"]["entry"][0]["resource"]["doNotPerform"] = True
    assert rule_ids(cards_for(client, SIGN, body)) == ["ssri"]


def test_a_medication_coded_only_by_an_unknown_code_without_a_name_is_named_on_the_notice(client, fixture):
    body = fixture("order-sign-ketamine-no-interaction")
    body["prefetch"]["medicationRequests"]["entry"][0]["resource"]["medicationCodeableConcept"] = {
        "coding": [{"system": "http://www.nlm.nih.gov/research/umls/rxnorm", "code": "99999999"}]
    }
    cards = cards_for(client, SIGN, body)
    assert rule_ids(cards) == ["notice"]
    assert "99999999" in cards[0]["detail"]


def test_psychiatric_ketamine_with_a_note_about_past_surgery_keeps_its_hold(client, fixture):
    body = fixture("order-sign-ketamine-benzodiazepine")
    draft = body["context"]["draftOrders"]["entry"][0]["resource"]
    draft["note"] = [{"text": "Depression since surgery in 2019; not for anaesthesia"}]
    assert cards_for(client, SIGN, body)[0]["summary"].startswith("Hold ketamine with alprazolam")


@pytest.mark.parametrize(
    ("text", "route"),
    [
        ("ketoconazole 2% shampoo", None),
        ("phenylephrine 2.5% ophthalmic solution", None),
        ("oxymetazoline 0.025% eye drops", None),
        ("ketoconazole 200 mg tablet", "26643006"),
    ],
)
def test_products_given_only_on_the_skin_eye_or_ear_fire_no_systemic_rule(client, fixture, text, route):
    body = fixture("order-sign-ketamine-no-interaction")
    entry = body["prefetch"]["medicationRequests"]["entry"][0]["resource"]
    entry["medicationCodeableConcept"] = {"text": text}
    if route:
        entry["dosageInstruction"] = [{"route": {"coding": [{"system": "http://snomed.info/sct", "code": route}]}}]
    fired = rule_ids(cards_for(client, SIGN, body))
    assert fired == (["cyp3a4-inhibitors"] if route else [])


def test_condition_cards_offer_override_reasons_that_fit_a_condition(client, fixture):
    cards = cards_for(client, SIGN, fixture("order-sign-esketamine-aneurysm"))
    codes = {reason["code"] for card in cards for reason in card["overrideReasons"]}
    assert "condition-not-current" in codes
    assert not codes & {"washout-complete", "not-taking"}


def test_order_select_checks_a_new_selection_against_a_ketamine_draft_already_in_the_session(client, fixture):
    body = fixture("order-select-ketamine-maoi-washout")
    drafts = body["context"]["draftOrders"]["entry"]
    drafts.append({"resource": {"resourceType": "MedicationRequest", "id": "draft-nardil", "status": "draft",
                                "intent": "order", "subject": {"reference": "Patient/fixture-washout"},
                                "medicationCodeableConcept": {"text": "Nardil 15 mg tablet"}}})
    body["context"]["selections"] = ["MedicationRequest/draft-nardil"]
    cards = cards_for(client, SELECT, body)
    assert rule_ids(cards) == ["maoi"]
    assert cards[0]["summary"].startswith("Avoid ketamine with Nardil (phenelzine)")
    assert "tranylcypromine" not in cards[0]["summary"], "the earlier selection was checked then, not now"

    body["context"]["selections"] = ["MedicationRequest/draft-ondansetron"]
    assert cards_for(client, SELECT, body) == []


def test_a_cancelled_ketamine_draft_beside_an_active_esketamine_one_gets_no_card_of_its_own(client, fixture):
    body = fixture("order-sign-esketamine-maoi")
    cancelled = copy.deepcopy(body["context"]["draftOrders"]["entry"][0]["resource"])
    cancelled.update(id="draft-ketamine-cancelled", status="cancelled",
                     medicationCodeableConcept={"text": "ketamine 50 mg/mL injection"})
    body["context"]["draftOrders"]["entry"].append({"resource": cancelled})
    cards = cards_for(client, SIGN, body)
    assert cards and all(card["summary"].split()[1] == "esketamine" for card in cards)


@pytest.mark.parametrize(
    ("reason", "indicator"),
    [
        ("TRD: sub-anesthetic dose 0.5 mg/kg", "warning"),
        ("non anaesthetic dose", "warning"),
        ("not to be used for anaesthesia", "warning"),
        ("history of general anaesthesia", "warning"),
        ("induction of anaesthesia", "info"),
    ],
)
def test_only_an_order_for_anaesthesia_softens_the_benzodiazepine_hold(client, fixture, reason, indicator):
    body = fixture("order-sign-ketamine-benzodiazepine")
    body["context"]["draftOrders"]["entry"][0]["resource"]["reasonCode"] = [{"text": reason}]
    assert [card["indicator"] for card in cards_for(client, SIGN, body)] == [indicator]


@pytest.mark.parametrize("sig", ["apply to the skin once daily", "apply 1 patch to the skin daily"])
def test_a_skin_patch_maoi_is_not_taken_for_a_local_product(client, fixture, sig):
    body = fixture("order-sign-esketamine-maoi")
    for entry in body["prefetch"]["medicationRequests"]["entry"]:
        if entry["resource"]["id"] == "nardil":
            entry["resource"]["medicationCodeableConcept"] = {"text": "selegiline 6 mg/24 hr"}
            entry["resource"]["dosageInstruction"] = [{"text": sig}]
    cards = cards_for(client, SIGN, body)
    assert cards[0]["summary"].startswith("Avoid esketamine with selegiline")


def test_a_negative_course_length_does_not_end_an_maoi_before_its_washout(client, fixture):
    body = fixture("order-sign-esketamine-maoi")
    for entry in body["prefetch"]["medicationRequests"]["entry"]:
        if entry["resource"]["id"] == "nardil":
            entry["resource"].update(status="stopped", authoredOn="2026-11-15", dosageInstruction=[
                {"timing": {"repeat": {"boundsDuration": {"value": -30, "code": "d"}}}}])
    cards = cards_for(client, SIGN, body)
    assert cards[0]["summary"].startswith("Avoid esketamine with Nardil (phenelzine)")


def test_order_select_names_a_new_selection_it_cannot_read(client, fixture):
    body = fixture("order-select-ketamine-maoi-washout")
    body["context"]["draftOrders"]["entry"].append({"resource": {
        "resourceType": "MedicationRequest", "id": "draft-unknown", "status": "draft", "intent": "order",
        "subject": {"reference": "Patient/fixture-washout"},
        "medicationCodeableConcept": {"coding": [{"system": "http://www.nlm.nih.gov/research/umls/rxnorm",
                                                  "code": "99999999"}]}}})
    body["context"]["selections"] = ["MedicationRequest/draft-unknown"]
    cards = cards_for(client, SELECT, body)
    assert [card["summary"] for card in cards] == ["Interaction check incomplete: 1 record could not be read"]
    assert "MedicationRequest/draft-unknown" in not_read(cards[0])
    assert "99999999" in cards[0]["detail"]
