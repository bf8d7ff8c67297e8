"""Which record statuses count is knowledge-base data (data/statuses.yaml): checked at start-up, changeable by a site
within limits (a record entered in error never counts), and the source of the prefetch templates discovery lists."""

from __future__ import annotations

from pathlib import Path

import pytest

from cds_hooks.errors import KnowledgeError
from cds_hooks.knowledge import apply_overrides, load_knowledge
from cds_hooks.services import definitions
from cds_hooks.statuses import ELEMENTS
from service import create_app
from service.config import Settings
from tests.builders import advice_by_rule, edit_yaml, hook_request, medication, ordered, run
from tests.conftest import NOW


def _overrides(tmp_path: Path, statuses: str) -> Path:
    path = tmp_path / "overrides.yaml"
    path.write_text(f"site: Example Hospital P&T committee\nstatuses:\n{statuses}", encoding="utf-8")
    return path


def _sertraline(status: str) -> dict:
    return hook_request(ordered("esketamine"), medications=[medication(text="sertraline 50 mg", status=status)])


def test_the_release_classes_every_status_fhir_r4_defines(knowledge):
    for kind, elements in ELEMENTS.items():
        for name, element in elements.items():
            classes = knowledge.statuses.classes[f"{kind}.{name}"]
            assert set(classes) == set(element.codes), f"{kind}.{name}"
            assert set(classes.values()) <= set(element.classes), f"{kind}.{name}"
            assert classes.get("entered-in-error", "excluded") == "excluded", f"{kind}.{name}"


def test_a_site_may_reclassify_a_status_and_the_prefetch_follows(knowledge, tmp_path):
    path = _overrides(tmp_path, "  MedicationRequest:\n    status: {on-hold: excluded}\n")
    site = apply_overrides(knowledge, path)
    assert advice_by_rule(run(_sertraline("on-hold"), knowledge, NOW)) == {"ssri": "monitor"}
    assert run(_sertraline("on-hold"), site, NOW) == []
    assert advice_by_rule(run(_sertraline("active"), site, NOW)) == {"ssri": "monitor"}
    sign = definitions(site).by_id("ketamine-order-sign").prefetch
    assert sign["medicationRequests"] == (
        "MedicationRequest?patient={{context.patientId}}&status=active,unknown,stopped,completed")
    assert definitions(knowledge).by_id("ketamine-order-sign").prefetch["medicationStatements"] == (
        sign["medicationStatements"])


def test_a_reclassified_status_keeps_its_place_in_the_prefetch(knowledge, tmp_path):
    site = apply_overrides(knowledge, _overrides(tmp_path, "  MedicationStatement:\n    status: {active: ended}\n"))
    assert site.statuses.classes["MedicationStatement.status"]["active"] == "ended"
    assert definitions(site).by_id("ketamine-order-select").prefetch["medicationStatements"] == (
        definitions(knowledge).by_id("ketamine-order-select").prefetch["medicationStatements"])


def test_discovery_lists_the_sites_prefetch(tmp_path):
    path = _overrides(tmp_path, "  Observation:\n    status: {preliminary: counted}\n")
    app = create_app(Settings(database_url=f"sqlite:///{tmp_path}/cds.sqlite3", knowledge_overrides=path))
    services = app.test_client().get("/cds-services").get_json()["services"]
    assert {service["prefetch"]["bloodPressure"].split("&status=")[1] for service in services} == {
        "final,amended,corrected,preliminary&_sort=-date"}


NEVER = "a record entered in error never counts"


@pytest.mark.parametrize(
    ("statuses", "field", "words"),
    [
        ("  MedicationRequest:\n    status: {entered-in-error: current}\n",
         "statuses.MedicationRequest.status.entered-in-error", NEVER),
        ("  MedicationDispense:\n    status: {entered-in-error: ended}\n",
         "statuses.MedicationDispense.status.entered-in-error", NEVER),
        ("  Observation:\n    status: {entered-in-error: counted}\n", "statuses.Observation.status.entered-in-error",
         NEVER),
        ("  Condition:\n    verificationStatus: {entered-in-error: counted}\n",
         "statuses.Condition.verificationStatus.entered-in-error", NEVER),
        ("  draft_orders_excluded: [cancelled]\n", "statuses.draft_orders_excluded", NEVER),
        ("  planned_orders: [active, entered-in-error]\n", "statuses.planned_orders", NEVER),
        ("  MedicationRequest:\n    status: {on-hold: paused}\n", "statuses.MedicationRequest.status.on-hold.value",
         "Must be one of: current, ended, excluded"),
        ("  MedicationRequest:\n    status: {taking: current}\n", "statuses.MedicationRequest.status.taking.key",
         "Must be one of: active"),
        ("  Condition:\n    clinicalStatus: {resolved: ended}\n", "statuses.Condition.clinicalStatus.resolved.value",
         "Must be one of: active, past"),
        ("  Encounter:\n    status: {finished: ended}\n", "statuses.Encounter", "Unknown field"),
    ],
)
def test_a_site_cannot_make_a_record_entered_in_error_count_nor_class_outside_fhir(knowledge, tmp_path, statuses,
                                                                                   field, words):
    with pytest.raises(KnowledgeError) as raised:
        apply_overrides(knowledge, _overrides(tmp_path, statuses))
    assert raised.value.field == field
    assert words in str(raised.value)


@pytest.mark.parametrize(
    ("change", "field", "words"),
    [
        (lambda data: data["MedicationRequest"]["status"].pop("draft"), "MedicationRequest.status",
         "'draft' has none"),
        (lambda data: data["AllergyIntolerance"]["verificationStatus"].__setitem__("entered-in-error", "counted"),
         "AllergyIntolerance.verificationStatus.entered-in-error", "never counts"),
        (lambda data: data.pop("Observation"), "Observation", "Missing data"),
    ],
)
def test_a_release_that_leaves_a_status_unclassed_or_counts_one_in_error_stops_loading(data_dir, change, field,
                                                                                        words):
    edit_yaml(data_dir / "statuses.yaml", change)
    with pytest.raises(KnowledgeError) as raised:
        load_knowledge(data_dir)
    assert raised.value.file.endswith("statuses.yaml") and raised.value.field == field
    assert words in str(raised.value)
