"""Medication terminology: from RxNorm codes or free text to ingredients.

Code tables are never complete, so recognition works in two steps: a known RxNorm code (ingredient, clinical or
branded drug, pack) gives its ingredients; otherwise the coding displays and text are searched for generic, brand
and street names on word boundaries. An optional resolver (an RxNav-compatible server, supplied by the service)
is asked about unknown RxNorm codes before falling back to text.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from cds_hooks.fhir_json import RXNORM, canonical_system

CodeResolver = Callable[[str], "tuple[Ingredient, ...] | None"]
"""Given an RxNorm code the tables do not know, its ingredients, or None when they could not be learned."""

ROUTES = ("oral", "sublingual", "nasal", "rectal", "intravenous", "intramuscular", "subcutaneous", "transdermal",
          "respiratory")
"""The routes rules can name, as words the engine compares."""

_ROUTE_WORDS = [
    (re.compile(r"\b(?:intra)?nasal(?:ly)?\b|\bnose\b", re.IGNORECASE), "nasal"),
    (re.compile(r"\boral(?:ly)?\b|\bby mouth\b|\bp\.?o\.?\b", re.IGNORECASE), "oral"),
    (re.compile(r"\bsublingual(?:ly)?\b|\bbuccal\b|\btroches?\b|\blozenges?\b", re.IGNORECASE), "sublingual"),
    (re.compile(r"\brectal(?:ly)?\b|\bsuppositor(?:y|ies)\b", re.IGNORECASE), "rectal"),
    (re.compile(r"\bintravenous(?:ly)?\b|\bi\.v\.|(?<![\w-])iv(?!\w)|\binfusion\b", re.IGNORECASE), "intravenous"),
    (re.compile(r"\bintramuscular(?:ly)?\b|\bi\.m\.|(?<![\w-])im(?!\w)", re.IGNORECASE), "intramuscular"),
    (re.compile(r"\bsubcutaneous(?:ly)?\b|\bsubcut\b", re.IGNORECASE), "subcutaneous"),
    (re.compile(r"\btransdermal\b|\bpatch\b", re.IGNORECASE), "transdermal"),
    (re.compile(r"\binhal(?:ed|er|ation)\b|\bnebuli[sz]", re.IGNORECASE), "respiratory"),
]


def routes_in(text: str) -> frozenset[str]:
    """The routes a medication text names.

    >>> sorted(routes_in("fluticasone propionate 0.05 MG/ACTUAT Metered Dose Nasal Spray"))
    ['nasal']
    >>> sorted(routes_in("ketamine 25 mg troche, dissolve under the tongue"))
    ['sublingual']
    >>> sorted(routes_in("alprazolam 0.5 MG (C-IV)"))
    []
    """
    return frozenset(name for pattern, name in _ROUTE_WORDS if pattern.search(text))


def term_key(text: str) -> str:
    """How a name is looked up: lower case, one kind of apostrophe, runs of spaces and hyphens as one space.

    >>> term_key("St. John’s  Wort")
    "st. john's wort"
    >>> term_key("Claritin-D")
    'claritin d'
    """
    text = text.lower().replace("\u2019", "'").replace("\u2018", "'")
    return re.sub(r"[\s\-]+", " ", text).strip()


def _term_pattern(term: str) -> str:
    """A regular expression for one term that tolerates the spellings ``term_key`` folds together."""
    parts, in_gap = [], False
    for char in term:
        if char in " -":
            if not in_gap:
                parts.append(r"[\s\-]+")
            in_gap = True
            continue
        in_gap = False
        parts.append("['\u2019\u2018]" if char == "'" else re.escape(char))
    return "".join(parts)


@dataclass(frozen=True, slots=True)
class Ingredient:
    """An RxNorm ingredient, named by its lower-case RxNorm name (the key every value set uses)."""

    name: str
    rxcui: str | None = None


@dataclass(frozen=True, slots=True)
class IngredientMatch:
    """One ingredient found in a medication, and how it was found."""

    ingredient: Ingredient
    via: str
    """``code`` (table), ``resolver`` (terminology server) or ``text`` (name in display or text)."""
    term: str | None = None
    """The words that matched when found in text, e.g. ``Nardil``."""
    routes: frozenset[str] = field(default_factory=frozenset)
    """Routes the product or brand implies (a nasal spray, Valtoco), whatever the order says."""

    @property
    def label(self) -> str:
        """How a card names it: the ingredient, with the brand or street name first when that is what was written.

        ``sertraline`` for "sertraline hydrochloride 50 mg"; ``Nardil (phenelzine)`` for "Nardil 15 mg tablet".
        """
        name = self.ingredient.name
        if self.term and term_key(self.term) != name:
            return f"{self.term} ({name})"
        return name


@dataclass(frozen=True, slots=True)
class Product:
    """A row of the code table: an RxNorm concept of any term type and the ingredients it contains."""

    rxcui: str
    tty: str
    name: str
    ingredients: tuple[Ingredient, ...]


@dataclass(frozen=True, slots=True)
class _Term:
    ingredients: tuple[Ingredient, ...]
    """Empty for a look-alike (``isopropyl alcohol``): words that name nothing tracked and stop a shorter match."""
    routes: frozenset[str]


class Terminology:
    """Looks up ingredients by RxNorm code and by name; immutable once built, safe to share across threads."""

    def __init__(
        self,
        products: Iterable[Product],
        terms: Mapping[str, Iterable[str]],
        term_routes: Mapping[str, str] | None = None,
    ) -> None:
        self._products = {product.rxcui: product for product in products}
        self._product_routes = {rxcui: routes_in(p.name) for rxcui, p in self._products.items()}
        codes = {
            ingredient.name: ingredient.rxcui
            for product in self._products.values()
            for ingredient in product.ingredients
            if ingredient.rxcui
        }
        routes = {term_key(term): route for term, route in (term_routes or {}).items() if route}
        self._terms: dict[str, _Term] = {}
        for term, names in terms.items():
            key = term_key(term)
            self._terms[key] = _Term(
                tuple(Ingredient(name, codes.get(name)) for name in names),
                frozenset([routes[key]]) if key in routes else frozenset(),
            )
        alternation = "|".join(_term_pattern(term) for term in sorted(self._terms, key=len, reverse=True))
        self._pattern = re.compile(rf"(?<![\w])(?:{alternation})(?![\w])", re.IGNORECASE)

    def product(self, rxcui: str) -> Product | None:
        return self._products.get(rxcui)

    def ingredient_names(self) -> frozenset[str]:
        """Every ingredient the tables or names can produce."""
        return frozenset(i.name for term in self._terms.values() for i in term.ingredients) | frozenset(
            i.name for product in self._products.values() for i in product.ingredients
        )

    def normalise(self, ingredient: Ingredient) -> tuple[Ingredient, ...]:
        """The knowledge base's ingredients for one a terminology server named (``lithium carbonate`` -> lithium).

        An ingredient the names do not know is kept as it came, in lower case.
        """
        name = term_key(ingredient.name)
        term = self._terms.get(name)
        if term is None or not term.ingredients:
            return (Ingredient(name, ingredient.rxcui),)
        return tuple(
            Ingredient(known.name, ingredient.rxcui) if known.name == name and not known.rxcui else known
            for known in term.ingredients
        )

    def from_codings(
        self, codings: Iterable[Mapping[str, Any]], resolver: CodeResolver | None = None
    ) -> tuple[IngredientMatch, ...] | None:
        """Ingredients of the RxNorm codings; None when no RxNorm code is known to the tables or the resolver."""
        found: dict[str, IngredientMatch] = {}
        unknown: list[str] = []
        for coding in codings:
            code = coding.get("code")
            if canonical_system(coding.get("system")) != RXNORM or not isinstance(code, str) or not code.strip():
                continue
            product = self._products.get(code.strip())
            if product is None:
                unknown.append(code.strip())
                continue
            routes = self._product_routes[product.rxcui]
            for ingredient in product.ingredients:
                found.setdefault(ingredient.name, IngredientMatch(ingredient, "code", routes=routes))
        if not found and resolver is not None:
            for code in unknown:
                for named in resolver(code) or ():
                    for ingredient in self.normalise(named):
                        found.setdefault(ingredient.name, IngredientMatch(ingredient, "resolver"))
        return tuple(found.values()) or None

    def from_text(self, *texts: str) -> tuple[IngredientMatch, ...]:
        """Ingredients named in free text, case-insensitive, on word boundaries, first occurrence each.

        The longest name wins where names overlap, so "esketamine" is not ketamine and "isopropyl alcohol" is not
        ethanol.
        """
        found: dict[str, IngredientMatch] = {}
        for text in texts:
            for match in self._pattern.finditer(text):
                term = self._terms[term_key(match.group(0))]
                for ingredient in term.ingredients:
                    found.setdefault(
                        ingredient.name, IngredientMatch(ingredient, "text", match.group(0), term.routes)
                    )
        return tuple(found.values())
