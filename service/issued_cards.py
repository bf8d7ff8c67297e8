"""Every card the service answers with is recorded, so feedback can be joined to the rule that produced it.

Recording never stands between the clinician and the answer: when the database is down the cards are still
returned, the loss is logged and the ``not_recorded`` signal is sent (for a metric).
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Mapping
from typing import Any

from blinker import Namespace
from flask import current_app

from cds_hooks.feedback import card_origin
from cds_hooks.protocol import HookRequest
from service.errors import Unavailable
from service.runtime import runtime
from service.storage import storage
from service.storage.records import save_issued

log = logging.getLogger(__name__)

not_recorded = Namespace().signal("issued-cards-not-recorded")
"""Sent with the app as sender and ``count=`` the number of cards lost, when they could not be stored."""


def record(service_id: str, request: HookRequest, cards: Iterable[Mapping[str, Any]]) -> None:
    origins = [origin for card in cards if (origin := card_origin(card)) is not None]
    if not origins:
        return
    store = storage()
    try:
        save_issued(store.database, service_id, request.hook_instance,
                    store.patient_hash(request.context.patient_id), origins, runtime().clock())
    except Unavailable:
        log.error("%d issued card(s) for hook %s not recorded: the database is unavailable", len(origins),
                  request.hook_instance)
        not_recorded.send(current_app._get_current_object(), count=len(origins))
