"""A CDS Hooks 2.0 card as typed data: what the core answers with. JSON is made from it at the edge (``as_json``).

A leaf: it imports nothing of the core's stages, so the service's metrics and its card recorder can read cards
(their advice, rule and knowledge version) without loading the core.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from cds_hooks.ids import EXTENSION_KEY

NOTICE_DATA_INCOMPLETE = "data-incomplete"


@dataclass(slots=True)
class Coding:
    system: str
    code: str
    display: str | None = None

    def as_json(self) -> dict[str, str]:
        coding = {"system": self.system, "code": self.code}
        if self.display is not None:
            coding["display"] = self.display
        return coding


@dataclass(slots=True)
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


@dataclass(slots=True)
class Action:
    type: str
    description: str
    resource_id: str

    def as_json(self) -> dict[str, str]:
        return {"type": self.type, "description": self.description, "resourceId": self.resource_id}


@dataclass(slots=True)
class Suggestion:
    label: str
    uuid: str
    is_recommended: bool
    actions: tuple[Action, ...]

    def as_json(self) -> dict[str, Any]:
        return {"label": self.label, "uuid": self.uuid, "isRecommended": self.is_recommended,
                "actions": [action.as_json() for action in self.actions]}


@dataclass(slots=True)
class Link:
    label: str
    url: str
    type: str = "absolute"

    def as_json(self) -> dict[str, str]:
        return {"label": self.label, "url": self.url, "type": self.type}


@dataclass(slots=True)
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


@dataclass(slots=True)
class OrderCheck:
    """What an order rule's card found in the order itself: the check (``dose``, ``frequency``, ...) and what the
    order says that breaks its limit (``112 mg per session``)."""

    check: str
    observed: str

    def as_json(self) -> dict[str, str]:
        return {"check": self.check, "observed": self.observed}


@dataclass(slots=True)
class FindingOrigin:
    """One finding a card shows: what a system or an audit needs and a clinician does not."""

    rule_id: str
    advice: str
    key: str
    """Rule, ordered drug, advice and what is implicated: two findings with one key are the same alert."""
    evidence_grade: str
    evidence: str
    citations: tuple[str, ...]
    implicated: tuple[ImplicatedEntry, ...]
    modifier: str | None = None
    """The modifying factor that set the advice, if one did."""
    modifier_evidence: str | None = None
    site_policy: bool = False
    """The site override set the advice."""
    order_check: OrderCheck | None = None
    """An order rule's finding: what the order says that breaks its limit (in place of ``implicated``)."""
    supersedes: tuple[str, ...] = ()
    """The rules whose findings this one took in: their records are among ``implicated``."""

    def as_json(self) -> dict[str, Any]:
        finding: dict[str, Any] = {
            "ruleId": self.rule_id,
            "advice": self.advice,
            "findingKey": self.key,
            "evidenceGrade": self.evidence_grade,
            "evidence": self.evidence,
            "citations": list(self.citations),
        }
        if self.order_check is not None:
            finding["orderCheck"] = self.order_check.as_json()
        else:
            finding["implicated"] = [entry.as_json() for entry in self.implicated]
        if self.modifier is not None:
            finding["modifier"] = {"id": self.modifier}
            if self.modifier_evidence:
                finding["modifier"]["evidence"] = self.modifier_evidence
        if self.site_policy:
            finding["sitePolicy"] = True
        if self.supersedes:
            finding["supersedes"] = list(self.supersedes)
        return finding


@dataclass(slots=True)
class NotRead:
    """What a notice card says could not be read: a prefetch key, or a record by its FHIR reference."""

    problem: str
    data: str | None = None
    reference: str | None = None

    def as_json(self) -> dict[str, str]:
        item = {"data": self.data} if self.data else {"reference": self.reference or ""}
        key = "reason" if self.data else "problem"
        return {**item, key: self.problem}


@dataclass(slots=True)
class Origin:
    """What produced a card, carried in its ``org.ketamine-cds`` extension: the findings of an advice card (one, or
    several on a combined Monitor card; an order rule's with what it found in the order), or the kind of a notice;
    always the knowledge base version."""

    knowledge_version: str
    advice: str | None = None
    ordered_drug: str | None = None
    ordered_reference: str | None = None
    findings: tuple[FindingOrigin, ...] = ()
    notice: str | None = None
    not_read: tuple[NotRead, ...] = ()

    @property
    def rule_id(self) -> str | None:
        """The rule of a one-finding card; a combined Monitor card is recorded under all its rules."""
        if not self.findings:
            return None
        return ",".join(finding.rule_id for finding in self.findings)[:128]

    def as_json(self) -> dict[str, Any]:
        if self.notice is not None:
            notice: dict[str, Any] = {"notice": self.notice, "knowledgeVersion": self.knowledge_version}
            if self.not_read:
                notice["notRead"] = [item.as_json() for item in self.not_read]
            return notice
        ordered = {"name": self.ordered_drug}
        if self.ordered_reference:
            ordered["reference"] = self.ordered_reference
        common = {"advice": self.advice, "knowledgeVersion": self.knowledge_version, "orderedDrug": ordered}
        if len(self.findings) == 1:
            return {**self.findings[0].as_json(), **common}
        return {**common, "findings": [finding.as_json() for finding in self.findings]}


@dataclass(slots=True)
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
