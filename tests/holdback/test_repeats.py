"""order-select -> order-sign: what order-select showed is not repeated at order-sign (HL7 PDDI CDS advanced
implementation), for the same user, patient and encounter, when the EHR (or the site) asks; never an Avoid."""

from __future__ import annotations

import copy
from typing import Any

from flask import Flask

from service.storage.models import held_back
from tests.cardcheck import card_rule_ids
from tests.scrape import scraped

SELECT, SIGN = "/cds-services/ketamine-order-select", "/cds-services/ketamine-order-sign"
CACHE = {"cache-for-order-sign-filtering": True}
FILTER = {"filter-out-repeated-alerts": True}


def _select(sign: dict[str, Any], items: dict[str, bool] | None = None) -> dict[str, Any]:
    """The order-select call of the same session, selecting the ketamine or esketamine draft."""
    body = copy.deepcopy(sign)
    body["hook"] = "order-select"
    body["context"]["selections"] = [
        f"{entry['resource']['resourceType']}/{entry['resource']['id']}"
        for entry in body["context"]["draftOrders"]["entry"]
    ]
    if items is not None:
        body["extension"] = {"configuration-items": items}
    return body


def _sign(sign: dict[str, Any], items: dict[str, bool] | None = None) -> dict[str, Any]:
    body = copy.deepcopy(sign)
    if items is not None:
        body["extension"] = {"configuration-items": items}
    return body


def _rules(app: Flask, path: str, body: dict[str, Any]) -> list[str]:
    response = app.test_client().post(path, json=body)
    assert response.status_code == 200, response.get_json()
    return [rule for card in response.get_json()["cards"] for rule in card_rule_ids(card)]


def _maoi(fixture, session: str) -> dict[str, Any]:
    """Esketamine with phenelzine (Avoid) and sertraline (Monitor)."""
    body = fixture("order-sign-esketamine-maoi")
    body["context"]["userId"] = session
    return body


def test_without_configuration_items_order_sign_repeats_everything(make_app, fixture, session):
    app = make_app()
    body = _maoi(fixture, session)
    assert _rules(app, SELECT, _select(body)) == ["maoi", "ssri"]
    assert _rules(app, SIGN, _sign(body)) == ["maoi", "ssri"]


def test_with_both_items_a_repeated_monitor_is_left_out_and_an_avoid_is_not(make_app, fixture, session, rows):
    app = make_app()
    body = _maoi(fixture, session)
    before = scraped(app.test_client(), "ketamine_cds_findings_held_back_total", reason="repeated-alert",
                     advice="monitor", rule="ssri")
    assert _rules(app, SELECT, _select(body, CACHE)) == ["maoi", "ssri"]
    assert _rules(app, SIGN, _sign(body, FILTER)) == ["maoi"]
    assert scraped(app.test_client(), "ketamine_cds_findings_held_back_total", reason="repeated-alert",
                   advice="monitor", rule="ssri") == before + 1
    [record] = rows(app, held_back)
    assert (record["rule_id"], record["advice"], record["reason"]) == ("ssri", "monitor", "repeated-alert")
    assert record["service_id"] == "ketamine-order-sign" and len(record["finding_hash"]) == 32


def test_order_sign_filters_only_what_order_select_was_asked_to_remember(make_app, fixture, session):
    app = make_app()
    body = _maoi(fixture, session)
    _rules(app, SELECT, _select(body, {"cache-for-order-sign-filtering": False}))
    assert _rules(app, SIGN, _sign(body, FILTER)) == ["maoi", "ssri"]


def test_another_user_or_encounter_sees_the_repeat(make_app, fixture, session):
    app = make_app()
    body = _maoi(fixture, session)
    _rules(app, SELECT, _select(body, CACHE))
    other_user = _sign(body, FILTER)
    other_user["context"]["userId"] = session + "-colleague"
    other_encounter = _sign(body, FILTER)
    other_encounter["context"]["encounterId"] = "another-encounter"
    assert _rules(app, SIGN, other_user) == ["maoi", "ssri"]
    assert _rules(app, SIGN, other_encounter) == ["maoi", "ssri"]


def test_a_finding_whose_advice_changed_since_order_select_is_shown(make_app, fixture, session):
    app = make_app()
    body = fixture("order-sign-ketamine-benzodiazepine")
    body["context"]["userId"] = session
    anaesthetic = copy.deepcopy(body)
    draft = anaesthetic["context"]["draftOrders"]["entry"][0]["resource"]
    draft["reasonCode"] = [{"text": "induction of anaesthesia"}]
    assert _rules(app, SELECT, _select(anaesthetic, CACHE)) == ["benzodiazepines"]  # Monitor, anaesthetic
    assert _rules(app, SIGN, _sign(body, FILTER)) == ["benzodiazepines"]  # Hold: not the alert shown


def test_the_site_default_applies_when_the_ehr_sends_no_items_and_the_ehr_may_say_otherwise(make_app, fixture,
                                                                                            session):
    app = make_app(repeat_filter=True)
    body = _maoi(fixture, session)
    _rules(app, SELECT, _select(body))
    assert _rules(app, SIGN, _sign(body, {"filter-out-repeated-alerts": False})) == ["maoi", "ssri"]
    assert _rules(app, SIGN, _sign(body)) == ["maoi"]


def test_two_workers_sharing_redis_leave_out_what_the_other_showed(make_app, fixture, session, redis_url):
    select_worker, sign_worker = make_app(redis_url=redis_url), make_app(redis_url=redis_url)
    body = _maoi(fixture, session)
    assert _rules(select_worker, SELECT, _select(body, CACHE)) == ["maoi", "ssri"]
    assert _rules(sign_worker, SIGN, _sign(body, FILTER)) == ["maoi"]


def test_two_workers_without_redis_remember_each_their_own(make_app, fixture, session):
    select_worker, sign_worker = make_app(), make_app()
    body = _maoi(fixture, session)
    _rules(select_worker, SELECT, _select(body, CACHE))
    assert _rules(sign_worker, SIGN, _sign(body, FILTER)) == ["maoi", "ssri"]
    assert _rules(select_worker, SIGN, _sign(body, FILTER)) == ["maoi"]


def test_an_unreachable_redis_shows_everything_and_is_counted(make_app, fixture, session):
    app = make_app(redis_url="redis://127.0.0.1:9/0")
    body = _maoi(fixture, session)
    before = scraped(app.test_client(), "ketamine_cds_shown_store_failures_total", operation="read")
    assert _rules(app, SELECT, _select(body, CACHE)) == ["maoi", "ssri"]
    assert _rules(app, SIGN, _sign(body, FILTER)) == ["maoi", "ssri"]
    assert scraped(app.test_client(), "ketamine_cds_shown_store_failures_total", operation="read") == before + 1


def test_discovery_lists_the_configuration_item_each_hook_reads(make_app):
    services = make_app().test_client().get("/cds-services").get_json()["services"]
    items = {service["hook"]: service["extension"]["configuration-items"]
             for service in services if "extension" in service}
    assert set(items) == {"order-select", "order-sign"}  # patient-view shows no order to filter
    assert [item["code"] for item in items["order-select"]] == ["cache-for-order-sign-filtering"]
    assert [item["code"] for item in items["order-sign"]] == ["filter-out-repeated-alerts"]
    assert all(item["type"] == "boolean" and item["name"] and item["description"]
               for listed in items.values() for item in listed)


def test_a_configuration_item_that_is_not_a_boolean_is_refused(make_app, fixture, session):
    response = make_app().test_client().post(SIGN, json=_sign(_maoi(fixture, session),
                                                              {"filter-out-repeated-alerts": "yes"}))
    assert response.status_code == 400
    assert "extension.configuration-items.filter-out-repeated-alerts" in response.get_data(as_text=True)


def test_the_list_form_of_configuration_items_is_read(make_app, fixture, session):
    app = make_app()
    body = _maoi(fixture, session)
    _rules(app, SELECT, {**_select(body), "extension": {
        "configuration-items": [{"code": "cache-for-order-sign-filtering", "value": True}]}})
    assert _rules(app, SIGN, {**_sign(body), "extension": {
        "pddi-configuration-items": [{"code": "filter-out-repeated-alerts", "value": True}]}}) == ["maoi"]
