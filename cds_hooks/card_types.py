"""A CDS Hooks 2.0 card as typed data: what the core answers with. JSON is made from it at the edge (``as_json``).

A leaf: it imports nothing of the core's stages, so the service's metrics and its card recorder can read cards
(their advice, rule and knowledge version) without loading the core.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from cds_hooks.ids import EXTENSION_KEY

NOTICE_DATA_INCOMPLETE = "data-incomplete"


@dataclass(frozen=True, slots=True)
class Coding:
    system: str
    code: str
    display: str | None = None

    def as_json(self) -> dict[str, str]:
        coding = {"system": self.system, "code": self.code}
        if self.display is not None:
            coding["display"] = self.display
        return coding


@dataclass(frozen=True, slots=True)
class Source:
    label: str
    topic: Coding | None = None
    url: str | None = None

    def as_json(self) -> dict[str, Any]:
        source: dict[str, Any] = {"label": self.label}
        if self.topic is not None:
            source["topic"] = self.topic.as_json()
        if self.url:
            source["url"] = self.url
        return source


@dataclass(frozen=True, slots=True)
class Action:
    type: str
    description: str
    resource_id: str

    def as_json(self) -> dict[str, str]:
        return {"type": self.type, "description": self.description, "resourceId": self.resource_id}


@dataclass(frozen=True, slots=True)
class Suggestion:
    label: str
    uuid: str
    is_recommended: bool
    actions: tuple[Action, ...]

    def as_json(self) -> dict[str, Any]:
        return {"label": self.label, "uuid": self.uuid, "isRecommended": self.is_recommended,
                "actions": [action.as_json() for action in self.actions]}


@dataclass(frozen=True, slots=True)
class Link:
    label: str
    url: str
    type: str = "absolute"

    def as_json(self) -> dict[str, str]:
        return {"label": self.label, "url": self.url, "type": self.type}


@dataclass(frozen=True, slots=True)
class ImplicatedEntry:
    """One co-medication ingredient, condition, allergy or blood-pressure reading an advice card is about, with the
    advice it earned."""

    kind: str
    """``ingredient``, ``condition`` or ``bloodPressure``."""
    name: str
    advice: str
    reference: str | None = None
    rxnorm: str | None = None
    allergy: str | None = None
    """The allergy, when the ingredient is that of a recorded allergy (``ketamine allergy``)."""
    values: tuple[tuple[str, float], ...] = ()
    """A blood-pressure reading's values in mmHg (``systolic``, ``diastolic``)."""
    effective: str | None = None
    """When the reading was taken."""
    references: tuple[str, ...] = ()
    """The Observations the reading came from."""

    def as_json(self) -> dict[str, Any]:
        if self.kind == "bloodPressure":
            return {"bloodPressure": {**dict(self.values), "unit": "mm[Hg]"}, "effective": self.effective,
                    "references": list(self.references), "advice": self.advice}
        entry: dict[str, Any] = {self.kind: self.name, "advice": self.advice}
        if self.allergy:
            entry["allergy"] = self.allergy
        if self.reference:
            entry["reference"] = self.reference
        if self.rxnorm:
            entry["rxnorm"] = self.rxnorm
        return entry


@dataclass(frozen=True, slots=True)
class OrderCheck:
    """What an order rule's card found in the order itself: the check (``dose``, ``frequency``, ...) and what the
    order says that breaks its limit (``112 mg per session``)."""

    check: str
    observed: str

    def as_json(self) -> dict[str, str]:
        return {"check": self.check, "observed": self.observed}


@dataclass(frozen=True, slots=True)
class Origin:
    """What produced a card, carried in its ``org.ketamine-cds`` extension: the rule and advice of an advice card
    (with what it implicates, or what an order rule found in the order), or the kind of a notice; always the
    knowledge base version."""

    knowledge_version: str
    advice: str | None = None
    rule_id: str | None = None
    evidence_grade: str | None = None
    ordered_drug: str | None = None
    ordered_reference: str | None = None
    implicated: tuple[ImplicatedEntry, ...] = ()
    """An interaction rule's co-medications or conditions; an order rule's card has ``order_check`` instead."""
    order_check: OrderCheck | None = None
    notice: str | None = None

    def as_json(self) -> dict[str, Any]:
        if self.notice is not None:
            return {"notice": self.notice, "knowledgeVersion": self.knowledge_version}
        ordered = {"name": self.ordered_drug}
        if self.ordered_reference:
            ordered["reference"] = self.ordered_reference
        origin: dict[str, Any] = {
            "advice": self.advice,
            "ruleId": self.rule_id,
            "knowledgeVersion": self.knowledge_version,
            "evidenceGrade": self.evidence_grade,
            "orderedDrug": ordered,
        }
        if self.order_check is not None:
            origin["orderCheck"] = self.order_check.as_json()
        else:
            origin["implicated"] = [entry.as_json() for entry in self.implicated]
        return origin


@dataclass(frozen=True, slots=True)
class Card:
    uuid: str
    summary: str
    indicator: str
    detail: str
    source: Source
    origin: Origin
    suggestions: tuple[Suggestion, ...] = ()
    selection_behavior: str | None = None
    override_reasons: tuple[Coding, ...] = ()
    links: tuple[Link, ...] = ()

    @property
    def is_notice(self) -> bool:
        return self.origin.notice is not None

    def as_json(self) -> dict[str, Any]:
        """The card as the specification spells it: no null or empty field."""
        card: dict[str, Any] = {
            "uuid": self.uuid,
            "summary": self.summary,
            "indicator": self.indicator,
            "detail": self.detail,
            "source": self.source.as_json(),
        }
        if self.suggestions:
            card["suggestions"] = [suggestion.as_json() for suggestion in self.suggestions]
        if self.selection_behavior:
            card["selectionBehavior"] = self.selection_behavior
        if self.override_reasons:
            card["overrideReasons"] = [reason.as_json() for reason in self.override_reasons]
        if self.links:
            card["links"] = [link.as_json() for link in self.links]
        card["extension"] = {EXTENSION_KEY: self.origin.as_json()}
        return card
