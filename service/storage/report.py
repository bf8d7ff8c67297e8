"""Accept and override rates per rule and per override reason, for the pharmacy and therapeutics committee.

Each card counts once, by the clinician's latest action on it (a card overridden and later accepted counts as
accepted). Rates are over the cards that received feedback; cards shown and never acted on send no feedback
(CDS Hooks calls them ignored) and appear only in ``issued``. Feedback for a card this database never recorded
is grouped under ``UNKNOWN_RULE``.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Any

from sqlalchemy import func, select

from service.storage.database import Database
from service.storage.models import feedback, issued_cards

UNKNOWN_RULE = "(card not recorded)"
UNREADABLE = "The feedback database is unavailable, so the report could not be read. Try again later."


@dataclass(frozen=True)
class RuleRates:
    rule: str
    advice: str | None
    issued: int
    with_feedback: int
    accepted: int
    overridden: int

    @property
    def accept_rate(self) -> float | None:
        return self.accepted / self.with_feedback if self.with_feedback else None

    @property
    def override_rate(self) -> float | None:
        return self.overridden / self.with_feedback if self.with_feedback else None


@dataclass(frozen=True)
class ReasonCount:
    rule: str
    system: str | None
    code: str | None
    display: str | None
    overridden: int
    share: float
    """Of the rule's overridden cards, the part overridden for this reason."""


@dataclass(frozen=True)
class Report:
    rules: list[RuleRates]
    reasons: list[ReasonCount]

    def as_json(self) -> dict[str, Any]:
        return {
            "rules": [
                {"rule": row.rule, "advice": row.advice, "issued": row.issued, "withFeedback": row.with_feedback,
                 "accepted": row.accepted, "overridden": row.overridden, "acceptRate": row.accept_rate,
                 "overrideRate": row.override_rate}
                for row in self.rules
            ],
            "overrideReasons": [asdict(row) for row in self.reasons],
        }

    def as_table(self) -> str:
        rules = [("rule", "advice", "issued", "feedback", "accepted", "overridden", "accept %", "override %")]
        rules += [(r.rule, r.advice or "-", str(r.issued), str(r.with_feedback), str(r.accepted), str(r.overridden),
                   _percent(r.accept_rate), _percent(r.override_rate)) for r in self.rules]
        reasons = [("rule", "override reason", "code", "overridden", "share %")]
        reasons += [(r.rule, r.display or ("(comment only)" if r.code is None else "-"), r.code or "-",
                     str(r.overridden), _percent(r.share)) for r in self.reasons]
        return "\n\n".join((_grid(rules), _grid(reasons) if len(reasons) > 1 else "No override reasons recorded."))


def feedback_report(db: Database) -> Report:
    """The report over everything stored; Unavailable when the database cannot be read."""
    with db.transaction(UNREADABLE) as connection:
        issued_rows = connection.execute(
            select(issued_cards.c.rule_id, issued_cards.c.notice, issued_cards.c.advice, func.count())
            .group_by(issued_cards.c.rule_id, issued_cards.c.notice, issued_cards.c.advice)
        ).all()
        latest_rows = connection.execute(_latest_actions()).all()
    issued = Counter({(_rule(rule_id, notice), advice): count for rule_id, notice, advice, count in issued_rows})
    acted: Counter[tuple[str, str | None, str]] = Counter()
    reasons: Counter[tuple[str, str | None, str | None, str | None]] = Counter()
    for rule_id, notice, advice, known, outcome, system, code, display, _when in latest_rows:
        rule = _rule(rule_id, notice) if known else UNKNOWN_RULE
        acted[(rule, advice, outcome)] += 1
        if outcome == "overridden":
            reasons[(rule, system, code, display)] += 1
    groups = sorted(set(issued) | {(rule, advice) for rule, advice, _ in acted}, key=lambda g: (g[0], g[1] or ""))
    rules = [
        RuleRates(rule, advice, issued[(rule, advice)],
                  acted[(rule, advice, "accepted")] + acted[(rule, advice, "overridden")],
                  acted[(rule, advice, "accepted")], acted[(rule, advice, "overridden")])
        for rule, advice in groups
    ]
    overridden_by_rule: Counter[str] = Counter()
    for (rule, _system, _code, _display), count in reasons.items():
        overridden_by_rule[rule] += count
    reason_rows = [
        ReasonCount(rule, system, code, display, count, count / overridden_by_rule[rule])
        for (rule, system, code, display), count in sorted(reasons.items(), key=lambda item: (item[0][0], -item[1]))
    ]
    return Report(rules, reason_rows)


@dataclass(frozen=True)
class Week:
    start: date
    """The Monday the week starts on (UTC)."""
    issued: int
    accepted: int
    overridden: int
    """Cards whose latest action, taken in this week, was to accept or to override them."""


def weekly_counts(db: Database, today: date, weeks: int = 12) -> dict[tuple[str, str | None], list[Week]]:
    """Per (rule, advice) as the report names them: cards issued, accepted and overridden in each of the last
    ``weeks`` weeks, oldest first, counted by day in the database so that only a few rows per day come back."""
    first = today - timedelta(days=today.weekday() + 7 * (weeks - 1))
    since = datetime(first.year, first.month, first.day, tzinfo=UTC)
    issued_day = func.date(issued_cards.c.issued_at)
    latest = _latest_actions().subquery()
    acted_day = func.date(latest.c.outcome_timestamp)
    with db.transaction() as connection:
        issued_rows = connection.execute(
            select(issued_day, issued_cards.c.rule_id, issued_cards.c.notice, issued_cards.c.advice, func.count())
            .where(issued_cards.c.issued_at >= since)
            .group_by(issued_day, issued_cards.c.rule_id, issued_cards.c.notice, issued_cards.c.advice)
        ).all()
        acted_rows = connection.execute(
            select(acted_day, latest.c.rule_id, latest.c.notice, latest.c.advice, latest.c.outcome, func.count())
            .where(latest.c.outcome_timestamp >= since)
            .group_by(acted_day, latest.c.rule_id, latest.c.notice, latest.c.advice, latest.c.outcome)
        ).all()
    counts: dict[tuple[str, str | None], Counter[tuple[int, str]]] = {}
    for day, rule_id, notice, advice, count in issued_rows:
        counts.setdefault((_rule(rule_id, notice), advice), Counter())[(_week(day, first), "issued")] += count
    for day, rule_id, notice, advice, outcome, count in acted_rows:
        rule = _rule(rule_id, notice) if rule_id or notice else UNKNOWN_RULE
        counts.setdefault((rule, advice), Counter())[(_week(day, first), outcome)] += count
    return {
        group: [Week(first + timedelta(weeks=n), found[(n, "issued")], found[(n, "accepted")],
                     found[(n, "overridden")]) for n in range(weeks)]
        for group, found in sorted(counts.items(), key=lambda item: (item[0][0], item[0][1] or ""))
    }


def _week(day: object, first: date) -> int:
    """The week number from ``first`` of a day as the database returns it (a date, or ISO text from SQLite)."""
    value = day if isinstance(day, date) else date.fromisoformat(str(day)[:10])
    return (value - first).days // 7


def _latest_actions() -> Any:
    """One row per card that received feedback: its latest action, with the rule that issued it when known."""
    ranked = select(
        feedback.c.card_uuid,
        feedback.c.outcome,
        feedback.c.override_system,
        feedback.c.override_code,
        feedback.c.override_display,
        feedback.c.outcome_timestamp,
        func.row_number()
        .over(partition_by=feedback.c.card_uuid, order_by=(feedback.c.outcome_timestamp.desc(), feedback.c.id.desc()))
        .label("position"),
    ).subquery()
    return (
        select(
            issued_cards.c.rule_id,
            issued_cards.c.notice,
            issued_cards.c.advice,
            issued_cards.c.card_uuid.is_not(None),
            ranked.c.outcome,
            ranked.c.override_system,
            ranked.c.override_code,
            ranked.c.override_display,
            ranked.c.outcome_timestamp,
        )
        .select_from(ranked.outerjoin(issued_cards, issued_cards.c.card_uuid == ranked.c.card_uuid))
        .where(ranked.c.position == 1)
    )


def _rule(rule_id: str | None, notice: str | None) -> str:
    return rule_id or f"notice:{notice or 'unknown'}"


def _percent(rate: float | None) -> str:
    return "-" if rate is None else f"{rate * 100:.1f}"


def _grid(rows: Sequence[tuple[str, ...]]) -> str:
    widths = [max(len(row[column]) for row in rows) for column in range(len(rows[0]))]
    lines = ["  ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=True)).rstrip() for row in rows]
    lines.insert(1, "  ".join("-" * width for width in widths))
    return "\n".join(lines)
