"""gunicorn settings for production: ``gunicorn -c python:service.gunicorn_conf`` (the container's command).

Workers and threads come from the environment. Two threads per worker by default: checking a medication list is
work for the interpreter, which runs one thread at a time, so more threads add no throughput and make the slowest
answers slower (each hand-over of the interpreter costs a wait); a second thread lets a call that waits on a FHIR
server overlap with one that computes. Raise ``CDS_THREADS`` when many calls arrive without prefetch.
Timeouts sit below an EHR's patience: a worker that stops answering its heartbeat for ``CDS_TIMEOUT`` seconds is
replaced, and idle keep-alive connections are dropped after a few seconds; a single request is bounded by the
timeouts of what it waits on (FHIR reads). SIGTERM lets requests in flight finish within the graceful timeout
(the Helm chart gives Kubernetes' termination grace period more than that). Request lines and headers are
bounded here; the body is bounded by the app (``CDS_MAX_REQUEST_BYTES``).

The app is built once, in the master, before the workers are forked (``preload_app``): the knowledge base is
loaded and checked once (a bad one stops gunicorn before any worker starts), the database is migrated once, and
the workers share the built app's memory, rather than each building its own at the same time on the same cores.
What a process must not share is renewed in each worker (database connections, the log writer, id pools: see
``os.register_at_fork`` in those modules); threads start on first use, in the worker.

Metrics: every worker is its own process, so Prometheus samples go to files in ``PROMETHEUS_MULTIPROC_DIR``. When
the variable is set (the container sets it to a writable volume) stale files from an earlier run are removed at
start; when it is not, a private folder is made and removed on exit. It has to be in the environment before any
worker imports ``prometheus_client``, which is why nothing here imports the app or the metrics at module level.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from pathlib import Path
from typing import Any

from service import logging_setup
from service.config import DEFAULT_BIND, PROMETHEUS_MULTIPROC_ENV, Settings, int_setting


def _metrics_dir() -> tuple[Path, bool]:
    """The multiprocess metrics folder, made if missing, and whether this configuration made it up."""
    given = os.environ.get(PROMETHEUS_MULTIPROC_ENV, "").strip()
    path = Path(given) if given else Path(tempfile.mkdtemp(prefix="ketamine-cds-metrics-"))
    path.mkdir(parents=True, exist_ok=True)
    os.environ[PROMETHEUS_MULTIPROC_ENV] = str(path)
    return path, not given


_settings = Settings.from_env()
_METRICS_DIR, _OWN_METRICS_DIR = _metrics_dir()

wsgi_app = "service.wsgi:app"
preload_app = True
bind = [os.environ.get("CDS_BIND", "").strip() or DEFAULT_BIND]
worker_class = "gthread"
workers = _settings.workers
threads = int_setting(os.environ, "CDS_THREADS", 2, minimum=1)
timeout = int_setting(os.environ, "CDS_TIMEOUT", 10, minimum=1)
graceful_timeout = int_setting(os.environ, "CDS_GRACEFUL_TIMEOUT", 20, minimum=1)
keepalive = 5
limit_request_line = 8190
limit_request_fields = 100
limit_request_field_size = 16384
"""Room for a signed JWT in the Authorization header, no more."""
worker_tmp_dir = "/dev/shm" if os.path.isdir("/dev/shm") else None
"""Worker heartbeats in memory, not on a (read-only or slow) disk."""
control_socket_disable = True
"""No control socket under $HOME: the container's home is read-only, and nothing here uses it."""
logconfig_dict = logging_setup.gunicorn_dict_config(_settings.log_level)
logger_class = logging_setup.QuietAccessLogger
# Workers are not recycled after N requests (no max_requests): every recycled worker would leave its metric files
# behind in the multiprocess folder, and over years of running they would slow every scrape.


def on_starting(server: Any) -> None:
    """Drop metric files of an earlier run (a restarted container keeps its volume), so counts start afresh."""
    for stale in _METRICS_DIR.glob("*.db"):
        stale.unlink()


def child_exit(server: Any, worker: Any) -> None:
    """Forget a dead worker's live gauges (its counters and histograms stay in the totals)."""
    from prometheus_client import multiprocess

    multiprocess.mark_process_dead(worker.pid, str(_METRICS_DIR))


def on_exit(server: Any) -> None:
    if _OWN_METRICS_DIR:
        shutil.rmtree(_METRICS_DIR, ignore_errors=True)
