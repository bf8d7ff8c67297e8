"""The CDS services this server offers, and their definitions as a knowledge base makes them.

What a service is (id, hook, title, description) is fixed (``OFFERS``); what it asks the EHR to prefetch follows
from which record statuses the knowledge base counts, so the definitions are made from a loaded knowledge base
(``definitions``): the HTTP routes, the command line and the console take them from there.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from cds_hooks import vitals
from cds_hooks.errors import UnknownService
from cds_hooks.protocol import PATIENT_VIEW
from cds_hooks.statuses import COUNTED, CURRENT, ENDED, StatusClasses

if TYPE_CHECKING:  # the metrics name their labels by OFFERS, without loading the knowledge base's schemas
    from cds_hooks.knowledge.model import KnowledgeBase

PATIENT_KEY = "patient"
_PATIENT_PREFETCH = {PATIENT_KEY: "Patient/{{context.patientId}}"}
"""The patient's own record, for order rules that read the birth date; read from fhirServer only while such a rule
is on (``order_limits.needs_patient``)."""

_USAGE = (
    "Send the patient's MedicationRequests, MedicationStatements, MedicationAdministrations, MedicationDispenses, "
    "Conditions, AllergyIntolerances, blood-pressure Observations and Patient record as prefetch, or a fhirServer "
    "(with fhirAuthorization where the server needs it) so the service can read them itself."
)


@dataclass(frozen=True)
class Offer:
    """A CDS service this server offers, whatever its knowledge base."""

    id: str
    hook: str
    title: str
    description: str


OFFERS = (
    Offer(
        id="ketamine-order-select",
        hook="order-select",
        title="Ketamine and esketamine co-medication check (order select)",
        description=(
            "When ketamine or esketamine (Spravato) is selected, checks the patient's other medications and "
            "conditions and advises Avoid, Hold or Monitor for each interacting co-prescription."
        ),
    ),
    Offer(
        id="ketamine-order-sign",
        hook="order-sign",
        title="Ketamine and esketamine co-medication check (order sign)",
        description=(
            "Before a ketamine or esketamine (Spravato) order is signed, checks every draft order against the "
            "patient's other medications and conditions and advises Avoid, Hold or Monitor for each interacting "
            "co-prescription."
        ),
    ),
    Offer(
        id="ketamine-patient-view",
        hook=PATIENT_VIEW,
        title="Ketamine and esketamine order check (patient view)",
        description=(
            "When a chart opens, checks the patient's active, on-hold or draft ketamine or esketamine order, if "
            "there is one, against the patient's other medications and conditions and the order's own dose, "
            "frequency and setting, as order-sign would; answers no cards at once when there is none."
        ),
    ),
)
"""The services, in the order discovery lists them."""


@dataclass(frozen=True)
class ServiceDefinition(Offer):
    """An offered service with the prefetch templates its knowledge base makes."""

    prefetch: Mapping[str, str]
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


@dataclass(frozen=True)
class Services:
    """The services a knowledge base defines, in ``OFFERS`` order."""

    definitions: tuple[ServiceDefinition, ...]

    def by_id(self, service_id: str) -> ServiceDefinition:
        for definition in self.definitions:
            if definition.id == service_id:
                return definition
        raise UnknownService(f"no CDS service has the id {service_id!r}")

    def for_hook(self, hook: object) -> ServiceDefinition | None:
        return next((definition for definition in self.definitions if definition.hook == hook), None)


def definitions(kb: KnowledgeBase) -> Services:
    """Every offered service, with the prefetch templates the knowledge base's status classes make."""
    orders = order_prefetch(kb.statuses)
    view = patient_view_prefetch(kb.statuses)
    return Services(tuple(
        ServiceDefinition(offer.id, offer.hook, offer.title, offer.description,
                          view if offer.hook == PATIENT_VIEW else orders)
        for offer in OFFERS
    ))


def record_prefetch(statuses: StatusClasses) -> dict[str, str]:
    """The patient's records the engine reads, and no more.

    MedicationRequests and MedicationStatements (outside prescriptions) in the statuses the knowledge base counts:
    current therapy, and stopped or completed therapy for washout windows. Every Condition, not only active ones: a
    condition with no clinical status counts as active, a rule may count a history, and FHIR search cannot ask for
    "no status" or exclude refuted ones with the operators prefetch allows.

    Only the query subset the specification recommends (type-level search, references, token equality), so an EHR
    that enforces it accepts them: no ``_include``. The Medications that entries reference but the prefetch does not
    carry are read from fhirServer (``gather``).

    MedicationAdministrations and MedicationDispenses in the statuses that can count (a dose given, a supply handed
    over); every AllergyIntolerance (one with no clinical status stands, and refuted ones are left out in the
    service); blood-pressure Observations (LOINC panels, systolic and diastolic) that stand, most recent first. No
    date can be computed in a template, so the windows are applied in the service; when the service reads a key
    itself it narrows the query by date (``fetch_queries``).
    """
    return {
        "medicationRequests": _search("MedicationRequest", _counted("MedicationRequest", statuses)),
        "medicationStatements": _search("MedicationStatement", _counted("MedicationStatement", statuses)),
        "conditions": "Condition?patient={{context.patientId}}",
        "medicationAdministrations": _search("MedicationAdministration",
                                             _counted("MedicationAdministration", statuses)),
        "medicationDispenses": _search("MedicationDispense", _counted("MedicationDispense", statuses)),
        "allergies": "AllergyIntolerance?patient={{context.patientId}}",
        "bloodPressure": _blood_pressure(statuses),
    }


def order_prefetch(statuses: StatusClasses) -> dict[str, str]:
    """What an order hook reads: the patient's records, then the patient's own record."""
    return {**record_prefetch(statuses), **_PATIENT_PREFETCH}


def patient_view_prefetch(statuses: StatusClasses) -> dict[str, str]:
    """What patient-view reads: the patient's MedicationRequests including drafts (a planned session's order) and
    its scheduled or in-progress Appointments (a session the EHR books without an order it sends), and only when one
    of them is ketamine or esketamine, the rest (administrations, dispenses, allergies, blood pressure among them),
    as order-sign does."""
    requests = dict.fromkeys([*_counted("MedicationRequest", statuses), *statuses.planned_orders])
    return {
        **record_prefetch(statuses),
        "medicationRequests": _search("MedicationRequest", requests),
        "appointments": _search("Appointment", statuses.booked_sessions),
        **_PATIENT_PREFETCH,
    }


def _counted(kind: str, statuses: StatusClasses) -> tuple[str, ...]:
    return statuses.having(f"{kind}.status", CURRENT, ENDED)


def _search(kind: str, statuses: Iterable[str]) -> str:
    return f"{kind}?patient={{{{context.patientId}}}}&status={','.join(statuses)}"


def _blood_pressure(statuses: StatusClasses) -> str:
    codes = ",".join(f"{vitals.LOINC}|{code}" for code in (*vitals.PANEL, *vitals.SYSTOLIC, *vitals.DIASTOLIC))
    counted = ",".join(statuses.having("Observation.status", COUNTED))
    return f"Observation?patient={{{{context.patientId}}}}&code={codes}&status={counted}&_sort=-date"
