"""The feedback report: accept and override rates per rule and per override reason, from the CLI as well."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import pytest

from cds_hooks.feedback import CardOrigin, Feedback, OverrideReason
from service.cli import main
from service.storage.database import Database
from service.storage.records import issued_rows, save_feedback, save_issued
from service.storage.report import UNKNOWN_RULE, feedback_report, weekly_counts

T0 = datetime(2026, 11, 21, 12, 0, tzinfo=UTC)
INTERACTION = OverrideReason("https://ketamine-cds.org/override", "benefit-outweighs-risk", "Benefit outweighs risk")


@pytest.fixture
def database(database_url):
    database = Database(database_url)
    save_issued(database, issued_rows("ketamine-order-sign", "hook-1", None, [
        CardOrigin("a1", "2026.1", "maoi", "avoid"),
        CardOrigin("a2", "2026.1", "maoi", "avoid"),
        CardOrigin("a3", "2026.1", "maoi", "avoid"),
        CardOrigin("b1", "2026.1", "ssri-snri", "monitor"),
        CardOrigin("n1", "2026.1", notice="data-incomplete"),
    ], T0))
    save_feedback(database, "ketamine-order-sign", [
        Feedback("a1", "overridden", T0 + timedelta(minutes=1), override_reason=INTERACTION),
        Feedback("a1", "accepted", T0 + timedelta(minutes=5), ("s-1",)),
        Feedback("a2", "overridden", T0 + timedelta(minutes=2), override_reason=INTERACTION),
        Feedback("a3", "overridden", T0 + timedelta(minutes=3), override_reason=OverrideReason(user_comment="no")),
        Feedback("elsewhere", "accepted", T0, ("s-9",)),
    ], T0 + timedelta(hours=1))
    yield database
    database.engine.dispose()


def test_each_card_counts_once_by_its_latest_action(database):
    rules = {row.rule: row for row in feedback_report(database).rules}
    maoi = rules["maoi"]
    assert (maoi.advice, maoi.issued, maoi.with_feedback, maoi.accepted, maoi.overridden) == ("avoid", 3, 3, 1, 2)
    assert maoi.override_rate == pytest.approx(2 / 3)
    assert (rules["ssri-snri"].issued, rules["ssri-snri"].with_feedback, rules["ssri-snri"].accept_rate) == (1, 0, None)
    assert rules["notice:data-incomplete"].issued == 1
    assert (rules[UNKNOWN_RULE].issued, rules[UNKNOWN_RULE].accepted) == (0, 1)


def test_override_reasons_are_counted_per_rule(database):
    reasons = [(r.rule, r.code, r.overridden, r.share) for r in feedback_report(database).reasons]
    assert reasons == [("maoi", "benefit-outweighs-risk", 1, 0.5), ("maoi", None, 1, 0.5)]


def test_the_cli_prints_the_report_as_a_table(database, database_url, monkeypatch, capsys):
    monkeypatch.setenv("DATABASE_URL", database_url)
    assert main(["feedback-report"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0].split() == ["rule", "advice", "issued", "feedback", "accepted", "overridden", "accept", "%",
                                "override", "%"]
    assert ["maoi", "avoid", "3", "3", "1", "2", "33.3", "66.7"] in [line.split() for line in lines]
    assert any(line.split()[:2] == ["maoi", "Benefit"] for line in lines)


def test_the_cli_prints_the_report_as_json(database, database_url, monkeypatch, capsys):
    monkeypatch.setenv("DATABASE_URL", database_url)
    assert main(["feedback-report", "--format", "json"]) == 0
    report = json.loads(capsys.readouterr().out)
    maoi = next(row for row in report["rules"] if row["rule"] == "maoi")
    assert (maoi["withFeedback"], maoi["acceptRate"]) == (3, pytest.approx(1 / 3))
    assert report["overrideReasons"][0]["display"] == "Benefit outweighs risk"


def test_the_cli_report_says_when_the_database_is_unreachable(monkeypatch, capsys):
    monkeypatch.setenv("DATABASE_URL", "postgresql://postgres@127.0.0.1:1/test")
    assert main(["feedback-report"]) == 2
    error = capsys.readouterr().err
    assert "unavailable, so the report could not be read" in error
    assert "stored" not in error  # a report reads; nothing was to be stored


def test_weekly_counts_put_each_card_and_its_latest_action_in_its_week(database):
    save_issued(database, issued_rows("ketamine-order-sign", "hook-2", None, [
        CardOrigin("old", "2026.1", "maoi", "avoid"), CardOrigin("older", "2026.1", "maoi", "avoid")],
        T0 - timedelta(days=8)))
    save_feedback(database, "ketamine-order-sign", [
        Feedback("old", "overridden", T0 - timedelta(days=7), override_reason=INTERACTION)], T0)
    weekly = weekly_counts(database, T0.date(), weeks=3)
    maoi = weekly[("maoi", "avoid")]
    assert [week.start.isoformat() for week in maoi] == ["2026-11-02", "2026-11-09", "2026-11-16"]
    assert [(w.issued, w.accepted, w.overridden) for w in maoi] == [(0, 0, 0), (2, 0, 1), (3, 1, 2)]
    assert [(w.issued, w.accepted) for w in weekly[(UNKNOWN_RULE, None)]] == [(0, 0), (0, 0), (0, 1)]
    totals = feedback_report(database).rules
    assert sum(w.issued for w in maoi) == next(r.issued for r in totals if r.rule == "maoi")


def test_weekly_counts_leave_out_what_is_older_than_the_weeks_asked(database):
    assert weekly_counts(database, T0.date() + timedelta(weeks=10), weeks=2) == {}
