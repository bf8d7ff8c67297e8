"""Data gaps: what the service could not check for this call, and why. Made while the data is gathered, told on
the notice card; never silently dropped."""

from __future__ import annotations

from dataclasses import dataclass

WHAT = {
    "medicationRequests": "medication orders",
    "medicationStatements": "medication statements",
    "conditions": "conditions",
    "patient": "the patient's record (birth date)",
    "appointments": "scheduled treatment sessions",
}
"""Each prefetch key, as the clinician's card names its data."""
MEDICATION_KEYS = frozenset({"medicationRequests", "medicationStatements"})


@dataclass(frozen=True, slots=True)
class Gap:
    """Data the service could not check, and why: shown to the clinician, never silently dropped."""

    key: str
    """A prefetch key, or the reference of a Medication that could not be read."""
    reason: str

    @property
    def what(self) -> str:
        """``medication orders`` for a prefetch key; a read Medication is named by its reference."""
        return WHAT.get(self.key, f"medication {self.key}")

    @property
    def medication_read(self) -> bool:
        """The gap is a referenced Medication that could not be read (its key is the reference)."""
        return self.key not in WHAT

    @property
    def medication_list(self) -> bool:
        """The gap is one of the patient's medication lists (orders or statements)."""
        return self.key in MEDICATION_KEYS
