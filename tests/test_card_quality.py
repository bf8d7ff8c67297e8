"""Every card of every fixture and every knowledge test case, read as a clinician in a hurry reads it: short, the
same advice in the summary, the extension and the text, nothing internal on screen, nothing said twice in one
answer, sources as links whose labels and URLs belong together."""

from __future__ import annotations

import json
import re
import statistics
from typing import Any

import pytest

from cds_hooks.cards import ADVICE_WORD
from tests.cardcheck import assert_valid_card, card_findings
from tests.conftest import FIXTURES
from tests.knowledge.test_rule_cases import CASES, KB, _cards, _condition_cases, _medication_cases

DETAIL_LIMIT = 1000
MEDIAN_LIMIT = 700
INTERNAL = re.compile(
    r"seeds/|interactions\.md|project source|knowledge base policy|\.ya?ml\b|sit\.mimsdev|rule `|"
    r"\b(?:MedicationRequest|MedicationStatement|Medication|Condition|Patient)/[\w.-]+",
    re.IGNORECASE,
)


def _fixture_answers(client) -> list[tuple[str, list[dict[str, Any]]]]:
    answers = []
    for path in sorted(FIXTURES.glob("*.json")):
        body = json.loads(path.read_text(encoding="utf-8"))
        service = f"ketamine-{body['hook']}"
        response = client.post(f"/cds-services/{service}", json=body)
        assert response.status_code == 200, path.name
        answers.append((path.stem, response.get_json()["cards"]))
    return answers


def _case_answers() -> list[tuple[str, list[dict[str, Any]]]]:
    answers = []
    for param in _medication_cases() + _condition_cases():
        drug, medications, scenario, _ = param.values
        answers.append((param.id, _cards(drug, medications, scenario)))
    for scenario in CASES["scenarios"]:
        answers.append((scenario["name"], _cards(scenario["ordered"], scenario.get("medications") or [], scenario)))
    return answers


@pytest.fixture(scope="module")
def answers(tmp_path_factory) -> list[tuple[str, list[dict[str, Any]]]]:
    from service import create_app
    from service.config import Settings
    from tests.conftest import NOW

    app = create_app(Settings(database_url=f"sqlite:///{tmp_path_factory.mktemp('db')}/c.sqlite3"),
                     clock=lambda: NOW)
    return _fixture_answers(app.test_client()) + _case_answers()


def _advice_cards(answers):
    return [(name, card) for name, cards in answers for card in cards if card_findings(card)]


def test_every_card_is_valid_and_says_one_advice_throughout(answers):
    for name, card in _advice_cards(answers):
        assert_valid_card(card)
        extension = card["extension"]["org.ketamine-cds"]
        word = card["summary"].split(" ", 1)[0]
        assert word == ADVICE_WORD[extension["advice"]], name
        assert all(finding["advice"] == extension["advice"] for finding in card_findings(card)), name
        assert card["detail"].startswith(f"**{word}"), name
        other_words = {"Avoid", "Hold", "Monitor"} - {word}
        lead = card["detail"].split("\n", 1)[0]
        assert not any(lead.startswith(f"**{other}") for other in other_words), name


def test_no_detail_is_over_the_limit_and_the_median_is_short(answers):
    lengths = []
    for name, card in _advice_cards(answers):
        assert len(card["detail"]) <= DETAIL_LIMIT, f"{name}: {len(card['detail'])} characters"
        lengths.append(len(card["detail"]))
    assert statistics.median(lengths) < MEDIAN_LIMIT


def test_nothing_internal_is_on_screen(answers):
    for name, cards in answers:
        for card in cards:
            shown = [card["summary"], card.get("detail", ""), card["source"]["label"],
                     *(link["label"] for link in card.get("links", ())),
                     *(reason["display"] for reason in card.get("overrideReasons", ()))]
            for text in shown:
                assert not INTERNAL.search(text), f"{name}: {INTERNAL.search(text).group(0)!r} in {text[:80]!r}"


def test_no_paragraph_is_said_twice_in_one_answer(answers):
    for name, cards in answers:
        said: set[str] = set()
        for card in cards:
            for paragraph in card.get("detail", "").split("\n\n"):
                if paragraph.startswith("**With:**"):  # names this card's own co-medications
                    continue
                assert paragraph not in said, f"{name}: said twice: {paragraph[:80]!r}"
                said.add(paragraph)


REPEAT_WORDS = 5
"""A run of this many words said twice in one paragraph is the same thing said twice ("additive sedation and
respiratory depression ... additive CNS and respiratory depression" is not; the same five words are)."""


def test_no_paragraph_says_the_same_words_twice(answers):
    for name, cards in answers:
        for card in cards:
            for paragraph in card.get("detail", "").split("\n\n"):
                if paragraph.startswith("**With:**") or "\n- " in paragraph:  # a list: one line per record
                    continue
                words = re.findall(r"[a-z0-9]+", paragraph.lower())
                runs = [tuple(words[i:i + REPEAT_WORDS]) for i in range(len(words) - REPEAT_WORDS + 1)]
                repeated = {run for run in runs if runs.count(run) > 1}
                assert not repeated, f"{name}: said twice in {paragraph[:60]!r}: {sorted(repeated)[:2]}"


PERIOD_AS_ADJECTIVE = re.compile(r"\b\d+ (?:days|hours|weeks|day|hour|week) (?:washout|window|gap|interval|supply)\b")
"""A period before the noun it describes reads as one word: "the 14-day washout", never "the 14 days washout"."""


def test_a_period_before_its_noun_is_one_word(answers):
    for name, cards in answers:
        for card in cards:
            for text in (card["summary"], card.get("detail", "")):
                assert not PERIOD_AS_ADJECTIVE.search(text), f"{name}: {PERIOD_AS_ADJECTIVE.search(text).group(0)!r}"


def test_sources_are_public_links_with_short_labels_that_match_their_urls(answers):
    by_url = {citation.url: citation for citation in KB.citations.values() if citation.url}
    for name, card in _advice_cards(answers):
        urls = [link["url"] for link in card.get("links", ())]
        assert len(urls) == len(set(urls)), name
        for link in card.get("links", ()):
            assert link["url"].startswith("https://") and len(link["label"]) <= 60, name
            assert by_url[link["url"]].link_label == link["label"], name
        source = card["source"]
        if "url" in source:
            assert by_url[source["url"]].link_label == source["label"], name
        assert card["detail"].count("http") == 0, f"{name}: a source in the detail"


def test_the_anaesthesia_override_reason_is_offered_only_for_anaesthetic_orders(answers):
    for name, card in _advice_cards(answers):
        codes = {reason["code"] for reason in card.get("overrideReasons", ())}
        if "monitored-procedure" in codes:
            assert "anaesthe" in name.lower() or "procedur" in name.lower(), name
