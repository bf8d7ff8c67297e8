"""Text from the EHR is data on a card, never markup: rendered by a real Markdown renderer, a card shows only the
elements and links the knowledge base put there, and the EHR's text as it was written."""

from __future__ import annotations

import functools
import re
from html.parser import HTMLParser
from typing import Any

import pytest
from hypothesis import given
from markdown_it import MarkdownIt

from cds_hooks.knowledge import load_knowledge
from cds_hooks.markup import escape, plain
from tests.builders import condition, hook_request, medication, ordered, run
from tests.conftest import NOW
from tests.strategies import PAYLOADS, hostile_text

pytestmark = pytest.mark.fuzz

RENDERERS = {
    "commonmark": MarkdownIt("commonmark"),
    "gfm-like": MarkdownIt("gfm-like", {"linkify": True}),
}
"""CommonMark as the specification names it, and GitHub's dialect with web addresses turned into links."""


class _Elements(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.elements: list[tuple[str, tuple[tuple[str, str | None], ...]]] = []
        self.text: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.elements.append((tag, tuple(attrs)))

    def handle_data(self, data: str) -> None:
        self.text.append(data)


def rendered(markdown: str, renderer: str) -> _Elements:
    parser = _Elements()
    parser.feed(RENDERERS[renderer].render(markdown))
    parser.close()
    return parser


@functools.cache
def packaged_knowledge():
    """The knowledge base, loaded once, outside pytest's fixtures (hypothesis would print it with every failure)."""
    return load_knowledge()


def shown_text(card: dict[str, Any]) -> list[str]:
    """Every string of a card that an EHR shows: summary, detail, suggestion and link labels."""
    texts = [card["summary"], card.get("detail", "")]
    texts += [suggestion["label"] for suggestion in card.get("suggestions", ())]
    texts += [action["description"] for s in card.get("suggestions", ()) for action in s.get("actions", ())]
    texts += [link["label"] for link in card.get("links", ())]
    return texts


def request(payload: str) -> dict[str, Any]:
    """An esketamine order against an MAOI, an SSRI and tramadol (cards, a serotonin note), an aneurysm, an entry
    whose Medication cannot be read and an EHR error: the payload in every text and id the cards can show."""
    return hook_request(
        ordered("esketamine", text=f"Spravato 56 mg nasal spray {payload}"),
        medications=[
            medication(text=f"Nardil 15 mg {payload}", display=f"phenelzine {payload}", ident=f"mao {payload}"),
            medication(text=f"sertraline {payload}", ident=f"ssri {payload}"),
            medication(text=f"tramadol {payload}"),
            {"resourceType": "MedicationRequest", "id": f"ref {payload}", "status": "active", "intent": "order",
             "subject": {"reference": "Patient/case"},
             "medicationReference": {"reference": f"Medication/{payload}", "display": f"tablet {payload}"}},
        ],
        conditions=[condition(icd="I67.1", text=f"Cerebral aneurysm {payload}", ident=f"an {payload}")],
        statements=[],
    )


def with_error(body: dict[str, Any], payload: str) -> dict[str, Any]:
    body["prefetch"]["medicationStatements"] = {
        "resourceType": "OperationOutcome",
        "issue": [{"severity": "error", "code": "exception", "diagnostics": f"failed {payload}"}],
    }
    return body


def _normalised(text: str) -> str:
    return re.sub(r"\s+", " ", re.sub("[\x00-\x08\x0b\x0c\x0e-\x1f\x7f\u202a-\u202e]", "", text)).strip()


@given(payload=hostile_text)
def test_ehr_text_renders_as_text_with_only_the_knowledge_bases_elements_and_links(payload):
    knowledge = packaged_knowledge()
    cards = run(with_error(request(payload), payload), knowledge, NOW)
    plain = run(with_error(request("x"), "x"), knowledge, NOW)
    assert [card["summary"].split(" ")[0] for card in cards] == [card["summary"].split(" ")[0] for card in plain]
    citations = {citation.url for rule in knowledge.rules for citation in rule.citations if citation.url}
    for card, reference in zip(cards, plain, strict=True):
        for text, expected in zip(shown_text(card), shown_text(reference), strict=True):
            for renderer in RENDERERS:
                got, want = rendered(text, renderer), rendered(expected, renderer)
                assert got.elements == want.elements, (renderer, text)
                links = {value for _, attrs in got.elements for name, value in attrs if name in ("href", "src")}
                assert links <= citations
    detail = " ".join(" ".join(rendered(card.get("detail", ""), "commonmark").text) for card in cards)
    if _normalised(payload):
        assert _normalised(payload)[:60] in _normalised(detail)


def test_the_outside_tests_payload_is_shown_as_written(knowledge):
    payload = "<img src=x onerror=alert(1)> **BOLD** [click](https://evil.example/)"
    cards = run(request(payload), knowledge, NOW)
    avoid = next(card for card in cards if card["summary"].startswith("Avoid esketamine with Nardil"))
    page = RENDERERS["gfm-like"].render(avoid["detail"])
    assert "<img" not in page and "<strong>BOLD" not in page and "href=\"https://evil" not in page
    assert "&lt;img src=x onerror=alert(1)&gt; **BOLD** [click](https://evil.example/)" in page


@pytest.mark.parametrize("payload", PAYLOADS)
def test_escaped_text_is_one_line_of_text_in_every_renderer(payload):
    for renderer in RENDERERS:
        page = rendered(f"- {escape(payload)}", renderer)
        assert [tag for tag, _ in page.elements] == ["ul", "li"]
        assert "".join(page.text).strip() == _normalised(payload)


@given(text=hostile_text)
def test_the_plain_text_of_escaped_ehr_text_is_the_text_as_written(text):
    assert plain(escape(text)) == _normalised(text)


def test_ordinary_clinical_text_is_left_as_written():
    for text in ("St. John's wort", "buprenorphine/naloxone 8 mg-2 mg (sublingual)", "Nardil 15 mg tablet, 50%"):
        assert escape(text) == text
