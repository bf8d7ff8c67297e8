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
    for rule_id, notice, advice, known, outcome, system, code, display in latest_rows:
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


def _latest_actions() -> Any:
    """One row per card that received feedback: its latest action, with the rule that issued it when known."""
    ranked = select(
        feedback.c.card_uuid,
        feedback.c.outcome,
        feedback.c.override_system,
        feedback.c.override_code,
        feedback.c.override_display,
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
