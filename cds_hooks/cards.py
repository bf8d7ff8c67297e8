"""Findings and data notices rendered as CDS Hooks 2.0 cards (typed: ``card_types``; JSON is made at the edge).

Cards follow the specification's normative rules: a summary under 140 characters, no null or empty field,
``selectionBehavior`` whenever there are suggestions, ``display`` on every override reason. Advice cards start
their summary with Avoid, Hold or Monitor; a data notice never does.

What a clinician reads is short and fits the advice given: the detail leads with what to do now, every text comes
from the knowledge base's text for the advice the card gives, a paragraph said on one card of an answer is not
said again on the next, and nothing internal (rule ids, FHIR references, file names) is on screen: those are in
the card's ``extension``.

Every string that came from the request or the FHIR server (names, displays, an EHR's error text) goes through
``markup.escape`` where it enters a summary, a detail or a label: only the knowledge base's own text carries
markup, and links come only from its citations.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

from cds_hooks.card_types import (
    NOTICE_DATA_INCOMPLETE,
    Action,
    Card,
    Coding,
    FindingOrigin,
    ImplicatedEntry,
    Link,
    NotRead,
    OrderCheck,
    Origin,
    Source,
    Suggestion,
)
from cds_hooks.engine import Finding, Implicated
from cds_hooks.facts import UnreadableEntry
from cds_hooks.gaps import Gap
from cds_hooks.ids import new_uuid
from cds_hooks.knowledge.model import AdviceText, Citation, KnowledgeBase, Rule
from cds_hooks.knowledge.vocabulary import AVOID, HOLD, MONITOR
from cds_hooks.markup import escape

SUMMARY_LIMIT = 139
"""The specification asks for fewer than 140 characters."""
LINK_LABEL_LIMIT = 60
"""Link labels are read at a glance, like a button."""
TOPIC_SYSTEM = "https://ketamine-cds.org/fhir/CodeSystem/rule"
OVERRIDE_SYSTEM = "https://ketamine-cds.org/fhir/CodeSystem/override-reason"
INDICATOR = {AVOID: "critical", HOLD: "warning", MONITOR: "info"}
ADVICE_WORD = {AVOID: "Avoid", HOLD: "Hold", MONITOR: "Monitor"}
SOURCE_LABEL = "ketamine-cds knowledge base"
EVIDENCE_WORDS = {
    "label": "drug label",
    "pk-study": "pharmacokinetic studies",
    "observational": "observational studies",
    "weak": "weak",
    "conflicting": "weak, studies conflict",
    "policy": "weak; a precaution beyond the label",
}
"""The evidence grade in a few words, as the card says it."""
INGREDIENTS = "{ingredients}"
"""In a rule's summary, the ingredients its records are of: such a summary names them itself ("allergy to
{ingredients} recorded"), so they are not listed after "with"."""


@dataclass(frozen=True, slots=True)
class Layout:
    """How findings become cards: a site's choice (``CDS_MONITOR_CARDS``)."""

    combine_monitor: bool = True
    """Monitor findings for one ordered drug come as one card, one line each; False: one card per rule."""


DEFAULT_LAYOUT = Layout()


@dataclass
class _Said:
    """Paragraphs already on a card of this answer: a thing is said once per answer."""

    paragraphs: set[str] = field(default_factory=set)

    def once(self, paragraph: str) -> list[str]:
        if paragraph in self.paragraphs:
            return []
        self.paragraphs.add(paragraph)
        return [paragraph]


def render(
    findings: Sequence[Finding],
    gaps: Sequence[Gap],
    unreadable: Sequence[UnreadableEntry],
    kb: KnowledgeBase,
    layout: Layout = DEFAULT_LAYOUT,
    *,
    under_decision: bool = True,
) -> list[Card]:
    """Advice cards, most severe first (Monitor findings of one ordered drug on one card, unless the layout says
    otherwise), then one notice card when something that could change the advice could not be read.

    ``under_decision``: the ordered drugs are drafts the clinician is deciding on (order hooks), so an Avoid card
    suggests cancelling the draft and a notice asks for a review before signing. Otherwise (patient-view: the
    order is already placed or planned) the cards ask for a review before the next session.
    """
    said = _Said()
    cards = []
    for group in _groups(findings, layout):
        if len(group) == 1:
            cards.append(_advice_card(group[0], kb, said, under_decision))
        else:
            cards.append(_monitor_card(group, kb, said, under_decision))
    if gaps or unreadable:
        cards.append(_notice_card(gaps, unreadable, kb, "before signing" if under_decision else
                                  "before the next ketamine or esketamine session"))
    return cards


def _groups(findings: Sequence[Finding], layout: Layout) -> list[list[Finding]]:
    """One group per Avoid or Hold finding, and per order rule's finding; the Monitor findings about co-medications
    and conditions of each ordered drug together (in place of the first of them), or one group each when the
    layout asks for a card per rule."""
    groups: list[list[Finding]] = []
    monitor: dict[str, list[Finding]] = {}
    for finding in findings:
        if finding.advice == MONITOR and not finding.observed and layout.combine_monitor:
            if finding.ordered.name not in monitor:
                monitor[finding.ordered.name] = []
                groups.append(monitor[finding.ordered.name])
            monitor[finding.ordered.name].append(finding)
        else:
            groups.append([finding])
    return groups


def _advice_card(finding: Finding, kb: KnowledgeBase, said: _Said, under_decision: bool) -> Card:
    rule, advice = finding.rule, finding.advice
    text = kb.text(rule, advice, finding.modifier, finding.site_set)
    ordered = escape(finding.ordered.label)
    reason = _reason(finding, text)
    if finding.observed:  # the service's own words and numbers, from limits the knowledge base holds
        headline = _cut(f"{ADVICE_WORD[advice]} {ordered} {finding.observed}: {reason}")
    elif INGREDIENTS in (text.summary or rule.summary):
        headline = _cut(f"{ADVICE_WORD[advice]} {ordered}: {reason}")
    else:
        headline = summary(ADVICE_WORD[advice], ordered, [escape(i.label) for i in finding.implicated], reason)
    reference = finding.ordered.order.reference
    suggestions: tuple[Suggestion, ...] = ()
    if advice == AVOID and reference and under_decision:
        suggestions = (
            Suggestion(
                label=f"Cancel the {escape(finding.ordered.label)} order",
                uuid=str(new_uuid()),
                is_recommended=True,
                actions=(
                    Action(
                        type="delete",
                        description=f"Remove the draft {escape(finding.ordered.label)} order from this ordering "
                                    "session.",
                        resource_id=reference,
                    ),
                ),
            ),
        )
    reasons = [
        reason for reason in kb.override_reasons.get(advice, ())
        if rule.kind in reason.applies_to
        and (reason.ordered_context != "anaesthesia" or finding.ordered.anaesthesia)
    ]
    return Card(
        uuid=str(new_uuid()),
        summary=headline,
        indicator=INDICATOR[advice],
        detail=_detail(finding, kb, said, under_decision),
        source=_source(rule.citations, rule.topic, rule.id),
        origin=_origin([finding], kb),
        suggestions=suggestions,
        selection_behavior="at-most-one" if suggestions else None,
        override_reasons=tuple(Coding(OVERRIDE_SYSTEM, reason.code, reason.display) for reason in reasons)
        if advice in (AVOID, HOLD) else (),
        links=_links(rule.citations),
    )


def summary(word: str, ordered: str, names: Iterable[str], reason: str) -> str:
    """``Avoid esketamine with Nardil (phenelzine): MAOI, risk of hypertensive crisis``, cut to fit the limit.

    Names are listed while they fit, then counted ("and 2 more"); the reason is shortened last.

    >>> summary("Hold", "ketamine", ["alprazolam"], "additive sedation")
    'Hold ketamine with alprazolam: additive sedation'
    >>> len(summary("Monitor", "ketamine", ["a-very-long-ingredient-name"] * 9, "x" * 80)) < 140
    True
    """
    unique = list(dict.fromkeys(names))
    for shown in range(len(unique), 0, -1):
        rest = len(unique) - shown
        listed = ", ".join(unique[:shown]) + (f" and {rest} more" if rest else "")
        text = f"{word} {ordered} with {listed}: {reason}"
        if len(text) <= SUMMARY_LIMIT:
            return text
    text = f"{word} {ordered} with {unique[0]}" + (f" and {len(unique) - 1} more" if len(unique) > 1 else "")
    return _cut(f"{text}: {reason}")


def _reason(finding: Finding, text: AdviceText) -> str:
    """The summary's reason: the text's own, else the rule's, its placeholders filled."""
    reason = text.summary or finding.rule.filled(finding.rule.summary)
    names = list(dict.fromkeys(match.ingredient.name for item in finding.implicated for match in item.matches))
    listed = " and ".join(filter(None, (", ".join(names[:-1]), names[-1]))) if names else ""
    return reason.replace(INGREDIENTS, listed)


def _cut(text: str, limit: int = SUMMARY_LIMIT) -> str:
    return text if len(text) <= limit else text[: limit - 1].rstrip(" ,;:") + "…"


def _detail(finding: Finding, kb: KnowledgeBase, said: _Said, under_decision: bool) -> str:
    """What to do now first (on an order already placed, review it first); then with what (or what the order
    says), why, what to monitor, timing, the label, site policy, notes and the evidence grade in a few words."""
    rule = finding.rule
    text = kb.text(rule, finding.advice, finding.modifier, finding.site_set)
    todo = text.action if under_decision else f"{_review(finding)} {text.action}"
    paragraphs = [f"**{ADVICE_WORD[finding.advice]}:** {todo}"]
    if finding.observed:
        paragraphs.append(f"**Order:** {_order_line(finding)}")
    else:
        paragraphs.append(_with(finding.named, _factor_notes(finding)))
    paragraphs += said.once(f"**Why:** {text.why or _why(rule)}")
    if text.monitoring:
        paragraphs += said.once(f"**Watch:** {text.monitoring}")
    if text.timing:
        paragraphs += said.once(f"**Timing:** {text.timing}")
    if text.label:
        paragraphs += said.once(f"**Compared with the label:** {text.label}")
    if finding.site_set and rule.site_note:
        paragraphs += said.once(f"**Site policy:** {rule.site_note}")
    for note in _notes(finding, kb):
        paragraphs += said.once(f"**Note:** {note}")
    paragraphs += said.once(f"**Evidence:** {EVIDENCE_WORDS[rule.evidence.grade]}.")
    return "\n\n".join(paragraphs)


NAME_LIMIT = 100
"""A medication's name as the EHR wrote it, at most; a longer one is named by its ingredients."""
WHY_LIMIT = 220
"""The why in one or two sentences: the consequence, and the mechanism when both fit."""


def _why(rule: Rule) -> str:
    """The consequence and the mechanism, or its first sentence, or the consequence alone: whichever fits.

    The full mechanism stays in the knowledge base (and the README's rules table) for the committee."""
    both = f"{rule.consequence} {rule.mechanism}"
    if len(both) <= WHY_LIMIT:
        return both
    first = re.split(r"(?<=\.)\s+(?=[A-Z])", rule.mechanism, maxsplit=1)[0]
    shorter = f"{rule.consequence} {first}"
    return shorter if len(shorter) <= WHY_LIMIT else rule.consequence


def _with(implicated: Sequence[Implicated], factor_notes: frozenset[str]) -> str:
    """``**With:** Xanax 0.5 mg (alprazolam); ordered together in this session``; a list when several."""
    lines = [_implicated_line(item, factor_notes) for item in implicated]
    if len(lines) == 1:
        return f"**With:** {lines[0]}."
    return "**With:**\n" + "\n".join(f"- {line}" for line in lines)


def _implicated_line(item: Implicated, factor_notes: frozenset[str] = frozenset()) -> str:
    """What the EHR calls the record, with the ingredient when its name does not say it: ``Xanax 0.5 mg
    (alprazolam)``, ``sertraline 100 mg tablet``, ``pregnancy (recorded as Pregnant state, incidental)``."""
    if item.reading is not None:
        text = item.reading.label  # the notes say when it was measured
    elif item.allergy is not None:
        described = item.allergy.label
        text = escape(item.label)
        if described and described.lower() not in item.label.lower():
            text = f"{text} (recorded as {escape(described)})"
    elif item.condition is not None:
        described = item.condition.label
        text = escape(item.label)
        if described and described.lower() != item.label.lower():
            text = f"{text} (recorded as {escape(described)})"
    else:
        described = item.medication.label if item.medication is not None else None
        if described and len(described) > NAME_LIMIT:  # a pack's full RxNorm name: its ingredients say enough
            described = None
        names = [match.ingredient.name for match in item.matches]
        text = escape(described or item.label)
        if described and not all(name in described.lower() for name in names):
            text = f"{text} ({', '.join(names)})"
    notes = [note for note in item.notes if note not in factor_notes]
    return "; ".join([text, *notes])


def _factor_notes(finding: Finding) -> frozenset[str]:
    """The notes of the rule's modifying factors: said once as a note, not on each co-medication's line."""
    return frozenset(modifier.note for modifier in finding.rule.modifiers)


def _notes(finding: Finding, kb: KnowledgeBase) -> list[str]:
    """The notes of the modifying factors that apply, then the serotonin-toxicity watch when it concerns the
    finding (the names in it are the EHR's, escaped)."""
    notes = list(dict.fromkeys(
        note for item in finding.implicated for note in item.notes
        if any(note == modifier.note for modifier in finding.rule.modifiers)
    ))
    watch = kb.serotonin_watch
    if finding.serotonergic and watch is not None:
        names = ", ".join(escape(name) for name in finding.serotonergic)
        notes.append(watch.note.format(count=len(finding.serotonergic), names=names))
    return notes


def _monitor_card(findings: Sequence[Finding], kb: KnowledgeBase, said: _Said, under_decision: bool) -> Card:
    """One info card for every Monitor finding about one ordered drug: a line per co-medication or condition,
    with its own action."""
    ordered = findings[0].ordered
    names = [escape(item.label) for finding in findings for item in finding.implicated]
    texts = [kb.text(finding.rule, MONITOR, finding.modifier, finding.site_set) for finding in findings]
    reasons = ", ".join(dict.fromkeys(part.strip() for finding, advice_text in zip(findings, texts, strict=True)
                                      for part in re.split(r"[,;]", _reason(finding, advice_text))))
    text = summary("Monitor", escape(ordered.label), names, reasons)
    if not text.endswith(reasons):
        text = summary("Monitor", escape(ordered.label), names, f"{len(findings)} interactions, a check for each")
    review = "" if under_decision else f"{_review(findings[0])} "
    lines = [f"**Monitor:** {review}Each of these with {escape(ordered.label)}:"]
    more = []
    for finding, advice_text in zip(findings, texts, strict=True):
        implicated = ", ".join(_implicated_line(item, _factor_notes(finding)) for item in finding.named)
        first, _, rest = advice_text.action.partition(". ")
        reason = _reason(finding, advice_text)
        lines.append(f"- **{implicated}** ({reason}): {first.rstrip('.')}.")
        if rest:
            more.append(rest)
    paragraphs = ["\n".join(lines)]
    for sentence in dict.fromkeys(more):
        paragraphs += said.once(sentence)
    for finding in findings:
        if finding.site_set and finding.rule.site_note:
            paragraphs += said.once(f"**Site policy:** {finding.rule.site_note}")
        for note in _notes(finding, kb):
            paragraphs += said.once(f"**Note:** {note}")
    grades = list(dict.fromkeys(EVIDENCE_WORDS[finding.rule.evidence.grade] for finding in findings))
    paragraphs += said.once(f"**Evidence:** {' / '.join(grades)}.")
    citations = tuple(dict.fromkeys(c for finding in findings for c in finding.rule.citations))
    return Card(
        uuid=str(new_uuid()),
        summary=text,
        indicator=INDICATOR[MONITOR],
        detail="\n\n".join(paragraphs),
        source=_source(citations, "Co-medications and conditions to monitor", "monitor"),
        origin=_origin(findings, kb),
        links=_links(citations),
    )


def _order_line(finding: Finding) -> str:
    """``Spravato 28 MG nasal spray: 112 mg per session.``: the order as the EHR names it (escaped), then what the
    service found in it; its FHIR reference is in the extension, not on screen."""
    named = finding.ordered.order.label or finding.ordered.label
    return f"{escape(named)}: {finding.observed}."


def _review(finding: Finding) -> str:
    """What a card on an order already placed (patient-view) asks first: review it before the next session."""
    order = finding.ordered.order
    ordered = escape(finding.ordered.label)
    if order.resource_type == "Appointment":
        return f"Review the scheduled {ordered} session before it starts."
    state = {"draft": "planned", "on-hold": "on hold"}.get(order.fhir_status or "", order.fhir_status or "current")
    return f"Review the {escape(state)} {ordered} order before the next session."


def _source(citations: Sequence[Citation], topic: str, code: str) -> Source:
    """The first public source with its own label and URL; the knowledge base, without a URL, when none."""
    cited = next((citation for citation in citations if citation.url and citation.kind != "project"), None)
    if cited is None:
        return Source(SOURCE_LABEL, Coding(TOPIC_SYSTEM, code, topic))
    return Source(_cut(cited.link_label, LINK_LABEL_LIMIT), Coding(TOPIC_SYSTEM, code, topic), cited.url)


def _links(citations: Sequence[Citation]) -> tuple[Link, ...]:
    return tuple(
        Link(_cut(citation.link_label, LINK_LABEL_LIMIT), citation.url)
        for citation in citations
        if citation.url and citation.kind != "project"
    )


def _origin(findings: Sequence[Finding], kb: KnowledgeBase) -> Origin:
    ordered = findings[0].ordered
    return Origin(
        knowledge_version=kb.version,
        advice=findings[0].advice,
        ordered_drug=ordered.name,
        ordered_reference=ordered.order.reference,
        findings=tuple(_finding_origin(finding) for finding in findings),
    )


def _finding_origin(finding: Finding) -> FindingOrigin:
    """Everything about one finding a system or an audit needs and a clinician does not: rule, evidence,
    citations, the factor that changed the advice, the implicated records with their FHIR references (or what an
    order rule found in the order)."""
    modifier, limit = finding.modifier, finding.rule.limit
    return FindingOrigin(
        rule_id=finding.rule.id,
        advice=finding.advice,
        key=finding.key,
        evidence_grade=finding.rule.evidence.grade,
        evidence=finding.rule.evidence.summary,
        citations=tuple(citation.id for citation in finding.rule.citations),
        implicated=tuple(entry for item in finding.named for entry in _implicated_entries(item)),
        modifier=modifier.id if modifier is not None else None,
        modifier_evidence=modifier.evidence if modifier is not None else None,
        site_policy=finding.site_set,
        order_check=OrderCheck(limit.check, finding.observed) if finding.observed and limit is not None else None,
        supersedes=tuple(other.rule.id for other in finding.superseded),
    )


def _implicated_entries(item: Implicated) -> list[ImplicatedEntry]:
    if item.condition is not None:
        return [ImplicatedEntry("condition", item.label, item.advice, item.condition.reference)]
    if item.reading is not None:
        reading = item.reading
        pairs = (("systolic", reading.systolic), ("diastolic", reading.diastolic))
        values = tuple((name, round(value, 1)) for name, value in pairs if value is not None)
        return [ImplicatedEntry("bloodPressure", reading.label, item.advice, values=values,
                                effective=reading.at.isoformat(), references=reading.references)]
    record = item.medication or item.allergy
    reference = record.reference if record is not None else None
    allergy = item.label if item.allergy is not None else None
    return [
        ImplicatedEntry("ingredient", match.ingredient.name, item.advice, reference, match.ingredient.rxcui, allergy)
        for match in item.matches
    ]


def _notice_card(
    gaps: Sequence[Gap], unreadable: Sequence[UnreadableEntry], kb: KnowledgeBase, when: str
) -> Card:
    """One card saying what could not be read, of every kind, and why; after the advice cards."""
    told_with_entry: dict[str, str | None] = {entry.missing: None for entry in unreadable if entry.missing}
    lines = ["Some of the patient's data could not be checked for interactions with ketamine or esketamine:", ""]
    sources: list[str] = []
    records = len(unreadable)
    for gap in gaps:
        if gap.medication_read and gap.key in told_with_entry:
            told_with_entry[gap.key] = escape(gap.reason)
            continue
        if gap.medication_read:
            records += 1
            lines.append(f"- A referenced medication: {escape(gap.reason)}.")
        else:
            sources.append(gap.what)
            lines.append(f"- {gap.what[:1].upper()}{gap.what[1:]}: {escape(gap.reason)}.")
    for entry in unreadable:
        text = f"- {_entry_name(entry)}: {escape(entry.problem)}"
        reason = told_with_entry.get(entry.missing) if entry.missing else None
        text += f"; {reason}." if reason else "."
        if entry.names:
            text += f" It appears to name {', '.join(map(escape, entry.names))}, which has an interaction rule."
        lines.append(text)
    lines += ["", f"Review these by hand {when}; the cards shown cover only what could be read."]
    not_read = (*(NotRead(gap.reason, data=gap.key) for gap in gaps),
                *(NotRead(entry.problem, reference=entry.reference) for entry in unreadable if entry.reference))
    return Card(
        uuid=str(new_uuid()),
        summary=_cut(_notice_summary(sources, records)),
        indicator="warning",
        detail="\n".join(lines),
        source=Source(SOURCE_LABEL),
        origin=Origin(kb.version, notice=NOTICE_DATA_INCOMPLETE, not_read=not_read),
    )


def _notice_summary(sources: Sequence[str], records: int) -> str:
    """``Interaction check incomplete: medication orders, conditions and 2 records could not be read``.

    >>> _notice_summary(["medication orders", "medication statements"], 0)
    'Interaction check incomplete: medications could not be read from the EHR'
    >>> _notice_summary(["medication orders", "conditions"], 1)
    'Interaction check incomplete: medication orders, conditions and 1 record could not be read'
    """
    parts = list(dict.fromkeys(sources))
    if "medication orders" in parts and "medication statements" in parts:
        parts = ["medications", *(part for part in parts if not part.startswith("medication "))]
    where = "" if records else " from the EHR"
    if records:
        parts.append(f"{records} record{'' if records == 1 else 's'}")
    listed = parts[0] if len(parts) == 1 else f"{', '.join(parts[:-1])} and {parts[-1]}"
    return f"Interaction check incomplete: {listed} could not be read{where}"


def _entry_name(entry: UnreadableEntry) -> str:
    """What the EHR calls the record, or its kind when it names nothing (its reference is in the extension)."""
    if entry.label:
        return escape(entry.label)
    kind = (entry.reference or "").partition("/")[0]
    return {"MedicationRequest": "A medication order", "MedicationStatement": "A medication statement",
            "Condition": "A condition"}.get(kind, "A record") + " with no name"

