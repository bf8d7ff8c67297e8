"""The rules as a Markdown table: generated from the knowledge base for docs/knowledge.md, never written by hand."""

from __future__ import annotations

from cds_hooks.knowledge.model import ADVICE_RANK, AVOID, HOLD, MONITOR, ORDERED_DRUGS, KnowledgeBase, Rule

START = "<!-- rules:start -->"
END = "<!-- rules:end -->"
_WORD = {AVOID: "**Avoid**", HOLD: "**Hold**", MONITOR: "Monitor"}


def rules_markdown(kb: KnowledgeBase) -> str:
    """One row per rule: medication, then condition, then order rules, the most severe advice first within each
    kind."""
    off = sum(1 for rule in kb.rules if not rule.enabled)
    lines = [
        f"Knowledge base {kb.version} ({kb.date}), {len(kb.rules)} rules"
        + (f" ({off} off unless a site switches {'it' if off == 1 else 'them'} on)" if off else "")
        + ". Generated from "
        "`cds_hooks/knowledge/data` by `ketamine-cds rules --update-readme docs/knowledge.md`; do not edit by hand.",
        "",
        "| rule | co-medications, conditions or the order | ketamine | esketamine | evidence | also |",
        "|---|---|---|---|---|---|",
    ]
    kinds = {"medication": 0, "condition": 1, "order": 2}
    for rule in sorted(kb.rules, key=lambda r: (kinds[r.kind], _severity(r), r.id)):
        cells = [
            f"`{rule.id}`",
            _title(rule, kb),
            *(_WORD.get(rule.advice[drug], "none") for drug in ORDERED_DRUGS),
            _evidence(rule),
            "; ".join(_also(rule)),
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
    if rule.limit is not None:
        return rule.limit.fill(rule.limit.describe)
    sets = kb.drug_valuesets if rule.kind == "medication" else kb.condition_valuesets
    return sets[rule.valueset].title


def _evidence(rule: Rule) -> str:
    grade = rule.evidence.grade
    return f"{grade} (weak)" if rule.evidence.weak and grade != "weak" else grade


def _also(rule: Rule) -> list[str]:
    notes = [] if rule.enabled else ["off unless a site switches it on"]
    if rule.absolute_contraindication:
        notes.append("absolute contraindication (no site override may lower it)")
    if rule.washout:
        notes.append(f"counts {rule.washout.label} after the last dose")
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
    return notes


def _cell(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")
