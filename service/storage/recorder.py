"""Every card the service answers with is recorded, so feedback can be joined to the rule that produced it.

Recording never stands between the clinician and the answer: rows go to a queue that one background thread per
process writes in batches, so a hook call costs a queue put, not a database round trip. When the database is down
or the queue is full the loss is logged, counted in the metrics and sent as the ``not_recorded`` signal. Rows
are written at most ``LINGER_SECONDS`` after their call, and the queue is written out when the process exits
(gunicorn's workers exit normally on SIGTERM, and ``ketamine-cds serve`` turns SIGTERM into a normal exit); rows
still queued when a process is killed outright are lost, which the report shows as feedback for a card "not
recorded".
"""

from __future__ import annotations

import atexit
import logging
import queue
import threading
import time
from collections.abc import Iterable
from typing import Any

from blinker import Namespace
from flask import Flask, current_app

from cds_hooks.card_types import Card
from cds_hooks.feedback import card_origin
from cds_hooks.protocol import HookRequest
from service import metrics
from service.failures import Refused, Unavailable
from service.runtime import runtime
from service.storage import storage
from service.storage.database import Database
from service.storage.records import held_back_rows, issued_rows, save_issued

log = logging.getLogger(__name__)

not_recorded = Namespace().signal("issued-cards-not-recorded")
"""Sent with the app as sender and ``count=`` the number of cards lost, when they could not be stored."""

EXTENSION = "ketamine_cds_issued_cards"
BATCH_ROWS = 500
QUEUE_CALLS = 10_000
"""Hook calls waiting to be written, at most; beyond that (a database that stays slow) rows are dropped."""
LOSS_LOG_SECONDS = 10.0
"""Losses are logged at most this often, with the count since the last line: a database that stays down (or a
full queue) would otherwise write an error line for every hook call. The metric counts every one."""
_loss_clock = time.monotonic
"""What losses are timed by (a test may turn it)."""
LINGER_SECONDS = 0.25
"""How long the writer gathers calls before one transaction: each wake-up of the writer competes with the
request threads for the interpreter, so fewer, larger transactions keep answers fast."""


class Recorder:
    """Writes issued-card rows from a queue on one background thread, many hook calls per transaction.

    Each gunicorn worker has its own thread: the app is built in the master, before the workers are forked, and
    the thread is started on first use (in the worker) and again if it ever stopped; a failure to write, or of a
    signal receiver, is logged and counted but never ends it.
    """

    def __init__(self, app: Flask, database: Database) -> None:
        self._app, self._database = app, database
        self._queue: queue.Queue[list[dict[str, Any]] | threading.Event | None] = queue.Queue(maxsize=QUEUE_CALLS)
        self._lock = threading.Lock()
        self._hurry = threading.Event()
        """Set by ``flush`` and ``close``: stop lingering and write now."""
        self._thread: threading.Thread | None = None
        self._unlogged = 0
        self._logged_at: float | None = None

    def submit(self, rows: list[dict[str, Any]]) -> None:
        self._ensure_thread()
        try:
            self._queue.put_nowait(rows)
        except queue.Full:
            self._lost(len(rows), "the recording queue is full")

    def flush(self, timeout: float = 10.0) -> bool:
        """Write what is queued now; True once it is written (or given up), False if that took over ``timeout``."""
        self._ensure_thread()
        done = threading.Event()
        self._queue.put(done, timeout=timeout)
        self._hurry.set()
        return done.wait(timeout)

    def close(self) -> None:
        """Write what is queued and stop the thread (at process exit)."""
        if self._thread is not None and self._thread.is_alive():
            self._queue.put(None)
            self._hurry.set()
            self._thread.join(timeout=10)

    def _ensure_thread(self) -> None:
        if self._thread is not None and self._thread.is_alive():
            return
        with self._lock:
            if self._thread is None or not self._thread.is_alive():
                first = self._thread is None
                self._thread = threading.Thread(target=self._run, name="issued-cards", daemon=True)
                self._thread.start()
                if first:
                    atexit.register(self.close)

    def _run(self) -> None:
        """Gather what arrives within ``LINGER_SECONDS`` of the first call (or ``BATCH_ROWS`` rows, or a flush),
        write it in one transaction, and so on: under load, a handful of transactions a second."""
        while True:
            batch, flushes, stop = self._gather()
            if batch:
                self._write(batch)
            for done in flushes:
                done.set()
            if stop:
                return

    def _gather(self) -> tuple[list[dict[str, Any]], list[threading.Event], bool]:
        """Wait for a call, linger, then take what queued meanwhile. The writer does not watch the queue while it
        lingers, so a request's ``submit`` wakes no thread (a wake-up would take the interpreter from the request
        threads); ``flush`` and ``close`` cut the linger short."""
        batch: list[dict[str, Any]] = []
        flushes: list[threading.Event] = []
        item = self._queue.get()
        if isinstance(item, list):
            self._hurry.wait(LINGER_SECONDS)
        self._hurry.clear()
        while True:
            if item is None:
                return batch, flushes, True
            if isinstance(item, threading.Event):
                flushes.append(item)
                return batch, flushes, False
            batch.extend(item)
            if len(batch) >= BATCH_ROWS:
                return batch, flushes, False
            try:
                item = self._queue.get_nowait()
            except queue.Empty:
                return batch, flushes, False

    def _write(self, rows: list[dict[str, Any]]) -> None:
        try:
            save_issued(self._database, rows)
        except Unavailable:
            self._lost(len(rows), "the database is unavailable")
        except Refused:
            self._write_each(rows)
        except Exception as error:  # the thread must outlive any failure; the rows are counted as lost
            self._lost(len(rows), f"the write failed ({type(error).__name__})")

    def _write_each(self, rows: list[dict[str, Any]]) -> None:
        """After the database refused a batch's data: each row on its own, so one bad row costs only itself."""
        for number, row in enumerate(rows):
            try:
                save_issued(self._database, [row])
            except Refused:
                self._lost(1, "the database refused its data")
            except Unavailable:
                self._lost(len(rows) - number, "the database is unavailable")
                return

    def _lost(self, count: int, why: str) -> None:
        with self._lock:
            self._unlogged += count
            now = _loss_clock()
            due = self._logged_at is None or now - self._logged_at >= LOSS_LOG_SECONDS
            if due:
                lost, self._unlogged, self._logged_at = self._unlogged, 0, now
        if due:
            log.error("%d issued card(s) not recorded: %s", lost, why)
        metrics.cards_not_recorded(count)
        try:
            not_recorded.send(self._app, count=count)
        except Exception as error:
            log.error("a receiver of the not-recorded signal failed (%s)", type(error).__name__)


def init_app(app: Flask) -> None:
    app.extensions[EXTENSION] = Recorder(app, storage(app).database)


def recorder(app: Flask | None = None) -> Recorder:
    return (app or current_app).extensions[EXTENSION]


def record(service_id: str, request: HookRequest, cards: Iterable[Card], instance: str) -> None:
    """Queue the record of the cards one hook call answered with; ``instance`` names the call as the logs do
    (``Storage.hook_instance_label``)."""
    origins = [card_origin(card) for card in cards]
    if not origins:
        return
    store = storage()
    recorder().submit(issued_rows(service_id, instance,
                                  store.patient_hash(request.context.patient_id), origins, runtime().clock()))


def record_held_back(service_id: str, request: HookRequest, held: Iterable[tuple[str, str, str, str]],
                     knowledge_version: str, instance: str) -> None:
    """Queue the record of the findings one hook call held back: (finding hash, rule id, advice, reason) each;
    ``instance`` names the call as ``record`` does."""
    rows = held_back_rows(service_id, instance, storage().patient_hash(request.context.patient_id),
                          held, knowledge_version, runtime().clock())
    if rows:
        recorder().submit(rows)
