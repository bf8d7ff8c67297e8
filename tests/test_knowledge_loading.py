"""The knowledge base is checked at start-up: a bad file stops the app with a message naming file and field."""

import shutil

import pytest

from cds_hooks.errors import KnowledgeError
from cds_hooks.knowledge import load_knowledge
from service import create_app
from service.config import Settings
from tests.builders import edit_yaml


def test_the_packaged_knowledge_base_loads_with_a_version_and_every_rule_cited(knowledge):
    assert knowledge.version.count(".") == 2
    assert knowledge.rules
    for rule in knowledge.rules:
        assert rule.citations and rule.evidence.summary and rule.mechanism
        assert rule.texts or set(rule.advice.values()) == {"none"}, rule.id


@pytest.mark.parametrize(
    ("file", "change", "field"),
    [
        ("rules/maoi.yaml", lambda d: d.pop("mechanism"), "mechanism"),
        ("rules/maoi.yaml", lambda d: d["advice"].__setitem__("esketamine", "never"),
         "advice.esketamine.value"),
        ("rules/maoi.yaml", lambda d: d["advice"].pop("ketamine"), "advice"),
        ("rules/maoi.yaml", lambda d: d.__setitem__("valueset", "no-such-set"), "valueset"),
        ("rules/maoi.yaml", lambda d: d.__setitem__("citations", ["nobody-2020"]), "citations.0"),
        ("rules/maoi.yaml", lambda d: d.__setitem__("washout", {"days": 14, "hours": 3}), "washout.days"),
        ("rules/maoi.yaml", lambda d: d.__setitem__("extra", 1), "extra"),
        ("rules/maoi.yaml", lambda d: d.__setitem__("summary", "x" * 80), "summary"),
        ("rules/benzodiazepines.yaml", lambda d: d["modifiers"][0]["when"].__setitem__("ordered_context", "x"),
         "modifiers.0.when.ordered_context"),
        ("valuesets/medications.yaml", lambda d: d[0]["ingredients"].append("unobtainium"), "0.ingredients"),
        ("rules/blood-pressure-severe.yaml", lambda d: d.pop("blood_pressure"), "blood_pressure"),
        ("rules/blood-pressure-severe.yaml", lambda d: d.__setitem__("valueset", "maoi"), "valueset"),
        ("rules/blood-pressure-raised.yaml",
         lambda d: d["texts"]["monitor"].__setitem__("action", "Recheck above {start_mg}."), "texts.monitor.action"),
        ("rules/ketamine-allergy.yaml", lambda d: d.pop("valueset"), "valueset"),
        ("rules/blood-pressure-raised.yaml", lambda d: d.__setitem__("supersedes", ["no-such-rule"]), "supersedes.0"),
        ("rules/blood-pressure-raised.yaml", lambda d: d.__setitem__("supersedes", ["blood-pressure-raised"]),
         "supersedes.0"),
        ("rules/ketamine-allergy.yaml", lambda d: d.__setitem__("summary", "allergy to {drug}"), "summary"),
        ("rules/blood-pressure-severe.yaml", lambda d: d.__setitem__("summary", "{ingredients} high"), "summary"),
        ("rules/ketamine-allergy.yaml", lambda d: d.__setitem__("blood_pressure", {"above": {"systolic": 1,
                                                                                              "diastolic": 1}}),
         "blood_pressure"),
        ("manifest.yaml", lambda d: d.pop("blood_pressure"), "blood_pressure"),
        ("manifest.yaml", lambda d: d.__setitem__("dispense_default_supply_days", 0), "dispense_default_supply_days"),
        ("manifest.yaml", lambda d: d.__setitem__("version", "new"), "version"),
        ("manifest.yaml", lambda d: d.pop("anaesthesia_negation"), "anaesthesia_negation"),
        ("manifest.yaml", lambda d: d["anaesthesia_negation"]["words"].insert(1, False),
         "anaesthesia_negation.words.1"),
        ("manifest.yaml", lambda d: d["anaesthesia_negation"].__setitem__("reach", 40), "anaesthesia_negation.reach"),
        ("manifest.yaml", lambda d: d["family_history"]["snomed"].insert(0, "Z82"), "family_history.snomed.0"),
        ("manifest.yaml", lambda d: d["citations"]["spravato-pi"].__setitem__("url", "not a url"),
         "citations.spravato-pi.value.url"),
    ],
)
def test_a_bad_knowledge_file_stops_loading_naming_file_and_field(data_dir, file, change, field):
    edit_yaml(data_dir / file, change)
    with pytest.raises(KnowledgeError) as raised:
        load_knowledge(data_dir)
    assert raised.value.file.endswith(file)
    assert raised.value.field == field
    assert file.split("/")[-1] in str(raised.value) and field in str(raised.value)


def test_a_superseded_rule_that_supersedes_others_stops_loading(data_dir):
    edit_yaml(data_dir / "rules/hypertension.yaml", lambda d: d.__setitem__("supersedes", ["pregnancy"]))
    with pytest.raises(KnowledgeError) as raised:
        load_knowledge(data_dir)
    assert raised.value.file.endswith("blood-pressure-raised.yaml") and raised.value.field == "supersedes.0"
    assert "'hypertension' supersedes rules itself" in str(raised.value)


def test_two_rules_with_one_id_stop_loading(data_dir):
    shutil.copy(data_dir / "rules/maoi.yaml", data_dir / "rules/maoi-copy.yaml")
    with pytest.raises(KnowledgeError, match="used twice"):
        load_knowledge(data_dir)


def test_a_file_that_is_not_yaml_stops_loading(data_dir):
    (data_dir / "rules/maoi.yaml").write_text("id: [unclosed")
    with pytest.raises(KnowledgeError, match="not valid YAML"):
        load_knowledge(data_dir)


def test_a_bad_code_table_row_stops_loading(data_dir):
    with (data_dir / "terminology/rxnorm.csv").open("a") as table:
        table.write("12ab,SCD,broken row,sertraline,test\n")
    with pytest.raises(KnowledgeError, match="rxcui must be digits"):
        load_knowledge(data_dir)


def test_the_app_does_not_start_on_a_bad_knowledge_base(data_dir):
    edit_yaml(data_dir / "rules/maoi.yaml", lambda d: d.pop("advice"))
    with pytest.raises(KnowledgeError, match="advice"):
        create_app(Settings(knowledge_dir=data_dir))


def test_a_site_can_switch_a_rule_off_or_change_its_advice(tmp_path, fixture):
    overrides = tmp_path / "site.yaml"
    overrides.write_text(
        "site: Example Health\n"
        "rules:\n"
        "  maoi:\n    advice: {esketamine: hold}\n    note: P&T decision 2026-10\n"
        "    approved_by: P&T committee\n    approved_on: 2026-10-14\n    reason: minutes item 3\n"
        "  ssri:\n    enabled: false\n"
        "    approved_by: P&T committee\n    approved_on: 2026-10-14\n    reason: minutes item 4\n"
    )
    client = create_app(Settings(knowledge_overrides=overrides)).test_client()
    cards = client.post("/cds-services/ketamine-order-sign", json=fixture("order-sign-esketamine-maoi")).get_json()
    assert [card["summary"].split()[0] for card in cards["cards"]] == ["Hold"]
    assert "P&T decision 2026-10" in cards["cards"][0]["detail"]


def test_an_override_naming_an_unknown_rule_stops_start_up(tmp_path):
    overrides = tmp_path / "site.yaml"
    overrides.write_text("site: Example\nrules:\n  no-such-rule:\n    enabled: false\n    approved_by: P&T\n"
                         "    approved_on: 2026-10-14\n    reason: minutes\n")
    with pytest.raises(KnowledgeError) as raised:
        create_app(Settings(knowledge_overrides=overrides))
    assert raised.value.field == "rules.no-such-rule"


def test_the_words_that_negate_anaesthetic_use_are_the_manifests(data_dir):
    from cds_hooks.engine import find_ordered_drugs
    from cds_hooks.medications import MedicationIndex, read_medication
    from tests.builders import medication

    order = medication(text="ketamine 50 mg/mL injection", dosage_text="without anaesthesia, for depression")
    packaged = load_knowledge(data_dir)
    edit_yaml(data_dir / "manifest.yaml", lambda d: d["anaesthesia_negation"].__setitem__("words", ["not"]))
    edited = load_knowledge(data_dir)

    def anaesthetic(kb):
        fact = read_medication(order, kb.terminology, MedicationIndex(), kb.statuses, draft=True)
        return [drug.anaesthesia for drug in find_ordered_drugs([fact], kb)]

    assert anaesthetic(packaged) == [False]
    assert anaesthetic(edited) == [True]


def test_start_up_logs_each_active_override_with_its_approval(tmp_path, caplog):
    overrides = tmp_path / "site.yaml"
    overrides.write_text("site: Example\nrules:\n  ssri:\n    enabled: false\n    approved_by: P&T committee\n"
                         "    approved_on: 2026-10-14\n    reason: minutes item 4\n")
    with caplog.at_level("INFO", logger="service.runtime"):
        create_app(Settings(knowledge_overrides=overrides))
    (line,) = [record.getMessage() for record in caplog.records if record.name == "service.runtime"]
    assert line == "site override of rule ssri: switched off (approved by P&T committee on 2026-10-14: minutes item 4)"


def test_start_up_refuses_an_override_that_switches_off_an_absolute_contraindication(tmp_path):
    overrides = tmp_path / "site.yaml"
    overrides.write_text("site: Example\nrules:\n  maoi:\n    enabled: false\n    approved_by: P&T committee\n"
                         "    approved_on: 2026-10-14\n    reason: minutes item 4\n")
    with pytest.raises(KnowledgeError, match=r"rule 'maoi' .* is an absolute contraindication"):
        create_app(Settings(knowledge_overrides=overrides))
