"""Card preview: the cards the service would give, nothing stored, nothing read from a FHIR server."""

from __future__ import annotations

import json
from datetime import timedelta

import markupsafe
import pytest
from hypothesis import given
from hypothesis import strategies as st
from sqlalchemy import func, select

from cds_hooks.markup import escape
from service import create_app
from service.config import Settings
from service.console import markdown
from service.console.preview import request_from_bundle
from service.storage import storage
from service.storage.models import issued_cards
from service.storage.recorder import recorder
from tests.conftest import NOW


def bundle(*resources):
    return {"resourceType": "Bundle", "type": "collection", "entry": [{"resource": r} for r in resources]}


NARDIL = {"resourceType": "MedicationStatement", "id": "m1", "status": "active",
          "subject": {"reference": "Patient/p1"}, "medicationCodeableConcept": {"text": "Nardil 15 mg"}}


def test_a_fixture_preview_gives_the_services_cards_and_stores_nothing(app, client, fixture):
    answered = client.post("/cds-services/ketamine-order-sign", json=fixture("order-sign-esketamine-maoi")).get_json()
    page = client.post("/console/preview", data={"fixture": "order-sign-esketamine-maoi"})
    html = page.get_data(as_text=True)
    assert page.status_code == 200
    for card in answered["cards"]:
        assert card["summary"] in html
    recorder(app).flush()
    with storage(app).database.engine.connect() as connection:
        assert connection.execute(select(func.count()).select_from(issued_cards)).scalar() == len(answered["cards"])
    assert "fixture-maoi" not in html, "no patient identifier is shown"


def test_a_washout_fixture_is_previewed_on_its_own_terms_on_a_later_day(tmp_path):
    later = create_app(Settings(database_url=f"sqlite:///{tmp_path}/x.sqlite3"), clock=lambda: NOW + timedelta(days=60))
    page = later.test_client().post("/console/preview", data={"fixture": "order-select-ketamine-maoi-washout"})
    assert "Cards (1)" in page.get_data(as_text=True)


def test_a_bundle_is_checked_against_the_drug_and_hook_chosen(client):
    page = client.post("/console/preview", data={"body": json.dumps(bundle({"resourceType": "Patient", "id": "p1"},
                                                                           NARDIL)),
                                                 "drug": "ketamine", "hook": "order-select"})
    html = page.get_data(as_text=True)
    assert page.status_code == 200 and "Avoid ketamine with Nardil" in html and "ketamine-order-select" in html
    cards = html.split("<h2 id=\"cards-heading\">")[1].split("The JSON answer")[0]
    assert "Nardil 15 mg" in html and "p1" not in cards


def test_the_data_read_says_what_the_check_made_of_each_record_and_what_it_could_not_read(client, fixture):
    request = fixture("order-sign-esketamine-maoi")
    del request["prefetch"]["conditions"]
    html = client.post("/console/preview", data={"body": json.dumps(request)}).get_data(as_text=True)
    rows = {row.split("<td>")[4].split("</td>")[0]: row.split("<td>")[5].split("</td>")[0]
            for row in html.split("<caption>What the check read")[1].split("</table>")[0].split("<tr>")[2:]}
    assert rows["Nardil 15 mg tablet"] == "Monoamine oxidase inhibitors with ketamine or esketamine: avoid"
    assert rows["simvastatin 20 MG Oral Tablet (312961)"] == "-"
    assert any(outcome == "the esketamine order checked" for outcome in rows.values())
    not_read = html.split("<h3>Not read</h3>")[1].split("</ul>")[0]
    assert "conditions: it was not sent and there is no fhirServer to read it from" in not_read
    assert "medication orders" not in not_read


def test_a_call_ordering_no_ketamine_says_the_patients_data_was_not_looked_at(client):
    page = client.post("/console/preview", data={"body": json.dumps(bundle(NARDIL)), "drug": "ketamine",
                                                 "hook": "order-sign"})
    assert "was not looked at" not in page.get_data(as_text=True)
    request = request_from_bundle(bundle(NARDIL), "ketamine", "order-sign")
    request["context"]["draftOrders"]["entry"][0]["resource"]["medicationCodeableConcept"] = {"text": "sertraline"}
    html = client.post("/console/preview", data={"body": json.dumps(request)}).get_data(as_text=True)
    assert "Cards (0)" in html and "so the patient's data was not looked at" in html


def test_a_bundle_makes_a_request_with_its_resources_by_prefetch_key():
    request = request_from_bundle(bundle(NARDIL, {"resourceType": "Condition", "id": "c1"},
                                         {"resourceType": "Medication", "id": "med"}), "esketamine", "order-sign")
    prefetch = request["prefetch"]
    assert [e["resource"]["id"] for e in prefetch["medicationStatements"]["entry"]] == ["m1", "med"]
    assert [e["resource"]["id"] for e in prefetch["conditions"]["entry"]] == ["c1"]
    assert prefetch["medicationRequests"]["entry"] == []
    draft = request["context"]["draftOrders"]["entry"][0]["resource"]
    assert draft["medicationCodeableConcept"]["coding"][0]["code"] == "2201625"


@pytest.mark.parametrize(("form", "message"), [
    ({"body": "{not json"}, "the text is not JSON"),
    ({"body": "[1, 2]"}, "paste a CDS Hooks request"),
    ({"body": json.dumps(bundle()), "drug": "arketamine", "hook": "order-sign"}, "choose the drug ordered"),
    ({"body": json.dumps({"hook": "encounter-start", "context": {}})}, "no service of this server answers"),
    ({"body": json.dumps(bundle()), "drug": "esketamine", "hook": "patient-view"}, "choose the drug ordered"),
    ({"body": json.dumps({"hook": "order-sign", "hookInstance": "x", "context": {}})}, "context"),
    ({"fixture": "no-such-fixture"}, "there is no fixture named"),
])
def test_bad_input_is_explained_on_the_page_with_a_client_error(client, form, message):
    page = client.post("/console/preview", data=form)
    assert page.status_code == 400 and message in page.get_data(as_text=True)


ALLOWED = ("<p>", "</p>", "<ul>", "</ul>", "<li>", "</li>", "<strong>", "</strong>", "<em>", "</em>", "<code>",
           "</code>", "<br>", "</a>")


@given(st.text(alphabet=st.sampled_from("<>&\"'*`-[]():/ \nahjs=x1\\\x00"), max_size=80))
def test_ehr_text_escaped_for_the_card_shows_as_written_and_never_as_markup(text):
    html = str(markdown.render(f"- Nardil: {escape(text)} (read)"))
    assert html.startswith("<ul><li>Nardil: ") and html.endswith(" (read)</li></ul>")
    shown = html.removeprefix("<ul><li>Nardil: ").removesuffix(" (read)</li></ul>")
    assert "<" not in shown and shown == str(markupsafe.escape(" ".join(text.replace("\x00", "").split())))


@given(st.text(alphabet=st.sampled_from("<>&\"'*`-[]():/ \nahjs=x1\\\x00"), max_size=80))
def test_card_markdown_never_lets_markup_through(text):
    html = str(markdown.render(text))
    for tag in ALLOWED:
        html = html.replace(tag, "")
    while '<a href="http' in html:
        start = html.index('<a href="http')
        html = html[:start] + html[html.index(">", start) + 1:]
    assert "<" not in html and ">" not in html.replace("&gt;", "")
