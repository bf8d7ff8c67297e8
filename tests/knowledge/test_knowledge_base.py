"""The knowledge files hang together, follow the PDDI model, are versioned, and refuse bad edits and overrides."""

from __future__ import annotations

import csv
import re
import shutil
from pathlib import Path
from urllib.parse import urlsplit

import pytest
import yaml

from cds_hooks.errors import KnowledgeError
from cds_hooks.knowledge import DATA_DIR, apply_overrides, load_knowledge
from cds_hooks.knowledge.vocabulary import ORDERED_DRUGS
from service import create_app
from service.config import ConfigError, Settings
from tests.builders import advice_by_rule, hook_request, medication, ordered, run
from tests.conftest import NOW


@pytest.fixture
def data_copy(tmp_path) -> Path:
    """A writable copy of the packaged knowledge base."""
    return Path(shutil.copytree(DATA_DIR, tmp_path / "data"))


def _edit_yaml(path: Path, change) -> None:
    data = yaml.safe_load(path.read_text(encoding="utf-8"))
    change(data)
    path.write_text(yaml.safe_dump(data, sort_keys=False), encoding="utf-8")


def test_every_rule_states_the_pddi_minimal_information(knowledge):
    for rule in knowledge.rules:
        assert set(rule.advice) == set(ORDERED_DRUGS), rule.id
        for field in ("consequence", "seriousness", "mechanism", "summary"):
            assert getattr(rule, field).strip(), f"{rule.id}: {field}"
        for drug, advice in rule.advice.items():
            if advice != "none":
                assert knowledge.text(rule, advice).action.strip(), f"{rule.id}: {drug}"
        assert rule.evidence.grade and rule.evidence.summary, rule.id
        assert rule.citations, rule.id
        if rule.kind == "blood-pressure":
            assert rule.blood_pressure is not None and not rule.valueset, rule.id
            continue
        if rule.kind == "order":
            assert rule.limit is not None and not rule.valueset, rule.id
            continue
        valuesets = knowledge.condition_valuesets if rule.kind == "condition" else knowledge.drug_valuesets
        valueset = valuesets[rule.valueset]
        assert valueset.version and valueset.source, rule.id


def test_order_rules_cite_the_label_and_give_ketamine_no_advice(knowledge):
    order_rules = [rule for rule in knowledge.rules if rule.kind == "order"]
    assert {rule.limit.check for rule in order_rules} == {"dose", "frequency", "setting", "first-dose-by-age"}
    for rule in order_rules:
        assert rule.advice["ketamine"] == "none", rule.id
        assert rule.evidence.grade == "label" and '"' in rule.evidence.summary, rule.id
        assert any(citation.kind in {"label", "guidance"} and citation.url for citation in rule.citations), rule.id
    assert [rule.id for rule in order_rules if not rule.enabled] == ["esketamine-older-adult-start"]


def test_every_value_set_is_used_by_a_rule_or_the_serotonin_watch(knowledge):
    used = {rule.valueset for rule in knowledge.rules if rule.valueset} | {knowledge.serotonin_watch.valueset}
    assert used == set(knowledge.drug_valuesets) | set(knowledge.condition_valuesets)


def test_weak_evidence_is_stated_as_weak_in_its_summary(knowledge):
    for rule in knowledge.rules:
        if rule.evidence.weak and rule.advice != {"ketamine": "none", "esketamine": "none"}:
            assert "weak" in rule.evidence.summary.lower(), rule.id


def test_stricter_than_label_rules_say_so(knowledge):
    for rule_id in ("maoi", "linezolid-methylene-blue", "theophylline", "benzodiazepines"):
        rule = knowledge.rule(rule_id)
        assert any(rule.texts[advice].label for advice in rule.advice.values() if advice != "none"), rule_id


_NON_PUBLIC_LABEL = re.compile(r"dev|^(sit|uat|qa|test|staging|stage|preprod)\d*$")
"""A host label that marks a staging or test site (``sit.``, ``uat.``, ``dev2.``, ``mimsdev``)."""
_COMPENDIA = ("pdr.net", "rxreasoner.com")


def citation_url_problem(kind: str, url: str | None) -> str | None:
    """Why a citation's link is not fit for a card, or None: https, a public host, and for papers a DOI or PubMed."""
    if url is None:
        return None if kind == "project" else "no link"
    parts = urlsplit(url)
    if parts.scheme != "https":
        return "not https"
    host = (parts.hostname or "").lower()
    if any(_NON_PUBLIC_LABEL.search(label) for label in host.split(".")[:-1]):
        return "staging or test host"
    if kind == "paper" and not (
        (host == "doi.org" and parts.path.startswith("/10."))
        or host == "pubmed.ncbi.nlm.nih.gov"
        or (host == "www.ncbi.nlm.nih.gov" and parts.path.startswith("/pubmed"))
    ):
        return "paper without a DOI or PubMed link"
    if kind != "compendium" and any(host == name or host.endswith("." + name) for name in _COMPENDIA):
        return "a compendium not marked as one"
    return None


@pytest.mark.parametrize(
    ("kind", "url", "problem"),
    [
        ("label", "https://sit.mimsdev.com/philippines/drug/info/ketamax/drug-interactions", "staging or test host"),
        ("paper", "https://dev2.psychiatrist.com/jcp/ketamine", "staging or test host"),
        ("label", "https://uat.example.org/label", "staging or test host"),
        ("label", "http://dailymed.nlm.nih.gov/dailymed/drugInfo.cfm?setid=x", "not https"),
        ("paper", "https://scholars.duke.edu/display/pub1303721", "paper without a DOI or PubMed link"),
        ("paper", None, "no link"),
        ("label", "https://physician.pdr.net/drug-summary/Ketalar", "a compendium not marked as one"),
        ("paper", "https://doi.org/10.1038/clpt.2011.140", None),
        ("paper", "https://pubmed.ncbi.nlm.nih.gov/19897389/", None),
        ("compendium", "https://physician.pdr.net/drug-summary/Ketalar", None),
        ("project", None, None),
    ],
)
def test_the_citation_check_tells_what_is_wrong(kind, url, problem):
    assert citation_url_problem(kind, url) == problem


def test_every_citation_link_is_https_public_and_papers_have_a_doi_or_pubmed_link(knowledge):
    problems = {
        key: problem
        for key, citation in knowledge.citations.items()
        if (problem := citation_url_problem(citation.kind, citation.url))
    }
    assert problems == {}


def test_the_changelog_has_an_entry_for_the_current_version(knowledge):
    changelog = (DATA_DIR / "CHANGELOG.md").read_text(encoding="utf-8")
    versions = re.findall(r"^## (\d+\.\d+\.\d+) \(", changelog, re.MULTILINE)
    assert versions[0] == knowledge.version
    assert len(versions) == len(set(versions))


def test_every_code_row_names_its_source_and_a_known_term_type():
    with (DATA_DIR / "terminology" / "rxnorm.csv").open(encoding="utf-8", newline="") as handle:
        rows = list(csv.DictReader(handle))
    assert len({row["rxcui"] for row in rows}) == len(rows)
    for row in rows:
        assert row["tty"] in {"IN", "PIN", "MIN", "SCD", "SBD", "SCDF", "SBDF", "GPCK", "BPCK"}, row["rxcui"]
        assert row["source"].strip(), row["rxcui"]
        assert re.search(r"\[(good|high|moderate|doubtful)\]", row["source"], re.IGNORECASE), row["rxcui"]


def test_a_look_alike_names_no_ingredient_and_every_other_synonym_names_one():
    with (DATA_DIR / "terminology" / "synonyms.csv").open(encoding="utf-8", newline="") as handle:
        for row in csv.DictReader(handle):
            assert bool(row["ingredients"]) != row["kind"].startswith("look-alike"), row["term"]


@pytest.mark.parametrize(
    ("file", "change", "message"),
    [
        ("rules/maoi.yaml", lambda d: d.pop("mechanism"), "mechanism: Missing data for required field."),
        ("rules/maoi.yaml", lambda d: d["advice"].update(esketamine="block"), "advice"),
        ("rules/maoi.yaml", lambda d: d["advice"].pop("ketamine"), "advice is missing for ketamine"),
        ("rules/maoi.yaml", lambda d: d.update(valueset="no-such-set"), "unknown medication value set"),
        ("rules/maoi.yaml", lambda d: d.update(citations=["no-such-citation"]), "unknown citation"),
        ("rules/maoi.yaml", lambda d: d.update(washout={"days": 14, "hours": 2}), "give exactly one of days or hours"),
        (
            "rules/benzodiazepines.yaml",
            lambda d: d["modifiers"][1]["when"].update(comedication_ingredients=["clobazepam"]),
            "unknown ingredient",
        ),
        ("rules/nasal-products.yaml", lambda d: d.update(comedication_routes=["nasally"]), "comedication_routes"),
        ("rules/ssri.yaml", lambda d: d.update(id="maoi"), "'maoi' is used twice"),
    ],
)
def test_a_bad_rule_file_stops_loading_with_file_and_field(data_copy, file, change, message):
    _edit_yaml(data_copy / file, change)
    with pytest.raises(KnowledgeError) as error:
        load_knowledge(data_copy)
    assert Path(error.value.file).name in {Path(file).name, "rules"}
    assert message in error.value.message


def test_a_value_set_member_no_table_knows_stops_loading(data_copy):
    _edit_yaml(data_copy / "valuesets" / "medications.yaml", lambda d: d[0]["ingredients"].append("phenelzyne"))
    with pytest.raises(KnowledgeError, match="'phenelzyne' is neither in the code table nor in the synonyms"):
        load_knowledge(data_copy)


@pytest.mark.parametrize(
    ("table", "row", "message"),
    [
        ("synonyms.csv", "zzbrand,sertraline,brand,ocular", "unknown route 'ocular'"),
        ("synonyms.csv", "zzbrand,,brand,", "none only for a look-alike"),
        ("rxnorm.csv", "8123,IN,phenelzine,phenelzine,again [good]", "'8123' is used twice"),
        ("rxnorm.csv", "81x23,IN,phenelzine,phenelzine,typo [good]", "rxcui must be digits"),
    ],
)
def test_a_bad_terminology_row_stops_loading(data_copy, table, row, message):
    path = data_copy / "terminology" / table
    path.write_text(path.read_text(encoding="utf-8") + row + "\n", encoding="utf-8")
    with pytest.raises(KnowledgeError, match=message):
        load_knowledge(data_copy)


# Site overrides


def _overrides(tmp_path, text: str) -> Path:
    path = tmp_path / "overrides.yaml"
    path.write_text(text, encoding="utf-8")
    return path


def _maoi_esketamine(kb):
    body = hook_request(ordered("esketamine"), medications=[medication(text="rasagiline 1 mg tablet")])
    return run(body, kb, NOW)


APPROVAL = ("    approved_by: P&T committee (chair J. Rivera)\n    approved_on: 2026-11-30\n"
            "    reason: Minutes 2026-11 item 4\n")
OK = ", approved_by: P, approved_on: 2026-11-30, reason: R"
"""The approval every override entry needs, in flow style."""


def test_a_site_can_change_a_rules_advice_and_the_card_says_so(knowledge, tmp_path):
    path = _overrides(
        tmp_path,
        """
site: Example Hospital P&T committee
rules:
  maoi:
    advice: {esketamine: hold}
    note: MAO-B inhibitors at Parkinson's doses are given under the blood-pressure protocol.
"""
        + APPROVAL,
    )
    kb = apply_overrides(knowledge, path)
    (card,) = _maoi_esketamine(kb)
    assert card["summary"].startswith("Hold esketamine with rasagiline")
    assert "**Site policy:** MAO-B inhibitors" in card["detail"]
    assert kb.rule("maoi").advice == {"ketamine": "avoid", "esketamine": "hold"}
    assert knowledge.rule("maoi").advice["esketamine"] == "avoid"
    entry = kb.overrides["maoi"]
    assert (entry.approved_by, entry.approved_on, entry.reason) == (
        "P&T committee (chair J. Rivera)", "2026-11-30", "Minutes 2026-11 item 4")
    assert entry.describe() == "esketamine hold"


def test_a_site_can_switch_a_rule_off_and_the_entry_is_kept(knowledge, tmp_path):
    kb = apply_overrides(knowledge, _overrides(tmp_path, "site: X\nrules:\n  ssri:\n    enabled: false\n" + APPROVAL))
    body = hook_request(ordered("esketamine"), medications=[medication(text="sertraline 50 mg tablet")])
    assert kb.rule("ssri") is None and run(body, kb, NOW) == []
    assert advice_by_rule(run(body, knowledge, NOW)) == {"ssri": "monitor"}
    assert kb.overrides["ssri"].describe() == "switched off"


ABSOLUTE = ["maoi", "linezolid-methylene-blue", "mdma", "aneurysmal-vascular-disease",
            "arteriovenous-malformation", "intracerebral-haemorrhage", "ketamine-allergy"]


def test_the_knowledge_base_marks_the_absolute_contraindications(knowledge):
    assert sorted(rule.id for rule in knowledge.rules if rule.absolute_contraindication) == sorted(ABSOLUTE)


@pytest.mark.parametrize("rule", ABSOLUTE)
@pytest.mark.parametrize(("change", "field", "words"), [
    ("enabled: false", "enabled", "may not switch it off"),
    ("advice: {ketamine: monitor}", "advice.ketamine", "below hold (to monitor)"),
    ("advice: {esketamine: none}", "advice.esketamine", "below hold (to none)"),
])
def test_an_absolute_contraindication_cannot_be_switched_off_or_lowered(knowledge, tmp_path, rule, change, field,
                                                                       words):
    path = _overrides(tmp_path, f"site: X\nrules:\n  {rule}:\n    {change}\n" + APPROVAL)
    with pytest.raises(KnowledgeError) as raised:
        apply_overrides(knowledge, path)
    assert raised.value.field == f"rules.{rule}.{field}"
    assert f"rule {rule!r}" in str(raised.value) and "absolute contraindication" in str(raised.value)
    assert words in str(raised.value)


@pytest.mark.parametrize("missing", ["approved_by", "approved_on", "reason"])
def test_every_override_entry_must_say_who_approved_it_when_and_why(knowledge, tmp_path, missing):
    entry = "".join(line + "\n" for line in APPROVAL.splitlines() if not line.strip().startswith(missing))
    path = _overrides(tmp_path, "site: X\nrules:\n  ssri:\n    enabled: false\n" + entry)
    with pytest.raises(KnowledgeError) as raised:
        apply_overrides(knowledge, path)
    assert raised.value.field == f"rules.ssri.{missing}"


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("site: X\nrules:\n  maio: {enabled: false" + OK + "}\n", "no rule has the id 'maio'"),
        ("site: X\nrules:\n  maoi: {advice: {esketamine: allow}" + OK + "}\n", "advice"),
        ("site: X\nrules:\n  maoi: {advice: {arketamine: monitor}" + OK + "}\n", "advice"),
        ("site: X\nrules:\n  maoi: {disabled: true" + OK + "}\n", "Unknown field"),
        ("rules:\n  ssri: {enabled: false" + OK + "}\n", "site: Missing data for required field."),
        ("site: X\nrules: [maoi]\n", "rules"),
        ("site: [unclosed\n", "is not valid YAML"),
    ],
)
def test_a_bad_override_file_is_refused_with_a_message(knowledge, tmp_path, text, message):
    path = _overrides(tmp_path, text)
    with pytest.raises(KnowledgeError) as error:
        apply_overrides(knowledge, path)
    assert message in error.value.message
    assert str(path) in error.value.message


def test_the_guides_override_example_is_a_valid_override_file(knowledge, tmp_path):
    guide = (Path(__file__).resolve().parents[2] / "docs" / "knowledge.md").read_text(encoding="utf-8")
    example = guide.split("## Site overrides", 1)[1].split("```yaml\n", 1)[1].split("```", 1)[0]
    kb = apply_overrides(knowledge, _overrides(tmp_path, example))
    assert kb.rule("benzodiazepines").advice["esketamine"] == "monitor"
    assert kb.rule("thyroid-hormones") is None
    assert kb.statuses.classes["MedicationRequest.status"]["on-hold"] == "ended"


def test_a_bad_override_file_stops_the_service_at_start_up(tmp_path):
    path = _overrides(tmp_path, "site: X\nrules:\n  maio: {enabled: false" + OK + "}\n")
    with pytest.raises(KnowledgeError, match="maio"):
        create_app(Settings(knowledge_overrides=path))


def test_an_override_file_that_does_not_exist_is_a_configuration_error(tmp_path):
    with pytest.raises(ConfigError, match="CDS_KNOWLEDGE_OVERRIDES"):
        Settings.from_env({"CDS_KNOWLEDGE_OVERRIDES": str(tmp_path / "missing.yaml")})


def test_a_route_word_that_is_no_regular_expression_stops_loading(tmp_path):
    data = tmp_path / "data"
    shutil.copytree(DATA_DIR, data)
    manifest = data / "manifest.yaml"
    manifest.write_text(manifest.read_text(encoding="utf-8").replace(r"'\bnose\b'", "'(nose'"), encoding="utf-8")
    with pytest.raises(KnowledgeError) as raised:
        load_knowledge(data)
    assert "route_words.nasal" in str(raised.value.field) and "regular expression" in str(raised.value)


def test_weak_grades_are_the_manifests(knowledge):
    weak = {rule.evidence.grade for rule in knowledge.rules if rule.evidence.weak}
    assert weak and weak <= {"weak", "conflicting", "policy"}
    assert all(not rule.evidence.weak for rule in knowledge.rules if rule.evidence.grade == "label")
