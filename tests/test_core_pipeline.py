"""The core without Flask: request -> facts -> findings -> cards, as a reusable library."""

from datetime import timedelta

import pytest

from cds_hooks import order_check
from cds_hooks.errors import DataUnavailable, HookMismatch, InvalidRequest
from cds_hooks.fetch import FetchResult
from cds_hooks.protocol import load_request
from cds_hooks.services import definitions
from tests.cardcheck import assert_valid_card
from tests.conftest import NOW


def run(body, knowledge, service_id="ketamine-order-sign", now=NOW):
    definition = definitions(knowledge).by_id(service_id)
    return order_check.answer(load_request(body, definition.hook), definition, knowledge, now).as_json()["cards"]


@pytest.mark.parametrize(
    ("name", "service_id", "expected"),
    [
        ("order-sign-esketamine-maoi", "ketamine-order-sign", ["critical", "info"]),
        ("order-sign-ketamine-benzodiazepine", "ketamine-order-sign", ["warning"]),
        ("order-sign-esketamine-ssri", "ketamine-order-sign", ["info"]),
        ("order-select-ketamine-maoi-washout", "ketamine-order-select", ["critical"]),
        ("order-sign-ketamine-no-interaction", "ketamine-order-sign", []),
        ("order-sign-non-ketamine", "ketamine-order-sign", []),
    ],
)
def test_every_fixture_gives_its_cards_through_the_core(fixture, knowledge, name, service_id, expected):
    cards = run(fixture(name), knowledge, service_id)
    assert [card["indicator"] for card in cards] == expected
    for card in cards:
        assert_valid_card(card)


def test_the_core_finds_no_ketamine_order_without_reading_prefetch(fixture, knowledge):
    body = fixture("order-sign-non-ketamine")
    request = load_request(body, "order-sign")
    assert order_check.ketamine_orders(request, knowledge).ordered == []


def test_the_washout_window_closes_fourteen_days_after_the_last_dose(fixture, knowledge):
    body = fixture("order-select-ketamine-maoi-washout")
    last_dose_day_end = NOW.replace(day=15, hour=23, minute=59, second=59)
    assert run(body, knowledge, "ketamine-order-select", now=last_dose_day_end + timedelta(days=14))
    assert not run(body, knowledge, "ketamine-order-select", now=last_dose_day_end + timedelta(days=14, hours=1))


def test_the_core_raises_typed_errors(fixture, knowledge):
    with pytest.raises(HookMismatch):
        load_request(fixture("order-sign-non-ketamine"), "order-select")
    with pytest.raises(InvalidRequest):
        load_request([], "order-sign")
    body = fixture("order-sign-esketamine-maoi")
    del body["prefetch"]
    with pytest.raises(DataUnavailable):
        run(body, knowledge)


def test_a_fetcher_supplies_keys_the_prefetch_lacks(fixture, knowledge):
    body = fixture("order-sign-esketamine-maoi")
    sent = body.pop("prefetch")
    body["fhirServer"] = "https://ehr.example.org/fhir"
    definition = definitions(knowledge).by_id("ketamine-order-sign")
    request = load_request(body, definition.hook)
    asked = {}

    def fetch(hook_request):
        def run(queries):
            asked.update(queries)
            return {key: FetchResult(bundle=sent[key]) for key in queries}

        return run

    cards = order_check.answer(request, definition, knowledge, NOW, fetch).as_json()["cards"]
    assert asked["medicationRequests"].startswith("MedicationRequest?patient=fixture-maoi&status=active,on-hold")
    assert [card["indicator"] for card in cards] == ["critical", "info"]


def test_a_failed_fetch_becomes_a_warning_card(fixture, knowledge):
    body = fixture("order-sign-esketamine-maoi")
    del body["prefetch"]
    body["fhirServer"] = "https://ehr.example.org/fhir"
    definition = definitions(knowledge).by_id("ketamine-order-sign")
    request = load_request(body, definition.hook)

    def fetch(hook_request):
        return lambda queries: {key: FetchResult(problem="the FHIR server answered 503") for key in queries}

    cards = order_check.answer(request, definition, knowledge, NOW, fetch).as_json()["cards"]
    assert len(cards) == 1
    assert cards[0]["summary"] == ("Interaction check incomplete: medications, conditions, allergies and blood "
                                   "pressure readings could not be read from the EHR")
    assert "503" in cards[0]["detail"]
