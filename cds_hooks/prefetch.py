"""Prefetch semantics (CDS Hooks 2.0): which data arrived, which is known to be absent, which must be fetched.

A key that is present holds the data; a key sent as ``null`` means the EHR has no such data (nothing to fetch);
an OperationOutcome in place of a Bundle means the EHR tried and failed (the specification asks for it so that
the service does not query again); a key that is absent must be fetched from ``fhirServer`` with the same query;
a Bundle with a ``next`` link is the first page of a paged answer, whose other pages are fetched.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import quote

from cds_hooks import fhir_json
from cds_hooks.gaps import Gap
from cds_hooks.protocol import HookRequest

_TOKEN = re.compile(r"\{\{\s*([\w.]+)\s*\}\}")

@dataclass
class PatientData:
    """Resources per prefetch key, what could not be had, and the queries still to run."""

    resources: dict[str, list[Mapping[str, Any]]] = field(default_factory=dict)
    gaps: list[Gap] = field(default_factory=list)
    to_fetch: dict[str, str] = field(default_factory=dict)
    next_pages: dict[str, str] = field(default_factory=dict)
    """Prefetch keys the EHR sent paged: the URL of the first page not sent."""

    def add_bundle(self, key: str, value: object, source: str = "the EHR") -> None:
        """Take one key's value (a Bundle, an OperationOutcome, or anything else) into the data; ``source`` says
        where it came from on the card (the EHR's prefetch, or the FHIR server the service read it from)."""
        if fhir_json.is_operation_outcome(value):
            self.gaps.append(Gap(key, f"{source} reported an error instead of data ({_outcome_text(value)})"))
            return
        if not isinstance(value, dict) or value.get("resourceType") != "Bundle":
            self.gaps.append(Gap(key, f"{source} sent something other than a FHIR Bundle"))
            return
        resources, unreadable = [], 0
        for resource in fhir_json.bundle_resources(value):
            if not isinstance(resource, dict) or not isinstance(resource.get("resourceType"), str):
                unreadable += 1
            elif fhir_json.is_operation_outcome(resource):
                if _is_error(resource):
                    self.gaps.append(Gap(key, f"{source} reported a partial failure ({_outcome_text(resource)})"))
            else:
                resources.append(resource)
        if unreadable:
            self.gaps.append(Gap(key, f"{unreadable} entr{'y' if unreadable == 1 else 'ies'} could not be read"))
        self.resources.setdefault(key, []).extend(resources)

    @property
    def usable(self) -> bool:
        return bool(self.resources)

    def all_resources(self) -> list[Mapping[str, Any]]:
        return [resource for items in self.resources.values() for resource in items]


def plan(request: HookRequest, templates: Mapping[str, str]) -> PatientData:
    """Sort the service's prefetch keys into present, known-empty and to-fetch (with the query to run)."""
    data = PatientData()
    tokens = request.context.tokens()
    for key, template in templates.items():
        if key not in request.prefetch:
            data.to_fetch[key] = render(template, tokens)
        elif request.prefetch[key] is None:
            data.resources.setdefault(key, [])
        else:
            data.add_bundle(key, _as_bundle(template, request.prefetch[key]))
            if next_page := fhir_json.next_link(request.prefetch[key]):
                data.next_pages[key] = next_page
    return data


def _as_bundle(template: str, value: object) -> object:
    """A read template's answer (``Patient/{{context.patientId}}``) is the resource itself: it is held as a
    one-entry Bundle, as a read from fhirServer is. Anything else is taken as it came."""
    path = template.partition("?")[0]
    if "?" in template or "/" not in path or not isinstance(value, dict):
        return value
    if value.get("resourceType") != path.split("/")[0]:
        return value
    return {"resourceType": "Bundle", "type": "collection", "entry": [{"resource": value}]}


def render(template: str, tokens: Mapping[str, str]) -> str:
    """Fill a prefetch template's ``{{tokens}}``, URL-encoding each value.

    >>> render("Condition?patient={{context.patientId}}", {"context.patientId": "a b"})
    'Condition?patient=a%20b'
    """
    return _TOKEN.sub(lambda match: quote(tokens.get(match.group(1), ""), safe="/"), template)


def _is_error(outcome: Mapping[str, Any]) -> bool:
    """Whether an OperationOutcome tells of a failure: an issue of severity error or fatal, or one whose severity
    cannot be read (data may be missing, so it is told rather than ignored)."""
    return any(
        isinstance(issue, dict) and fhir_json.string(issue.get("severity")) not in {"warning", "information"}
        for issue in fhir_json.items(outcome.get("issue"))
    )


def _outcome_text(outcome: object) -> str:
    for issue in fhir_json.items(outcome.get("issue")) if isinstance(outcome, dict) else ():
        if isinstance(issue, dict):
            text = issue.get("diagnostics") or fhir_json.concept_label(issue.get("details"))
            if isinstance(text, str) and text.strip():
                return text.strip()[:200]
            if isinstance(issue.get("code"), str):
                return issue["code"]
    return "no details"
