"""Durable storage of issued cards and feedback (SQLAlchemy, Alembic migrations shipped in ``migrations/``)."""

from __future__ import annotations

import hashlib
import hmac
import logging
import secrets
from dataclasses import dataclass

from flask import Flask, current_app

from cds_hooks.ids import hook_instance_label
from service import health
from service.config import Settings
from service.storage.database import Database

log = logging.getLogger(__name__)

EXTENSION = "ketamine_cds.storage"


@dataclass(frozen=True)
class Storage:
    database: Database
    patient_key: bytes

    def patient_hash(self, patient_id: str) -> str:
        """A keyed hash of the patient id: joins one patient's cards without storing who the patient is."""
        return hmac.new(self.patient_key, patient_id.encode(), hashlib.sha256).hexdigest()

    def hook_instance_label(self, hook_instance: str) -> str:
        """The call's ``hookInstance`` as logs and records keep it: a UUID as sent, anything else as a digest keyed
        like the patient hash (so what a client wrote there cannot be found by trying names)."""
        return hook_instance_label(hook_instance, self.patient_key)


def from_settings(settings: Settings) -> Storage:
    database = Database(settings.database_url, migrate=settings.db_migrate == "auto")
    if settings.patient_hash_key:
        key = settings.patient_hash_key.encode()
    else:
        log.warning("CDS_PATIENT_HASH_KEY is not set: patient hashes use a random key and change at each restart")
        key = secrets.token_bytes(32)
    return Storage(database, key)


def init_app(app: Flask, settings: Settings) -> Storage:
    """Open the database and migrate it now, so a fresh clone's first start has its tables; readiness asks it."""
    storage = from_settings(settings)
    storage.database.prepare()
    app.extensions[EXTENSION] = storage
    health.add_readiness_check(app, "database", storage.database.ping)
    return storage


def storage(app: Flask | None = None) -> Storage:
    return (app or current_app).extensions[EXTENSION]
