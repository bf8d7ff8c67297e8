"""Every card the service answers with is recorded, so feedback can be joined to the rule that produced it.

Recording never stands between the clinician and the answer: rows go to a queue that one background thread per
process writes in batches, so a hook call costs a queue put, not a database round trip. When the database is down
or the queue is full the loss is logged and the ``not_recorded`` signal is sent (for a metric). The queue is
written out when the process exits; rows still queued when a process is killed outright are lost, which the
report shows as feedback for a card "not recorded".
"""

from __future__ import annotations

import atexit
import logging
import os
import queue
import threading
from collections.abc import Iterable, Mapping
from typing import Any

from blinker import Namespace
from flask import Flask, current_app

from cds_hooks.feedback import card_origin
from cds_hooks.protocol import HookRequest
from service.errors import Unavailable
from service.runtime import runtime
from service.storage import storage
from service.storage.database import Database
from service.storage.records import issued_rows, save_issued

log = logging.getLogger(__name__)

not_recorded = Namespace().signal("issued-cards-not-recorded")
"""Sent with the app as sender and ``count=`` the number of cards lost, when they could not be stored."""

EXTENSION = "ketamine_cds_issued_cards"
BATCH_ROWS = 500
QUEUE_CALLS = 10_000
"""Hook calls waiting to be written, at most; beyond that (a database that stays slow) rows are dropped."""


class Recorder:
    """Writes issued-card rows from a queue on one background thread, many hook calls per transaction."""

    def __init__(self, app: Flask, database: Database) -> None:
        self._app, self._database = app, database
        self._queue: queue.Queue[list[dict[str, Any]] | None] = queue.Queue(maxsize=QUEUE_CALLS)
        self._lock = threading.Lock()
        self._thread: threading.Thread | None = None
        self._pid = 0

    def submit(self, rows: list[dict[str, Any]]) -> None:
        self._ensure_thread()
        try:
            self._queue.put_nowait(rows)
        except queue.Full:
            self._lost(len(rows), "the recording queue is full")

    def flush(self) -> None:
        """Wait until everything submitted so far is written (or given up)."""
        if self._thread is not None and self._pid == os.getpid():
            self._queue.join()

    def close(self) -> None:
        """Write what is queued and stop the thread (at process exit)."""
        if self._thread is not None and self._pid == os.getpid() and self._thread.is_alive():
            self._queue.put(None)
            self._thread.join(timeout=10)

    def _ensure_thread(self) -> None:
        """One writer per process: a worker forked from a process that had one starts its own."""
        if self._thread is not None and self._pid == os.getpid():
            return
        with self._lock:
            if self._thread is None or self._pid != os.getpid():
                self._pid = os.getpid()
                self._thread = threading.Thread(target=self._run, name="issued-cards", daemon=True)
                self._thread.start()
                atexit.register(self.close)

    def _run(self) -> None:
        while True:
            batch, calls, stop = [], 0, False
            item = self._queue.get()
            while True:
                calls += 1
                if item is None:
                    stop = True
                    break
                batch.extend(item)
                if len(batch) >= BATCH_ROWS:
                    break
                try:
                    item = self._queue.get_nowait()
                except queue.Empty:
                    break
            if batch:
                self._write(batch)
            for _ in range(calls):
                self._queue.task_done()
            if stop:
                return

    def _write(self, rows: list[dict[str, Any]]) -> None:
        try:
            save_issued(self._database, rows)
        except Unavailable:
            self._lost(len(rows), "the database is unavailable")
        except Exception:
            log.exception("%d issued card(s) not recorded", len(rows))
            not_recorded.send(self._app, count=len(rows))

    def _lost(self, count: int, why: str) -> None:
        log.error("%d issued card(s) not recorded: %s", count, why)
        not_recorded.send(self._app, count=count)


def init_app(app: Flask) -> None:
    app.extensions[EXTENSION] = Recorder(app, storage(app).database)


def recorder(app: Flask | None = None) -> Recorder:
    return (app or current_app).extensions[EXTENSION]


def record(service_id: str, request: HookRequest, cards: Iterable[Mapping[str, Any]]) -> None:
    """Queue the record of the cards one hook call answered with."""
    origins = [origin for card in cards if (origin := card_origin(card)) is not None]
    if not origins:
        return
    store = storage()
    recorder().submit(issued_rows(service_id, request.hook_instance,
                                  store.patient_hash(request.context.patient_id), origins, runtime().clock()))
