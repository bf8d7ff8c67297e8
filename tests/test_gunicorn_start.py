"""Start-up under gunicorn's production configuration: the app is built once, in the master, before the workers are
forked; a knowledge base that fails its checks stops gunicorn before any worker starts; and the build leaves the
cyclic garbage collector on, whether it succeeds or fails."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from cds_hooks.knowledge import DATA_DIR
from tests.scrape import closed_port
from tests.serving import get, gunicorn

pytestmark = pytest.mark.integration

ROOT = Path(__file__).resolve().parent.parent


def broken_knowledge(tmp_path: Path) -> Path:
    """A copy of the knowledge base whose MAOI rule names a value set that does not exist."""
    folder = tmp_path / "knowledge"
    shutil.copytree(DATA_DIR, folder)
    rule = folder / "rules" / "maoi.yaml"
    rule.write_text(rule.read_text(encoding="utf-8").replace("valueset: maoi", "valueset: no-such-set"),
                    encoding="utf-8")
    return folder


def clean_env(tmp_path: Path, **settings: str) -> dict[str, str]:
    env = {key: value for key, value in os.environ.items() if not key.startswith(("CDS_", "PROMETHEUS_"))}
    return {**env, "DATABASE_URL": f"sqlite:///{tmp_path}/cds.sqlite3", "PYTHONPATH": str(ROOT), **settings}


def test_a_knowledge_base_that_fails_its_checks_stops_gunicorn_before_any_worker_starts(tmp_path):
    env = clean_env(tmp_path, CDS_KNOWLEDGE_DIR=str(broken_knowledge(tmp_path)), CDS_WORKERS="2",
                    CDS_BIND=f"127.0.0.1:{closed_port()}", PROMETHEUS_MULTIPROC_DIR=str(tmp_path / "metrics"))
    done = subprocess.run([sys.executable, "-m", "gunicorn", "-c", "python:service.gunicorn_conf"], env=env,
                          cwd=tmp_path, capture_output=True, text=True, timeout=120)
    output = done.stdout + done.stderr
    assert done.returncode != 0
    assert "maoi.yaml" in output and "no-such-set" in output
    assert "Booting worker" not in output


def test_the_app_is_built_once_for_all_workers(tmp_path):
    with gunicorn(tmp_path, CDS_WORKERS="2") as server:
        assert get(server.base + "/readyz")[0] == 200
        server.process.send_signal(signal.SIGTERM)  # the log is written in batches: complete once gunicorn exits
        assert server.process.wait(timeout=60) == 0
        lines = server.log_lines()
    assert sum("Booting worker" in line for line in lines) == 2
    assert sum("CLIENT AUTHENTICATION IS OFF" in line for line in lines) == 1, "create_app warns once per build"


@pytest.mark.parametrize("broken", [False, True])
def test_building_the_app_leaves_the_garbage_collector_on(tmp_path, broken):
    settings = {"CDS_KNOWLEDGE_DIR": str(broken_knowledge(tmp_path))} if broken else {}
    probe = ("import gc\n"
             "try:\n"
             "    import service.wsgi\n"
             "    print('built', gc.isenabled(), gc.get_freeze_count() > 0)\n"
             "except Exception as error:\n"
             "    print('failed', gc.isenabled(), type(error).__name__)\n")
    done = subprocess.run([sys.executable, "-c", probe], env=clean_env(tmp_path, **settings), cwd=tmp_path,
                          capture_output=True, text=True, timeout=120)
    assert done.stdout.split() == (["failed", "True", "KnowledgeError"] if broken else ["built", "True", "True"])
