"""The rules as the committee reads them: every rule with its members, and a search by drug name, brand or code.

Pure functions over the loaded knowledge base (the site's overrides applied, switched-off rules kept in view).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import cached_property

from cds_hooks.fhir_json import icd10_key
from cds_hooks.knowledge import ADVICE_RANK, ORDERED_DRUGS, KnowledgeBase, Rule
from cds_hooks.knowledge.model import ConditionValueSet, SiteOverride
from cds_hooks.terminology import Product

_CODE = re.compile(r"^\d{3,10}$")
_ICD10 = re.compile(r"^[A-Z]\d{2}(\.?[0-9A-Z]{1,4})?$", re.IGNORECASE)
MAX_QUERY = 200


@dataclass(frozen=True)
class Member:
    """One ingredient of a medication rule's value set, with the codes and names that stand for it."""

    ingredient: str
    products: tuple[Product, ...]
    names: tuple[str, ...]


@dataclass(frozen=True)
class Entry:
    """A rule as the console shows it: the release's rule, or the site's version of it, and the site's entry."""

    rule: Rule
    release: Rule
    override: SiteOverride | None

    @property
    def active(self) -> bool:
        return self.override is None or self.override.enabled

    @property
    def severity(self) -> int:
        return min(ADVICE_RANK[advice] for advice in self.rule.advice.values())


@dataclass(frozen=True)
class Hit:
    entry: Entry
    because: str
    """Why the query reaches this rule ("Zoloft is sertraline, a member")."""


@dataclass(frozen=True)
class SearchResult:
    query: str
    understood: str
    """What the query was read as ("RxNorm 2201625: esketamine Nasal Spray [Spravato]"), or why nothing."""
    hits: tuple[Hit, ...]
    ordered_drug: str | None = None
    """When the query names ketamine or esketamine themselves: the ordered drug whose orders are checked."""


class Catalogue:
    """Built once per app from the release and the site's knowledge base (both immutable)."""

    def __init__(self, release: KnowledgeBase, site: KnowledgeBase) -> None:
        self.release, self.site = release, site
        site_rules = {rule.id: rule for rule in site.rules}
        self.entries = tuple(
            Entry(site_rules.get(rule.id, rule), rule, site.overrides.get(rule.id))
            for rule in sorted(release.rules, key=lambda r: (r.kind != "medication", r.id))
        )
        self._by_id = {entry.rule.id: entry for entry in self.entries}

    def entry(self, rule_id: str) -> Entry | None:
        return self._by_id.get(rule_id)

    def valueset_title(self, rule: Rule) -> str:
        """What the rule looks at: its value set's title, a blood-pressure rule's threshold, or for an order rule
        what it checks in the order."""
        if rule.blood_pressure is not None:
            return f"Latest blood pressure {rule.blood_pressure.label}"
        if rule.limit is not None:
            return rule.filled(rule.limit.describe)
        sets = self.release.condition_valuesets if rule.kind == "condition" else self.release.drug_valuesets
        return sets[rule.valueset].title

    def condition_set(self, rule: Rule) -> ConditionValueSet:
        return self.release.condition_valuesets[rule.valueset]

    @cached_property
    def _products_by_ingredient(self) -> dict[str, tuple[Product, ...]]:
        found: dict[str, list[Product]] = {}
        for product in self.release.terminology.products():
            for ingredient in product.ingredients:
                found.setdefault(ingredient.name, []).append(product)
        return {name: tuple(sorted(items, key=lambda p: (p.tty, p.name))) for name, items in found.items()}

    @cached_property
    def _names_by_ingredient(self) -> dict[str, tuple[str, ...]]:
        found: dict[str, list[str]] = {}
        for name, ingredients in self.release.terminology.names().items():
            for ingredient in ingredients:
                if name != ingredient:
                    found.setdefault(ingredient, []).append(name)
        return {ingredient: tuple(sorted(names)) for ingredient, names in found.items()}

    def members(self, rule: Rule) -> tuple[Member, ...]:
        """A medication rule's ingredients, each with its RxNorm rows and its other names, by name."""
        ingredients = sorted(self.release.drug_valuesets[rule.valueset].ingredients)
        return tuple(
            Member(name, self._products_by_ingredient.get(name, ()), self._names_by_ingredient.get(name, ()))
            for name in ingredients
        )

    def search(self, query: str) -> SearchResult:
        """The rules a drug name, brand, RxNorm code, ICD-10-CM or SNOMED CT code, or condition word reaches."""
        text = " ".join(query.split())[:MAX_QUERY]
        if not text:
            return SearchResult(text, "Type a drug name, a brand, an RxNorm code or a condition code.", ())
        if _CODE.match(text):
            return self._by_number(text)
        if _ICD10.match(text):
            return self._by_icd10(text)
        return self._by_words(text)

    def _by_number(self, code: str) -> SearchResult:
        product = self.release.terminology.product(code)
        hits = []
        understood = f"{code} is not an RxNorm code the service knows"
        ordered = None
        if product is not None:
            understood = f"RxNorm {code}: {product.name}"
            names = [ingredient.name for ingredient in product.ingredients]
            ordered = next((name for name in names if name in ORDERED_DRUGS), None)
            hits += self._medication_hits(names, f"RxNorm {code} contains")
        snomed = [entry for entry in self.entries if entry.rule.kind == "condition"
                  and code in self.condition_set(entry.rule).snomed]
        if snomed:
            understood = f"{understood}; SNOMED CT {code} is a member of a condition rule"
            hits += [Hit(entry, f"SNOMED CT {code} is a member") for entry in snomed]
        return SearchResult(code, understood, tuple(hits), ordered)

    def _by_icd10(self, code: str) -> SearchResult:
        key = icd10_key(code)
        hits = tuple(
            Hit(entry, f"ICD-10-CM {code.upper()} falls under {prefix}")
            for entry in self.entries if entry.rule.kind == "condition"
            for prefix in self.condition_set(entry.rule).icd10cm if key.startswith(prefix)
        )
        understood = f"ICD-10-CM {code.upper()}" if hits else f"{code.upper()} is in no condition rule's codes"
        return SearchResult(code, understood, _first_per_rule(hits))

    def _by_words(self, text: str) -> SearchResult:
        matches = self.release.terminology.from_text(text)
        names = [match.ingredient.name for match in matches]
        ordered = next((name for name in names if name in ORDERED_DRUGS), None)
        hits = list(self._medication_hits([n for n in names if n not in ORDERED_DRUGS], "names"))
        hits = [Hit(hit.entry, f"{text!r} {hit.because}") for hit in hits]
        for entry in self.entries:
            if entry.rule.kind == "condition" and _condition_words(self.condition_set(entry.rule), text):
                hits.append(Hit(entry, f"{text!r} matches the rule's condition words"))
        readings = [match.label for match in matches]
        if readings:
            understood = f"Read as {', '.join(readings)}"
        elif hits:
            understood = f"{text!r} names no drug, but condition words"
        else:
            understood = f"{text!r} names no drug or condition the service knows"
        return SearchResult(text, understood, tuple(hits), ordered)

    def _medication_hits(self, ingredients: list[str], verb: str) -> list[Hit]:
        hits = []
        for entry in self.entries:
            rule = entry.rule
            members = self.release.drug_valuesets[rule.valueset].ingredients if rule.kind == "medication" else set()
            for name in ingredients:
                if name in members:
                    hits.append(Hit(entry, f"{verb} {name}, a member"))
                    break
                modifier = next((m for m in rule.modifiers if name in m.when.comedication_ingredients), None)
                if modifier is not None:
                    hits.append(Hit(entry, f"{verb} {name}, named by the modifier {modifier.description!r}"))
                    break
        return hits


def _first_per_rule(hits: tuple[Hit, ...]) -> tuple[Hit, ...]:
    seen: set[str] = set()
    kept = []
    for hit in hits:
        if hit.entry.rule.id not in seen:
            seen.add(hit.entry.rule.id)
            kept.append(hit)
    return tuple(kept)


def _condition_words(conditions: ConditionValueSet, text: str) -> bool:
    if conditions.text is None:
        return False
    cleaned = conditions.exclude.sub(" ", text) if conditions.exclude else text
    return bool(conditions.text.search(cleaned))

