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
are read from fhirServer (``order_check.gather``)."""

_USAGE = (
    "Send the patient's MedicationRequests, MedicationStatements and Conditions as prefetch, or a fhirServer "
    "(with fhirAuthorization where the server needs it) so the service can read them itself."
)


@dataclass(frozen=True)
class ServiceDefinition:
    id: str
    hook: str
    title: str
    description: str
    prefetch: Mapping[str, str] = field(default_factory=lambda: dict(PREFETCH))
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
)


def service_by_id(service_id: str) -> ServiceDefinition:
    for definition in SERVICES:
        if definition.id == service_id:
            return definition
    raise UnknownService(f"no CDS service has the id {service_id!r}")
