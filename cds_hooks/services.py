"""The CDS services this server offers, as discovery describes them, with their prefetch templates."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from cds_hooks.errors import UnknownService
from cds_hooks.medications import COUNTED_STATUSES


def _medications(kind: str) -> str:
    statuses = ",".join(COUNTED_STATUSES[kind])
    return f"{kind}?patient={{{{context.patientId}}}}&status={statuses}"


PREFETCH = {
    "medicationRequests": _medications("MedicationRequest"),
    "medicationStatements": _medications("MedicationStatement"),
    "conditions": "Condition?patient={{context.patientId}}",
}
"""What the engine reads, and no more. MedicationRequests and MedicationStatements (outside prescriptions) in
the statuses the engine counts: current therapy, and stopped or completed therapy for washout windows. Every
Condition, not only active ones: a condition with no clinical status counts as active, a rule may count a history,
and FHIR search cannot ask for "no status" or exclude refuted ones with the operators prefetch allows.

Only the query subset the specification recommends (type-level search, references, token equality), so an EHR that
enforces it accepts them: no ``_include``. The Medications that entries reference but the prefetch does not carry
are read from fhirServer (``gather``)."""

PATIENT_KEY = "patient"
PATIENT_PREFETCH = {PATIENT_KEY: "Patient/{{context.patientId}}"}
"""The patient's own record, for order rules that read the birth date; read from fhirServer only while such a rule
is on (``order_limits.needs_patient``)."""

PLANNED_STATUSES = ("active", "on-hold", "draft")
"""patient-view: the MedicationRequest statuses of a current or planned ketamine or esketamine order."""
SESSION_STATUSES = ("booked", "arrived", "checked-in")
"""patient-view: the Appointment statuses of a scheduled or in-progress treatment session."""
PATIENT_VIEW_PREFETCH = {
    **PREFETCH,
    "medicationRequests": "MedicationRequest?patient={{context.patientId}}&status="
    + ",".join(dict.fromkeys([*COUNTED_STATUSES["MedicationRequest"], *PLANNED_STATUSES])),
    "appointments": f"Appointment?patient={{{{context.patientId}}}}&status={','.join(SESSION_STATUSES)}",
    **PATIENT_PREFETCH,
}
"""What patient-view reads: the patient's MedicationRequests including drafts (a planned session's order) and its
scheduled or in-progress Appointments (a session the EHR books without an order it sends), and only when one of
them is ketamine or esketamine, the rest, as order-sign does."""

_USAGE = (
    "Send the patient's MedicationRequests, MedicationStatements, Conditions and Patient record as prefetch, or a "
    "fhirServer "
    "(with fhirAuthorization where the server needs it) so the service can read them itself."
)


@dataclass(frozen=True)
class ServiceDefinition:
    id: str
    hook: str
    title: str
    description: str
    prefetch: Mapping[str, str] = field(default_factory=lambda: {**PREFETCH, **PATIENT_PREFETCH})
    usage_requirements: str = _USAGE

    def discovery(self) -> dict[str, Any]:
        """This service as the discovery endpoint lists it (CDS Hooks 2.0 field names, no empty fields)."""
        return {
            "hook": self.hook,
            "title": self.title,
            "description": self.description,
            "id": self.id,
            "prefetch": dict(self.prefetch),
            "usageRequirements": self.usage_requirements,
        }


SERVICES = (
    ServiceDefinition(
        id="ketamine-order-select",
        hook="order-select",
        title="Ketamine and esketamine co-medication check (order select)",
        description=(
            "When ketamine or esketamine (Spravato) is selected, checks the patient's other medications and "
            "conditions and advises Avoid, Hold or Monitor for each interacting co-prescription."
        ),
    ),
    ServiceDefinition(
        id="ketamine-order-sign",
        hook="order-sign",
        title="Ketamine and esketamine co-medication check (order sign)",
        description=(
            "Before a ketamine or esketamine (Spravato) order is signed, checks every draft order against the "
            "patient's other medications and conditions and advises Avoid, Hold or Monitor for each interacting "
            "co-prescription."
        ),
    ),
    ServiceDefinition(
        id="ketamine-patient-view",
        hook="patient-view",
        title="Ketamine and esketamine order check (patient view)",
        description=(
            "When a chart opens, checks the patient's active, on-hold or draft ketamine or esketamine order, if "
            "there is one, against the patient's other medications and conditions and the order's own dose, "
            "frequency and setting, as order-sign would; answers no cards at once when there is none."
        ),
        prefetch=PATIENT_VIEW_PREFETCH,
    ),
)


def service_by_id(service_id: str) -> ServiceDefinition:
    for definition in SERVICES:
        if definition.id == service_id:
            return definition
    raise UnknownService(f"no CDS service has the id {service_id!r}")
