"""Every bad request gets a clear 4xx OperationOutcome; none gets a 500."""

import json

import pytest

from service import create_app
from service.config import Settings

SIGN = "/cds-services/ketamine-order-sign"


def outcome(response, status):
    assert response.status_code == status, response.get_data(as_text=True)
    body = response.get_json()
    assert body["resourceType"] == "OperationOutcome"
    assert body["issue"][0]["severity"] == "error" and body["issue"][0]["diagnostics"]
    return body["issue"][0]


def test_a_body_that_is_not_json_is_400(client):
    issue = outcome(client.post(SIGN, data="{not json", content_type="application/json"), 400)
    assert "not valid JSON" in issue["diagnostics"]


@pytest.mark.parametrize("body", ["[]", '"text"', "42", "null"])
def test_a_json_body_that_is_not_an_object_is_400(client, body):
    issue = outcome(client.post(SIGN, data=body, content_type="application/json"), 400)
    assert "JSON object" in issue["diagnostics"]


@pytest.mark.parametrize(
    ("path", "value", "field"),
    [
        (("hook",), None, "hook"),
        (("hookInstance",), None, "hookInstance"),
        (("hookInstance",), 12, "hookInstance"),
        (("context",), None, "context"),
        (("context",), "patient 1", "context"),
        (("context", "patientId"), None, "context.patientId"),
        (("context", "userId"), 7, "context.userId"),
        (("context", "draftOrders"), None, "context.draftOrders"),
        (("context", "draftOrders"), {"resourceType": "Patient"}, "context.draftOrders"),
        (("context", "draftOrders"), {"resourceType": "Bundle", "entry": {}}, "context.draftOrders"),
        (("prefetch",), ["a"], "prefetch"),
        (("fhirServer",), "not a url", "fhirServer"),
        (("fhirAuthorization",), {"access_token": "x"}, "fhirAuthorization.token_type"),
    ],
)
def test_a_missing_or_wrongly_typed_field_is_400_naming_the_field(client, fixture, path, value, field):
    body = fixture("order-sign-esketamine-maoi")
    target = body
    for key in path[:-1]:
        target = target[key]
    if value is None:
        del target[path[-1]]
    else:
        target[path[-1]] = value
    issue = outcome(client.post(SIGN, json=body), 400)
    assert issue["expression"] == [field]
    assert issue["diagnostics"].startswith(field)


def test_fhir_authorization_without_fhir_server_is_400(client, fixture):
    body = fixture("order-sign-esketamine-maoi")
    body["fhirAuthorization"] = {"access_token": "t", "token_type": "Bearer", "expires_in": 300,
                                 "scope": "user/*.read", "subject": "cds"}
    issue = outcome(client.post(SIGN, json=body), 400)
    assert issue["expression"] == ["fhirServer"]


def test_order_select_without_selections_is_400(client, fixture):
    body = fixture("order-select-ketamine-maoi-washout")
    del body["context"]["selections"]
    issue = outcome(client.post("/cds-services/ketamine-order-select", json=body), 400)
    assert issue["expression"] == ["context.selections"]


def test_a_hook_that_does_not_match_the_service_is_400(client, fixture):
    body = fixture("order-select-ketamine-maoi-washout")
    issue = outcome(client.post(SIGN, json=body), 400)
    assert issue["expression"] == ["hook"]
    assert "order-sign" in issue["diagnostics"]


def test_an_unknown_service_is_404(client, fixture):
    outcome(client.post("/cds-services/no-such-service", json=fixture("order-sign-non-ketamine")), 404)


@pytest.mark.parametrize("method", ["get", "put", "delete", "patch"])
def test_a_wrong_method_on_a_service_is_405(client, method):
    response = getattr(client, method)(SIGN)
    outcome(response, 405)
    assert "POST" in response.headers["Allow"]


def test_a_body_over_the_size_limit_is_413(fixture):
    client = create_app(Settings(max_request_bytes=2048)).test_client()
    body = json.dumps(fixture("order-sign-esketamine-maoi"))
    assert len(body) > 2048
    outcome(client.post(SIGN, data=body, content_type="application/json"), 413)


@pytest.mark.parametrize("content_type", ["text/plain", "application/x-www-form-urlencoded", None])
def test_a_non_json_content_type_is_415(client, fixture, content_type):
    body = json.dumps(fixture("order-sign-esketamine-maoi"))
    headers = {"Content-Type": content_type} if content_type else {}
    outcome(client.post(SIGN, data=body, headers=headers), 415)


def test_fhir_json_content_type_is_accepted(client, fixture):
    body = json.dumps(fixture("order-sign-esketamine-maoi"))
    assert client.post(SIGN, data=body, content_type="application/fhir+json").status_code == 200


def draft(body):
    """The first draft order in the request's context."""
    return body["context"]["draftOrders"]["entry"][0]["resource"]


def prefetched(body, key):
    """The first resource of a prefetch key's Bundle."""
    return body["prefetch"][key]["entry"][0]["resource"]


MALFORMED_RESOURCES = [
    lambda b: b["context"]["draftOrders"].__setitem__("entry", [None, 3, "x", {"resource": []}]),
    lambda b: draft(b).__setitem__("medicationCodeableConcept", 5),
    lambda b: draft(b).__setitem__("dosageInstruction", "x"),
    lambda b: draft(b).__setitem__("dosageInstruction", [{"timing": 1}]),
    lambda b: b["prefetch"].__setitem__("medicationRequests", {"resourceType": "Bundle", "entry": [1, None]}),
    lambda b: b["prefetch"].__setitem__("medicationRequests", []),
    lambda b: prefetched(b, "medicationRequests").__setitem__("status", ["active"]),
    lambda b: prefetched(b, "medicationRequests").__setitem__("contained", 7),
    lambda b: prefetched(b, "medicationRequests").__setitem__("medicationReference", {"reference": 5}),
    lambda b: prefetched(b, "conditions").__setitem__("code", "aneurysm"),
    lambda b: prefetched(b, "conditions").__setitem__("clinicalStatus", [1]),
]
"""Entries, resources and elements of the wrong shape altogether."""

SCALARS_AND_OUT_OF_RANGE_VALUES = [
    lambda b: prefetched(b, "medicationRequests").__setitem__("note", 5),
    lambda b: prefetched(b, "medicationRequests").__setitem__("reasonCode", True),
    lambda b: prefetched(b, "medicationRequests").__setitem__("category", 1.5),
    lambda b: draft(b).__setitem__("note", "text"),
    lambda b: draft(b).__setitem__("dosageInstruction", [
        {"timing": {"repeat": {"boundsDuration": {"value": 14, "code": ["d"]}}}}]),
    lambda b: prefetched(b, "medicationRequests").update({
        "status": "stopped",
        "dosageInstruction": [{"timing": {"repeat": {"boundsDuration": {"value": 1e308, "code": "a"}}}}]}),
    lambda b: prefetched(b, "medicationRequests").update({
        "status": "stopped", "dosageInstruction": [{"timing": {"repeat": {"boundsPeriod": {
            "start": "0001-01-01T00:00:00+01:00", "end": "9999-12-31T23:00:00-05:00"}}}}]}),
    lambda b: prefetched(b, "medicationRequests").update({"contained": 3, "medicationReference": {"reference": "#m"}}),
]
"""Scalars where FHIR has arrays, and values out of the range of a date or a duration."""


def cases(name, mangles):
    """Each mangle as a test case named after its list."""
    return [pytest.param(mangle, id=f"{name}-{n}") for n, mangle in enumerate(mangles)]


@pytest.mark.parametrize(
    "mangle",
    cases("malformed", MALFORMED_RESOURCES) + cases("scalar-or-out-of-range", SCALARS_AND_OUT_OF_RANGE_VALUES),
)
def test_malformed_resources_scalars_and_out_of_range_values_never_cause_a_500(client, fixture, mangle):
    body = fixture("order-sign-esketamine-maoi")
    mangle(body)
    response = client.post(SIGN, json=body)
    assert response.status_code == 200, response.get_data(as_text=True)


@pytest.mark.parametrize(
    ("value", "why"),
    [
        ("NaN", "NaN is not JSON (RFC 8259)"),
        ("-Infinity", "nor is Infinity"),
        ("1e400", "a number no double can hold"),
        ('"\\ud800"', "a lone surrogate is no character"),
    ],
)
def test_values_json_does_not_allow_are_400(client, fixture, value, why):
    body = json.dumps(fixture("order-sign-esketamine-maoi")).replace('"intent": "order"', f'"intent": {value}', 1)
    issue = outcome(client.post(SIGN, data=body, content_type="application/json"), 400)
    assert "not valid JSON" in issue["diagnostics"], why


@pytest.mark.parametrize("encode", [lambda text: text.encode("utf-16"), lambda text: text.encode("latin-1")])
def test_a_body_not_in_utf8_is_400(client, fixture, encode):
    text = json.dumps(fixture("order-sign-esketamine-maoi")).replace('"order"', '"ordér"', 1)
    issue = outcome(client.post(SIGN, data=encode(text), content_type="application/json"), 400)
    assert "not valid JSON" in issue["diagnostics"]


def test_a_deeply_nested_extension_inside_a_resource_is_read_without_a_500(client, fixture):
    body = fixture("order-sign-esketamine-maoi")
    body["prefetch"]["medicationRequests"]["entry"][0]["resource"]["extension"] = [
        {"url": "https://example.org/deep", "valueString": "x", "_deep": "NESTED"}
    ]
    nested = "[" * 1000 + '"deep"' + "]" * 1000  # just inside the 1024 levels the body reader takes
    text = json.dumps(body).replace('"NESTED"', nested)
    response = client.post(SIGN, data=text, content_type="application/json")
    assert response.status_code == 200, response.get_data(as_text=True)
