import json

from service.cli import main
from tests.conftest import FIXTURES


def test_check_prints_the_cards_of_a_fixture(capsys):
    assert main(["check", str(FIXTURES / "order-sign-esketamine-maoi.json")]) == 0
    out = capsys.readouterr().out
    assert "[CRITICAL] Avoid esketamine with Nardil (phenelzine)" in out
    assert "Suggestion: Cancel the esketamine order" in out


def test_check_prints_json_and_honours_now_for_washout_windows(capsys):
    path = str(FIXTURES / "order-select-ketamine-maoi-washout.json")
    assert main(["check", path, "--format", "json", "--now", "2026-11-21T12:00:00+00:00"]) == 0
    assert len(json.loads(capsys.readouterr().out)["cards"]) == 1
    assert main(["check", path, "--format", "json", "--now", "2027-01-15T12:00:00+00:00"]) == 0
    assert json.loads(capsys.readouterr().out)["cards"] == []


def test_check_shows_text_as_a_markdown_renderer_would_and_json_as_the_service_sends_it(capsys):
    path = str(FIXTURES / "order-sign-ketamine-benzodiazepine.json")
    assert main(["check", path, "--now", "2026-11-21T12:00:00+00:00"]) == 0
    out = capsys.readouterr().out
    assert "With: alprazolam 0.5 MG Oral Tablet [Xanax]." in out
    assert "\\" not in out and "**" not in out
    assert main(["check", path, "--format", "json", "--now", "2026-11-21T12:00:00+00:00"]) == 0
    detail = json.loads(capsys.readouterr().out)["cards"][0]["detail"]
    assert "**With:** alprazolam 0\\.5 MG Oral Tablet \\[Xanax\\]." in detail


def test_check_runs_a_patient_view_request_without_suggesting_to_cancel(capsys):
    assert main(["check", str(FIXTURES / "patient-view-esketamine-maoi.json")]) == 0
    out = capsys.readouterr().out
    assert "[CRITICAL] Avoid esketamine with Nardil (phenelzine)" in out
    assert "Review the active esketamine order" in out and "Suggestion" not in out


def test_check_says_when_there_is_nothing_to_advise(capsys):
    assert main(["check", str(FIXTURES / "order-sign-non-ketamine.json")]) == 0
    assert "No cards" in capsys.readouterr().out


def test_check_reports_an_unreadable_file_without_a_traceback(tmp_path, capsys):
    bad = tmp_path / "bad.json"
    bad.write_text("{")
    assert main(["check", str(bad)]) == 2
    assert "cannot be read as JSON" in capsys.readouterr().err


def test_check_reports_an_invalid_request(tmp_path, capsys):
    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps({"hook": "order-sign", "hookInstance": "x"}))
    assert main(["check", str(bad)]) == 2
    assert "context" in capsys.readouterr().err
