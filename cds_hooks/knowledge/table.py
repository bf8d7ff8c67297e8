"""The rules as a Markdown table: generated from the knowledge base for docs/knowledge.md, never written by hand."""

from __future__ import annotations

from cds_hooks.knowledge.model import KnowledgeBase, Rule
from cds_hooks.knowledge.vocabulary import (
    ADVICE_RANK,
    AVOID,
    CONDITION,
    HOLD,
    MEDICATION,
    MONITOR,
    ORDER,
    ORDERED_DRUGS,
)

START = "<!-- rules:start -->"
END = "<!-- rules:end -->"
_WORD = {AVOID: "**Avoid**", HOLD: "**Hold**", MONITOR: "Monitor"}
_KIND_ORDER = {MEDICATION: 0, ORDER: 2}
"""Medication rules first, order rules last, every other kind between."""


def rules_markdown(kb: KnowledgeBase) -> str:
    """One row per rule: medication rules, then condition, allergy and blood-pressure rules, then order rules, the
    most severe advice first within each group."""
    off = sum(1 for rule in kb.rules if not rule.enabled)
    lines = [
        f"Knowledge base {kb.version} ({kb.date}), {len(kb.rules)} rules"
        + (f" ({off} off unless a site switches {'it' if off == 1 else 'them'} on)" if off else "")
        + ". Generated from "
        "`cds_hooks/knowledge/data` by `ketamine-cds rules --update-readme docs/knowledge.md`; do not edit by hand.",
        "",
        "| rule | co-medications, conditions, allergies, blood pressure or the order "
        "| ketamine | esketamine | evidence | also |",
        "|---|---|---|---|---|---|",
    ]
    for rule in sorted(kb.rules, key=lambda r: (_KIND_ORDER.get(r.kind, 1), _severity(r), r.id)):
        cells = [
            f"`{rule.id}`",
            _title(rule, kb),
            *(_WORD.get(rule.advice[drug], "none") for drug in ORDERED_DRUGS),
            _evidence(rule),
            "; ".join(_also(rule, kb)),
        ]
        lines.append("| " + " | ".join(_cell(cell) for cell in cells) + " |")
    return "\n".join(lines) + "\n"


def replace_section(text: str, table: str) -> str:
    """``text`` with everything between the two marker comments replaced by ``table``.

    >>> replace_section("a\\n<!-- rules:start -->\\nold\\n<!-- rules:end -->\\nb", "new\\n")
    'a\\n<!-- rules:start -->\\nnew\\n<!-- rules:end -->\\nb'
    """
    head, start, rest = text.partition(START)
    _, end, tail = rest.partition(END)
    if not start or not end:
        raise ValueError(f"the markers {START} and {END} were not found")
    return f"{head}{START}\n{table}{END}{tail}"


def section(text: str) -> str | None:
    """What stands between the markers now, or None when they are missing."""
    _, start, rest = text.partition(START)
    inner, end, _ = rest.partition(END)
    return inner.removeprefix("\n") if start and end else None


def _severity(rule: Rule) -> int:
    return min(ADVICE_RANK[advice] for advice in rule.advice.values())


def _title(rule: Rule, kb: KnowledgeBase) -> str:
    if rule.blood_pressure is not None:
        return f"Latest blood pressure {rule.blood_pressure.label}"
    if rule.limit is not None:
        return rule.limit.fill(rule.limit.describe)
    sets = kb.condition_valuesets if rule.kind == CONDITION else kb.drug_valuesets
    return sets[rule.valueset].title


def _evidence(rule: Rule) -> str:
    grade = rule.evidence.grade
    return f"{grade} (weak)" if rule.evidence.weak and grade != "weak" else grade


def _also(rule: Rule, kb: KnowledgeBase) -> list[str]:
    notes = [] if rule.enabled else ["off unless a site switches it on"]
    if rule.absolute_contraindication:
        notes.append("absolute contraindication (no site override may lower it)")
    if rule.washout:
        notes.append(f"counts {rule.washout.label} after the last dose")
    if rule.supersedes:
        others = ", ".join(f"`{other}`" for other in rule.supersedes)
        notes.append(f"replaces the card of {others} when both fire, naming its records")
    if rule.history_counts:
        notes.append("a past condition counts")
    if rule.comedication_routes:
        notes.append(f"{', '.join(sorted(rule.comedication_routes))} route only")
    for modifier in rule.modifiers:
        if modifier.advice:
            changes = ", ".join(f"{drug} {advice}" for drug, advice in modifier.advice.items())
            notes.append(f"{modifier.description}: {changes}")
    if any(text.label for text in rule.texts.values()):
        notes.append("the card compares the advice with the label")
    if rule.blood_pressure is not None and kb.blood_pressure is not None:
        hours = int(kb.blood_pressure.window.total_seconds() // 3600)
        notes.append(f"a reading taken within {hours} hours before the order; the strictest threshold met fires")
    return notes


def _cell(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")
