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
from functools import lru_cache
from typing import Any

from cds_hooks.bounded import BoundedMemo
from cds_hooks.fhir_json import RXNORM, canonical_system, items

CodeResolver = Callable[[str], "tuple[Ingredient, ...] | None"]
"""Given an RxNorm code the tables do not know, its ingredients, or None when they could not be learned."""

ROUTES = ("oral", "sublingual", "nasal", "rectal", "intravenous", "intramuscular", "subcutaneous", "transdermal",
          "respiratory", "topical", "ophthalmic", "otic")
"""The routes rules can name, as words the engine compares."""

CACHED_TEXT_LENGTH = 256
"""Longer texts (rare in medication names and sigs) are read afresh, so the caches stay small whatever is sent."""

class RouteWords:
    """How routes are read from text and from coded routes: the knowledge base's ``route_words`` (regular
    expressions per route, tried in order) and ``route_codes`` (SNOMED CT route codes)."""

    def __init__(
        self, words: Mapping[str, Iterable[str]] | None = None, codes: Mapping[str, str] | None = None
    ) -> None:
        alternatives = "|".join(
            f"(?P<{route}>{'|'.join(patterns)})" for route, patterns in (words or {}).items() if patterns
        )
        self._pattern = re.compile(alternatives, re.IGNORECASE) if alternatives else None
        self.codes: Mapping[str, str] = dict(codes or {})
        self._known = lru_cache(maxsize=4096)(self._read)

    def in_text(self, text: str) -> frozenset[str]:
        """The routes a medication text names (remembered per text: sigs and product names repeat)."""
        return self._known(text) if len(text) <= CACHED_TEXT_LENGTH else self._read(text)

    def _read(self, text: str) -> frozenset[str]:
        if self._pattern is None:
            return frozenset()
        return frozenset(match.lastgroup for match in self._pattern.finditer(text) if match.lastgroup)


def term_key(text: str) -> str:
    """How a name is looked up: lower case, one kind of apostrophe, runs of spaces and hyphens as one space.

    >>> term_key("St. John’s  Wort")
    "st. john's wort"
    >>> term_key("Claritin-D")
    'claritin d'
    """
    text = text.lower().replace("\u2019", "'").replace("\u2018", "'")
    return re.sub(r"[\s\-]+", " ", text).strip()


_WORD = re.compile(r"[^\W_]+")
"""A word: a run of letters and digits. Apostrophes, hyphens, dots and spaces all separate words."""
SCAN_CACHE_SIZE = 16_384
"""Distinct medication texts whose matches are remembered."""


def _concept_key(concept: dict[str, Any]) -> tuple[Any, ...]:
    """What of a CodeableConcept decides its ingredients, as it was sent: text, then (system, code, display) of
    each coding. Values are taken as they are, so the key is cheap to build; one that is not hashable (a
    malformed concept) makes the key unusable, and such a concept is read without the cache."""
    codings = concept.get("coding")
    key: tuple[Any, ...] = (concept.get("text"),)
    if codings.__class__ is list:
        for coding in codings:
            if coding.__class__ is dict:
                key += ((coding.get("system"), coding.get("code"), coding.get("display")),)
    return key


def _text(value: object) -> str | None:
    """A value where FHIR has a string; anything else (a malformed concept) counts as absent."""
    return value if isinstance(value, str) else None


_CODING_SIZE = 16
"""What a coding counts for in a key's size beside its strings, so that a concept of thousands of empty codings
is not remembered whole."""


def _key_size(key: tuple[Any, ...]) -> int:
    text, *codings = key
    return len(_text(text) or "") + sum(
        _CODING_SIZE + sum(len(_text(part) or "") for part in coding) for coding in codings
    )


@dataclass(frozen=True, slots=True)
class ConceptReading:
    """What a CodeableConcept tells about the drug it names."""

    ingredients: tuple[IngredientMatch, ...]
    named: bool
    """It carries a text or a display: a drug with a name, even when the name is of no drug tracked here."""
    unknown_rxnorm: bool = False
    """Its RxNorm codes are all unknown to the tables, so a resolver might know more."""
    names: frozenset[str] = field(init=False)
    """The ingredients' names: whether a concept names any of a rule's drugs is one set operation (most of a
    medication list is let go on it)."""

    def __post_init__(self) -> None:
        object.__setattr__(self, "names", frozenset(match.ingredient.name for match in self.ingredients))


@lru_cache(maxsize=4096)
def _label(term: str, name: str) -> str:
    return f"{term} ({name})" if term_key(term) != name else name


def _words(text: str) -> tuple[str, ...]:
    """The lower-case words of a text, the unit names are matched in.

    >>> _words("St. John’s  Wort")
    ('st', 'john', 's', 'wort')
    """
    return tuple(word.lower() for word in _WORD.findall(text))


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
    """``code`` (table), ``resolver`` (terminology server), ``text`` (name in display or text) or ``misspelling``
    (a long name in text with one letter wrong)."""
    term: str | None = None
    """The words that matched when found in text, e.g. ``Nardil``."""
    routes: frozenset[str] = field(default_factory=frozenset)
    """Routes the product or brand implies (a nasal spray, Valtoco), whatever the order says."""

    @property
    def label(self) -> str:
        """How a card names it: the ingredient, with the brand or street name first when that is what was written.

        ``sertraline`` for "sertraline hydrochloride 50 mg"; ``Nardil (phenelzine)`` for "Nardil 15 mg tablet".
        """
        return _label(self.term, self.ingredient.name) if self.term else self.ingredient.name


_UNNAMED = ConceptReading((), named=False)

MISSPELLING = "misspelling"
"""How a name read as a likely misspelling was found (``IngredientMatch.via``): the card says so."""
MISSPELLING_MIN_LENGTH = 9
"""Only names this long are matched with a letter wrong: shorter ones lie too close to other words."""


def _deletions(word: str) -> set[str]:
    """The word and every form of it with one letter dropped: two words one edit apart share one of these."""
    return {word, *(word[:i] + word[i + 1 :] for i in range(len(word)))}


def _near_index(keys: Iterable[str]) -> dict[str, tuple[str, ...]]:
    """Single-word names at least ``MISSPELLING_MIN_LENGTH`` letters long, by each of their ``_deletions``."""
    index: dict[str, list[str]] = {}
    for key in keys:
        if len(key) >= MISSPELLING_MIN_LENGTH and key.isalpha():
            for variant in _deletions(key):
                index.setdefault(variant, []).append(key)
    return {variant: tuple(keys) for variant, keys in index.items()}


def _one_edit(word: str, other: str) -> bool:
    """Whether two different words are one edit apart: a letter inserted, dropped or changed, or two neighbouring
    letters swapped.

    >>> _one_edit("clonazapam", "clonazepam"), _one_edit("sertaline", "sertraline")
    (True, True)
    >>> _one_edit("setrraline", "sertraline"), _one_edit("sertralines", "sertraline")
    (True, True)
    >>> _one_edit("clonazapan", "clonazepam"), _one_edit("sertraline", "sertraline")
    (False, False)
    """
    if word == other or abs(len(word) - len(other)) > 1:
        return False
    if len(word) == len(other):
        diff = [i for i, (a, b) in enumerate(zip(word, other, strict=True)) if a != b]
        return len(diff) == 1 or (
            len(diff) == 2 and diff[1] == diff[0] + 1 and word[diff[0]] == other[diff[1]]
            and word[diff[1]] == other[diff[0]]
        )
    short, long = sorted((word, other), key=len)
    return any(long[:i] + long[i + 1 :] == short for i in range(len(long)))


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
        routes: RouteWords | None = None,
    ) -> None:
        self.routes = routes or RouteWords()
        """How routes are read from text and codes (without words, none are read from text)."""
        self._products = {product.rxcui: product for product in products}
        codes = {
            ingredient.name: ingredient.rxcui
            for product in self._products.values()
            for ingredient in product.ingredients
            if ingredient.rxcui
        }
        by_term = {term_key(term): route for term, route in (term_routes or {}).items() if route}
        self._terms: dict[str, _Term] = {}
        for term, names in terms.items():
            key = term_key(term)
            self._terms[key] = _Term(
                tuple(Ingredient(name, codes.get(name)) for name in names),
                frozenset([by_term[key]]) if key in by_term else frozenset(),
            )
        self._by_words = {_words(key): key for key in self._terms}
        self._longest = max((len(words) for words in self._by_words), default=0)
        self._near = _near_index(key for key, term in self._terms.items() if term.ingredients)
        self._scan = lru_cache(maxsize=SCAN_CACHE_SIZE)(self._scan_text)
        self._readings: BoundedMemo[tuple[Any, ...], ConceptReading] = BoundedMemo(SCAN_CACHE_SIZE)

    def product(self, rxcui: str) -> Product | None:
        return self._products.get(rxcui)

    def products(self) -> tuple[Product, ...]:
        """Every row of the code table, for listing a value set's members."""
        return tuple(self._products.values())

    def names(self) -> dict[str, tuple[str, ...]]:
        """Every name the service recognises (lower case), with the ingredients it stands for; none for a look-alike."""
        return {key: tuple(i.name for i in term.ingredients) for key, term in self._terms.items()}

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
            routes = self.routes.in_text(product.name)  # read when first asked: most products never are
            for ingredient in product.ingredients:
                found.setdefault(ingredient.name, IngredientMatch(ingredient, "code", routes=routes))
        if not found and resolver is not None:
            for code in unknown:
                for named in resolver(code) or ():
                    for ingredient in self.normalise(named):
                        found.setdefault(ingredient.name, IngredientMatch(ingredient, "resolver"))
        return tuple(found.values()) or None

    def read_concept(self, concept: object, resolver: CodeResolver | None = None) -> ConceptReading:
        """Ingredients of a CodeableConcept and whether it names a drug at all.

        Readings from the tables and names are remembered per distinct concept (an EHR sends the same ones again
        and again, and most of a medication list names drugs no rule tracks); a concept whose RxNorm code only the
        resolver might know is asked afresh each time, so the resolver's own expiry and failure handling hold.
        """
        if not isinstance(concept, dict):
            return _UNNAMED
        key = _concept_key(concept)
        try:
            reading, cacheable = self._readings.get(key), True
        except TypeError:  # a value that is neither a string nor hashable: read, not remembered
            reading, cacheable = None, False
        if reading is None:
            reading = self._read(key)
            if cacheable and _key_size(key) <= CACHED_TEXT_LENGTH:
                self._readings.put(key, reading)
        if reading.unknown_rxnorm and resolver is not None:
            codings = [coding for coding in items(concept.get("coding")) if isinstance(coding, dict)]
            return ConceptReading(self.from_codings(codings, resolver) or reading.ingredients, reading.named)
        return reading

    def _read(self, key: tuple[Any, ...]) -> ConceptReading:
        text, codings = _text(key[0]), [tuple(map(_text, coding)) for coding in key[1:]]
        texts = [value for value in (text, *(display for _, _, display in codings)) if value and value.strip()]
        coded = self.from_codings({"system": system, "code": code} for system, code, _ in codings)
        if coded is not None:
            return ConceptReading(coded, bool(texts))
        unknown = any(canonical_system(system) == RXNORM and code is not None for system, code, _ in codings)
        return ConceptReading(self.from_text(*texts), bool(texts), unknown)

    def from_text(self, *texts: str) -> tuple[IngredientMatch, ...]:
        """Ingredients named in free text, case-insensitive, on word boundaries, first occurrence each.

        The longest name wins where names overlap, so "esketamine" is not ketamine and "isopropyl alcohol" is not
        ethanol.
        """
        found: dict[str, IngredientMatch] = {}
        for text in texts:
            for key, written in self._scan(text) if len(text) <= CACHED_TEXT_LENGTH else self._scan_text(text):
                term = self._terms[key]
                via = "text" if _words(written) == _words(key) else MISSPELLING
                for ingredient in term.ingredients:
                    found.setdefault(ingredient.name, IngredientMatch(ingredient, via, written, term.routes))
        return tuple(found.values())

    def _scan_text(self, text: str) -> tuple[tuple[str, str], ...]:
        """The terms a text names, as (term key, words as written), leftmost first and longest at each place.

        Matching whole words (runs of letters and digits) gives the word boundaries; a dictionary look-up per
        run of words keeps the cost in proportion to the text, not to the number of names. Results are cached:
        an EHR's medication names repeat from call to call.
        """
        words = list(_WORD.finditer(text))
        lowered = [word.group(0).lower() for word in words]
        found, start = [], 0
        while start < len(words):
            for length in range(min(self._longest, len(words) - start), 0, -1):
                key = self._by_words.get(tuple(lowered[start : start + length]))
                if key is not None:
                    found.append((key, text[words[start].start() : words[start + length - 1].end()]))
                    start += length
                    break
            else:
                near = self._near_term(lowered[start])
                if near is not None:
                    found.append((near, words[start].group(0)))
                start += 1
        return tuple(found)

    def _near_term(self, word: str) -> str | None:
        """The one tracked single-word name a long word is a likely misspelling of (one letter added, dropped,
        changed, or two neighbours swapped), or None. A word the names know (a drug, a look-alike) never gets
        here: it matched as itself."""
        if len(word) < MISSPELLING_MIN_LENGTH or not word.isalpha():
            return None
        candidates = {key for variant in _deletions(word) for key in self._near.get(variant, ())}
        close = {key for key in candidates if _one_edit(word, key)}
        ingredients = {self._terms[key].ingredients for key in close}
        return min(close) if len(ingredients) == 1 else None
