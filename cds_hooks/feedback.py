"""The CDS Hooks 2.0 feedback request, validated with marshmallow, and what an issued card says about its origin.

Feedback tells the service which cards clinicians accepted or overrode; joined to the rule that produced each
card, it shows how often each rule's advice is followed.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from marshmallow import EXCLUDE, Schema, ValidationError, fields, post_load, validate, validates_schema

from cds_hooks.card_types import Card
from cds_hooks.errors import InvalidRequest, first_error
from cds_hooks.ids import finding_hash

ACCEPTED, OVERRIDDEN = "accepted", "overridden"
MAX_ITEMS = 1000
_RFC3339_UTC = re.compile(r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d{1,9})?(Z|[+-]00:00)", re.IGNORECASE)


@dataclass(frozen=True, slots=True)
class OverrideReason:
    system: str | None = None
    code: str | None = None
    display: str | None = None
    user_comment: str | None = None


@dataclass(frozen=True, slots=True)
class Feedback:
    """One clinician action on one card."""

    card: str
    outcome: str
    outcome_timestamp: datetime
    accepted_suggestions: tuple[str, ...] = ()
    override_reason: OverrideReason | None = None

    def fingerprint(self) -> str:
        """Equal for repeats of the same action (card, outcome, time, suggestions), so storing is idempotent.

        >>> when = datetime(2026, 11, 21, 12, 0, tzinfo=UTC)
        >>> Feedback("c1", "accepted", when, ("b", "a")).fingerprint() == Feedback(
        ...     "c1", "accepted", when, ("a", "b")).fingerprint()
        True
        """
        key = [self.card, self.outcome, self.outcome_timestamp.isoformat(), sorted(set(self.accepted_suggestions))]
        return hashlib.sha256(json.dumps(key).encode()).hexdigest()


class _Rfc3339Utc(fields.Field):
    """An RFC 3339 date-time in UTC (``Z`` or ``+00:00``), as the specification profiles ``outcomeTimestamp``."""

    def _deserialize(self, value: object, attr: str | None, data: object, **kwargs: object) -> datetime:
        if not isinstance(value, str) or not _RFC3339_UTC.fullmatch(value):
            raise ValidationError("must be an RFC 3339 date-time in UTC, such as 2021-12-11T10:05:31Z.")
        try:
            return datetime.fromisoformat(value.upper().replace("Z", "+00:00")).astimezone(UTC)
        except ValueError:
            raise ValidationError("is not a valid date and time.") from None


class _Text(fields.Str):
    """A string that can be stored: the NUL character (U+0000), which PostgreSQL cannot hold in text, is refused
    with the field named, so a client learns its request is wrong instead of retrying it forever."""

    def _deserialize(self, value: object, attr: str | None, data: object, **kwargs: object) -> str:
        text = super()._deserialize(value, attr, data, **kwargs)
        if "\x00" in text:
            raise ValidationError("must not contain the NUL character (U+0000).")
        return text


class _CodingSchema(Schema):
    class Meta:
        unknown = EXCLUDE

    system = _Text(required=True, validate=validate.Length(min=1, max=1024))
    code = _Text(required=True, validate=validate.Length(min=1, max=256))
    display = _Text(validate=validate.Length(min=1, max=1024))


class _OverrideReasonSchema(Schema):
    class Meta:
        unknown = EXCLUDE

    reason = fields.Nested(_CodingSchema)
    userComment = _Text(validate=validate.Length(max=10000))

    @validates_schema
    def _something(self, data: dict[str, Any], **kwargs: object) -> None:
        if "reason" not in data and "userComment" not in data:
            raise ValidationError("needs a reason, a userComment or both.", "reason")

    @post_load
    def _make(self, data: dict[str, Any], **kwargs: object) -> OverrideReason:
        reason = data.get("reason", {})
        return OverrideReason(reason.get("system"), reason.get("code"), reason.get("display"), data.get("userComment"))


class _AcceptedSuggestionSchema(Schema):
    class Meta:
        unknown = EXCLUDE

    id = _Text(required=True, validate=validate.Length(min=1, max=128))


class _FeedbackSchema(Schema):
    class Meta:
        unknown = EXCLUDE

    card = _Text(required=True, validate=validate.Length(min=1, max=128))
    outcome = _Text(required=True, validate=validate.OneOf((ACCEPTED, OVERRIDDEN)))
    acceptedSuggestions = fields.List(fields.Nested(_AcceptedSuggestionSchema), validate=validate.Length(max=50))
    overrideReason = fields.Nested(_OverrideReasonSchema)
    outcomeTimestamp = _Rfc3339Utc(required=True)

    @validates_schema
    def _outcome_fields(self, data: dict[str, Any], **kwargs: object) -> None:
        suggestions = data.get("acceptedSuggestions")
        if data.get("outcome") == ACCEPTED:
            if not suggestions:
                raise ValidationError("is required (at least one) when the outcome is accepted.", "acceptedSuggestions")
            if "overrideReason" in data:
                raise ValidationError("is only for overridden outcomes.", "overrideReason")
        elif data.get("outcome") == OVERRIDDEN and suggestions:
            raise ValidationError("is only for accepted outcomes.", "acceptedSuggestions")

    @post_load
    def _make(self, data: dict[str, Any], **kwargs: object) -> Feedback:
        return Feedback(
            card=data["card"],
            outcome=data["outcome"],
            outcome_timestamp=data["outcomeTimestamp"],
            accepted_suggestions=tuple(item["id"] for item in data.get("acceptedSuggestions", ())),
            override_reason=data.get("overrideReason"),
        )


class _RequestSchema(Schema):
    class Meta:
        unknown = EXCLUDE

    feedback = fields.List(fields.Nested(_FeedbackSchema), required=True, validate=validate.Length(max=MAX_ITEMS))


_REQUEST_SCHEMA = _RequestSchema()
"""Built once: marshmallow schemas are costly to construct and safe to share for loading."""


def load_feedback(body: object) -> list[Feedback]:
    """Every item of a feedback request, or InvalidRequest naming the first bad field (``feedback.1.outcome``)."""
    if not isinstance(body, Mapping):
        raise InvalidRequest("The request body must be a JSON object.")
    try:
        return _REQUEST_SCHEMA.load(body)["feedback"]
    except ValidationError as error:
        field, message = first_error(error.messages)
        raise InvalidRequest(f"{field}: {message}", field=field) from None


@dataclass(slots=True)
class CardOrigin:
    """What produced an issued card (its ``org.ketamine-cds`` extension), as the card's record keeps it."""

    uuid: str
    knowledge_version: str
    rule_id: str | None = None
    advice: str | None = None
    notice: str | None = None
    findings: tuple[tuple[str, str, str], ...] = ()
    """(finding hash, rule id, advice) of each finding the card shows."""


def card_origin(card: Card) -> CardOrigin:
    """What produced the card, as its record keeps it."""
    origin = card.origin
    findings = tuple((finding_hash(f.key), f.rule_id, f.advice) for f in origin.findings)
    return CardOrigin(card.uuid, origin.knowledge_version, origin.rule_id, origin.advice, origin.notice, findings)
