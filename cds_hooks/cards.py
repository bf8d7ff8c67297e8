"""Findings and data notices rendered as CDS Hooks 2.0 cards (typed: ``card_types``; JSON is made at the edge).

Cards follow the specification's normative rules: a summary under 140 characters, no null or empty field,
``selectionBehavior`` whenever there are suggestions, ``display`` on every override reason. Advice cards start
their summary with Avoid, Hold or Monitor; a data notice never does.

Every string that came from the request or the FHIR server (names, displays, references, an EHR's error text) goes
through ``markup.escape`` where it enters a summary, a detail or a label: only the knowledge base's own text
carries markup, and links come only from its citations.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from cds_hooks.card_types import (
    NOTICE_DATA_INCOMPLETE,
    Action,
    Card,
    Coding,
    ImplicatedEntry,
    Link,
    OrderCheck,
    Origin,
    Source,
    Suggestion,
)
from cds_hooks.engine import Finding, Implicated
from cds_hooks.facts import UnreadableEntry
from cds_hooks.gaps import Gap
from cds_hooks.ids import new_uuid
from cds_hooks.knowledge.model import AVOID, HOLD, MONITOR, KnowledgeBase, Rule
from cds_hooks.markup import escape

SUMMARY_LIMIT = 139
"""The specification asks for fewer than 140 characters."""
TOPIC_SYSTEM = "https://ketamine-cds.org/fhir/CodeSystem/rule"
OVERRIDE_SYSTEM = "https://ketamine-cds.org/fhir/CodeSystem/override-reason"
INDICATOR = {AVOID: "critical", HOLD: "warning", MONITOR: "info"}
ADVICE_WORD = {AVOID: "Avoid", HOLD: "Hold", MONITOR: "Monitor"}
SOURCE_LABEL = "ketamine-cds knowledge base"


def render(
    findings: Sequence[Finding],
    gaps: Sequence[Gap],
    unreadable: Sequence[UnreadableEntry],
    kb: KnowledgeBase,
    *,
    under_decision: bool = True,
) -> list[Card]:
    """Advice cards, most severe first, then one notice card when some data could not be checked.

    ``under_decision``: the ordered drugs are drafts the clinician is deciding on (order hooks), so an Avoid card
    suggests cancelling the draft and a notice asks for a review before signing. Otherwise (patient-view: the
    order is already placed or planned) the cards ask for a review before the next session.
    """
    cards = [_advice_card(finding, kb, under_decision) for finding in findings]
    if gaps or unreadable:
        cards.append(_notice_card(gaps, unreadable, kb, "before signing" if under_decision else
                                  "before the next ketamine or esketamine session"))
    return cards


def _advice_card(finding: Finding, kb: KnowledgeBase, under_decision: bool) -> Card:
    rule, advice = finding.rule, finding.advice
    ordered = escape(finding.ordered.label)
    if finding.observed:  # the service's own words and numbers, from limits the knowledge base holds
        headline = _cut(f"{ADVICE_WORD[advice]} {ordered} {finding.observed}: {rule.text(rule.summary)}")
    else:
        headline = summary(ADVICE_WORD[advice], ordered, [escape(i.label) for i in finding.implicated], rule.summary)
    reference = finding.ordered.order.reference
    suggestions: tuple[Suggestion, ...] = ()
    if advice == AVOID and reference and under_decision:
        suggestions = (
            Suggestion(
                label=f"Cancel the {ordered} order",
                uuid=str(new_uuid()),
                is_recommended=True,
                actions=(
                    Action(
                        type="delete",
                        description=f"Remove the draft {ordered} order from this ordering session.",
                        resource_id=reference,
                    ),
                ),
            ),
        )
    reasons = [reason for reason in kb.override_reasons.get(advice, ()) if rule.kind in reason.applies_to]
    return Card(
        uuid=str(new_uuid()),
        summary=headline,
        indicator=INDICATOR[advice],
        detail=_detail(finding, kb, under_decision),
        source=_source(rule, kb),
        origin=_origin(finding, kb),
        suggestions=suggestions,
        selection_behavior="at-most-one" if suggestions else None,
        override_reasons=tuple(Coding(OVERRIDE_SYSTEM, reason.code, reason.display) for reason in reasons)
        if advice in (AVOID, HOLD) else (),
        links=_links(rule),
    )


def summary(word: str, ordered: str, names: Iterable[str], reason: str) -> str:
    """``Avoid esketamine with Nardil (phenelzine): MAOI, risk of hypertensive crisis``, cut to fit the limit.

    ``ordered`` and ``names`` are escaped already. Names are listed while they fit, then counted ("and 2 more");
    the reason is shortened last.

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


def _cut(text: str) -> str:
    return text if len(text) <= SUMMARY_LIMIT else text[: SUMMARY_LIMIT - 1].rstrip() + "…"


def _detail(finding: Finding, kb: KnowledgeBase, under_decision: bool) -> str:
    rule, word = finding.rule, ADVICE_WORD[finding.advice]
    if finding.observed:
        lines = [f"**{word}**: {_order_line(finding)}"]
    else:
        lines = [f"**{word}**: {escape(finding.ordered.label)} with:", ""]
        lines.extend(_implicated_line(item, finding.advice) for item in finding.implicated)
    todo = _management(finding) if under_decision else f"{_review(finding)} {_management(finding)}"
    lines += ["", f"**What to do:** {todo}", "", f"**Why:** {rule.consequence} {rule.mechanism}"]
    lines += ["", f"**Monitor:** {rule.text(rule.monitoring)}", "", f"**Timing:** {rule.text(rule.timing)}"]
    if rule.label_note:
        lines += ["", f"**Compared with the label:** {rule.label_note}"]
    if rule.site_note:
        lines += ["", f"**Site policy:** {rule.site_note}"]
    watch = kb.serotonin_watch
    if finding.serotonergic and watch is not None:
        names = ", ".join(escape(name) for name in finding.serotonergic)
        lines += ["", f"**Note:** {watch.note.format(count=len(finding.serotonergic), names=names)}"]
    grade = rule.evidence.grade
    strength = "weak" if rule.evidence.weak else "established"
    grading = grade if grade == strength else f"{grade}, {strength}"
    lines += ["", f"**Evidence ({grading}):** {rule.evidence.summary}"]
    sources = "; ".join(f"[{c.label}]({c.url})" if c.url else c.label for c in rule.citations)
    lines += ["", f"**Sources:** {sources}", "", f"Knowledge base {kb.version}, rule `{rule.id}`."]
    return "\n".join(lines)


def _order_line(finding: Finding) -> str:
    """``the esketamine order (Spravato 28 MG nasal spray, MedicationRequest/7): 112 mg per session.``, the EHR's
    words escaped."""
    order = finding.ordered.order
    described = ", ".join(escape(part) for part in (order.label, order.reference) if part)
    return (f"the {escape(finding.ordered.label)} order" + (f" ({described})" if described else "")
            + f": {finding.observed}.")


def _review(finding: Finding) -> str:
    """What a card on an order already placed (patient-view) asks first: review it before the next session."""
    order = finding.ordered.order
    ordered = escape(finding.ordered.label)
    if order.resource_type == "Appointment":
        return f"Review the scheduled {ordered} session before it starts."
    state = {"draft": "planned", "on-hold": "on hold"}.get(order.fhir_status or "", order.fhir_status or "current")
    return f"Review the {escape(state)} {ordered} order before the next session."


def _management(finding: Finding) -> str:
    """The rule's advice for the class, introduced by the exception when a modifying factor changed the advice."""
    usual = finding.rule.advice[finding.ordered.name]
    if finding.advice == usual:
        return finding.rule.text(finding.rule.management)
    word, usual_word = ADVICE_WORD[finding.advice], ADVICE_WORD.get(usual, usual)
    return (f"{word} rather than {usual_word.lower()} here, for the reason noted above. For this class in "
            f"general: {finding.rule.text(finding.rule.management)}")


def _implicated_line(item: Implicated, card_advice: str) -> str:
    record = item.medication or item.condition or item.allergy
    described = record.label if record is not None and record.label else item.label
    text = f"- {escape(item.label)}"
    if described and described.lower() != item.label.lower():
        text += f": {escape(described)}"
    if record is not None and record.reference:
        text += f" ({escape(record.reference)})"
    if item.advice != card_advice:
        text += f"; advice for this one: {ADVICE_WORD.get(item.advice, item.advice)}"
    for note in item.notes:  # the knowledge base's notes, and timing notes made of a status word and dates
        text += f"; {note}"
    return text


def _source(rule: Rule, kb: KnowledgeBase) -> Source:
    return Source(
        label=f"{SOURCE_LABEL} {kb.version}",
        topic=Coding(TOPIC_SYSTEM, rule.id, rule.topic),
        url=next((c.url for c in rule.citations if c.url), None),
    )


def _links(rule: Rule) -> tuple[Link, ...]:
    return tuple(Link(_cut(citation.label), citation.url) for citation in rule.citations if citation.url)


def _origin(finding: Finding, kb: KnowledgeBase) -> Origin:
    limit = finding.rule.limit
    return Origin(
        knowledge_version=kb.version,
        advice=finding.advice,
        rule_id=finding.rule.id,
        evidence_grade=finding.rule.evidence.grade,
        ordered_drug=finding.ordered.name,
        ordered_reference=finding.ordered.order.reference,
        implicated=tuple(entry for item in finding.implicated for entry in _implicated_entries(item)),
        order_check=OrderCheck(limit.check, finding.observed) if finding.observed and limit is not None else None,
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
    medication_gap = any(gap.medication_list for gap in gaps)
    if medication_gap:
        headline = "Interaction check incomplete: medications could not be read from the EHR"
    elif gaps:
        headline = f"Interaction check incomplete: {escape(gaps[0].what)} could not be read from the EHR"
    else:
        count = len(unreadable)
        headline = f"Interaction check incomplete: {count} record{'' if count == 1 else 's'} could not be read"
    lines = ["Some of the patient's data could not be checked for interactions with ketamine or esketamine:", ""]
    told_with_entry: dict[str, str | None] = {entry.missing: None for entry in unreadable if entry.missing}
    for gap in gaps:
        if gap.medication_read and gap.key in told_with_entry:
            told_with_entry[gap.key] = escape(gap.reason)
        else:
            what = escape(gap.what)
            lines.append(f"- {what[:1].upper()}{what[1:]}: {escape(gap.reason)}.")
    for entry in unreadable:
        text = f"- {_entry_name(entry)}: {escape(entry.problem)}"
        reason = told_with_entry.get(entry.missing) if entry.missing else None
        text += f"; {reason}." if reason else "."
        if entry.names:
            text += f" It appears to name {', '.join(map(escape, entry.names))}, which has an interaction rule."
        lines.append(text)
    lines += ["", f"Review these medications and conditions by hand {when}; the cards shown cover only "
                  "what could be read.", "", f"Knowledge base {kb.version}."]
    return Card(
        uuid=str(new_uuid()),
        summary=_cut(headline),
        indicator="warning",
        detail="\n".join(lines),
        source=Source(f"{SOURCE_LABEL} {kb.version}"),
        origin=Origin(kb.version, notice=NOTICE_DATA_INCOMPLETE),
    )


def _entry_name(entry: UnreadableEntry) -> str:
    """``Xanax 1 mg (MedicationRequest/7)``, or whichever of the two is known, escaped."""
    label = escape(entry.label) if entry.label else None
    reference = escape(entry.reference) if entry.reference else None
    if label and reference:
        return f"{label} ({reference})"
    return label or reference or "A record"
