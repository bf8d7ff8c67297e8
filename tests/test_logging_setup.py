"""JSON log lines with the request id and hook instance; request ids echoed; no tokens or patient data logged."""

from __future__ import annotations

import io
import json
import logging

import pytest

from service.logging_setup import JsonFormatter, RequestContextFilter
from tests.scrape import closed_port


@pytest.fixture
def log_lines():
    """What the service logs while a test runs, as parsed JSON lines, through the formatter it uses."""
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(JsonFormatter())
    handler.addFilter(RequestContextFilter())
    root = logging.getLogger()
    level = root.level
    root.addHandler(handler)
    root.setLevel(logging.DEBUG)
    try:
        yield lambda: [json.loads(line) for line in stream.getvalue().splitlines()]
    finally:
        root.removeHandler(handler)
        root.setLevel(level)


def test_the_callers_request_id_is_echoed_and_logged(client, log_lines):
    response = client.get("/cds-services", headers={"X-Request-ID": "ehr-7f3a.42"})

    assert response.headers["X-Request-ID"] == "ehr-7f3a.42"
    answered = [line for line in log_lines() if line["message"] == "request answered"]
    assert answered[-1]["request_id"] == "ehr-7f3a.42"
    assert answered[-1]["method"] == "GET"
    assert answered[-1]["path"] == "/cds-services"
    assert answered[-1]["status"] == 200


def test_a_request_without_an_id_gets_a_new_one_per_request(client):
    first = client.get("/cds-services").headers["X-Request-ID"]
    second = client.get("/cds-services").headers["X-Request-ID"]

    assert first and second and first != second


def test_a_request_id_that_is_not_a_plain_token_is_replaced(client):
    response = client.get("/cds-services", headers={"X-Request-ID": '"}, {"level": "forged'})

    assert response.headers["X-Request-ID"].isalnum()


def test_every_line_of_a_hook_call_carries_the_request_id_and_hook_instance(client, fixture, log_lines):
    body = fixture("order-sign-esketamine-maoi")
    del body["prefetch"]["conditions"]
    body["fhirServer"] = f"http://127.0.0.1:{closed_port()}/fhir"  # the FHIR client logs its reads too

    client.post("/cds-services/ketamine-order-sign", json=body, headers={"X-Request-ID": "call-1"})

    lines = [line for line in log_lines() if line.get("request_id") == "call-1"]
    assert len(lines) >= 2
    assert {line["hook_instance"] for line in lines} == {body["hookInstance"]}
    assert all({"time", "level", "logger", "message"} <= line.keys() for line in lines)


def test_no_token_patient_identifier_or_medication_reaches_the_log(client, fixture, log_lines):
    body = fixture("order-sign-esketamine-maoi")
    body["fhirServer"] = "https://ehr.example.org/fhir"
    body["fhirAuthorization"] = {
        "access_token": "secret-access-token",
        "token_type": "Bearer",
        "expires_in": 300,
        "scope": "patient/*.read",
        "subject": "cds",
    }

    client.post(
        "/cds-services/ketamine-order-sign",
        json=body,
        headers={"Authorization": "Bearer secret-jwt", "X-Request-ID": "call-2"},
    )

    logged = json.dumps(log_lines())
    assert "call-2" in logged
    for secret in ("secret-access-token", "secret-jwt", body["context"]["patientId"], "Nardil", "sertraline"):
        assert secret not in logged


def test_an_authentication_refusal_writes_its_reason_code_as_a_field():
    record = logging.LogRecord("service.auth", logging.WARNING, __file__, 1, "authentication refused", (), None)
    record.auth_reason = "expired"

    assert json.loads(JsonFormatter().format(record))["auth_reason"] == "expired"


def test_extra_fields_outside_the_known_ones_are_not_written():
    record = logging.LogRecord("x", logging.INFO, __file__, 1, "answered", (), None)
    record.access_token = "secret"
    record.status = 200

    line = json.loads(JsonFormatter().format(record))

    assert line["status"] == 200
    assert "access_token" not in line


def test_a_hook_call_logs_one_line_with_its_card_count(client, fixture, caplog):
    caplog.set_level("INFO")
    client.post("/cds-services/ketamine-order-sign", json=fixture("order-sign-esketamine-maoi"))
    answered = [record for record in caplog.records if record.getMessage() == "request answered"]
    assert len(answered) == 1 and answered[0].cards == 2
    assert not [record for record in caplog.records if "card(s)" in record.getMessage()]


def test_a_message_with_text_no_encoder_takes_as_is_is_still_one_json_line(log_lines):
    logging.getLogger("service.test").warning("could not open %s", "report-\udcff.csv")  # a surrogate-escaped name
    lines = log_lines()
    assert lines[-1]["message"] == "could not open report-\udcff.csv"
    assert lines[-1]["level"] == "WARNING"


def test_gunicorn_writes_no_access_lines_even_when_told_to(tmp_path):
    from datetime import timedelta
    from types import SimpleNamespace

    from gunicorn.config import Config

    from service.logging_setup import QuietAccessLogger

    access_file = tmp_path / "access.log"
    config = Config()
    config.set("accesslog", str(access_file))
    logger = QuietAccessLogger(config)
    response = SimpleNamespace(status="200 OK", status_code=200, response_length=2, sent=2, headers=[])
    request = SimpleNamespace(headers=[], method="POST", path="/cds-services/x", query="", version=(1, 1))
    logger.access(response, request, {"REMOTE_ADDR": "127.0.0.1"}, timedelta(milliseconds=3))
    for handler in logger.access_log.handlers:
        handler.flush()
    assert logger.access_log_enabled is False
    assert access_file.read_text() == ""


class _RecordingStream(io.StringIO):
    """Remembers which thread wrote each chunk."""

    def __init__(self) -> None:
        super().__init__()
        self.writers: list[str] = []

    def write(self, text: str) -> int:
        import threading

        self.writers.append(threading.current_thread().name)
        return super().write(text)


def _background_logger(stream) -> tuple[logging.Logger, logging.Handler]:
    from service.logging_setup import BackgroundStreamHandler

    handler = BackgroundStreamHandler(stream)
    handler.setFormatter(JsonFormatter())
    logger = logging.getLogger(f"test.background.{id(handler)}")
    logger.propagate = False
    logger.setLevel(logging.INFO)
    logger.addHandler(handler)
    return logger, handler


def test_background_lines_are_written_by_the_writer_thread_in_order_and_whole():
    from concurrent.futures import ThreadPoolExecutor

    stream = _RecordingStream()
    logger, handler = _background_logger(stream)
    with ThreadPoolExecutor(max_workers=6) as pool:
        list(pool.map(lambda n: [logger.info("line %d.%d", n, i) for i in range(200)], range(6)))
    logger.info("last")
    handler.flush()
    lines = [json.loads(line)["message"] for line in stream.getvalue().splitlines()]
    assert len(lines) == 6 * 200 + 1 and lines[-1] == "last"
    for n in range(6):
        assert [line for line in lines if line.startswith(f"line {n}.")] == [f"line {n}.{i}" for i in range(200)]
    assert set(stream.writers) == {"log-writer"}


def test_flush_under_the_handlers_own_lock_writes_everything_without_waiting_out_its_timeout():
    import time

    stream = io.StringIO()
    logger, handler = _background_logger(stream)
    for i in range(50):
        logger.info("queued %d", i)
    started = time.monotonic()
    handler.acquire()  # what logging.shutdown does around flush() at exit
    try:
        handler.flush()
    finally:
        handler.release()
    assert time.monotonic() - started < handler.FLUSH_TIMEOUT / 2
    assert len(stream.getvalue().splitlines()) == 50


def test_a_forked_child_does_not_write_what_its_parent_had_queued(tmp_path):
    import os

    path = tmp_path / "log.jsonl"
    with path.open("w") as stream:
        logger, handler = _background_logger(stream)
        handler._lines.put('{"message": "parent, queued at the fork"}\n')  # not yet written by the parent's writer
        child = os.fork()
        if child == 0:  # pragma: no cover - runs in the child
            logger.info("child")
            handler.flush()
            os._exit(0)
        os.waitpid(child, 0)
        handler.flush()
    messages = [json.loads(line)["message"] for line in path.read_text().splitlines()]
    assert sorted(messages) == ["child", "parent, queued at the fork"]


def test_a_fork_waits_for_a_write_under_way_and_the_child_can_write_at_once(tmp_path):
    import os
    import threading
    import time

    writing, forking = threading.Event(), threading.Event()

    class SlowStream(io.StringIO):
        """A write that takes a while, as to a pipe whose reader lags; it lasts at least 0.3 s from the fork."""

        def write(self, text: str) -> int:
            writing.set()
            forking.wait(10)
            time.sleep(0.3)
            return super().write(text)

    path = tmp_path / "child.jsonl"
    logger, handler = _background_logger(SlowStream())
    logger.info("parent")
    assert writing.wait(10), "the writer thread never began its write"  # however loaded the machine
    started = time.monotonic()
    forking.set()
    child = os.fork()
    if child == 0:  # pragma: no cover - runs in the child
        with path.open("w") as stream:
            handler.setStream(stream)
            writer = threading.Thread(target=lambda: (logger.info("child"), handler.flush()))
            writer.start()
            writer.join(5)
        os._exit(0 if not writer.is_alive() else 1)
    waited = time.monotonic() - started
    _, status = os.waitpid(child, 0)
    handler.flush()
    assert os.WEXITSTATUS(status) == 0, "the child's first line hung"
    assert waited > 0.1, "the fork did not wait for the write under way"
    assert [json.loads(line)["message"] for line in path.read_text().splitlines()] == ["child"]


def test_lines_beyond_the_queue_bound_are_dropped_and_counted_not_held(monkeypatch):
    import threading

    stream = io.StringIO()
    logger, handler = _background_logger(stream)
    monkeypatch.setattr(handler, "MAX_QUEUED", 5)
    held = threading.Lock()
    handler._writing = held
    with held:  # the stream takes nothing while this is held
        handler._ensure_writer()
        for number in range(20):
            logger.info("line %d", number)
        assert handler._lines.qsize() <= 6  # the bound, and at most the one line the writer already took
    handler.flush()
    messages = [json.loads(line)["message"] for line in stream.getvalue().splitlines()]
    assert messages[:5] == [f"line {number}" for number in range(5)]
    dropped = int(messages[-1].split()[0])
    assert len(messages) - 1 + dropped == 20
    assert messages[-1].endswith("log line(s) dropped: the log stream did not keep up")


def test_the_time_written_is_what_datetime_writes_for_any_instant():
    from datetime import UTC, datetime

    from service.logging_setup import JsonFormatter

    formatter = JsonFormatter()
    instants = [1_700_000_000 + step / 7 for step in range(5000)]  # many within one second, then the next ones
    instants += [0.0, 1.9999995, 2.0000005, 1_700_000_000.9995, 1_700_000_000.0004999, 4_102_444_799.9999996]
    for created in instants:
        assert formatter.utc_time(created) == datetime.fromtimestamp(created, UTC).isoformat(timespec="milliseconds")


def test_a_hook_instance_that_is_not_a_uuid_is_logged_as_a_digest_counted_and_answered(client, fixture, log_lines):
    from tests.scrape import scraped

    body = fixture("order-sign-esketamine-maoi")
    body["hookInstance"] = "Jane Doe, born 1970-02-03"
    before = scraped(client, "ketamine_cds_hook_instance_not_uuid_total", service="ketamine-order-sign")
    response = client.post("/cds-services/ketamine-order-sign", json=body, headers={"X-Request-ID": "odd-1"})
    assert response.status_code == 200 and response.json["cards"][0]["summary"].startswith("Avoid")
    lines = [line for line in log_lines() if line.get("request_id") == "odd-1"]
    assert lines and all(line["hook_instance"].startswith("digest:") for line in lines)
    assert not [line for line in log_lines() if "Jane" in json.dumps(line)]
    after = scraped(client, "ketamine_cds_hook_instance_not_uuid_total", service="ketamine-order-sign")
    assert after == before + 1


def test_in_production_an_unexpected_error_is_logged_by_type_and_place_without_its_message(
    tmp_path, fixture, log_lines, monkeypatch
):
    from service import create_app
    from service.config import Settings
    from service.http import cds

    def fail(*args, **kwargs):
        raise ValueError("patient Jane Doe, MRN 12345")

    monkeypatch.setattr(cds, "answer", fail)
    app = create_app(Settings(env="production", auth_mode="off", patient_hash_key="k" * 32,
                              database_url=f"sqlite:///{tmp_path}/cds.sqlite3"))
    response = app.test_client().post("/cds-services/ketamine-order-sign", json=fixture("order-sign-esketamine-maoi"))
    assert response.status_code == 500
    lines = log_lines()
    assert not [line for line in lines if "Jane" in json.dumps(line) or "12345" in json.dumps(line)]
    [line] = [line for line in lines if line["message"].startswith("unexpected error")]
    assert line["message"].startswith("unexpected error: ValueError in ") and "test_logging_setup.py" in line["message"]
