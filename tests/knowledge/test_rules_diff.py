"""`ketamine-cds rules --diff OLD_DIR`: what a release changes, with the site's overridden rules flagged."""

from __future__ import annotations

from cds_hooks.knowledge import DATA_DIR, load_knowledge
from cds_hooks.knowledge.diff import knowledge_diff
from service.cli import main
from tests.builders import edit_yaml as edit


def release(data_dir):
    edit(data_dir / "rules" / "ssri.yaml", lambda rule: rule["advice"].__setitem__("esketamine", "hold"))
    edit(data_dir / "rules" / "maoi.yaml",
         lambda rule: rule["texts"]["avoid"].__setitem__("timing", "Wait 21 days."))
    (data_dir / "rules" / "thyroid-hormones.yaml").unlink()

    def drop_member(sets):
        next(s for s in sets if s["id"] == "maoi")["ingredients"].remove("moclobemide")

    edit(data_dir / "valuesets" / "medications.yaml", drop_member)


def test_the_diff_names_each_changed_part_of_each_rule(data_dir):
    release(data_dir)
    changes = knowledge_diff(load_knowledge(), load_knowledge(data_dir))
    assert {(change.rule, change.what) for change in changes} == {
        ("ssri", "advice.esketamine"), ("maoi", "texts.avoid.timing"), ("maoi", "members"),
        ("thyroid-hormones", "removed")}
    members = next(change for change in changes if change.what == "members")
    assert members.detail == "-moclobemide"
    assert next(c for c in changes if c.rule == "ssri").detail == "monitor -> hold"


def test_the_command_flags_the_changes_that_touch_an_overridden_rule(data_dir, tmp_path, monkeypatch, capsys):
    release(data_dir)
    site = tmp_path / "site.yaml"
    site.write_text("site: X\nrules:\n  ssri:\n    advice: {ketamine: none}\n    approved_by: P&T\n"
                    "    approved_on: 2026-11-30\n    reason: minutes\n")
    monkeypatch.setenv("CDS_KNOWLEDGE_DIR", str(data_dir))
    monkeypatch.setenv("CDS_KNOWLEDGE_OVERRIDES", str(site))
    assert main(["rules", "--diff", str(DATA_DIR)]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0].endswith(": 4 change(s)")
    assert "ssri: advice.esketamine: monitor -> hold  [site override: ketamine none]" in lines
    assert next(line for line in lines if line.startswith("maoi: texts.avoid.timing")).count("[site override") == 0
    assert lines[-1] == "Review the site overrides of: ssri"


def test_the_same_release_has_no_changes_and_a_missing_folder_is_refused(tmp_path, capsys):
    assert main(["rules", "--diff", str(DATA_DIR)]) == 0
    assert capsys.readouterr().out.splitlines() == [f"Knowledge base {load_knowledge().version} -> "
                                                    f"{load_knowledge().version}: 0 change(s)"]
    assert main(["rules", "--diff", str(tmp_path / "nowhere")]) == 2
    assert "not a folder" in capsys.readouterr().err


def test_an_order_rule_changed_in_its_limit_or_its_default_is_named(data_dir):
    allowed = [28, 56, 84]
    edit(data_dir / "rules" / "esketamine-dose.yaml", lambda rule: rule["limit"].__setitem__("allowed_mg", allowed))
    edit(data_dir / "rules" / "esketamine-older-adult-start.yaml", lambda rule: rule.__setitem__("enabled", True))
    changes = knowledge_diff(load_knowledge(), load_knowledge(data_dir))
    assert {(change.rule, change.what) for change in changes} == {
        ("esketamine-dose", "limit"), ("esketamine-older-adult-start", "enabled")}
    limit = next(change for change in changes if change.what == "limit")
    assert "28" not in limit.detail.split(" -> ")[0] and "28" in limit.detail.split(" -> ")[1]
