"""Checks every card must pass, whatever the rule: the CDS Hooks 2.0 normative rules plus the product's own."""

from __future__ import annotations

from typing import Any

ADVICE_WORDS = ("Avoid", "Hold", "Monitor")
EXTENSION_KEY = "org.ketamine-cds"


def card_findings(card: dict[str, Any]) -> list[dict[str, Any]]:
    """The findings a card shows, from its extension: one, or several on a combined Monitor card."""
    extension = card.get("extension", {}).get(EXTENSION_KEY, {})
    if "findings" in extension:
        return list(extension["findings"])
    return [extension] if "ruleId" in extension else []


def card_rule_ids(card: dict[str, Any]) -> list[str]:
    return [finding["ruleId"] for finding in card_findings(card)] or ["notice"]
INDICATOR_FOR = {"Avoid": "critical", "Hold": "warning", "Monitor": "info"}


def assert_no_empty_values(value: Any, path: str = "") -> None:
    """The spec forbids null, "", [] and {} anywhere but ``cards``."""
    assert value is not None, f"{path} is null"
    if isinstance(value, str):
        assert value.strip(), f"{path} is an empty string"
    elif isinstance(value, list):
        assert value, f"{path} is an empty array"
        for number, item in enumerate(value):
            assert_no_empty_values(item, f"{path}[{number}]")
    elif isinstance(value, dict):
        assert value, f"{path} is an empty object"
        for key, item in value.items():
            assert_no_empty_values(item, f"{path}.{key}")


def assert_valid_card(card: dict[str, Any]) -> None:
    assert_no_empty_values(card, "card")
    assert set(card) <= {"uuid", "summary", "detail", "indicator", "source", "suggestions", "selectionBehavior",
                         "overrideReasons", "links", "extension"}
    assert len(card["summary"]) < 140
    assert card["indicator"] in {"info", "warning", "critical"}
    assert card["source"]["label"]
    assert card["uuid"]
    word = card["summary"].split(" ", 1)[0]
    extension = card["extension"]["org.ketamine-cds"]
    if "advice" in extension:
        assert word in ADVICE_WORDS
        assert card["indicator"] == INDICATOR_FOR[word]
        assert extension["advice"] == word.lower()
        assert extension["knowledgeVersion"] and card_findings(card)
        for finding in card_findings(card):
            assert finding["ruleId"] and finding["advice"] == extension["advice"]
            # an interaction's co-medications or conditions, or what an order rule found in the order
            assert finding.get("implicated") or finding["orderCheck"]["observed"]
        if word in ("Avoid", "Hold"):
            assert all(reason["display"] and reason["code"] for reason in card["overrideReasons"])
    else:
        assert word not in ADVICE_WORDS, "a notice card must not read as advice"
    if "suggestions" in card:
        assert card["selectionBehavior"] in {"at-most-one", "any"}
        for suggestion in card["suggestions"]:
            assert suggestion["uuid"] and suggestion["label"]
            for action in suggestion["actions"]:
                assert action["type"] in {"create", "update", "delete"} and action["description"]
                if action["type"] == "delete":
                    assert "/" in action["resourceId"]
    else:
        assert "selectionBehavior" not in card
    for link in card.get("links", ()):
        assert link["type"] in {"absolute", "smart"} and link["url"].startswith("https://")
