"""What a running app holds: settings, the loaded knowledge base and the services it defines, a clock, and the data
fetcher."""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING

from flask import Flask, current_app

from cds_hooks.knowledge import DATA_DIR, KnowledgeBase, load_knowledge
from cds_hooks.services import Services
from service.config import Settings

if TYPE_CHECKING:  # both import the metrics, which import back here
    from service.fhir.client import FhirClient
    from service.fhir.rxnav import RxNavResolver

EXTENSION = "ketamine_cds"
log = logging.getLogger(__name__)


def utc_now() -> datetime:
    return datetime.now(UTC)


@dataclass(frozen=True)
class Runtime:
    settings: Settings
    knowledge: KnowledgeBase
    services: Services
    """The services as the knowledge base defines them (their prefetch asks for the statuses it counts)."""
    clock: Callable[[], datetime] = utc_now
    fetch: FhirClient | None = None
    resolver: RxNavResolver | None = None


def site_knowledge(settings: Settings) -> KnowledgeBase:
    """The knowledge base the settings name (the packaged one by default), with the site's overrides applied; each
    active override is logged with who approved it, so the log says which rules differ from the release."""
    knowledge = load_knowledge(settings.knowledge_dir or DATA_DIR, settings.knowledge_overrides)
    for override in knowledge.overrides.values():
        log.info("site override of rule %s: %s (approved by %s on %s: %s)", override.rule_id, override.describe(),
                 override.approved_by, override.approved_on, override.reason)
    return knowledge


def runtime(app: Flask | None = None) -> Runtime:
    return (app or current_app).extensions[EXTENSION]
