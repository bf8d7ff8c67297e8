"""The feedback request body, checked against the CDS Hooks 2.0 specification before anything is stored."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from cds_hooks.card_types import NOTICE_DATA_INCOMPLETE, Card, FindingOrigin, Origin, Source
from cds_hooks.errors import InvalidRequest
from cds_hooks.feedback import CardOrigin, OverrideReason, card_origin, load_feedback
from cds_hooks.ids import finding_hash


def item(**fields):
    return {"card": "c1", "outcome": "overridden", "outcomeTimestamp": "2020-12-11T00:00:00Z"} | fields


def test_the_specification_examples_are_read():
    [accepted] = load_feedback({"feedback": [item(outcome="accepted", acceptedSuggestions=[{"id": "s1"}],
                                                  outcomeTimestamp="2021-12-11T10:05:31Z")]})
    [bare] = load_feedback({"feedback": [item()]})
    [reasoned] = load_feedback({"feedback": [item(overrideReason={
        "reason": {"code": "d7ecf885", "system": "https://example.com/cds-hooks/override-reason-system"},
        "userComment": "A comment entered by the clinician."})]})
    assert accepted.accepted_suggestions == ("s1",)
    assert accepted.outcome_timestamp == datetime(2021, 12, 11, 10, 5, 31, tzinfo=UTC)
    assert bare.override_reason is None
    assert reasoned.override_reason == OverrideReason(
        "https://example.com/cds-hooks/override-reason-system", "d7ecf885", None, "A comment entered by the clinician."
    )


@pytest.mark.parametrize("stamp", ["1985-04-12T23:20:50.52Z", "2020-12-11T00:00:00+00:00", "2020-12-11t00:00:00z"])
def test_rfc3339_utc_timestamps_are_accepted(stamp):
    assert load_feedback({"feedback": [item(outcomeTimestamp=stamp)]})[0].outcome_timestamp.tzinfo == UTC


@pytest.mark.parametrize("stamp", ["2020-12-11T00:00:00", "2020-12-11T02:00:00+02:00", "2020-12-11", "yesterday",
                                   "2020-13-11T00:00:00Z", 1607644800])
def test_timestamps_not_in_rfc3339_utc_are_refused(stamp):
    with pytest.raises(InvalidRequest) as error:
        load_feedback({"feedback": [item(outcomeTimestamp=stamp)]})
    assert error.value.field == "feedback.0.outcomeTimestamp"


@pytest.mark.parametrize(("fields", "field"), [
    ({"outcome": "accepted"}, "feedback.0.acceptedSuggestions"),
    ({"outcome": "accepted", "acceptedSuggestions": []}, "feedback.0.acceptedSuggestions"),
    ({"outcome": "accepted", "acceptedSuggestions": [{}]}, "feedback.0.acceptedSuggestions.0.id"),
    ({"outcome": "accepted", "acceptedSuggestions": [{"id": "s"}], "overrideReason": {"userComment": "x"}},
     "feedback.0.overrideReason"),
    ({"acceptedSuggestions": [{"id": "s"}]}, "feedback.0.acceptedSuggestions"),
    ({"outcome": "ignored"}, "feedback.0.outcome"),
    ({"card": ""}, "feedback.0.card"),
    ({"overrideReason": {}}, "feedback.0.overrideReason.reason"),
    ({"overrideReason": {"reason": {"code": "x"}}}, "feedback.0.overrideReason.reason.system"),
    ({"overrideReason": {"reason": {"system": "x"}}}, "feedback.0.overrideReason.reason.code"),
])
def test_a_bad_item_is_refused_naming_the_field(fields, field):
    with pytest.raises(InvalidRequest) as error:
        load_feedback({"feedback": [item(**fields)]})
    assert error.value.field == field


@pytest.mark.parametrize("body", [[], {"feedback": "x"}, {}, {"feedback": [None]}])
def test_a_body_without_a_feedback_array_is_refused(body):
    with pytest.raises(InvalidRequest):
        load_feedback(body)


def test_overridden_with_an_empty_suggestion_list_is_accepted():
    assert load_feedback({"feedback": [item(acceptedSuggestions=[])]})[0].accepted_suggestions == ()


def test_a_cards_origin_is_what_its_record_keeps():
    source = Source("ketamine-cds knowledge base 1")
    notice = card_origin(Card("u", "Interaction check incomplete", "warning", "d", source,
                              Origin("1", notice=NOTICE_DATA_INCOMPLETE)))
    assert notice == CardOrigin("u", "1", notice="data-incomplete")
    maoi = FindingOrigin("maoi", "avoid", "maoi|esketamine|avoid|phenelzine", "policy", "e", (), ())
    advice = card_origin(Card("v", "Avoid", "critical", "d", source, Origin("1", advice="avoid", findings=(maoi,))))
    assert advice == CardOrigin("v", "1", "maoi", "avoid", findings=((finding_hash(maoi.key), "maoi", "avoid"),))
    ssri = FindingOrigin("ssri", "monitor", "ssri|esketamine|monitor|sertraline", "weak", "e", (), ())
    bupropion = FindingOrigin("bupropion", "monitor", "bupropion|esketamine|monitor|bupropion", "weak", "e", (), ())
    combined = card_origin(Card("w", "Monitor", "info", "d", source,
                                Origin("1", advice="monitor", findings=(ssri, bupropion))))
    assert combined.rule_id == "ssri,bupropion" and len(combined.findings) == 2
