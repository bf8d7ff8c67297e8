"""The RxNav client: ingredients of unknown codes, cached and time-limited, falling back to names on failure."""

from __future__ import annotations

import logging

import pytest
import requests
import responses
from responses import matchers

from cds_hooks.terminology import Ingredient
from service import create_app
from service.config import ConfigError, Settings
from service.fhir.rxnav import RxNavResolver, TtlCache
from service.runtime import runtime
from tests.builders import hook_request, medication, ordered
from tests.conftest import NOW

BASE = "https://rxnav.example.org"
SCD = "1234567"


def _related(*groups: tuple[str, list[tuple[str, str]]]) -> dict:
    return {
        "relatedGroup": {
            "rxcui": "",
            "termType": [tty for tty, _ in groups],
            "conceptGroup": [
                {
                    "tty": tty,
                    "conceptProperties": [
                        {
                            "rxcui": rxcui,
                            "name": name,
                            "synonym": "",
                            "tty": tty,
                            "language": "ENG",
                            "suppress": "N",
                            "umlscui": "",
                        }
                        for rxcui, name in concepts
                    ],
                }
                if concepts
                else {"tty": tty}
                for tty, concepts in groups
            ],
        }
    }


def _answer_related(code: str, body: dict) -> None:
    responses.get(
        f"{BASE}/REST/rxcui/{code}/related.json", json=body, match=[matchers.query_param_matcher({"tty": "IN PIN MIN"})]
    )


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@responses.activate
def test_a_clinical_drug_code_gives_its_ingredients():
    _answer_related(
        SCD,
        _related(
            ("IN", [("1819", "buprenorphine"), ("7242", "naloxone")]),
            ("PIN", [("1483744", "naloxone hydrochloride")]),
            ("MIN", []),
        ),
    )
    assert RxNavResolver(BASE)(SCD) == (Ingredient("buprenorphine", "1819"), Ingredient("naloxone", "7242"))


@responses.activate
def test_an_ingredient_code_is_its_own_ingredient():
    _answer_related("42351", _related(("IN", []), ("PIN", []), ("MIN", [])))
    responses.get(
        f"{BASE}/REST/rxcui/42351/properties.json",
        json={"properties": {"rxcui": "42351", "name": "lithium carbonate", "tty": "IN"}},
    )
    assert RxNavResolver(BASE)("42351") == (Ingredient("lithium carbonate", "42351"),)


@responses.activate
def test_an_unknown_code_is_an_answer_too_and_is_cached():
    _answer_related("9", {"relatedGroup": {"rxcui": ""}})
    responses.get(f"{BASE}/REST/rxcui/9/properties.json", json={})
    resolver = RxNavResolver(BASE)
    assert resolver("9") is None
    assert resolver("9") is None
    assert len(responses.calls) == 2


@responses.activate
def test_answers_are_cached_until_they_expire():
    clock = Clock()
    _answer_related(SCD, _related(("IN", [("36437", "sertraline")])))
    resolver = RxNavResolver(BASE, ttl=60, clock=clock)
    assert resolver(SCD) == resolver(SCD) == (Ingredient("sertraline", "36437"),)
    assert len(responses.calls) == 1
    clock.now += 61
    resolver(SCD)
    assert len(responses.calls) == 2


def test_the_cache_keeps_only_the_most_recently_used_answers():
    cache = TtlCache(size=2, ttl=60)
    cache.put("a", ())
    cache.put("b", ())
    cache.get("a")
    cache.put("c", ())
    assert (cache.get("a"), cache.get("b"), cache.get("c")) == ((), None, ())


@responses.activate
def test_a_timeout_answers_none_logs_no_code_and_pauses_lookups(caplog):
    clock = Clock()
    responses.get(f"{BASE}/REST/rxcui/{SCD}/related.json", body=requests.Timeout("slow"))
    resolver = RxNavResolver(BASE, timeout=0.5, pause_after_failure=30, clock=clock)
    with caplog.at_level(logging.WARNING):
        assert resolver(SCD) is None
    assert "Timeout" in caplog.text
    assert SCD not in caplog.text
    assert resolver("7654321") is None
    assert len(responses.calls) == 1
    clock.now += 31
    _answer_related(SCD, _related(("IN", [("36437", "sertraline")])))
    assert resolver(SCD) == (Ingredient("sertraline", "36437"),)


@responses.activate
@pytest.mark.parametrize("failure", [{"status": 503}, {"body": "<html>busy</html>"}, {"json": ["not", "an object"]}])
def test_a_server_error_or_odd_answer_falls_back(failure):
    responses.get(f"{BASE}/REST/rxcui/{SCD}/related.json", **failure)
    assert RxNavResolver(BASE)(SCD) is None


@responses.activate
def test_every_request_carries_the_timeout():
    seen = []
    session = requests.Session()
    original = session.get

    def get(url, **kwargs):
        seen.append(kwargs["timeout"])
        return original(url, **kwargs)

    session.get = get
    _answer_related(SCD, _related(("IN", [("36437", "sertraline")])))
    RxNavResolver(BASE, timeout=1.5, session=session)(SCD)
    assert seen == [1.5]


@responses.activate
def test_a_base_url_given_with_rest_still_works():
    _answer_related(SCD, _related(("IN", [("36437", "sertraline")])))
    assert RxNavResolver(f"{BASE}/REST/")(SCD) == (Ingredient("sertraline", "36437"),)


def test_a_code_that_is_not_an_rxcui_is_not_sent():
    assert RxNavResolver(BASE)("0071-0270-24") is None


# Settings and wiring


def test_the_terminology_server_is_configured_by_environment():
    settings = Settings.from_env(
        {"CDS_RXNAV_URL": BASE, "CDS_RXNAV_TIMEOUT": "0.8", "CDS_RXNAV_CACHE_SIZE": "50", "CDS_RXNAV_CACHE_TTL": "600"}
    )
    assert (settings.rxnav_url, settings.rxnav_timeout, settings.rxnav_cache_size, settings.rxnav_cache_ttl) == (
        BASE,
        0.8,
        50,
        600,
    )
    assert Settings.from_env({}).rxnav_url is None


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("CDS_RXNAV_URL", "rxnav.example.org"),
        ("CDS_RXNAV_URL", "ftp://rxnav.example.org"),
        ("CDS_RXNAV_TIMEOUT", "soon"),
        ("CDS_RXNAV_TIMEOUT", "0"),
        ("CDS_RXNAV_TIMEOUT", "600"),
        ("CDS_RXNAV_CACHE_SIZE", "0"),
        ("CDS_RXNAV_CACHE_TTL", "a day"),
    ],
)
def test_a_bad_terminology_setting_stops_start_up_naming_the_variable(name, value):
    with pytest.raises(ConfigError, match=name):
        Settings.from_env({name: value})


def test_without_a_url_the_app_has_no_resolver():
    assert runtime(create_app(Settings())).resolver is None


@responses.activate
def test_the_app_asks_the_terminology_server_about_codes_the_tables_lack():
    app = create_app(Settings(rxnav_url=BASE), clock=lambda: NOW)
    _answer_related(SCD, _related(("IN", [("8123", "phenelzine")])))
    body = hook_request(ordered("esketamine"), medications=[medication(code=SCD, display="MAOI 15 mg tab")])
    response = app.test_client().post("/cds-services/ketamine-order-sign", json=body)
    (card,) = response.get_json()["cards"]
    assert card["summary"].startswith("Avoid esketamine with phenelzine")


@responses.activate
def test_when_the_terminology_server_is_down_the_display_still_counts():
    app = create_app(Settings(rxnav_url=BASE), clock=lambda: NOW)
    responses.get(f"{BASE}/REST/rxcui/{SCD}/related.json", body=requests.ConnectionError("refused"))
    body = hook_request(ordered("esketamine"), medications=[medication(code=SCD, display="Nardil 15 mg tablet")])
    response = app.test_client().post("/cds-services/ketamine-order-sign", json=body)
    (card,) = response.get_json()["cards"]
    assert card["summary"].startswith("Avoid esketamine with Nardil (phenelzine)")
