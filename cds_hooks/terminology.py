"""Medication terminology: from RxNorm codes or free text to ingredients.

Code tables are never complete, so recognition works in two steps: a known RxNorm code (ingredient, clinical or
branded drug, pack) gives its ingredients; otherwise the coding displays and text are searched for generic, brand
and street names on word boundaries. An optional resolver (an RxNav-compatible server, supplied by the service)
is asked about unknown RxNorm codes before falling back to text.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from cds_hooks.fhir_json import RXNORM

CodeResolver = Callable[[str], "tuple[Ingredient, ...] | None"]
"""Given an RxNorm code the tables do not know, its ingredients, or None when they could not be learned."""


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

    @property
    def label(self) -> str:
        """How a card names it: the ingredient, with the brand or street name first when that is what was written.

        ``sertraline`` for "sertraline hydrochloride 50 mg"; ``Nardil (phenelzine)`` for "Nardil 15 mg tablet".
        """
        name = self.ingredient.name
        if self.term and self.term.lower() != name:
            return f"{self.term} ({name})"
        return name


@dataclass(frozen=True, slots=True)
class Product:
    """A row of the code table: an RxNorm concept of any term type and the ingredients it contains."""

    rxcui: str
    tty: str
    name: str
    ingredients: tuple[Ingredient, ...]


class Terminology:
    """Looks up ingredients by RxNorm code and by name; immutable once built, safe to share across threads."""

    def __init__(self, products: Iterable[Product], terms: Mapping[str, Iterable[str]]) -> None:
        self._products = {product.rxcui: product for product in products}
        codes = {
            ingredient.name: ingredient.rxcui
            for product in self._products.values()
            for ingredient in product.ingredients
            if ingredient.rxcui
        }
        self._terms: dict[str, tuple[Ingredient, ...]] = {
            term.lower(): tuple(Ingredient(name, codes.get(name)) for name in names)
            for term, names in terms.items()
        }
        alternation = "|".join(re.escape(term) for term in sorted(self._terms, key=len, reverse=True))
        self._pattern = re.compile(rf"(?<![\w])(?:{alternation})(?![\w])", re.IGNORECASE)

    def product(self, rxcui: str) -> Product | None:
        return self._products.get(rxcui)

    def ingredient_names(self) -> frozenset[str]:
        """Every ingredient the tables or names can produce."""
        return frozenset(i.name for ingredients in self._terms.values() for i in ingredients) | frozenset(
            i.name for product in self._products.values() for i in product.ingredients
        )

    def from_codings(
        self, codings: Iterable[Mapping[str, Any]], resolver: CodeResolver | None = None
    ) -> tuple[IngredientMatch, ...] | None:
        """Ingredients of the RxNorm codings; None when no RxNorm code is known to the tables or the resolver."""
        found: dict[str, IngredientMatch] = {}
        unknown: list[str] = []
        for coding in codings:
            code = coding.get("code")
            if coding.get("system") != RXNORM or not isinstance(code, str) or not code.strip():
                continue
            product = self._products.get(code.strip())
            if product is None:
                unknown.append(code.strip())
                continue
            for ingredient in product.ingredients:
                found.setdefault(ingredient.name, IngredientMatch(ingredient, "code"))
        if not found and resolver is not None:
            for code in unknown:
                for ingredient in resolver(code) or ():
                    found.setdefault(ingredient.name, IngredientMatch(ingredient, "resolver"))
        return tuple(found.values()) or None

    def from_text(self, *texts: str) -> tuple[IngredientMatch, ...]:
        """Ingredients named in free text, case-insensitive, on word boundaries, first occurrence each."""
        found: dict[str, IngredientMatch] = {}
        for text in texts:
            for match in self._pattern.finditer(text):
                term = match.group(0)
                for ingredient in self._terms[term.lower()]:
                    found.setdefault(ingredient.name, IngredientMatch(ingredient, "text", term))
        return tuple(found.values())

    def mentions_any(self, text: str, names: frozenset[str]) -> bool:
        """Cheap test: does the text name any of these ingredients (by any of their terms)?"""
        return any(i.name in names for m in self._pattern.finditer(text) for i in self._terms[m.group(0).lower()])
