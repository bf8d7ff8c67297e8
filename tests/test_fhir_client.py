"""The FHIR client against failure modes a real server rarely shows on demand (``responses`` stands in for it):
errors, timeouts, malformed answers, endless paging; and its paging, _include, parallelism and http policy."""

from __future__ import annotations

import json
import logging
import threading
from collections.abc import Mapping
from typing import Any

import pytest
import requests
import responses

from cds_hooks.protocol import HookRequest, load_request
from service import create_app
from service.config import Settings
from service.fhir import client as fhir_client
from service.fhir.client import FhirClient
from tests.conftest import NOW

EHR = "https://ehr.example.org/fhir"
TOKEN = "secret-token-4f1b9c"
FHIR_JSON = "application/fhir+json"
SEARCH = "MedicationRequest?patient=fixture-maoi"
INCLUDED = f"{EHR}/{SEARCH}&_include=MedicationRequest:medication"


def searchset(*resources: Mapping[str, Any], next_url: str | None = None) -> dict[str, Any]:
    value: dict[str, Any] = {"resourceType": "Bundle", "type": "searchset",
                             "entry": [{"resource": r, "search": {"mode": "match"}} for r in resources]}
    if next_url:
        value["link"] = [{"relation": "next", "url": next_url}]
    return value


def order(ident: str, **medication: Any) -> dict[str, Any]:
    medication = medication or {"medicationCodeableConcept": {"text": f"drug {ident}"}}
    return {"resourceType": "MedicationRequest", "id": ident, "status": "active", "intent": "order",
            "subject": {"reference": "Patient/fixture-maoi"}, **medication}


def ids(result: Any) -> list[str]:
    return [entry["resource"]["id"] for entry in result.bundle["entry"]]


@pytest.fixture
def maoi(fixture) -> dict[str, Any]:
    return fixture("order-sign-esketamine-maoi")


@pytest.fixture
def hook(maoi):
    def make(fhir_server: str = EHR, token: str | None = TOKEN) -> HookRequest:
        body = {**maoi, "fhirServer": fhir_server}
        if token:
            body["fhirAuthorization"] = {"access_token": token, "token_type": "Bearer", "expires_in": 300,
                                         "scope": "user/MedicationRequest.read", "subject": "ketamine-cds"}
        return load_request(body, "order-sign")

    return make


@pytest.fixture
def client() -> FhirClient:
    return FhirClient(timeout_seconds=5, max_pages=3)


@pytest.fixture
def rsps():
    with responses.RequestsMock(assert_all_requests_are_fired=False) as mock:
        yield mock


def add_json(rsps, url: str, body: Any, status: int = 200, content_type: str = FHIR_JSON) -> None:
    rsps.add(responses.GET, url, body=json.dumps(body), status=status, content_type=content_type)


def test_a_search_carries_the_bearer_token_and_asks_for_fhir_json(rsps, client, hook):
    add_json(rsps, f"{EHR}/MedicationRequest", searchset(order("a")))
    result = client(hook())({"medicationRequests": SEARCH})["medicationRequests"]
    assert ids(result) == ["a"] and result.problem is None
    sent = rsps.calls[0].request
    assert sent.headers["Authorization"] == f"Bearer {TOKEN}"
    assert sent.headers["Accept"] == "application/fhir+json"
    assert sent.url == f"{EHR}/{SEARCH}"


def test_without_fhir_authorization_no_authorization_header_is_sent(rsps, client, hook):
    add_json(rsps, f"{EHR}/MedicationRequest", searchset())
    client(hook(token=None))({"medicationRequests": SEARCH})
    assert "Authorization" not in rsps.calls[0].request.headers


def test_every_next_page_is_read_and_merged(rsps, client, hook):
    add_json(rsps, f"{EHR}/MedicationRequest?page=3", searchset(order("c")))
    add_json(rsps, f"{EHR}/MedicationRequest?page=2", searchset(order("b"), next_url=f"{EHR}/MedicationRequest?page=3"))
    add_json(rsps, f"{EHR}/MedicationRequest", searchset(order("a"), next_url=f"{EHR}/MedicationRequest?page=2"))
    result = client(hook())({"medicationRequests": SEARCH})["medicationRequests"]
    assert ids(result) == ["a", "b", "c"] and result.problem is None
    assert all(call.request.headers["Authorization"] == f"Bearer {TOKEN}" for call in rsps.calls)
    assert [call.request.url for call in rsps.calls] == [
        f"{EHR}/{SEARCH}", f"{EHR}/MedicationRequest?page=2", f"{EHR}/MedicationRequest?page=3"
    ]


def endless(request: requests.PreparedRequest) -> tuple[int, dict[str, str], str]:
    page = int(request.url.rsplit("page=", 1)[1]) if "page=" in request.url else 1
    body = searchset(order(f"p{page}"), next_url=f"{EHR}/MedicationRequest?page={page + 1}")
    return 200, {"Content-Type": FHIR_JSON}, json.dumps(body)


def test_endless_paging_stops_at_the_page_cap_and_keeps_the_pages_read(rsps, client, hook):
    rsps.add_callback(responses.GET, f"{EHR}/MedicationRequest", callback=endless)
    result = client(hook())({"medicationRequests": SEARCH})["medicationRequests"]
    assert ids(result) == ["p1", "p2", "p3"]
    assert result.problem == "the FHIR server had more than 3 pages of results; only the first 3 were read"
    assert len(rsps.calls) == 3


def test_pages_that_lead_back_to_a_page_already_read_stop_there(rsps, client, hook):
    add_json(rsps, f"{EHR}/MedicationRequest?page=2", searchset(order("b"), next_url=f"{EHR}/MedicationRequest?page=2"))
    add_json(rsps, f"{EHR}/MedicationRequest", searchset(order("a"), next_url=f"{EHR}/MedicationRequest?page=2"))
    result = client(hook())({"medicationRequests": SEARCH})["medicationRequests"]
    assert ids(result) == ["a", "b"]
    assert result.problem == "the FHIR server's pages lead back to a page already read"


def test_a_next_link_to_another_server_is_not_followed_so_the_token_stays_home(rsps, client, hook):
    add_json(rsps, "https://elsewhere.example.com/fhir/MedicationRequest", searchset(order("stolen")))
    add_json(rsps, f"{EHR}/MedicationRequest",
             searchset(order("a"), next_url="https://elsewhere.example.com/fhir/MedicationRequest?page=2"))
    result = client(hook())({"medicationRequests": SEARCH})["medicationRequests"]
    assert ids(result) == ["a"]
    assert result.problem == "its next page is not on the EHR's FHIR server, so it was not read"
    assert [call.request.url.split("?")[0] for call in rsps.calls] == [f"{EHR}/MedicationRequest"]


def test_a_later_page_that_fails_keeps_the_pages_already_read(rsps, client, hook):
    add_json(rsps, f"{EHR}/MedicationRequest?page=2", {"resourceType": "OperationOutcome"}, status=503)
    add_json(rsps, f"{EHR}/MedicationRequest", searchset(order("a"), next_url=f"{EHR}/MedicationRequest?page=2"))
    result = client(hook())({"medicationRequests": SEARCH})["medicationRequests"]
    assert ids(result) == ["a"]
    assert result.problem == "page 2 could not be read: the FHIR server failed (HTTP 503)"


@pytest.mark.parametrize(
    ("status", "token", "problem"),
    [
        (401, TOKEN, "the FHIR server did not accept the access token the EHR sent (HTTP 401)"),
        (401, None, "the FHIR server needs an access token and the EHR sent none (HTTP 401)"),
        (403, TOKEN, "the FHIR server does not allow the service to read it (HTTP 403)"),
        (404, TOKEN, "the FHIR server has no such resource or search (HTTP 404)"),
        (429, TOKEN, "the FHIR server is too busy to answer (HTTP 429)"),
        (500, TOKEN, "the FHIR server failed (HTTP 500)"),
        (503, TOKEN, "the FHIR server failed (HTTP 503)"),
        (302, TOKEN, "the FHIR server redirected the request, which the service does not follow (HTTP 302)"),
        (202, TOKEN, "the FHIR server answered HTTP 202 rather than 200 with the data, so nothing was read"),
        (204, TOKEN, "the FHIR server answered HTTP 204 rather than 200 with the data, so nothing was read"),
    ],
)
def test_an_http_error_is_a_problem_in_words(rsps, client, hook, status, token, problem):
    add_json(rsps, f"{EHR}/MedicationRequest", {"resourceType": "OperationOutcome"}, status=status)
    result = client(hook(token=token))({"medicationRequests": SEARCH})["medicationRequests"]
    assert result.bundle is None and result.problem == problem


@pytest.mark.parametrize(
    ("body", "content_type", "problem"),
    [
        ('{"resourceType": "Bundle", ', FHIR_JSON, "the FHIR server's answer was not valid JSON"),
        ("<html>Sign in</html>", "text/html", "the FHIR server answered with text/html, not FHIR JSON"),
        ('["not", "a", "resource"]', "application/json", "the FHIR server's answer was not a FHIR resource"),
    ],
)
def test_a_malformed_answer_is_a_problem(rsps, client, hook, body, content_type, problem):
    rsps.add(responses.GET, f"{EHR}/MedicationRequest", body=body, content_type=content_type)
    assert client(hook())({"medicationRequests": SEARCH})["medicationRequests"].problem == problem


@pytest.mark.parametrize(
    ("error", "problem"),
    [
        (requests.exceptions.ReadTimeout(), "the FHIR server did not answer within 5000 ms"),
        (requests.exceptions.ConnectTimeout(), "the FHIR server did not answer within 5000 ms"),
        (requests.exceptions.ConnectionError(), "the FHIR server could not be reached"),
    ],
)
def test_a_timeout_or_connection_failure_is_a_problem(rsps, client, hook, error, problem):
    rsps.add(responses.GET, f"{EHR}/MedicationRequest", body=error)
    assert client(hook())({"medicationRequests": SEARCH})["medicationRequests"].problem == problem


def test_a_server_slower_than_the_time_budget_is_reported_late_without_waiting_for_it(rsps, hook):
    released = threading.Event()

    def stall(request: requests.PreparedRequest) -> tuple[int, dict[str, str], str]:
        released.wait(10)
        return 200, {"Content-Type": FHIR_JSON}, json.dumps(searchset())

    rsps.add_callback(responses.GET, f"{EHR}/MedicationRequest", callback=stall)
    try:
        result = FhirClient(timeout_seconds=0.2)(hook())({"medicationRequests": SEARCH})["medicationRequests"]
    finally:
        released.set()
    assert result.problem == "the FHIR server did not answer within 200 ms"


def test_the_queries_of_one_call_run_in_parallel(rsps, client, hook):
    # Each answer waits until all three requests are in flight: run one after another, they would never meet.
    meeting = threading.Barrier(3, timeout=5)

    def together(request: requests.PreparedRequest) -> tuple[int, dict[str, str], str]:
        meeting.wait()
        return 200, {"Content-Type": FHIR_JSON}, json.dumps(searchset())

    for kind in ("MedicationRequest", "MedicationStatement", "Condition"):
        rsps.add_callback(responses.GET, f"{EHR}/{kind}", callback=together)
    results = client(hook())({"a": "MedicationRequest?patient=1", "b": "MedicationStatement?patient=1",
                              "c": "Condition?patient=1"})
    assert [result.problem for result in results.values()] == [None, None, None]


@pytest.mark.parametrize(
    ("query", "sent"),
    [
        ("MedicationRequest?patient=1&_include=MedicationRequest:medication",
         "MedicationRequest?patient=1&_include=MedicationRequest:medication"),
        ("Condition?patient=1", "Condition?patient=1"),
        (f"{EHR}/MedicationRequest?page=2", "MedicationRequest?page=2"),
    ],
)
def test_a_query_is_sent_as_the_core_wrote_it_below_fhir_server_and_a_next_link_as_the_server_wrote_it(
    rsps, client, hook, query, sent
):
    kind = sent.split("?")[0]
    add_json(rsps, f"{EHR}/{kind}", searchset())
    client(hook())({"key": query})
    assert [call.request.url for call in rsps.calls] == [f"{EHR}/{sent}"]


def test_the_rounds_of_one_call_share_its_time_budget(rsps, hook):
    add_json(rsps, f"{EHR}/Condition", searchset())
    run = FhirClient(timeout_seconds=60)(hook())
    run({"conditions": "Condition?patient=1"})
    object.__setattr__(run, "deadline", 0.0)  # the budget spent, as if the first round had taken all of it
    assert run({"conditions": "Condition?patient=1"})["conditions"].problem == (
        "the FHIR server did not answer within 60000 ms"
    )
    assert len(rsps.calls) == 1


def test_a_server_that_rejects_include_is_asked_again_without_it_and_remembered(rsps, client, hook):
    rsps.add(responses.GET, f"{EHR}/MedicationRequest", status=400, json={"resourceType": "OperationOutcome"},
             match=[responses.matchers.query_param_matcher({"_include": "MedicationRequest:medication"},
                                                           strict_match=False)])
    add_json(rsps, f"{EHR}/MedicationRequest", searchset(order("a")))
    asked = {"medicationRequests": f"{SEARCH}&_include=MedicationRequest:medication"}
    first = client(hook())(asked)["medicationRequests"]
    second = client(hook())(asked)["medicationRequests"]
    assert ids(first) == ids(second) == ["a"]
    assert [call.request.url for call in rsps.calls] == [
        INCLUDED,
        f"{EHR}/MedicationRequest?patient=fixture-maoi",
        f"{EHR}/MedicationRequest?patient=fixture-maoi",
    ]


def test_a_read_comes_back_as_a_one_entry_bundle(rsps, client, hook):
    add_json(rsps, f"{EHR}/Medication/m1", {"resourceType": "Medication", "id": "m1"})
    result = client(hook())({"Medication/m1": "Medication/m1"})["Medication/m1"]
    assert result.bundle == {"resourceType": "Bundle", "type": "collection",
                             "entry": [{"resource": {"resourceType": "Medication", "id": "m1"}}]}


def test_a_reference_to_another_server_is_not_read(rsps, client, hook):
    other = "https://elsewhere.example.com/fhir/Medication/m1"
    result = client(hook())({other: other})[other]
    assert result.problem == "it is on another server than the EHR's FHIR server, so it was not read"
    assert len(rsps.calls) == 0


def test_an_operation_outcome_answer_is_passed_on_for_the_core_to_report(rsps, client, hook):
    outcome = {"resourceType": "OperationOutcome", "issue": [{"severity": "error", "code": "processing"}]}
    add_json(rsps, f"{EHR}/MedicationRequest", outcome)
    assert client(hook())({"medicationRequests": SEARCH})["medicationRequests"].bundle == outcome


def test_plain_http_outside_loopback_is_refused_before_any_request(rsps, client, hook):
    result = client(hook("http://ehr.example.org/fhir"))({"medicationRequests": SEARCH})["medicationRequests"]
    assert result.problem == (
        "the EHR's FHIR server address is not https, so the service did not send it the access token"
    )
    assert len(rsps.calls) == 0


@pytest.mark.parametrize("base", ["http://127.0.0.1:8081/fhir", "http://localhost/fhir", "http://[::1]:9/fhir"])
def test_plain_http_on_loopback_is_allowed(client, base):
    assert client.refusal(base) is None


def test_plain_http_is_allowed_anywhere_when_configured():
    assert FhirClient(allow_http=True).refusal("http://ehr.example.org/fhir") is None


def test_an_unforeseen_error_while_fetching_is_a_problem_not_a_failed_call(client, hook, monkeypatch):
    monkeypatch.setattr(client.session, "get", lambda *args, **kwargs: 1 / 0)
    result = client(hook())({"medicationRequests": SEARCH})["medicationRequests"]
    assert result.problem == "the service failed while reading it; the error has been logged"


FAILURES = {
    "down": {"body": requests.exceptions.ConnectionError()},
    "slow": {"body": requests.exceptions.ReadTimeout()},
    "unauthorized": {"status": 401, "json": {"resourceType": "OperationOutcome"}},
    "forbidden": {"status": 403, "json": {"resourceType": "OperationOutcome"}},
    "not found": {"status": 404, "json": {"resourceType": "OperationOutcome"}},
    "server error": {"status": 500, "body": "Internal Server Error", "content_type": "text/plain"},
    "malformed": {"body": '{"resourceType": "Bun', "content_type": FHIR_JSON},
}


@pytest.mark.parametrize("failure", FAILURES, ids=list(FAILURES))
def test_a_failing_fhir_server_still_answers_200_with_the_incomplete_check_card(rsps, maoi, failure, caplog):
    caplog.set_level(logging.DEBUG)
    for kind in ("MedicationRequest", "MedicationStatement", "Condition"):
        rsps.add(responses.GET, f"{EHR}/{kind}", **FAILURES[failure])
    del maoi["prefetch"]
    maoi.update(fhirServer=EHR, fhirAuthorization={"access_token": TOKEN, "token_type": "Bearer", "expires_in": 300,
                                                   "scope": "patient/*.read", "subject": "ketamine-cds"})
    app = create_app(Settings(), clock=lambda: NOW)
    response = app.test_client().post("/cds-services/ketamine-order-sign", json=maoi)
    assert response.status_code == 200
    cards = response.get_json()["cards"]
    assert [card["summary"] for card in cards] == [
        "Interaction check incomplete: medications, conditions, allergies and blood pressure readings could not be "
        "read from the EHR"
    ]
    assert TOKEN not in caplog.text and "fixture-maoi" not in caplog.text


def test_an_answer_over_the_size_limit_is_a_problem_and_is_not_read_to_the_end(rsps, client, hook, monkeypatch):
    monkeypatch.setattr(fhir_client, "MAX_ANSWER_BYTES", 100_000)
    huge = '{"resourceType": "Bundle", "type": "searchset", "entry": [' + ",".join(['{"x": 1}'] * 40_000) + "]}"
    rsps.add(responses.GET, f"{EHR}/MedicationRequest", body=huge, content_type=FHIR_JSON)
    result = client(hook())({"medicationRequests": SEARCH})["medicationRequests"]
    assert result.bundle is None
    assert result.problem == "the FHIR server's answer was larger than 100,000 bytes"


@pytest.mark.parametrize("level", ["DEBUG", "INFO"])
def test_the_http_librarys_request_lines_stay_out_of_the_log_at_any_level(level):
    from service.logging_setup import configure, gunicorn_dict_config

    root = logging.getLogger()
    before = root.level
    try:
        configure(level)
        assert logging.getLogger("urllib3").getEffectiveLevel() >= logging.WARNING
    finally:
        root.setLevel(before)
    assert gunicorn_dict_config(level)["loggers"]["urllib3"]["level"] == "WARNING"
