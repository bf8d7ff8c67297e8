"""What changed between two knowledge base releases, rule by rule, for a committee reviewing an upgrade."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass

from cds_hooks.knowledge.model import KnowledgeBase, Rule

_TEXT_FIELDS = ("title", "summary", "topic", "consequence", "seriousness", "mechanism", "history_counts",
                "absolute_contraindication", "enabled", "supersedes")
_ADVICE_TEXT_PARTS = ("action", "monitoring", "timing", "label", "summary", "why")
"""The parts of a card's text per advice level (``texts.avoid.timing``)."""


@dataclass(frozen=True)
class Change:
    rule: str
    what: str
    """``added``, ``removed``, or the part that changed (``advice.esketamine``, ``members``, ``mechanism``)."""
    detail: str

    def line(self, overridden: Mapping[str, str]) -> str:
        flag = f"  [site override: {overridden[self.rule]}]" if self.rule in overridden else ""
        return f"{self.rule}: {self.what}: {self.detail}{flag}"


def knowledge_diff(old: KnowledgeBase, new: KnowledgeBase) -> list[Change]:
    """Every difference, by rule id then part; rules in one release only are ``added`` or ``removed``.

    >>> from cds_hooks.knowledge import load_knowledge
    >>> kb = load_knowledge()
    >>> knowledge_diff(kb, kb)
    []
    """
    old_rules, new_rules = {r.id: r for r in old.rules}, {r.id: r for r in new.rules}
    changes = []
    for rule_id in sorted(old_rules.keys() | new_rules.keys()):
        before, after = old_rules.get(rule_id), new_rules.get(rule_id)
        if before is None:
            changes.append(Change(rule_id, "added", _advice(new_rules[rule_id])))
        elif after is None:
            changes.append(Change(rule_id, "removed", _advice(before)))
        else:
            changes.extend(_rule_changes(before, after, old, new))
    return changes


def _rule_changes(before: Rule, after: Rule, old: KnowledgeBase, new: KnowledgeBase) -> Iterator[Change]:
    rule = before.id
    for drug in sorted(before.advice.keys() | after.advice.keys()):
        if before.advice.get(drug) != after.advice.get(drug):
            yield Change(rule, f"advice.{drug}", f"{before.advice.get(drug)} -> {after.advice.get(drug)}")
    for name in _TEXT_FIELDS:
        if getattr(before, name) != getattr(after, name):
            yield Change(rule, name, f"{getattr(before, name)!r} -> {getattr(after, name)!r}")
    for level in sorted(before.texts.keys() | after.texts.keys()):
        old_text, new_text = before.texts.get(level), after.texts.get(level)
        for part in _ADVICE_TEXT_PARTS:
            was, now = getattr(old_text, part, None), getattr(new_text, part, None)
            if was != now:
                yield Change(rule, f"texts.{level}.{part}", f"{was!r} -> {now!r}")
    if before.evidence != after.evidence:
        yield Change(rule, "evidence", f"{before.evidence.grade} -> {after.evidence.grade}")
    if before.washout != after.washout:
        yield Change(rule, "washout", f"{_label(before)} -> {_label(after)}")
    old_citations, new_citations = {c.id for c in before.citations}, {c.id for c in after.citations}
    if old_citations != new_citations:
        yield Change(rule, "citations", _set_change(old_citations, new_citations))
    old_modifiers = {m.id: m for m in before.modifiers}
    new_modifiers = {m.id: m for m in after.modifiers}
    for modifier in sorted(old_modifiers.keys() | new_modifiers.keys()):
        if old_modifiers.get(modifier) != new_modifiers.get(modifier):
            yield Change(rule, f"modifier.{modifier}", _state(modifier, old_modifiers, new_modifiers))
    if before.blood_pressure != after.blood_pressure:
        yield Change(rule, "blood_pressure", f"{_threshold(before)} -> {_threshold(after)}")
    if before.valueset != after.valueset:
        yield Change(rule, "valueset", f"{before.valueset} -> {after.valueset}")
    if before.limit != after.limit:
        yield Change(rule, "limit", f"{_limit(before)} -> {_limit(after)}")
    old_members, new_members = _members(before, old), _members(after, new)
    if old_members != new_members:
        yield Change(rule, "members", _set_change(old_members, new_members))


def _state(key: str, old: Mapping[str, object], new: Mapping[str, object]) -> str:
    return "added" if key not in old else "removed" if key not in new else "changed"


def _threshold(rule: Rule) -> str:
    return rule.blood_pressure.label if rule.blood_pressure else "none"


def _members(rule: Rule, kb: KnowledgeBase) -> set[str]:
    """What the rule is about: a drug value set's ingredients (medication and allergy rules), a condition value
    set's codes and words; nothing for a blood-pressure or order rule, whose threshold or limit is compared on its
    own."""
    if not rule.valueset:
        return set()
    if rule.kind != "condition":
        return set(kb.drug_valuesets[rule.valueset].ingredients)
    conditions = kb.condition_valuesets[rule.valueset]
    words = conditions.text.pattern if conditions.text else ""
    return {f"ICD-10-CM {code}" for code in conditions.icd10cm} | {f"SNOMED {code}" for code in conditions.snomed} | (
        {f"words {words}"} if words else set())


def _set_change(old: set[str], new: set[str]) -> str:
    parts = [f"+{item}" for item in sorted(new - old)] + [f"-{item}" for item in sorted(old - new)]
    return ", ".join(parts)


def _advice(rule: Rule) -> str:
    return ", ".join(f"{drug} {advice}" for drug, advice in sorted(rule.advice.items()))


def _limit(rule: Rule) -> str:
    return rule.filled(rule.limit.describe) if rule.limit else "none"


def _label(rule: Rule) -> str:
    return rule.washout.label if rule.washout else "none"
