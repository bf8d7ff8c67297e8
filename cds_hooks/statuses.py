"""Which records count, by their status: the status elements the service reads, the codes FHIR R4 defines for each,
and the classes the knowledge base puts them in (``data/statuses.yaml``, a site's ``statuses``).

The codes are FHIR's; which class each is in is the committee's, so a card's knowledge base version says what was
counted. A record entered in error never counts: ``entered-in-error`` is always ``excluded`` (the loader refuses
anything else). The statuses counted are also what the prefetch templates ask the EHR for (``services``).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from functools import cached_property

CURRENT, ENDED, EXCLUDED = "current", "ended", "excluded"
"""A medication record's classes: taken now, taken until recently (it counts within a rule's washout), or not at all."""
COUNTED = "counted"
ACTIVE, PAST = "active", "past"
ENTERED_IN_ERROR = "entered-in-error"
MEDICATION_RECORDS = ("MedicationRequest", "MedicationStatement", "MedicationAdministration", "MedicationDispense")
"""Every record of a medication the patient has or had."""


@dataclass(frozen=True, slots=True)
class StatusElement:
    """A status element of a resource the service reads: the codes FHIR R4 defines, and the classes it knows."""

    codes: tuple[str, ...]
    classes: tuple[str, ...]
    meaning: str
    """What each class does, for rule authors (the field reference)."""


_THERAPY = (CURRENT, ENDED, EXCLUDED)
_THERAPY_MEANING = ("every status FHIR R4 defines, classed current (taken now), ended (counts within a rule's washout) "
                    "or excluded; the current and ended ones, in this order, are what the prefetch asks for")
_VERIFIED = (COUNTED, EXCLUDED)
ELEMENTS: Mapping[str, Mapping[str, StatusElement]] = {
    "MedicationRequest": {"status": StatusElement(
        ("active", "on-hold", "cancelled", "completed", "entered-in-error", "stopped", "draft", "unknown"),
        _THERAPY, _THERAPY_MEANING)},
    "MedicationStatement": {"status": StatusElement(
        ("active", "completed", "entered-in-error", "intended", "stopped", "on-hold", "unknown", "not-taken"),
        _THERAPY, _THERAPY_MEANING)},
    "MedicationAdministration": {"status": StatusElement(
        ("in-progress", "not-done", "on-hold", "completed", "entered-in-error", "stopped", "unknown"),
        _THERAPY, _THERAPY_MEANING)},
    "MedicationDispense": {"status": StatusElement(
        ("preparation", "in-progress", "cancelled", "on-hold", "completed", "entered-in-error", "stopped", "declined",
         "unknown"),
        _THERAPY, _THERAPY_MEANING)},
    "Observation": {"status": StatusElement(
        ("registered", "preliminary", "final", "amended", "corrected", "cancelled", "entered-in-error", "unknown"),
        _VERIFIED, "a blood-pressure reading's status: counted or excluded; the counted ones are what the prefetch "
                   "asks for")},
    "Condition": {
        "clinicalStatus": StatusElement(
            ("active", "recurrence", "relapse", "inactive", "remission", "resolved"), (ACTIVE, PAST),
            "active (a problem now), or past (counts only for a rule about a history of the condition); a "
            "condition with no clinical status is active"),
        "verificationStatus": StatusElement(
            ("unconfirmed", "provisional", "differential", "confirmed", "refuted", "entered-in-error"), _VERIFIED,
            "counted or excluded (the condition never counts); one with no verification status counts"),
    },
    "AllergyIntolerance": {
        "clinicalStatus": StatusElement(
            ("active", "inactive", "resolved"), (ACTIVE, EXCLUDED),
            "active or excluded (the allergy no longer counts); one with no clinical status is active"),
        "verificationStatus": StatusElement(
            ("unconfirmed", "confirmed", "refuted", "entered-in-error"), _VERIFIED,
            "counted or excluded (the allergy never counts); one with no verification status counts"),
    },
}
"""Per resource type and element, the codes FHIR R4 defines and the classes the knowledge base may put them in."""
APPOINTMENT_STATUSES = ("proposed", "pending", "booked", "arrived", "fulfilled", "cancelled", "noshow",
                        "entered-in-error", "checked-in", "waitlist")
"""Every Appointment status FHIR R4 defines (patient-view's treatment sessions)."""


def r4_statuses(kind: str) -> tuple[str, ...] | None:
    """The statuses FHIR R4 defines for a medication record's type; None for any other type."""
    return ELEMENTS[kind]["status"].codes if kind in MEDICATION_RECORDS else None


@dataclass(frozen=True)
class StatusClasses:
    """The knowledge base's classes of record statuses."""

    classes: Mapping[str, Mapping[str, str]]
    """Per status element (``MedicationRequest.status``), each FHIR R4 code's class, in the knowledge base's order."""
    draft_orders_excluded: frozenset[str]
    """This hook call's own draft orders count as current, whatever their status, except in these."""
    planned_orders: tuple[str, ...]
    """patient-view: the MedicationRequest statuses of a current or planned order, the one to check first."""
    booked_sessions: tuple[str, ...]
    """patient-view: the Appointment statuses of a scheduled or in-progress treatment session."""

    def of(self, element: str, code: str | None) -> str | None:
        """The class of ``code`` of a status element; None for no code, or one FHIR R4 does not define."""
        return self.classes[element].get(code) if code is not None else None

    def having(self, element: str, *wanted: str) -> tuple[str, ...]:
        """The codes of a status element in the classes wanted, in the knowledge base's order."""
        return tuple(code for code, kind in self.classes[element].items() if kind in wanted)

    def medication(self, kind: str, status: str | None, draft: bool = False) -> str:
        """``current``, ``ended`` or ``excluded``: a record of any other type is excluded; a status FHIR R4 does not
        define, or none, counts as current (``medications.status_problem`` names the entry)."""
        if draft:
            return EXCLUDED if status in self.draft_orders_excluded else CURRENT
        classes = self._medications.get(kind)
        if classes is None:
            return EXCLUDED
        return classes.get(status, CURRENT) if status is not None else CURRENT

    @cached_property
    def _medications(self) -> dict[str, Mapping[str, str]]:
        """The medication records' classes by resource type: looked up for every record read."""
        return {kind: self.classes[f"{kind}.status"] for kind in MEDICATION_RECORDS}

    @cached_property
    def counted_observations(self) -> frozenset[str]:
        return frozenset(self.having("Observation.status", COUNTED))
