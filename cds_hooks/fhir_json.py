"""Small, pure readers over FHIR R4 JSON (dicts as they arrive on the wire).

JSON objects are dicts, as ``json.loads`` gives them: checking for ``dict`` rather than the abstract ``Mapping``
keeps these readers cheap on a long medication list. They tolerate missing and malformed fields on purpose: a
reader returns "nothing" rather than raising, and the callers decide what an absent value means clinically.
"""

from __future__ import annotations

import calendar
import re
from collections.abc import Iterator, Mapping
from datetime import UTC, datetime, timedelta
from typing import Any

RXNORM = "http://www.nlm.nih.gov/research/umls/rxnorm"
ICD10CM = "http://hl7.org/fhir/sid/icd-10-cm"
SNOMED = "http://snomed.info/sct"
_SYSTEM_ALIASES = {
    "urn:oid:2.16.840.1.113883.6.88": RXNORM,
    "http://www.nlm.nih.gov/research/umls/rxnorm/": RXNORM,
    "urn:oid:2.16.840.1.113883.6.90": ICD10CM,
    "http://hl7.org/fhir/sid/icd-10-cm/": ICD10CM,
    "urn:oid:2.16.840.1.113883.6.96": SNOMED,
    "http://snomed.info/sct/": SNOMED,
}

_DATE = re.compile(
    r"^(?P<y>\d{4})(?:-(?P<m>\d{2})(?:-(?P<d>\d{2})"
    r"(?:T(?P<H>\d{2}):(?P<M>\d{2})(?::(?P<S>\d{2})(?:\.\d+)?)?(?P<tz>Z|[+-]\d{2}:\d{2})?)?)?)?$"
)


def parse_datetime(value: object, *, upper: bool = False) -> datetime | None:
    """Read a FHIR date, dateTime or instant as an aware UTC datetime.

    Partial dates stand for a period: ``upper=False`` gives its first instant, ``upper=True`` its last, so a
    caller that wants the latest possible end of a therapy asks for the upper bound.

    >>> parse_datetime("2025-03")
    datetime.datetime(2025, 3, 1, 0, 0, tzinfo=datetime.timezone.utc)
    >>> parse_datetime("2025-03", upper=True).day
    31
    >>> parse_datetime("03/2025") is None
    True
    """
    if not isinstance(value, str):
        return None
    value = value.strip()
    match = _DATE.match(value)
    if not match:
        return None
    try:
        if match.group("H") is not None:  # a full dateTime or instant, the commonest: no period to widen
            moment = datetime.fromisoformat(value.replace("Z", "+00:00"))
        else:
            return _partial(*match.group("y", "m", "d"), upper=upper)
    except (ValueError, OverflowError):
        return None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    try:
        return moment.astimezone(UTC)
    except OverflowError:  # the first or last hours of year 1 or 9999, moved across the date line
        return None


def _partial(year_text: str, month_text: str | None, day_text: str | None, *, upper: bool) -> datetime:
    """The first (or, with ``upper``, the last) instant of a year, month or day."""
    year = int(year_text)
    if month_text is None:
        start = datetime(year, 1, 1, tzinfo=UTC)
        return start.replace(year=year + 1) - timedelta(microseconds=1) if upper else start
    month = int(month_text)
    if day_text is None:
        start = datetime(year, month, 1, tzinfo=UTC)
        if not upper:
            return start
        last_day = calendar.monthrange(year, month)[1]
        return start.replace(day=last_day) + timedelta(days=1, microseconds=-1)
    start = datetime(year, month, int(day_text), tzinfo=UTC)
    return start + timedelta(days=1, microseconds=-1) if upper else start


def canonical_system(system: object) -> str:
    """A code system's canonical URI, so that the OID forms some EHRs send match too.

    >>> canonical_system("urn:oid:2.16.840.1.113883.6.88")
    'http://www.nlm.nih.gov/research/umls/rxnorm'
    >>> canonical_system(None)
    ''
    """
    if not isinstance(system, str):
        return ""
    system = system.strip()
    return _SYSTEM_ALIASES.get(system, system)


def string(value: object) -> str | None:
    """A value where FHIR has a string (a code, a status, a resourceType); any other JSON type reads as absent, so
    it is never looked up in a table (a list or an object cannot be).

    >>> string("active"), string(["active"]), string({"code": "x"})
    ('active', None, None)
    """
    return value if isinstance(value, str) else None


def icd10_key(code: str) -> str:
    """An ICD-10-CM code as compared: upper case, no dot, no spaces.

    >>> icd10_key(" i67.1 ")
    'I671'
    """
    return code.strip().upper().replace(".", "").replace(" ", "")


def items(value: object) -> list[Any]:
    """A JSON array's items; anything else (a scalar where FHIR has an array) reads as empty.

    >>> items([1, 2]), items(3), items(None)
    ([1, 2], [], [])
    """
    return value if isinstance(value, list) else []


def items_or_one(value: object) -> list[Any]:
    """A JSON array's items, or a lone object sent where FHIR has an array (read as the one item it is).

    >>> items_or_one([{"text": "a"}]), items_or_one({"text": "a"}), items_or_one("a")
    ([{'text': 'a'}], [{'text': 'a'}], [])
    """
    if isinstance(value, list):
        return value
    return [value] if isinstance(value, dict) else []


def codings(concept: object) -> list[Mapping[str, Any]]:
    """The well-formed codings of a CodeableConcept (each a dict); anything else yields an empty list."""
    if not isinstance(concept, dict):
        return []
    found = concept.get("coding")
    if not isinstance(found, list):
        return []
    return [coding for coding in found if isinstance(coding, dict)]


def concept_texts(concept: object) -> list[str]:
    """Human text of a CodeableConcept: its ``text`` then each coding's ``display``, non-empty strings only."""
    if not isinstance(concept, dict):
        return []
    texts = [concept.get("text")] + [coding.get("display") for coding in codings(concept)]
    return [text for text in texts if isinstance(text, str) and text.strip()]


def first_code(concept: object) -> str | None:
    """The code of a CodeableConcept's first coding that has one (a clinical or verification status).

    >>> first_code({"coding": [{"system": "x"}, {"code": "active"}]})
    'active'
    """
    for coding in codings(concept):
        if isinstance(coding.get("code"), str):
            return coding["code"]
    return None


def concept_label(concept: object) -> str | None:
    """The best single human label of a CodeableConcept (text first, then the first display)."""
    texts = concept_texts(concept)
    return texts[0].strip() if texts else None


def reference_of(resource: Mapping[str, Any]) -> str | None:
    """``"MedicationRequest/123"`` for a resource with an id, else None."""
    kind, ident = resource.get("resourceType"), resource.get("id")
    if isinstance(kind, str) and isinstance(ident, str) and ident:
        return f"{kind}/{ident}"
    return None


def bundle_resources(bundle: object) -> Iterator[object]:
    """Each ``entry.resource`` of a Bundle as found (not checked: callers check each one)."""
    if not isinstance(bundle, dict):
        return
    entries = bundle.get("entry")
    if not isinstance(entries, list):
        return
    for entry in entries:
        yield entry.get("resource") if isinstance(entry, dict) else entry


def next_link(bundle: object) -> str | None:
    """The URL of a Bundle's next page (``link`` with relation ``next``), or None on the last page.

    >>> next_link({"resourceType": "Bundle", "link": [{"relation": "next", "url": "https://ehr/fhir?page=2"}]})
    'https://ehr/fhir?page=2'
    """
    links = bundle.get("link") if isinstance(bundle, dict) else None
    for link in links if isinstance(links, list) else ():
        if isinstance(link, dict) and link.get("relation") == "next" and isinstance(link.get("url"), str):
            return link["url"].strip() or None
    return None


def is_operation_outcome(value: object) -> bool:
    """True for an OperationOutcome resource (what an EHR sends in place of data it could not get)."""
    return isinstance(value, dict) and value.get("resourceType") == "OperationOutcome"
