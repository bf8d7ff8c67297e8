"""Allergy facts: an AllergyIntolerance, normalised to the ingredients it names.

A recorded allergy or intolerance to ketamine or esketamine is a label contraindication for both. It counts while
it stands: its clinical status active (or none recorded) and its verification status not excluded (refuted, entered
in error); an inactive or resolved one does not count (the classes are the knowledge base's: ``data/statuses.yaml``).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from cds_hooks import fhir_json as fhir
from cds_hooks.statuses import EXCLUDED, StatusClasses
from cds_hooks.terminology import CodeResolver, IngredientMatch, Terminology

KIND = "AllergyIntolerance"


@dataclass(frozen=True, slots=True)
class AllergyFact:
    reference: str | None
    label: str | None
    """What the EHR calls the substance (text or first display)."""
    ingredients: tuple[IngredientMatch, ...]
    reactions: tuple[str, ...]
    """The reactions recorded (``anaphylaxis``), for the card."""
    criticality: str | None
    source: Mapping[str, Any] = field(default_factory=dict, repr=False, compare=False)


def read_allergy(
    resource: Mapping[str, Any], terminology: Terminology, statuses: StatusClasses, resolver: CodeResolver | None = None
) -> AllergyFact | None:
    """The allergy as a fact; None when it does not stand (refuted, entered in error, inactive or resolved).

    The substance is read from ``code`` and from each reaction's ``substance``, coded or in text.
    """
    for element in ("verificationStatus", "clinicalStatus"):
        if statuses.of(f"{KIND}.{element}", fhir.first_code(resource.get(element))) == EXCLUDED:
            return None
    code = resource.get("code")
    concepts = [code] + [
        reaction.get("substance") for reaction in fhir.items(resource.get("reaction")) if isinstance(reaction, dict)
    ]
    found: dict[str, IngredientMatch] = {}
    for concept in concepts:
        for match in terminology.read_concept(concept, resolver).ingredients:
            found.setdefault(match.ingredient.name, match)
    reactions = [
        text
        for reaction in fhir.items(resource.get("reaction"))
        if isinstance(reaction, dict)
        for manifestation in fhir.items(reaction.get("manifestation"))
        for text in fhir.concept_texts(manifestation)[:1]
    ]
    criticality = resource.get("criticality") if isinstance(resource.get("criticality"), str) else None
    return AllergyFact(
        reference=fhir.reference_of(resource),
        label=fhir.concept_label(code) or next((fhir.concept_label(c) for c in concepts[1:] if c), None),
        ingredients=tuple(found.values()),
        reactions=tuple(dict.fromkeys(reactions)),
        criticality=criticality,
        source=resource,
    )
