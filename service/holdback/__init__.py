"""Findings held back from an answer, never an Avoid, each one recorded and counted:

- ``repeated-alert``: shown at order-select and not repeated at order-sign, as the HL7 PDDI CDS specification's
  advanced implementation describes (the ``cache-for-order-sign-filtering`` and ``filter-out-repeated-alerts``
  configuration items; the same user, patient and encounter; ``CDS_REPEAT_FILTER`` when the EHR sends none);
- ``quiet-after-override``: a Monitor or Hold finding overridden with a reason within the site's quiet period
  (``CDS_QUIET_AFTER_OVERRIDE_HOURS``; off by default).

Both fail open: when Redis or the database cannot be read, everything is shown.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from flask import Flask, current_app

from cds_hooks.engine import Finding
from cds_hooks.ids import finding_hash
from cds_hooks.knowledge.vocabulary import AVOID
from cds_hooks.protocol import HookRequest
from service import metrics
from service.config import Settings
from service.failures import Unavailable
from service.holdback import quiet
from service.holdback.repeats import ShownStore, ShownStoreUnavailable, scope_key, shown_store
from service.storage import storage

log = logging.getLogger(__name__)

EXTENSION = "ketamine_cds.holdback"
REPEATED = "repeated-alert"
QUIET = "quiet-after-override"
CACHE_ITEM = "cache-for-order-sign-filtering"
FILTER_ITEM = "filter-out-repeated-alerts"
CONFIGURATION_ITEMS = {
    "order-select": {
        "code": CACHE_ITEM,
        "type": "boolean",
        "name": "Cache for order-sign filtering",
        "description": "Remember the findings this order-select call shows, for order-sign to leave out "
                       "(same user, patient and encounter). Avoid findings are always shown again.",
    },
    "order-sign": {
        "code": FILTER_ITEM,
        "type": "boolean",
        "name": "Filter out repeated alerts",
        "description": "Leave out the Monitor and Hold findings order-select already showed to the same user for "
                       "the same patient and encounter.",
    },
}
"""The PDDI configuration item each hook reads, as discovery lists it."""


@dataclass(frozen=True, slots=True)
class HeldBack:
    finding: Finding
    reason: str


@dataclass(frozen=True)
class Holdback:
    store: ShownStore
    default: bool
    seconds: int
    quiet_hours: int


def init_app(app: Flask, settings: Settings) -> None:
    if settings.repeat_filter and not settings.redis_url:
        log.warning("REDIS_URL is not set: what order-select showed is remembered per process only, so a repeat "
                    "is left out of order-sign only when the same worker answers both")
    app.extensions[EXTENSION] = Holdback(shown_store(settings.redis_url), settings.repeat_filter,
                                         settings.repeat_filter_seconds, settings.quiet_hours)


def _holdback() -> Holdback:
    return current_app.extensions[EXTENSION]


def _scope(request: HookRequest) -> str:
    context = request.context
    return scope_key(context.user_id, context.patient_id, context.encounter_id)


def hold_back(request: HookRequest, findings: Sequence[Finding], now: datetime) -> tuple[list[Finding],
                                                                                         list[HeldBack]]:
    """The findings to show, and those held back with why. An Avoid is always shown."""
    state = _holdback()
    candidates = [finding for finding in findings if finding.advice != AVOID]
    repeats = request.hook == "order-sign" and request.configuration.get(FILTER_ITEM, state.default)
    if not candidates or not (repeats or state.quiet_hours):  # the usual call: nothing to look up
        return list(findings), []
    hashes = {id(finding): finding_hash(finding.key) for finding in candidates}
    held: dict[int, str] = {}
    if repeats:
        try:
            repeated = state.store.shown(_scope(request), {hashes[id(finding)] for finding in candidates})
        except ShownStoreUnavailable as error:
            log.error("what order-select showed could not be read (%s); nothing is left out", error)
            metrics.shown_store_failure("read")
            repeated = set()
        held.update({id(finding): REPEATED for finding in candidates if hashes[id(finding)] in repeated})
    remaining = [finding for finding in candidates if id(finding) not in held]
    if remaining and state.quiet_hours:
        store = storage()
        try:
            quieted = quiet.overridden(store.database, store.patient_hash(request.context.patient_id),
                                       {hashes[id(finding)] for finding in remaining},
                                       now - timedelta(hours=state.quiet_hours))
        except Unavailable:
            log.error("earlier overrides could not be read; no finding is quieted")
            quieted = set()
        held.update({id(finding): QUIET for finding in remaining if hashes[id(finding)] in quieted})
    shown = [finding for finding in findings if id(finding) not in held]
    return shown, [HeldBack(finding, held[id(finding)]) for finding in findings if id(finding) in held]


def remember(request: HookRequest, shown: Sequence[Finding]) -> None:
    """After order-select, when the EHR (or the site's default) asks: the findings shown, for order-sign."""
    state = _holdback()
    if request.hook != "order-select" or not shown or not request.configuration.get(CACHE_ITEM, state.default):
        return
    try:
        state.store.remember(_scope(request), {finding_hash(finding.key) for finding in shown}, state.seconds)
    except ShownStoreUnavailable as error:
        log.error("what order-select showed could not be remembered (%s)", error)
        metrics.shown_store_failure("write")
