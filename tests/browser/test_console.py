"""The console in a real browser: each page loads and passes the accessibility basics, a rule is searched, a
fixture previewed, a plot read, and the credential asked for when one is set."""

from __future__ import annotations

import csv
import io
import json

import pytest
import requests

from service.storage import storage
from service.storage.report import feedback_report
from tests.browser.a11y import problems
from tests.browser.conftest import CONSOLE_TOKEN

pytestmark = pytest.mark.integration
PAGES = ["/console/", "/console/rules", "/console/rules/maoi", "/console/rules/intracerebral-haemorrhage",
         "/console/preview", "/console/feedback"]


@pytest.mark.parametrize("path", PAGES)
def test_each_page_loads_with_its_heading_and_passes_the_accessibility_basics(page, live, path):
    requested = []
    page.on("request", lambda request: requested.append(request.url))
    answer = page.goto(live.url + path)
    assert answer.status == 200
    assert page.locator("h1").count() == 1 and page.locator("nav[aria-label=Console] a").count() == 4
    assert problems(page) == []
    assert all(url.startswith(live.url) for url in requested), "every resource comes from the service itself"


def test_the_status_page_shows_versions_reachability_and_no_secret(page, live, screenshot):
    page.goto(live.url + "/console/")
    facts = page.locator("dl.facts").inner_text()
    assert "Knowledge base" in facts and live.app.extensions["ketamine_cds"].knowledge.version in facts
    rows = {row.locator("th").inner_text(): row.locator("td").inner_text()
            for row in page.locator("table").first.locator("tbody tr").all()}
    assert rows["database"] == "ok" and rows["knowledge"] == "ok" and rows["redis"] == "not used"
    screenshot(page, "console-status")


def test_searching_a_brand_finds_its_rule_and_the_rule_lists_the_brand_among_its_members(page, live, screenshot):
    page.goto(live.url + "/console/rules")
    page.get_by_label("What does a drug or condition trigger?").fill("Zoloft")
    page.get_by_role("button", name="Search").click()
    results = page.locator("section[aria-labelledby=results]")
    assert "Read as Zoloft (sertraline)" in results.inner_text()
    hit = results.get_by_role("link", name="Selective serotonin reuptake inhibitors")
    assert "esketamine: Monitor" in results.locator("li").first.inner_text()
    screenshot(page, "console-rules-search")
    hit.click()
    assert page.locator("h1").inner_text() == live.app.extensions["ketamine_cds"].knowledge.rule("ssri").title
    sertraline = page.locator("table.members tr", has=page.locator("th", has_text="sertraline"))
    assert "zoloft" in sertraline.inner_text() and "36437" in sertraline.inner_text()


def test_searching_the_spravato_code_says_it_is_an_ordered_drug(page, live):
    page.goto(live.url + "/console/rules?q=2201625")
    text = page.locator("section[aria-labelledby=results]").inner_text()
    assert "RxNorm 2201625: esketamine Nasal Spray [Spravato]" in text and "whose orders the service checks" in text


def test_previewing_a_fixture_renders_its_cards_the_json_and_the_data_read(page, live, screenshot):
    page.goto(live.url + "/console/preview")
    page.get_by_label("Fixture patient and order").select_option("order-sign-esketamine-maoi")
    page.get_by_role("button", name="Preview the fixture").click()
    card = page.locator("article.card").first
    assert card.locator("h3").inner_text().startswith("Avoid esketamine with Nardil (phenelzine)")
    assert card.locator(".detail strong", has_text="Avoid:").count() == 1, "Markdown is rendered"
    answer = json.loads(page.locator(".json pre").inner_text())
    assert answer["cards"][0]["summary"] == card.locator("h3").inner_text()
    read = page.locator("table", has=page.locator("caption", has_text="What the check read")).inner_text()
    assert "Nardil" in read and "fixture-maoi" not in page.content()
    nardil = page.locator("tr", has=page.locator("td", has_text="Nardil")).inner_text()
    assert "Monoamine oxidase inhibitors with ketamine or esketamine: avoid" in nardil
    assert problems(page) == []
    screenshot(page.locator("section[aria-labelledby=cards-heading] .preview"), "console-preview")


def test_markup_in_pasted_patient_data_is_shown_as_text_never_run(page, live):
    dialogs = []
    page.on("dialog", lambda dialog: (dialogs.append(dialog.message), dialog.dismiss()))
    bundle = {"resourceType": "Bundle", "type": "collection", "entry": [{"resource": {
        "resourceType": "MedicationStatement", "id": "m1", "status": "active", "subject": {"reference": "Patient/p"},
        "medicationCodeableConcept": {"text": "phenelzine <img src=x onerror=alert(1)> **15 mg**"}}}]}
    page.goto(live.url + "/console/preview")
    page.get_by_label("A CDS Hooks request, or a FHIR Bundle").fill(json.dumps(bundle))
    page.get_by_label("Drug ordered").select_option("ketamine")
    page.get_by_role("button", name="Preview the pasted JSON").click()
    cards = page.locator(".cards")
    assert "Avoid ketamine with phenelzine" in cards.inner_text()
    assert "<img src=x onerror=alert(1)>" in cards.inner_text()
    assert cards.locator("img").count() == 0 and dialogs == []


def test_a_bad_paste_is_explained_on_the_page(page, live):
    page.goto(live.url + "/console/preview")
    page.get_by_label("A CDS Hooks request, or a FHIR Bundle").fill("{not json")
    page.get_by_role("button", name="Preview the pasted JSON").click()
    assert "the text is not JSON" in page.get_by_role("alert").inner_text()


def test_the_feedback_plot_and_csv_hold_the_numbers_of_the_report(page, live, screenshot):
    page.goto(live.url + "/console/feedback")
    report = feedback_report(storage(live.app).database)
    bars = page.locator("figure svg").first
    for row in report.rules:
        label = f"{row.issued} issued, {row.accepted} accepted, {row.overridden} overridden"
        assert bars.locator("text", has_text=label).count() >= 1, label
    maoi = next(row for row in report.rules if row.rule == "maoi")
    assert (maoi.issued, maoi.accepted, maoi.overridden) == (2, 1, 1)
    weeks = page.locator("table", has=page.locator("caption", has_text="The numbers of the chart")).locator("tbody tr")
    cells = [row.locator("td").all_inner_texts() for row in weeks.all()]
    assert sum(int(c[0]) for c in cells) == sum(row.issued for row in report.rules)
    assert (sum(int(c[1]) for c in cells), sum(int(c[2]) for c in cells)) == (3, 2)
    csv_url = page.get_by_role("link", name="per rule and advice (CSV)").get_attribute("href")
    rows = list(csv.DictReader(io.StringIO(requests.get(live.url + csv_url, timeout=10).text)))
    assert [(r["rule"], int(r["issued"]), int(r["overridden"])) for r in rows] == [
        (row.rule, row.issued, row.overridden) for row in report.rules]
    assert "4471" not in page.content(), "no comment (which may name a patient) is shown"
    screenshot(page, "console-feedback")


def test_the_plot_for_one_rule_shows_its_weeks(page, live):
    page.goto(live.url + "/console/feedback")
    page.get_by_label("Rule and advice", exact=True).select_option("benzodiazepines (hold)")
    page.get_by_role("button", name="Show").click()
    title = page.locator("figure svg").nth(1).get_attribute("aria-label")
    assert title == "Cards per week, benzodiazepines (hold), last 12 weeks"
    points = page.locator("figure svg").nth(1).locator("circle title").evaluate_all("ts => ts.map(t => t.textContent)")
    assert sum(1 for point in points if point.startswith("overridden") and not point.endswith(": 0")) == 1


def test_with_a_credential_set_the_console_asks_for_it_and_refuses_a_wrong_one(browser, guarded):
    anonymous = browser.new_context()
    refused = anonymous.request.get(guarded.url + "/console/")
    assert refused.status == 401 and refused.headers["www-authenticate"].startswith("Basic")
    anonymous.close()
    wrong = browser.new_context(http_credentials={"username": "committee", "password": "not-it"})
    assert wrong.request.get(guarded.url + "/console/rules").status == 401
    wrong.close()
    right = browser.new_context(http_credentials={"username": "committee", "password": CONSOLE_TOKEN})
    page = right.new_page()
    assert page.goto(guarded.url + "/console/rules").status == 200 and page.locator("h1").inner_text() == "Rules"
    right.close()


def test_the_accessibility_check_finds_what_a_page_lacks(page):
    page.set_content('<h2>No h1</h2><h4>skipped</h4><input id="x"><svg></svg>'
                     '<p style="color:#aaa;background:#fff">pale</p>')
    found = problems(page)
    assert "html has no lang" in found and "not exactly one h1" in found and "heading h4 skips a level" in found
    assert "input#x has no label" in found and "svg has no text alternative" in found
    assert any(problem.startswith("contrast 2.32") for problem in found)


def test_site_overrides_are_shown_beside_their_rules_with_their_approval(browser, guarded, screenshot):
    context = browser.new_context(viewport={"width": 1280, "height": 900},
                                  http_credentials={"username": "committee", "password": CONSOLE_TOKEN})
    page = context.new_page()
    page.goto(guarded.url + "/console/rules/benzodiazepines")
    override = page.locator("section[aria-labelledby=override]").inner_text()
    assert "esketamine monitor" in override and "P&T committee (chair Dr J. Rivera)" in override
    assert "2026-11-30" in override and "Minutes 2026-11, item 4" in override and "pulse oximetry" in override
    advice = page.locator("table", has=page.locator("caption", has_text="Advice per ordered drug")).inner_text()
    assert "esketamine\tHold\tMonitor" in advice
    assert problems(page) == []
    screenshot(page, "console-rule-override")
    page.goto(guarded.url + "/console/rules/thyroid-hormones")
    assert "switched off" in page.locator("table").first.inner_text()
    page.goto(guarded.url + "/console/")
    listed = page.locator("table", has=page.locator("caption", has_text="Active override entries")).inner_text()
    assert "benzodiazepines" in listed and "thyroid-hormones" in listed and "switched off" in listed
    context.close()
