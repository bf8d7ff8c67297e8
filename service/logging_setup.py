"""Logs as JSON lines, one object a line, carrying the request id and the hook instance of the call being served.

Only fixed fields are written: the message, where it came from, the request's id, hook instance, method, path,
status, duration and an authentication refusal's reason code. Arbitrary ``extra`` data is dropped, so a token or a
patient's name can reach the log only if a message itself is written with one, which this service never does.

Used by ``create_app`` (``configure`` and ``init_app``) and by the gunicorn configuration
(``gunicorn_dict_config``), so the server's own lines and the app's lines share one format.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import queue
import re
import sys
import threading
import time
import weakref
from typing import Any

import orjson
from flask import Flask, Response, g, has_request_context, request
from gunicorn import glogging

from cds_hooks.ids import new_uuid

REQUEST_ID_HEADER = "X-Request-ID"
CONTEXT_FIELDS = ("request_id", "hook_instance")
"""Taken from the request being served (``flask.g``), when there is one."""
EXTRA_FIELDS = ("method", "path", "status", "duration_ms", "cards", "auth_reason")
"""The only ``extra`` fields a log call may add."""
QUIET_PATHS = frozenset({"/healthz", "/readyz", "/metrics"})
"""Probes and scrapes, logged at DEBUG so they do not drown the calls that matter."""
QUIET_LIBRARIES = {"urllib3": "WARNING"}
"""Loggers kept above DEBUG whatever the level: urllib3 logs every request line, and the FHIR server's lines carry
the patient's id."""
_SAFE_ID = re.compile(r"[A-Za-z0-9._:-]{1,128}")

log = logging.getLogger(__name__)


class JsonFormatter(logging.Formatter):
    """One JSON object a line: time (UTC), level, logger, message, then the context and extra fields present."""

    _second: tuple[int, str] = (0, "1970-01-01T00:00:00")
    """The last whole second written and its text: every request logs a line, and most fall in a second already
    written, so only the milliseconds are new."""

    def utc_time(self, created: float) -> str:
        """``created`` as ``datetime.fromtimestamp(created, UTC).isoformat(timespec="milliseconds")`` writes it.

        >>> formatter = JsonFormatter()
        >>> formatter.utc_time(1_700_000_000.1234), formatter.utc_time(1_700_000_001.9999997)
        ('2023-11-14T22:13:20.123+00:00', '2023-11-14T22:13:22.000+00:00')
        """
        second = int(created // 1)
        micro = round((created - second) * 1_000_000)  # rounded to the microsecond first, as datetime does
        if micro == 1_000_000:
            second, micro = second + 1, 0
        cached_second, text = self._second
        if second != cached_second:
            text = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(second))
            self._second = (second, text)
        return f"{text}.{micro // 1000:03d}+00:00"

    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, Any] = {
            "time": self.utc_time(record.created),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
        }
        for name in (*CONTEXT_FIELDS, *EXTRA_FIELDS):
            value = getattr(record, name, None)
            if value is not None:
                entry[name] = value
        if record.exc_info:
            entry["exception"] = self.formatException(record.exc_info)
        try:
            return orjson.dumps(entry, default=str).decode()
        except TypeError:  # a string orjson refuses (a lone surrogate, from a file name say): escaped instead
            return json.dumps(entry, default=str)


class RequestContextFilter(logging.Filter):
    """Copies the request id and hook instance of the request being served onto every record."""

    def filter(self, record: logging.LogRecord) -> bool:
        if has_request_context():
            for name in CONTEXT_FIELDS:
                if getattr(record, name, None) is None:
                    setattr(record, name, g.get(name))
        return True


class BackgroundStreamHandler(logging.StreamHandler):
    """A stream handler whose lines are written by a thread of its own, all that have queued in one write.

    Writing is a system call, and a system call lets go of the interpreter: in a threaded server under load the
    request's thread then has to wait for another thread to give it back, which made the request's log line cost
    several times what it does alone. Here the request's thread formats its line (the context filter needs it)
    and queues it; the writer thread writes. ``flush`` (which ``logging.shutdown`` calls at exit) returns once
    everything queued before it is written, in order. A forked child drops what its parent had queued. When the
    stream stops taking lines (a log collector pushing back), at most ``MAX_QUEUED`` wait; later ones are dropped
    and counted, and one line says how many once the stream takes lines again.
    """

    FLUSH_TIMEOUT = 5.0
    MAX_QUEUED = 10_000
    LINGER_SECONDS = 0.05
    """How long the writer lets lines gather after the first: under load, twenty writes a second, not hundreds."""

    def __init__(self, stream: Any = None) -> None:
        super().__init__(stream)
        self._lines: queue.SimpleQueue[str | threading.Event] = queue.SimpleQueue()
        self._writer: threading.Thread | None = None
        self._starting = threading.Lock()
        self._writing = threading.Lock()
        self._dropped = 0
        _BACKGROUND_HANDLERS.add(self)

    def emit(self, record: logging.LogRecord) -> None:
        if self._lines.qsize() >= self.MAX_QUEUED:
            self._dropped += 1  # a race between threads can only undercount
            return
        try:
            self._lines.put(self.format(record) + self.terminator)
        except Exception:
            self.handleError(record)
            return
        self._ensure_writer()

    def flush(self) -> None:
        if self._writer is None or not self._writer.is_alive():
            self._write(self._drain([]))
            return
        written = threading.Event()
        self._lines.put(written)
        written.wait(self.FLUSH_TIMEOUT)

    def _ensure_writer(self) -> None:
        if self._writer is not None and self._writer.is_alive():
            return
        with self._starting:
            if self._writer is None or not self._writer.is_alive():
                self._writer = threading.Thread(target=self._run, name="log-writer", daemon=True)
                self._writer.start()

    def _run(self) -> None:
        while True:
            first = self._lines.get()
            if not isinstance(first, threading.Event):
                time.sleep(self.LINGER_SECONDS)  # let a burst queue up: one wake-up and one write for all of it
            self._write(self._drain([first]))

    def _drain(self, batch: list[str | threading.Event]) -> list[str | threading.Event]:
        while True:
            try:
                batch.append(self._lines.get_nowait())
            except queue.Empty:
                return batch

    def _write(self, batch: list[str | threading.Event]) -> None:
        lines = [item for item in batch if isinstance(item, str)]
        if self._dropped:
            dropped, self._dropped = self._dropped, 0
            lines.append(self.format(logging.makeLogRecord({
                "name": __name__, "levelname": "ERROR", "levelno": logging.ERROR,
                "msg": f"{dropped} log line(s) dropped: the log stream did not keep up",
            })) + self.terminator)
        with self._writing:  # not the handler's own lock: logging.shutdown holds that while it calls flush()
            if lines:
                try:
                    self.stream.write("".join(lines))
                    self.stream.flush()
                except Exception:  # a closed or broken stream: reported as logging reports it, and carried on
                    self.handleError(logging.makeLogRecord({"msg": f"{len(lines)} log line(s) lost"}))
            else:
                with contextlib.suppress(OSError, ValueError):  # as logging.shutdown treats a closed stream
                    self.stream.flush()
        for item in batch:
            if isinstance(item, threading.Event):
                item.set()

    def _forget(self) -> None:
        self._lines = queue.SimpleQueue()
        self._writer = None
        self._starting = threading.Lock()
        self._writing = threading.Lock()


_BACKGROUND_HANDLERS: weakref.WeakSet[BackgroundStreamHandler] = weakref.WeakSet()
_held: list[BackgroundStreamHandler] = []


def _before_fork() -> None:
    """No write may be under way while the process forks (gunicorn's master logs, then forks its workers): a
    child would inherit the stream's buffer locked by a writer thread that does not exist in it."""
    _held[:] = list(_BACKGROUND_HANDLERS)
    for handler in _held:
        handler._writing.acquire()


def _after_fork_in_parent() -> None:
    for handler in _held:
        handler._writing.release()
    _held.clear()


def _after_fork_in_child() -> None:
    for handler in list(_BACKGROUND_HANDLERS):
        handler._forget()


os.register_at_fork(before=_before_fork, after_in_parent=_after_fork_in_parent, after_in_child=_after_fork_in_child)


def configure(level: str) -> None:
    """Send the root logger's records to stderr as JSON lines, once; later calls only change the level.

    The JSON lines carry no source file, thread or process, so the logging module is told not to gather them
    (the optimisation its documentation describes): every request logs a line, and finding the caller's frame
    costs more than writing it.
    """
    logging._srcfile = None
    logging.logThreads = False
    logging.logProcesses = False
    logging.logMultiprocessing = False
    root = logging.getLogger()
    root.setLevel(level)
    for name, quiet in QUIET_LIBRARIES.items():
        logging.getLogger(name).setLevel(quiet)
    if not any(isinstance(handler.formatter, JsonFormatter) for handler in root.handlers):
        handler = BackgroundStreamHandler(sys.stderr)
        handler.setFormatter(JsonFormatter())
        handler.addFilter(RequestContextFilter())
        root.addHandler(handler)


def gunicorn_dict_config(level: str) -> dict[str, Any]:
    """gunicorn's ``logconfig_dict``: its own loggers and the root logger write the same JSON lines to stderr.

    gunicorn's access lines are left out: the app logs one line per request itself, with its request id.
    """
    return {
        "version": 1,
        "disable_existing_loggers": False,
        "formatters": {"json": {"()": JsonFormatter}},
        "filters": {"request": {"()": RequestContextFilter}},
        "handlers": {
            "json": {
                "class": "service.logging_setup.BackgroundStreamHandler",
                "formatter": "json",
                "filters": ["request"],
                "stream": "ext://sys.stderr",
            }
        },
        "root": {"level": level, "handlers": ["json"]},
        "loggers": {
            "gunicorn.error": {"level": level, "handlers": [], "propagate": True},
            "gunicorn.access": {"level": "WARNING", "handlers": [], "propagate": True},
            **{name: {"level": quiet} for name, quiet in QUIET_LIBRARIES.items()},
        },
    }


class QuietAccessLogger(glogging.Logger):
    """gunicorn's logger without access lines (``logger_class``). The app logs one line per request itself, with
    its request id; gunicorn would otherwise build every access line, a dozen formatted fields, only for its
    access logger (at WARNING) to drop it."""

    access_log_enabled = False

    def access(self, resp: Any, req: Any, environ: Any, request_time: Any) -> None:
        return None


def bind_hook_instance(hook_instance: str) -> None:
    """Name the hook instance in every line logged for the rest of this request: a UUID, or the digest that stands
    for anything else (``Storage.hook_instance_label``), never what the client wrote."""
    g.hook_instance = hook_instance[:128]


def note_cards(count: int) -> None:
    """The number of cards answered, for the request's log line."""
    g.cards = count


def request_id(header: str | None) -> str:
    """The caller's X-Request-ID when it is a plain token, else a new one (so nothing odd reaches the log).

    >>> request_id("abc-123")
    'abc-123'
    >>> len(request_id("has spaces and\\nnewlines"))
    32
    """
    if header and _SAFE_ID.fullmatch(header):
        return header
    return new_uuid().hex


def init_app(app: Flask) -> None:
    """Every response echoes its request id; one line is logged per request answered."""

    @app.before_request
    def _start() -> None:
        g.request_id = request_id(request.headers.get(REQUEST_ID_HEADER))
        g.log_started = time.perf_counter()

    @app.after_request
    def _finish(response: Response) -> Response:
        response.headers[REQUEST_ID_HEADER] = g.get("request_id") or request_id(None)
        path = request.path
        level = logging.DEBUG if path in QUIET_PATHS else logging.INFO
        if not log.isEnabledFor(level):
            return response
        started = g.get("log_started")
        duration = round((time.perf_counter() - started) * 1000, 1) if started is not None else None
        extra = {"method": request.method, "path": path, "status": response.status_code, "duration_ms": duration,
                 "cards": g.get("cards")}
        log.log(level, "request answered", extra=extra)
        return response
