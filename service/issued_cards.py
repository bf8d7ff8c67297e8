"""Every card the service answers with is recorded, so feedback can be joined to the rule that produced it.

Recording never stands between the clinician and the answer: rows go to a queue that one background thread per
process writes in batches, so a hook call costs a queue put, not a database round trip. When the database is down
or the queue is full the loss is logged and the ``not_recorded`` signal is sent (for a metric). Rows are written
at most ``LINGER_SECONDS`` after their call, and the queue is written out when the process exits; rows still
queued when a process is killed outright are lost, which the report shows as feedback for a card "not recorded".
"""

from __future__ import annotations

import atexit
import logging
import os
import queue
import threading
import time
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
LINGER_SECONDS = 0.25
"""How long the writer gathers calls before one transaction: each wake-up of the writer competes with the
request threads for the interpreter, so fewer, larger transactions keep answers fast."""
_FLUSH = object()


class Recorder:
    """Writes issued-card rows from a queue on one background thread, many hook calls per transaction."""

    def __init__(self, app: Flask, database: Database) -> None:
        self._app, self._database = app, database
        self._queue: queue.Queue[list[dict[str, Any]] | object | None] = queue.Queue(maxsize=QUEUE_CALLS)
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
        """Write what is queued now and wait until it is written (or given up)."""
        if self._thread is not None and self._pid == os.getpid():
            self._queue.put(_FLUSH)
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
        """Gather what arrives within ``LINGER_SECONDS`` of the first call (or ``BATCH_ROWS`` rows, or a flush),
        write it in one transaction, and so on: under load, a handful of transactions a second."""
        while True:
            batch: list[dict[str, Any]] = []
            calls, stop = 0, False
            item = self._queue.get()
            deadline = time.monotonic() + LINGER_SECONDS
            while True:
                calls += 1
                if item is None:
                    stop = True
                    break
                if item is _FLUSH:
                    break
                batch.extend(item)
                remaining = deadline - time.monotonic()
                if len(batch) >= BATCH_ROWS or remaining <= 0:
                    break
                try:
                    item = self._queue.get(timeout=remaining)
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
