"""The sandbox FHIR server as a browser-based client (the CDS Hooks Sandbox) uses it: a preflight before each
cross-origin call, CORS headers on every answer, and searches POSTed as forms."""

from __future__ import annotations

import subprocess

import pytest
import requests

from service.fhir.sandbox import SANDBOX_DIR, node_command
from tests.sandbox.conftest import SANDBOX_TOKEN

pytestmark = pytest.mark.integration
ORIGIN = "http://localhost:3000"
FORM = {"Content-Type": "application/x-www-form-urlencoded", "Origin": ORIGIN}


def preflight(url: str, method: str, headers: str) -> requests.Response:
    return requests.options(url, timeout=10, headers={
        "Origin": ORIGIN, "Access-Control-Request-Method": method, "Access-Control-Request-Headers": headers})


def ids(bundle: dict) -> list[str]:
    return [entry["resource"]["id"] for entry in bundle.get("entry", []) if entry["search"]["mode"] == "match"]


def test_a_preflight_allows_the_method_and_headers_the_browser_asks_for(strict_sandbox):
    answer = preflight(f"{strict_sandbox.base_url}/MedicationRequest/_search", "POST", "authorization,content-type")
    assert answer.status_code == 204 and answer.content == b""
    assert answer.headers["Access-Control-Allow-Origin"] == "*"
    assert "POST" in answer.headers["Access-Control-Allow-Methods"]
    assert answer.headers["Access-Control-Allow-Headers"].lower() == "authorization,content-type"


def test_every_answer_carries_cors_headers_even_a_refusal(strict_sandbox):
    read = requests.get(f"{strict_sandbox.base_url}/Patient/fixture-maoi", headers={"Origin": ORIGIN}, timeout=10)
    assert read.status_code == 401 and read.headers["Access-Control-Allow-Origin"] == "*"
    assert "WWW-Authenticate" in read.headers["Access-Control-Expose-Headers"]
    metadata = requests.get(f"{strict_sandbox.base_url}/metadata", headers={"Origin": ORIGIN}, timeout=10)
    assert metadata.ok and metadata.headers["Access-Control-Allow-Origin"] == "*"
    signed = {**FORM, "Authorization": f"Bearer {SANDBOX_TOKEN}"}
    posted = requests.post(f"{strict_sandbox.base_url}/Patient/_search", data={"_id": "fixture-maoi"},
                           headers=signed, timeout=10)
    assert posted.ok and ids(posted.json()) == ["fixture-maoi"]


def test_a_form_encoded_search_finds_what_the_same_get_search_finds(fhir_sandbox):
    base = fhir_sandbox.base_url
    query = {"patient": "fixture-maoi", "_include": "MedicationRequest:medication"}
    posted = requests.post(f"{base}/MedicationRequest/_search", data=query, headers=FORM, timeout=10)
    assert posted.status_code == 200 and posted.headers["Access-Control-Allow-Origin"] == "*"
    got = requests.get(f"{base}/MedicationRequest", params=query, timeout=10).json()
    assert ids(posted.json()) == ids(got) and "nardil" in ids(got)


def test_a_form_search_adds_the_url_parameters_to_the_body(fhir_sandbox):
    url = f"{fhir_sandbox.base_url}/MedicationRequest/_search?patient=fixture-clean"
    found = requests.post(url, data={"_count": "1"}, headers=FORM, timeout=10).json()  # four orders in all
    assert found["resourceType"] == "Bundle" and len(ids(found)) == 1
    assert any(link["relation"] == "next" for link in found["link"])


def test_a_search_with_a_json_body_or_a_form_elsewhere_is_refused_with_an_outcome(fhir_sandbox):
    base = fhir_sandbox.base_url
    json_search = requests.post(f"{base}/Condition/_search", json={"patient": "x"}, timeout=10)
    assert json_search.status_code == 400 and json_search.json()["resourceType"] == "OperationOutcome"
    form_create = requests.post(f"{base}/Patient", data={"id": "x"}, headers=FORM, timeout=10)
    assert form_create.status_code == 400 and "_search" in form_create.text


def test_the_fixture_patients_have_names_the_sandbox_can_show(fhir_sandbox):
    patient = requests.get(f"{fhir_sandbox.base_url}/Patient/fixture-maoi", timeout=10).json()
    assert patient["name"][0]["given"] and patient["name"][0]["family"] and patient["birthDate"]


@pytest.mark.parametrize(("argument", "code", "stream"), [("--help", 0, "stdout"), ("--no-such-option", 2, "stderr")])
def test_help_prints_the_usage_and_an_unknown_option_says_which(argument, code, stream):
    try:
        command = node_command()
    except RuntimeError as reason:
        pytest.skip(str(reason))
    ran = subprocess.run([*command, "server.mjs", argument], cwd=SANDBOX_DIR, capture_output=True, text=True,
                         timeout=60, check=False)
    assert ran.returncode == code
    assert "Usage: node server.mjs" in getattr(ran, stream)
    if code:
        assert "--no-such-option" in ran.stderr


SEARCH_FROM_THE_PAGE = """async ([base, token]) => {
  const headers = {'Authorization': `Bearer ${token}`, 'Content-Type': 'application/x-www-form-urlencoded'};
  const search = await fetch(`${base}/MedicationRequest/_search`, {method: 'POST', headers,
                                                                   body: 'patient=fixture-maoi&status=active'});
  const patient = await fetch(`${base}/Patient/fixture-maoi`, {headers: {'Authorization': `Bearer ${token}`}});
  return {status: search.status, bundle: await search.json(), patient: await patient.json()};
}"""


def test_a_page_of_another_origin_searches_the_sandbox_as_the_cds_hooks_sandbox_does(browser, fhir_sandbox,
                                                                                   strict_sandbox):
    """In chromium, from a page served by another origin: the bearer token makes each call preflighted, and the
    browser hands the answer to the page only when the server allows it."""
    page = browser.new_page()
    try:
        page.goto(f"{fhir_sandbox.base_url}/metadata")
        found = page.evaluate(SEARCH_FROM_THE_PAGE, [strict_sandbox.base_url, SANDBOX_TOKEN])
    finally:
        page.close()
    assert found["status"] == 200 and "nardil" in ids(found["bundle"])
    assert found["patient"]["name"][0]["text"]
